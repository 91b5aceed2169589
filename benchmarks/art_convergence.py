"""Loss against L-BFGS iterations at one size: pixels vs the multi-resolution parameterisation.

Single scale, from the content image, the reference objective of ``art_speed.py`` (bfloat16
encoder where the CPU runs it natively), the same L-BFGS. Prints the loss every 10 iterations
and the final image's float32 score, per pair and parameterisation.

    python benchmarks/art_convergence.py ../shared/data/dpst --pairs 3,14 --iterations 60
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import torch
from art_speed import SIZE, reference_objective, score

from restyle.device import use_bf16
from restyle.image import load_image
from restyle.optim import optimize
from restyle.pyramid import LevelImage


def run(content: Path, style: Path, parameterization: str, iterations: int) -> dict[str, object]:
    c = load_image(content, size=SIZE)
    s = load_image(style, size=SIZE)
    objective = reference_objective(c, s, bf16=use_bf16("auto", torch.device("cpu")))
    t = time.perf_counter()
    if parameterization == "pixels":
        outcome = optimize(c, objective, iterations=iterations)
    else:
        render = LevelImage(c)
        outcome = optimize(render.zeros(), objective, iterations=iterations, render=render, bounds=None)
    seconds = time.perf_counter() - t
    curve = [r.losses["total"] for r in outcome.history]
    return {
        "pair": content.stem,
        "parameterization": parameterization,
        "seconds": seconds,
        "every_10": [round(v) for v in curve[9::10]],
        "final_score": score(outcome.image, content, style)["total"],
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
