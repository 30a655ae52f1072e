"""Windows/macOS camera names from FFmpeg's device listing, against outputs quoted in public sources.

Windows and macOS cannot run here: the parsers are tested on real listings (sources next to each,
see also tests/fixtures/v4l2/PROVENANCE.md) and the PyAV log capture on Linux's FFmpeg.
"""

from __future__ import annotations

import av
from hypothesis import given
from hypothesis import strategies as st

from drivers.usb import platforms
from drivers.usb.platforms import PlatformDevice

# FFmpeg wiki "DirectShow" (trac.ffmpeg.org/wiki/DirectShow), FFmpeg N-45279 (2012).
DSHOW_2012 = r"""ffmpeg version N-45279-g6b86dd5... --enable-runtime-cpudetect
  libavdevice    54.  3.100 / 54.  3.100
[dshow @ 03ACF580] DirectShow video devices
[dshow @ 03ACF580]  "Integrated Camera"
[dshow @ 03ACF580]  "screen-capture-recorder"
[dshow @ 03ACF580] DirectShow audio devices
[dshow @ 03ACF580]  "Internal Microphone (Conexant 2"
[dshow @ 03ACF580]  "virtual-audio-capturer"
dummy: Immediate exit requested
"""

# blog.naturalwill.me/2017/05/05/ffmpeg-notes/ (FFmpeg 3.2.4): Alternative name lines, non-ASCII name.
DSHOW_2017 = r"""[dshow @ 00000000001c23c0] DirectShow video devices (some may be both video and audio devices)
[dshow @ 00000000001c23c0] "Integrated Webcam"
[dshow @ 00000000001c23c0] Alternative name "@device_pnp_\\?\usb#vid_0c45&pid_6448&mi_00#7&2645f9e4&0&0000#{65e8773d-8f56-11d0-a3b9-00a0c9223196}\global"
[dshow @ 00000000001c23c0] "screen-capture-recorder"
[dshow @ 00000000001c23c0] Alternative name "@device_sw_{860BB310-5D01-11D0-BD3B-00A0C911CE86}\{4EA69364-2C8A-4AE6-A561-56E4B5044439}"
[dshow @ 00000000001c23c0] DirectShow audio devices
[dshow @ 00000000001c23c0] "麦克风 (High Definition Audio 设备)"
[dshow @ 00000000001c23c0] Alternative name "@device_cm_{33D9A762-90C8-11D0-BD43-00A0C911CE86}\wave_{E26AD2BE-B335-41EC-BED5-40F982F21FF7}"
dummy: Immediate exit requested
"""

# GitHub ShareX/ShareX#8442 (FFmpeg master builds, 2026): "(video)"/"(audio)" and "[in#0 @ ...]".
DSHOW_NEW = r"""[in#0 @ 000001bd07e70b00] "screen-capture-recorder" (video)
[in#0 @ 000001bd07e70b00]   Alternative name "@device_sw_{860BB310-5D01-11D0-BD3B-00A0C911CE86}\{4EA69364-2C8A-4AE6-A561-56E4B5044439}"
[dshow @ 000002798dd4fb80] "virtual-audio-capturer" (audio)
[dshow @ 000002798dd4fb80]   Alternative name "@device_sw_{33D9A762-90C8-11D0-BD43-00A0C911CE86}\{8E146464-DB61-4309-AFA1-3578E927E935}"
"""

# GitHub mipops/dvrescue#67 (macOS, FFmpeg 4.x).
AVF_DVRESCUE = """2020-04-29 10:43:54.878 ffmpeg[56121:3721878] elt 0
[AVFoundation indev @ 0x7fe73bc22200] AVFoundation video devices:
[AVFoundation indev @ 0x7fe73bc22200] [0] CamTwist
[AVFoundation indev @ 0x7fe73bc22200] [1] FaceTime HD Camera (Built-in)
[AVFoundation indev @ 0x7fe73bc22200] [2] CamTwist (2VUY)
[AVFoundation indev @ 0x7fe73bc22200] [3] DV-VCR
[AVFoundation indev @ 0x7fe73bc22200] [4] Capture screen 0
[AVFoundation indev @ 0x7fe73bc22200] AVFoundation audio devices:
[AVFoundation indev @ 0x7fe73bc22200] [0] Description
[AVFoundation indev @ 0x7fe73bc22200] [1] Jaybird Tarah Pro
[AVFoundation indev @ 0x7fe73bc22200] [2] Built-in Microphone
hi: Input/output error
"""

# GitHub cytopia/ffscreencast#25 (FFmpeg 3.4): the first header line came without its prefix.
AVF_FFSCREENCAST = """AVFoundation video devices:
[AVFoundation input device @ 0x7ff80b497440] [0] CamTwist
[AVFoundation input device @ 0x7ff80b497440] [1] Built-in iSight
[AVFoundation input device @ 0x7ff80b497440] [2] CamTwist (2VUY)
[AVFoundation input device @ 0x7ff80b497440] [3] Capture screen 0
[AVFoundation input device @ 0x7ff80b497440] AVFoundation audio devices:
[AVFoundation input device @ 0x7ff80b497440] [0] Soundflower (64ch)
[AVFoundation input device @ 0x7ff80b497440] [1] Built-in Microphone
"""


def test_dshow_listing_with_section_headers():
    devs = platforms.parse_dshow_listing(DSHOW_2012)
    assert devs == [
        PlatformDevice("Integrated Camera", ("video",)),
        PlatformDevice("screen-capture-recorder", ("video",)),
        PlatformDevice("Internal Microphone (Conexant 2", ("audio",)),
        PlatformDevice("virtual-audio-capturer", ("audio",)),
    ]
    cams = platforms.dshow_cameras(devs)
    assert [(c.kind, c.name, c.device) for c in cams] == [
        ("usb", "Integrated Camera", "video=Integrated Camera"),
        ("usb", "screen-capture-recorder", "video=screen-capture-recorder"),
    ]


def test_dshow_listing_with_alternative_names():
    devs = platforms.parse_dshow_listing(DSHOW_2017)
    assert [(d.name, d.kinds) for d in devs] == [
        ("Integrated Webcam", ("video",)),
        ("screen-capture-recorder", ("video",)),
        ("麦克风 (High Definition Audio 设备)", ("audio",)),
    ]
    assert devs[0].alternative_name.startswith(r"@device_pnp_\\?\usb#vid_0c45&pid_6448")
    assert devs[2].alternative_name.endswith("wave_{E26AD2BE-B335-41EC-BED5-40F982F21FF7}")


def test_dshow_listing_new_style_and_identical_cameras():
    devs = platforms.parse_dshow_listing(DSHOW_NEW)
    assert [(d.name, d.kinds) for d in devs] == [
        ("screen-capture-recorder", ("video",)),
        ("virtual-audio-capturer", ("audio",)),
    ]
    assert (
        devs[0].alternative_name
        == r"@device_sw_{860BB310-5D01-11D0-BD3B-00A0C911CE86}\{4EA69364-2C8A-4AE6-A561-56E4B5044439}"
    )
    # Two identical webcams: same friendly name; the moniker tells them apart.
    twins = [
        PlatformDevice("USB Camera", ("video",), r"@device_pnp_\\?\usb#vid_1&pid_2&mi_00#a"),
        PlatformDevice("USB Camera", ("audio", "video"), r"@device_pnp_\\?\usb#vid_1&pid_2&mi_00#b"),
    ]
    assert [c.device for c in platforms.dshow_cameras(twins)] == [
        r"video=@device_pnp_\\?\usb#vid_1&pid_2&mi_00#a",
        r"video=@device_pnp_\\?\usb#vid_1&pid_2&mi_00#b",
    ]


def test_avfoundation_listings_skip_screens_and_microphones():
    devs = platforms.parse_avfoundation_listing(AVF_DVRESCUE)
    assert [(d.index, d.name, d.kinds) for d in devs[:5]] == [
        (0, "CamTwist", ("video",)),
        (1, "FaceTime HD Camera (Built-in)", ("video",)),
        (2, "CamTwist (2VUY)", ("video",)),
        (3, "DV-VCR", ("video",)),
        (4, "Capture screen 0", ("video",)),
    ]
    assert [d.name for d in devs if d.kinds == ("audio",)] == [
        "Description",
        "Jaybird Tarah Pro",
        "Built-in Microphone",
    ]
    cams = platforms.avfoundation_cameras(devs)
    assert [c.device for c in cams] == [
        "CamTwist",
        "FaceTime HD Camera (Built-in)",
        "CamTwist (2VUY)",
        "DV-VCR",
    ]
    other = platforms.avfoundation_cameras(platforms.parse_avfoundation_listing(AVF_FFSCREENCAST))
    assert [c.name for c in other] == ["CamTwist", "Built-in iSight", "CamTwist (2VUY)"]


def test_device_urls_and_default_inputs():
    assert platforms.default_input_format("win32") == "dshow"
    assert platforms.default_input_format("darwin") == "avfoundation"
    assert platforms.default_input_format("linux") == "v4l2"
    assert platforms.device_url("dshow", "Integrated Camera") == "video=Integrated Camera"
    assert platforms.device_url("dshow", "video=Integrated Camera") == "video=Integrated Camera"
    assert platforms.device_url("avfoundation", "FaceTime HD Camera") == "FaceTime HD Camera:none"
    assert platforms.device_url("avfoundation", "1:none") == "1:none"
    assert platforms.device_url("v4l2", "/dev/video0") == "/dev/video0"


def test_log_capture_rejoins_pieces_into_prefixed_lines():
    # dshow logs a device line in pieces: the name, then " (video)", then the newline.
    records = [
        (32, "dshow", '"Integrated Camera"'),
        (32, "dshow", " (video)"),
        (32, "dshow", "\n"),
        (32, "dshow", '  Alternative name "@device_pnp_x"\n'),
    ]
    text = platforms.join_log(records)
    assert text == '[dshow @ 0] "Integrated Camera" (video)\n[dshow @ 0]   Alternative name "@device_pnp_x"\n'
    (dev,) = platforms.parse_dshow_listing(text)
    assert (dev.name, dev.kinds, dev.alternative_name) == ("Integrated Camera", ("video",), "@device_pnp_x")


def test_capture_listing_collects_ffmpeg_log_through_pyav():
    """The real PyAV path on Linux's FFmpeg: the v4l2 input's own listing of a missing device."""
    level = av.logging.get_level()
    text = platforms.capture_listing("v4l2", "/dev/video-porchlight-none")
    assert "video4linux2" in text and "/dev/video-porchlight-none" in text
    assert av.logging.get_level() == level  # the global log level is restored


def test_listing_on_linux_is_empty_not_an_error():
    assert platforms.list_devices("linux") == []


@given(st.text(max_size=400))
def test_parsers_never_crash(text):
    for dev in platforms.parse_dshow_listing(text) + platforms.parse_avfoundation_listing(text):
        assert dev.name and dev.kinds
    platforms.dshow_cameras(platforms.parse_dshow_listing(text))
    platforms.avfoundation_cameras(platforms.parse_avfoundation_listing(text))
