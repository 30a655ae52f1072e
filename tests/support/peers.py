"""Checks for the external test peers: skip locally when one is missing, fail in CI."""

from __future__ import annotations

import functools
import logging
import os
import shutil
import subprocess
from collections.abc import Callable

import pytest

logger = logging.getLogger(__name__)

#: Debian's interpreter, which has python3-gi (the ``python3`` on PATH may be another build).
SYSTEM_PYTHON = os.environ.get("PORCHLIGHT_TEST_SYSTEM_PYTHON", "/usr/bin/python3")
_GST_CHECK = (
    "import gi; gi.require_version('Gst', '1.0'); gi.require_version('GstRtspServer', '1.0'); "
    "from gi.repository import Gst, GstRtspServer; Gst.init(None); "
    "assert Gst.ElementFactory.find('rtph264pay') and Gst.ElementFactory.find('h264parse')"
)


def require_peer(name: str, check: bool | Callable[[], bool]) -> None:
    """Skip the test when peer ``name`` is missing, or fail it when ``CI=true``."""
    present = check() if callable(check) else check
    if present:
        return
    message = f"test peer {name!r} is missing (see TESTING.md and `make .venv/.stamp-test`)"
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(message, pytrace=False)
    pytest.skip(message)


def have_ffmpeg() -> bool:
    """True when the ffmpeg command line tool is on PATH."""
    return shutil.which("ffmpeg") is not None


@functools.cache
def have_gst_rtsp_server() -> bool:
    """True when the system interpreter can import GstRtspServer with the elements we use."""
    try:
        result = subprocess.run(
            [SYSTEM_PYTHON, "-c", _GST_CHECK], capture_output=True, timeout=60, check=False
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        logger.info("gst-rtsp-server check failed: %s", exc)
        return False
    if result.returncode != 0:
        logger.info("gst-rtsp-server check failed: %s", result.stderr.decode(errors="replace")[-500:])
    return result.returncode == 0


def require_rtsp_peers() -> None:
    """Both halves of the RTSP camera peer: ffmpeg pushers and the gst-rtsp-server relay."""
    require_peer("ffmpeg", have_ffmpeg)
    require_peer(
        f"gst-rtsp-server for {SYSTEM_PYTHON} (python3-gi, gir1.2-gst-rtsp-server-1.0)", have_gst_rtsp_server
    )
