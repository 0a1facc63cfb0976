"""Moving pictures: probe, render_moving, the flicker bound, bad containers.

Every clip is generated here with PyAV (frames of a still background with a
moving disc, a sine tone as audio): 160x120 or 320x240, about a second.
"""

from __future__ import annotations

import io
import struct
import subprocess
import sys
from fractions import Fraction

import av
import numpy as np
import pytest
from PIL import Image

import processing
from processing.__main__ import main
from processing.video import InvalidVideo, is_moving, probe, render_moving
from processing.video.samples import (
    scene_frame,
    still_mask,
    write_animation,
    write_clip,
)
from processing.video.temporal import Stabilizer, decoded_frames, flicker_ratio


def clip_bytes(**kwargs) -> bytes:
    buf = io.BytesIO()
    write_clip(buf, **kwargs)
    return buf.getvalue()


@pytest.fixture(scope="module")
def clip() -> bytes:
    """1 s, 160x120, 25 fps, H.264 + AAC tone."""
    return clip_bytes(seconds=1.0)


def streams(data: bytes) -> dict[str, av.stream.Stream]:
    container = av.open(io.BytesIO(data))
    return {s.type: s for s in container.streams}


def seconds(stream: av.stream.Stream) -> float:
    return float(stream.duration * stream.time_base)


# --- probe and is_moving ---------------------------------------------------


def test_probe_reads_the_header(clip):
    info = probe(clip)
    assert (info.media, info.format, info.width, info.height) == (
        "video",
        "mp4",
        160,
        120,
    )
    assert (info.frames, info.fps, info.duration) == (25, 25.0, 1.0)
    assert info.has_audio and info.audio_codec == "aac"


@pytest.mark.parametrize("container", ["mov", "webm"])
def test_probe_other_containers(container):
    info = probe(clip_bytes(container=container, seconds=0.4))
    assert (info.format, info.frames, info.fps) == (container, 10, 25.0)
    assert info.duration == pytest.approx(0.4, abs=0.05)


def test_probe_animations(tmp_path):
    gif = tmp_path / "a.gif"
    write_animation(gif, frames=6, duration_ms=[50, 50, 100, 100, 200, 0])
    info = probe(gif)
    assert (info.media, info.format, info.frames) == ("animation", "gif", 6)
    # a 0 ms delay plays at 100 ms, as in browsers
    assert info.duration == pytest.approx(0.6)
    webp = tmp_path / "a.webp"
    write_animation(webp, fmt="webp", frames=4, duration_ms=120)
    info = probe(webp)
    assert (info.format, info.frames, info.duration) == ("webp", 4, pytest.approx(0.48))


def test_is_moving_from_the_first_bytes(clip, tmp_path):
    assert is_moving(clip)
    assert is_moving(clip_bytes(container="webm", seconds=0.2, audio=False))
    write_animation(tmp_path / "a.gif", frames=2)
    assert is_moving(tmp_path / "a.gif")
    still = io.BytesIO()
    Image.new("RGB", (8, 8)).save(still, "GIF")
    assert not is_moving(still.getvalue())
    Image.new("RGB", (8, 8)).save(still := io.BytesIO(), "WEBP")
    assert not is_moving(still.getvalue())
    assert not is_moving(b"\0\0\0\x18ftypheic\0\0\0\0mif1heic")  # a HEIC photo
    assert not is_moving(b"\x89PNG\r\n\x1a\n" + bytes(40))
    stream = io.BytesIO(b"junk" + clip)
    stream.seek(4)
    assert is_moving(stream) and stream.tell() == 4


# --- render_moving -------------------------------------------------------------


def test_video_keeps_frames_duration_and_audio(clip, tmp_path):
    out = tmp_path / "out.mp4"
    calls = []
    result = render_moving(
        clip, "cartoon", {"levels": 6}, out, progress=lambda d, t: calls.append((d, t))
    )
    assert (result.frames, result.width, result.height, result.fps) == (
        25,
        160,
        120,
        25.0,
    )
    assert result.duration == pytest.approx(1.0)
    assert result.audio == "copied"
    assert (
        result.thumbnail.shape == (120, 160, 3) and result.thumbnail.dtype == np.uint8
    )
    assert calls[0] == (1, 25) and calls[-1] == (25, 25)
    data = out.read_bytes()
    assert data.index(b"moov") < data.index(b"mdat")  # +faststart
    source, result_streams = streams(clip), streams(data)
    video = result_streams["video"]
    assert (
        video.codec_context.name == "h264" and video.codec_context.pix_fmt == "yuv420p"
    )
    assert video.frames == 25 and video.average_rate == 25
    assert seconds(video) == pytest.approx(seconds(source["video"]))
    audio = result_streams["audio"]
    assert audio.codec_context.name == "aac"
    one_frame = 1024 / audio.rate
    assert abs(seconds(audio) - seconds(source["audio"])) <= one_frame
    # the audio is the source's, packet for packet
    src_packets = [bytes(p) for p in av.open(io.BytesIO(clip)).demux(audio=0) if p.size]
    out_packets = [bytes(p) for p in av.open(out).demux(audio=0) if p.size]
    assert out_packets == src_packets


def test_styled_frames_are_the_style(clip, tmp_path):
    out = tmp_path / "out.mp4"
    render_moving(clip, "pencil", {}, out, stabilize=False)
    first_in = next(decoded_frames(io.BytesIO(clip)))
    first_out = next(decoded_frames(out))
    expected = processing.render(first_in, "pencil")
    # H.264 at CRF 21 on a sketch: close to the still render, far from the photo
    assert np.abs(first_out.astype(int) - expected).mean() < 6
    assert np.abs(first_out.astype(int) - first_in).mean() > 20


def test_odd_size_webm_with_opus_and_file_objects():
    data = clip_bytes(container="webm", width=81, height=61, seconds=0.4)
    out = io.BytesIO()
    result = render_moving(io.BytesIO(data), "oil", {}, out)
    assert (result.width, result.height, result.frames) == (80, 60, 10)
    got = streams(out.getvalue())
    assert (got["video"].codec_context.width, got["video"].codec_context.height) == (
        80,
        60,
    )
    assert got["audio"].codec_context.name == "opus" and result.audio == "copied"


def test_audio_mp4_cannot_hold_is_transcoded_to_aac():
    data = clip_bytes(container="mov", audio_codec="pcm_s16le", seconds=0.6)
    assert probe(data).audio_codec == "pcm_s16le"
    out = io.BytesIO()
    result = render_moving(data, "watercolor", {}, out)
    assert result.audio == "transcoded"
    got = streams(out.getvalue())
    assert got["audio"].codec_context.name == "aac"
    assert seconds(got["audio"]) == pytest.approx(0.6, abs=2 * 1024 / 44100)


def test_animation_gives_mp4_and_small_webp(tmp_path):
    gif = tmp_path / "in.gif"
    durations = [80] * 5 + [160] * 5
    write_animation(gif, width=700, height=100, frames=10, duration_ms=durations)
    result = render_moving(
        gif, "color_pencil", {}, tmp_path / "out.mp4", out_webp=tmp_path / "out.webp"
    )
    assert result.webp and result.frames == 10 and result.audio == "none"
    assert result.duration == pytest.approx(1.2)
    assert streams((tmp_path / "out.mp4").read_bytes())["video"].frames == 10
    with Image.open(tmp_path / "out.webp") as webp:
        assert webp.size == (480, 69) and webp.n_frames == 10
        shown = []
        for i in range(webp.n_frames):
            webp.seek(i)
            webp.load()
            shown.append(webp.info["duration"])
    assert shown == durations


def test_bad_params_are_refused_before_anything_is_written(clip, tmp_path):
    out = tmp_path / "out.mp4"
    with pytest.raises(ValueError, match="size"):
        render_moving(clip, "oil", {"size": 99}, out)
    assert not out.exists()


# --- temporal stability --------------------------------------------------------


@pytest.fixture(scope="module")
def still_scene() -> tuple[bytes, np.ndarray]:
    """320x240, 25 frames: still background with sensor noise, a moving disc;
    the still region is 48 px or more from the disc's path."""
    data = clip_bytes(width=320, height=240, seconds=1.0, audio=False)
    return data, still_mask(25, 240, 320, margin=48)


def _flicker(scene, style, **options) -> float:
    data, mask = scene
    out = io.BytesIO()
    render_moving(data, style, {}, out, **options)
    out.seek(0)
    return flicker_ratio(decoded_frames(io.BytesIO(data)), decoded_frames(out), mask)


@pytest.mark.parametrize("style", list(processing.STYLES))
def test_no_style_flickers_on_a_still_background(still_scene, style):
    assert _flicker(still_scene, style) <= 1.5


@pytest.mark.parametrize("style", ["pencil", "impressionist"])
def test_without_the_stabiliser_these_styles_flicker(still_scene, style):
    assert _flicker(still_scene, style, stabilize=False) > 1.5


def test_the_moving_object_is_still_repainted(still_scene):
    data, mask = still_scene
    out = io.BytesIO()
    render_moving(data, "cartoon", {}, out)
    out.seek(0)
    frames = list(decoded_frames(out))
    moving = ~still_mask(25, 240, 320, margin=0)
    assert np.abs(frames[-1].astype(int) - frames[0])[moving].mean() > 20


@pytest.mark.parametrize("style", ["oil", "watercolor", "cartoon"])
def test_the_stabilised_result_leaves_no_trail(style):
    """After the disc has crossed, the held frame is as close to a fresh
    render of the last frame as a fresh render of the frame before is."""
    frames = [scene_frame(i, 20, 120, 160) for i in range(20)]
    values = processing.validate_params(style, {})
    stabilizer = Stabilizer(style, values)
    for frame in frames:
        held = stabilizer.render(frame)
    fresh = processing.render(frames[-1], style, **values)
    before = processing.render(frames[-2], style, **values)
    trail = np.abs(held.astype(int) - fresh).mean()
    noise = np.abs(before.astype(int) - fresh).mean()
    assert trail < 0.5 * noise


# --- bad files -----------------------------------------------------------------


def _mp4_with(build) -> bytes:
    buf = io.BytesIO()
    with av.open(buf, "w", format="mp4") as output:
        build(output)
    return buf.getvalue()


def _audio_only(output) -> None:
    sound = output.add_stream("aac", rate=44100)
    sound.layout = "mono"
    frame = av.AudioFrame.from_ndarray(
        np.zeros((1, 1024), np.float32), format="flt", layout="mono"
    )
    frame.sample_rate, frame.pts = 44100, 0
    output.mux(sound.encode(frame))
    output.mux(sound.encode(None))


def _two_videos(output) -> None:
    videos = [output.add_stream("libx264", rate=25) for _ in range(2)]
    for video in videos:
        video.width, video.height, video.pix_fmt = 64, 48, "yuv420p"
    for _ in range(3):
        for video in videos:
            frame = av.VideoFrame.from_ndarray(
                np.zeros((48, 64, 3), np.uint8), format="bgr24"
            )
            output.mux(video.encode(frame))
    for video in videos:
        output.mux(video.encode(None))


def _zero_length() -> bytes:
    data = bytearray(clip_bytes(seconds=0.2, audio=False))
    for box, offset in (
        (b"stsz", 12),
        (b"stts", 8),
        (b"stss", 8),
        (b"ctts", 8),
        (b"stsc", 8),
        (b"stco", 8),
    ):
        at = data.find(box)
        if at > 0:
            data[at + offset : at + offset + 4] = bytes(4)  # no samples
    return bytes(data)


BAD_HEADERS = {
    "truncated": (lambda: clip_bytes()[:6000], "damaged"),
    "zero-length stream": (_zero_length, "no frames"),
    "absurd fps": (lambda: clip_bytes(width=64, height=48, fps=240, seconds=0.1, audio=False), "240 fps"),
    "too slow fps": (lambda: clip_bytes(width=64, height=48, fps=Fraction(1, 2), seconds=4, audio=False), "0.5 fps"),
    "audio only": (lambda: _mp4_with(_audio_only), "no video stream"),
    "too many streams": (lambda: _mp4_with(_two_videos), "2 video"),
    "random bytes": (lambda: np.random.default_rng(1).bytes(4000), "not a supported video"),
    "ftyp then garbage": (lambda: b"\0\0\0\x18ftypisom\0\0\0\0isomiso2" + np.random.default_rng(2).bytes(4000), "damaged"),
    "empty": (lambda: b"", "empty"),
}  # fmt: skip


@pytest.mark.parametrize("case", list(BAD_HEADERS))
def test_bad_container_is_refused_with_a_clear_message(case, tmp_path):
    make, message = BAD_HEADERS[case]
    data = make()
    tmp_path = tmp_path / "work"
    tmp_path.mkdir()
    source = tmp_path / "upload.mp4"  # the name does not matter, the bytes do
    source.write_bytes(data)
    with pytest.raises(InvalidVideo, match=message):
        probe(source)
    out = tmp_path / "out.mp4"
    with pytest.raises(InvalidVideo, match=message):
        render_moving(source, "pencil", {}, out)
    assert not out.exists()
    assert [p.name for p in tmp_path.iterdir()] == ["upload.mp4"]


def test_limits_are_checked_from_the_header(clip):
    with pytest.raises(InvalidVideo, match=r"too long \(1.0 s\); at most 0.5 s"):
        probe(clip, max_seconds=0.5)
    with pytest.raises(InvalidVideo, match="too large .160x120"):
        probe(clip, max_pixels=100 * 100)
    with pytest.raises(InvalidVideo, match="file is too large"):
        probe(clip, max_bytes=1000)
    out = io.BytesIO()
    with pytest.raises(InvalidVideo, match="too long"):
        render_moving(clip, "oil", {}, out, max_seconds=0.5)
    assert out.getvalue() == b""


def _lying_webm() -> bytes:
    """2 s of frames whose Matroska header says 0.3 s."""
    data = bytearray(clip_bytes(container="webm", seconds=2.0, audio=False))
    at = data.find(b"\x44\x89")  # Segment Info / Duration
    assert data[at + 2] == 0x88
    data[at + 3 : at + 11] = struct.pack(">d", 300.0)
    return bytes(data)


def _lying_mp4() -> bytes:
    """2 s of frames whose mvhd/tkhd/mdhd durations say a sixth of that."""
    data = bytearray(clip_bytes(seconds=2.0, audio=False))
    for box, offset in ((b"mvhd", 20), (b"tkhd", 24), (b"mdhd", 20)):
        at = data.find(box) + offset
        (value,) = struct.unpack(">I", data[at : at + 4])
        data[at : at + 4] = struct.pack(">I", value // 6)
    return bytes(data)


@pytest.mark.parametrize("make", [_lying_webm, _lying_mp4])
def test_a_header_that_lies_fails_when_the_lie_is_found(make, tmp_path):
    data = make()
    assert probe(data).duration < 0.5  # the header passes the limits
    tmp_path = tmp_path / "work"
    tmp_path.mkdir()
    out, webp = tmp_path / "out.mp4", io.BytesIO()
    with pytest.raises(
        InvalidVideo, match=r"The file says it lasts 0.3 s but it has frames at"
    ):
        render_moving(data, "pencil", {}, out, max_seconds=1)
    assert list(tmp_path.iterdir()) == []
    file_out = io.BytesIO()
    with pytest.raises(InvalidVideo, match="says it lasts"):
        render_moving(data, "pencil", {}, file_out, out_webp=webp, max_seconds=1)
    assert file_out.getvalue() == b"" and webp.getvalue() == b""


def test_a_truncated_stream_fails_at_its_end():
    data = io.BytesIO()
    write_clip(data, seconds=2.0, audio=False)
    # moov first (as our own results are), then half of the media cut off
    out = io.BytesIO()
    render_moving(data.getvalue(), "pencil", {}, out)
    cut = out.getvalue()[: len(out.getvalue()) // 2]
    with pytest.raises(InvalidVideo, match="truncated or damaged"):
        render_moving(cut, "pencil", {}, io.BytesIO())


# --- the batch CLI -------------------------------------------------------------


def test_cli_converts_videos_and_animations_with_a_frame_bar(clip, tmp_path, capsys):
    (tmp_path / "clip.mp4").write_bytes(clip)
    write_animation(tmp_path / "anim.gif", frames=4)
    (tmp_path / "long.mp4").write_bytes(clip)
    out = tmp_path / "out"
    code = main(
        [str(tmp_path / "clip.mp4"), str(tmp_path / "anim.gif"), "--style", "oil",
         "--param", "size=3", "--out", str(out)]
    )  # fmt: skip
    assert code == 0
    assert sorted(p.name for p in out.iterdir()) == [
        "anim-oil.mp4", "anim-oil.webp", "clip-oil.mp4",
    ]  # fmt: skip
    assert streams((out / "clip-oil.mp4").read_bytes())["video"].frames == 25
    err = capsys.readouterr().err
    assert "25/25 clip.mp4 (frames)" in err and "4/4 anim.gif (frames)" in err
    code = main(
        [str(tmp_path / "long.mp4"), "--style", "oil", "--max-seconds", "0.5",
         "--out", str(out)]
    )  # fmt: skip
    assert code == 1
    assert "long.mp4: The video is too long (1.0 s)" in capsys.readouterr().err
    assert not (out / "long-oil.mp4").exists()


def test_display_rotation_is_kept_and_the_thumbnail_upright():
    data = clip_bytes(seconds=0.3, rotation=-90)  # a phone filming upright
    out = io.BytesIO()
    result = render_moving(data, "oil", {}, out)
    assert (result.width, result.height) == (160, 120)  # as stored
    assert result.thumbnail.shape == (160, 120, 3)  # as shown
    out.seek(0)
    with av.open(out) as container:
        assert next(container.decode(video=0)).rotation == -90


def test_a_video_starting_after_its_audio_keeps_the_gap():
    """Video from 2 s on, audio from 0: not a lie about the duration."""
    buf = io.BytesIO()
    with av.open(buf, "w", format="mp4") as output:
        video = output.add_stream("libx264", rate=25)
        video.width, video.height, video.pix_fmt = 64, 48, "yuv420p"
        sound = output.add_stream("aac", rate=8000)
        sound.layout = "mono"
        for i in range(10):
            frame = av.VideoFrame.from_ndarray(
                np.full((48, 64, 3), i * 20, np.uint8), format="bgr24"
            )
            frame.pts = 50 + i
            output.mux(video.encode(frame))
        output.mux(video.encode(None))
        for start in range(0, 8000 * 2 + 3200, 1024):
            frame = av.AudioFrame.from_ndarray(
                np.zeros((1, 1024), np.float32), format="flt", layout="mono"
            )
            frame.sample_rate, frame.pts = 8000, start
            output.mux(sound.encode(frame))
        output.mux(sound.encode(None))
    assert probe(buf.getvalue()).duration == pytest.approx(0.4)
    out = io.BytesIO()
    result = render_moving(buf.getvalue(), "pencil", {}, out)
    assert result.frames == 10 and result.duration == pytest.approx(0.4)
    got = streams(out.getvalue())
    assert float(got["video"].start_time * got["video"].time_base) == pytest.approx(2.0)


def test_pyav_is_imported_on_the_first_video_only():
    """A process that handles photos (web, a photo's job) never loads
    FFmpeg's ~25 MB; an animation's probe neither; a video's render does."""
    code = """
import io, sys
from PIL import Image
import processing
assert "av" not in sys.modules, "imported with processing"
frames = [Image.new("RGB", (32, 24), (i * 40, 90, 200)) for i in range(4)]
gif = io.BytesIO()
frames[0].save(gif, "GIF", save_all=True, append_images=frames[1:], duration=100)
assert processing.probe(gif.getvalue()).frames == 4
assert "av" not in sys.modules, "imported by an animation's probe"
assert processing.render_moving is processing.video.render.render_moving
assert isinstance(processing.MovingResult, type)
assert "av" in sys.modules
"""
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
