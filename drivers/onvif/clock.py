"""A camera's clock: the GetSystemDateAndTime request, reading its reply, and the owner's warning.

Pure (no I/O): :meth:`drivers.onvif.device._Probe.read_clock` posts :data:`GET_TIME`, hands the
reply to :func:`parse_device_time` and turns the offset it measured into :func:`clock_warning`
when the camera is far off.
"""

from __future__ import annotations

import datetime as dt

from lxml import etree

#: An unauthenticated GetSystemDateAndTime (SOAP 1.2): most devices answer it without credentials.
GET_TIME = (
    b'<?xml version="1.0" encoding="utf-8"?><s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-'
    b'envelope"><s:Body><GetSystemDateAndTime xmlns="http://www.onvif.org/ver10/device/wsdl"/>'
    b"</s:Body></s:Envelope>"
)


def clock_warning(offset_s: float) -> str:
    """The owner's warning for a camera clock ``offset_s`` seconds off (device minus host)."""
    minutes = abs(offset_s) / 60
    amount = (
        f"{minutes / 1440:.0f} days"
        if minutes >= 2880
        else f"{minutes / 60:.0f} hours"
        if minutes >= 120
        else f"{max(1, round(minutes))} minutes"
    )
    side = "ahead of" if offset_s > 0 else "behind"
    return f"the camera's clock is {amount} off ({side} this computer): set NTP on the camera"


def parse_device_time(body: bytes) -> float | None:
    """UTC seconds from a GetSystemDateAndTime reply (to the second), or None."""
    try:
        root = etree.fromstring(body, etree.XMLParser(resolve_entities=False, no_network=True))
    except etree.XMLSyntaxError:
        return None
    found = root.xpath("//*[local-name()='UTCDateTime']")
    if not isinstance(found, list) or not found or not isinstance(found[0], etree._Element):
        return None
    utc = found[0]

    def field(parent: str, name: str) -> int:
        texts = utc.xpath(f"*[local-name()='{parent}']/*[local-name()='{name}']/text()")
        if not isinstance(texts, list) or not texts:
            raise IndexError(f"{parent}/{name} missing")
        return int(str(texts[0]))

    try:
        stamp = dt.datetime(
            field("Date", "Year"),
            field("Date", "Month"),
            field("Date", "Day"),
            field("Time", "Hour"),
            field("Time", "Minute"),
            min(59, field("Time", "Second")),
            tzinfo=dt.UTC,
        )
    except (IndexError, ValueError):
        return None
    return stamp.timestamp()
