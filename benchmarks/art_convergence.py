"""Loss against L-BFGS iterations at one size: pixels vs the multi-resolution parameterisation.

Single-scale ``stylize`` runs from the content image with the default weights, as the
reference of ``art_speed.py`` but with the default precision (bfloat16 encoder where the CPU
runs it natively). Prints the loss every 10 iterations and the final image's float32 score,
per pair and parameterisation.

    python benchmarks/art_convergence.py ../shared/data/dpst --pairs 3,14 --iterations 60
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import torch
from art_speed import SIZE, score

from restyle.artistic import stylize


def run(content: Path, style: Path, parameterization: str, iterations: int) -> dict[str, object]:
    """One single-scale run of ``stylize``, as the reference of ``art_speed.py`` but with the
    given parameterisation and iteration count."""
    t = time.perf_counter()
    result = stylize(
        content,
        style,
        size=SIZE,
        pyramid=False,
        iterations=iterations,
        parameterization=parameterization,
        seed=0,
        device="cpu",
    )
    seconds = time.perf_counter() - t
    curve = [r.losses["total"] for r in result.history]
    return {
        "pair": content.stem,
        "parameterization": parameterization,
        "seconds": seconds,
        "every_10": [round(v) for v in curve[9::10]],
        "final_score": score(result.image, content, style)["total"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("data", nargs="?", type=Path, default=Path("../shared/data/dpst"))
    parser.add_argument("--pairs", default="3,14")
    parser.add_argument("--iterations", type=int, default=60)
    parser.add_argument("--out", type=Path, default=Path("benchmarks/out/art_convergence.json"))
    args = parser.parse_args()
    torch.set_num_threads(2)
    rows = []
    for n in args.pairs.split(","):
        content, style = args.data / "input" / f"in{n}.png", args.data / "style" / f"tar{n}.png"
        for parameterization in ("pixels", "multires"):
            row = run(content, style, parameterization, args.iterations)
            rows.append(row)
            print(json.dumps(row), flush=True)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"date": time.strftime("%Y-%m-%d"), "command": " ".join(sys.argv), "rows": rows}))
    print(f"written {args.out}")


if __name__ == "__main__":
    main()
