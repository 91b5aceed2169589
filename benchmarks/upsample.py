"""Full-resolution photo results: guided upsampling against plain upsampling.

``restyle photo --full-resolution`` works at ``--size`` and carries the result up to the
photo's own size with :func:`restyle.smoothing.guided_upsample`. How much of the full-size
result does that recover? DPST's published results (700 px) are the truth: each is shrunk by a
factor (area averaging), carried back up to 700 px by bicubic resizing and by guided upsampling
guided by the 700-px content photo, and compared with the published result (PSNR in dB over
RGB in [0, 1], and SSIM on the luminance). Also times carrying a 700-px result up to a 24 MP
photo (6000 x 4000), and its peak memory.

    python benchmarks/upsample.py ../shared/data/dpst --factors 2,4
"""

from __future__ import annotations

import argparse
import math
import resource
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from skimage.metrics import structural_similarity

from restyle.color import luminance
from restyle.image import load_image, resize
from restyle.smoothing import guided_upsample

#: (radius, eps) settings of guided_upsample to compare; the first is the library's default.
SETTINGS = ((1, 1e-5), (2, 1e-5), (1, 1e-4), (1, 1e-6))


def psnr(a: torch.Tensor, b: torch.Tensor) -> float:
    mse = float(((a.clamp(0, 1) - b) ** 2).mean())
    return 10 * math.log10(1 / mse)


def ssim(a: torch.Tensor, b: torch.Tensor) -> float:
    y = [luminance(x.clamp(0, 1))[0, 0].numpy() for x in (a, b)]
    return float(structural_similarity(y[0], y[1], data_range=1.0))


def score_pairs(folder: Path, factors: list[int]) -> list[str]:
    rows: dict[str, list[tuple[float, float]]] = {}
    pairs = sorted((folder / "published").glob("final*.png"), key=lambda p: int(p.stem[5:]))
    for final_path in pairs:
        n = final_path.stem[5:]
        final = load_image(final_path)
        content = resize(load_image(folder / "input" / f"in{n}.png"), *final.shape[-2:])
        height, width = final.shape[-2:]
        for factor in factors:
            shape = (round(height / factor), round(width / factor))
            small = F.interpolate(final, size=shape, mode="area")
            small_content = F.interpolate(content, size=shape, mode="area")
            rows.setdefault(f"{factor} | bicubic", []).append(
                (psnr(resize(small, height, width), final), ssim(resize(small, height, width), final))
            )
            for radius, eps in SETTINGS:
                up = guided_upsample(small, small_content, content, radius=radius, eps=eps)
                rows.setdefault(f"{factor} | guided r={radius} eps={eps:g}", []).append(
                    (psnr(up, final), ssim(up, final))
                )
        print(f"pair {n} done", file=sys.stderr, flush=True)
    lines = [
        f"{len(pairs)} pairs; medians (worst pair in brackets)",
        "",
        "| factor | method | PSNR dB | SSIM (luminance) |",
        "|---|---|---|---|",
    ]
    for key, values in rows.items():
        p = [v[0] for v in values]
        s = [v[1] for v in values]
        lines.append(
            f"| {key} | {statistics.median(p):.2f} ({min(p):.2f}) | {statistics.median(s):.4f} ({min(s):.4f}) |"
        )
    return lines


def time_large() -> list[str]:
    torch.manual_seed(0)
    full = torch.rand(1, 3, 4000, 6000)
    small_content = F.interpolate(full, size=(467, 700), mode="area")
    result = small_content.flip(1)  # any 700-px result
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
    started = time.perf_counter()
    guided_upsample(result, small_content, full)
    seconds = time.perf_counter() - started
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
    return [
        f"700 px -> 6000 x 4000 (24 MP): {seconds:.1f} s; peak RSS {peak:.2f} GiB "
        f"(the 24 MP input alone is {full.numel() * 4 / 2**30:.2f} GiB; peak before the call {before:.2f} GiB)"
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", type=Path, help="a folder in DPST's layout (with published/)")
    parser.add_argument("--factors", default="2,4", help="shrink factors, comma-separated")
    args = parser.parse_args()
    torch.set_num_threads(2)
    lines = score_pairs(args.folder, [int(f) for f in args.factors.split(",")])
    lines += ["", *time_large()]
    print("\n".join(lines))


if __name__ == "__main__":
    np.seterr(all="ignore")
    main()
