"""Out-of-process test peers (run with their own interpreters)."""
