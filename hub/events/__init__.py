"""Events from the cameras themselves, merged into the hub's own events."""
