"""Automatic masks against DPST's hand-drawn masks.

For each pair of a folder in DPST's layout:
- agreement: adjusted Rand index of the automatic segmentation vs the hand masks, for the
  style (sub-styles), the content (its own regions) and the content as matched (each content
  pixel labelled with its sub-style), at the masks' size, pixels on anti-aliased borders left out;
- matching accuracy: the share of content pixels whose sub-style stands (covers mostly, in the
  style) for their own hand label (:func:`restyle.metrics.matching_accuracy`), and the same for
  the best matching of the same regions (each content region given the sub-style that suits
  most of its pixels), which separates matching errors from segmentation errors;
- time of :func:`restyle.automask.auto_masks` at ``--size`` (the target: <= 10 s at 700 px);
- end result: a photo preset with automatic masks, with the hand masks and with no masks, all
  scored with the hand masks by the four DPST-benchmark metrics (see benchmarks/dpst.py), as
  medians per condition and, for photorealism and structure, pair by pair against the hand masks.

    python benchmarks/automask.py ../shared/data/dpst --preset default --pairs 1-20

Rows are appended to ``OUT/rows.csv`` as each pair finishes, so a long run can be read early.
"""

from __future__ import annotations

import argparse
import csv
import statistics
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from dpst import METRIC_SIZE, score

from restyle.automask import auto_masks
from restyle.image import load_image, save_image
from restyle.masks import label_map, pair_masks, resize_labels
from restyle.matting import MattingLaplacian
from restyle.metrics import adjusted_rand_index, matching_accuracy
from restyle.photo import stylize_photo

CONDITIONS = ("auto", "hand", "none")


def _best_accuracy(regions: np.ndarray, style_sub: np.ndarray, hand_c: np.ndarray, hand_s: np.ndarray) -> float:
    """Matching accuracy of the best assignment of these content regions to these sub-styles:
    each region takes the sub-style that is right for most of its labelled pixels."""
    subs = np.unique(style_sub)
    best = np.zeros(int(regions.max()) + 1, dtype=int)
    for r in np.unique(regions):
        truth = np.where(regions == r, hand_c, -1)  # score region r's pixels only
        scores = [matching_accuracy(np.full_like(regions, s), style_sub, truth, hand_s) for s in subs]
        best[r] = subs[int(np.nanargmax(scores))] if not np.all(np.isnan(scores)) else 0
    return matching_accuracy(best[regions], style_sub, hand_c, hand_s)


def _pairs(text: str) -> list[int]:
    if "-" in text:
        lo, hi = map(int, text.split("-"))
        return list(range(lo, hi + 1))
    return [int(n) for n in text.split(",")]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("data", type=Path, nargs="?", default=Path("../shared/data/dpst"))
    parser.add_argument("--preset", default="default", help="photo preset for the end result ('' to skip it)")
    parser.add_argument("--size", type=int, default=700)
    parser.add_argument("--pairs", default="1-20")
    parser.add_argument("--out", type=Path, default=Path("benchmarks/out/automask"))
    args = parser.parse_args()
    torch.set_num_threads(2)
    args.out.mkdir(parents=True, exist_ok=True)
    rows_path = args.out / f"rows_{args.preset or 'masks'}.csv"
    fields = ["pair", "seconds", "ari_style", "ari_content", "ari_matched", "accuracy", "best_accuracy"]
    fields += ["substyles", "content_regions"]
    fields += [f"{c}_{m}" for c in CONDITIONS for m in ("style", "color", "photo", "structure", "seconds")]
    rows = []
    with open(rows_path, "w", newline="") as handle:
        csv.DictWriter(handle, fieldnames=fields).writeheader()
    for n in _pairs(args.pairs):
        d = args.data
        c_path, s_path = d / "input" / f"in{n}.png", d / "style" / f"tar{n}.png"
        cm_path, sm_path = d / "segmentation" / f"in{n}.png", d / "segmentation" / f"tar{n}.png"
        content, style = load_image(c_path, size=args.size), load_image(s_path, size=args.size)
        auto_masks(content[..., :64, :64], style[..., :64, :64])  # warm up the encoder outside the timing
        t = time.perf_counter()
        found = auto_masks(content, style)
        row: dict[str, object] = {"pair": n, "seconds": time.perf_counter() - t}
        hand_c, _ = label_map(cm_path, palette="dpst")
        hand_s, _ = label_map(sm_path, palette="dpst")
        # every label map at its hand mask's size
        style_sub = resize_labels(found.style.labels, tuple(hand_s.shape))
        regions = resize_labels(found.content.labels, tuple(hand_c.shape))
        matched = resize_labels(found.content_substyles, tuple(hand_c.shape))
        row["ari_style"] = adjusted_rand_index(style_sub, hand_s.numpy())
        row["ari_content"] = adjusted_rand_index(regions, hand_c.numpy())
        row["ari_matched"] = adjusted_rand_index(matched, hand_c.numpy())
        row["accuracy"] = matching_accuracy(matched, style_sub, hand_c.numpy(), hand_s.numpy())
        row["best_accuracy"] = _best_accuracy(regions, style_sub, hand_c.numpy(), hand_s.numpy())
        row["substyles"], row["content_regions"] = found.style.count, found.content.count
        found.save(args.out / f"masks_{n}")
        if args.preset:
            small_c, small_s = load_image(c_path, size=METRIC_SIZE), load_image(s_path, size=METRIC_SIZE)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                hand = pair_masks(cm_path, sm_path, small_c.shape, small_s.shape)
            laplacian = MattingLaplacian(small_c.double())
            options = {
                "auto": {"auto_masks": found},  # the masks scored above
                "hand": {"content_mask": str(cm_path), "style_mask": str(sm_path)},
                "none": {},
            }
            for condition, extra in options.items():
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    t = time.perf_counter()
                    result = stylize_photo(c_path, s_path, preset=args.preset, size=args.size, seed=0, **extra)
                    seconds = time.perf_counter() - t
                save_image(result.image, args.out / f"{args.preset}_{condition}_{n}.png", metadata=result.params)
                for k, v in score(result.image, small_c, small_s, hand, laplacian).items():
                    row[f"{condition}_{k}"] = v
                row[f"{condition}_seconds"] = seconds
        rows.append(row)
        with open(rows_path, "a", newline="") as handle:
            csv.DictWriter(handle, fieldnames=fields).writerow(row)
        print(", ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in row.items()), flush=True)
    report(rows, args)


def _paired(rows: list[dict[str, object]], metric: str, *, better: str) -> str:
    """Auto against hand pair by pair (the same photos): on how many pairs auto is better or
    worse, and the median per-pair ratio auto / hand. The medians above compare two
    distributions; this compares like with like."""
    pairs = [(float(r[f"auto_{metric}"]), float(r[f"hand_{metric}"])) for r in rows]
    lower = sum(a < h for a, h in pairs)
    higher = sum(a > h for a, h in pairs)
    wins, losses = (lower, higher) if better == "lower" else (higher, lower)
    ratios = [a / h for a, h in pairs if h != 0]
    ratio = statistics.median(ratios) if ratios else float("nan")
    return (
        f"Paired, {metric} ({better} is better): auto better than hand on {wins} pairs, worse on {losses}, "
        f"equal on {len(pairs) - wins - losses}; median per-pair ratio auto / hand {ratio:.3f}."
    )


def report(rows: list[dict[str, object]], args: argparse.Namespace) -> None:
    def med(key: str) -> float:
        return statistics.median(float(r[key]) for r in rows)

    def mean(key: str) -> float:
        return statistics.fmean(float(r[key]) for r in rows)

    lines = [
        f"Command: `{' '.join(sys.argv)}` ({time.strftime('%Y-%m-%d')}); {len(rows)} pairs, masks found at "
        f"{args.size} px. Medians:",
        "",
        "| ARI style | ARI content | ARI content matched | matching accuracy (mean) | best matching of "
        "these regions (mean) | auto-mask seconds (max) |",
        "|---|---|---|---|---|---|",
        f"| {med('ari_style'):.3f} | {med('ari_content'):.3f} | {med('ari_matched'):.3f} | "
        f"{med('accuracy'):.3f} ({mean('accuracy'):.3f}) | {med('best_accuracy'):.3f} ({mean('best_accuracy'):.3f}) | "
        f"{med('seconds'):.2f} ({max(float(r['seconds']) for r in rows):.2f}) |",
    ]
    if args.preset:
        lines += [
            "",
            f"End result, preset `{args.preset}`, scored with the hand masks at {METRIC_SIZE} px, medians (means):",
            "",
            "| masks | style (lower) | colour (lower) | photorealism (lower) | structure (higher) | seconds |",
            "|---|---|---|---|---|---|",
        ]
        for c in CONDITIONS:
            cells = [
                f"{med(f'{c}_{key}'):{spec}} ({mean(f'{c}_{key}'):{spec}})"
                for key, spec in (("style", ".4f"), ("color", ".3f"), ("photo", ".3g"), ("structure", ".4f"))
            ]
            lines.append(f"| {c} | {' | '.join(cells)} | {med(f'{c}_seconds'):.1f} |")
        gap = med("none_style") - med("hand_style")
        closed = (med("none_style") - med("auto_style")) / gap if gap else float("nan")
        lines += [
            "",
            f"Gram gap closed by auto masks (median none - auto) / (none - hand): {closed:.2f} (target >= 0.5); "
            f"photorealism auto {'<=' if med('auto_photo') <= med('hand_photo') else '>'} hand; "
            f"structure auto {'>=' if med('auto_structure') >= med('hand_structure') else '<'} hand.",
            "",
            _paired(rows, "photo", better="lower"),
            _paired(rows, "structure", better="higher"),
        ]
    text = "\n".join(lines) + "\n"
    (args.out / f"results_{args.preset or 'masks'}.md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()
