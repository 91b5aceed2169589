"""Smooth gradients back out of 8-bit steps, before a style stretches them into bands.

An 8-bit photo or video frame stores a smooth gradient, such as a clear sky, as a staircase of
one-level steps. Invisible as it is, a style that stretches the sky's range six times makes each
step a visible band. :func:`dequantise` finds a smooth image that still rounds to the stored
one: every value stays within ``tolerance`` levels of the stored value, so nothing the file holds
is lost, but the steps of a gradient become the ramp they were cut from.

How: only a flat pixel may move, one whose 3 x 3 neighbourhood spans at most ``flat_span``
levels in its channel: a staircase's. Texture, grain, noise and edges span more, and stay exactly
as read (an ungated version moved 75-82% of a real photo's pixels by over half a level, flattening
fine texture). The image is then blurred by a box window and clamped back into its interval,
from wide windows to narrow ones (``WINDOWS``). A wide window bridges the long flat
runs of a gentle gradient; the narrow ones that follow take out the wide one's bias where the
gradient curves. Past the image's borders it is continued by point reflection, so that a ramp
stays straight up to them.

A photo with grain or sensor noise has few flat pixels (0.2-5% of DPST's inputs), and does not
band: its noise dithers the steps. The smoothing is for what has been cleaned of noise: a
compressed video's sky, a rendered or edited gradient, a denoised phone photo.

Why a tolerance of 0.75 levels, not 0.5: a video frame's RGB, and a JPEG's, is rounded after
its conversion from 8-bit YCbCr, so its error from the scene reaches beyond half a level (a luma
step is 1.16 RGB levels in video range). Measured on a 10-bit sky ramp read at 8 bits and
stylised by the ``fast`` photo preset, the output's banding was 8.1 levels RMS as read, 1.1 with
a tolerance of 0.5, and 0.19 with 0.75 or 1.0 (``benchmarks/RESULTS.md``).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from restyle.boxfilter import box_sum_valid

__all__ = ["WINDOWS", "Dequantise", "dequantise", "flat", "on_grid"]

#: The box windows' radii, widest first. On synthetic skies at 640x360 (steps 1 to 200 rows
#: apart), these reconstructed the ramp better than (16, 8, 4, 2, 1) each twice, in 6 passes
#: instead of 10; windows up to 128 helped only the gentlest ramps, and bent the others.
WINDOWS = (32, 16, 8, 4, 2, 1)


def _check(image: Tensor) -> None:
    if not image.is_floating_point():
        raise ValueError(f"expected a float image in [0, 1], got dtype {image.dtype}")
    if image.ndim < 2:
        raise ValueError(f"expected at least 2 dimensions (H, W), got shape {tuple(image.shape)}")


def _ramp_mean(x: Tensor, radius: int) -> Tensor:
    """The mean over the ``(2 radius + 1)^2`` window centred on each pixel, the image continued
    past its borders by point reflection about the border pixel (``2 x[0] - x[k]``), so that a
    ramp stays a ramp up to the border (a window cut at the border would bend it)."""
    radius = min(radius, x.shape[-2] - 1, x.shape[-1] - 1)
    if radius <= 0:
        return x
    shape = x.shape
    planes = x.reshape(-1, 1, *shape[-2:])
    mirrored = F.pad(planes, (radius,) * 4, mode="reflect")
    edges = F.pad(planes, (radius,) * 4, mode="replicate")
    padded = 2 * edges - mirrored
    padded[..., radius:-radius, radius:-radius] = planes
    return (box_sum_valid(padded, 2 * radius + 1) / (2 * radius + 1) ** 2).reshape(shape)


def on_grid(image: Tensor, levels: int = 255) -> bool:
    """Whether every value of a float image is a multiple of ``1 / levels``: an image read from
    8-bit data (for ``levels=255``), and not yet resized.

    Args:
        image: values in [0, 1].
        levels: the number of steps from 0 to 1.

    Example:
        >>> on_grid(torch.tensor([0.0, 128 / 255, 1.0])), on_grid(torch.tensor([0.0, 0.5]))
        (True, False)
    """
    scaled = image.detach().double() * levels
    return bool(((scaled - scaled.round()).abs() <= 1e-3).all())


def flat(image: Tensor, *, levels: int = 255, span: float = 1.0) -> Tensor:
    """Where each pixel's 3 x 3 neighbourhood (cut at the borders) spans at most ``span`` steps
    in its channel.

    Shape:
        - image: :math:`(*, H, W)`
        - output: :math:`(*, H, W)`, bool

    Example:
        >>> stairs = torch.tensor([[0.0, 0, 1, 1, 2, 2, 9, 0]]) / 255
        >>> flat(stairs).int()
        tensor([[1, 1, 1, 1, 1, 0, 0, 0]], dtype=torch.int32)
    """
    _check(image)
    planes = image.reshape(-1, 1, *image.shape[-2:])
    high = F.max_pool2d(planes, 3, stride=1, padding=1)
    low = -F.max_pool2d(-planes, 3, stride=1, padding=1)
    return ((high - low) * levels <= span + 1e-3).reshape(image.shape)


def dequantise(image: Tensor, *, levels: int = 255, tolerance: float = 0.75, flat_span: float = 1.0) -> Tensor:
    """A smooth image that stays within ``tolerance`` steps of ``image``'s values where it is
    flat (:func:`flat`), and equals it elsewhere.

    Args:
        image: quantised values in [0, 1], such as an 8-bit image as floats (it may have been
            resized since: an average of values within the interval of their true ones is
            within the same interval of the true average).
        levels: the number of steps from 0 to 1: 255 for 8 bits.
        tolerance: how far a flat pixel's value may move, in steps.
        flat_span: the most steps a flat pixel's 3 x 3 neighbourhood spans.

    Returns:
        The image with its steps smoothed, in [0, 1], of ``image``'s dtype.

    Shape:
        - image: :math:`(*, H, W)`
        - output: :math:`(*, H, W)`

    Example:
        >>> ramp = torch.linspace(0.1, 0.12, 128)[:, None].expand(128, 8)  # 5 levels over 128 rows
        >>> stored = (ramp * 255).round() / 255
        >>> smooth = dequantise(stored)
        >>> bool((smooth - stored).abs().max() <= 0.75 / 255 + 1e-7)  # within its interval
        True
        >>> def error(x):  # from the ramp, in levels
        ...     return float(((x - ramp) * 255).abs().mean())
        >>> round(error(stored), 2), error(smooth) < error(stored) / 3
        (0.26, True)
    """
    _check(image)
    if not (levels > 0 and tolerance >= 0 and flat_span >= 0):
        raise ValueError(
            f"levels must be positive, tolerance and flat_span at least 0; got {levels}, {tolerance} and {flat_span}"
        )
    reach = flat(image, levels=levels, span=flat_span).to(image.dtype) * (tolerance / levels)
    low = image - reach
    high = image + reach
    out = image
    for radius in WINDOWS:
        out = torch.minimum(torch.maximum(_ramp_mean(out, radius), low), high)
    return out.clamp(0.0, 1.0)


class Dequantise(nn.Module):
    """:func:`dequantise` as a module.

    Example:
        >>> stored = (torch.linspace(0, 0.05, 32)[:, None].expand(32, 4) * 255).round() / 255
        >>> torch.equal(Dequantise()(stored), dequantise(stored))
        True
    """

    def __init__(self, *, levels: int = 255, tolerance: float = 0.75, flat_span: float = 1.0) -> None:
        super().__init__()
        self.levels = levels
        self.tolerance = tolerance
        self.flat_span = flat_span

    def forward(self, image: Tensor) -> Tensor:
        return dequantise(image, levels=self.levels, tolerance=self.tolerance, flat_span=self.flat_span)
