"""The ``restyle`` command.

Sub-commands map one-to-one onto library entry points, and their flags are derived from those
entry points' signatures (see :mod:`restyle.signature`), so the CLI and the API never disagree.
Every error a user can cause is reported as one line on stderr with a non-zero exit status.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import os
import shlex
import sys
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from restyle import __version__, web
from restyle.bitdepth import BIT_DEPTHS, DEEP_FORMATS
from restyle.errors import (
    OUT_OF_MEMORY,
    RestyleError,
    check_at_least,
    check_positive,
    check_weight,
    flag,
    is_out_of_memory,
    listing,
    no_such_file,
    refused_path,
)
from restyle.files import check_not_an_input, check_replaceable, file_stamp, hold_folder, name_beside
from restyle.image import (
    DEFAULT_MAX_PIXELS,
    MAX_SIDE,
    WRITABLE_SUFFIXES,
    camera_exif,
    check_output_folder,
    check_output_side,
    check_writable,
    image_files,
    image_size,
    named_sample,
    read_metadata,
    save_image,
    scaled_shape,
)
from restyle.raw import without_raw_twins
from restyle.signature import add_signature_flags, nonempty, signature_kwargs, split, whole_number

if TYPE_CHECKING:
    from torch import Tensor

EXIT_ERROR = 1
EXIT_INTERRUPTED = 130
#: What Ctrl-C before a run's first step says: the start image is no result to keep.
NOTHING_WRITTEN = "interrupted before any result; nothing written"

ART_EXAMPLES = """examples:
  restyle art photo.jpg starry.jpg -o out.png
  restyle art photo.jpg a.jpg b.jpg --style-blend 2,1 -o blend.png
  restyle art photo.jpg starry.jpg --preserve-color luminance --size 768 -o out.jpg
  restyle art photo.jpg starry.jpg --init noise --seed 7 --no-pyramid --iterations 500 -o out.png
  restyle art photos/ starry.jpg -o starry-photos/      # every image of a folder
"""


def _print_warning(
    message: Warning | str,
    category: type[Warning],
    filename: str,
    lineno: int,
    file: Any = None,
    line: str | None = None,
) -> None:
    from tqdm import tqdm

    text = f"restyle: warning: {message}"
    if text in _WARNED:  # said once a command: a sweep's runs each read the same content
        return
    _WARNED.add(text)
    # on a line of its own above a progress bar that is on screen (the video bar is, from the start)
    tqdm.write(text, file=sys.stderr)


#: The warnings this command has printed. Python's own once-per-place rule does not hold: every
#: ``warnings.catch_warnings`` (Pillow's are caught on each read) resets it.
_WARNED: set[str] = set()


#: The progress bar of a run: the bar and percentage measure its work, not its iterations (a
#: coarse scale's iteration is a fraction of a full-size one: restyle.optim.Schedule), and the
#: time left is the iterate's own estimate; tqdm's rate, an average over scales, is left out.
_BAR = "{desc}: {percentage:3.0f}%|{bar}| {elapsed} elapsed{postfix}"


class _Progress:
    """A tqdm bar over a run's work, plus ``--save-every`` snapshots."""

    def __init__(
        self,
        output: Path,
        save_every: int,
        quiet: bool,
        *,
        label: str = "",
        metadata: dict[str, Any] | None = None,
        bits: int = 8,
        nested: bool = False,
    ) -> None:
        if save_every < 0:
            raise RestyleError(f"--save-every must be at least 0 (0: no snapshots), not {save_every}")
        self.output = output
        self.save_every = save_every
        self.metadata = metadata  # what a snapshot carries, with its iteration
        self.bits = bits  # a snapshot's bits per channel, as the output's
        self.quiet = quiet
        self.label = f"{label} " if label else ""  # which photo of a folder
        self.nested = nested  # below a folder run's bar, and gone with its photo
        self.bar: Any = None
        if save_every:  # a snapshot's name is longer than the output's: checked now, not at the first snapshot
            check_writable(self._snapshot(save_every), bits=bits)

    def _snapshot(self, step: int) -> Path:
        return self.output.with_name(f"{self.output.stem}.{step:05d}{self.output.suffix}")

    def __call__(self, it: Any) -> None:
        if self.bar is None and not self.quiet:
            from tqdm import tqdm

            self.bar = tqdm(
                total=it.total_work, dynamic_ncols=True, file=sys.stderr, bar_format=_BAR, leave=not self.nested
            )
        if self.bar is not None:
            h, w = it.size
            where = f"scale {it.scale + 1}/{it.scales} {w}x{h}, iteration {it.step}/{it.steps}"
            self.bar.set_description_str(self.label + where, refresh=False)
            left = "" if it.seconds_left is None else f"about {self.bar.format_interval(it.seconds_left)} left, "
            losses = ", ".join(f"{k}={v:.3g}" for k, v in it.losses.items())
            self.bar.set_postfix_str(left + losses, refresh=False)
            self.bar.update(it.work - self.bar.n)
        if self.save_every and it.step % self.save_every == 0:
            stamp = None if self.metadata is None else {**self.metadata, "status": "snapshot", "iteration": it.step}
            save_image(it.image, self._snapshot(it.step), metadata=stamp, bits=self.bits)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def _add_output_image(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-o", "--output", required=True, type=_path, help="output image (.png, .jpg, .tif or .webp)")


def _path(text: str) -> Path:
    """A path argument's value; an empty one is refused, as it would name the current folder."""
    return Path(nonempty(text))


def _add_common(parser: argparse.ArgumentParser) -> None:
    _add_output_image(parser)
    parser.add_argument(
        "--save-every",
        type=whole_number,
        default=0,
        metavar="N",
        help="also write the current iterate every N iterations as OUTPUT.NNNNN.png",
    )
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    _add_bit_depth(parser)


def _add_bit_depth(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--bit-depth",
        type=whole_number,
        choices=BIT_DEPTHS,
        default=8,
        help="bits per colour channel of OUTPUT: 16 (PNG and TIFF) keeps smooth gradients for editing (default: 8)",
    )


def _add_max_pixels(parser: argparse.ArgumentParser) -> None:
    """``--max-pixels`` for the commands whose options are not taken from a signature."""
    parser.add_argument(
        "--max-pixels",
        type=whole_number,
        default=DEFAULT_MAX_PIXELS,
        help=f"refuse input images with more pixels than this (default: {DEFAULT_MAX_PIXELS})",
    )


def _finish(result: Any, output: Path, extra: dict[str, Any], *, bits: int) -> int:
    from tqdm import tqdm  # its write: on lines of their own above a folder run's bar

    # status: a result stopped early (Ctrl-C, NaN) says so, and a folder run redoes it
    if result.stopped_at_start:
        tqdm.write(f"restyle: {NOTHING_WRITTEN}", file=sys.stderr)
        return EXIT_INTERRUPTED
    params = _recorded(extra, result.metadata())
    # the content photo's EXIF (camera, date taken) travels with its result, for photo libraries
    save_image(result.image, output, metadata=params, exif=camera_exif(extra["content"]), bits=bits)
    if result.status == "interrupted":
        tqdm.write(f"restyle: {result.message}; saved {output}", file=sys.stderr)
        return EXIT_INTERRUPTED
    if result.status == "nonfinite":
        tqdm.write(f"restyle: warning: {result.message}; saved {output}", file=sys.stderr)
    else:
        tqdm.write(str(output), file=sys.stdout)
    return 0


def _result_side(args: argparse.Namespace, content: str | Path, own: tuple[int, int] | None = None) -> tuple[int, str]:
    """The long side of the result of the photo ``content`` and what sets it: ``--size``, or with
    ``--full-resolution`` the photo's own size (``own``, if its header has been read already)."""
    if getattr(args, "full_resolution", False):
        own = own or image_size(named_sample(content), max_pixels=args.max_pixels)
        return max(own), f"--full-resolution: the size of {content}"
    return args.size, f"--size {args.size}"


def _check_result_side(args: argparse.Namespace, output: Path) -> None:
    """Fail now, before any work, if the result is larger than ``output``'s format can store
    (a WebP more than 16,383 pixels a side), rather than after the work."""
    if WRITABLE_SUFFIXES.get(output.suffix.lower()) in MAX_SIDE:
        side, cause = _result_side(args, args.content)
        check_output_side(output, side, cause=cause)


def _batch_suffix(photo: Path, bits: int, side: int) -> str:
    """A folder's result keeps its photo's file type where restyle writes it with ``bits`` and
    the format holds a long side of ``side`` pixels, else PNG."""
    suffix = photo.suffix.lower()
    fmt = WRITABLE_SUFFIXES.get(suffix)
    if fmt is not None and (bits == 8 or fmt in DEEP_FORMATS) and side <= MAX_SIDE.get(fmt, side):
        return suffix
    return ".png"


def _batch_pairs(args: argparse.Namespace, inputs: Sequence[object]) -> list[tuple[Path, Path]]:
    """For a folder of photos (CONTENT): (photo, result) pairs, the results in the output folder
    named after their photos. Every photo's header is read and the output folder checked before
    any work, so a bad file or folder stops the batch before it starts."""
    content, output = Path(args.content), Path(args.output)
    if args.content_mask or args.style_mask:
        raise RestyleError("masks belong to one photo: not with a folder of photos (--auto-masks finds each photo's)")
    if output.suffix.lower() in WRITABLE_SUFFIXES and not output.is_dir():
        raise RestyleError(f"{output}: for a folder of photos, --output is a folder, not an image")
    photos, twins = without_raw_twins(image_files(content))  # the two would also give the same result name
    if not photos:
        raise RestyleError(f"{content}: the folder holds no images")
    if twins:
        shown = listing([photo.name for photo in twins], limit=3)
        print(
            f"restyle: RAW+JPEG pairs: stylising the image the camera developed, not the RAW file ({shown})",
            file=sys.stderr,
        )
    # a file that is not an image: one line now, not halfway through the batch
    sizes = {photo: image_size(photo, max_pixels=args.max_pixels) for photo in photos}
    check_output_folder(output, is_folder=True, create=True)
    pairs = [
        (photo, output / f"{photo.stem}{_batch_suffix(photo, args.bit_depth, _result_side(args, photo, own)[0])}")
        for photo, own in sizes.items()
    ]
    names = [result.name.lower() for _, result in pairs]
    clash = next((pairs[i][0].name for i, name in enumerate(names) if names.count(name) > 1), None)
    if clash is not None:
        raise RestyleError(f"{content}: two photos would give the same result name as {clash}; rename one")
    for _, result in pairs:
        check_not_an_input(result, [*inputs, *photos])
    return pairs


def _batch_settings(command: str, options: dict[str, Any], styles: Sequence[str], bits: int, *, max_pixels: int) -> str:
    """A fingerprint of what a folder run makes each result from, bar the photo: the command, the
    style images (path, size, time modified), every option, and the seed if one was given. A
    style that cannot be read is the run's one error, here, rather than every photo's."""
    files = []
    for style in styles:
        path = Path(named_sample(style))
        image_size(path, max_pixels=max_pixels)  # a missing, unreadable or bomb style: its error now
        files.append(file_stamp(path))
    chosen = {k: v for k, v in options.items() if not (k == "seed" and v is None)}
    text = json.dumps([command, files, chosen, bits], sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _finished_before(photo: Path, result_path: Path, settings: str) -> bool:
    """Whether ``result_path`` is a finished result of ``photo`` as it is now (path, size, time
    modified), made with ``settings`` by an earlier folder run (one stopped by Ctrl-C, say)."""
    try:
        meta = read_metadata(result_path) if result_path.exists() else {}
        stamp = file_stamp(photo)
    except (OSError, RestyleError):
        return False
    finished = meta.get("batch_settings") == settings and meta.get("status") == "done"
    return finished and meta.get("content_file") == stamp


def _run_batch(
    args: argparse.Namespace,
    inputs: Sequence[object],
    run: Callable[[Path, _Progress, int], Any],
    extra: dict[str, Any],
    options: dict[str, Any],
    styles: Sequence[str],
) -> int:
    """Stylise every photo of the folder CONTENT into the folder OUTPUT, one after another. A
    photo that fails is reported and skipped (exit status 1 at the end); Ctrl-C saves the current
    photo's best result and stops. A result that an earlier run with the same settings finished
    is kept, so running the same command again continues where that run stopped. ``run(photo,
    progress, seed)`` makes one photo's result."""
    pairs = _batch_pairs(args, inputs)
    settings = _batch_settings(extra["command"], options, styles, args.bit_depth, max_pixels=args.max_pixels)
    release = hold_folder(args.output)  # made if missing
    if release is None:  # two runs would make the same results over each other, or twice
        raise RestyleError(
            f"the folder {args.output} is in use by another restyle run; let that run finish, "
            "or give this one another output folder"
        )
    try:
        return _run_held_batch(args, pairs, settings, run, extra, options)
    finally:
        release()


def _run_held_batch(
    args: argparse.Namespace,
    pairs: list[tuple[Path, Path]],
    settings: str,
    run: Callable[[Path, _Progress, int], Any],
    extra: dict[str, Any],
    options: dict[str, Any],
) -> int:
    """:func:`_run_batch` in its output folder, which this run holds."""
    extra = {**extra, "batch_settings": settings}
    done = [photo for photo, result_path in pairs if _finished_before(photo, result_path, settings)]
    for photo, result_path in pairs:
        if photo not in done:
            check_replaceable(result_path)  # now, not when its photo is finished
    if done:
        print(
            f"restyle: keeping {len(done)} of {len(pairs)} results finished by an earlier run with the same settings",
            file=sys.stderr,
        )
    from tqdm import tqdm

    failed = []
    # the photos done and the time the rest will take, above each photo's own bar (none for the
    # fast preset, which has no iterations); each result's path is printed above both
    photos = None
    if not args.quiet:
        photos = tqdm(
            total=len(pairs), initial=len(done), unit="photo", desc="photos", dynamic_ncols=True, file=sys.stderr
        )
    try:
        for index, (photo, result_path) in enumerate(pairs, 1):
            if photo in done:
                continue
            seeded = _seeded(options)  # each photo's own seed, known to its snapshots (not in the settings)
            stamp = _recorded({**extra, "content": str(photo)}, seeded)
            label = f"{index}/{len(pairs)} {photo.name}:"
            progress = _Progress(
                result_path, args.save_every, args.quiet, label=label, metadata=stamp, bits=args.bit_depth, nested=True
            )
            try:
                result = run(photo, progress, seeded["seed"])
            except RestyleError as exc:
                tqdm.write(f"restyle: error: {exc}", file=sys.stderr)
                failed.append(photo.name)
                result = None
            finally:
                progress.close()
            if result is not None:
                made = {**extra, "content": str(photo), "content_file": file_stamp(photo)}
                if _finish(result, result_path, made, bits=args.bit_depth) == EXIT_INTERRUPTED:
                    tqdm.write(
                        f"restyle: stopped at photo {index} of {len(pairs)}; run the same command to continue",
                        file=sys.stderr,
                    )
                    return EXIT_INTERRUPTED
            if photos is not None:
                photos.update()
    finally:
        if photos is not None:
            photos.close()
    if failed:
        raise RestyleError(f"{len(failed)} of {len(pairs)} photos failed: {', '.join(failed)}")
    return 0


def _run_art(args: argparse.Namespace, names: Sequence[str]) -> int:
    from restyle.artistic import stylize

    inputs = [args.content, *args.styles, args.content_mask, args.style_mask]
    if Path(args.content).is_dir():
        kwargs = signature_kwargs(args, names)
        extra = {"command": "art", "styles": [str(s) for s in args.styles]}
        return _run_batch(
            args,
            inputs,
            lambda photo, bar, seed: stylize(photo, args.styles, callback=bar, **{**kwargs, "seed": seed}),
            extra,
            kwargs,
            args.styles,
        )
    output = check_writable(args.output, inputs=inputs, bits=args.bit_depth)
    _check_result_side(args, output)
    kwargs = _seeded(signature_kwargs(args, names))
    extra = {"command": "art", "content": str(args.content), "styles": [str(s) for s in args.styles]}
    progress = _Progress(output, args.save_every, args.quiet, metadata=_recorded(extra, kwargs), bits=args.bit_depth)
    try:
        result = stylize(args.content, args.styles, callback=progress, **kwargs)
    finally:
        progress.close()
    return _finish(result, output, extra, bits=args.bit_depth)


def _seeded(options: dict[str, Any]) -> dict[str, Any]:
    """``options`` with a seed drawn now if none is given, so that snapshots can record it."""
    from restyle.device import new_seed

    return options if options.get("seed") is not None else {**options, "seed": new_seed()}


def _recorded(extra: dict[str, Any], options: dict[str, Any]) -> dict[str, Any]:
    """What a file restyle writes records (a result, a ``--save-every`` snapshot, a sweep's
    contact sheet, masks): restyle's version, the command and its inputs, and its options."""
    return {"restyle_version": __version__, **extra, **options}


PHOTO_EXAMPLES = """examples:
  restyle photo city.jpg dusk.jpg -o out.png
  restyle photo city.jpg dusk.jpg --content-mask city_seg.png --style-mask dusk_seg.png -o out.png
  restyle photo city.jpg dusk.jpg --preset fast --size 1024 -o quick.jpg
  restyle photo city.jpg dusk.jpg --style-weight 100,1000 --photo-weight 1e2,1e4,1e6 -o sweep.png
  restyle photo holiday/ dusk.jpg -o holiday-dusk/      # every photo of a folder; run again to continue
"""

#: Options of ``restyle photo`` that take comma-separated values and run every combination.
SWEEP_OPTIONS = ("style_weight", "photo_weight", "content_weight")


def _sweep_label(combo: dict[str, float]) -> str:
    short = {"style_weight": "sw", "photo_weight": "pw", "content_weight": "cw"}
    return "_".join(f"{short[k]}{v:g}" for k, v in combo.items())


def _run_photo(args: argparse.Namespace, names: Sequence[str]) -> int:
    import itertools

    from restyle.photo import stylize_photo

    inputs = [args.content, args.style, args.content_mask, args.style_mask]
    batch = Path(args.content).is_dir()
    output = Path(args.output) if batch else check_writable(args.output, inputs=inputs, bits=args.bit_depth)
    if not batch:
        _check_result_side(args, output)  # a sweep's results and sheet take the output's type
    kwargs = signature_kwargs(args, names)
    grid = {k: kwargs.pop(k) or [None] for k in SWEEP_OPTIONS}
    for name, values in grid.items():  # every value of a sweep is checked before the first run
        for value in values:
            if value is not None:
                check_weight(value, flag(name))
    extra = {"command": "photo", "content": str(args.content), "style": str(args.style)}
    combos = [dict(zip(grid, values)) for values in itertools.product(*grid.values())]
    if batch:
        if len(combos) > 1:
            raise RestyleError("a sweep of weights is for one photo: not with a folder of photos")
        options = {**kwargs, **combos[0]}
        return _run_batch(
            args,
            inputs,
            lambda photo, bar, seed: stylize_photo(photo, args.style, callback=bar, **{**options, "seed": seed}),
            extra,
            options,
            [args.style],
        )
    if len(combos) == 1:
        options = _seeded({**kwargs, **combos[0]})
        progress = _Progress(
            output, args.save_every, args.quiet, metadata=_recorded(extra, options), bits=args.bit_depth
        )
        try:
            result = stylize_photo(args.content, args.style, callback=progress, **options)
        finally:
            progress.close()
        return _finish(result, output, extra, bits=args.bit_depth)
    from restyle.photo import preset_settings
    from restyle.sheet import contact_sheet

    if not preset_settings(args.preset).stages:
        swept = ", ".join(flag(k) for k in SWEEP_OPTIONS if len(grid[k]) > 1)
        raise RestyleError(f"preset {args.preset} runs no optimisation, so a sweep of {swept} would give equal images")
    kwargs = _seeded(kwargs)  # one seed for the whole sweep, so that only the weights differ
    sheet_path = output.with_name(f"{output.stem}_sheet{output.suffix}")
    runs = []
    for combo in combos:  # every name checked before the first run (one too long fails there)
        shown = {k: v for k, v in combo.items() if len(grid[k]) > 1}
        path = output.with_name(f"{output.stem}_{_sweep_label(shown)}{output.suffix}")
        runs.append((combo, shown, check_writable(path, inputs=inputs, bits=args.bit_depth)))
    check_writable(sheet_path, inputs=inputs)
    cache: dict[str, Any] = {}
    results = {}
    for combo, shown, path in runs:
        progress = _Progress(path, 0, args.quiet)
        try:
            result = stylize_photo(args.content, args.style, callback=progress, _cache=cache, **kwargs, **combo)
        finally:
            progress.close()
        code = _finish(result, path, {**extra, "sweep": shown}, bits=args.bit_depth)
        if code != 0:
            return code
        results[tuple(combo.values())] = result.image
    rows = [k for k in SWEEP_OPTIONS if len(grid[k]) > 1]
    row_key = rows[0]
    col_key = rows[1] if len(rows) > 1 else None
    sheet = contact_sheet(results, grid, row_key=row_key, col_key=col_key)
    # what every result shares (the seed too), and the values swept, so that the sweep can be repeated
    shared = {k: v for k, v in result.params.items() if k not in rows}
    sweep = {k: grid[k] for k in rows}
    save_image(sheet, sheet_path, metadata=_recorded(extra, {**shared, "sweep": sweep}))
    print(sheet_path)
    return 0


MASKS_EXAMPLES = """examples:
  restyle masks city.jpg dusk.jpg -o masks/
  restyle masks city.jpg dusk.jpg --substyles 3 -o masks/
  restyle photo city.jpg dusk.jpg --content-mask masks/content_mask.png --style-mask masks/style_mask.png -o out.png
"""


def _run_masks(args: argparse.Namespace, names: list[str]) -> int:
    from restyle.automask import auto_masks
    from restyle.device import resolve_device
    from restyle.image import load_image

    if args.output.suffix.lower() in {*WRITABLE_SUFFIXES, ".json"} and not args.output.is_dir():
        raise RestyleError(
            f"{args.output}: -o is the folder for content_mask.png, style_mask.png and matching.json, not a file name"
        )
    check_output_folder(args.output, is_folder=True, create=True)
    content = load_image(args.content, size=args.size, max_pixels=args.max_pixels, what="content")
    style = load_image(args.style, size=args.size, max_pixels=args.max_pixels, what="style")
    options = signature_kwargs(args, names)
    found = auto_masks(content, style, **options, device=resolve_device(args.device))
    made = {"command": "masks", "content": str(args.content), "style": str(args.style)}
    paths = found.save(
        args.output, metadata=_recorded(made, {"size": args.size, "max_pixels": args.max_pixels, **options})
    )
    if not args.quiet:
        print(found.describe(), file=sys.stderr)
    for path in paths:
        print(path)
    return 0


VIDEO_EXAMPLES = """examples:
  restyle video clip.mp4 starry.jpg -o out.mp4
  restyle video clip.mp4 dusk.jpg --mode photo --preset fast -o out.mp4
  restyle video clip.mp4 starry.jpg --frames 0:60 --size 480 --long-term -o out.mp4
  restyle video frames/ starry.jpg --fps 24 -o stylised_frames/
  restyle video clip.mp4 starry.jpg --temporal-weight 0 -o flicker.mp4   # per-frame baseline
  restyle video clip.mp4 dusk.jpg --mode photo --bit-depth 10 -o out.mov  # 10-bit ProRes, to grade
  restyle video clip.mp4 dusk.jpg --mode photo --size 320 -o loop.gif    # to share: loops, no sound
Run the same command again after a stop: finished frames are taken from the work folder.
"""


class _FrameBar:
    """A tqdm bar over frames: frames done, seconds per frame, ETA.

    It is on screen from the start. It counts the source frames as they are read, then starts
    again, its clock too, for the frames stylised: the first, stylised in full, is the longest,
    and its time belongs in the bar's rate and ETA; the reading's does not."""

    def __init__(self, quiet: bool) -> None:
        self.bar: Any = None
        if not quiet:
            from tqdm import tqdm

            self.bar = tqdm(unit="frame", desc="reading frames", dynamic_ncols=True, file=sys.stderr)

    def __call__(self, progress: Any) -> None:
        if self.bar is None:
            return
        if progress.stage == "read":
            if progress.index + 1 == progress.total:  # all read
                self.bar.total = None  # the stylised frames' count comes with the first
                self.bar.set_description_str("first frame, stylised in full", refresh=False)
                self.bar.set_postfix_str("", refresh=False)
                self.bar.reset()  # its count and its clock; shown once, as the stylising's bar
            else:
                self.bar.total = progress.total
                self.bar.update(progress.index + 1 - self.bar.n)
            return
        if self.bar.total != progress.total:
            self.bar.total = progress.total
            self.bar.set_description_str("", refresh=False)
        self.bar.set_postfix_str("resumed" if progress.resumed else f"{progress.seconds:.1f} s/frame", refresh=False)
        self.bar.update(progress.index + 1 - self.bar.n)

    def close(self) -> None:
        if self.bar is not None:
            if self.bar.n == 0:  # stopped before any frame (a bad input, say): no empty bar left above
                self.bar.leave = False
            self.bar.close()


def _run_video(args: argparse.Namespace, names: Sequence[str]) -> int:
    from restyle.video import stylize_video, work_folder, work_frames

    kwargs = signature_kwargs(args, names)
    work = work_folder(args.output, kwargs.get("work_dir"))
    bar = _FrameBar(args.quiet)
    try:
        out = stylize_video(args.video, args.style, output=args.output, callback=bar, **kwargs)
    except KeyboardInterrupt:
        bar.close()
        done = work_frames(work)
        kept = (
            f"{done} finished frame{'s are' if done != 1 else ' is'} kept in {work}"
            if done
            else "no frame was finished"
        )
        print(f"restyle: interrupted; {kept}: run the same command to continue", file=sys.stderr)
        return EXIT_INTERRUPTED
    finally:
        bar.close()
    print(out)
    return 0


def _interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt


def _run_serve(args: argparse.Namespace, names: list[str]) -> int:
    import signal
    import threading

    # Ctrl-C stops the server at once, as SIGTERM (a service manager's stop; main) does: Gradio
    # closes it on the KeyboardInterrupt, and serve deletes its folder (SIGINT is set explicitly,
    # as a process started in the background by a script inherits it ignored)
    main_thread = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGINT, _interrupt) if main_thread else None
    try:
        web.serve(**signature_kwargs(args, names))
    except KeyboardInterrupt:  # again, while the running job stopped (web.stop_jobs): quit now,
        # without the interpreter's exit, which a job's thread still inside PyTorch would abort
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(EXIT_INTERRUPTED)
    finally:
        if main_thread:
            signal.signal(signal.SIGINT, previous)
    return 0


SMOOTH_EXAMPLES = """examples:
  restyle smooth stylised.png --content photo.jpg --method affine -o smooth.png
  restyle smooth stylised.png --content photo.jpg --method posterize -o refined.png
  restyle smooth photo.jpg --method guided --radius 4 --eps 1e-3 -o soft.png
  restyle smooth small_result.png --content photo.jpg --method upsample -o full_size.png
"""


def _check_smoothing_memory(method: str, shape: Sequence[int]) -> None:
    """Stop before ``restyle smooth`` works on an image too large for the memory."""
    import torch

    from restyle.footprint import check_memory, smoothing_bytes

    height, width = shape

    def needed(long_side: int) -> int:
        return smoothing_bytes(method, math.prod(scaled_shape(height, width, long_side)))

    what = f"--method {method} on a {width}x{height} image"
    check_memory(needed, max(height, width), device=torch.device("cpu"), what=what, option=None)


class _RowProgress:
    """A tqdm bar over image rows, for the filters that take long on large photos (the affine
    method: about 50 s at 5 MP here); it appears on the first call."""

    def __init__(self, quiet: bool, what: str) -> None:
        self.quiet, self.what, self.bar = quiet, what, None

    def __call__(self, done: int, total: int) -> None:
        if self.quiet:
            return
        if self.bar is None:
            from tqdm import tqdm

            self.bar = tqdm(total=total, unit="row", desc=self.what, dynamic_ncols=True, file=sys.stderr)
        self.bar.update(done - self.bar.n)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def _smoothed(
    args: argparse.Namespace, image: Tensor, guide: Tensor, content: Tensor | None, *, progress: _RowProgress
) -> Tensor:
    """``restyle smooth``'s method applied (``content``: the full-size photo, for upsample)."""
    from restyle import smoothing
    from restyle.matting import MattingLaplacian

    if args.method == "affine":
        return smoothing.local_affine_smoothing(
            image, guide, filter_radius=args.radius or 15, filter_edge=args.edge, stride=args.stride, progress=progress
        )
    if args.method == "matting":
        return smoothing.matting_smoothing(image, MattingLaplacian(guide), beta=args.beta)
    if args.method == "guided":
        return smoothing.guided_filter(guide, image, radius=args.radius or 8, eps=args.eps).clamp(0, 1)
    if args.method == "upsample":  # IMAGE carried up to the content's own size
        return smoothing.guided_upsample(image, guide, content, radius=args.radius or 1, eps=args.eps).clamp(0, 1)
    if args.method == "posterize":
        return smoothing.posterization_refinement(image, guide, radius=args.radius or 8, eps=args.eps)
    return smoothing.bilateral_filter(
        image, guide, radius=args.radius or 5, sigma_color=args.edge, stride=args.stride, progress=progress
    ).clamp(0, 1)


def _run_smooth(args: argparse.Namespace) -> int:
    from restyle.image import load_image, resize, warn_if_stretched
    from restyle.smoothing import SMALLEST_EPS

    for name, value in (("radius", args.radius), ("stride", args.stride)):
        if value is not None:
            check_at_least(value, 1, flag(name))
    if args.eps is None:
        args.eps = 1e-5 if args.method == "upsample" else 0.01
    for name, value in (("eps", args.eps), ("edge", args.edge), ("beta", args.beta)):
        check_positive(value, flag(name))  # each divides or regularises: 0 is singular
    if args.eps < SMALLEST_EPS:  # checked here too, so that the message names the flag, before any work
        raise RestyleError(f"--eps must be at least {SMALLEST_EPS:g}, not {args.eps:g}")
    # smoothing IMAGE in place is allowed
    output = check_writable(args.output, inputs=[args.content], bits=args.bit_depth)
    image = load_image(args.image, max_pixels=args.max_pixels, what="image")
    guide = image
    if args.content is not None:
        content = load_image(args.content, max_pixels=args.max_pixels, what="content")
        warn_if_stretched(content.shape, image.shape, "the content", "the image")
        guide = resize(content, *image.shape[-2:])
    elif args.method in ("affine", "matting", "posterize", "upsample"):
        raise RestyleError(
            f"--method {args.method} needs --content (the photo whose edges to follow){_made_from(args.image)}"
        )
    height, width = image.shape[-2:]
    if args.radius is not None and args.radius > max(height, width):  # a wider window changes nothing, slowly
        raise RestyleError(
            f"--radius {args.radius} is wider than the image ({width}x{height}); use at most {max(height, width)}"
        )
    out_shape = (content if args.method == "upsample" else image).shape[-2:]
    _check_smoothing_memory(args.method, out_shape)
    check_output_side(
        output, max(out_shape), cause=f"the size of {args.content if args.method == 'upsample' else args.image}"
    )
    rows = _RowProgress(args.quiet, f"{args.method} smoothing")
    try:
        out = _smoothed(args, image, guide, content if args.method == "upsample" else None, progress=rows)
    finally:
        rows.close()
    made = {
        "command": "smooth",
        "image": str(args.image),
        "content": None if args.content is None else str(args.content),
    }
    options = {
        "method": args.method,
        "radius": args.radius,
        "eps": args.eps,
        "edge": args.edge,
        "stride": args.stride,
        "beta": args.beta,
    }
    save_image(out, output, metadata=_recorded(made, options), bits=args.bit_depth)
    print(output)
    return 0


def build_parser() -> tuple[argparse.ArgumentParser, dict[str, Callable[[argparse.Namespace], int]]]:
    """The argument parser and, per sub-command, the function that runs it."""
    from restyle.artistic import stylize

    parser = argparse.ArgumentParser(
        prog="restyle",
        description="Neural style transfer: artistic (Gatys) and photorealistic (DPST), on CPU or GPU.",
    )
    parser.add_argument("--version", action="version", version=f"restyle {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    runners: dict[str, Callable[[argparse.Namespace], int]] = {}

    art = sub.add_parser(
        "art",
        help="artistic style transfer (Gatys et al.)",
        epilog=ART_EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Render CONTENT in the style of one or more STYLE images.",
    )
    art.add_argument(
        "content", type=nonempty, metavar="CONTENT", help="content image, or a folder of them (then -o is a folder)"
    )
    art.add_argument("styles", nargs="+", type=nonempty, metavar="STYLE", help="style image(s)")
    _add_common(art)
    art_names = add_signature_flags(art, stylize)
    runners["art"] = lambda args: _run_art(args, art_names)

    from restyle.automask import auto_masks
    from restyle.photo import stylize_photo

    photo = sub.add_parser(
        "photo",
        help="photorealistic style transfer (Deep Photo Style Transfer)",
        epilog=PHOTO_EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Give the CONTENT photo the look of the STYLE photo without making it look painted.",
    )
    photo.add_argument(
        "content", type=nonempty, metavar="CONTENT", help="content photo, or a folder of photos (then -o is a folder)"
    )
    photo.add_argument("style", type=nonempty, metavar="STYLE", help="style photo")
    _add_common(photo)
    photo_names = add_signature_flags(photo, stylize_photo)
    for action in photo._actions:
        if action.dest in SWEEP_OPTIONS:
            action.type = split(float)
            action.metavar = "FLOAT[,...]"
            action.help += " Several comma-separated values run every combination and write a contact sheet."
    runners["photo"] = lambda args: _run_photo(args, photo_names)

    masks = sub.add_parser(
        "masks",
        help="find masks automatically: sub-styles of STYLE matched to regions of CONTENT",
        epilog=MASKS_EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Split STYLE into sub-styles, segment CONTENT the same way and match the two; write "
        "content_mask.png and style_mask.png in DPST's colours (edit them and pass them back with "
        "--content-mask/--style-mask) and matching.json into the output folder.",
    )
    masks.add_argument("content", type=nonempty, metavar="CONTENT", help="content image")
    masks.add_argument("style", type=nonempty, metavar="STYLE", help="style image")
    masks.add_argument("-o", "--output", required=True, type=_path, help="output folder")
    masks_names = add_signature_flags(masks, auto_masks, skip=("device",))
    masks.add_argument("--size", type=whole_number, default=512, help="long side of the masks in pixels (default: 512)")
    masks.add_argument(
        "--device", default="auto", help="auto, cpu, cuda (or cuda:N, a GPU by number) or mps (default: auto)"
    )
    _add_max_pixels(masks)
    masks.add_argument("--quiet", action="store_true", help="do not print the matching")
    runners["masks"] = lambda args: _run_masks(args, masks_names)

    from restyle.video import stylize_video

    video = sub.add_parser(
        "video",
        help="temporally consistent video style transfer (Ruder et al.)",
        epilog=VIDEO_EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Stylise VIDEO (a video file or a folder of frames) in the style of STYLE without flicker.",
    )
    video.add_argument("video", type=nonempty, metavar="VIDEO", help="input video or folder of frames")
    video.add_argument("style", type=nonempty, metavar="STYLE", help="style image")
    video.add_argument(
        "-o", "--output", required=True, type=_path, help="output video (.mp4, .webm, .gif, ...) or folder"
    )
    video.add_argument("--quiet", action="store_true", help="no progress bar")
    video_names = add_signature_flags(video, stylize_video, skip=("output",))
    runners["video"] = lambda args: _run_video(args, video_names)

    serve = sub.add_parser(
        "serve",
        help="start the local web UI (needs: pip install 'restyle[web]')",
        description="Start restyle's web UI (Gradio) on this machine; open the printed address in a browser.",
    )
    serve_names = add_signature_flags(serve, web.serve, skip=("block",))
    runners["serve"] = lambda args: _run_serve(args, serve_names)

    smooth = sub.add_parser(
        "smooth",
        help="edge-aware post-processing of any image",
        epilog=SMOOTH_EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Photorealistic post-processing operators: DPST's local affine smoothing, matting "
        "smoothing, guided filter, posterisation refinement and bilateral filter.",
    )
    smooth.add_argument("image", type=nonempty, metavar="IMAGE", help="image to process")
    smooth.add_argument("--quiet", action="store_true", help="no progress bar")
    smooth.add_argument("--content", type=nonempty, help="the photo whose edges to follow (the guide)")
    _add_output_image(smooth)
    _add_bit_depth(smooth)
    smooth.add_argument(
        "--method",
        choices=("affine", "matting", "guided", "posterize", "bilateral", "upsample"),
        default="affine",
        help="affine (DPST's smooth local affine), matting (closed-form matting smoothing), guided (guided filter), "
        "posterize (DPST's detail refinement), bilateral, or upsample (carry IMAGE up to the size of --content, "
        "a photo it is a photorealistic result of, by guided upsampling); default: affine",
    )
    smooth.add_argument(
        "--radius", type=whole_number, default=None, help="filter radius, at least 1 (default: the method's)"
    )
    smooth.add_argument(
        "--eps",
        type=float,
        default=None,
        help="guided filter regulariser, at least 1e-12 (default: 0.01; upsample: 1e-5)",
    )
    smooth.add_argument(
        "--edge",
        type=float,
        default=0.01,
        help="colour sigma of the bilateral/affine filters on [0, 1] colours (affine: DPST's f_edge; default: 0.01)",
    )
    smooth.add_argument(
        "--stride",
        type=whole_number,
        default=1,
        help="bilateral/affine: use every N-th pixel of the filter window (N^2 times faster, coarser; default: 1)",
    )
    smooth.add_argument("--beta", type=float, default=1e-2, help="matting smoothing strength (default: 0.01)")
    _add_max_pixels(smooth)
    runners["smooth"] = _run_smooth

    info = sub.add_parser(
        "info",
        help="print the parameters a result was made with",
        description="Print the parameters (and seed) stored in a restyle result: an image or a video.",
    )
    info.add_argument("path", type=nonempty, metavar="RESULT", help="a restyle output (image or video)")
    info.add_argument(
        "--command",
        dest="as_command",  # args.command is the sub-command's name
        action="store_true",
        help="print the restyle command that makes the result again (its files as they were named, "
        "its seed) instead of its parameters",
    )
    runners["info"] = _run_info
    return parser, runners


#: Flags a result's command line leaves out: where it writes, and how it shows its progress.
_NOT_RECORDED = ("help", "output", "quiet", "save_every")


def _flag_words(action: argparse.Action, value: Any) -> list[str]:
    """``value`` as the words of ``action``'s flag (empty when it is the flag's default)."""
    default = list(action.default) if isinstance(action.default, (list, tuple)) else action.default
    if value is None or value == default:
        return []
    option = next(o for o in action.option_strings if o.startswith("--"))
    if isinstance(action, argparse.BooleanOptionalAction):
        return [option if value else "--no-" + option[2:]]
    if isinstance(value, (list, tuple)):
        return [option, ",".join(map(str, value))]
    return [option, str(value)]


def _made_from(path: str) -> str:
    """For a message: "; IMAGE was made from PHOTO: --content PHOTO" when IMAGE is a restyle
    result whose content photo is at hand from here (not a web upload, since deleted), else ""."""
    from restyle.image import SAMPLE_PREFIX

    try:
        meta = read_metadata(path)
    except (RestyleError, OSError, ValueError):
        return ""
    content = meta.get("content")
    if meta.get("restyle_web") or not isinstance(content, str):
        return ""
    if not (content.startswith(SAMPLE_PREFIX) or Path(content).is_file()):
        return ""
    return f"; {path} was made from {content}: --content {shlex.quote(content)}"


def result_command(meta: dict[str, Any], path: Path, *, output: Path | None = None) -> tuple[list[str], list[str]]:
    """The command line that makes the result at ``path`` again, from its metadata ``meta``
    (:func:`~restyle.image.read_metadata`), and notes on what it cannot carry over.

    Every recorded parameter that is a flag of the result's sub-command and differs from the
    flag's default is given, the seed among them; the inputs keep the names they were given
    (relative paths are relative to where the result was made). The output is ``path``'s name
    with ``-again``, beside it (for a frame of a folder output, the folder's). For a web UI
    result, whose uploads were temporary, CONTENT and STYLE (VIDEO), and CONTENT_MASK and
    STYLE_MASK for painted masks, stand in for the files. ``output`` replaces the output's name.

    Example:
        >>> result_command({"command": "art", "content": "a.jpg", "styles": ["b.jpg"], "seed": 7},
        ...                Path("out.png"))[0]
        ['restyle', 'art', 'a.jpg', 'b.jpg', '-o', 'out-again.png', '--seed', '7']
    """
    from restyle.clip import VIDEO_SUFFIXES
    from restyle.image import IN_MEMORY, SAMPLE_PREFIX, holds_deep_colour

    web_tab = meta.get("restyle_web")
    command = meta.get("command") or web_tab or ("video" if "video" in meta else None)
    parser, _ = build_parser()
    commands = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction)).choices
    if command not in ("art", "photo", "video", "smooth", "masks"):
        raise RestyleError(f"{path}: its parameters name no restyle command to run again")
    sub = commands[command]
    words = ["restyle", command]
    notes = []
    stand_ins = []  # a web upload's place: the user's own file goes there
    for action in sub._actions:  # the inputs, in order
        if not action.option_strings:
            value = None if web_tab else meta.get(action.dest)  # a web upload's path was temporary
            if action.dest == "styles":  # None for an uploaded style
                names = meta.get("styles") or [None] * len(meta.get("style_blend") or [None])
                places = ["STYLE"] if len(names) == 1 else [f"STYLE{i + 1}" for i in range(len(names))]
                given = [None if web_tab or name == IN_MEMORY else name for name in names]
                value = [place if name is None else name for name, place in zip(given, places)]
                stand_ins += [place for name, place in zip(given, places) if name is None]
            elif value is None or value == IN_MEMORY:
                value = action.dest.upper()
                stand_ins.append(value)
            words += [str(v) for v in value] if isinstance(value, list) else [str(value)]
    missing = [w for w in words[2:] if w not in stand_ins and not w.startswith(SAMPLE_PREFIX) and not Path(w).exists()]
    if missing:
        notes.append(f"not found from here: {', '.join(missing)}; run it where the result was made")
    stem = path.stem.rsplit(".", 1)[0] if meta.get("status") == "snapshot" else path.stem  # OUT.00040 -> OUT
    sweep = meta.get("sweep")
    if isinstance(sweep, dict) and any(isinstance(v, list) for v in sweep.values()):  # a sweep's contact sheet
        meta = {**meta, **sweep}  # the command runs the sweep again: every result, and the sheet
        stem = path.stem.removesuffix("_sheet")
    again = name_beside(path.with_name(stem), f"-again{path.suffix}", hidden=False)  # cut to fit, if need be
    if command == "masks" or (command == "video" and path.suffix.lower() not in VIDEO_SUFFIXES):  # in a folder output
        folder = path.resolve().parent
        again = name_beside(folder, "-again", hidden=False)
    words += ["-o", str(output or again)]
    # masks painted in the web UI were saved to its temporary folder; the Python API's inputs
    # (masks, an init image) may have been given in memory
    painted = {k: k.upper() for k in ("content_mask", "style_mask") if meta.get(k) and web_tab}
    flags = {action.dest for action in sub._actions if action.option_strings}  # the inputs' places are set above
    painted.update({k: k.upper() for k, v in meta.items() if v == IN_MEMORY and k in flags})
    meta = {**meta, **painted}
    stand_ins += painted.values()
    for action in sub._actions:
        if action.option_strings and action.dest not in _NOT_RECORDED and action.dest in meta:
            words += _flag_words(action, meta[action.dest])
    if "bit_depth" not in meta and command != "video" and holds_deep_colour(path):
        words += ["--bit-depth", "16"]  # an image's depth is its file's
    places = ", ".join(stand_ins[:-1]) + " and " + stand_ins[-1] if len(stand_ins) > 1 else "".join(stand_ins)
    if web_tab:
        notes.append(f"made in the web UI: put your files in place of {places}")
        if meta.get("content_mask") or meta.get("style_mask"):
            notes.append(
                "its masks were painted in the web UI: save them as images for --content-mask and --style-mask"
            )
    elif stand_ins:  # the Python API, given images in memory
        notes.append(f"made from images given in memory: put your files in place of {places}")
    if meta.get("status") == "snapshot":
        notes.append(f"a snapshot of iteration {meta.get('iteration')}; this command makes the whole run")
    elif meta.get("status", "done") != "done":
        notes.append(f"that run stopped early ({meta['status']}); this one runs in full")
    if meta.get("restyle_version") not in (None, __version__):
        notes.append(f"made by restyle {meta['restyle_version']}, run by {__version__}: the result may differ")
    return words, notes


def _run_info(args: argparse.Namespace) -> int:
    """Print the parameters a result was made with (an image's or a video's metadata)."""
    from restyle.image import SAMPLE_PREFIX, sample_path

    if args.path.startswith(SAMPLE_PREFIX):
        sample_path(args.path[len(SAMPLE_PREFIX) :])  # an unknown name: its own error, with the choices
        raise RestyleError(
            f"{args.path}: a built-in sample photo, not a restyle result; it holds no restyle parameters"
        )
    path = Path(args.path)
    if path.is_dir():
        raise RestyleError(f"{path}: is a folder; give one of the results in it")
    if not path.is_file():
        raise no_such_file(path)
    try:
        meta = read_metadata(path)
    except (OSError, SyntaxError, ValueError):
        raise RestyleError(f"{path}: not an image or video restyle can read") from None
    if not meta:
        raise RestyleError(f"{path}: holds no restyle parameters (not a restyle result?)")
    if args.as_command:
        words, notes = result_command(meta, path)
        for note in notes:
            print(f"restyle: note: {note}", file=sys.stderr)
        print(shlex.join(words))
        return 0
    print(json.dumps(meta, indent=2, sort_keys=True, ensure_ascii=False))
    return 0


def _on_sigint(signum: int, frame: Any) -> None:
    """First Ctrl-C: ask the running optimisation (or video) to stop at its next step and keep
    its best result. Second Ctrl-C, or one before any optimisation has started (the images being
    read, a command without steps): stop at once."""
    from restyle.optim import STOP, UNDER_WAY

    if STOP.is_set() or not UNDER_WAY.is_set():
        raise KeyboardInterrupt
    from tqdm import tqdm

    STOP.set()
    # on a line of its own above the progress bar, not at the end of the bar's line
    tqdm.write("restyle: stopping after this step (Ctrl-C again to quit now)", file=sys.stderr)


def _unrecognized(parser: argparse.ArgumentParser, command: str | None, argv: list[str], extra: list[str]) -> str:
    """argparse's "unrecognized arguments" message, with the fix when they follow the value of
    an option that takes several values joined by commas (``--style-weight 100 1000``)."""
    message = f"unrecognized arguments: {' '.join(extra)}"
    subparsers = next((a for a in parser._actions if isinstance(a, argparse._SubParsersAction)), None)
    if command is None or subparsers is None:
        return message
    listed = {
        option: action
        for action in subparsers.choices[command]._actions
        if getattr(action.type, "__name__", "").startswith("comma-separated")
        for option in action.option_strings
    }
    for index, token in enumerate(argv):
        option, joined, value = token.partition("=")
        if option not in listed:
            continue
        values = [value] if joined else argv[index + 1 : index + 2]
        rest = index + (1 if joined else 2)
        while rest < len(argv) and argv[rest] in extra and _parses(listed[option], argv[rest]):
            values.append(argv[rest])  # a value given apart, which argparse left over
            rest += 1
        if len(values) > 1:
            return f"{message} ({option} takes its values joined by commas: {option} {','.join(values)})"
    return message


def _parses(action: argparse.Action, text: str) -> bool:
    """Whether ``text`` is a value of ``action``'s type."""
    try:
        action.type(text)  # type: ignore[misc]
    except (ValueError, TypeError, argparse.ArgumentTypeError):
        return False
    return True


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; returns the exit status."""
    import signal
    import threading

    from restyle.optim import STOP, UNDER_WAY

    warnings.showwarning = _print_warning
    _WARNED.clear()
    parser, runners = build_parser()
    args, extra = parser.parse_known_args(argv)
    if extra:
        parser.error(_unrecognized(parser, args.command, list(sys.argv[1:] if argv is None else argv), extra))
    if args.command is None:
        parser.print_help(sys.stderr)
        return 2
    # Ctrl-C asks a run to stop at its next step (a server stops at once: _run_serve's own
    # handler). SIGTERM (timeout, a job scheduler, docker stop) stops it at once, as a second
    # Ctrl-C does: a run keeps its best iterate, a video its finished frames. Python's default
    # was to die on the spot, the best iterate lost.
    in_main_thread = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGINT, _on_sigint) if in_main_thread else None
    previous_term = signal.signal(signal.SIGTERM, _interrupt) if in_main_thread else None
    STOP.clear()
    UNDER_WAY.clear()
    try:
        return runners[args.command](args)
    except RestyleError as exc:
        print(f"restyle: error: {exc}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        print(f"restyle: {NOTHING_WRITTEN}", file=sys.stderr)
        return EXIT_INTERRUPTED
    except (MemoryError, RuntimeError) as exc:  # PyTorch reports a failed allocation as a RuntimeError
        if not is_out_of_memory(exc):
            raise
        print(f"restyle: error: {OUT_OF_MEMORY}", file=sys.stderr)
        return EXIT_ERROR
    except OSError as exc:
        if exc.filename is None or isinstance(exc, BrokenPipeError):
            raise
        # a path the system refuses wherever restyle looks at it: a name too long, a folder it
        # may not search, a loop of symbolic links; in the system's words
        print(f"restyle: error: {refused_path(exc)}", file=sys.stderr)
        return EXIT_ERROR
    finally:
        STOP.clear()
        UNDER_WAY.clear()
        if in_main_thread:
            signal.signal(signal.SIGINT, previous)
            signal.signal(signal.SIGTERM, previous_term)


#: The exit status of a command whose output's reader went away (``restyle info R | head``):
#: 128 + SIGPIPE, as for a Unix tool that the signal stops.
EXIT_BROKEN_PIPE = 141


def entry() -> None:
    """Console-script entry point."""
    try:
        code = main()
        sys.stdout.flush()  # here, so that a closed pipe is met inside the try
    except BrokenPipeError:  # the reader of the output closed it: stop quietly, as Unix tools do
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # Python's flush at exit would fail again
        code = EXIT_BROKEN_PIPE
    sys.exit(code)
