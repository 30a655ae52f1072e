"""Recording: stream copy of a camera's record stream into short fragmented MP4 segments."""
