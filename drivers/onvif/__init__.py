"""ONVIF cameras and doorbells: WS-Discovery, device/media probe, PullPoint events (no Qt)."""
