"""Camera drivers (no Qt, no hub imports): each implements drivers.base.Driver and is listed, by
kind, in drivers.registry."""
