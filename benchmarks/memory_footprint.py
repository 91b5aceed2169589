"""Memory a run needs: each run's estimate (``restyle.footprint``, as the run computes it before
it starts) against the peak resident memory of a fresh process doing the run, on DPST pair 8
(``restyle smooth``: its content photo, resized, smoothed along itself).

    python benchmarks/memory_footprint.py ../shared/data/dpst
    python benchmarks/memory_footprint.py ../shared/data/dpst --quick   # sizes up to 1024 px
    python benchmarks/memory_footprint.py ../shared/data/dpst --only smooth

Each row is its own process (the peak of a process is what the kernel's out-of-memory killer
looks at), on the CPU. Iteration counts are small where the peak does not depend on them (the
L-BFGS pairs are the part that does, and some rows keep the defaults to show it).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

GIB = 2**30

CHILD = """
import json, sys
import restyle.artistic, restyle.photo
from restyle import footprint

options = json.loads(sys.argv[1])
mode = options.pop("mode")
estimates = []
check_memory = footprint.check_memory

def recording(needed, size, **kwargs):
    estimates.append(needed(size))
    return check_memory(needed, size, **kwargs)

restyle.artistic.check_memory = restyle.photo.check_memory = footprint.check_memory = recording
if mode == "art":
    shape = restyle.artistic.stylize(seed=0, device="cpu", **options).image.shape[-2:]
elif mode == "photo":
    shape = restyle.photo.stylize_photo(seed=0, device="cpu", **options).image.shape[-2:]
else:  # restyle smooth through the CLI, on the content resized to the size
    import tempfile
    from pathlib import Path
    from PIL import Image
    from restyle.cli import main
    from restyle.image import scaled_shape

    folder = Path(tempfile.mkdtemp())
    with Image.open(options["content"]) as photo:
        height, width = scaled_shape(photo.height, photo.width, options["size"])
        photo.convert("RGB").resize((width, height), Image.BICUBIC).save(folder / "in.png")
    out = folder / "out.png"
    argv = ["smooth", str(folder / "in.png"), "--content", str(folder / "in.png"), "--method", options["method"]]
    assert main([*argv, "-o", str(out)]) == 0
    shape = (height, width)
print(json.dumps({
    "shape": list(shape),
    "peak": footprint.peak_resident_bytes(),
    "estimate": estimates[0],
}))
"""

FEW = {"iterations": 2, "coarse_iterations": 2}


def runs(data: Path, quick: bool) -> list[tuple[str, dict[str, object]]]:
    """(label, options) of each row."""
    content, style = str(data / "input/in8.png"), str(data / "style/tar8.png")
    masks = {
        "content_mask": str(data / "segmentation/in8.png"),
        "style_mask": str(data / "segmentation/tar8.png"),
    }
    sizes = (256, 512, 1024) if quick else (256, 512, 768, 1024, 1536, 2048)
    art = {"mode": "art", "content": content, "styles": style}
    photo = {"mode": "photo", "content": content, "style": style}
    rows: list[tuple[str, dict[str, object]]] = []
    rows += [("art, 2 + 2 + 2 iterations", {**art, **FEW, "size": s}) for s in sizes]
    rows += [("art, default", {**art, "size": s}) for s in (512, 1024)]
    rows += [("art, 2 + 2 + 100 iterations", {**art, "size": 768, "iterations": 100, "coarse_iterations": 2})]
    rows += [("art, float32, 2 + 2 + 2", {**art, **FEW, "size": 512, "precision": "float32"})]
    rows += [("photo default, hand masks, 2 iterations", {**photo, **masks, "size": s, "iterations": 2}) for s in sizes]
    rows += [("photo default, automatic masks", {**photo, "size": 512, "auto_masks": True})]
    rows += [("photo fast, hand masks", {**photo, **masks, "size": s, "preset": "fast"}) for s in sizes]
    rows += [
        ("photo dpst, hand masks, 2 + 2 iterations", {**photo, **masks, "size": s, "preset": "dpst", "iterations": 2})
        for s in sizes
        if s <= 1024
    ]
    for side in (1500, 2121) if not quick else (1500,):
        for method in ("affine", "matting", "posterize", "guided", "bilateral"):
            rows.append(
                (f"smooth --method {method}", {"mode": "smooth", "size": side, "method": method, "content": content})
            )
    return rows


def measure(options: dict[str, object]) -> dict[str, object]:
    done = subprocess.run(
        [sys.executable, "-W", "ignore", "-c", CHILD, json.dumps(options)], capture_output=True, text=True, check=True
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("data", type=Path, help="the DPST examples folder (../shared/data/dpst)")
    parser.add_argument("--quick", action="store_true", help="sizes up to 1024 px only")
    parser.add_argument("--only", choices=("art", "photo", "smooth"), help="only the rows of one mode")
    parser.add_argument("--out", type=Path, default=Path("benchmarks/out/memory_footprint.json"))
    args = parser.parse_args()
    table = []
    print("| run | --size | result | peak GiB | estimate GiB | estimate / peak |")
    print("|---|---|---|---|---|---|")
    for label, options in runs(args.data, args.quick):
        if args.only and options["mode"] != args.only:
            continue
        row = {"run": label, "options": options, **measure(dict(options))}
        table.append(row)
        height, width = row["shape"]
        print(
            f"| {label} | {options['size']} | {width} x {height} | {row['peak'] / GIB:.2f} | "
            f"{row['estimate'] / GIB:.2f} | {row['estimate'] / row['peak']:.2f} |",
            flush=True,
        )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(table, indent=1))


if __name__ == "__main__":
    main()
