"""Cameras that describe themselves: a summary of what the hub found for a camera added from a device,
and ``cameras probe``'s description of what a camera offers now.

A helper of ``cli.cameras``, not a command group of its own.
"""

from __future__ import annotations

from typing import Any

from hub.api.types import Camera, Probe, ProbeStream


def describe(cfg: Camera) -> list[str]:
    """Lines telling the owner what was found for a camera just added from a device."""
    d = cfg.device
    lines = []
    if cfg.driver == "onvif":
        what = " ".join(str(x) for x in (d.get("manufacturer"), d.get("model")) if x)
        lines.append(f"{what or 'ONVIF device'} at {d.get('host')}")
        lines.append(f"records {cfg.url} (profile {d.get('record_profile')})")
        if cfg.sub_url:
            lines.append(f"detects on {cfg.sub_url} (profile {d.get('detect_profile')})")
        lines.append(
            f"motion from: {cfg.events}" + ("; doorbell presses become events" if cfg.doorbell else "")
        )
        lines += [f"note: {w}" for w in d.get("warnings", [])]
    elif cfg.driver == "usb":
        lines.append(f"USB camera {cfg.url} {d.get('size', '')} {d.get('fps', '')} fps".rstrip())
    return lines


def probe_json(desc: Probe) -> dict[str, Any]:
    """``cameras probe --json``: a device's profiles with their roles, events and clock, when its driver
    knows profiles (ONVIF); else the streams of the camera's URL and sub-stream URL."""
    if not desc.profiles:
        return {"streams": [_stream_json(s) for s in desc.streams]}
    return {
        "manufacturer": desc.manufacturer,
        "model": desc.model,
        "firmware": desc.firmware,
        "clock_offset_s": desc.clock_offset_s,
        "events_supported": desc.events_supported,
        "doorbell": desc.doorbell,
        "event_topics": list(desc.event_topics),
        "warnings": list(desc.warnings),
        "profiles": [
            {
                "token": p.token,
                "name": p.name,
                "codec": p.codec,
                "width": p.width,
                "height": p.height,
                "fps": p.fps,
                "bitrate_kbps": p.bitrate_kbps,
                "url": p.url,
                "snapshot": p.snapshot_url,
                "role": p.role,
            }
            for p in desc.profiles
        ],
    }


def _stream_json(s: ProbeStream) -> dict[str, Any]:
    return {
        "url": s.url,
        "codec": s.codec,
        "width": s.width,
        "height": s.height,
        "fps": s.fps,
        "audio": s.audio_codec,
        "role": s.role,
    }
