"""Speed of the matrix-free matting Laplacian, and of the ``fast`` photo preset.

- one 3-channel product ``L p`` at 700 x 467 (target <= 50 ms on 2 cores), float32 and float64,
  against the explicit scipy.sparse matrix product (and the time to build that matrix);
- the agreement of the two (relative error, float64);
- the ``fast`` photo preset at 700 px long side on a DPST pair (target <= 3 s).

    python benchmarks/matting_speed.py ../shared/data/dpst
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import numpy as np
import torch

from restyle.image import load_image
from restyle.matting import MattingLaplacian, matting_laplacian_sparse
from restyle.photo import stylize_photo


def timed(fn, repeats: int = 10) -> float:
    fn()
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("data", type=Path, nargs="?", default=Path("../shared/data/dpst"))
    parser.add_argument("--pair", type=int, default=3)
    args = parser.parse_args()
    torch.set_num_threads(2)
    content = load_image(args.data / "input" / f"in{args.pair}.png", size=700)
    h, w = content.shape[-2:]
    print(f"content {w}x{h}, torch threads {torch.get_num_threads()}")
    p64 = torch.rand(1, 3, h, w, dtype=torch.float64)
    for dtype in (torch.float32, torch.float64):
        t = time.perf_counter()
        lap = MattingLaplacian(content.to(dtype), dtype=dtype)
        setup = time.perf_counter() - t
        p = p64.to(dtype)
        product = timed(lambda lap=lap, p=p: lap.matvec(p))
        print(f"matrix-free {dtype!s:14s} setup {setup * 1e3:7.1f} ms, product {product * 1e3:6.1f} ms")
    t = time.perf_counter()
    sparse = matting_laplacian_sparse(content.double())
    build = time.perf_counter() - t
    flat = p64[0].reshape(3, -1).numpy()
    sparse_product = timed(lambda: [sparse @ flat[c] for c in range(3)], repeats=3)
    ref = np.stack([sparse @ flat[c] for c in range(3)])
    ours = MattingLaplacian(content.double()).matvec(p64)[0].reshape(3, -1).numpy()
    rel = np.linalg.norm(ours - ref) / np.linalg.norm(ref)
    print(f"scipy.sparse: build {build:.2f} s, product {sparse_product * 1e3:.1f} ms; relative difference {rel:.2e}")
    style = args.data / "style" / f"tar{args.pair}.png"
    fast = timed(lambda: stylize_photo(content, style, preset="fast", size=700, device="cpu"), repeats=3)
    print(f"fast preset at 700 px (no masks): {fast:.2f} s")
    cm, sm = args.data / "segmentation" / f"in{args.pair}.png", args.data / "segmentation" / f"tar{args.pair}.png"
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fast_masks = timed(
            lambda: stylize_photo(
                args.data / "input" / f"in{args.pair}.png",
                style,
                content_mask=str(cm),
                style_mask=str(sm),
                preset="fast",
                size=700,
                device="cpu",
            ),
            repeats=3,
        )
    print(f"fast preset at 700 px (with masks, from files): {fast_masks:.2f} s")


if __name__ == "__main__":
    main()
