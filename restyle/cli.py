"""The ``restyle`` command.

Sub-commands map one-to-one onto library entry points, and their flags are derived from those
entry points' signatures (see :mod:`restyle.signature`), so the CLI and the API never disagree.
Every error a user can cause is reported as one line on stderr with a non-zero exit status.
"""

from __future__ import annotations

import argparse
import sys
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from restyle import __version__
from restyle.errors import RestyleError
from restyle.image import check_writable, save_image
from restyle.signature import add_signature_flags, signature_kwargs

EXIT_ERROR = 1
EXIT_INTERRUPTED = 130

ART_EXAMPLES = """examples:
  restyle art photo.jpg starry.jpg -o out.png
  restyle art photo.jpg a.jpg b.jpg --style-blend 2,1 -o blend.png
  restyle art photo.jpg starry.jpg --preserve-color luminance --size 768 -o out.jpg
  restyle art photo.jpg starry.jpg --init noise --seed 7 --no-pyramid --iterations 500 -o out.png
"""


def _print_warning(
    message: Warning | str,
    category: type[Warning],
    filename: str,
    lineno: int,
    file: Any = None,
    line: str | None = None,
) -> None:
    print(f"restyle: warning: {message}", file=sys.stderr)


class _Progress:
    """A tqdm bar over all iterations of a run, plus ``--save-every`` snapshots."""

    def __init__(self, output: Path, save_every: int, quiet: bool) -> None:
        self.output = output
        self.save_every = save_every
        self.quiet = quiet
        self.bar: Any = None

    def __call__(self, it: Any) -> None:
        if self.bar is None and not self.quiet:
            from tqdm import tqdm

            self.bar = tqdm(total=it.steps, unit="it", dynamic_ncols=True, file=sys.stderr)
        if self.bar is not None:
            h, w = it.size
            self.bar.set_description(f"scale {it.scale + 1}/{it.scales} {w}x{h}", refresh=False)
            self.bar.set_postfix({k: f"{v:.3g}" for k, v in it.losses.items()}, refresh=False)
            self.bar.update(it.step - self.bar.n)
        if self.save_every and it.step % self.save_every == 0:
            snapshot = self.output.with_name(f"{self.output.stem}.{it.step:05d}{self.output.suffix}")
            save_image(it.image, snapshot)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def _add_common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-o", "--output", required=True, type=Path, help="output image (.png, .jpg or .tif)")
    parser.add_argument(
        "--save-every",
        type=int,
        default=0,
        metavar="N",
        help="also write the current iterate every N iterations as OUTPUT.NNNNN.png",
    )
    parser.add_argument("--quiet", action="store_true", help="no progress bar")


def _finish(result: Any, output: Path, extra: dict[str, Any]) -> int:
    params = {"restyle_version": __version__, **extra, **result.params}
    save_image(result.image, output, metadata=params)
    if result.status == "interrupted":
        print(f"restyle: {result.message}; saved {output}", file=sys.stderr)
        return EXIT_INTERRUPTED
    if result.status == "nonfinite":
        print(f"restyle: warning: {result.message}; saved {output}", file=sys.stderr)
    else:
        print(output)
    return 0


def _run_art(args: argparse.Namespace, names: Sequence[str]) -> int:
    from restyle.artistic import stylize

    output = check_writable(args.output)
    progress = _Progress(output, args.save_every, args.quiet)
    try:
        result = stylize(args.content, args.styles, callback=progress, **signature_kwargs(args, names))
    finally:
        progress.close()
    extra = {"command": "art", "content": str(args.content), "styles": [str(s) for s in args.styles]}
    return _finish(result, output, extra)


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
    art.add_argument("content", help="content image")
    art.add_argument("styles", nargs="+", metavar="STYLE", help="style image(s)")
    _add_common(art)
    art_names = add_signature_flags(art, stylize)
    runners["art"] = lambda args: _run_art(args, art_names)
    return parser, runners


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; returns the exit status."""
    warnings.showwarning = _print_warning
    parser, runners = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help(sys.stderr)
        return 2
    try:
        return runners[args.command](args)
    except RestyleError as exc:
        print(f"restyle: error: {exc}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        print("restyle: interrupted before any result; nothing written", file=sys.stderr)
        return EXIT_INTERRUPTED
    except MemoryError:
        print("restyle: error: out of memory; try a smaller --size", file=sys.stderr)
        return EXIT_ERROR


def entry() -> None:
    """Console-script entry point."""
    sys.exit(main())
