"""What an ONVIF event topic means to Porchlight: motion, a doorbell press, a digital input, or nothing.

One small parser per topic family (the Home Assistant habit), each turning a
:class:`~drivers.onvif.notifications.Notification` into a :class:`CameraEvent` or None. Topics are
compared after normalization, so ``tns1:VideoSource/MotionAlarm``, ``ns2:VideoSource/MotionAlarm``,
``{http://www.onvif.org/ver10/topics}VideoSource/MotionAlarm`` and
``http://www.onvif.org/ver10/topics/VideoSource/MotionAlarm`` are the same topic, and vendor
prefixes inside the path (``tns1:Device/tnsaxis:Sensor/PIR``) do not matter.

Vendor quirks handled: booleans written ``true``/``True``/``TRUE``/``1``/``active``; a missing
PropertyOperation (treated as ``Changed``); ``Deleted`` (the property is gone: inactive); a missing
or unparseable UtcTime (the time of arrival is used).

Which topics a device publishes comes from its GetEventProperties TopicSet, a tree of elements:
:func:`flatten_topics` turns it into topic paths (``tns1:RuleEngine/CellMotionDetector/Motion``).

Pairing starts with stops (and closing a start whose stop never came) is the hub's job:
:mod:`hub.events.merger`.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable, Iterable
from typing import Any, Literal

from lxml import etree

from drivers.base import CameraEvent, CameraEventKind
from drivers.onvif.notifications import Notification

logger = logging.getLogger(__name__)

TopicKind = Literal["motion", "doorbell", "input"]

NS_TOPICS = "http://www.onvif.org/ver10/topics"
TOPIC_ATTR = "{http://docs.oasis-open.org/wsn/t-1}topic"
MAX_TOPICS = 200

_URI_PREFIX = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://[^\s]*?/topics/?", re.IGNORECASE)

#: Normalized (case-folded, namespace-free) topics per kind.
MOTION_TOPICS = frozenset(
    {
        "videosource/motionalarm",  # ONVIF media/imaging spec; Dahua, Hikvision, Reolink, Axis
        "ruleengine/cellmotiondetector/motion",  # ONVIF analytics; Hikvision, Reolink, many OEMs
        "ruleengine/motionregiondetector/motion",  # ONVIF analytics; Axis, Hanwha
        "videoanalytics/motionalarm",  # tns1:VideoAnalytics/tnshik:MotionAlarm (Hikvision-family firmware)
        "device/sensor/pir",  # tns1:Device/tnsaxis:Sensor/PIR (Axis PIR sensor)
    }
)
DOORBELL_TOPICS = frozenset(
    {
        "ruleengine/myruledetector/visitor",  # Reolink video doorbells (WiFi, PoE)
    }
)
#: Vendor call-button topics are not standardized: a topic whose last level is one of these is a press.
DOORBELL_LEAVES = frozenset(
    {"visitor", "doorbell", "doorbellpress", "doorbellring", "callbutton", "bellbutton", "ring"}
)
INPUT_TOPICS = frozenset(
    {
        "device/trigger/digitalinput",  # ONVIF device IO; Avigilon writes tns1:Trigger/tnssamsung:DigitalInput
        "device/io/port",  # tns1:Device/tnsaxis:IO/Port (Axis input ports)
    }
)

_TRUE = frozenset({"true", "1", "on", "active", "yes", "high"})
_FALSE = frozenset({"false", "0", "off", "inactive", "no", "low"})


def normalize_topic(topic: str) -> str:
    """``topic`` without namespace prefixes or URIs, ConcreteSet wildcards and surrounding space."""
    text = " ".join(topic.split())
    if text.startswith("{") and "}" in text:
        text = text.split("}", 1)[1]
    text = _URI_PREFIX.sub("", text)
    parts = []
    for part in text.split("/"):
        part = part.strip().rsplit(":", 1)[-1].strip()
        if part and part not in (".", "*"):
            parts.append(part)
    return "/".join(parts)


def topic_kind(topic: str) -> TopicKind | None:
    """``"motion"``, ``"doorbell"``, ``"input"`` or None (a topic Porchlight does not use)."""
    key = normalize_topic(topic).casefold()
    if key in MOTION_TOPICS:
        return "motion"
    if key in INPUT_TOPICS:
        return "input"
    if key in DOORBELL_TOPICS or key.rsplit("/", 1)[-1] in DOORBELL_LEAVES:
        return "doorbell"
    return None


def is_doorbell(topics: Iterable[str]) -> bool:
    """True when a device publishing ``topics`` (GetEventProperties) is a doorbell."""
    return any(topic_kind(t) == "doorbell" for t in topics)


def flatten_topics(roots: Any, limit: int = MAX_TOPICS) -> tuple[str, ...]:
    """Topic paths like ``tns1:RuleEngine/CellMotionDetector/Motion`` from a TopicSet's elements."""
    out: dict[str, None] = {}

    def walk(el: Any, path: str, namespace: str | None, depth: int) -> None:
        if len(out) >= limit or depth > 12 or not isinstance(el.tag, str):
            return
        qname = etree.QName(el)
        name = qname.localname
        if qname.namespace and qname.namespace != namespace:  # the root, or a vendor level inside
            prefix = "tns1" if qname.namespace == NS_TOPICS else (el.prefix or "")
            name = f"{prefix}:{name}" if prefix else name
        here = f"{path}/{name}" if path else name
        children = [
            c for c in el if isinstance(c.tag, str) and etree.QName(c).localname != "MessageDescription"
        ]
        if el.get(TOPIC_ATTR, "").strip().lower() in ("true", "1") or not children:
            out[here] = None
        for child in children:
            walk(child, here, qname.namespace if namespace is None else namespace, depth + 1)

    for root in _elements(roots):
        walk(root, "", None, 0)
    return tuple(out)[:limit]


def _elements(obj: Any) -> list[Any]:
    if obj is None:
        return []
    if isinstance(obj, etree._Element):
        return [obj]
    if isinstance(obj, list | tuple):
        return [e for item in obj for e in _elements(item)]
    return _elements(getattr(obj, "_value_1", None))


def parse_bool(value: str | None) -> bool | None:
    """A camera's boolean: ``true``/``True``/``1``/``active``... -> True; None when not a boolean."""
    if value is None:
        return None
    low = value.strip().casefold()
    if low in _TRUE:
        return True
    if low in _FALSE:
        return False
    return None


def _source(note: Notification, names: tuple[str, ...]) -> str | None:
    value = note.source_value(*names)
    if value is None and note.source:
        value = note.source[0][1]
    return value or None


def _event(
    note: Notification, kind: CameraEventKind, active: bool, source: str | None, received_ms: int | None
) -> CameraEvent:
    when = (
        note.utc_ms
        if note.utc_ms is not None
        else (received_ms if received_ms is not None else int(time.time() * 1000))
    )
    return CameraEvent(
        kind=kind,
        active=active,
        utc_ms=when,
        topic=note.topic,
        source=source,
        initialized=(note.operation or "").casefold() == "initialized",
    )


def _state(note: Notification, names: tuple[str, ...]) -> bool | None:
    if (note.operation or "").casefold() == "deleted":
        return False  # the property no longer exists: whatever it was is over
    value = note.data_value(*names)
    if value is None and len(note.data) == 1:
        value = note.data[0][1]  # a single, differently named item (vendor spelling)
    return parse_bool(value)


def parse_motion(note: Notification, received_ms: int | None = None) -> CameraEvent | None:
    """Motion on/off: ``IsMotion`` (cell motion), ``State`` (MotionAlarm, region detector, PIR)."""
    active = _state(note, ("IsMotion", "State", "Motion", "active"))
    if active is None:
        return None
    source = _source(
        note, ("VideoSourceConfigurationToken", "VideoSourceToken", "VideoSource", "Source", "sensor")
    )
    return _event(note, "motion", active, source, received_ms)


def parse_doorbell(note: Notification, received_ms: int | None = None) -> CameraEvent | None:
    """A press: a true ``State`` (Reolink Visitor), or any message of a topic without data."""
    op = (note.operation or "").casefold()
    if op == "deleted":
        return None
    if note.data:
        pressed = _state(note, ("State", "Visitor", "IsVisitor", "Pressed", "Ring", "Call"))
        if not pressed:
            return None  # a release, or a value we do not understand
    elif op == "initialized":
        return None  # an event topic's state at subscription time is not a press
    source = _source(note, ("Source", "VideoSourceToken", "VideoSourceConfigurationToken", "InputToken"))
    return _event(note, "doorbell", True, source, received_ms)


def parse_input(note: Notification, received_ms: int | None = None) -> CameraEvent | None:
    """A digital input: ``LogicalState`` (ONVIF), ``Level`` (Avigilon), ``state`` (Axis port)."""
    active = _state(note, ("LogicalState", "Level", "State", "active"))
    if active is None:
        return None
    source = _source(note, ("InputToken", "Input", "port", "Token"))
    return _event(note, "input", active, source, received_ms)


PARSERS: dict[TopicKind, Callable[[Notification, int | None], CameraEvent | None]] = {
    "motion": parse_motion,
    "doorbell": parse_doorbell,
    "input": parse_input,
}


def to_camera_event(note: Notification, received_ms: int | None = None) -> CameraEvent | None:
    """The CameraEvent a notification stands for; None for topics Porchlight does not use."""
    kind = topic_kind(note.topic)
    if kind is None:
        return None
    return PARSERS[kind](note, received_ms)


__all__ = [
    "PARSERS",
    "TopicKind",
    "flatten_topics",
    "is_doorbell",
    "normalize_topic",
    "parse_bool",
    "parse_doorbell",
    "parse_input",
    "parse_motion",
    "to_camera_event",
    "topic_kind",
]
