"""Box sums over square windows in O(N), whatever the radius (running sums, one axis at a time).

Three operators on the last two dimensions of a tensor:

- :func:`box_sum_valid` sums every complete ``k x k`` window: ``(H, W) -> (H-k+1, W-k+1)``;
- :func:`box_sum_adjoint` is its transpose: each pixel receives the sum over the windows that
  contain it: ``(H-k+1, W-k+1) -> (H, W)``;
- :func:`box_mean` averages the window centred on each pixel, cut at the image's borders:
  ``(H, W) -> (H, W)`` (the guided filter's and the local affine fits' means).

Running sums are taken along one axis at a time, so their magnitude grows with one side of the
image rather than with its area, which keeps float32 results accurate. Small windows (up to 5
pixels a side, DPST's 3 x 3 among them) sum shifted slices directly, which is faster still.
"""

from __future__ import annotations

import itertools

import torch
import torch.nn.functional as F
from torch import Tensor

from restyle.errors import check_tensor

__all__ = ["box_mean", "box_sum_adjoint", "box_sum_valid"]


#: Up to this window size, shifted slices are summed directly (fewer passes than running sums).
_DIRECT_MAX = 5


def _check_values(x: Tensor, name: str) -> None:
    check_tensor(x, name, "(*, H, W)", image=False)
    if x.ndim < 2:
        raise ValueError(f"{name}: expected at least 2 dimensions (*, H, W), got shape {tuple(x.shape)}")


def _window_sum_1d(x: Tensor, k: int, dim: int) -> Tensor:
    length = x.shape[dim]
    if length < k:
        shape = list(x.shape)
        shape[dim] = 0
        return x.new_zeros(shape)
    out_len = length - k + 1
    if k <= _DIRECT_MAX:
        out = x.narrow(dim, 0, out_len).clone()
        for shift in range(1, k):
            out += x.narrow(dim, shift, out_len)
        return out
    c = torch.cumsum(x, dim=dim)
    head = c.narrow(dim, k - 1, 1)
    if length == k:
        return head
    return torch.cat([head, c.narrow(dim, k, length - k) - c.narrow(dim, 0, length - k)], dim=dim)


def box_sum_valid(x: Tensor, k: int) -> Tensor:
    """Sum over every complete ``k x k`` window of the last two dimensions.

    Args:
        x: the values to sum.
        k: the window's side.

    Returns:
        One sum per window position.

    Shape:
        - x: :math:`(*, H, W)`
        - output: :math:`(*, H - k + 1, W - k + 1)` (empty if the image is smaller than k)

    Example:
        >>> box_sum_valid(torch.ones(1, 4, 5), 3)
        tensor([[[9., 9., 9.],
                 [9., 9., 9.]]])
    """
    _check_values(x, "box_sum_valid")
    if k < 1:
        raise ValueError(f"window size must be at least 1, got {k}")
    return _window_sum_1d(_window_sum_1d(x, k, x.ndim - 1), k, x.ndim - 2)


def box_sum_adjoint(y: Tensor, k: int) -> Tensor:
    """Transpose of :func:`box_sum_valid`: spread each window's value over its ``k x k`` pixels.

    Args:
        y: one value per window position.
        k: the window's side.

    Returns:
        Each pixel's sum over the windows that contain it.

    Shape:
        - y: :math:`(*, H - k + 1, W - k + 1)`
        - output: :math:`(*, H, W)`

    Example:
        >>> box_sum_adjoint(torch.ones(1, 1, 2), 2)  # two 2x2 windows side by side
        tensor([[[1., 2., 1.],
                 [1., 2., 1.]]])
    """
    _check_values(y, "box_sum_adjoint")
    if k < 1:
        raise ValueError(f"window size must be at least 1, got {k}")
    return box_sum_valid(F.pad(y, (k - 1, k - 1, k - 1, k - 1)), k)


def _clipped_sum_1d(x: Tensor, radius: int, dim: int) -> Tensor:
    """Sum over ``[i - radius, i + radius]`` cut to ``[0, L)`` along ``dim``, for every ``i``:
    differences of a running sum that starts at 0, written into the output range by range (no
    padded copy of ``x``, no concatenation)."""
    length = x.shape[dim]
    shape = list(x.shape)
    shape[dim] = length + 1
    running = x.new_empty(shape)  # running[j] = sum of x[:j]
    running.narrow(dim, 0, 1).zero_()
    torch.cumsum(x, dim=dim, out=running.narrow(dim, 1, length))
    out = torch.empty_like(x)
    # out[i] = running[min(i + radius + 1, L)] - running[max(i - radius, 0)]: on each range of i
    # between these two cuts, each of the two terms is a shifted slice or a constant
    cuts = sorted({0, min(radius, length), max(length - radius, 0), length})
    for a, b in itertools.pairwise(cuts):
        n = b - a
        upper = running.narrow(dim, a + radius + 1, n) if a < length - radius else running.narrow(dim, length, 1)
        if a < radius:  # the window starts at the first pixel: nothing to subtract
            out.narrow(dim, a, n).copy_(upper)
        else:
            torch.sub(upper, running.narrow(dim, a - radius, n), out=out.narrow(dim, a, n))
    return out


def _window_counts(length: int, radius: int, like: Tensor) -> Tensor:
    """How many pixels of ``[0, length)`` each cut window ``[i - radius, i + radius]`` holds."""
    i = torch.arange(length, dtype=like.dtype, device=like.device)
    return (i + radius + 1).clamp(max=length) - (i - radius).clamp(min=0)


def box_mean(x: Tensor, radius: int) -> Tensor:
    """Mean over the ``(2 radius + 1)^2`` window centred on each pixel, cut at the borders (a
    border pixel averages the part of its window inside the image).

    Args:
        x: the values to average.
        radius: the window's radius, at least 0.

    Returns:
        One mean per pixel.

    Shape:
        - x: :math:`(*, H, W)`
        - output: :math:`(*, H, W)`

    Example:
        >>> box_mean(torch.tensor([[1.0, 2.0, 3.0, 4.0]]), 1)  # windows of 2, 3, 3 and 2 values
        tensor([[1.5000, 2.0000, 3.0000, 3.5000]])
    """
    _check_values(x, "box_mean")
    if radius < 0:
        raise ValueError(f"radius must be at least 0, got {radius}")
    height, width = x.shape[-2:]
    sums = _clipped_sum_1d(_clipped_sum_1d(x, radius, x.ndim - 1), radius, x.ndim - 2)
    return sums / (_window_counts(height, radius, x)[:, None] * _window_counts(width, radius, x))
