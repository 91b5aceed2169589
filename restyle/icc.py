"""ICC colour profiles of the matrix/TRC kind, read and applied in floating point.

Adobe RGB (1998), ProPhoto RGB, Display P3 and most other RGB working spaces are described by
three tone curves (TRC) and three primaries (the XYZ of each, adapted to the D50 white of the
ICC's connection space). A photo editor's 16-bit export is usually in one of them. LittleCMS,
as Pillow gives it, converts only 8-bit images, so such a photo lost its 16 bits on its way to
sRGB. :func:`to_srgb` converts it in floating point instead: decode each channel by its curve,
go to XYZ (D50) by the profile's primaries, from there to linear sRGB by LittleCMS's own sRGB
primaries, clip to the sRGB gamut, encode by sRGB's curve. For a matrix/TRC source this is what
LittleCMS computes at any intent (such profiles have no perceptual tables), within its 8-bit
rounding. 8-bit images still go through LittleCMS (:func:`restyle.image.load_image`): rounded
back to 8 bits, their colours stay on the grid that :mod:`restyle.dequantise` recognises.

Profiles with lookup tables (``A2B0``: camera, printer and some monitor profiles), or with
a Lab connection space, are not matrix/TRC: :func:`read_matrix_shaper` returns None for them,
and the caller converts through LittleCMS at 8 bits, as before; so too for curves that do not
start at black, whose black point LittleCMS compensates.

ICC.1:2022 (profile version 4.4), sections 7.2 (header), 7.3 (tag table), 10.6 (``curv``),
10.18 (``para``) and 10.31 (``XYZ``) give the layouts read here.
"""

from __future__ import annotations

import functools
import struct
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

from restyle.color import linear_to_srgb

__all__ = ["MatrixShaper", "read_matrix_shaper", "srgb_profile", "to_srgb"]

Curve = Callable[[Tensor], Tensor]

#: How many parameters each ``para`` function type has (ICC.1 table 68).
_PARA_COUNTS = {0: 1, 1: 3, 2: 4, 3: 5, 4: 7}
#: Tags that make LittleCMS use a lookup table rather than the matrix and curves.
_LUT_TAGS = (b"A2B0", b"A2B1", b"A2B2", b"D2B0", b"D2B1", b"D2B2")


@dataclass(frozen=True)
class MatrixShaper:
    """A matrix/TRC RGB profile: ``curves`` decode each channel to linear light; the columns of
    ``colorants`` are the XYZ (D50) of the red, green and blue primaries."""

    colorants: np.ndarray
    curves: tuple[Curve, Curve, Curve]


def read_matrix_shaper(profile: bytes) -> MatrixShaper | None:
    """The primaries and curves of an RGB matrix/TRC ICC profile; None for any other profile
    (lookup tables, a Lab connection space, CMYK or grey, a damaged file).

    Example:
        >>> srgb = read_matrix_shaper(srgb_profile())
        >>> srgb.colorants.sum(axis=1).round(4).tolist()  # the D50 white
        [0.9642, 1.0, 0.8249]
    """
    try:
        if len(profile) < 132 or profile[16:20] != b"RGB " or profile[20:24] != b"XYZ ":
            return None
        (count,) = struct.unpack_from(">I", profile, 128)
        tags: dict[bytes, tuple[int, int]] = {}
        for index in range(count):
            signature, offset, size = struct.unpack_from(">4sII", profile, 132 + 12 * index)
            tags[signature] = (offset, size)
        if any(tag in tags for tag in _LUT_TAGS):
            return None
        colorants = np.stack([_xyz(profile, *tags[tag]) for tag in (b"rXYZ", b"gXYZ", b"bXYZ")], axis=1)
        curves = tuple(_curve(profile, *tags[tag]) for tag in (b"rTRC", b"gTRC", b"bTRC"))
    except (KeyError, struct.error, ValueError):
        return None
    if abs(np.linalg.det(colorants)) < 1e-6:
        return None
    # a curve that does not start at black: LittleCMS, converting at the perceptual intent as
    # restyle asks it to, then compensates the black point (36 levels apart in blue, measured
    # with such a profile); that is left to it
    if any(float(curve(torch.zeros(1, dtype=torch.float64))) > 1e-6 for curve in curves):
        return None
    return MatrixShaper(colorants, curves)  # type: ignore[arg-type]


def _fixed(profile: bytes, offset: int, count: int) -> np.ndarray:
    """``count`` s15Fixed16Number values."""
    return np.array(struct.unpack_from(f">{count}i", profile, offset), dtype=np.float64) / 65536.0


def _xyz(profile: bytes, offset: int, size: int) -> np.ndarray:
    if profile[offset : offset + 4] != b"XYZ " or size < 20:
        raise ValueError("not an XYZType")
    return _fixed(profile, offset + 8, 3)


def _curve(profile: bytes, offset: int, size: int) -> Curve:
    kind = profile[offset : offset + 4]
    if kind == b"curv":
        (count,) = struct.unpack_from(">I", profile, offset + 8)
        if count == 0:
            return lambda x: x
        if count == 1:
            (gamma,) = struct.unpack_from(">H", profile, offset + 12)
            return functools.partial(_power, gamma=gamma / 256.0)
        table = np.array(struct.unpack_from(f">{count}H", profile, offset + 12), dtype=np.float64) / 65535.0
        return functools.partial(_sampled, table=table)
    if kind == b"para":
        (function,) = struct.unpack_from(">H", profile, offset + 8)
        if function not in _PARA_COUNTS:
            raise ValueError(f"unknown parametric curve {function}")
        params = _fixed(profile, offset + 12, _PARA_COUNTS[function])
        return functools.partial(_parametric, function=function, params=tuple(params.tolist()))
    raise ValueError("not a curve")


def _power(x: Tensor, *, gamma: float) -> Tensor:
    return x.clamp_min(0.0) ** gamma


def _sampled(x: Tensor, *, table: np.ndarray) -> Tensor:
    """The curve sampled at ``len(table)`` evenly spaced inputs, interpolated linearly."""
    values = torch.as_tensor(table, dtype=x.dtype, device=x.device)
    position = x.clamp(0.0, 1.0) * (len(table) - 1)
    low = position.floor().clamp(max=len(table) - 2).long()
    weight = position - low
    return values[low] * (1 - weight) + values[low + 1] * weight


def _parametric(x: Tensor, *, function: int, params: tuple[float, ...]) -> Tensor:
    """ICC's parametric curves: types 0 to 4 (ICC.1 table 68)."""
    g, a, b, c, d, e, f = (*params, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0)[:7]
    if function == 0:
        return _power(x, gamma=g)
    if function in (1, 2):
        offset = c if function == 2 else 0.0
        start = -b / a if a else 0.0
        return torch.where(x >= start, _power(a * x + b, gamma=g) + offset, torch.full_like(x, offset))
    if function == 3:
        return torch.where(x >= d, _power(a * x + b, gamma=g), c * x)
    return torch.where(x >= d, _power(a * x + b, gamma=g) + e, c * x + f)


#: Rows converted at a time by :func:`to_srgb`.
_BAND = 256


@functools.cache
def srgb_profile() -> bytes:
    """LittleCMS's built-in sRGB profile, as bytes: the one every output of restyle carries."""
    from PIL import ImageCms

    return ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()


@functools.cache
def _from_xyz() -> np.ndarray:
    """XYZ (D50) to linear sRGB, by the primaries of :func:`srgb_profile`."""
    srgb = read_matrix_shaper(srgb_profile())
    assert srgb is not None
    return np.linalg.inv(srgb.colorants)


def to_srgb(rgb: np.ndarray, profile: MatrixShaper) -> np.ndarray:
    """Float RGB ``(H, W, 3)`` in [0, 1], encoded in ``profile``, as sRGB in [0, 1] (colours
    outside sRGB clipped), in floating point throughout.

    Example:
        >>> srgb = read_matrix_shaper(srgb_profile())
        >>> grey = np.full((1, 1, 3), 0.5, np.float32)
        >>> to_srgb(grey, srgb).round(4).ravel().tolist()  # sRGB to sRGB: unchanged
        [0.5, 0.5, 0.5]
    """
    # float32 (within 1e-6 of float64, a 65th of a 16-bit level), in bands of rows: a 24 MP
    # photo took 4.3 s in float64 at once
    signal = torch.from_numpy(np.ascontiguousarray(rgb, dtype=np.float32))
    to_srgb_matrix = torch.from_numpy((_from_xyz() @ profile.colorants).T.astype(np.float32))
    out = torch.empty_like(signal)
    for rows in range(0, signal.shape[0], _BAND):
        band = signal[rows : rows + _BAND]
        linear = torch.stack([curve(band[..., i].clamp(0.0, 1.0)) for i, curve in enumerate(profile.curves)], dim=-1)
        out[rows : rows + _BAND] = linear_to_srgb((linear @ to_srgb_matrix).clamp(0.0, 1.0))
    return out.numpy()
