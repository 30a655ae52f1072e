"""Media profiles a probe found, judged: credential-free URIs, and which profile records and which detects.

Pure (no I/O): :class:`drivers.onvif.device._Probe` reads the profiles, :func:`clean_uri` cleans the
addresses they carry, :func:`choose_roles` picks the record and detect streams (or says, in the
owner's words, why none can be recorded).
"""

from __future__ import annotations

from collections.abc import Iterable

from drivers.base import MediaProfile, UnsupportedError
from drivers.onvif.errors import import_onvif
from drivers.scrub import strip_credentials

onvif = import_onvif()

H265_ONLY = (
    "offers only H.265, which Porchlight can record from its RTSP URL but not yet set up "
    "through ONVIF: add it with --url"
)


def clean_uri(uri: str | None) -> tuple[str | None, bool]:
    """A URI the device handed out, normalized (onvif's fix-ups) and without credentials, and whether
    it had any."""
    if not uri:
        return None, False
    return strip_credentials(onvif.util.normalize_url(uri.strip()) or uri.strip())


def choose_roles(
    profiles: Iterable[MediaProfile], where: str = "the camera", *, media2: bool = False
) -> tuple[str, str | None]:
    """(record token, detect token or None): the largest recordable profile records, the smallest
    smaller one detects. Ties: higher fps, then higher bitrate, then H.264 over H.265, then the
    device's order. Raises UnsupportedError naming the encodings found when none is recordable."""
    profiles = list(profiles)
    usable = [p for p in profiles if p.recordable]
    if not usable:
        raise UnsupportedError(_unsupported_message(profiles, where, media2))

    def rank(p: MediaProfile) -> tuple[int, float, int, int]:
        return (p.width * p.height, p.fps or 0.0, p.bitrate_kbps or 0, p.encoding == "H264")

    record = max(usable, key=rank)  # max() keeps the first of equals: the device's order
    smallest = min(usable, key=lambda p: (p.width * p.height, -(p.fps or 0.0)))
    detect = smallest if smallest.width * smallest.height < record.width * record.height else None
    return record.token, detect.token if detect else None


def _unsupported_message(profiles: list[MediaProfile], where: str, media2: bool) -> str:
    who = where[:1].upper() + where[1:]
    encodings = sorted({p.encoding for p in profiles if p.encoding})
    if (not encodings and media2) or encodings == ["H265"]:
        return f"{who} {H265_ONLY}"
    if not encodings:
        return f"{who} offers no video profiles through ONVIF"
    if "H264" in encodings or "H265" in encodings:
        return f"{who} gave no stream address (GetStreamUri) for its H.264/H.265 profiles"
    names = ", ".join({"JPEG": "MJPEG", "MPEG4": "MPEG-4"}.get(e, e) for e in encodings)
    return (
        f"{who} offers only {names} video, which Porchlight cannot record: switch its streams "
        "to H.264 in the camera's settings"
    )
