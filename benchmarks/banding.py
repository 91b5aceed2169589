"""Banding in a stylised sky: 8-bit sources with and without dequantisation (restyle.dequantise).

A dark, clear sky (a vertical ramp, slightly curved across, 640x360) is written as an 8-bit PNG,
a JPEG (quality 92), a 16-bit PNG (the reference: no 8-bit steps), and as three clips: 10-bit
lossless, 8-bit lossless and 8-bit H.264 at crf 18 (4:2:0, as a camera or a download gives). Each is
stylised with a style whose sky spans a far wider range (DPST's tar3, which stretches this sky's
range about six times), with ``dequantise`` off and on: photos by ``stylize_photo`` (``fast``
preset, and ``default`` for the PNG), clips by ``stylize_video`` (``fast``, frames 0-4, written as
16-bit PNGs so that the output adds no steps of its own).

Banding: the output's column means (columns 100-539) against the same column smoothed by a
Gaussian of 6 rows, over rows 20-339, in 8-bit levels: RMS and largest. A smooth output scores
near 0; each step of the source stretched into a band adds its height. Also: what dequantising
costs at three sizes.

    python benchmarks/banding.py ../shared/data/dpst/style/tar3.png --out benchmarks/out/banding
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from scipy.ndimage import gaussian_filter1d

from restyle.bitdepth import encode_png16
from restyle.dequantise import dequantise
from restyle.image import load_image
from restyle.photo import stylize_photo
from restyle.video import stylize_video

WIDTH, HEIGHT = 640, 360


def sky() -> np.ndarray:
    """The sky as float RGB ``(H, W, 3)`` in [0, 1]: 0.08 to 0.22 down the frame, a little brighter
    towards the sides."""
    y = np.linspace(0.08, 0.22, HEIGHT)[:, None]
    x = np.linspace(-1, 1, WIDTH)[None]
    base = y + 0.01 * x**2
    return np.clip(np.stack([base * 0.6, base * 0.8, base * 1.4], axis=-1), 0, 1)


def banding(image: torch.Tensor | np.ndarray) -> tuple[float, float]:
    """RMS and largest deviation of the column means from their smoothed selves, in levels."""
    arr = image[0].permute(1, 2, 0).double().numpy() if isinstance(image, torch.Tensor) else image
    column = arr[:, 100:540].mean(axis=1) * 255
    deviation = (column - gaussian_filter1d(column, 6, axis=0))[20:340]
    return float(np.sqrt((deviation**2).mean())), float(np.abs(deviation).max())


def write_sources(folder: Path, truth: np.ndarray) -> dict[str, Path]:
    import imageio_ffmpeg

    eight = (truth * 255).round().astype(np.uint8)
    paths = {"png8": folder / "sky8.png", "jpeg": folder / "sky.jpg", "png16": folder / "sky16.png"}
    Image.fromarray(eight).save(paths["png8"])
    Image.fromarray(eight).save(paths["jpeg"], quality=92)
    paths["png16"].write_bytes(encode_png16((truth * 65535).round().astype(np.uint16)))
    frames = (truth * 65535).round().astype("<u2").tobytes() * 10
    tags = "setparams=colorspace=bt709:color_primaries=bt709:color_trc=bt709:range=tv"
    for name, pix_fmt, quality in (
        ("clip10", "yuv444p10le", ["-qp", "0"]),
        ("clip8", "yuv444p", ["-qp", "0"]),
        ("clip8_crf18", "yuv420p", ["-crf", "18"]),
    ):
        paths[name] = folder / f"{name}.mkv"
        command = [imageio_ffmpeg.get_ffmpeg_exe(), "-y", "-loglevel", "error", "-f", "rawvideo"]
        command += ["-pix_fmt", "rgb48le", "-s", f"{WIDTH}x{HEIGHT}", "-r", "10", "-i", "-"]
        command += ["-vf", f"scale=out_color_matrix=bt709:out_range=tv,format={pix_fmt},{tags}"]
        subprocess.run([*command, "-c:v", "libx264", *quality, str(paths[name])], input=frames, check=True)
    return paths


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("style", type=Path, nargs="?", default=Path("../shared/data/dpst/style/tar3.png"))
    parser.add_argument("--out", type=Path, default=Path("benchmarks/out/banding"))
    args = parser.parse_args()
    shutil.rmtree(args.out, ignore_errors=True)
    args.out.mkdir(parents=True)
    torch.set_num_threads(2)
    warnings.simplefilter("ignore")
    truth = sky()
    paths = write_sources(args.out, truth)
    rows = []

    def row(source: str, how: str, on: float | str, off: float | str) -> None:
        rows.append(f"| {source} | {how} | {on} | {off} |")
        print(rows[-1], flush=True)

    def fmt(result: tuple[float, float]) -> str:
        return f"{result[0]:.2f} (largest {result[1]:.1f})"

    for name, preset in (("png8", "fast"), ("jpeg", "fast"), ("png16", "fast"), ("png8", "default")):
        found = {}
        for on in (True, False):
            result = stylize_photo(paths[name], args.style, preset=preset, size=WIDTH, dequantise=on, device="cpu")
            found[on] = fmt(banding(result.image))
        row(paths[name].name, f"photo, `{preset}`", found[True], found[False])

    for name in ("clip10", "clip8", "clip8_crf18"):
        found = {}
        for on in (True, False):
            folder = args.out / f"{name}_{'on' if on else 'off'}"
            stylize_video(
                paths[name], args.style, output=folder, mode="photo", preset="fast", size=WIDTH,
                frames="0:5", bit_depth=16, dequantise=on, device="cpu",
            )  # fmt: skip
            frame = load_image(folder / "000004.png")
            found[on] = fmt(banding(frame))
        row(paths[name].name, "video, `fast`, frame 4", found[True], found[False])

    print("\n| source | stylised by | banding, dequantised: RMS levels | as read |\n|---|---|---|---|")
    print("\n".join(rows))
    print("\nCost of dequantise on the 8-bit sky, every pixel flat (float32; median of 3, after one warm-up):")
    sky8 = torch.from_numpy((truth * 255).round().astype(np.float32) / 255).permute(2, 0, 1)[None]
    for height, width in ((360, 640), (720, 1280), (2000, 3000)):
        image = torch.nn.functional.interpolate(sky8, size=(height, width), mode="nearest").contiguous()
        dequantise(image)
        times = []
        for _ in range(3):
            start = time.perf_counter()
            dequantise(image)
            times.append(time.perf_counter() - start)
        print(f"- {width}x{height}: {statistics.median(times) * 1000:.0f} ms")
    print(f"\nCommand: {' '.join(sys.argv)}")


if __name__ == "__main__":
    main()
