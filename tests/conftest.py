"""Shared fixtures: small generated images, so no test needs files from outside the repo."""

from __future__ import annotations

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


def run(capsys, *argv):
    """``restyle ARGV`` in this process: (exit status, stdout, stderr)."""
    from restyle.cli import main

    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err
