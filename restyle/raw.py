"""Camera RAW photos (DNG, CR2, CR3, NEF, ARW, RAF, ORF, RW2, ...), developed by LibRaw.

LibRaw comes with ``rawpy``, the ``raw`` extra (``pip install 'restyle[raw]'``). A RAW file is
recognised by its suffix (:data:`RAW_SUFFIXES`) and never handed to Pillow: a DNG, CR2, NEF or
ARW is a TIFF whose first image is usually a small preview, which Pillow would read in place of
the photo.

How a RAW file is developed (``rawpy``'s ``postprocess``): the white balance the camera
recorded, the camera's colour matrix to sRGB, sRGB's tone curve, 16 bits per channel, LibRaw's
default brightening (scaled so that the brightest 1% of pixels clip) and its default
demosaicing. When the caller asks for a long side at most half the photo's, each 2x2 cell of the
sensor becomes one pixel instead (LibRaw's half size: four times less work, no demosaicing).
A raw editor does more: a camera-specific tone curve, lens corrections, noise reduction; for its
look, export a JPEG or TIFF from it.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from restyle.errors import RestyleError

__all__ = ["RAW_SUFFIXES", "is_raw", "raw_size", "raw_support", "read_raw", "without_raw_twins"]

#: Suffixes of the camera RAW formats LibRaw reads (Adobe, Canon, Nikon, Sony, Fujifilm,
#: Olympus/OM, Panasonic, Pentax, Samsung, Hasselblad, Phase One, Leica, Minolta, Kodak, Sigma).
RAW_SUFFIXES = (
    ".dng", ".cr2", ".cr3", ".crw", ".nef", ".nrw", ".arw", ".srf", ".sr2", ".raf", ".orf", ".rw2",
    ".pef", ".srw", ".3fr", ".fff", ".iiq", ".rwl", ".mrw", ".kdc", ".dcr", ".erf", ".mef", ".mos", ".x3f",
)  # fmt: skip


def is_raw(path: str | os.PathLike) -> bool:
    """Whether a file is a camera RAW photo, by its suffix: one for LibRaw, never for Pillow.

    Example:
        >>> is_raw("IMG_0001.CR3"), is_raw("IMG_0001.JPG")
        (True, False)
    """
    return Path(path).suffix.lower() in RAW_SUFFIXES


def without_raw_twins(files: Sequence[Path]) -> tuple[list[Path], list[Path]]:
    """``files`` (one folder's) without the RAW files beside an image of the same name, and those
    RAW files: a camera set to RAW+JPEG writes both, and the JPEG is the photo as the camera
    developed it. A folder run stylises the JPEG alone, and a folder of frames has each moment
    once.

    Example:
        >>> kept, twins = without_raw_twins([Path("a.jpg"), Path("a.CR3"), Path("b.nef")])
        >>> [p.name for p in kept], [p.name for p in twins]
        (['a.jpg', 'b.nef'], ['a.CR3'])
    """
    developed = {path.stem.lower() for path in files if not is_raw(path)}
    twins = [path for path in files if is_raw(path) and path.stem.lower() in developed]
    return [path for path in files if path not in twins], twins


@functools.cache
def raw_support() -> bool:
    """Whether camera RAW files can be read: ``rawpy`` installed (``restyle[raw]``)."""
    try:
        import rawpy  # noqa: F401
    except ImportError:
        return False
    return True


def _reason(exc: Exception) -> str:
    """LibRaw's message, which rawpy hands over as bytes."""
    first = exc.args[0] if exc.args else None
    text = first.decode(errors="replace") if isinstance(first, bytes) else str(exc)
    return text or type(exc).__name__


def _open(path: Path) -> Any:  # a rawpy.RawPy
    if not raw_support():
        raise RestyleError(
            f"{path}: a camera RAW file; reading it needs rawpy: pip install 'restyle[raw]' "
            "(or export it from your raw editor as a JPEG or TIFF)"
        )
    import rawpy

    try:
        return rawpy.imread(os.fspath(path))
    except (rawpy.LibRawError, OSError) as exc:
        raise RestyleError(f"{path}: not a RAW file LibRaw can read ({_reason(exc)})") from None


def raw_size(path: str | os.PathLike) -> tuple[int, int]:
    """The ``(width, height)`` of a RAW photo as :func:`read_raw` develops it at full size
    (turned upright by the orientation the camera recorded), from its header.

    Raises:
        RestyleError: without rawpy, or for a file LibRaw cannot read.
    """
    with _open(Path(path)) as raw:
        sizes = raw.sizes
        width, height = sizes.width, sizes.height
        turned = sizes.flip & 4  # LibRaw's flips 5 and 6 are quarter turns
    return (height, width) if turned else (width, height)


def read_raw(path: str | os.PathLike, *, half_size: bool = False) -> np.ndarray:
    """Develop a camera RAW photo (see the module's docstring for how).

    Args:
        path: the RAW file.
        half_size: one pixel per 2x2 sensor cell: half the width and height, no demosaicing.

    Returns:
        Float32 sRGB ``(H, W, 3)`` in [0, 1], upright.

    Raises:
        RestyleError: without rawpy, or for a file LibRaw cannot read or decode.
    """
    path = Path(path)
    with _open(path) as raw:
        import rawpy  # there: _open checked

        try:
            rgb = raw.postprocess(
                use_camera_wb=True,
                output_color=rawpy.ColorSpace.sRGB,
                gamma=(2.4, 12.92),  # sRGB's curve (LibRaw's default is BT.709's)
                output_bps=16,
                half_size=half_size,
            )
        except (rawpy.LibRawError, OSError) as exc:
            raise RestyleError(f"{path}: the RAW data cannot be decoded ({_reason(exc)})") from None
    return rgb.astype(np.float32) / 65535.0
