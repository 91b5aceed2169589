"""Artistic transfer: default settings vs the single-scale reference, side by side in one run.

Reference (issue 2): single-scale L-BFGS on the pixels at 512 px long side, 300 iterations from
the content image, float32, content relu4_2, style relu1_1..relu5_1, the default weights. Ours:
the default settings of ``restyle.stylize``. Both results are scored with the same float32
objective at 512 px (content + style + TV with the reference's weights), so the comparison is
the loss each reaches and the time each took. A third row runs the earlier default (a
256 -> 512 px pyramid with the pixels as parameters, 50 + 60 iterations) to show what the
multi-resolution parameterisation buys. Also reports seconds per iteration at several sizes, with and without
channels_last and bfloat16 autocast, and peak memory.

    python benchmarks/art_speed.py ../shared/data/dpst --pairs 3,8,14
    python benchmarks/art_speed.py --timing-only
    python benchmarks/art_speed.py ../shared/data/dpst --no-timing
    python benchmarks/art_speed.py ../shared/data/dpst --no-timing --iterations 80,100,120

``--iterations`` also runs the default with other full-size iteration counts (after the
default, in the same process), to show how loss and time trade on this machine.
"""

from __future__ import annotations

import argparse
import json
import platform
import resource
import sys
import time
from pathlib import Path

import torch

from restyle.allocator import keep_freed_memory
from restyle.artistic import CONTENT_LAYERS, STYLE_LAYERS, stylize
from restyle.image import load_image, resize
from restyle.objective import Objective
from restyle.optim import optimize

SIZE = 512


def reference_objective(content: torch.Tensor, style: torch.Tensor, **options: bool) -> Objective:
    """The reference's loss (weights 5 / 100 / 1e-3, relu4_2 and relu1_1..relu5_1) at the given size."""
    return Objective(
        content,
        [style],
        blend=[1.0],
        content_weight=5.0,
        style_weight=100.0,
        tv_weight=1e-3,
        content_layers=CONTENT_LAYERS,
        style_layers=STYLE_LAYERS,
        style_layer_weights=[1.0] * 5,
        **options,
    )


def score(image: torch.Tensor, content: Path, style: Path) -> dict[str, float]:
    """The reference's objective at 512 px, float32, for a finished image."""
    c = load_image(content, size=SIZE)
    s = load_image(style, size=SIZE)
    obj = reference_objective(c, s)
    with torch.no_grad():
        total, parts = obj(resize(image, *c.shape[-2:]))
    return {"total": float(total), **{k: float(v) for k, v in parts.items()}}


def peak_rss_gib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20


def cpu_description() -> str:
    """The CPU's model name and its bfloat16 instruction sets, as the kernel reports them: the
    time ratio depends on them (AMX runs the bfloat16 encoder several times faster than float32)."""
    try:
        info = Path("/proc/cpuinfo").read_text()
    except OSError:
        return platform.processor() or "unknown"
    model = next((line.split(":", 1)[1].strip() for line in info.splitlines() if line.startswith("model name")), "")
    flags = next((line.split(":", 1)[1].split() for line in info.splitlines() if line.startswith("flags")), [])
    bf16 = [flag for flag in ("avx512_bf16", "amx_bf16") if flag in flags]
    return f"{model} ({', '.join(bf16) or 'no bfloat16 instructions'})"


def timed_run(content: Path, style: Path, **options: object) -> tuple[float, dict[str, float]]:
    """Seconds of ``stylize(content, style, size=512, seed=0, device="cpu", **options)`` and
    the score of its result (the scoring is not timed)."""
    t = time.perf_counter()
    result = stylize(content, style, size=SIZE, seed=0, device="cpu", **options)
    seconds = time.perf_counter() - t
    return seconds, score(result.image, content, style)


def run_pair(content: Path, style: Path, reference_iterations: int, sweep: tuple[int, ...] = ()) -> dict[str, object]:
    row: dict[str, object] = {"pair": content.stem}
    row["reference_s"], row["reference_loss"] = timed_run(
        content,
        style,
        pyramid=False,
        iterations=reference_iterations,
        parameterization="pixels",
        precision="float32",
        channels_last=False,  # the reference as first measured (float32 is as fast either way)
    )
    reference_s, reference_total = row["reference_s"], row["reference_loss"]["total"]
    row["ours_s"], row["ours_loss"] = timed_run(content, style)
    row["time_ratio"] = reference_s / row["ours_s"]
    row["loss_ratio"] = row["ours_loss"]["total"] / reference_total
    # The default of 2026-11-22 morning: pyramid 256 -> 512 px, pixels as the parameters.
    row["pixels_s"], row["pixels_loss"] = timed_run(
        content, style, parameterization="pixels", iterations=60, coarse_iterations=50, min_size=256
    )
    row["sweep"] = []
    for iterations in sweep:
        seconds, loss = timed_run(content, style, iterations=iterations)
        row["sweep"].append(
            {
                "iterations": iterations,
                "s": seconds,
                "loss": loss,
                "time_ratio": reference_s / seconds,
                "loss_ratio": loss["total"] / reference_total,
            }
        )
    return row


def seconds_per_iteration(long_side: int, *, bf16: bool, channels_last: bool, n: int = 4) -> float:
    content = load_image("sample:astronaut", size=long_side)
    style = load_image("sample:ihc", size=long_side)
    obj = reference_objective(content, style, bf16=bf16, channels_last=channels_last)
    optimize(content, obj, iterations=1)  # warm-up (per pixel iteration; a multires one costs the same)
    t = time.perf_counter()
    optimize(content, obj, iterations=n)
    return (time.perf_counter() - t) / n


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("data", nargs="?", type=Path, default=Path("../shared/data/dpst"))
    parser.add_argument("--pairs", default="3,8,14")
    parser.add_argument("--reference-iterations", type=int, default=300)
    parser.add_argument("--timing-only", action="store_true")
    parser.add_argument("--no-timing", action="store_true", help="skip the seconds-per-iteration table")
    parser.add_argument(
        "--iterations", default="", help="also run the default with these full-size iteration counts, e.g. 80,100"
    )
    parser.add_argument("--out", type=Path, default=Path("benchmarks/out/art_speed.json"))
    args = parser.parse_args()
    torch.set_num_threads(2)
    report: dict[str, object] = {
        "date": time.strftime("%Y-%m-%d"),
        "command": " ".join(sys.argv),
        "cpu": cpu_description(),
        # As every CPU run does (restyle.device.runtime); applied here first so that the
        # seconds-per-iteration table, which calls the objective directly, runs under it too.
        "keep_freed_memory": keep_freed_memory(),
    }
    print(report["cpu"], f"keep_freed_memory={report['keep_freed_memory']}", flush=True)
    sweep = tuple(int(n) for n in args.iterations.split(",") if n.strip())

    timing = []
    for long_side in () if args.no_timing else (256, 512, 1024):
        for bf16 in (False, True):
            for channels_last in (False, True):
                spi = seconds_per_iteration(long_side, bf16=bf16, channels_last=channels_last)
                timing.append({"size": long_side, "bf16": bf16, "channels_last": channels_last, "s_per_it": spi})
                print(f"{long_side:5d}px bf16={bf16!s:5} channels_last={channels_last!s:5} {spi:6.3f} s/it", flush=True)
    report["timing"] = timing

    if not args.timing_only:
        rows = []
        for n in args.pairs.split(","):
            content, style = args.data / "input" / f"in{n}.png", args.data / "style" / f"tar{n}.png"
            row = run_pair(content, style, args.reference_iterations, sweep)
            rows.append(row)
            print(json.dumps(row), flush=True)
        report["pairs"] = rows
    report["peak_rss_gib"] = peak_rss_gib()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=1))
    print(f"peak RSS {report['peak_rss_gib']:.2f} GiB; written {args.out}")


if __name__ == "__main__":
    main()
