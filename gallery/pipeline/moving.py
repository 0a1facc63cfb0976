"""The render of a moving picture: a short video or an animated GIF/WebP.

The engine (``processing.video``, PyAV) reads and writes local, seekable
files, while the studio's files live behind the storage API (a folder or a
bucket). So the job copies the stored original into a temporary folder,
has the engine stream it frame by frame into an MP4 there (and an animated
WebP for an animation), hands those files to ``gallery.pipeline.jobs`` to
store, and removes the folder whatever happened: a failed, timed-out or
stopped render leaves no temporary file behind. Memory stays flat whatever
the clip's length; disk holds the source and the results once.

Progress is the share of frames done; the measured frame rate goes to
``job.meta`` too, for the ETA (``gallery.pipeline.progress``).
"""

from __future__ import annotations

import contextlib
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from django.conf import settings
from django.core.files import File

import processing
from gallery.models import Artwork, Media
from processing import video

# The rendering stage's share of the progress bar: copying the source comes
# before it, the thumbnail and storing after.
FIRST_PERCENT, LAST_PERCENT = 5, 94
COPY_CHUNK = 1024 * 1024
# Frame progress is published at most this often (one Redis write each).
REPORT_EVERY_SECONDS = 0.5


@dataclass
class MovingOutput:
    """A rendered clip, open for storing: the MP4, the thumbnail (JPEG
    bytes) and, for an animation, the animated WebP."""

    result: File
    thumbnail: bytes
    animation: File | None
    frames: int


class FrameProgress:
    """The engine's ``progress(frames_done, frames_total)`` callback: reports
    the percent, the frame counts and the measured frames per second."""

    def __init__(self, report: Callable[..., None], clock=time.monotonic):
        self.report = report
        self.clock = clock
        self.started = clock()
        self.last_report = None

    def __call__(self, frames_done: int, frames_total: int) -> None:
        now = self.clock()
        finished = frames_total > 0 and frames_done >= frames_total
        if (
            self.last_report is not None
            and now - self.last_report < REPORT_EVERY_SECONDS
            and not finished
        ):
            return
        self.last_report = now
        share = frames_done / frames_total if frames_total > 0 else 0.0
        elapsed = now - self.started
        self.report(
            "rendering",
            FIRST_PERCENT + int((LAST_PERCENT - FIRST_PERCENT) * min(1.0, share)),
            frames_done=frames_done,
            frames_total=frames_total,
            frame_rate=round(frames_done / elapsed, 3) if elapsed > 0 else 0.0,
        )


@contextlib.contextmanager
def rendered(artwork: Artwork, report: Callable[..., None]) -> Iterator[MovingOutput]:
    """Render ``artwork`` (whose photo is a video or an animation) into
    temporary files and yield them open for storing; the files are removed
    on leaving, also after an error.

    Raises ``processing.video.InvalidVideo`` (an ``InvalidImage``) for a clip
    the engine refuses, with a message for its owner, e.g. one whose header
    lied about its length.
    """
    photo = artwork.photo
    with tempfile.TemporaryDirectory(prefix="studio-video-") as folder:
        folder = Path(folder)
        report("decoding", 2)
        source = folder / f"source{PurePosixPath(photo.original.name).suffix}"
        with photo.original.open("rb") as stored, source.open("wb") as local:
            shutil.copyfileobj(stored, local, COPY_CHUNK)
        result_path = folder / "result.mp4"
        webp_path = folder / "animation.webp"
        is_animation = photo.media == Media.ANIMATION
        report("rendering", FIRST_PERCENT)
        rendered_clip = video.render_moving(
            str(source),
            artwork.style,
            artwork.params,
            str(result_path),
            out_webp=str(webp_path) if is_animation else None,
            progress=FrameProgress(report),
            max_seconds=settings.STUDIO_MAX_VIDEO_SECONDS,
            max_pixels=settings.STUDIO_MAX_VIDEO_PIXELS,
        )
        source.unlink()  # disk holds the results only from here
        report("thumbnail", 95)
        thumb = processing.make_thumbnail(
            rendered_clip.thumbnail, settings.STUDIO_THUMBNAIL_SIZE
        )
        thumbnail = processing.encode(thumb, "jpeg", 85)
        with contextlib.ExitStack() as files:
            result = files.enter_context(result_path.open("rb"))
            animation = (
                files.enter_context(webp_path.open("rb")) if is_animation else None
            )
            yield MovingOutput(
                result=File(result, name="result.mp4"),
                thumbnail=thumbnail,
                animation=File(animation, name="animation.webp") if animation else None,
                frames=rendered_clip.frames,
            )
