"""Temporal consistency of ``restyle video`` against independent per-frame stylisation.

For each mode, the clip's first ``--frames`` frames at ``--size`` long side are stylised twice:
by restyle video (temporal loss, warped initialisation) and by the per-frame baseline
(``temporal_weight=0``: every frame from scratch, same settings). With ``--baseline-pairs N``
the baseline stylises only N evenly spread pairs of neighbouring frames (its temporal error is
then the mean over those pairs, its style loss the median over those frames): in art mode a
frame from scratch takes about 2 min here, so all 60 would take 2 hours. Reported per run:
- temporal error: mean over frame pairs of ``mean(c * (s_t - warp(s_{t-1}))^2)``, flow and
  certainty from the original frames (Ruder et al.'s metric; colours in [0, 1]);
- style loss per frame: the Gram distance of :func:`restyle.metrics.style_distance` (one region);
  the ratio compares the two runs on the frames the baseline stylised;
- seconds per frame after the first, and for the first.

    python benchmarks/video.py ../shared/data/video/cockatoo.mp4 --frames 60 --modes photo
    python benchmarks/video.py ../shared/data/video/cockatoo.mp4 --frames 60 --modes art --baseline-pairs 6
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch

from restyle.clip import frame_shape, probe, read_frames
from restyle.image import load_image
from restyle.masks import MaskPair
from restyle.metrics import style_distance, temporal_error
from restyle.video import stylize_video

STYLES = {"art": "sample:chelsea", "photo": "sample:coffee"}


def _load(folder: Path) -> list[torch.Tensor]:
    return [load_image(p) for p in sorted(folder.glob("*.png"))]


def _spans(frames: int, pairs: int) -> list[tuple[int, int]]:
    """Frame ranges to stylise: the whole clip, or ``pairs`` evenly spread neighbouring pairs."""
    if pairs <= 0 or 2 * pairs >= frames:
        return [(0, frames)]
    starts = np.linspace(0, frames - 2, pairs).round().astype(int)
    return [(int(t), int(t) + 2) for t in starts]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("video", type=Path, nargs="?", default=Path("../shared/data/video/cockatoo.mp4"))
    parser.add_argument("--frames", type=int, default=60)
    parser.add_argument("--size", type=int, default=640, help="long side (640: 640x360 for 16:9)")
    parser.add_argument("--modes", default="photo,art")
    parser.add_argument("--style", default=None, help="style image (default: a built-in sample per mode)")
    parser.add_argument(
        "--baseline-pairs",
        type=int,
        default=0,
        help="stylise only this many pairs of neighbouring frames, evenly spread, for the per-frame "
        "baseline (0: every frame)",
    )
    parser.add_argument("--out", type=Path, default=Path("benchmarks/out/video"))
    args = parser.parse_args()
    torch.set_num_threads(2)
    args.out.mkdir(parents=True, exist_ok=True)
    info = probe(args.video)
    shape = frame_shape(info, args.size)
    contents = [
        torch.from_numpy(f).permute(2, 0, 1)[None].float() / 255
        for f in read_frames(info, shape=shape, end=args.frames)
    ]
    lines = [
        f"Command: `{' '.join(sys.argv)}` ({time.strftime('%Y-%m-%d')}); {len(contents)} frames of "
        f"{args.video.name} at {shape[1]}x{shape[0]}.",
        "",
        "| mode | run | temporal error (mean) | style loss per frame (median) | s/frame after the first "
        "| first frame s |",
        "|---|---|---|---|---|---|",
    ]
    summary = {}
    for mode in args.modes.split(","):
        style_spec = args.style or STYLES[mode]
        style = load_image(style_spec, size=args.size)
        for run, weight in (("restyle", None), ("per-frame", 0.0)):
            spans = _spans(len(contents), args.baseline_pairs if run == "per-frame" else 0)
            times: list[float] = []  # seconds of every frame but the first of each span
            firsts: list[float] = []
            errors: list[float] = []
            styles: dict[int, float] = {}  # frame index -> style loss
            for start, end in spans:
                folder = args.out / f"{mode}_{run}" / f"{start:06d}"
                work = args.out / f"{mode}_{run}.work" / f"{start:06d}"
                for stale in (folder, work):  # time every frame afresh
                    shutil.rmtree(stale, ignore_errors=True)
                folder.parent.mkdir(parents=True, exist_ok=True)
                work.parent.mkdir(parents=True, exist_ok=True)
                ticks: list[float] = []
                stamp = [time.perf_counter()]

                def tick(progress, ticks=ticks, stamp=stamp) -> None:
                    now = time.perf_counter()
                    ticks.append(now - stamp[0])
                    stamp[0] = now

                stylize_video(
                    args.video,
                    style_spec,
                    output=folder,
                    mode=mode,
                    preset="fast",
                    size=args.size,
                    frames=f"{start}:{end}",
                    temporal_weight=weight,
                    work_dir=str(work),
                    callback=tick,
                )
                firsts.append(ticks[0])
                times += ticks[1:]
                stylised = _load(folder)
                errors += temporal_error(contents[start:end], stylised)
                whole = MaskPair.whole(stylised[0].shape, style.shape)
                styles.update({start + i: style_distance(s, style, whole) for i, s in enumerate(stylised)})
            later = times or [float("nan")]
            row = {
                "temporal": float(np.mean(errors)),
                "style": statistics.median(styles.values()),
                "styles": styles,
                "later": statistics.median(later),
                "first": statistics.median(firsts),
            }
            summary[(mode, run)] = row
            lines.append(
                f"| {mode} | {run} | {row['temporal']:.3g} | {row['style']:.4f} | {row['later']:.2f} | {row['first']:.1f} |"
            )
            print(lines[-1], flush=True)
    lines.append("")
    for mode in args.modes.split(","):
        ours, base = summary[(mode, "restyle")], summary[(mode, "per-frame")]
        # style losses compared on the frames both runs stylised (the baseline may be sampled)
        same = statistics.median(ours["styles"][t] for t in base["styles"])
        lines.append(
            f"{mode}: temporal error ratio restyle/per-frame {ours['temporal'] / base['temporal']:.3f} (target <= 0.25); "
            f"style loss ratio on the baseline's {len(base['styles'])} frames {same / base['style']:.3f} "
            f"(restyle {same:.4f}; target <= 1.10); {ours['later']:.2f} s per frame after the first."
        )
    text = "\n".join(lines) + "\n"
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / f"results_{args.modes.replace(',', '_')}.md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()
