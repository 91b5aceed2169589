"""Speed of DPST's local affine smoothing (``restyle smooth --method affine``, and the ``dpst``
photo preset's post-process): its bilateral filter in bands of rows against the whole image at
once, side by side in one run, with the largest difference between the two results.

The image smoothed is the pair's style photo brought to the content's size, guided by the
content photo: the filter's cost depends on the sizes, not on what the pixels show.

    python benchmarks/smoothing_speed.py ../shared/data/dpst
    python benchmarks/smoothing_speed.py ../shared/data/dpst --pair 8 --sizes 700,2800
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import torch

from restyle import smoothing
from restyle.image import load_image, resize


def timed_affine(image: torch.Tensor, content: torch.Tensor, band: int) -> tuple[float, torch.Tensor]:
    """Seconds of one ``local_affine_smoothing`` with the bilateral filter's band set to ``band``."""
    default = smoothing.BILATERAL_BAND
    smoothing.BILATERAL_BAND = band
    try:
        start = time.perf_counter()
        out = smoothing.local_affine_smoothing(image, content)
        return time.perf_counter() - start, out
    finally:
        smoothing.BILATERAL_BAND = default


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data", type=Path, help="the DPST examples folder (input/, style/)")
    parser.add_argument("--pair", type=int, default=8)
    parser.add_argument("--sizes", default="700,2800", help="long sides to time, comma-separated")
    args = parser.parse_args()
    torch.manual_seed(0)
    content_full = load_image(args.data / "input" / f"in{args.pair}.png")
    style_full = load_image(args.data / "style" / f"tar{args.pair}.png")
    print("| long side | image | whole image s | bands s | speed-up | largest difference |")
    print("|---|---|---|---|---|---|")
    for size in (int(s) for s in args.sizes.split(",")):
        height = round(content_full.shape[-2] * size / content_full.shape[-1])
        content = resize(content_full, height, size)
        image = resize(style_full, height, size)
        timed_affine(image[..., :64, :64], content[..., :64, :64], smoothing.BILATERAL_BAND)  # warm-up
        whole_s, whole = timed_affine(image, content, band=height)  # one band: the filter as it was
        bands_s, banded = timed_affine(image, content, band=smoothing.BILATERAL_BAND)
        difference = float((whole - banded).abs().max())
        print(
            f"| {size} | {size} x {height} | {whole_s:.1f} | {bands_s:.1f} | {whole_s / bands_s:.2f} | {difference:.1e} |",
            flush=True,
        )


if __name__ == "__main__":
    main()
