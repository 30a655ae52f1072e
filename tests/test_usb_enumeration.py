"""USB enumeration against recorded V4L2 query results (tests/fixtures/v4l2, see PROVENANCE.md).

The fixtures are replayed through ``drivers.usb.v4l2`` by answering its ioctls with the real C
structures, so the parsing, skipping of metadata nodes, de-duplication and mode choice run as
against devices. Malformed, short and endless answers never crash the enumeration.
"""

from __future__ import annotations

import errno
import json
import os
import struct
from fractions import Fraction
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from drivers.base import UnreachableError, UnsupportedError
from drivers.usb import model, modes, v4l2
from drivers.usb.settings import CaptureSettings, prepare, translate_os_error

FIXTURES = Path(__file__).parent / "fixtures" / "v4l2"


def _size(text: str) -> tuple[int, int]:
    w, h = text.split("x")
    return int(w), int(h)


def _stepwise(text: str) -> tuple[int, ...]:
    lo, rest = text.split("-")
    hi, step = rest.split("/")
    (min_w, min_h), (max_w, max_h), (sw, sh) = _size(lo), _size(hi), _size(step)
    return min_w, max_w, sw, min_h, max_h, sh


class Replay:
    """Answers V4L2 query ioctls from a fixture, with the kernel's structures and errors."""

    def __init__(self, nodes: dict[str, dict], root: Path | None = None) -> None:
        self.nodes = {str(root / Path(p).name) if root else p: n for p, n in nodes.items()}
        self.fds: dict[int, str] = {}
        self.calls = 0

    def open(self, path: str) -> int:
        if path not in self.nodes:
            raise FileNotFoundError(errno.ENOENT, "No such file or directory", path)
        fd = 1000 + len(self.fds)
        self.fds[fd] = path
        return fd

    def close(self, fd: int) -> None:
        self.fds.pop(fd, None)

    def query(self, path: str) -> model.UsbDevice | None:
        return v4l2.query_path(path, ioctl=self.ioctl, open_node=self.open, close_node=self.close)

    def ioctl(self, fd: int, request: int, buffer: bytes) -> bytes:
        self.calls += 1
        node = self.nodes[self.fds[fd]]
        formats = node["formats"]
        if request == v4l2.VIDIOC_QUERYCAP:
            cap = node["querycap"]
            major, minor, patch = (int(x) for x in cap["version"].split("."))
            return v4l2._CAP.pack(
                cap["driver"].encode(),
                cap["card"].encode(),
                cap["bus_info"].encode(),
                (major << 16) | (minor << 8) | patch,
                int(cap["capabilities"], 16),
                int(cap["device_caps"], 16),
            )
        if request == v4l2.VIDIOC_ENUM_FMT:
            index, kind = struct.unpack_from("=II", buffer)
            if kind != v4l2.BUF_TYPE_VIDEO_CAPTURE or index >= len(formats):
                raise OSError(errno.EINVAL, "Invalid argument")
            f = formats[index]
            return v4l2._FMTDESC.pack(
                index, kind, f["flags"], f["description"].encode(), v4l2.fourcc_code(f["fourcc"]), 0
            )
        if request == v4l2.VIDIOC_ENUM_FRAMESIZES:
            index, pixfmt = struct.unpack_from("=II", buffer)
            f = self._format(formats, pixfmt)
            if "stepwise" in f:
                if index:
                    raise OSError(errno.EINVAL, "Invalid argument")
                return v4l2._FRMSIZE.pack(0, pixfmt, 3, *_stepwise(f["stepwise"]))
            if index >= len(f["sizes"]):
                raise OSError(errno.EINVAL, "Invalid argument")
            w, h = _size(f["sizes"][index][0])
            return v4l2._FRMSIZE.pack(index, pixfmt, 1, w, h, 0, 0, 0, 0)
        if request == v4l2.VIDIOC_ENUM_FRAMEINTERVALS:
            index, pixfmt, w, h = struct.unpack_from("=IIII", buffer)
            f = self._format(formats, pixfmt)
            rates = next((r for s, r in f.get("sizes", []) if _size(s) == (w, h)), None)
            if rates is None or index >= len(rates):
                raise OSError(errno.EINVAL, "Invalid argument")
            interval = 1 / Fraction(rates[index]).limit_denominator(1000)
            return v4l2._FRMIVAL.pack(
                index, pixfmt, w, h, 1, interval.numerator, interval.denominator, 0, 0, 0, 0
            )
        raise OSError(errno.ENOTTY, "Inappropriate ioctl for device")

    @staticmethod
    def _format(formats: list[dict], pixfmt: int) -> dict:
        for f in formats:
            if v4l2.fourcc_code(f["fourcc"]) == pixfmt:
                return f
        raise OSError(errno.EINVAL, "Invalid argument")


def load(name: str) -> dict:
    return json.loads((FIXTURES / f"{name}.json").read_text())


def enumerate_fixture(name: str, **kw: object) -> list[model.UsbDevice]:
    replay = Replay(load(name)["nodes"])
    return v4l2.enumerate_devices(
        list(replay.nodes), ioctl=replay.ioctl, open_node=replay.open, close_node=replay.close, **kw
    )


def fmt(dev: model.UsbDevice, fourcc: str) -> model.UsbFormat:
    return next(f for f in dev.formats if f.fourcc == fourcc)


ALL7 = (30.0, 24.0, 20.0, 15.0, 10.0, 7.5, 5.0)


def test_every_fixture_is_documented():
    names = {p.name for p in FIXTURES.glob("*.json")}
    provenance = (FIXTURES / "PROVENANCE.md").read_text()
    assert len(names) >= 5
    assert all(f"`{n}`" in provenance for n in names), "each fixture needs its source in PROVENANCE.md"


def test_logitech_c920_formats_sizes_and_rates():
    (dev,) = enumerate_fixture("logitech_c920")
    assert (dev.path, dev.card, dev.driver, dev.bus_info) == (
        "/dev/video0",
        "HD Pro Webcam C920",
        "uvcvideo",
        "usb-0000:0a:00.3-3",
    )
    assert [f.fourcc for f in dev.formats] == ["YUYV", "H264", "MJPG"]
    assert [f.compressed for f in dev.formats] == [False, True, True]
    assert [f.description for f in dev.formats] == ["YUYV 4:2:2", "H.264", "Motion-JPEG"]
    yuyv, mjpg = fmt(dev, "YUYV"), fmt(dev, "MJPG")
    assert len(yuyv.sizes) == 19 and len(mjpg.sizes) == 17
    assert yuyv.sizes[0] == (640, 480, ALL7)
    assert yuyv.rates(1280, 720) == (10.0, 7.5, 5.0)
    assert yuyv.rates(2304, 1536) == (2.0,)
    assert mjpg.rates(1920, 1080) == ALL7
    assert mjpg.rates(2304, 1536) is None
    assert [f.ffmpeg_name for f in dev.formats] == ["yuyv422", "h264", "mjpeg"]
    offers = dev.describe_offers()
    assert offers == (
        "160x90, 160x120, 176x144, 320x180, 320x240, 352x288, 432x240, 640x360, 640x480, "
        "800x448, 864x480, 800x600, 1024x576, 960x720, 1280x720, 1600x896, 1920x1080 at "
        "30/24/20/15/10/7.5/5 fps; 2304x1296, 2304x1536 at 2 fps"
    )


def test_metadata_nodes_are_skipped():
    (elp,) = enumerate_fixture("elp_4k_mjpg_yuyv_metadata")
    assert elp.path == "/dev/video8" and elp.card == "HD USB CAMERA: HD USB CAMERA"
    assert [f.fourcc for f in elp.formats] == ["MJPG", "YUYV"]
    assert fmt(elp, "YUYV").rates(3840, 2160) == (1.0,)
    assert fmt(elp, "YUYV").rates(800, 600) == (20.0, 15.0, 10.0, 5.0)
    assert len(fmt(elp, "MJPG").sizes) == 11
    vbox = enumerate_fixture("virtualbox_webcam_metadata_node")
    assert [d.path for d in vbox] == ["/dev/video0"]
    assert vbox[0].formats[0].rates(640, 480) == (15.0,)


def test_two_capture_nodes_and_duplicated_descriptors():
    devs = enumerate_fixture("arducam_1080p_h264_duplicates")
    assert [d.path for d in devs] == ["/dev/video8", "/dev/video10"]  # video9/video11: metadata
    mjpg = fmt(devs[0], "MJPG")
    assert [(w, h) for w, h, _r in mjpg.sizes] == [(1920, 1080), (1280, 720), (640, 480), (320, 240)]
    assert all(r == (30.0,) for _w, _h, r in mjpg.sizes)
    assert [f.fourcc for f in devs[1].formats] == ["H264"]


def test_stepwise_sizes_of_the_raspberry_pi_camera():
    (dev,) = enumerate_fixture("raspberry_pi_bcm2835_stepwise")
    assert (dev.driver, dev.card, dev.bus_info) == (
        "bm2835 mmal",
        "mmal service 16.1",
        "platform:bcm2835-v4l2",
    )
    assert [f.fourcc for f in dev.formats] == ["YU12", "YUYV", "RGB3", "JPEG", "H264", "MJPG", "YVYU"]
    yu12 = fmt(dev, "YU12")
    assert yu12.sizes == () and str(yu12.size_range) == "32x32 to 2592x1944"
    assert yu12.rates(1280, 720) == () and yu12.rates(1281, 720) is None and yu12.rates(2594, 1944) is None
    assert fmt(dev, "YVYU").ffmpeg_name is None  # FFmpeg's v4l2 input cannot deliver it
    assert "any size from 32x32 to 2592x1944" in dev.describe_offers()


@pytest.mark.parametrize(
    ("size", "fps", "fourcc", "capture"),
    [
        ((1280, 720), 15, "MJPG", 15),  # YUYV 720p tops out at 10 fps
        ((1280, 720), 10, "YUYV", 10),  # raw needs no decoding: preferred when it can
        ((640, 480), 30, "YUYV", 30),
        ((1920, 1080), 5, "YUYV", 5),
        ((1920, 1080), 12, "MJPG", 15),  # no 12 fps: capture 15, thinned to 12
        ((2304, 1536), 2, "YUYV", 2),
    ],
)
def test_mode_choice_on_the_c920(size, fps, fourcc, capture):
    (dev,) = enumerate_fixture("logitech_c920")
    mode = modes.choose_mode(dev, *size, fps)
    assert (mode.fmt.fourcc, mode.capture_fps) == (fourcc, capture)


def test_mode_choice_names_what_the_device_offers():
    (dev,) = enumerate_fixture("logitech_c920")
    with pytest.raises(
        ValueError,
        match=r"cannot capture 1280x720 at 60 fps; at that size it offers 30/24/20/15/10/7.5/5 fps",
    ):
        modes.choose_mode(dev, 1280, 720, 60)
    with pytest.raises(ValueError, match=r"cannot capture 1234x567; it offers 160x90, 160x120"):
        modes.choose_mode(dev, 1234, 567, 15)
    (pi,) = enumerate_fixture("raspberry_pi_bcm2835_stepwise")
    assert modes.choose_mode(pi, 1280, 720, 15).fmt.fourcc == "YU12"


def test_default_mode():
    (c920,) = enumerate_fixture("logitech_c920")
    assert modes.default_mode(c920) == (1280, 720, 15.0)
    ardu = enumerate_fixture("arducam_1080p_h264_duplicates")[0]
    assert modes.default_mode(ardu) == (1280, 720, 15.0)
    assert modes.choose_mode(ardu, 1280, 720, 15).capture_fps == 30  # thinned from 30


def test_discover_rows_prefer_stable_paths(tmp_path):
    by_id = tmp_path / "by-id"
    by_id.mkdir()
    node = tmp_path / "video0"
    node.touch()
    link = by_id / "usb-046d_HD_Pro_Webcam_C920_B61DEDAF-video-index0"
    link.symlink_to(node)
    stable = v4l2.stable_paths(str(by_id))
    assert stable == {os.path.realpath(node): str(link)}
    replay = Replay(load("logitech_c920")["nodes"], root=tmp_path)
    devs = v4l2.enumerate_devices(
        [str(node)], ioctl=replay.ioctl, open_node=replay.open, close_node=replay.close, stable=stable
    )
    (row,) = v4l2.list_devices(devs)
    assert (row.kind, row.name, row.device) == ("usb", "HD Pro Webcam C920", str(link))


def test_an_unopenable_node_does_not_hide_the_others():
    replay = Replay(load("elp_4k_mjpg_yuyv_metadata")["nodes"])
    devs = v4l2.enumerate_devices(
        ["/dev/video3", *replay.nodes], ioctl=replay.ioctl, open_node=replay.open, close_node=replay.close
    )
    assert [d.path for d in devs] == ["/dev/video8"]


# -- the source's checks before opening, on replayed devices -------------------------------------
def _settings(url: str, **options: str) -> CaptureSettings:
    from drivers.base import StreamRequest

    return CaptureSettings.from_request(StreamRequest(url=url, options={"format": "v4l2", **options}))


def test_prepare_fits_size_rate_and_input_format(tmp_path):
    replay = Replay(load("logitech_c920")["nodes"], root=tmp_path)
    (tmp_path / "video0").touch()
    node = str(tmp_path / "video0")
    fitted, dev = prepare(_settings(node, size="1280x720", fps="15"), replay.query)
    assert dev.card == "HD Pro Webcam C920"
    assert fitted.ffmpeg_options() == {"video_size": "1280x720", "framerate": "15", "input_format": "mjpeg"}
    fitted, _ = prepare(_settings(node), replay.query)  # nothing chosen: 720p at 15 fps
    assert (fitted.width, fitted.height, fitted.fps) == (1280, 720, 15.0)
    with pytest.raises(UnsupportedError, match=r"cannot capture 1280x720 at 60 fps.*offers 30/24"):
        prepare(_settings(node, size="1280x720", fps="60"), replay.query)
    with pytest.raises(UnsupportedError, match=r"cannot capture 4000x3000; it offers 160x90, 160x120"):
        prepare(_settings(node, size="4000x3000"), replay.query)


def test_prepare_errors_for_missing_metadata_and_busy_nodes(tmp_path):
    replay = Replay(load("virtualbox_webcam_metadata_node")["nodes"], root=tmp_path)
    (tmp_path / "video1").touch()
    with pytest.raises(UnreachableError, match=r"the USB camera .*/video0 is not connected"):
        prepare(_settings(str(tmp_path / "video0")), replay.query)
    with pytest.raises(UnsupportedError, match="is not a video capture device"):
        prepare(_settings(str(tmp_path / "video1")), replay.query)

    def busy(path: str) -> None:
        raise PermissionError(errno.EACCES, "Permission denied", path)

    with pytest.raises(UnreachableError, match="'video' group"):
        prepare(_settings(str(tmp_path / "video1")), busy)
    assert "in use by another program" in str(translate_os_error(OSError(errno.EBUSY, "busy"), "/dev/video0"))
    assert "is not connected" in str(translate_os_error(OSError(errno.ENODEV, "gone"), "/dev/video0"))
    with pytest.raises(UnsupportedError, match="invalid picture size"):
        _settings("/dev/video0", size="big")


# -- robustness ------------------------------------------------------------------------------------
_REQUESTS = [
    v4l2.VIDIOC_QUERYCAP,
    v4l2.VIDIOC_ENUM_FMT,
    v4l2.VIDIOC_ENUM_FRAMESIZES,
    v4l2.VIDIOC_ENUM_FRAMEINTERVALS,
]
_answer = st.one_of(
    st.binary(max_size=120),  # short, long or garbled replies
    st.sampled_from([errno.EINVAL, errno.ENOTTY, errno.EIO, errno.ENODEV, errno.EBUSY]),
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(answers=st.lists(_answer, max_size=60), capture_first=st.booleans())
def test_garbled_answers_never_crash(answers, capture_first):
    """Whatever the node answers (any bytes, any length, any error), enumeration ends normally."""
    queue = list(answers)
    if capture_first:  # get past QUERYCAP so that the enumerations see the garbage
        queue.insert(0, v4l2._CAP.pack(b"uvcvideo", b"Cam", b"usb-1", 0, 0x84A00001, 0x04200001))

    def ioctl(fd: int, request: int, buffer: bytes) -> bytes:
        assert (
            request in _REQUESTS
            and len(buffer)
            == {
                v4l2.VIDIOC_QUERYCAP: 104,
                v4l2.VIDIOC_ENUM_FMT: 64,
                v4l2.VIDIOC_ENUM_FRAMESIZES: 44,
                v4l2.VIDIOC_ENUM_FRAMEINTERVALS: 52,
            }[request]
        )
        if not queue:
            raise OSError(errno.EINVAL, "end")
        answer = queue.pop(0)
        if isinstance(answer, int):
            raise OSError(answer, os.strerror(answer))
        return answer

    devs = v4l2.enumerate_devices(
        ["/dev/video0"], ioctl=ioctl, open_node=lambda p: 3, close_node=lambda fd: None
    )
    for dev in devs:
        assert isinstance(dev.card, str) and isinstance(dev.formats, tuple)
        for f in dev.formats:
            assert len(f.fourcc) <= 4 and all(w > 0 and h > 0 for w, h, _r in f.sizes)
            assert all(r > 0 for _w, _h, rates in f.sizes for r in rates)
        dev.describe_offers()


def test_a_node_that_never_stops_answering_is_cut_short():
    cap = v4l2._CAP.pack(b"uvcvideo", b"Endless", b"usb-1", 0, 0x84A00001, 0x04200001)
    calls = 0

    def ioctl(fd: int, request: int, buffer: bytes) -> bytes:
        nonlocal calls
        calls += 1
        if request == v4l2.VIDIOC_QUERYCAP:
            return cap
        if request == v4l2.VIDIOC_ENUM_FMT:
            index = struct.unpack_from("=I", buffer)[0]
            return v4l2._FMTDESC.pack(index, 1, 0, b"fmt", 0x30303030 + index, 0)
        if request == v4l2.VIDIOC_ENUM_FRAMESIZES:
            index, pixfmt = struct.unpack_from("=II", buffer)
            return v4l2._FRMSIZE.pack(index, pixfmt, 1, 16 + index, 16, 0, 0, 0, 0)
        return v4l2._FRMIVAL.pack(0, 0, 0, 0, 1, 1, 30, 0, 0, 0, 0)

    (dev,) = v4l2.enumerate_devices(
        ["/dev/video0"], ioctl=ioctl, open_node=lambda p: 3, close_node=lambda fd: None
    )
    assert calls <= v4l2.MAX_CALLS + 1
    assert 1 <= len(dev.formats) <= v4l2.MAX_FORMATS
