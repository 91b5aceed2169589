"""Reading, resizing and writing images, and the parameters they carry.

Images inside restyle are float32 tensors of shape ``(1, 3, H, W)`` holding RGB in [0, 1].
Everything a user hands in (a path, a PIL image, a numpy array, a tensor) goes through
:func:`load_image`; everything written goes through :func:`save_image`, which writes atomically
(a temporary file in the same folder, then a rename) so that no partial file is ever left.
"""

from __future__ import annotations

import contextlib
import functools
import io
import json
import logging
import math
import os
import re
import reprlib
import tempfile
import threading
import warnings
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image, ImageCms, ImageFile, ImageOps, PngImagePlugin
from torch import Tensor

from restyle import hdr
from restyle.bitdepth import BIT_DEPTHS, DEEP_FORMATS, encode_png16, to_uint16, write_tiff16
from restyle.dequantise import dequantise as smooth_steps
from restyle.dequantise import dequantise_from, on_grid
from restyle.errors import (
    ArgumentTypeError,
    RestyleError,
    check_at_least,
    check_path_given,
    home_hint,
    no_such_file,
)
from restyle.files import atomic_write, check_lookup, check_not_an_input, check_replaceable, written_path
from restyle.icc import read_matrix_shaper, srgb_profile
from restyle.icc import to_srgb as icc_to_srgb
from restyle.raw import RAW_SUFFIXES, is_raw, raw_size, read_raw
from restyle.signature import check_arguments
from restyle.yuv import yuv_to_rgb

__all__ = [
    "DEFAULT_MAX_PIXELS",
    "IMAGE_SUFFIXES",
    "IN_MEMORY",
    "MAX_SIDE",
    "SAMPLES",
    "ImageLike",
    "RestyleWarning",
    "camera_exif",
    "check_long_side",
    "check_output_folder",
    "check_output_side",
    "check_pixels",
    "check_work_size",
    "check_writable",
    "heif_support",
    "holds_deep_colour",
    "image_files",
    "image_size",
    "jpeg_scale",
    "load_image",
    "load_style",
    "named_sample",
    "read_metadata",
    "resize",
    "resize_long_side",
    "sample_path",
    "save_image",
    "smoothed_jpeg_pair",
    "source_name",
    "style_shape",
    "to_pil",
    "to_uint8",
    "upright_pil",
    "warn_if_enlarged",
    "warn_if_stretched",
]

#: Default limit on the pixels of an input image (about 8000 x 6000).
DEFAULT_MAX_PIXELS = 50_000_000
#: An image may exceed --max-pixels by up to this factor when it is downscaled while reading.
_DOWNSCALE_ALLOWANCE = 4

#: The image files restyle takes from a folder (of photos, or of video frames), by suffix.
IMAGE_SUFFIXES = (
    ".png", ".jpg", ".jpeg", ".tif", ".tiff", ".webp", ".bmp", ".heic", ".heif", ".avif", *RAW_SUFFIXES,
)  # fmt: skip
WRITABLE_SUFFIXES = {
    ".png": "PNG",
    ".jpg": "JPEG",
    ".jpeg": "JPEG",
    ".tif": "TIFF",
    ".tiff": "TIFF",
    ".webp": "WEBP",
}
#: The longest side each format can store: WebP's dimensions have 14 bits, and libjpeg stops
#: at 65,500 pixels (PNG and TIFF take far more than restyle makes).
MAX_SIDE = {"JPEG": 65_500, "WEBP": 16_383}


def check_output_side(path: str | os.PathLike, long_side: int, *, cause: str = "") -> None:
    """Fail now, before any computation, if an image with a long side of ``long_side`` pixels is
    larger than ``path``'s format can store (:data:`MAX_SIDE`); ``cause`` says what makes it that
    large (``"--size 20000"``), for the message.

    Example:
        >>> check_output_side("out.webp", 16_383)
        >>> check_output_side("out.webp", 20_000, cause="--size 20000")
        Traceback (most recent call last):
        ...
        restyle.errors.RestyleError: out.webp: a WebP image holds at most 16383 pixels a side, and this one has 20000 (--size 20000); write .png or .tif
    """
    fmt = WRITABLE_SUFFIXES.get(Path(path).suffix.lower())
    limit = MAX_SIDE.get(fmt or "")
    if limit is not None and long_side > limit:
        name = {"WEBP": "WebP"}.get(fmt, fmt)
        why = f" ({cause})" if cause else ""
        raise RestyleError(
            f"{path}: a {name} image holds at most {limit} pixels a side, and this one has {long_side}{why}; "
            "write .png or .tif"
        )


#: The PIL modes :func:`save_image` writes as they are, per format: 8-bit modes the format
#: stores (WebP's encoder takes the rest of these as RGB or RGBA). Other modes (float, 16-bit,
#: CMYK, transparency in a JPEG) are brought to sRGB RGB first, as an input is.
_OWN_MODES = {
    "PNG": frozenset({"1", "L", "LA", "P", "RGB", "RGBA"}),
    "JPEG": frozenset({"1", "L", "RGB"}),
    "TIFF": frozenset({"1", "L", "LA", "P", "RGB", "RGBA"}),
    "WEBP": frozenset({"1", "L", "LA", "P", "RGB", "RGBA"}),
}

ImageLike = str | os.PathLike | Image.Image | np.ndarray | Tensor

#: Built-in sample photos (from scikit-image), usable wherever a path is: ``sample:astronaut``.
SAMPLES = {
    "astronaut": "astronaut.png",
    "chelsea": "chelsea.png",
    "coffee": "coffee.png",
    "rocket": "rocket.jpg",
    "hubble": "hubble_deep_field.jpg",
    "ihc": "ihc.png",
    "retina": "retina.jpg",
    "motorcycle": "motorcycle_left.png",
}
SAMPLE_PREFIX = "sample:"


def sample_path(name: str) -> Path:
    """The file of a built-in sample photo (see :data:`SAMPLES`)."""
    if name not in SAMPLES:
        raise RestyleError(f"unknown sample {name!r}: choose from {', '.join(sorted(SAMPLES))}")
    import importlib.resources

    return Path(str(importlib.resources.files("skimage.data").joinpath(SAMPLES[name])))


def _as_sample(what: object) -> object:
    """``sample:NAME`` for the file of a built-in sample photo, as the user named it (not its
    path inside the installed packages); anything else as it is."""
    if isinstance(what, Path):
        for name, file in SAMPLES.items():
            if what.name == file and what == sample_path(name):
                return SAMPLE_PREFIX + name
    return what


class RestyleWarning(UserWarning):
    """Something the user should know about that did not stop the work."""


#: A side no image has; a size or scale beyond it is reported without its pixel count.
_ABSURD_SIDE = 10_000_000

#: How an image over ``--max-pixels``, or refused as a decompression bomb, can be read anyway.
TRUST_HINT = "pass a larger --max-pixels if you trust this file"


def _megapixels(pixels: int) -> str:
    """A pixel count for a message: megapixels, or the count itself below 0.1 MP.

    Example:
        >>> _megapixels(24_000_000), _megapixels(9216)
        ('24.0 MP', '9216 pixels')
    """
    return f"{pixels / 1e6:.1f} MP" if pixels >= 100_000 else f"{pixels} pixels"


def _warn(message: str) -> None:
    warnings.warn(message, RestyleWarning, stacklevel=3)


@contextlib.contextmanager
def _pil_pixel_limit(limit: int) -> Iterator[None]:
    # We enforce our own limit (with a clear message), so PIL's own bomb check must not fire
    # first, nor its warning print beside our error.
    old = Image.MAX_IMAGE_PIXELS
    Image.MAX_IMAGE_PIXELS = max(limit * _DOWNSCALE_ALLOWANCE, old or 0)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            yield
    finally:
        Image.MAX_IMAGE_PIXELS = old


@contextlib.contextmanager
def _libtiff_messages(active: bool) -> Iterator[list[str]]:
    """Catch what a C library prints on the process's stderr while ``active``: libtiff, inside
    Pillow, prints why a compressed TIFF fails to decode ("Using code not yet in table."), which
    would stand beside restyle's one-line error. The lines are given to the caller, to put in
    that error, and not printed."""
    messages: list[str] = []
    if not active:
        yield messages
        return
    try:
        saved = os.dup(2)
    except OSError:  # no stderr to redirect
        yield messages
        return
    with tempfile.TemporaryFile() as sink:
        os.dup2(sink.fileno(), 2)
        try:
            yield messages
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            sink.seek(0)
            text = sink.read().decode("utf-8", errors="replace")
            # libtiff names the file as Pillow opened it ("tempfile.tif: ...")
            messages.extend(line.split(": ", 1)[-1].strip() for line in text.splitlines() if line.strip())


def _is_srgb(profile: bytes) -> bool:
    """Whether an ICC profile describes itself as sRGB (then colours are kept as they are)."""
    try:
        source = ImageCms.ImageCmsProfile(io.BytesIO(profile))
        return ImageCms.getProfileDescription(source).strip().lower().startswith("srgb")
    except (ImageCms.PyCMSError, OSError, ValueError, TypeError):
        return False


def _to_srgb(img: Image.Image, what: str) -> Image.Image:
    """Colours in the image's embedded ICC profile (Display P3, Adobe RGB, a CMYK press
    profile) converted to sRGB, which the network was trained on and which every output is
    read as. Untagged and sRGB-tagged images are left as they are; so are grey ones (their
    profile changes only the tone curve)."""
    icc = img.info.get("icc_profile")
    if not icc and img.info.get("nclx_profile") and img.mode in ("RGB", "RGBA"):
        return _nclx_to_srgb(img, img.info["nclx_profile"])
    if not icc or img.mode not in ("RGB", "RGBA", "CMYK") or _is_srgb(icc):
        return img
    try:
        source = ImageCms.ImageCmsProfile(io.BytesIO(icc))
        srgb = ImageCms.ImageCmsProfile(io.BytesIO(srgb_profile()))
        return ImageCms.profileToProfile(img, source, srgb, outputMode="RGBA" if img.mode == "RGBA" else "RGB")
    except (ImageCms.PyCMSError, OSError, ValueError, TypeError):
        _warn(f"{what}: its colour profile cannot be read; taking its colours as sRGB")
        return img


#: The transfer characteristics of an nclx colour description (ISO/IEC 23091-2) that are HDR.
_NCLX_HDR = {16: "pq", 18: "hlg"}


def _nclx_to_srgb(img: Image.Image, nclx: Mapping[str, Any]) -> Image.Image:
    """A HEIF photo whose colours are described by code points (nclx) rather than an ICC
    profile, in sRGB (see :func:`_nclx_rgb_to_srgb`)."""
    rgb = np.asarray(img.convert("RGB"), dtype=np.float32) / 255.0
    out = _nclx_rgb_to_srgb(rgb, nclx)
    if out is None:
        return img
    converted = Image.fromarray((out * 255.0).round().astype(np.uint8))
    if img.mode == "RGBA":
        converted.putalpha(img.getchannel("A"))
    return converted


def _nclx_rgb_to_srgb(rgb: np.ndarray, nclx: Mapping[str, Any]) -> np.ndarray | None:
    """Float RGB ``(H, W, 3)`` in [0, 1] whose colours an nclx description gives, in sRGB:
    wide-gamut primaries (Display P3, BT.2020) converted, an HDR curve (PQ, HLG) shown as an SDR
    screen shows it (:mod:`restyle.hdr`; its SDR signal is for a gamma-2.4 display, which sRGB's
    curve is close to). None for BT.709/sRGB colours, and for a description that cannot be read."""
    try:
        red, green, blue = (
            (float(nclx[f"color_primary_{c}_x"]), float(nclx[f"color_primary_{c}_y"])) for c in ("red", "green", "blue")
        )
        transfer = int(nclx.get("transfer_characteristics", 2))
    except (KeyError, TypeError, ValueError):
        return None
    primaries = (red, green, blue)
    curve = _NCLX_HDR.get(transfer)
    if curve is None and np.allclose(primaries, hdr.BT709, atol=1e-3):
        return None
    signal = torch.from_numpy(np.ascontiguousarray(rgb, dtype=np.float32))
    out = (
        hdr.wide_gamut_to_srgb(signal, primaries)
        if curve is None
        else hdr.hdr_to_sdr(signal, curve, primaries=primaries)
    )
    return out.numpy()


def _pil_to_array(img: Image.Image, what: str = "image", *, icc: bool = True) -> np.ndarray:
    """Any PIL mode to float32 RGB in [0, 1], in sRGB if ``icc`` (see :func:`_to_srgb`),
    compositing transparency on white."""
    if icc:
        img = _to_srgb(img, what)
    if img.mode == "La":  # premultiplied grey, which Pillow converts only to LA
        img = img.convert("LA")
    mode = img.mode
    if mode in ("I;16", "I;16B", "I;16L", "I;16N"):
        arr = np.asarray(img, dtype=np.float32) / 65535.0
        return np.repeat(arr[..., None], 3, axis=2)
    if mode in ("I", "F"):
        arr = np.asarray(img, dtype=np.float32)
        _check_finite(arr, what)
        high = arr.max(initial=0)
        # the scale is guessed from the values: floats up to 1 are 0..1 (a float TIFF's usual
        # scale; as 0..255 it would be black), else 8 or 16 bits
        top = 1.0 if mode == "F" and high <= 1.0 else 65535.0 if high > 255 else 255.0
        arr = np.clip(arr / top, 0.0, 1.0)
        return np.repeat(arr[..., None], 3, axis=2)
    if mode == "P" or mode in ("LA", "PA", "RGBa"):
        img = img.convert("RGBA")
    if img.mode == "RGBA":
        white = Image.new("RGBA", img.size, (255, 255, 255, 255))
        img = Image.alpha_composite(white, img)
    img = img.convert("RGB")  # L, 1, CMYK, YCbCr, LAB, HSV, RGB
    return np.asarray(img, dtype=np.float32) / 255.0


#: How far outside 0..1 a float image may reach and still be clipped quietly (a resampling
#: filter's overshoot); beyond, it is on another scale and clipping would ruin it.
_FLOAT_SLACK = 0.5


def _check_finite(values: np.ndarray | Tensor, what: str) -> None:
    if not bool((values.isfinite() if isinstance(values, Tensor) else np.isfinite(values)).all()):
        raise RestyleError(f"{what}: the image contains NaN or infinite values")


def _check_values(values: np.ndarray | Tensor, what: str) -> None:
    """Refuse an in-memory image with NaN or infinite values, or one whose floats are not on
    the 0..1 scale (e.g. 0..255 values, which clipping would turn white).

    Example:
        >>> _check_values(np.array([-0.02, 1.03]), "content")
        >>> _check_values(torch.tensor([0.0, 254.0]), "content")
        Traceback (most recent call last):
        ...
        restyle.errors.RestyleError: content: a float image must be on a 0..1 scale, but its values run from 0 to 254 (divide 0..255 values by 255)
    """
    _check_finite(values, what)
    if math.prod(values.shape) == 0:
        return
    low, high = float(values.min()), float(values.max())
    if low < -_FLOAT_SLACK or high > 1.0 + _FLOAT_SLACK:
        if high <= 1.0 + _FLOAT_SLACK:  # only the low end is out: -1..1, as many models give
            fix = "map -1..1 values with (x + 1) / 2"
        elif low >= -_FLOAT_SLACK:
            fix = "divide 0..255 values by 255"
        else:  # both ends: a normalised tensor (ImageNet's mean and deviation taken out, say)
            fix = "undo the normalisation: multiply by its standard deviation and add its mean"
        raise RestyleError(
            f"{what}: a float image must be on a 0..1 scale, but its values run from {low:.3g} to {high:.3g} ({fix})"
        )


def _array_to_rgb(arr: np.ndarray, *, what: str) -> np.ndarray:
    """An (H, W), (H, W, 1|3|4) or (1|3|4, H, W) array of uint8/uint16/float to float32 RGB [0, 1]."""
    if arr.ndim == 3 and arr.shape[0] in (1, 3, 4) and arr.shape[2] not in (1, 3, 4):
        arr = np.moveaxis(arr, 0, 2)
    if arr.ndim == 2:
        arr = arr[..., None]
    if arr.ndim != 3 or arr.shape[2] not in (1, 3, 4):
        hint = "; one image at a time: array[i]" if arr.ndim == 4 else ""
        raise RestyleError(
            f"{what}: expected an image array of shape (H, W[, 1|3|4]) or (1|3|4, H, W), got {arr.shape}{hint}"
        )
    if arr.dtype == np.uint8:
        out = arr.astype(np.float32) / 255.0
    elif arr.dtype == np.uint16:
        out = arr.astype(np.float32) / 65535.0
    elif np.issubdtype(arr.dtype, np.floating) or arr.dtype == np.bool_:
        out = arr.astype(np.float32)
    else:
        raise RestyleError(
            f"{what}: an array of {arr.dtype} is not an image type; give uint8 (0..255), uint16 (0..65535) "
            "or float (0..1), such as array.astype(numpy.uint8)"
        )
    _check_values(out, what)
    out = np.clip(out, 0.0, 1.0)
    if out.shape[2] == 4:
        alpha = out[..., 3:]
        out = out[..., :3] * alpha + (1.0 - alpha)
    elif out.shape[2] == 1:
        out = np.repeat(out, 3, axis=2)
    return out


def _tiff_only_size(path: Path, error: RestyleError) -> tuple[int, int]:
    """The ``(width, height)`` of a TIFF that Pillow could not open (floating-point colour, say),
    read by tifffile; ``error``, Pillow's, raised if tifffile cannot read it either."""
    if path.suffix.lower() not in (".tif", ".tiff"):
        raise error
    import tifffile

    quiet = logging.getLogger("tifffile")  # it logs what it cannot parse: the error says it
    level = quiet.level
    quiet.setLevel(logging.CRITICAL)
    try:
        with tifffile.TiffFile(path) as tif:
            page = tif.pages.first
            return int(page.imagewidth), int(page.imagelength)
    except Exception:
        raise error from None
    finally:
        quiet.setLevel(level)


def _read_tiff_deep(path: Path) -> np.ndarray | None:
    """A TIFF read with tifffile (a scikit-image dependency): 16-bit colour, which PIL cannot
    decode, and floating-point colour, which it cannot open. Floats on a 0..1 scale are taken as
    stored; larger ones are linear HDR (a 32-bit export from an HDR merge), refused. None if
    tifffile cannot read the file."""
    try:
        import tifffile
    except ImportError:  # pragma: no cover - scikit-image always brings it
        return None
    try:
        arr = np.asarray(tifffile.imread(path))
    except Exception:
        return None
    if np.issubdtype(arr.dtype, np.floating) and arr.size and np.isfinite(arr).all():
        high = float(arr.max())
        if high > 1.0 + _FLOAT_SLACK:
            raise RestyleError(
                f"{path}: a floating-point image with values up to {high:.3g}, as linear HDR is stored; "
                "tone-map it to an 8- or 16-bit image first"
            )
    return _array_to_rgb(arr, what=str(path))


def _is_deep_png(path: Path) -> bool:
    """Whether a PNG stores 16 bits per sample (its IHDR's bit depth, byte 24 of the file)."""
    with open(path, "rb") as handle:
        head = handle.read(26)
    return len(head) == 26 and head[12:16] == b"IHDR" and head[24] == 16


def _read_png_deep(path: Path) -> np.ndarray | None:
    """16-bit colour PNGs at full depth with OpenCV (the ``video`` extra), or None without it
    (Pillow then reads them at 8 bits)."""
    try:
        import cv2
    except ImportError:
        return None
    arr = cv2.imdecode(np.fromfile(path, dtype=np.uint8), cv2.IMREAD_UNCHANGED)  # no EXIF turn, no conversion
    if arr is None or arr.dtype != np.uint16 or arr.ndim != 3 or arr.shape[2] not in (3, 4):
        return None
    return _array_to_rgb(arr[..., [2, 1, 0, 3][: arr.shape[2]]], what=str(path))  # OpenCV's BGR(A)


#: The major brands of an ISO media file (``ftyp``) that mark a HEIF image: HEIC, as iPhones
#: and many Android phones save photos. (AVIF, brand ``avif``, Pillow reads itself.)
_HEIF_BRANDS = {b"heic", b"heix", b"hevc", b"hevx", b"heim", b"heis", b"mif1", b"msf1"}


def _is_heif(path: Path) -> bool:
    with open(path, "rb") as handle:
        head = handle.read(12)
    return head[4:8] == b"ftyp" and head[8:12] in _HEIF_BRANDS


@functools.cache
def heif_support() -> bool:
    """Whether HEIF images can be read: pillow-heif installed (``restyle[heif]``) and registered."""
    try:
        import pillow_heif
    except ImportError:
        return False
    pillow_heif.register_heif_opener()
    return True


def _open(path: Path) -> Image.Image:
    """The image file opened by Pillow (its header read, its pixels not yet), or a one-line
    :class:`RestyleError`. Call it under :func:`_pil_pixel_limit`."""
    _check_readable(path)
    img = _pillow_open(path)
    if img is None and _is_heif(path):  # not identified until pillow-heif's opener is registered
        if not heif_support():
            raise RestyleError(
                f"{path}: a HEIF (HEIC) image; reading it needs pillow-heif: pip install 'restyle[heif]'"
            )
        img = _pillow_open(path)
    if (img is None or img.format == "MPEG") and path.suffix.lower() in VIDEO_FILE_SUFFIXES:
        raise RestyleError(f"{path}: a video, not an image; restyle video stylises a clip")
    if img is None:
        raise RestyleError(f"{path}: not an image, or a format restyle cannot read")
    return img


#: The suffixes of video files, which a user may give where an image is wanted: containers,
#: camcorders' MPEG-TS (.mts, .m2ts) and the raw streams security cameras export.
VIDEO_FILE_SUFFIXES = (
    ".mp4", ".m4v", ".mov", ".mkv", ".webm", ".avi", ".mpg", ".mpeg", ".wmv", ".flv", ".3gp", ".ts",
    ".mts", ".m2ts", ".h264", ".264", ".hevc", ".h265",
)  # fmt: skip


def _check_readable(path: Path) -> None:
    check_lookup(path)
    if not path.exists():
        if path.name == str(path) and path.name.lower() in SAMPLES:  # "astronaut" for sample:astronaut
            raise RestyleError(f"{path}: no such file (the built-in photo is {SAMPLE_PREFIX}{path.name.lower()})")
        raise no_such_file(path)
    if path.is_dir():
        raise RestyleError(f"{path}: is a folder, not an image")
    if not os.access(path, os.R_OK):
        raise RestyleError(f"{path}: permission denied")


def check_inputs(sources: Mapping[str, ImageLike | None]) -> None:
    """Fail now, before any of them is read, if a file among ``sources`` (by role: "content",
    "style 1") is missing, a folder or unreadable, or its path is empty: so that a warning about
    the first input read is not followed by an error about a later one. Images in memory and
    None pass.

    Example:
        >>> check_inputs({"content": "sample:astronaut", "style 1": np.zeros((4, 4, 3))})
        >>> check_inputs({"content": "sample:astronaut", "style 1": "starry.jpg"})
        Traceback (most recent call last):
        ...
        restyle.errors.RestyleError: starry.jpg: no such file
    """
    for what, source in sources.items():
        if isinstance(source, (str, os.PathLike)):
            check_path_given(source, what)
            _check_readable(Path(named_sample(source)))


def _pillow_open(path: Path) -> Image.Image | None:
    """``Image.open``, or None if Pillow does not identify the file (a decompression bomb is an
    error). Pillow's warnings about a file it then fails to open ("Corrupt EXIF data") are
    dropped: the one-line error says it all."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            img = Image.open(path)
        except Image.DecompressionBombError:
            raise RestyleError(
                f"{path}: refused as a decompression bomb (far over --max-pixels); {TRUST_HINT}"
            ) from None
        except (OSError, SyntaxError, ValueError):
            return None
    for warning in caught:
        warnings.warn_explicit(warning.message, warning.category, warning.filename, warning.lineno)
    return img


#: EXIF orientations that turn an image a quarter: its upright width is its stored height.
_QUARTER_TURNS = (5, 6, 7, 8)


def image_size(path: str | os.PathLike, *, max_pixels: int = DEFAULT_MAX_PIXELS) -> tuple[int, int]:
    """The ``(width, height)`` of an image file as :func:`load_image` reads it (turned upright by
    its EXIF orientation), from its header alone.

    Args:
        path: the image file.
        max_pixels: as :func:`load_image`'s: a far larger header is refused as a decompression bomb.

    Returns:
        The upright width and height in pixels.

    Example:
        >>> image_size(sample_path("astronaut"))
        (512, 512)
    """
    check_path_given(path, "image")
    check_at_least(max_pixels, 1, "--max-pixels")
    path = Path(path)
    if is_raw(path):
        _check_readable(path)
        return raw_size(path)
    with _pil_pixel_limit(max_pixels):
        try:
            img = _open(path)
        except RestyleError as exc:
            return _tiff_only_size(path, exc)  # a TIFF only tifffile reads (see _read_file)
        with img:
            width, height = img.size
            if img.format == "TIFF":  # Pillow reports some TIFFs' sizes already turned: take the stored one
                width, height = img.tag_v2.get(256, width), img.tag_v2.get(257, height)
            # Pillow decodes a whole PNG to look for an EXIF chunk after its pixels; such chunks are
            # rare, so a PNG's orientation is looked for before its pixels only
            header_only = img.format == "PNG" and "exif" not in img.info
            turned = not header_only and _exif(img).get(0x0112, 1) in _QUARTER_TURNS
    return (height, width) if turned else (width, height)


def holds_deep_colour(path: str | os.PathLike) -> bool:
    """Whether an image file stores more than 8 bits per channel, from its header: a 16-bit PNG
    or TIFF, a floating-point TIFF, a 10- or 12-bit HEIF, a camera RAW photo. False for a file
    that is not an image (reading it says why).

    Example:
        >>> holds_deep_colour(sample_path("astronaut"))
        False
    """
    path = Path(path)
    if is_raw(path):
        return True
    with _pil_pixel_limit(DEFAULT_MAX_PIXELS * _DOWNSCALE_ALLOWANCE):
        try:
            img = _open(path)
        except RestyleError as exc:
            try:
                _tiff_only_size(path, exc)  # a TIFF only tifffile reads: floating-point colour
            except RestyleError:
                return False
            return True
        with img:
            if img.format == "PNG":
                return _is_deep_png(path)
            if img.format == "HEIF":
                return img.info.get("bit_depth", 8) > 8
            # 16-bit, 32-bit or floating-point grey, or (TIFF) 16-bit colour Pillow reads as RGB
            return img.mode in ("I;16", "I;16B", "I", "F") or (img.format == "TIFF" and _is_deep_tiff(img))


def check_pixels(what: object, width: int, height: int, *, max_pixels: int, size: int | None = None) -> bool:
    """Refuse an empty image, or one over ``max_pixels`` unless ``size`` asks for a smaller one
    anyway (then up to :data:`_DOWNSCALE_ALLOWANCE` times over, with a warning). The one rule for
    ``--max-pixels``: the readers here and the web UI's upload checks both call it.

    Args:
        what: names the image in a message (its path, or e.g. "the content image").
        width, height: its size in pixels.
        max_pixels: the limit (``--max-pixels``).
        size: the long side asked for, if any.

    Returns:
        Whether the image is over ``max_pixels`` (and is to be downscaled while it is read).

    Example:
        >>> check_pixels("a.png", 40, 30, max_pixels=1200)
        False
    """
    check_at_least(max_pixels, 1, "--max-pixels")
    what = _as_sample(what)
    if width == 0 or height == 0:
        raise RestyleError(f"{what}: the image has zero size ({width}x{height})")
    pixels = width * height
    if pixels <= max_pixels:
        return False
    megapixels = _megapixels(pixels)
    allowed = size is not None and size < max(width, height)
    if not allowed or pixels > _DOWNSCALE_ALLOWANCE * max_pixels:
        raise RestyleError(
            f"{what}: {width}x{height} ({megapixels}) is over the --max-pixels limit of "
            f"{_megapixels(max_pixels)}; {TRUST_HINT}"
        )
    _warn(f"{what}: {width}x{height} ({megapixels}) is over --max-pixels; downscaling while reading")
    return True


def _animation_frames(img: Image.Image, path: Path) -> int:
    """How many frames an animated GIF, PNG or WebP holds (1 for a still, and for an MPO JPEG:
    a camera's second picture there is a preview or a depth map). A GIF's are counted by
    :func:`restyle.gif.frame_delays`, which a file cut short does not trip up as Pillow's
    ``n_frames`` is (an IndexError in its frame search)."""
    if img.format == "GIF":
        from restyle.gif import frame_delays  # here: restyle.gif imports this module

        return len(frame_delays(path.read_bytes()))
    return getattr(img, "n_frames", 1) if img.format in ("PNG", "WEBP") else 1


def _read_file(
    path: Path, *, size: int | None, max_pixels: int, icc: bool = True, at_least: int | None = None
) -> tuple[np.ndarray, tuple[int, int]]:
    """The pixels of an image file, upright, and the upright ``(height, width)`` of the whole
    image: a JPEG or RAW file may be decoded smaller (see :func:`load_image`), and the size it is
    brought to is then taken from its own, not from the smaller copy's rounded one."""
    if is_raw(path):
        width, height = image_size(path)
        check_pixels(path, width, height, max_pixels=max_pixels, size=size)
        # half size (one pixel per 2x2 sensor cell) when the asked long side fits in it, or
        # both sides stay at least at_least
        half_size = (size is not None and 2 * size <= max(width, height)) or (
            at_least is not None and 2 * at_least <= min(width, height)
        )
        return read_raw(path, half_size=half_size), (height, width)
    with _pil_pixel_limit(max_pixels):
        try:
            img = _open(path)
        except RestyleError as exc:
            check_pixels(path, *_tiff_only_size(path, exc), max_pixels=max_pixels, size=size)
            tiff = _read_tiff_deep(path)
            if tiff is None:
                raise RestyleError(f"{path}: image data cannot be decoded") from None
            return tiff, tiff.shape[:2]
        with img:
            width, height = img.size
            over = check_pixels(path, width, height, max_pixels=max_pixels, size=size)
            frames = _animation_frames(img, path)
            if frames > 1:
                _warn(f"{path}: an animation of {frames} frames; only its first is used (restyle video takes a clip)")
            own = _drafted(img, "RGB", size=size, at_least=at_least, over=over)
            deep = None  # Pillow would reduce 16-bit colour to 8 bits
            if img.format == "TIFF" and img.mode in ("RGB", "RGBA") and _is_deep_tiff(img):
                deep = _read_tiff_deep(path)
            elif img.format == "PNG" and img.mode in ("RGB", "RGBA") and _is_deep_png(path):
                deep = _read_png_deep(path)
            elif img.format == "HEIF" and img.mode in ("RGB", "RGBA") and img.info.get("bit_depth", 8) > 8:
                deep = _read_heif_deep(path, img.info["bit_depth"])
            if deep is not None:
                deep = _deep_upright_srgb(deep, img, what=str(path), icc=icc)
                return deep, deep.shape[:2]
            try:
                with _libtiff_messages(img.format == "TIFF") as libtiff:
                    img.load()
                # turned as a PIL image, in its 8 bits: a quarter of a float copy's memory
                rgb = _pil_to_array(_upright_image(img, str(path)), what=str(path), icc=icc)
                return rgb, own or rgb.shape[:2]
            except Image.DecompressionBombError:
                raise RestyleError(f"{path}: refused as a decompression bomb; {TRUST_HINT}") from None
            except (OSError, SyntaxError, ValueError) as exc:
                deep = _read_tiff_deep(path) if path.suffix.lower() in (".tif", ".tiff") else None
                if deep is not None:
                    return deep, deep.shape[:2]
                if "truncat" in str(exc).lower():
                    raise RestyleError(f"{path}: image data is truncated or corrupt") from None
                detail = "; ".join([str(exc), *(f"libtiff: {line}" for line in libtiff)])
                raise RestyleError(f"{path}: image data cannot be decoded ({detail})") from None


#: A JPEG read for a long side ``size`` is decoded smaller only to a long side at least this many
#: times ``size``: the resize then averages away libjpeg's scaled decoding. Four 12-MP JPEGs
#: brought down to 512 and 256 px, against the pixels they were saved from: 0.01-0.03 level RMS
#: further than a whole decode at 4 times, 0.05-0.12 at twice, up to 1.4 at once
#: (``benchmarks/RESULTS.md``).
DRAFT_MARGIN = 3


def jpeg_scale(width: int, height: int, *, size: int | None = None, at_least: int | None = None) -> int:
    """How much smaller (1, 2, 4 or 8) a JPEG of ``width`` x ``height`` is decoded when it is
    read for a long side of ``size``, or with neither side below ``at_least`` (libjpeg's scaled
    decoding): the largest scale that divides both sides (a partial last row or column would
    stretch the picture), keeps the long side at least :data:`DRAFT_MARGIN` times ``size``, and
    neither side below ``at_least``; 1 if neither is given.

    Example:
        >>> jpeg_scale(4032, 3024, size=512), jpeg_scale(4032, 3024, at_least=512), jpeg_scale(4031, 3024, size=512)
        (2, 4, 1)
    """
    if size is None and at_least is None:
        return 1
    return next(
        (
            s
            for s in (8, 4, 2)
            if width % s == 0
            and height % s == 0
            and (size is None or max(width, height) >= DRAFT_MARGIN * s * size)
            and (at_least is None or min(width, height) >= s * at_least)
        ),
        1,
    )


def _drafted(
    img: Image.Image, mode: str, *, size: int | None, at_least: int | None, over: bool = False
) -> tuple[int, int] | None:
    """Have a JPEG decoded in ``mode``, at the scale :func:`jpeg_scale` gives; one ``over``
    ``--max-pixels`` as small as keeps both sides at least ``size``, memory first. Returns the
    photo's upright ``(height, width)`` at full size; None (and nothing asked) for other files."""
    if img.format not in ("JPEG", "MPO"):
        return None
    width, height = img.size
    if over and size is not None:
        img.draft(mode, (size, size))
    else:
        scale = jpeg_scale(width, height, size=size, at_least=at_least)
        img.draft(mode, (width // scale, height // scale) if scale > 1 else None)
    return (width, height) if _exif(img).get(0x0112, 1) in _QUARTER_TURNS else (height, width)


#: EXIF orientation -> how the stored pixels are turned upright, as numpy does it
#: (``ImageOps.exif_transpose``'s table: 6 is Pillow's ROTATE_270, a quarter turn clockwise).
_UPRIGHT = {
    2: lambda a: a[:, ::-1],
    3: lambda a: a[::-1, ::-1],
    4: lambda a: a[::-1],
    5: lambda a: a.transpose(1, 0, 2),
    6: lambda a: np.rot90(a, -1),
    7: lambda a: np.rot90(a, 2).transpose(1, 0, 2),
    8: lambda a: np.rot90(a, 1),
}


def _exif(img: Image.Image, what: str | None = None) -> Image.Exif:
    """The image's EXIF, or none if its block cannot be parsed: a photo whose EXIF is damaged
    is still read, as browsers show it, with a warning naming ``what`` (if given) that its
    orientation is not known."""
    try:
        return img.getexif()
    except Exception:  # Pillow raises SyntaxError, struct.error, ValueError, ... on a damaged block
        if what is not None:
            _warn(f"{what}: its EXIF block is damaged; read as stored, without its orientation")
        return Image.Exif()


def _upright_image(img: Image.Image, what: str) -> Image.Image:
    """A decoded PIL image turned upright by its EXIF orientation (itself, not a copy, if it is
    upright already)."""
    return ImageOps.exif_transpose(img) if _exif(img, what).get(0x0112, 1) != 1 else img


def upright_pil(img: Image.Image, what: str) -> Image.Image:
    """A PIL image given in memory, decoded and turned upright by its EXIF orientation, as a
    file's pixels are: one from ``PIL.Image.open`` is decoded only now, and a truncated file or
    a closed image fails here, as a :class:`~restyle.errors.RestyleError` naming ``what``.

    Example:
        >>> photo = Image.new("RGB", (4, 2))
        >>> photo.getexif()[0x0112] = 6  # stored on its side, as a phone does
        >>> upright_pil(photo, "content").size
        (2, 4)
    """
    try:
        img.load()
    except (OSError, SyntaxError, ValueError) as error:
        raise RestyleError(f"{what}: the PIL image cannot be read ({error})") from None
    return _upright_image(img, what)


def _upright(pixels: np.ndarray, img: Image.Image, what: str | None = None) -> np.ndarray:
    """``(H, W, C)`` pixels of ``img`` turned upright by its EXIF orientation."""
    turn = _UPRIGHT.get(_exif(img, what).get(0x0112, 1))
    return np.ascontiguousarray(turn(pixels)) if turn else pixels


def _deep_upright_srgb(rgb: np.ndarray, img: Image.Image, *, what: str, icc: bool) -> np.ndarray:
    """A 16-bit colour image read past Pillow, turned upright by its EXIF orientation and, with
    ``icc``, converted to sRGB from its colour profile as :func:`_to_srgb` does. A HEIF's nclx
    code points, and a matrix/TRC ICC profile (a 16-bit Adobe RGB, ProPhoto or Display P3
    export), are converted at full precision (:mod:`restyle.icc`). LittleCMS works through
    Pillow in 8 bits, so a file in a profile with lookup tables is converted, and read, at 8-bit
    precision; sRGB and untagged files keep 16 bits.
    """
    rgb = _upright(rgb, img, what)
    profile = img.info.get("icc_profile")
    if icc and not profile and img.info.get("nclx_profile"):  # a HEIF's code points: at full depth
        converted = _nclx_rgb_to_srgb(rgb, img.info["nclx_profile"])
        return rgb if converted is None else converted
    if icc and profile and not _is_srgb(profile):
        shaper = read_matrix_shaper(profile)
        if shaper is not None:
            return icc_to_srgb(rgb, shaper)
        eight = Image.fromarray((rgb * 255.0).round().astype(np.uint8))
        eight.info["icc_profile"] = profile
        converted = _to_srgb(eight, what)
        if converted is not eight:
            return np.asarray(converted.convert("RGB"), dtype=np.float32) / 255.0
    return rgb


def _read_heif_deep(path: Path, bits: int) -> np.ndarray | None:
    """A 10- or 12-bit HEIF (a camera's HLG or PQ photo) at full depth, which Pillow's plugin
    reduces to 8 bits; with transparency, composited on white as a 16-bit PNG or TIFF is.
    libheif turns it upright as it decodes, as the plugin does, which then reports EXIF
    orientation 1."""
    import pillow_heif  # the file was opened by its plugin, so it is there

    try:
        # the primary image. The array views the file object's pixels, and pillow-heif 0.18 (the
        # oldest we allow) does not keep that object alive for it: it is held by name until the
        # codes are copied (a temporary read freed memory there: colours up to 237 levels off)
        heif = pillow_heif.open_heif(path, convert_hdr_to_8bit=False)
        arr = np.asarray(heif)
    except (OSError, ValueError, RuntimeError):
        return None
    if arr.dtype != np.uint16 or arr.ndim != 3 or arr.shape[2] not in (3, 4) or not 8 < bits <= 16:
        return None
    # the codes come shifted up to 16 bits (10-bit 1023 as 65472), not scaled: shift them back
    codes = (arr >> (16 - bits)).astype(np.float32)
    del heif, arr  # the pixels are copied
    return _array_to_rgb(codes / float((1 << bits) - 1), what=str(path))


def _is_deep_tiff(img: Image.Image) -> bool:
    bits = getattr(img, "tag_v2", {}).get(258)
    return isinstance(bits, tuple) and any(b > 8 for b in bits)


def load_image(
    source: ImageLike,
    *,
    size: int | None = None,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    what: str = "image",
    icc: bool = True,
    dequantise: bool = False,
    warn_enlarged: bool = False,
    at_least: int | None = None,
) -> Tensor:
    """Read an image from a path, PIL image, numpy array or tensor, as RGB in [0, 1].

    Paths may be PNG or TIFF (8 or 16 bit; a 16-bit colour PNG at 8 bits without OpenCV), JPEG,
    WebP, BMP or GIF; grayscale, palette, CMYK and
    RGBA images are converted (transparency composited on white); EXIF orientation is applied
    (to a PIL image's too);
    colours in an embedded ICC profile (Display P3, Adobe RGB) are converted to sRGB.

    Args:
        source: the image: a path, ``sample:NAME`` for a built-in photo, or an in-memory
            image. Arrays are ``(H, W)``, ``(H, W, C)`` or ``(C, H, W)`` of uint8,
            uint16 or float in [0, 1]; tensors are ``(C, H, W)`` or ``(1, C, H, W)`` (or
            ``(H, W)``, grey), uint8 or float in [0, 1]. C is 3, 1 (grey) or 4 (alpha:
            composited on white).
        size: if given, resize so that the long side is ``size`` pixels. A JPEG far larger is
            decoded smaller first where that changes nothing visible (:func:`jpeg_scale`): a
            12-MP photo brought to 512 px is decoded at half size, and read 2-3 times faster.
        max_pixels: refuse files larger than this (decompression bombs), unless ``size`` asks
            for a smaller image anyway, in which case up to 4x this is read and downscaled with
            a warning; refuse a ``size`` that would make the image larger than this.
        what: how to name the image in error messages.
        icc: convert colours in an embedded ICC profile to sRGB. False for label images
            (masks), whose colours name regions and must be read as stored.
        dequantise: if the image holds 8-bit values, smooth their steps (after the resize)
            with :func:`restyle.dequantise.dequantise`; deeper images are left as read. A JPEG
            is smoothed in its YCbCr codes, before they become RGB (:func:`_smoothed_jpeg`).
        warn_enlarged: warn if ``size`` enlarges the image more than :data:`MAX_ENLARGEMENT`
            times: its detail comes out soft (a content photo; a style image has its own
            warning, :func:`warn_if_enlarged`).
        at_least: a JPEG or RAW file may be read smaller, as long as neither side falls below
            this (libjpeg's scaled decoding: 1/2, 1/4 or 1/8 of its size, where that divides
            both sides; LibRaw's half size),
            for a caller that resizes it to no more than ``at_least`` a side anyway:
            ``restyle video`` reads a folder of 24-MP JPEGs 12 times faster so. Other files are
            read whole.

    Returns:
        A float32 tensor on the CPU.

    Shape:
        - output: :math:`(1, 3, H, W)`

    Example:
        >>> load_image(np.zeros((4, 6, 3), dtype=np.uint8), size=3).shape
        torch.Size([1, 3, 2, 3])
    """
    check_arguments(load_image, locals())
    if at_least is not None:
        check_at_least(at_least, 1, "at_least")
    check_path_given(source, what)
    source = named_sample(source)
    if dequantise and isinstance(source, (str, os.PathLike)):
        smoothed = _smoothed_jpeg(
            Path(source), size=size, max_pixels=max_pixels, icc=icc, what=what, warn_enlarged=warn_enlarged
        )
        if smoothed is not None:
            return smoothed
    own = None  # the whole image's (height, width), where a file is decoded smaller
    if isinstance(source, (str, os.PathLike)):
        arr, own = _read_file(Path(source), size=size, max_pixels=max_pixels, icc=icc, at_least=at_least)
        tensor = torch.from_numpy(np.ascontiguousarray(arr)).permute(2, 0, 1)[None]
    elif isinstance(source, Image.Image):
        tensor = torch.from_numpy(_pil_to_array(upright_pil(source, what), what, icc=icc)).permute(2, 0, 1)[None]
    elif isinstance(source, np.ndarray):
        tensor = torch.from_numpy(_array_to_rgb(source, what=what)).permute(2, 0, 1)[None]
    elif isinstance(source, Tensor):
        if source.is_meta:
            raise RestyleError(f"{what}: a tensor on the meta device holds no pixels")
        if source.layout != torch.strided:  # sparse: its pixels, as the dense tensor holds them
            source = source.to_dense()
        if source.dtype == torch.uint8:
            tensor = source.detach().to("cpu", torch.float32) / 255.0
        elif source.is_floating_point() or source.dtype == torch.bool:
            tensor = source.detach().to("cpu", torch.float32)
        else:
            raise RestyleError(f"{what}: unsupported tensor dtype {source.dtype}; use float (0..1) or uint8")
        if tensor.ndim == 2:  # grey, as an (H, W) array is
            tensor = tensor[None]
        if tensor.ndim == 3:
            tensor = tensor[None]
        if tensor.ndim != 4 or tensor.shape[0] != 1 or tensor.shape[1] not in (1, 3, 4):
            channels_last = source.ndim in (3, 4) and source.shape[-1] in (1, 3, 4) and tensor.shape[1] not in (1, 3, 4)
            if channels_last:  # (H, W, 3), as numpy and PIL hold images, or (1, H, W, 3)
                order = "2, 0, 1" if source.ndim == 3 else "0, 3, 1, 2"
                hint = f"; its channels are last: give tensor.permute({order})"
            else:
                hint = "; one image at a time: tensor[i]" if tensor.ndim == 4 and tensor.shape[0] > 1 else ""
            raise RestyleError(
                f"{what}: expected a tensor of shape (C, H, W) or (1, C, H, W) with 3 channels (1: grey, 4: with alpha), "
                f"got {tuple(source.shape)}{hint}"
            )
        _check_values(tensor, what)
        tensor = tensor.clamp(0, 1)
        if tensor.shape[1] == 4:  # composited on white, as an array's or a file's alpha is
            tensor = tensor[:, :3] * tensor[:, 3:] + (1.0 - tensor[:, 3:])
        tensor = tensor.expand(1, 3, -1, -1)
    else:
        # a run's result (restyle.Result, a photo or video frame result) holds its image; an
        # image file's bytes (an upload, a download) or an open file, PIL opens
        if isinstance(getattr(source, "image", None), Tensor):
            hint = "; give its .image"
        elif isinstance(source, (bytes, bytearray, memoryview)):
            hint = "; for an image file's bytes, give PIL.Image.open(io.BytesIO(data))"
        elif hasattr(source, "read"):
            hint = "; for an open image file, give PIL.Image.open(file)"
        else:
            hint = ""
        raise RestyleError(
            f"{what}: expected a path, PIL image, numpy array or tensor, not {type(source).__name__}{hint}"
        )
    if tensor.shape[-1] == 0 or tensor.shape[-2] == 0:
        raise RestyleError(f"{what}: the image has zero size")
    eight_bits = dequantise and on_grid(tensor)
    if size is not None:
        shape = _work_shape(own or tensor.shape[-2:], size, max_pixels=max_pixels, what=what, warn=warn_enlarged)
        tensor = resize(tensor, *shape)
    return (smooth_steps(tensor) if eight_bits else tensor).contiguous()


#: What a result records for an input given in memory (an array, a PIL image, a tensor): it has
#: no name, and ``restyle info --command`` leaves a place for the user's file.
IN_MEMORY = "<in memory>"


def source_name(source: ImageLike) -> str:
    """The name a result records for an input: a path as it was given, ``sample:NAME``, or
    :data:`IN_MEMORY` for an image given in memory.

    Example:
        >>> source_name("photos/a.jpg"), source_name("sample:coffee"), source_name(torch.zeros(1, 3, 2, 2))
        ('photos/a.jpg', 'sample:coffee', '<in memory>')
    """
    return os.fspath(source) if isinstance(source, (str, os.PathLike)) else IN_MEMORY


def named_sample(source: ImageLike) -> ImageLike:
    """``sample:NAME`` as the built-in photo's path; any other source as it is.

    Example:
        >>> named_sample("sample:coffee").name, named_sample("photo.jpg")
        ('coffee.png', 'photo.jpg')
    """
    if isinstance(source, str) and source.startswith(SAMPLE_PREFIX):
        return sample_path(source[len(SAMPLE_PREFIX) :])
    return source


def _work_shape(own: Sequence[int], size: int, *, max_pixels: int, what: str, warn: bool = False) -> tuple[int, int]:
    """The ``(height, width)`` an image of ``own`` ``(height, width)`` is worked at for ``size``
    (its long side), checked against ``max_pixels``; with ``warn``, a warning if that enlarges
    it much (:func:`warn_if_enlarged`)."""
    shape = scaled_shape(own[0], own[1], check_long_side(size))
    check_work_size(shape, max_pixels=max_pixels, what=what, value=size)
    if warn:
        warn_if_enlarged(
            own, size, what, effect="its detail comes out soft", hint=f" (--size {max(own)} keeps its own size)"
        )
    return shape


def _smoothed_jpeg(
    path: Path, *, size: int | None, max_pixels: int, icc: bool, what: str, warn_enlarged: bool = False
) -> Tensor | None:
    """A YCbCr JPEG read as :func:`load_image` reads it, but its steps smoothed in its YCbCr
    codes (:func:`restyle.dequantise.dequantise`, after the resize), before they become RGB by
    JFIF's equations (BT.601's weights, full range: :func:`restyle.yuv.yuv_to_rgb`). None for
    other files: not a JPEG, not YCbCr (grey, CMYK, Adobe's RGB-coded), or in a colour profile
    that only LittleCMS converts; :func:`load_image` reads those as before.

    Why: libjpeg converts the codes to 8-bit RGB, where one step of Y becomes steps of up to 4
    levels, and the RGB steps no longer fit the interval that smoothing bridges. A sky in a
    JPEG, stretched by DPST's tar3 with the ``fast`` preset, banded by 1.08 levels RMS smoothed
    in RGB (1.80 as read); in its codes, 0.14 (``benchmarks/RESULTS.md``)."""
    read = _jpeg_codes(path, size=size, max_pixels=max_pixels, icc=icc)
    if read is None:
        return None
    codes, shaper, own = read
    if size is not None:
        codes = resize(codes, *_work_shape(own, size, max_pixels=max_pixels, what=what, warn=warn_enlarged))
    return _jfif_to_srgb(smooth_steps(codes), shaper)


def smoothed_jpeg_pair(path: str | os.PathLike, *, size: int, max_pixels: int) -> tuple[Tensor, Tensor] | None:
    """For a photo carried up to its own size: a YCbCr JPEG at ``size`` with its steps smoothed
    in its codes (as :func:`load_image` with ``dequantise``), and at its own size following it
    where both are flat (:func:`restyle.dequantise.dequantise_from`, in the codes too). None for
    other files (see :func:`_smoothed_jpeg`).

    Shape:
        - output: :math:`(1, 3, h, w)` and :math:`(1, 3, H, W)`
    """
    read = _jpeg_codes(Path(named_sample(path)), size=None, max_pixels=max_pixels, icc=True)
    if read is None:
        return None
    codes, shaper, _ = read
    shape = _work_shape(codes.shape[-2:], size, max_pixels=max_pixels, what="content")
    small = smooth_steps(resize(codes, *shape))
    full = dequantise_from(codes, small) if codes.shape[-2] * codes.shape[-1] > shape[0] * shape[1] else codes
    return _jfif_to_srgb(small, shaper), _jfif_to_srgb(full, shaper)


def _jpeg_codes(
    path: Path, *, size: int | None, max_pixels: int, icc: bool
) -> tuple[Tensor, Any, tuple[int, int]] | None:
    """A YCbCr JPEG's codes as libjpeg decodes them, before its conversion to RGB, upright, as
    ``(1, 3, H, W)`` floats in [0, 1] (decoded smaller for a long side of ``size``, as
    :func:`jpeg_scale` allows), with the matrix/TRC profile to convert their colours from (None
    for sRGB) and the photo's upright ``(height, width)`` at full size; None for other files
    (see :func:`_smoothed_jpeg`)."""
    with _pil_pixel_limit(max_pixels):
        try:
            img = _open(path)
        except RestyleError:
            return None  # load_image says why
        with img:
            if img.format not in ("JPEG", "MPO") or img.mode != "RGB" or img.info.get("adobe_transform") == 0:
                return None
            profile = img.info.get("icc_profile") if icc else None
            if profile and _is_srgb(profile):
                profile = None  # its colours are kept as they are
            shaper = read_matrix_shaper(profile) if profile else None
            if profile and shaper is None:
                return None
            over = check_pixels(path, *img.size, max_pixels=max_pixels, size=size)
            own = _drafted(img, "YCbCr", size=size, at_least=None, over=over)
            if img.mode != "YCbCr":
                return None
            try:
                img.load()
            except (OSError, SyntaxError, ValueError):
                return None  # load_image says why
            codes = _upright(np.asarray(img, dtype=np.float32), img, str(path))
    return torch.from_numpy(codes).permute(2, 0, 1)[None] / 255.0, shaper, own


def _jfif_to_srgb(codes: Tensor, shaper: Any) -> Tensor:
    """JPEG's YCbCr codes in [0, 1] to sRGB, through the photo's profile if it has one."""
    rgb = yuv_to_rgb(codes[0] * 255.0, "smpte170m", full_range=True)
    if shaper is None:
        return rgb.contiguous()
    return torch.from_numpy(icc_to_srgb(rgb[0].permute(1, 2, 0).numpy(), shaper)).permute(2, 0, 1)[None]


def load_style(
    source: ImageLike, *, long_side: int, max_pixels: int = DEFAULT_MAX_PIXELS, what: str = "style"
) -> Tensor:
    """A style image at its own size, or brought down to ``long_side`` if its long side is over
    twice that. A file that large is read downscaled, as a content photo is: a 60 MP camera's
    style photo is neither refused for ``max_pixels`` nor held at full size.

    Args:
        source: as :func:`load_image`'s.
        long_side: the long side the style is used at (the result's, times the style scale).
        max_pixels, what: as :func:`load_image`'s.

    Returns:
        A float32 tensor on the CPU.

    Shape:
        - output: :math:`(1, 3, H, W)`

    Example:
        >>> load_style(np.zeros((40, 60, 3), dtype=np.uint8), long_side=32).shape  # within twice
        torch.Size([1, 3, 40, 60])
        >>> load_style(np.zeros((40, 80, 3), dtype=np.uint8), long_side=32).shape
        torch.Size([1, 3, 16, 32])
    """
    check_path_given(source, what)
    source = named_sample(source)
    if isinstance(source, (str, os.PathLike)):
        width, height = image_size(source, max_pixels=max_pixels)
        if style_shape(height, width, long_side) != (height, width):
            return load_image(source, size=long_side, max_pixels=max_pixels, what=what)
    image = load_image(source, max_pixels=max_pixels, what=what)
    shape = style_shape(*image.shape[-2:], long_side)
    return image if shape == tuple(image.shape[-2:]) else resize(image, *shape)


def style_shape(height: int, width: int, long_side: int) -> tuple[int, int]:
    """The ``(height, width)`` a style image is used at (:func:`load_style`): its own, or brought
    down to ``long_side`` if its long side is over twice that.

    Example:
        >>> style_shape(40, 60, 32), style_shape(40, 80, 32)
        ((40, 60), (16, 32))
    """
    return scaled_shape(height, width, long_side) if max(height, width) > 2 * long_side else (height, width)


def resize(image: Tensor, height: int, width: int) -> Tensor:
    """Resize to exactly ``height x width`` (antialiased bicubic down, bicubic up), clamped to [0, 1].

    Shape:
        - image: :math:`(B, C, H, W)`
        - output: :math:`(B, C, height, width)`

    Example:
        >>> grey = torch.full((1, 3, 40, 60), 0.5)
        >>> small = resize(grey, 20, 30)
        >>> tuple(small.shape), torch.allclose(small, torch.full_like(small, 0.5))
        ((1, 3, 20, 30), True)
    """
    if image.shape[-2:] == (height, width):
        return image
    out = F.interpolate(image, size=(height, width), mode="bicubic", align_corners=False, antialias=True)
    return out.clamp(0.0, 1.0)


def scaled_shape(height: int, width: int, long_side: int) -> tuple[int, int]:
    """The ``(height, width)`` with the given long side and the same aspect ratio (each >= 1).

    Example:
        >>> scaled_shape(467, 700, 512), scaled_shape(1000, 10, 50)
        ((342, 512), (50, 1))
    """
    scale = long_side / max(height, width)
    return max(1, round(height * scale)), max(1, round(width * scale))


def _natural_key(path: Path) -> tuple[list[str | int], str]:
    """Sort key taking the runs of digits in a name as numbers: ``f2.png`` before ``f10.png``."""
    parts = re.split(r"(\d+)", path.name.lower())
    return [int(part) if index % 2 else part for index, part in enumerate(parts)], path.name


def image_files(folder: str | os.PathLike) -> list[Path]:
    """The images in a folder (by suffix, :data:`IMAGE_SUFFIXES`; hidden files left out), in the
    order of the numbers in their names: ``frame9.png`` before ``frame10.png``, leading zeros or not.

    Example:
        >>> [p.name for p in image_files(sample_path("astronaut").parent)][:2]
        ['astronaut.png', 'brick.png']
    """
    folder = Path(folder)
    files = (p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES and not p.name.startswith("."))
    return sorted(files, key=_natural_key)


def check_long_side(long_side: int, *, minimum: int = 1) -> int:
    """Raise a one-line :class:`RestyleError` if a requested long side (``--size``) is below
    ``minimum`` pixels; the transfers ask for :data:`restyle.vgg.MIN_TRANSFER_SIZE`.

    Example:
        >>> check_long_side(512, minimum=16)
        512
        >>> check_long_side(8, minimum=16)
        Traceback (most recent call last):
        ...
        restyle.errors.RestyleError: --size must be at least 16 pixels, not 8
    """
    if long_side < minimum:
        raise RestyleError(f"--size must be at least {minimum} pixel{'s' if minimum > 1 else ''}, not {long_side}")
    return long_side


def check_work_size(
    shape: tuple[int, int], *, max_pixels: int, what: str, value: float, option: str = "--size"
) -> None:
    """Raise a one-line :class:`RestyleError` if ``option`` (``--size`` unless said) at ``value``
    makes an image of ``shape`` ``(H, W)`` with more than ``max_pixels`` pixels, before any
    memory is spent on it.

    Example:
        >>> check_work_size((3000, 4000), max_pixels=50_000_000, what="content", value=4000)
        >>> check_work_size((30000, 40000), max_pixels=50_000_000, what="content", value=40000)  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        restyle.errors.RestyleError: content: --size 40000 would make it 40000x30000 (1200.0 MP), over the ...
    """
    check_at_least(max_pixels, 1, "--max-pixels")
    height, width = shape
    if height * width > max_pixels:
        if max(height, width) < _ABSURD_SIDE:
            made = f"{width}x{height} ({_megapixels(height * width)})"
        else:  # e.g. --style-scale 1e300: no float holds the pixel count
            made = f"over {_ABSURD_SIDE:,} px on a side"
        raise RestyleError(
            f"{what}: {option} {value} would make it {made}, over the --max-pixels limit of "
            f"{_megapixels(max_pixels)}; use a smaller {option}"
        )


#: An image enlarged more than this many times is warned about: a style image for artistic
#: transfer (its brush strokes blur), and the content photo (its detail comes out soft).
MAX_ENLARGEMENT = 2.0
#: What :func:`warn_if_enlarged` says an enlarged style image does.
BLURRED_STROKES = "its brush strokes come out blurred; a larger image keeps them sharp"


def warn_if_enlarged(
    shape: Sequence[int], long_side: int, what: str, *, effect: str = BLURRED_STROKES, hint: str = ""
) -> bool:
    """Warn that ``what``, of ``shape`` (``(..., H, W)``), is enlarged more than
    :data:`MAX_ENLARGEMENT` times to a long side of ``long_side``, and what that does
    (``effect``: by default, for a style image, that a painting's brush strokes come out blurred
    and larger). ``hint`` ends the message (another way to avoid it). Returns whether it warned.

    Example:
        >>> warn_if_enlarged((300, 400), 512, "style 1")  # 1.3 times: silent
        False
        >>> import warnings
        >>> with warnings.catch_warnings(record=True) as caught:
        ...     warnings.simplefilter("always")
        ...     warn_if_enlarged((150, 200), 1024, "style 1")
        True
        >>> str(caught[0].message)
        'style 1 is 200x150, enlarged 5.1 times to 1024 px: its brush strokes come out blurred; a larger image keeps them sharp'
    """
    factor = long_side / max(shape[-2:])
    if factor <= MAX_ENLARGEMENT:
        return False
    warnings.warn(
        f"{what} is {shape[-1]}x{shape[-2]}, enlarged {factor:.1f} times to {long_side} px: {effect}{hint}",
        RestyleWarning,
        stacklevel=3,
    )
    return True


def warn_if_stretched(shape: Sequence[int], target: Sequence[int], what: str, target_what: str) -> bool:
    """Warn that ``what``, of ``shape`` (``(..., H, W)``), will be stretched to ``target``'s
    aspect ratio, if the two differ by more than 2%. Returns whether it warned.

    Example:
        >>> warn_if_stretched((480, 640), (600, 800), "the mask", "its image")  # the same 4:3: silent
        False
        >>> import warnings
        >>> with warnings.catch_warnings(record=True) as caught:
        ...     warnings.simplefilter("always")
        ...     warn_if_stretched((640, 480), (600, 800), "the mask", "its image")
        True
        >>> str(caught[0].message)
        'the mask is 480x640 but its image is 800x600: a different aspect ratio; stretching it'
    """
    if abs(shape[-1] / shape[-2] - target[-1] / target[-2]) <= 0.02 * (target[-1] / target[-2]):
        return False
    warnings.warn(
        f"{what} is {shape[-1]}x{shape[-2]} but {target_what} is {target[-1]}x{target[-2]}: "
        "a different aspect ratio; stretching it",
        RestyleWarning,
        stacklevel=3,
    )
    return True


def resize_long_side(image: Tensor, long_side: int) -> Tensor:
    """Resize so the longer side is ``long_side`` pixels, keeping the aspect ratio.

    Example:
        >>> tuple(resize_long_side(torch.rand(1, 3, 30, 40), 20).shape)
        (1, 3, 15, 20)
    """
    check_long_side(long_side)
    return resize(image, *scaled_shape(image.shape[-2], image.shape[-1], long_side))


def to_uint8(image: Tensor) -> Tensor:
    """An image in [0, 1] as 8-bit levels: clipped to [0, 1], scaled by 255 and rounded to the
    nearest level. The one place the project turns images into 8 bits.

    Args:
        image: any shape, any float dtype and device.

    Returns:
        a ``torch.uint8`` tensor of the same shape, on the CPU.

    Example:
        >>> to_uint8(torch.tensor([-0.5, 0.1, 0.5, 2.0])).tolist()
        [0, 26, 128, 255]
    """
    return (image.detach().float().cpu().clamp(0.0, 1.0) * 255.0).round().to(torch.uint8)


def to_pil(image: Tensor) -> Image.Image:
    """A ``(1, 3, H, W)`` or ``(3, H, W)`` tensor in [0, 1] as an 8-bit RGB PIL image.

    Example:
        >>> to_pil(torch.ones(1, 3, 2, 5)).size, to_pil(torch.ones(3, 2, 5)).getpixel((0, 0))
        ((5, 2), (255, 255, 255))
    """
    if image.ndim == 4:
        image = image[0]
    return Image.fromarray(to_uint8(image).permute(1, 2, 0).numpy())  # uint8 (H, W, 3): RGB


def check_writable(path: str | os.PathLike, *, inputs: Sequence[object] = (), bits: int = 8) -> Path:
    """Fail now, before any computation, if ``path`` cannot be written as an image with
    ``bits`` per channel, is an existing read-only file (:func:`~restyle.files.check_replaceable`),
    or is one of ``inputs`` (see :func:`~restyle.files.check_not_an_input`).

    Returns:
        The path, with a supported suffix checked.
    """
    check_path_given(path, "output")
    check_lookup(path)
    path = Path(path)
    check_not_an_input(path, inputs)
    check_replaceable(path)
    if path.is_dir():
        raise RestyleError(f"{path}: is a folder; name the output image, such as {path / 'result.png'}")
    if path.suffix.lower() not in WRITABLE_SUFFIXES:
        raise RestyleError(f"{path}: unsupported output type {path.suffix or '(none)'}; use .png, .jpg, .tif or .webp")
    if bits not in BIT_DEPTHS:
        raise RestyleError(f"bits must be 8 or 16, not {bits}")
    if bits == 16 and WRITABLE_SUFFIXES[path.suffix.lower()] not in DEEP_FORMATS:
        raise RestyleError(f"{path}: {path.suffix} holds 8 bits per channel; write .png or .tif for 16")
    check_output_folder(path)
    return path


def check_output_folder(path: str | os.PathLike, *, is_folder: bool = False, create: bool = False) -> Path:
    """Fail now, before any computation, if the folder that will hold ``path`` (or ``path``
    itself, with ``is_folder``) is missing or cannot be written (probed by creating and
    removing a temporary file in it). With ``create``, a missing folder is fine if it can be
    made later: its nearest existing ancestor must be a writable folder.

    Returns:
        The folder.
    """
    path = Path(path)
    folder = path if is_folder else written_path(path).parent  # a link's file is written, where it points
    probe = folder
    if create:
        while not probe.exists() and probe != probe.parent:
            probe = probe.parent
        if not probe.is_dir():
            raise RestyleError(f"{path}: cannot create the output folder: {probe} is a file")
        hint = home_hint(path)
        if hint and not Path(path.parts[0]).exists():  # never a folder named ~ here
            raise RestyleError(f"{path}: refused: it would make a folder named {path.parts[0]} here{hint}")
    elif not folder.is_dir():
        raise RestyleError(f"{path}: output folder {folder} does not exist{home_hint(path)}")
    try:
        with tempfile.NamedTemporaryFile(dir=probe, prefix=".restyle-check-", delete=True):
            pass
    except OSError:
        raise RestyleError(f"{path}: output folder {probe} is not writable") from None
    return folder


def _json_default(value: Any) -> Any:
    if isinstance(value, (Path, torch.device)):
        return str(value)
    if isinstance(value, (np.generic,)):
        return value.item()
    if isinstance(value, (np.ndarray, Tensor, Image.Image)):  # an image in memory: never its pixels' repr
        return IN_MEMORY
    return repr(value)


def save_image(
    image: ImageLike,
    path: str | os.PathLike,
    *,
    metadata: Mapping[str, Any] | None = None,
    exif: bytes | None = None,
    bits: int = 8,
) -> Path:
    """Write an image atomically; the format follows the suffix (PNG, JPEG, TIFF or WebP;
    WebP lossless, as PNG: its lossy mode halves the chroma resolution). PNG and TIFF may have
    16 bits per channel (:mod:`restyle.bitdepth`).

    ``metadata`` is stored as JSON: a ``restyle`` text chunk in PNG, the comment in JPEG, the
    ImageDescription tag in TIFF and in WebP's EXIF. :func:`read_metadata` reads it back. Every
    file is tagged sRGB (a 588-byte ICC profile), so that colour-managed editors whose working
    space is another do not misread it.

    Args:
        image: a ``(1, 3, H, W)`` tensor in [0, 1], or any other image :func:`load_image`
            takes (an array, a file to convert, a PIL image). A PIL image without an ICC
            profile is written in its own mode (a palette, say) at 8 bits if the format stores
            that mode; any other is read as :func:`load_image` reads it (a JPEG gets an RGBA
            image composited on white).
        path: where to write it; the folder must exist.
        metadata: JSON-serialisable parameters to store with it.
        exif: EXIF to store with it (see :func:`camera_exif`).
        bits: bits per channel, 8 or 16 (PNG and TIFF only).

    Returns:
        The path written.

    Example:
        >>> with tempfile.TemporaryDirectory() as folder:
        ...     path = save_image(torch.rand(1, 3, 8, 8), Path(folder) / "out.png", metadata={"seed": 7})
        ...     read_metadata(path)
        {'seed': 7}
    """
    check_arguments(save_image, locals())
    if not isinstance(path, (str, os.PathLike)):
        raise ArgumentTypeError(f"path must be a string or a pathlib.Path, not {reprlib.repr(path)}")
    if metadata is not None and not isinstance(metadata, Mapping):
        raise ArgumentTypeError(f"metadata must be a mapping (a dict), not {reprlib.repr(metadata)}")
    path = check_writable(path, bits=bits)
    fmt = WRITABLE_SUFFIXES[path.suffix.lower()]
    as_is = (
        isinstance(image, Image.Image)
        and bits == 8
        and image.mode in _OWN_MODES[fmt]
        and not image.info.get("icc_profile")  # tagged sRGB below: other spaces are converted
    )
    if as_is:
        image = upright_pil(image, what=f"{path}: not written")
        if 0 in image.size:
            raise RestyleError(f"{path}: not written: the image has zero size")
    else:  # checked and brought to (1, 3, H, W) on 0..1 as an input is
        image = load_image(image, what=f"{path}: not written")
    check_output_side(path, max(image.size) if isinstance(image, Image.Image) else max(image.shape[-2:]))
    text = json.dumps(dict(metadata), default=_json_default, sort_keys=True) if metadata else None
    if fmt == "JPEG" and text and len(text.encode()) > JPEG_COMMENT_LIMIT:  # libjpeg: "broken data stream"
        raise RestyleError(
            f"{path}: not written: its parameters take {len(text.encode()):,} bytes, more than a JPEG "
            f"comment holds ({JPEG_COMMENT_LIMIT:,}); save it as PNG, TIFF or WebP"
        )
    if bits == 16:
        rgb = to_uint16(image)
        if fmt == "PNG":
            data = encode_png16(
                rgb, text={"Software": "restyle", **({"restyle": text} if text else {})}, icc=srgb_profile(), exif=exif
            )
            return atomic_write(path, lambda handle: handle.write(data))
        return atomic_write(
            path, lambda handle: write_tiff16(handle, rgb, description=text, icc=srgb_profile(), exif=exif)
        )
    pil = image if isinstance(image, Image.Image) else to_pil(image)
    kwargs: dict[str, Any] = {"icc_profile": srgb_profile()}
    tags = Image.Exif()
    if exif:
        tags.load(exif)
    if fmt in ("TIFF", "WEBP") and text:
        tags[270] = text  # ASCII (json.dumps escapes other characters); TIFF's ImageDescription
    if len(tags):
        kwargs["exif"] = tags
    if fmt == "PNG":
        info = PngImagePlugin.PngInfo()
        info.add_text("Software", "restyle")
        if text:
            info.add_text("restyle", text)
        kwargs["pnginfo"] = info
    elif fmt == "JPEG":
        kwargs["quality"] = 95
        kwargs["subsampling"] = 0  # 4:4:4: stylised detail is often in the colours
        if text:
            kwargs["comment"] = text.encode()
    elif fmt == "WEBP":
        kwargs["lossless"] = True
    with _jpeg_header_room(kwargs) if fmt == "JPEG" else contextlib.nullcontext():
        atomic_write(path, lambda handle: pil.save(handle, format=fmt, **kwargs))
    return path


_HEADER_ROOM = threading.Lock()


@contextlib.contextmanager
def _jpeg_header_room(kwargs: Mapping[str, Any]) -> Iterator[None]:
    """Room for a JPEG's segments before its pixels. Pillow's encoder must hold them all at once
    (EXIF, ICC profile, comment) in a buffer of ``ImageFile.MAXBLOCK`` bytes, 64 KiB unless a
    larger image asks for more, and it sizes that buffer without the comment: a camera's 64 KB
    of EXIF and a result's parameters failed as "broken data stream", after all the work."""
    exif = kwargs.get("exif")
    needed = sum(len(kwargs.get(k) or b"") for k in ("icc_profile", "comment"))
    needed += len(exif.tobytes()) if exif is not None else 0
    with _HEADER_ROOM:
        before = ImageFile.MAXBLOCK
        ImageFile.MAXBLOCK = max(before, needed + 4096)  # and the markers, JFIF's segment, a spare
        try:
            yield
        finally:
            ImageFile.MAXBLOCK = before


def camera_exif(source: object) -> bytes | None:
    """A photo's EXIF (camera, lens, exposure, date taken, ...), to store with its stylised
    result: the orientation set to upright (:func:`load_image` turns the pixels) and the
    original pixel size dropped. ``source`` is a file path or a PIL image; None for anything
    else, or without EXIF.

    Example:
        >>> camera_exif(np.zeros((2, 2, 3))) is None
        True
    """
    try:
        if isinstance(source, Image.Image):
            exif = Image.Exif()
            exif.load(source.getexif().tobytes())  # a copy: the caller's image keeps its own
            return _upright_exif(exif)
        if isinstance(source, (str, os.PathLike)) and not str(source).startswith(SAMPLE_PREFIX):
            with Image.open(source) as img:
                return _upright_exif(img.getexif())
    except Exception:  # unreadable EXIF is not worth failing a finished result for
        return None
    return None


#: The first-directory tags of a photo's EXIF that describe the photo: make, model, date and
#: time, artist, copyright. A TIFF's (or a DNG's) first directory is also its image's: strips,
#: bit depths, XMP, colour profile, private camera data, which must not travel with a result.
_PHOTO_TAGS = (0x010F, 0x0110, 0x0132, 0x013B, 0x8298)
#: Tags of the Exif directory left out: the source's pixel size, and the interoperability
#: directory, which Pillow hands over as a bare offset.
_DROPPED_DETAILS = (0xA002, 0xA003, 0xA005)
#: The most EXIF bytes passed on: a JPEG's EXIF segment holds at most 64 KiB.
EXIF_LIMIT = 65_000
#: The most bytes a JPEG comment (its COM segment, where the parameters go) holds.
JPEG_COMMENT_LIMIT = 65_533


def _upright_exif(exif: Image.Exif) -> bytes | None:
    """The photo-describing part of ``exif`` (:data:`_PHOTO_TAGS`, the Exif and GPS directories),
    its orientation set to upright; without the maker note if that is what makes it too long for
    a JPEG (:data:`EXIF_LIMIT`), and None if it is too long even then."""
    if not exif:
        return None
    kept = Image.Exif()
    for tag in _PHOTO_TAGS:
        if tag in exif:
            kept[tag] = exif[tag]
    kept[0x0112] = 1  # Orientation: upright
    details = {k: v for k, v in exif.get_ifd(0x8769).items() if k not in _DROPPED_DETAILS}
    if details:
        kept[0x8769] = details
    gps = dict(exif.get_ifd(0x8825))
    if gps:
        kept[0x8825] = gps
    data = kept.tobytes()
    if len(data) > EXIF_LIMIT and 0x927C in details:  # MakerNote: a camera's private data, often large
        kept[0x8769] = {k: v for k, v in details.items() if k != 0x927C}
        data = kept.tobytes()
    return data if len(data) <= EXIF_LIMIT else None


def read_metadata(path: str | os.PathLike) -> dict[str, Any]:
    """The parameters :func:`save_image` stored in an image (or ``restyle video`` in a video),
    or ``{}`` if there are none."""
    from restyle.clip import VIDEO_SUFFIXES, read_video_metadata  # clip reads frames through this module

    if Path(path).suffix.lower() in VIDEO_SUFFIXES:
        return read_video_metadata(path)
    if is_raw(Path(path)) or Path(path).suffix.lower() in VIDEO_FILE_SUFFIXES:  # a camera's file, or a
        _check_readable(Path(path))  # clip of a kind restyle never writes: never a restyle result
        return {}
    with _pil_pixel_limit(DEFAULT_MAX_PIXELS), _open(Path(path)) as img:
        text = img.info.get("restyle") or img.info.get("comment")
        if text is None and img.format in ("TIFF", "WEBP"):
            text = _exif(img).get(270)  # ImageDescription
    if isinstance(text, bytes):
        text = text.decode(errors="replace")
    try:
        return json.loads(text) if text else {}
    except json.JSONDecodeError:
        return {}


# Truncated files must be an error, never a silently grey-filled image.
ImageFile.LOAD_TRUNCATED_IMAGES = False
