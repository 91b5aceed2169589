"""Shared fixtures: small generated images, so no test needs files from outside the repo."""

from __future__ import annotations

import struct
import zlib

import numpy as np
import pytest
import torch
from PIL import Image

torch.set_num_threads(2)


@pytest.fixture(autouse=True)
def _seeded():
    """Every test starts from the same random state, so random inputs never make a test flaky."""
    torch.manual_seed(0)
    np.random.seed(0)


def smooth_image(height: int, width: int, seed: int = 0) -> np.ndarray:
    """A deterministic smooth colour image (uint8, H x W x 3) with a few edges."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width] / max(height, width)
    channels = []
    for c in range(3):
        a, b, ph = rng.uniform(2, 6, 3)
        channels.append(0.5 + 0.4 * np.sin(a * x * np.pi + ph) * np.cos(b * y * np.pi + c))
    img = np.stack(channels, axis=-1)
    img[height // 3 : height // 2, width // 4 : width // 2] = rng.uniform(0, 1, 3)
    return (np.clip(img, 0, 1) * 255).astype(np.uint8)


def stripes_image(height: int, width: int) -> np.ndarray:
    """A strongly textured style image: coloured diagonal stripes."""
    y, x = np.mgrid[0:height, 0:width]
    band = ((x + y) // 4) % 3
    palette = np.array([[220, 40, 30], [30, 60, 200], [240, 220, 40]], dtype=np.uint8)
    return palette[band]


@pytest.fixture
def content_png(tmp_path):
    path = tmp_path / "content.png"
    Image.fromarray(smooth_image(48, 64)).save(path)
    return path


@pytest.fixture
def style_png(tmp_path):
    path = tmp_path / "style.png"
    Image.fromarray(stripes_image(64, 64)).save(path)
    return path


def png_with_header(width: int, height: int) -> bytes:
    """A PNG whose header claims width x height, with a tiny (invalid) body: a 'bomb' header."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 64)) + chunk(b"IEND", b"")


def run(capsys, *argv):
    """``restyle ARGV`` in this process: (exit status, stdout, stderr)."""
    from restyle.cli import main

    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


#: Linear BT.709 RGB -> linear BT.2020 RGB, as ITU-R BT.2087 publishes it (rounded to 4 digits).
BT709_TO_BT2020 = np.array([[0.6274, 0.3293, 0.0433], [0.0691, 0.9195, 0.0114], [0.0164, 0.0880, 0.8956]])


def encode_hdr(sdr: np.ndarray, curve: str) -> np.ndarray:
    """An SDR BT.709 signal (gamma 2.4 display) as the HDR signal that shows it at the same light:
    SDR white at 203 cd/m², BT.2020 primaries, then PQ's inverse EOTF, or HLG's inverse OOTF
    (1000 cd/m² display, gamma 1.2) and OETF. Written out from BT.2100's equations, as the
    independent reference for :mod:`restyle.hdr`, which goes the other way."""
    light = 203.0 * (sdr.astype(np.float64) ** 2.4) @ BT709_TO_BT2020.T  # cd/m²
    if curve == "pq":
        y = (light / 10000.0) ** (2610 / 16384)
        return ((3424 / 4096 + 2413 / 128 * y) / (1 + 2392 / 128 * y)) ** (2523 / 32)
    display_luminance = light @ np.array([0.2627, 0.6780, 0.0593])
    scene_luminance = (display_luminance / 1000.0) ** (1 / 1.2)
    scene = light / (1000.0 * np.maximum(scene_luminance, 1e-12)[..., None] ** 0.2)
    a = 0.17883277
    b, c = 1 - 4 * a, 0.5 - a * np.log(4 * a)
    return np.where(scene <= 1 / 12, np.sqrt(3 * scene), a * np.log(np.maximum(12 * scene - b, 1e-12)) + c)


def video_range_codes(rgb: np.ndarray, weights: tuple[float, float], bits: int) -> bytes:
    """``(H, W, 3)`` RGB in [0, 1] as planar video-range YUV 4:4:4 codes (``yuv444p10le`` for 10
    bits), by ITU-T H.273's equations with ``weights`` (Kr, Kb): the tests' own encoder, so that a
    clip holds the codes a camera writes (ffmpeg's from 16-bit RGB are 0.4% high)."""
    kr, kb = weights
    r, g, b = np.moveaxis(rgb.astype(np.float64), -1, 0)
    y = kr * r + (1 - kr - kb) * g + kb * b
    step = 2 ** (bits - 8)
    planes = [(16 + 219 * y) * step, (128 + 112 * (b - y) / (1 - kb)) * step, (128 + 112 * (r - y) / (1 - kr)) * step]
    return np.round(np.stack(planes)).astype("<u2" if bits > 8 else np.uint8).tobytes()


def animated_gif(path, count=4, size=(40, 30), **save):
    """A GIF of ``count`` frames of noise (each its own palette) made by Pillow; ``save`` goes to
    ``Image.save`` (``duration`` in ms, per frame or for all; none: frames without timing)."""
    rng = np.random.default_rng(len(str(path)))
    frames = [Image.fromarray(rng.integers(0, 255, (size[1], size[0], 3), dtype=np.uint8)) for _ in range(count)]
    frames[0].save(path, save_all=True, append_images=frames[1:], **save)
    return path


def on_terminal(text: str) -> list[str]:
    """The non-blank lines a terminal shows for ``text``: each line as its last carriage return
    (a progress bar redrawing itself) leaves it."""
    lines = (line.rsplit("\r", 1)[-1] for line in text.split("\n"))
    return [line for line in lines if line.strip()]


def claim_in_another_process(folder, hold_for=0.0):
    """Run ``hold_folder(folder)`` in a child Python; returns the child and whether it got the folder
    (read from its first line of output). It holds the folder ``hold_for`` seconds, then exits."""
    import subprocess
    import sys

    code = (
        "import sys, time\n"
        "from restyle.files import hold_folder\n"
        f"release = hold_folder({str(folder)!r})\n"
        "print('held' if release else 'busy', flush=True)\n"
        f"time.sleep({hold_for})\n"
    )
    child = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    return child, child.stdout.readline().strip()
