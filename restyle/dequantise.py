"""Smooth gradients back out of 8-bit steps, before a style stretches them into bands.

An 8-bit photo or video frame stores a smooth gradient, such as a clear sky, as a staircase of
one-level steps. Invisible as it is, a style that stretches the sky's range six times makes each
step a visible band. :func:`dequantise` finds a smooth image that still rounds to the stored
one: every value stays within ``tolerance`` levels of the stored value, so nothing the file holds
is lost, but the steps of a gradient become the ramp they were cut from.

How: only a flat pixel may move, one whose 3 x 3 neighbourhood spans at most ``flat_span``
levels in its channel: a staircase's. Texture, grain, noise and edges span more, and stay exactly
as read (an ungated version moved 75-82% of a real photo's pixels by over half a level, flattening
fine texture). The flat pixels are then averaged along rows, then columns, and clamped back into
their interval, from wide windows to narrow ones (``WINDOWS``). A wide window bridges the long
flat runs of a gentle gradient; the narrow ones that follow take out the wide one's bias where
the gradient curves. A window stops at an edge or texture, so that a skyline does not pull the
sky beside it towards its own tone, and at the border; it stays centred, made narrower on both
sides, so that a ramp stays straight up to either.

A photo with grain or sensor noise has few flat pixels (6-7% of the values of DPST's inputs
move, by 0.03 levels on average), and does not band: its noise dithers the steps. The smoothing is for what has been cleaned of noise: a
compressed video's sky, a rendered or edited gradient, a denoised phone photo.

Why a tolerance of 0.75 levels, not 0.5: a JPEG's RGB, like a video frame's, is rounded after its
conversion from 8-bit YCbCr, so its error from the scene reaches beyond half a level (a luma
step is 1.16 RGB levels in video range). Measured with a first version on a 10-bit sky ramp
read into 8-bit RGB and stylised by the ``fast`` photo preset, the output's banding was 8.1
levels RMS as read, 1.1 with a tolerance of 0.5, and 0.15 with 0.75 or 1.0
(``benchmarks/RESULTS.md``, "Banding"). A video is now smoothed in its YUV codes instead
(:func:`restyle.clip.read_frames`), and a JPEG in its YCbCr codes
(:func:`restyle.image.load_image`), where a step is one code.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import Tensor, nn

__all__ = ["WINDOWS", "Dequantise", "dequantise", "dequantise_from", "flat", "on_grid"]

#: The windows' radii, widest first. On synthetic skies at 640x360 (steps 1 to 200 rows apart),
#: these three passes reconstructed the ramp as well as six (32, 16, 8, 4, 2, 1): 0.025, 0.087 and
#: 0.225 levels RMS against 0.029, 0.075 and 0.217, from 0.289 as stored; windows up to 64 or
#: more helped only the gentlest ramps, and bent the others.
WINDOWS = (32, 8, 2)


def _check(image: Tensor) -> None:
    if not image.is_floating_point():
        raise ValueError(f"expected a float image in [0, 1], got dtype {image.dtype}")
    if image.ndim < 2:
        raise ValueError(f"expected at least 2 dimensions (H, W), got shape {tuple(image.shape)}")


def _room(smooth: Tensor, dim: int) -> Tensor:
    """For each pixel, how many pixels along ``dim`` on its nearer side, before the border or a
    pixel that is not ``smooth`` (0 for such a pixel itself)."""
    if dim % smooth.ndim != smooth.ndim - 1:  # along the last dimension: 5 times faster on rows
        return _room(smooth.transpose(dim, -1).contiguous(), -1).transpose(dim, -1)
    length = smooth.shape[-1]
    index = torch.arange(length, device=smooth.device).expand_as(smooth)
    before = torch.where(smooth, -1, index).cummax(-1).values  # the last stop at or before
    after = torch.where(smooth, length, index).flip(-1).cummin(-1).values.flip(-1)  # the next
    return torch.minimum(index - before - 1, after - index - 1).clamp_min(0)


def _stopped_mean(x: Tensor, room: Tensor, radius: int, dim: int) -> Tensor:
    """The mean along ``dim`` over the window of ``radius`` centred on each pixel, made narrower,
    symmetrically, where it would reach past the border or a stop (``room``): on a ramp, a
    symmetric window's mean is the centre's value, so the ramp stays straight up to a stop."""
    reach = room.clamp(max=radius)
    length = x.shape[dim]
    index = torch.arange(length, device=x.device).view([length if d == dim else 1 for d in range(x.ndim)])
    shape = list(x.shape)
    shape[dim] = 1
    running = torch.cat([x.new_zeros(shape), x.cumsum(dim)], dim)  # running[j] = sum of x[:j]
    total = running.gather(dim, index + reach + 1) - running.gather(dim, index - reach)
    return total / (2 * reach + 1)


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
    values = image.detach().reshape(-1)
    # float32 holds k / levels * levels within 3e-5 of k for up to 12 bits; float64 beyond. In
    # float32 and in place, a 24 MP photo took 0.07 s against 0.8-1.1 s in float64
    dtype = torch.float32 if levels < 1 << 12 else torch.float64
    for chunk in values.split(1 << 22):  # in chunks: a 24 MP photo at once would take 0.3 GB more
        scaled = chunk.to(dtype) * levels
        scaled -= scaled.round()
        if not float(scaled.abs_().max()) <= 1e-3:  # NaN is not on the grid either
            return False
    return True


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
    return _spans(image) * levels <= span + 1e-3


def _spans(image: Tensor) -> Tensor:
    """How far each pixel's 3 x 3 neighbourhood (cut at the borders) spans, in its channel."""
    # the border pixels repeated: a window cut at the border holds the same values (shifted
    # slices, separably; with max_pool2d, dequantise took 95 ms a 640x360 frame against 80)
    padded = F.pad(image.reshape(-1, 1, *image.shape[-2:]), (1, 1, 1, 1), mode="replicate")[:, 0]

    def window(op: Callable[[Tensor, Tensor], Tensor]) -> Tensor:
        rows = op(op(padded[:, :-2], padded[:, 1:-1]), padded[:, 2:])
        return op(op(rows[..., :-2], rows[..., 1:-1]), rows[..., 2:])

    return (window(torch.maximum) - window(torch.minimum)).reshape(image.shape)


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
    spans = _spans(image) * levels
    movers = spans <= flat_span + 1e-3  # flat(image), from the spans computed once
    if not bool(movers.any()):  # grain or noise everywhere: nothing to smooth
        return image
    reach = movers.to(image.dtype) * (tolerance / levels)
    # a window stops at a pixel whose neighbourhood spans more than twice that (an edge or
    # texture, which would pull the flat pixels beside it towards its own tone; a step that a
    # resize has blurred and overshot a little does not stop it)
    smooth = spans <= 2 * flat_span + 1e-3
    rows, columns = _room(smooth, image.ndim - 2), _room(smooth, image.ndim - 1)
    low = image - reach
    high = image + reach
    out = image
    for radius in WINDOWS:
        mean = _stopped_mean(_stopped_mean(out, columns, radius, image.ndim - 1), rows, radius, image.ndim - 2)
        out = torch.minimum(torch.maximum(mean, low), high)
    return out.clamp(0.0, 1.0)


def dequantise_from(
    image: Tensor, smaller: Tensor, *, levels: int = 255, tolerance: float = 0.75, flat_span: float = 1.0
) -> Tensor:
    """:func:`dequantise` for a large image, from a smaller copy of it already dequantised: each
    pixel that is flat in both moves towards the smaller copy resized to the image's size
    (bicubic), by at most ``tolerance`` steps. A flat area holds no detail that the smaller copy
    lacks, and there the smaller copy, an average of many steps, is the ramp they were cut from
    (near an edge or texture, where the smaller copy is not flat, it averages some of that in, and
    the pixel stays as read). A few elementwise passes over the large image instead of
    :func:`dequantise`'s windows: used for a photo carried up to its own size.

    Args:
        image: quantised values in [0, 1].
        smaller: the same picture at a smaller size, smoothed.
        levels, tolerance, flat_span: as :func:`dequantise`'s.

    Shape:
        - image: :math:`(B, C, H, W)`
        - smaller: :math:`(B, C, h, w)`
        - output: :math:`(B, C, H, W)`

    Example:
        >>> ramp = torch.linspace(0.1, 0.12, 512)[:, None].expand(1, 3, 512, 64)
        >>> stored = (ramp * 255).round() / 255
        >>> small = dequantise(torch.nn.functional.interpolate(stored, size=(128, 16), mode="area"))
        >>> def error(x):  # from the ramp, in levels
        ...     return float(((x - ramp) * 255).abs().mean())
        >>> error(dequantise_from(stored, small)) < error(stored) / 3
        True
    """
    _check(image)
    if image.ndim != 4 or smaller.ndim != 4 or smaller.shape[:2] != image.shape[:2]:
        raise ValueError(
            f"expected images (B, C, H, W) of the same B and C, got {tuple(image.shape)}, {tuple(smaller.shape)}"
        )
    size = image.shape[-2:]
    smaller = smaller.to(image.dtype)
    # flat in the smaller copy too: near an edge or texture, its pixels average some of it in
    trusted = F.interpolate(flat(smaller, levels=levels, span=flat_span).to(image.dtype), size=size, mode="bilinear")
    reach = (flat(image, levels=levels, span=flat_span) & (trusted > 1 - 1e-6)).to(image.dtype) * (tolerance / levels)
    up = F.interpolate(smaller, size=size, mode="bicubic", align_corners=False)
    return torch.minimum(torch.maximum(up, image - reach), image + reach).clamp(0.0, 1.0)


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
