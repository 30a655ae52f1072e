"""Parse ONVIF event notifications (``wsnt:NotificationMessage``) from raw XML, safely.

A camera's PullMessagesResponse (or a metadata-stream ``tt:Event``) carries NotificationMessages:
a topic, and a ``tt:Message`` with a UtcTime, an optional PropertyOperation and Source/Data
SimpleItems. This module turns them into plain :class:`Notification` values; what a topic means is
decided in :mod:`drivers.onvif.topics`.

The parser is defensive because the bytes come from a device on the network: no DTDs, no entity
expansion, no network access, a size cap (:data:`MAX_BYTES`), lxml's default depth/text limits, and
caps on the number of messages and items. Elements are matched by local name, so a camera that puts
a NotificationMessage in the wrong namespace is still understood. Device times are corrected to the
host clock: ``utc_ms = device_time - clock_offset`` (offset = device clock minus host clock).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import re

from lxml import etree

logger = logging.getLogger(__name__)

#: A reply larger than this is refused (a PullMessagesResponse of 100 messages is ~100 KB).
MAX_BYTES = 2 * 1024 * 1024
MAX_MESSAGES = 500  # per document
MAX_ITEMS = 32  # SimpleItems per Source / Data
MAX_TEXT = 512  # characters kept of a topic, item name or value

_TIME = re.compile(
    r"(\d{4})-(\d{1,2})-(\d{1,2})[T ](\d{1,2}):(\d{1,2}):(\d{1,2})(?:[.,](\d{1,9}))?"
    r"\s*(Z|z|[+-]\d{2}:?\d{2})?"
)


class MalformedNotification(ValueError):
    """The bytes are not a usable XML document (broken, too large, or carrying a DTD)."""


@dataclasses.dataclass(frozen=True)
class Notification:
    """One NotificationMessage, as sent (topic and items are stripped strings)."""

    topic: str
    utc_ms: int | None  # host clock; None when the message has no (parseable) UtcTime
    operation: str | None  # "Initialized" | "Changed" | "Deleted" | None when absent
    source: tuple[tuple[str, str], ...] = ()
    data: tuple[tuple[str, str], ...] = ()

    def source_value(self, *names: str) -> str | None:
        """The value of the first Source item whose name matches one of ``names`` (any case)."""
        return _lookup(self.source, names)

    def data_value(self, *names: str) -> str | None:
        """The value of the first Data item whose name matches one of ``names`` (any case)."""
        return _lookup(self.data, names)


def _lookup(items: tuple[tuple[str, str], ...], names: tuple[str, ...]) -> str | None:
    for wanted in names:
        low = wanted.casefold()
        for name, value in items:
            if name.casefold() == low:
                return value
    return None


def _parser() -> etree.XMLParser:
    # A fresh parser per document: lxml parsers must not be shared between threads.
    return etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        dtd_validation=False,
        huge_tree=False,
        remove_pis=True,
        collect_ids=False,
    )


def parse_document(raw: bytes | str, max_bytes: int = MAX_BYTES) -> etree._Element:
    """Parse ``raw`` into an element tree; MalformedNotification when it is not safe, usable XML."""
    if isinstance(raw, str):
        raw = raw.encode("utf-8", "replace")
    if len(raw) > max_bytes:
        raise MalformedNotification(f"reply too large ({len(raw)} bytes, limit {max_bytes})")
    if not raw.strip():
        raise MalformedNotification("empty reply")
    try:
        root = etree.fromstring(raw, _parser())
    except (etree.LxmlError, ValueError, LookupError) as exc:  # LookupError: an unknown encoding
        raise MalformedNotification(f"not XML: {_short(exc)}") from None
    if root is None:
        raise MalformedNotification("no root element")
    docinfo = root.getroottree().docinfo
    # lxml-stubs' DocInfo lacks ``doctype`` (lxml has it: the DOCTYPE declaration, '' without one).
    if docinfo.doctype or docinfo.internalDTD is not None:  # type: ignore[union-attr]
        raise MalformedNotification("document type declarations are not allowed in SOAP")
    return root


def local_name(element: object) -> str:
    """The local part of an element's tag ('' for comments and processing instructions)."""
    tag = getattr(element, "tag", None)
    if not isinstance(tag, str):
        return ""
    return tag.rsplit("}", 1)[-1]


def _children(parent: etree._Element, name: str) -> list[etree._Element]:
    return [c for c in parent if local_name(c) == name]


def _attr(element: etree._Element, name: str) -> str | None:
    for key, value in element.attrib.items():  # str in Python 3 (the stubs also allow bytes)
        if isinstance(key, str) and isinstance(value, str) and key.rsplit("}", 1)[-1] == name:
            return value
    return None


def _short(text: object, limit: int = MAX_TEXT) -> str:
    line = " ".join(str(text).split())
    return line[:limit]


def _items(parent: etree._Element | None) -> tuple[tuple[str, str], ...]:
    if parent is None:
        return ()
    out = []
    for item in _children(parent, "SimpleItem")[:MAX_ITEMS]:
        name = _attr(item, "Name")
        if name is None:
            continue
        out.append((_short(name), _short(_attr(item, "Value") or "")))
    return tuple(out)


def parse_utc(text: str | None) -> float | None:
    """Seconds since the epoch for an xs:dateTime as cameras write it; None when unusable.

    Accepted: ``2019-03-12T23:48:26.371215Z``, ``2023-06-01T07:27:22`` (no zone: UTC, as some
    Hikvision-family firmwares send), ``+00:00``/``+0000`` offsets, unpadded fields. Impossible dates
    (``0000-00-00T00:00:00Z``) give None.
    """
    if not text:
        return None
    m = _TIME.fullmatch(text.strip())
    if m is None:
        return None
    year, month, day, hour, minute, second, frac, zone = m.groups()
    try:
        moment = dt.datetime(
            int(year), int(month), int(day), int(hour), int(minute), min(int(second), 59), tzinfo=dt.UTC
        )
    except ValueError:
        return None
    seconds = moment.timestamp() + (int(frac) / 10 ** len(frac) if frac else 0.0)
    if zone and zone not in ("Z", "z"):
        sign = -1 if zone[0] == "-" else 1
        digits = zone[1:].replace(":", "")
        seconds -= sign * (int(digits[:2]) * 3600 + int(digits[2:]) * 60)
    return seconds


def notification_from_element(element: etree._Element, clock_offset_s: float = 0.0) -> Notification | None:
    """One NotificationMessage element as a Notification; None when it has no topic or message."""
    topic_el = next(iter(_children(element, "Topic")), None)
    topic = (
        _short("".join(t for t in topic_el.itertext() if isinstance(t, str))) if topic_el is not None else ""
    )
    outer = next(iter(_children(element, "Message")), None)
    if not topic or outer is None:
        return None
    inner = next(iter(_children(outer, "Message")), None)
    msg = inner if inner is not None else outer  # tolerate a Message without the tt:Message wrapper
    device_s = parse_utc(_attr(msg, "UtcTime"))
    utc_ms = None if device_s is None else round((device_s - clock_offset_s) * 1000)
    operation = _attr(msg, "PropertyOperation")
    return Notification(
        topic=topic,
        utc_ms=utc_ms,
        operation=_short(operation) if operation else None,
        source=_items(next(iter(_children(msg, "Source")), None)),
        data=_items(next(iter(_children(msg, "Data")), None)),
    )


def notifications_in(root: etree._Element, clock_offset_s: float = 0.0) -> list[Notification]:
    """Every NotificationMessage under ``root`` (any namespace), in document order."""
    out: list[Notification] = []
    for element in root.iter():
        if local_name(element) != "NotificationMessage":
            continue
        note = notification_from_element(element, clock_offset_s)
        if note is not None:
            out.append(note)
        if len(out) >= MAX_MESSAGES:
            logger.warning("more than %d notifications in one reply; the rest are ignored", MAX_MESSAGES)
            break
    return out


def find_fault(root: etree._Element) -> str | None:
    """A SOAP Fault's code, subcodes and reason as one line; None when the document is no fault."""
    fault = next((e for e in root.iter() if local_name(e) == "Fault"), None)
    if fault is None:
        return None
    parts = []
    for element in fault.iter():
        if local_name(element) in ("Value", "faultcode", "Text", "faultstring") and element.text:
            parts.append(element.text.strip())
    return _short(" ".join(p for p in parts if p)) or "SOAP Fault"


def parse_notifications(
    raw: bytes | str, *, clock_offset_s: float = 0.0, max_bytes: int = MAX_BYTES
) -> list[Notification]:
    """The NotificationMessages in ``raw``; raises MalformedNotification for unusable bytes."""
    return notifications_in(parse_document(raw, max_bytes), clock_offset_s)


__all__ = [
    "MAX_BYTES",
    "MalformedNotification",
    "Notification",
    "find_fault",
    "local_name",
    "notification_from_element",
    "notifications_in",
    "parse_document",
    "parse_notifications",
    "parse_utc",
]
