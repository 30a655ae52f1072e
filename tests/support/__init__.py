"""Test harness: synthetic clips, barcode, RTSP camera peers, a file keyring."""
