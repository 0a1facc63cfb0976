"""The MP4 result, encoded in its own thread while the next frame renders.

H.264 (libx264, ``yuv420p``, CRF 21, preset ``veryfast``) in an MP4 with
``+faststart`` (the index before the media, so browsers start playing at
once); the source's time base and frame timestamps, so its frame rate -
constant or variable - is kept. The source's audio is copied packet for
packet when MP4 can hold its codec, otherwise decoded and encoded to AAC.

Frames and packets go to the encoding thread through a queue of a few
items, so memory stays flat and a slow encoder holds back the renderer
instead of piling frames up.
"""

from __future__ import annotations

import os
import queue
import threading
from fractions import Fraction
from typing import Any

import av
import numpy as np

from processing.video.probe import MP4_AUDIO

__all__ = ["Mp4Writer"]

#: Frames (or packets) waiting for the encoder: enough to keep it busy.
_QUEUE = 4
_STOP = object()


class Mp4Writer:
    """Write an MP4 from BGR frames and the source's audio, in a thread.

    Args:
        path: the file to write (created or truncated).
        width, height: even frame size.
        rate: the source's average frame rate (a hint for the encoder).
        time_base: the time base of the ``pts`` given to :meth:`frame`.
        audio: the source's audio stream, or None.
        crf, preset: libx264 quality and speed.
        rotation: the source's display rotation (degrees), kept as the
            output's display matrix.
    """

    def __init__(
        self,
        path: str | os.PathLike,
        *,
        width: int,
        height: int,
        rate: Fraction,
        time_base: Fraction,
        audio: av.audio.stream.AudioStream | None = None,
        crf: int = 21,
        preset: str = "veryfast",
        rotation: float = 0.0,
    ) -> None:
        self.output = av.open(
            os.fspath(path), "w", format="mp4", options={"movflags": "+faststart"}
        )
        video = self.output.add_stream("libx264", rate=rate)
        video.width, video.height, video.pix_fmt = width, height, "yuv420p"
        video.time_base = time_base
        video.codec_context.time_base = time_base
        video.options = {"crf": str(crf), "preset": preset}
        self.rotation = rotation
        if rotation:
            video.set_display_rotation(rotation)
        self.video = video
        self.durations: dict[int, int] = {}
        self.time_base = time_base
        self.audio_in = audio
        self.audio_out = None
        self.audio_mode = "none"
        if audio is not None:
            if audio.codec_context.name in MP4_AUDIO:
                self.audio_out = self.output.add_stream_from_template(audio)
                self.audio_mode = "copied"
            else:
                self.audio_out = self.output.add_stream("aac", rate=audio.rate)
                self.audio_out.layout = audio.layout
                self.audio_mode = "transcoded"
        self.items: queue.Queue = queue.Queue(_QUEUE)
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, name="mp4-writer", daemon=True)
        self.thread.start()

    # -- producer side -------------------------------------------------
    def _put(self, item: Any) -> None:
        while True:
            if self.error is not None:
                raise self.error
            try:
                self.items.put(item, timeout=0.5)
                return
            except queue.Full:
                continue

    def frame(self, bgr: np.ndarray, pts: int, duration: int | None = None) -> None:
        """Queue a rendered frame (HxWx3 uint8, the writer's size) at ``pts``
        (and, when known, how long it shows: the last frame's length)."""
        self._put(("v", bgr, pts, duration))

    def audio_packet(self, packet: av.Packet, offset: int) -> None:
        """Queue a packet of the source's audio stream (``offset`` is
        subtracted from its timestamps, in the audio's time base)."""
        self._put(("a", packet, offset))

    def close(self) -> None:
        """Flush the encoders and finish the file; re-raise a thread error."""
        self._put(_STOP)
        self.thread.join()
        if self.error is not None:
            raise self.error

    def abort(self) -> None:
        """Stop the thread and close the file without finishing it."""
        if self.thread.is_alive():
            self.error = self.error or RuntimeError("aborted")
            try:
                self.items.put_nowait(_STOP)
            except queue.Full:
                pass
            self.thread.join(timeout=30)

    # -- encoder thread ------------------------------------------------
    def _run(self) -> None:
        try:
            while True:
                item = self.items.get()
                if item is _STOP:
                    break
                if self.error is not None:
                    continue
                if item[0] == "v":
                    self._encode_video(*item[1:])
                else:
                    self._write_audio(item[1], item[2])
            if self.error is None:
                self._mux_video(self.video.encode(None))
                if self.audio_mode == "transcoded":
                    self.output.mux(self.audio_out.encode(None))
        except BaseException as exc:  # noqa: BLE001 - handed to the producer
            self.error = exc
            while True:  # unblock a producer waiting on a full queue
                try:
                    self.items.get_nowait()
                except queue.Empty:
                    break
        finally:
            try:
                self.output.close()
            except (av.FFmpegError, OSError) as exc:
                self.error = self.error or exc

    def _encode_video(self, bgr: np.ndarray, pts: int, duration: int | None) -> None:
        frame = av.VideoFrame.from_ndarray(bgr, format="bgr24")
        frame.pts = pts
        frame.time_base = self.time_base
        if duration:
            self.durations[pts] = duration
        self._mux_video(self.video.encode(frame))

    def _mux_video(self, packets: list[av.Packet]) -> None:
        # libx264 drops frame durations; the MP4's last sample needs its own
        for packet in packets:
            duration = self.durations.pop(packet.pts, None)
            if duration:
                packet.duration = duration
        self.output.mux(packets)

    def _write_audio(self, packet: av.Packet, offset: int) -> None:
        if self.audio_mode == "copied":
            if packet.pts is not None:
                packet.pts -= offset
            if packet.dts is not None:
                packet.dts -= offset
            packet.stream = self.audio_out
            self.output.mux(packet)
            return
        for frame in packet.decode():
            frame.pts = None
            self.output.mux(self.audio_out.encode(frame))
