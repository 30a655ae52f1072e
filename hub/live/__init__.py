"""Live view: who watches which camera's stream now (and, next, the frames they see)."""
