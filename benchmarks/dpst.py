"""Photorealistic transfer against the published Deep Photo Style Transfer results.

Runs restyle's photo presets on a folder in DPST's layout (input/inN.png, style/tarN.png,
segmentation/inN.png + tarN.png, published/finalN.png + stage1_N.png) and scores every method
the same way at 512 px long side with the four metrics of :mod:`restyle.metrics`, using the
hand-drawn masks. Rows: each preset, DPST's published final and stage-1 results, and the
closed-form colour-transfer baseline. Writes CSV, Markdown and an HTML page of image grids.

    python benchmarks/dpst.py ../shared/data/dpst --presets default,fast --size 700

Each pair's rows are also written to RECORDS/rows_N.json (``--records``, default OUT) as soon as
the pair is done; ``--resume`` takes them from there instead of running the pair again (same
presets, size, seed and preset settings; each record also names the commit that made it), so that a
long run (the ``dpst`` preset takes about 40 min per pair on 2 quiet CPU cores) can be done in
parts. OUT is not committed; the ``dpst`` row keeps its records in the committed
``benchmarks/records/dpst_preset`` so that it can be built over several sessions:

    python benchmarks/dpst.py ../shared/data/dpst --presets dpst --pairs 2 --resume \
        --out benchmarks/out/dpst_preset --records benchmarks/records/dpst_preset

``--seed`` (default 0) reruns with another seed, into other records, to measure how far results
move from run to run (the ``dpst`` preset starts from noise).
"""

from __future__ import annotations

import argparse
import csv
import html
import json
import statistics
import subprocess
import sys
import threading
import time
import warnings
from pathlib import Path

import torch

from restyle.files import atomic_write
from restyle.image import load_image, resize, save_image
from restyle.masks import pair_masks
from restyle.matting import MattingLaplacian
from restyle.metrics import color_distance, photorealism_energy, structure_similarity, style_distance
from restyle.photo import PRESETS, segment_color_transfer, stylize_photo

METRIC_SIZE = 512
METRICS = ("style", "color", "photo", "structure")
LOWER_IS_BETTER = {"style": True, "color": True, "photo": True, "structure": False}


class PeakMemory:
    """Peak resident memory of this process while the context is open (sampled every 20 ms)."""

    def __enter__(self) -> PeakMemory:
        self.peak = self._rss()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        while not self._stop.wait(0.02):
            self.peak = max(self.peak, self._rss())

    @staticmethod
    def _rss() -> int:
        with open("/proc/self/statm") as handle:
            return int(handle.read().split()[1]) * 4096


def score(output: torch.Tensor, content: torch.Tensor, style: torch.Tensor, masks, laplacian) -> dict[str, float]:
    output = resize(output, *content.shape[-2:])
    return {
        "style": style_distance(output, style, masks),
        "color": color_distance(output, style, masks),
        "photo": photorealism_energy(output, content, laplacian),
        "structure": structure_similarity(output, content),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("data", type=Path, nargs="?", default=Path("../shared/data/dpst"))
    parser.add_argument("--presets", default="default,fast")
    parser.add_argument("--size", type=int, default=700, help="long side the presets run at")
    parser.add_argument(
        "--full-resolution",
        action="store_true",
        help="carry each result up to the photo's own size (stylize_photo(full_resolution=True))",
    )
    parser.add_argument(
        "--dequantise",
        action=argparse.BooleanOptionalAction,
        help="smooth the photos' 8-bit steps first, or not, in every preset (default: each preset's own)",
    )
    parser.add_argument("--pairs", default="1-20", help="e.g. 1-20 or 3,8,14")
    parser.add_argument("--out", type=Path, default=Path("benchmarks/out/dpst"))
    parser.add_argument("--records", type=Path, help="where each finished pair's rows are kept (default: --out)")
    parser.add_argument("--resume", action="store_true", help="reuse the pairs already done in --records")
    parser.add_argument(
        "--seed", type=int, default=0, help="the presets' seed (a second seed measures run-to-run spread)"
    )
    args = parser.parse_args()
    torch.set_num_threads(2)
    if "-" in args.pairs:
        lo, hi = map(int, args.pairs.split("-"))
        pairs = list(range(lo, hi + 1))
    else:
        pairs = [int(n) for n in args.pairs.split(",")]
    presets = args.presets.split(",")
    commit = _commit()  # the code that runs (read now: the tree may change during a long run)
    records = args.records or args.out
    for folder in {args.out, records}:
        folder.mkdir(parents=True, exist_ok=True)
    rows: list[dict[str, object]] = []
    for n in pairs:
        done = _done_rows(records / f"rows_{n}.json", presets, args) if args.resume else None
        if done is not None:
            rows += done
            print(f"pair {n}: taken from {records / f'rows_{n}.json'}", flush=True)
            continue
        d = args.data
        paths = {
            "content": d / "input" / f"in{n}.png",
            "style": d / "style" / f"tar{n}.png",
            "cmask": d / "segmentation" / f"in{n}.png",
            "smask": d / "segmentation" / f"tar{n}.png",
        }
        content = load_image(paths["content"], size=METRIC_SIZE)
        style = load_image(paths["style"], size=METRIC_SIZE)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            masks = pair_masks(paths["cmask"], paths["smask"], content.shape, style.shape)
        laplacian = MattingLaplacian(content.double())
        outputs: dict[str, torch.Tensor] = {}
        timing: dict[str, tuple[float, float]] = {}
        for preset in presets:
            with PeakMemory() as mem, warnings.catch_warnings():
                warnings.simplefilter("ignore")
                t = time.perf_counter()
                result = stylize_photo(
                    paths["content"],
                    paths["style"],
                    content_mask=str(paths["cmask"]),
                    style_mask=str(paths["smask"]),
                    preset=preset,
                    size=args.size,
                    full_resolution=args.full_resolution,
                    dequantise=args.dequantise,
                    seed=args.seed,
                )
                timing[preset] = (time.perf_counter() - t, mem.peak / 2**30)
            outputs[preset] = result.image
            save_image(result.image, args.out / f"{preset}_{n}.png", metadata=result.params)
            if result.unsmoothed is not None:  # kept so that another post-process can be scored without a rerun
                save_image(result.unsmoothed, args.out / f"{preset}_{n}_unsmoothed.png")
        outputs["dpst_final"] = load_image(d / "published" / f"final{n}.png")
        outputs["dpst_stage1"] = load_image(d / "published" / f"stage1_{n}.png")
        outputs["color_transfer"] = segment_color_transfer(content, style, masks)
        save_image(outputs["color_transfer"], args.out / f"color_transfer_{n}.png")
        pair_rows = []
        for method, image in outputs.items():
            row: dict[str, object] = {"pair": n, "method": method}
            row.update(score(image, content, style, masks, laplacian))
            row["seconds"], row["peak_gib"] = timing.get(method, (float("nan"), float("nan")))
            pair_rows.append(row)
            print(", ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in row.items()), flush=True)
        record = {
            "size": args.size,
            "full_resolution": args.full_resolution,
            "dequantise": args.dequantise,
            "seed": args.seed,
            "settings": _settings(presets),
            "commit": commit,
            "rows": pair_rows,
        }
        saved = json.dumps(record, default=float).encode()
        atomic_write(records / f"rows_{n}.json", lambda handle, data=saved: handle.write(data))
        rows += pair_rows
    write_reports(rows, presets, pairs, args)


def _done_rows(path: Path, presets: list[str], args: argparse.Namespace) -> list[dict[str, object]] | None:
    """A finished pair's rows from an earlier run, if it ran these presets at this size, seed,
    resolution and dequantisation with the presets' current settings (a record from before a
    preset changed is run again; changes to code that the settings do not name are not seen)."""
    if not path.exists():
        return None
    saved = json.loads(path.read_text())
    methods = {str(r["method"]) for r in saved["rows"]}
    same_run = (
        saved["size"],
        saved.get("seed", 0),
        saved.get("full_resolution", False),
        saved.get("dequantise"),  # None: each preset's own (the settings, below, say which)
    ) == (args.size, args.seed, args.full_resolution, args.dequantise)
    if not same_run or not set(presets) <= methods:
        return None
    kept, current = saved.get("settings", {}), _settings(presets)
    if any(kept.get(p) != current[p] for p in presets):
        print(f"{path}: made with other preset settings; running the pair again", flush=True)
        return None
    return [r for r in saved["rows"] if r["method"] in set(presets) | BASELINES]


def _settings(presets: list[str]) -> dict[str, dict[str, object]]:
    """Each preset's settings as they read back from JSON."""
    return {p: json.loads(json.dumps(vars(PRESETS[p]))) for p in presets}


def _commit() -> str:
    """The commit of the code that ran (with "+" if the tree had changes), or "" outside git."""
    git = ["git", "-C", str(Path(__file__).parent)]
    try:
        head = subprocess.run([*git, "rev-parse", "HEAD"], capture_output=True, text=True, check=True).stdout.strip()
        dirty = subprocess.run([*git, "status", "--porcelain", "--untracked-files=no"], capture_output=True, text=True)
    except (OSError, subprocess.CalledProcessError):
        return ""
    return head + ("+" if dirty.stdout.strip() else "")


#: Rows every pair has whatever the presets: DPST's published results and the colour transfer.
BASELINES = {"dpst_final", "dpst_stage1", "color_transfer"}


def write_reports(
    rows: list[dict[str, object]], presets: list[str], pairs: list[int], args: argparse.Namespace
) -> None:
    fields = ["pair", "method", *METRICS, "seconds", "peak_gib"]
    with open(args.out / "results.csv", "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=fields)
        writer.writeheader()
        writer.writerows(rows)
    methods = list(dict.fromkeys(str(r["method"]) for r in rows))
    med = {
        m: {
            k: statistics.median(float(r[k]) for r in rows if r["method"] == m)
            for k in (*METRICS, "seconds", "peak_gib")
        }
        for m in methods
    }
    lines = [
        f"Command: `{' '.join(sys.argv)}` ({time.strftime('%Y-%m-%d')}); presets at {args.size} px, "
        f"metrics at {METRIC_SIZE} px, {len(pairs)} pairs. Medians:",
        "",
        "| method | style (Gram, lower) | colour (SWD Lab, lower) | photorealism (matting, lower) "
        "| structure (edge SSIM, higher) | seconds | peak GiB |",
        "|---|---|---|---|---|---|---|",
    ]
    for m in methods:
        v = med[m]
        lines.append(
            f"| {m} | {v['style']:.4f} | {v['color']:.3f} | {v['photo']:.3g} | {v['structure']:.4f} "
            f"| {v['seconds']:.1f} | {v['peak_gib']:.2f} |"
        )
    for preset in presets:
        beats = [
            k
            for k in METRICS
            if (med[preset][k] <= med["dpst_final"][k]) == LOWER_IS_BETTER[k] or med[preset][k] == med["dpst_final"][k]
        ]
        lines.append("")
        lines.append(
            f"{preset} vs published DPST final: at least as good on {', '.join(beats) or 'none'}; "
            f"worse on {', '.join(k for k in METRICS if k not in beats) or 'none'}."
        )
    (args.out / "results.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    cells = []
    for n in pairs:
        imgs = [f"../../../{args.data}/input/in{n}.png", f"../../../{args.data}/style/tar{n}.png"]
        imgs += [f"{p}_{n}.png" for p in presets] + [f"../../../{args.data}/published/final{n}.png"]
        captions = ["content", "style", *presets, "DPST published"]
        row = "".join(
            f"<figure><img src='{html.escape(i)}' width=220><figcaption>{c}</figcaption></figure>"
            for i, c in zip(imgs, captions)
        )
        cells.append(f"<h3>pair {n}</h3><div style='display:flex;gap:4px'>{row}</div>")
    (args.out / "index.html").write_text("<html><body><h1>restyle vs DPST</h1>" + "".join(cells) + "</body></html>")


if __name__ == "__main__":
    main()
