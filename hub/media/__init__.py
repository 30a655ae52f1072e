"""Reading recorded media back: export (later, the segment reader that the player uses)."""
