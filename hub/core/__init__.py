"""The hub's core: plain data types, the event bus, settings, times, paths, logs and secrets."""
