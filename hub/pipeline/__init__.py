"""Per-camera pipelines: a record thread and a detect thread, supervised with reconnects."""
