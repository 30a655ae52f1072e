"""Audio for recordings: AAC is copied; anything else (doorbells often send G.711) is transcoded
to AAC, which MP4 can carry. Transcoding audio is cheap (a few kbit/s of 8 kHz mono)."""

from __future__ import annotations

import fractions
import io
import logging
from typing import Any

import av
import av.stream

logger = logging.getLogger(__name__)

AAC_RATES = (96000, 88200, 64000, 48000, 44100, 32000, 24000, 22050, 16000, 12000, 11025, 8000)


class AudioPath:
    """Turn input audio packets into AAC packets ready to mux.

    ``template`` is the stream to give ``add_stream_from_template``. ``process(pkt)`` returns
    packets whose ``pts * time_base`` is on the same media timeline (seconds) as the input.
    """

    def __init__(self, ist: av.stream.Stream) -> None:
        self.input = ist
        self.copy = ist.codec_context.name == "aac"
        self._holder = None
        if self.copy:
            self.template = ist
            self.time_base = ist.time_base
            return
        rate = ist.codec_context.sample_rate or 8000
        if rate not in AAC_RATES:
            rate = 16000
        self._holder = av.open(io.BytesIO(), "w", format="mp4")
        st = self._holder.add_stream("aac", rate=rate)
        st.codec_context.layout = "mono"
        st.codec_context.bit_rate = 32000 if rate <= 16000 else 64000
        self._holder.start_encoding()
        self.template = st
        self.time_base = fractions.Fraction(1, rate)
        self._rate = rate
        self._resampler = av.AudioResampler(format="fltp", layout="mono", rate=rate)
        self._decoder = ist.codec_context
        logger.info("audio: transcoding %s to AAC %d Hz", ist.codec_context.name, rate)

    def process(self, pkt: av.Packet[Any]) -> list[av.Packet[Any]]:
        """AAC packets for one input packet (possibly none while the encoder fills a frame)."""
        if self.copy:
            return [pkt]
        out: list[av.Packet[Any]] = []
        try:
            frames = self._decoder.decode(pkt)
        except av.error.FFmpegError:
            logger.debug("audio: undecodable packet skipped")
            return out
        for frame in frames:
            if frame.pts is None or frame.time_base is None:
                continue
            start = round(frame.pts * frame.time_base * self._rate)
            for rf in self._resampler.resample(frame):
                rf.pts = start
                rf.time_base = self.time_base
                start += rf.samples
                out.extend(self.template.encode(rf))
        return out
