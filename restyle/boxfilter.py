"""Box sums over square windows in O(N), whatever the radius (running sums, one axis at a time).

Two operators on the last two dimensions of a tensor:

- :func:`box_sum_valid` sums every complete ``k x k`` window: ``(H, W) -> (H-k+1, W-k+1)``;
- :func:`box_sum_adjoint` is its transpose: each pixel receives the sum over the windows that
  contain it: ``(H-k+1, W-k+1) -> (H, W)``.

Running sums are taken along one axis at a time, so their magnitude grows with one side of the
image rather than with its area, which keeps float32 results accurate. Small windows (up to 5
pixels a side, DPST's 3 x 3 among them) sum shifted slices directly, which is faster still.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

__all__ = ["box_sum_adjoint", "box_sum_valid"]


#: Up to this window size, shifted slices are summed directly (fewer passes than running sums).
_DIRECT_MAX = 5


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
    if k < 1:
        raise ValueError(f"window size must be at least 1, got {k}")
    return box_sum_valid(F.pad(y, (k - 1, k - 1, k - 1, k - 1)), k)
