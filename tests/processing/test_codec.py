"""inspect / decode / encode / make_thumbnail."""

from __future__ import annotations

import io
import struct
import time
import zlib

import cv2
import numpy as np
import pillow_heif
import pytest
from PIL import Image, ImageOps

from processing import ImageInfo, InvalidImage, decode, encode, inspect, make_thumbnail


def rgb_image(width: int = 64, height: int = 48, seed: int = 0) -> Image.Image:
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width]
    arr = np.stack(
        [x * 255 // max(width - 1, 1), y * 255 // max(height - 1, 1), (x + y) % 256],
        axis=2,
    ).astype(np.uint8)
    arr[height // 4 : height // 2, width // 4 : width // 2] = (200, 30, 30)
    noise = rng.integers(-3, 4, arr.shape)
    return Image.fromarray(np.clip(arr + noise, 0, 255).astype(np.uint8), "RGB")


def to_bytes(image: Image.Image, fmt: str, **kwargs) -> bytes:
    buf = io.BytesIO()
    image.save(buf, fmt, **kwargs)
    return buf.getvalue()


def bgr_of(image: Image.Image) -> np.ndarray:
    return cv2.cvtColor(np.asarray(image.convert("RGB")), cv2.COLOR_RGB2BGR)


# --- decode: formats and modes ---------------------------------------------


@pytest.mark.parametrize("fmt", ["PNG", "WEBP", "GIF"])
def test_decode_lossless_formats_exact(fmt):
    img = rgb_image()
    if fmt == "GIF":
        img = img.quantize(256).convert("RGB")
    kwargs = {"lossless": True} if fmt == "WEBP" else {}
    out = decode(to_bytes(img, fmt, **kwargs))
    assert out.dtype == np.uint8 and out.shape == (48, 64, 3)
    assert out.flags.c_contiguous
    np.testing.assert_array_equal(out, bgr_of(img))


def test_decode_jpeg_close_and_bgr():
    img = rgb_image()
    out = decode(to_bytes(img, "JPEG", quality=95))
    assert out.shape == (48, 64, 3)
    # red square stays red in BGR order
    b, g, r = out[18, 24]
    assert r > 150 and b < 100


def test_decode_accepts_file_object():
    data = to_bytes(rgb_image(), "PNG")
    stream = io.BytesIO(b"xx" + data)
    stream.seek(2)
    out = decode(stream)
    assert out.shape == (48, 64, 3)
    assert inspect(stream).width == 64
    assert stream.tell() == 2  # position restored


def test_decode_rgba_flattened_on_white():
    arr = np.zeros((10, 10, 4), np.uint8)
    arr[..., 0] = 255  # red
    arr[:, :5, 3] = 0  # left half transparent
    arr[:, 5:, 3] = 255
    out = decode(to_bytes(Image.fromarray(arr, "RGBA"), "PNG"))
    assert (out[:, :5] == 255).all()
    assert (out[:, 5:] == (0, 0, 255)).all()


def test_decode_half_alpha():
    arr = np.zeros((4, 4, 4), np.uint8)
    arr[..., 3] = 128  # black at 50 %
    out = decode(to_bytes(Image.fromarray(arr, "RGBA"), "PNG"))
    assert abs(int(out[0, 0, 0]) - 127) <= 1


def test_decode_la_and_l_and_1():
    la = np.zeros((6, 6, 2), np.uint8)
    la[..., 0] = 40
    la[..., 1] = 255
    la[0, 0, 1] = 0
    out = decode(to_bytes(Image.fromarray(la, "LA"), "PNG"))
    assert (out[0, 0] == 255).all() and (out[1, 1] == 40).all()
    gray = Image.fromarray(np.full((5, 7), 99, np.uint8), "L")
    assert (decode(to_bytes(gray, "PNG")) == 99).all()
    mono = Image.new("1", (8, 3), 1)
    assert (decode(to_bytes(mono, "PNG")) == 255).all()


def test_decode_palette_with_transparency():
    img = Image.new("P", (8, 8), 1)
    img.putpalette([0, 0, 0, 10, 200, 30] + [0] * 762)
    img.putpixel((0, 0), 0)
    img.info["transparency"] = 0
    out = decode(to_bytes(img, "PNG", transparency=0))
    assert (out[0, 0] == 255).all()
    assert tuple(out[4, 4]) == (30, 200, 10)


def test_decode_cmyk_jpeg():
    img = Image.new("CMYK", (16, 16), (0, 255, 255, 0))  # red
    out = decode(to_bytes(img, "JPEG", quality=95))
    b, g, r = (int(v) for v in out[8, 8])
    assert r > 200 and g < 60 and b < 60


def test_decode_16bit_png():
    arr = np.full((4, 5), 65535 // 2, np.uint16)
    arr[0, 0] = 65535
    img = Image.fromarray(arr)
    assert img.mode == "I;16"
    out = decode(to_bytes(img, "PNG"))
    assert out.shape == (4, 5, 3)
    assert abs(int(out[1, 1, 0]) - 127) <= 1
    assert out[0, 0, 0] == 255


@pytest.mark.parametrize("orientation", range(1, 9))
def test_decode_exif_orientation_matches_pillow(orientation):
    img = rgb_image(30, 20, seed=orientation)
    exif = Image.Exif()
    exif[0x0112] = orientation
    data = to_bytes(img, "PNG", exif=exif)
    expected = bgr_of(ImageOps.exif_transpose(Image.open(io.BytesIO(data))))
    out = decode(data)
    np.testing.assert_array_equal(out, expected)
    info = inspect(data)
    assert (info.width, info.height) == (out.shape[1], out.shape[0])


def test_inspect_and_decode_jpeg_orientation_6_swaps():
    img = rgb_image(64, 48)
    exif = Image.Exif()
    exif[0x0112] = 6
    data = to_bytes(img, "JPEG", exif=exif.tobytes())
    assert inspect(data) == ImageInfo("JPEG", 48, 64)
    assert decode(data).shape == (64, 48, 3)


def rgb_matrix_profile(swap_red_green: bool) -> bytes:
    """A minimal ICC v2 RGB matrix/TRC display profile (gamma 2.2).

    With ``swap_red_green`` the red and green colorants are exchanged, which
    makes a deliberately non-sRGB profile: the same numbers mean other colours.
    """

    def s15(v: float) -> bytes:
        return struct.pack(">i", round(v * 65536))

    def xyz(x: float, y: float, z: float) -> bytes:
        return b"XYZ " + b"\0" * 4 + s15(x) + s15(y) + s15(z)

    curve = b"curv" + b"\0" * 4 + struct.pack(">IH", 1, 563) + b"\0\0"
    red = (0.4361, 0.2225, 0.0139)
    green = (0.3851, 0.7169, 0.0971)
    blue = (0.1431, 0.0606, 0.7141)
    if swap_red_green:
        red, green = green, red
    text = b"test profile\0"
    desc = b"desc" + b"\0" * 4 + struct.pack(">I", len(text)) + text + b"\0" * 78
    desc += b"\0" * (-len(desc) % 4)
    tags = [
        (b"desc", desc),
        (b"wtpt", xyz(0.9642, 1.0, 0.8249)),
        (b"rXYZ", xyz(*red)),
        (b"gXYZ", xyz(*green)),
        (b"bXYZ", xyz(*blue)),
        (b"rTRC", curve),
        (b"gTRC", curve),
        (b"bTRC", curve),
    ]
    offset = 128 + 4 + 12 * len(tags)
    table, data = b"", b""
    for sig, payload in tags:
        table += sig + struct.pack(">II", offset + len(data), len(payload))
        data += payload
    body = struct.pack(">I", len(tags)) + table + data
    header = (
        struct.pack(">I", 128 + len(body))
        + b"\0" * 4
        + struct.pack(">I", 0x02100000)
        + b"mntrRGB XYZ "
        + b"\0" * 12
        + b"acsp"
        + b"\0" * 24
        + struct.pack(">I", 0)
        + s15(0.9642)
        + s15(1.0)
        + s15(0.8249)
        + b"\0" * 48
    )
    assert len(header) == 128
    return header + body


def test_decode_icc_srgb_like_profile_keeps_pixels():
    img = Image.new("RGB", (8, 8), (200, 100, 50))
    data = to_bytes(img, "PNG", icc_profile=rgb_matrix_profile(False))
    b, g, r = (int(v) for v in decode(data)[0, 0])
    assert abs(r - 200) <= 6 and abs(g - 100) <= 6 and abs(b - 50) <= 6


@pytest.mark.parametrize("fmt", ["PNG", "JPEG"])
def test_decode_icc_non_srgb_profile_converted(fmt):
    img = Image.new("RGB", (8, 8), (200, 100, 50))
    data = to_bytes(img, fmt, icc_profile=rgb_matrix_profile(True))
    b, g, r = (int(v) for v in decode(data)[4, 4])
    # red and green colorants swapped: the pixel now reads greenish
    assert g > r + 40


def test_decode_broken_icc_profile_ignored():
    img = Image.new("RGB", (8, 8), (200, 100, 50))
    data = to_bytes(img, "PNG", icc_profile=b"not a profile at all")
    assert tuple(decode(data)[0, 0]) == (50, 100, 200)


def test_decode_animated_gif_first_frame():
    frames = [Image.new("RGB", (10, 10), c) for c in ((255, 0, 0), (0, 255, 0))]
    buf = io.BytesIO()
    frames[0].save(buf, "GIF", save_all=True, append_images=frames[1:], duration=50)
    out = decode(buf.getvalue())
    assert tuple(out[5, 5]) == (0, 0, 255)


def test_decode_animated_webp_first_frame():
    frames = [Image.new("RGB", (10, 10), c) for c in ((255, 0, 0), (0, 0, 255))]
    buf = io.BytesIO()
    frames[0].save(buf, "WEBP", save_all=True, append_images=frames[1:], lossless=True)
    out = decode(buf.getvalue())
    assert tuple(out[5, 5]) == (0, 0, 255)


def test_decode_heic():
    img = rgb_image(64, 48)
    heif = pillow_heif.from_pillow(img)
    buf = io.BytesIO()
    heif.save(buf, quality=95)
    data = buf.getvalue()
    assert inspect(data).format == "HEIF"
    out = decode(data)
    assert out.shape == (48, 64, 3)
    assert np.abs(out.astype(int) - bgr_of(img)).mean() < 12


def test_decode_downscales_to_work_pixels():
    img = rgb_image(400, 300)
    for fmt in ("JPEG", "PNG"):
        out = decode(to_bytes(img, fmt), work_pixels=10_000)
        h, w = out.shape[:2]
        assert h * w <= 10_000
        assert abs(w / h - 4 / 3) < 0.05
        assert w >= 100


def test_decode_max_pixels_refused():
    data = to_bytes(rgb_image(100, 100), "PNG")
    with pytest.raises(InvalidImage, match="too large"):
        decode(data, max_pixels=5000)
    with pytest.raises(InvalidImage, match="too large"):
        inspect(data, max_pixels=5000)


# --- bad inputs -------------------------------------------------------------


def png_header_only(width: int, height: int) -> bytes:
    def chunk(kind: bytes, payload: bytes) -> bytes:
        return (
            struct.pack(">I", len(payload))
            + kind
            + payload
            + struct.pack(">I", zlib.crc32(kind + payload) & 0xFFFFFFFF)
        )

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    idat = zlib.compress(b"\x00" * 1000)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", ihdr)
        + chunk(b"IDAT", idat)
        + chunk(b"IEND", b"")
    )


def gif_bomb(width: int, height: int) -> bytes:
    header = b"GIF89a" + struct.pack("<HH", width, height) + b"\x80\x00\x00"
    palette = b"\x00\x00\x00\xff\xff\xff"
    image = b"\x2c" + struct.pack("<HHHH", 0, 0, width, height) + b"\x00"
    return header + palette + image + b"\x02\x02\x44\x01\x00\x3b"


def tiff_bytes() -> bytes:
    return to_bytes(rgb_image(8, 8), "TIFF")


BAD_INPUTS = {
    "empty": (b"", "empty"),
    "text": (b"hello, this is not an image\n" * 10, "not a supported image"),
    "svg": (
        b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg" width="10" '
        b'height="10"><rect width="10" height="10"/></svg>',
        "not a supported image",
    ),
    "tiff": (None, "not a supported image"),
    "bmp": (None, "not a supported image"),
    "png-30000": (png_header_only(30000, 30000), "too large"),
    "gif-bomb": (gif_bomb(30000, 30000), "too large"),
    "png-zero": (png_header_only(0, 10), None),
}


@pytest.mark.parametrize("name", list(BAD_INPUTS))
@pytest.mark.parametrize("func", [inspect, decode], ids=["inspect", "decode"])
def test_bad_inputs_raise_invalid_image_quickly(name, func):
    data, message = BAD_INPUTS[name]
    if name == "tiff":
        data = tiff_bytes()
    elif name == "bmp":
        data = to_bytes(rgb_image(8, 8), "BMP")
    started = time.perf_counter()
    with pytest.raises(InvalidImage) as excinfo:
        func(data)
    assert time.perf_counter() - started < 0.5
    if message:
        assert message in str(excinfo.value)


def test_too_large_message_names_dimensions():
    with pytest.raises(InvalidImage) as excinfo:
        inspect(png_header_only(30000, 30000))
    assert str(excinfo.value) == (
        "The image is too large: 30000x30000 pixels; the limit is 50 megapixels."
    )


@pytest.mark.parametrize("fmt", ["JPEG", "PNG"])
def test_truncated_files_refused(fmt):
    data = to_bytes(
        rgb_image(256, 192), fmt, **({"quality": 90} if fmt == "JPEG" else {})
    )
    cut = data[: len(data) // 2]
    with pytest.raises(InvalidImage, match="truncated or damaged"):
        inspect(cut)
    with pytest.raises(InvalidImage, match="truncated or damaged"):
        decode(cut)


def test_truncated_gif_refused():
    data = to_bytes(rgb_image(64, 64).quantize(256), "GIF")
    with pytest.raises(InvalidImage):
        decode(data[: len(data) // 2])


def test_inspect_does_not_change_global_pillow_state():
    before = Image.MAX_IMAGE_PIXELS
    import warnings

    filters = list(warnings.filters)
    with pytest.raises(InvalidImage):
        inspect(png_header_only(30000, 30000))
    decode(to_bytes(rgb_image(), "PNG"))
    assert Image.MAX_IMAGE_PIXELS == before
    assert list(warnings.filters) == filters
    from PIL import ImageFile

    assert ImageFile.LOAD_TRUNCATED_IMAGES is False


def test_inspect_formats():
    img = rgb_image()
    assert inspect(to_bytes(img, "JPEG")) == ImageInfo("JPEG", 64, 48)
    assert inspect(to_bytes(img, "PNG")) == ImageInfo("PNG", 64, 48)
    assert inspect(to_bytes(img, "WEBP")) == ImageInfo("WEBP", 64, 48)
    assert inspect(to_bytes(img.quantize(), "GIF")) == ImageInfo("GIF", 64, 48)


# --- encode -------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["jpeg", "JPEG", "png", "webp", "jpg"])
def test_encode_roundtrip_and_no_metadata(fmt):
    image = bgr_of(rgb_image())
    data = encode(image, fmt, quality=92)
    decoded = Image.open(io.BytesIO(data))
    expected_format = {"jpeg": "JPEG", "jpg": "JPEG", "png": "PNG", "webp": "WEBP"}[
        fmt.lower()
    ]
    assert decoded.format == expected_format
    assert decoded.size == (64, 48)
    assert not decoded.info.get("icc_profile")
    assert not decoded.info.get("exif")
    assert not decoded.info.get("xmp")
    assert len(decoded.getexif()) == 0
    for marker in (
        b"Exif\x00",
        b"ICC_PROFILE",
        b"iCCP",
        b"tEXt",
        b"zTXt",
        b"iTXt",
        b"XMP",
    ):
        assert marker not in data
    out = decode(data)
    if fmt.lower() == "png":
        np.testing.assert_array_equal(out, image)
    else:
        assert np.abs(out.astype(int) - image).mean() < 6


def test_encode_png_is_fast_and_lossless():
    image = np.random.default_rng(0).integers(0, 256, (1200, 1600, 3), dtype=np.uint8)
    # CPU time, not wall time: other test suites share this machine.
    started = time.process_time()
    data = encode(image, "png")
    assert time.process_time() - started < 1.0
    np.testing.assert_array_equal(decode(data), image)


@pytest.mark.parametrize(
    ("fmt", "quality"),
    [("gif", 90), ("tiff", 90), ("jpeg", 0), ("jpeg", 101), ("webp", 1.5)],
)
def test_encode_refuses(fmt, quality):
    with pytest.raises(ValueError):
        encode(np.zeros((4, 4, 3), np.uint8), fmt, quality)


# --- thumbnails -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("shape", "long_side", "expected"),
    [
        ((3000, 4000), 480, (360, 480)),
        ((4000, 3000), 480, (480, 360)),
        ((300, 4000), 480, (36, 480)),
        ((1, 4000), 480, (1, 480)),
        ((100, 200), 480, (100, 200)),
        ((1, 1), 480, (1, 1)),
    ],
)
def test_make_thumbnail(shape, long_side, expected):
    image = np.random.default_rng(1).integers(0, 256, (*shape, 3), dtype=np.uint8)
    before = image.copy()
    thumb = make_thumbnail(image, long_side)
    assert thumb.shape == (*expected, 3)
    assert thumb.dtype == np.uint8
    assert not np.shares_memory(thumb, image)
    np.testing.assert_array_equal(image, before)


# --- decode: bounded memory --------------------------------------------------


def flat_gray16_png(side: int) -> bytes:
    """A flat 16-bit gray PNG: a few hundred KB that declare side*side pixels."""
    return to_bytes(Image.new("I;16", (side, side), 40000), "PNG")


def test_decode_budget_refuses_from_the_header_without_decoding():
    data = flat_gray16_png(7000)
    assert len(data) < 200_000
    started = time.perf_counter()
    with pytest.raises(InvalidImage, match="too large to preview: 7000x7000"):
        decode(data, work_pixels=512 * 512, decode_pixels=4_000_000)
    assert time.perf_counter() - started < 0.5


def test_decode_budget_counts_jpeg_after_its_dct_downscale():
    data = to_bytes(rgb_image(4000, 3000), "JPEG")  # 12 MP, decoded at 1/4
    out = decode(data, work_pixels=512 * 512, decode_pixels=4_000_000)
    assert out.shape[0] * out.shape[1] <= 512 * 512
    png = to_bytes(rgb_image(2100, 2000), "PNG")  # 4.2 MP, no DCT to shrink
    with pytest.raises(InvalidImage, match="at most 4 megapixels"):
        decode(png, work_pixels=512 * 512, decode_pixels=4_000_000)


def test_decode_budget_counts_a_progressive_jpeg_at_full_size():
    # libjpeg holds all coefficients of a progressive JPEG, whatever the DCT
    # downscale: 4.8 MP progressive is over a 4 MP budget, baseline is not.
    image = rgb_image(2400, 2000)
    baseline = to_bytes(image, "JPEG")
    progressive = to_bytes(image, "JPEG", progressive=True)
    assert decode(baseline, work_pixels=512 * 512, decode_pixels=4_000_000).size
    with pytest.raises(InvalidImage, match="too large to preview: 2400x2000"):
        decode(progressive, work_pixels=512 * 512, decode_pixels=4_000_000)
    small = to_bytes(rgb_image(1200, 1000), "JPEG", progressive=True)
    out = decode(small, work_pixels=512 * 512, decode_pixels=4_000_000)
    assert out.shape[0] * out.shape[1] <= 512 * 512
    # Without a budget (the render job) a progressive JPEG decodes as before.
    assert decode(progressive, work_pixels=512 * 512).shape[:2] == (467, 560)


@pytest.mark.parametrize(
    ("mode", "fill"),
    [("I;16", 40000), ("I", 70000), ("F", 0.5), ("RGBA", (10, 200, 30, 128))],
)
def test_decode_has_no_wide_full_size_temporaries(mode, fill):
    import tracemalloc

    side = 2000
    image = Image.new(mode, (side, side), fill)
    data = to_bytes(image, "PNG") if mode in ("I;16", "RGBA") else None
    if data is None:  # no allowed format stores these modes any more
        from processing.codec import _to_bgr

        def run():
            return _to_bgr(image)
    else:

        def run():
            return decode(data)

    tracemalloc.start()
    try:
        out = run()
        _current, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert out.shape == (side, side, 3)
    # The output (3 bytes a pixel) plus strips of a few MB; an int64 or
    # float64 copy of the image alone would be 32 MB.
    assert peak < out.nbytes + 12 * 1024 * 1024, peak / 2**20


def test_inspect_of_a_jpeg_decodes_no_pixels(monkeypatch):
    from PIL import ImageFile

    data = to_bytes(rgb_image(4000, 3000), "JPEG", quality=90)

    def no_decode(self):
        raise AssertionError("inspect decoded pixels")

    monkeypatch.setattr(ImageFile.ImageFile, "load", no_decode)
    assert inspect(data) == ImageInfo("JPEG", 4000, 3000)
    for cut in (len(data) // 2, len(data) - 2):
        with pytest.raises(InvalidImage, match="truncated or damaged"):
            inspect(data[:cut])


def test_inspect_accepts_progressive_and_trailing_data_jpegs():
    progressive = to_bytes(rgb_image(300, 200), "JPEG", progressive=True)
    assert inspect(progressive).format == "JPEG"
    assert inspect(progressive + b"PK\x03\x04 trailing archive").format == "JPEG"
    with pytest.raises(InvalidImage, match="truncated or damaged"):
        inspect(progressive[: len(progressive) * 2 // 3])


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "WEBP", "GIF"])
def test_inspect_and_decode_leave_the_callers_stream_open(fmt):
    stream = io.BytesIO(to_bytes(rgb_image(), fmt))
    inspect(stream)
    assert not stream.closed and stream.tell() == 0
    decode(stream)
    assert not stream.closed and stream.tell() == 0
