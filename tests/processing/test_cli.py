"""The batch command line ``python -m processing``."""

from __future__ import annotations

import io
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from processing.__main__ import main

ROOT = Path(__file__).resolve().parents[2]


def write_photo(path: Path, size=(40, 30)) -> Path:
    rng = np.random.default_rng(0)
    arr = rng.integers(0, 256, (size[1], size[0], 3), dtype=np.uint8)
    Image.fromarray(arr).save(path)
    return path


def test_batch_converts_and_reports_bad_files(tmp_path, capsys):
    good1 = write_photo(tmp_path / "one.jpg")
    good2 = write_photo(tmp_path / "two.png")
    bad = tmp_path / "bad.jpg"
    bad.write_bytes(b"not an image")
    missing = tmp_path / "missing.png"
    out = tmp_path / "out" / "nested"
    code = main(
        [
            str(good1),
            str(bad),
            str(missing),
            str(good2),
            "--style",
            "pencil",
            "--param",
            "sigma_s=30",
            "--format",
            "png",
            "--out",
            str(out),
        ]
    )
    assert code == 1
    assert sorted(p.name for p in out.iterdir()) == ["one-pencil.png", "two-pencil.png"]
    err = capsys.readouterr().err
    assert "bad.jpg: This file is not a supported image" in err
    assert "missing.png" in err
    assert "2 of 4 converted" in err


def test_batch_all_ok_exit_zero(tmp_path):
    good = write_photo(tmp_path / "a.webp")
    code = main(
        [
            str(good),
            "--style",
            "oil",
            "--format",
            "webp",
            "--quality",
            "80",
            "--out",
            str(tmp_path),
        ]
    )
    assert code == 0
    data = (tmp_path / "a-oil.webp").read_bytes()
    assert Image.open(io.BytesIO(data)).format == "WEBP"


@pytest.mark.parametrize(
    "args",
    [
        ["--style", "nope"],
        ["--style", "oil", "--param", "size=99"],
        ["--style", "oil", "--param", "bogus"],
        ["--style", "oil", "--quality", "0"],
        ["--style", "oil", "--format", "gif"],
    ],
)
def test_usage_errors_exit_two(tmp_path, args):
    good = write_photo(tmp_path / "a.jpg")
    with pytest.raises(SystemExit) as excinfo:
        main([str(good), *args, "--out", str(tmp_path)])
    assert excinfo.value.code == 2


def test_module_entry_point(tmp_path):
    good = write_photo(tmp_path / "pic.jpg")
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "processing",
            str(good),
            "--style",
            "watercolor",
            "--out",
            str(tmp_path / "o"),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "o" / "pic-watercolor.jpg").exists()


def test_new_styles_and_bool_params(tmp_path):
    good = write_photo(tmp_path / "p.png", size=(64, 48))
    for style in ("impressionist", "pointillism", "ink_wash"):
        code = main(
            [
                str(good),
                "--style",
                style,
                "--param",
                "keep_colors=1",
                "--param",
                "strength=0.7",
                "--format",
                "png",
                "--out",
                str(tmp_path / "o"),
            ]
        )
        assert code == 0
        assert (tmp_path / "o" / f"p-{style}.png").exists()
    with pytest.raises(SystemExit) as excinfo:
        main([str(good), "--style", "cartoon", "--param", "keep_colors=maybe",
              "--out", str(tmp_path)])  # fmt: skip
    assert excinfo.value.code == 2


def test_module_entry_point_impressionist(tmp_path):
    good = write_photo(tmp_path / "pic.jpg", size=(80, 60))
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "processing",
            str(good),
            "--style",
            "impressionist",
            "--param",
            "keep_colors=1",
            "--param",
            "brush_size=8",
            "--out",
            str(tmp_path / "o"),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "o" / "pic-impressionist.jpg").exists()


def test_help_lists_every_style_and_bool_params():
    from processing.__main__ import build_parser

    epilog = build_parser().epilog
    for slug in ("impressionist", "pointillism", "ink_wash", "cartoon"):
        assert f"{slug}:" in epilog
    assert "keep_colors on/off" in epilog


def test_import_processing_pulls_in_no_django():
    code = (
        "import sys, processing, processing.__main__\n"
        "bad = sorted(m for m in sys.modules if m == 'django' or m.startswith('django.')"
        " or m.startswith('gallery') or m.startswith('artstudio_site'))\n"
        "print(','.join(bad))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == ""


def test_import_processing_does_not_load_numba():
    """Web processes (decode, inspect, STYLES) must not pay Numba's ~130 MB."""
    code = (
        "import sys, processing\n"
        "processing.decode(processing.encode(__import__('numpy').zeros((4, 4, 3),"
        " 'uint8'), 'png'))\n"
        "print('numba' in sys.modules)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "False"
