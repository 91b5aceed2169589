"""HDR and wide-gamut pictures to SDR: what a clip recorded in HLG (phones' default) or PQ,
or a photo in Display P3 or BT.2020 colours, looks like on an sRGB/BT.709 screen, so that it
can be stylised and written as an ordinary picture.

The mapping is display-referred, after ITU-R BT.2100 and the reference levels of BT.2408:

1. the HDR signal (BT.2020 primaries) to display light in cd/m²: PQ by its EOTF; HLG by its
   inverse OETF and the OOTF of a 1000 cd/m² display (system gamma 1.2, black level 0);
2. HDR reference white (203 cd/m²: HLG at 75%, PQ at 58%) scaled to SDR white's level, 1.0
   (step 4 then brings it down to 0.9, to leave room for highlights);
3. BT.2020 primaries to BT.709 (a 3 x 3 matrix on linear light, derived here from the
   primaries' chromaticities); colours outside BT.709 are clipped;
4. luminance above :data:`KNEE` compressed smoothly into [KNEE, 1] (hue and saturation kept),
   reaching 1.0 at a 1000 cd/m² peak, so highlights keep their gradation instead of clipping;
5. linear light to the BT.709 signal by the inverse of the BT.1886 display's gamma 2.4, which is
   how players show the BT.709 video restyle writes.

The colour functions work on float tensors whose last axis holds the three colour channels, in
their own dtype (float32 for frames; float64 where precision is checked).
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import Tensor

from restyle.color import linear_to_srgb, srgb_to_linear
from restyle.errors import check_tensor

__all__ = [
    "BT709",
    "BT2020",
    "DISPLAY_P3",
    "HDR_CURVES",
    "KNEE",
    "REFERENCE_WHITE",
    "hdr_to_sdr",
    "hlg_to_display",
    "pq_to_display",
    "primaries_matrix",
    "tone_map",
    "wide_gamut_to_srgb",
]

#: The transfer curves handled, by ffmpeg's names: HLG (ARIB STD-B67) and PQ (SMPTE ST 2084).
HDR_CURVES = {"arib-std-b67": "hlg", "smpte2084": "pq"}
#: HDR reference white in cd/m² (BT.2408): diffuse white, mapped to SDR white.
REFERENCE_WHITE = 203.0
#: Relative luminance (SDR white = 1) up to which the tone curve is the identity.
KNEE = 0.8
#: The peak of the HLG display assumed by the OOTF, in cd/m² (BT.2100's reference).
HLG_PEAK = 1000.0

# HLG's OETF constants (BT.2100)
_A = 0.17883277
_B = 1.0 - 4.0 * _A
_C = 0.5 - _A * math.log(4.0 * _A)
# PQ's EOTF constants (SMPTE ST 2084)
_M1, _M2 = 2610 / 16384, 2523 / 4096 * 128
_C1, _C2, _C3 = 3424 / 4096, 2413 / 4096 * 32, 2392 / 4096 * 32
#: BT.2020's luminance weights.
_Y2020 = (0.2627, 0.6780, 0.0593)
#: Chromaticities (x, y) of the red, green and blue primaries: BT.709 (and sRGB), BT.2020, and
#: Display P3 (DCI-P3's primaries with the D65 white); all three with the D65 white point.
Primaries = tuple[tuple[float, float], tuple[float, float], tuple[float, float]]
BT709: Primaries = ((0.640, 0.330), (0.300, 0.600), (0.150, 0.060))
BT2020: Primaries = ((0.708, 0.292), (0.170, 0.797), (0.131, 0.046))
DISPLAY_P3: Primaries = ((0.680, 0.320), (0.265, 0.690), (0.150, 0.060))
_D65 = (0.3127, 0.3290)


def _check_rgb(x: Tensor, name: str) -> None:
    check_tensor(x, name, "(*, 3) of RGB values", image=False)
    if not x.is_floating_point() or x.shape[-1:] != (3,):
        raise ValueError(
            f"{name}: expected a float tensor with RGB values on the last axis, got {x.dtype} {tuple(x.shape)}"
        )


def _weights(values: tuple[float, ...] | np.ndarray, like: Tensor) -> Tensor:
    return torch.as_tensor(np.asarray(values), dtype=like.dtype, device=like.device)


def hlg_to_display(signal: Tensor, *, peak: float = HLG_PEAK) -> Tensor:
    """HLG signal to display light: the inverse OETF, then the OOTF of a ``peak`` cd/m² display.

    Args:
        signal: non-linear HLG RGB in [0, 1] (BT.2020 primaries).
        peak: the display's peak luminance; its system gamma is ``1.2 + 0.42 log10(peak / 1000)``.

    Returns:
        Display light in cd/m².

    Shape:
        - signal: :math:`(*, 3)`; output the same

    Example:
        >>> round(float(hlg_to_display(torch.full((3,), 0.75))[0]))  # HLG 75%: HDR reference white
        203
    """
    _check_rgb(signal, "hlg_to_display")
    e = signal.clamp(0.0, 1.0)
    scene = torch.where(e <= 0.5, e * e / 3.0, (torch.exp((e - _C) / _A) + _B) / 12.0)
    gamma = 1.2 + 0.42 * math.log10(peak / 1000.0)
    luminance = scene @ _weights(_Y2020, scene)
    return peak * luminance.unsqueeze(-1).pow(gamma - 1.0) * scene


def pq_to_display(signal: Tensor) -> Tensor:
    """PQ signal to display light in cd/m² (the ST 2084 EOTF, up to 10000 cd/m²).

    Shape:
        - signal: :math:`(*, 3)`; output the same

    Example:
        >>> round(float(pq_to_display(torch.full((3,), 0.5806))[0]))  # PQ 58%: HDR reference white
        203
    """
    _check_rgb(signal, "pq_to_display")
    p = signal.clamp(0.0, 1.0).pow(1.0 / _M2)
    return 10000.0 * ((p - _C1).clamp_min(0.0) / (_C2 - _C3 * p)).pow(1.0 / _M1)


def _rgb_to_xyz(primaries: Primaries) -> np.ndarray:
    """The linear RGB -> CIE XYZ matrix of a set of primaries with the D65 white (Y of white = 1)."""
    columns = np.array([[x / y, 1.0, (1.0 - x - y) / y] for x, y in primaries]).T
    wx, wy = _D65
    white = np.array([wx / wy, 1.0, (1.0 - wx - wy) / wy])
    return columns * np.linalg.solve(columns, white)


def primaries_matrix(source: Primaries, target: Primaries) -> np.ndarray:
    """The 3 x 3 matrix taking linear RGB in ``source`` primaries to ``target`` primaries (both D65).

    Example:
        >>> bool(np.allclose(primaries_matrix(BT709, BT709), np.eye(3)))
        True
        >>> primaries_matrix(BT2020, BT709)[0].round(4).tolist()  # BT.2087 gives it rounded so
        [1.6605, -0.5876, -0.0728]
    """
    return np.linalg.solve(_rgb_to_xyz(target), _rgb_to_xyz(source))


def tone_map(rgb: Tensor, *, knee: float = KNEE, peak: float = HLG_PEAK / REFERENCE_WHITE) -> Tensor:
    """Compress luminance between ``knee`` and ``peak`` smoothly into ``[knee, 1]`` (1 = SDR
    white), keeping each pixel's hue and saturation (its channels scaled by one factor); the
    identity below ``knee``, and 1 from ``peak`` up.

    Above the knee, with ``t = (Y - knee) / (1 - knee)`` and ``w`` the ``t`` of the peak, the
    curve is ``knee + (1 - knee) t (1 + t / w^2) / (1 + t)`` (Reinhard's extended operator on the
    part above the knee): continuous with its slope at the knee, increasing, 1 at the peak.

    Args:
        rgb: linear BT.709 RGB, SDR white = 1, non-negative.
        knee: where the compression starts, in (0, 1).
        peak: the luminance brought to 1 (default: a 1000 cd/m² peak over 203 cd/m² white).

    Shape:
        - rgb: :math:`(*, 3)`; output the same

    Example:
        >>> tone_map(torch.tensor([0.5, 0.5, 0.5])).tolist()  # below the knee: unchanged
        [0.5, 0.5, 0.5]
        >>> tone_map(torch.tensor([[1.0, 1.0, 1.0], [1000 / 203] * 3], dtype=torch.float64))[:, 0].round(decimals=3).tolist()
        [0.9, 1.0]
    """
    _check_rgb(rgb, "tone_map")
    if not 0.0 < knee < 1.0 < peak:
        raise ValueError(f"need 0 < knee < 1 < peak, got knee {knee} and peak {peak}")
    luminance = rgb @ _weights(_rgb_to_xyz(BT709)[1], rgb)  # BT.709's weights, 0.2126, 0.7152, 0.0722
    over = luminance > knee
    t = (luminance.clamp_max(peak) - knee) / (1.0 - knee)
    w = (peak - knee) / (1.0 - knee)
    mapped = knee + (1.0 - knee) * t * (1.0 + t / (w * w)) / (1.0 + t)
    scale = torch.where(over, mapped / torch.where(over, luminance, 1.0), 1.0)
    return rgb * scale.unsqueeze(-1)


def hdr_to_sdr(signal: Tensor, curve: str, *, primaries: Primaries = BT2020) -> Tensor:
    """HDR RGB signal to the BT.709 signal an SDR screen shows (module doc).

    Args:
        signal: the non-linear HDR RGB values in [0, 1], as decoded from the video.
        curve: ``"hlg"`` or ``"pq"``.
        primaries: the signal's primaries (BT.2020 in video; a HEIF photo may say others).

    Returns:
        The BT.709 RGB signal in [0, 1], for a display with gamma 2.4.

    Shape:
        - signal: :math:`(*, 3)`; output the same

    Example:
        >>> sdr = hdr_to_sdr(torch.tensor([[0.0] * 3, [0.75] * 3, [1.0] * 3], dtype=torch.float64), "hlg")
        >>> sdr[:, 0].round(decimals=3).tolist()  # black, reference white, peak white
        [0.0, 0.957, 1.0]
    """
    _check_rgb(signal, "hdr_to_sdr")
    if curve == "hlg":
        display = hlg_to_display(signal)
    elif curve == "pq":
        display = pq_to_display(signal)
    else:
        raise ValueError(f"unknown HDR curve {curve!r}: choose hlg or pq")
    to_bt709 = _weights(primaries_matrix(primaries, BT709).T, display)
    linear = ((display / REFERENCE_WHITE) @ to_bt709).clamp_min(0.0)
    return tone_map(linear).clamp(0.0, 1.0).pow(1.0 / 2.4)


def wide_gamut_to_srgb(signal: Tensor, primaries: Primaries) -> Tensor:
    """An SDR signal with the sRGB curve in other primaries (a Display P3 or BT.2020 photo) to
    sRGB: decoded to linear light, converted, colours outside sRGB clipped, encoded again.

    Args:
        signal: RGB in [0, 1].
        primaries: the signal's primaries, e.g. :data:`DISPLAY_P3`.

    Shape:
        - signal: :math:`(*, 3)`; output the same

    Example:
        >>> p3_red = wide_gamut_to_srgb(torch.tensor([1.0, 0.0, 0.0], dtype=torch.float64), DISPLAY_P3)
        >>> p3_red.round(decimals=3).tolist()  # redder than sRGB's red: clipped to it
        [1.0, 0.0, 0.0]
        >>> wide_gamut_to_srgb(torch.tensor([0.5, 0.5, 0.5], dtype=torch.float64), DISPLAY_P3).round(decimals=6).tolist()
        [0.5, 0.5, 0.5]
    """
    _check_rgb(signal, "wide_gamut_to_srgb")
    linear = srgb_to_linear(signal.clamp(0.0, 1.0)) @ _weights(primaries_matrix(primaries, BT709).T, signal)
    return linear_to_srgb(linear.clamp(0.0, 1.0))
