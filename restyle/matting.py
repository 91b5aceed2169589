"""The matting Laplacian of Levin, Lischinski and Weiss (2008), matrix-free in O(N).

For a guide image ``I`` (the content photo) and every complete ``(2r+1) x (2r+1)`` window ``k``
with colour mean ``mu_k`` and covariance ``S_k``, the Laplacian is

    L_ij = sum_{k : i, j in w_k} ( delta_ij - (1 + (I_i - mu_k)' (S_k + eps/|w| Id)^-1 (I_j - mu_k)) / |w| ).

It is never formed. Its product with an image ``p`` is computed in the guided-filter form:
``a_k = (S_k + eps/|w| Id)^-1 cov_k(I, p)``, ``b_k = mean_k(p) - a_k . mu_k`` and
``(L p)_i = n_i p_i - sum_{k containing i} (a_k . I_i + b_k)``, with ``n_i`` the number of
windows containing ``i``. Everything that depends only on the guide is computed once. Memory is
O(N) and, with running-sum box filters, so is the time, whatever the radius.

:func:`matting_laplacian_sparse` builds the explicit ``scipy.sparse`` matrix as a reference.
Windows are the complete ones only, as in Levin et al.'s and DPST's code.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse
import torch
from torch import Tensor, nn

from restyle.boxfilter import box_sum_adjoint, box_sum_valid
from restyle.errors import check_tensor

__all__ = [
    "MattingLaplacian",
    "PhotorealismLoss",
    "matting_laplacian_sparse",
    "photorealism_loss",
]


def _guide_chw(guide: Tensor) -> Tensor:
    check_tensor(guide, "guide", "(3, H, W) or (1, 3, H, W)")
    if guide.ndim == 4:
        if guide.shape[0] != 1:
            raise ValueError(f"guide: expected a single image, got a batch of {guide.shape[0]}")
        guide = guide[0]
    if guide.ndim != 3 or guide.shape[0] != 3:
        raise ValueError(f"guide: expected an RGB image (3, H, W) or (1, 3, H, W), got {tuple(guide.shape)}")
    return guide


class MattingLaplacian:
    """The matting Laplacian of a guide image, as a linear operator.

    Args:
        guide: the image whose local colour-line model defines ``L``, RGB in [0, 1].
        radius: window radius ``r``: windows are ``(2r+1) x (2r+1)`` (DPST: 1).
        eps: regulariser of the window covariances (DPST: 1e-7).
        dtype: working precision (default: the guide's). The guide statistics and the window
            matrices are always computed in float64 first.

    Shape:
        - guide: :math:`(3, H, W)` or :math:`(1, 3, H, W)`
        - products: any :math:`(*, H, W)`, e.g. :math:`(1, 3, H, W)` for three channels at once

    Example:
        >>> lap = MattingLaplacian(torch.rand(3, 8, 9, dtype=torch.float64))
        >>> p = torch.rand(3, 8, 9, dtype=torch.float64)
        >>> bool(lap.energy(p) >= 0)
        True
    """

    def __init__(self, guide: Tensor, *, radius: int = 1, eps: float = 1e-7, dtype: torch.dtype | None = None) -> None:
        guide = _guide_chw(guide)
        if radius < 1:
            raise ValueError(f"radius must be at least 1, got {radius}")
        self.radius = radius
        self.eps = eps
        self.k = 2 * radius + 1
        self.area = float(self.k * self.k)
        self.shape = tuple(guide.shape[-2:])
        self.dtype = dtype or guide.dtype
        g = guide.detach().to(torch.float64)
        k, area = self.k, self.area
        mu = box_sum_valid(g, k) / area  # (3, H', W')
        outer = (g[:, None] * g[None, :]).reshape(9, *g.shape[-2:])
        second = box_sum_valid(outer, k).reshape(3, 3, *mu.shape[-2:]) / area
        cov = second - mu[:, None] * mu[None, :]
        cov = cov + (eps / area) * torch.eye(3, dtype=g.dtype, device=g.device)[:, :, None, None]
        inv = torch.linalg.inv(cov.permute(2, 3, 0, 1)).permute(2, 3, 0, 1) if mu.numel() else cov
        self.windows = mu.shape[-2] * mu.shape[-1]
        work = self.dtype
        self.guide = g.to(work)
        self.mu = mu.to(work)
        # (S_k + eps/|w| Id)^-1 / |w|, (3, 3, H', W'): the products use window sums, not means
        self.inv_area = (inv / area).to(work)
        self.strip_rows = 32
        count = box_sum_adjoint(torch.ones(mu.shape[-2:], dtype=g.dtype, device=g.device), k)
        self._diagonal = self._diagonal_of(g, mu, inv, count, k, area).to(work)
        self.count = count.to(work)

    @property
    def device(self) -> torch.device:
        return self.guide.device

    def to(self, device: torch.device | str) -> MattingLaplacian:
        """Move the operator's precomputed tensors to a device (in place); returns self."""
        for name in ("guide", "mu", "inv_area", "count", "_diagonal"):
            setattr(self, name, getattr(self, name).to(device))
        return self

    def matvec(self, p: Tensor) -> Tensor:
        """``L p`` for each 2-D slice of ``p`` (e.g. each colour channel).

        The product is computed in horizontal strips of ``strip_rows`` rows (each with the few
        rows of halo its windows need), so that the temporaries stay in the CPU's cache: the
        operation is memory-bound, and this makes it several times faster on large images.

        Shape:
            - p: :math:`(*, H, W)`
            - output: same as ``p``
        """
        if tuple(p.shape[-2:]) != self.shape:
            raise ValueError(f"matvec: expected (*, {self.shape[0]}, {self.shape[1]}), got {tuple(p.shape)}")
        if self.windows == 0:
            return torch.zeros_like(p)
        x = p.reshape(-1, *self.shape).to(self.dtype)  # (C, H, W)
        out = torch.empty_like(x)
        height = self.shape[0]
        halo = self.k - 1
        rows_valid = self.mu.shape[-2]
        step = self.strip_rows if self.device.type == "cpu" else height
        for y0 in range(0, height, step):
            y1 = min(height, y0 + step)
            w0, w1 = max(0, y0 - halo), min(rows_valid, y1)  # windows touching rows y0..y1-1
            out[:, y0:y1] = self._matvec_rows(x, y0, y1, w0, w1)
        return out.reshape(p.shape).to(p.dtype)

    def _matvec_rows(self, x: Tensor, y0: int, y1: int, w0: int, w1: int) -> Tensor:
        """Rows ``y0:y1`` of ``L x``, from the windows whose top rows are ``w0:w1``."""
        k, c = self.k, x.shape[0]
        xs = x[:, w0 : w1 + k - 1]
        gs = self.guide[:, w0 : w1 + k - 1]
        mu = self.mu[:, w0:w1]
        inv = self.inv_area[:, :, w0:w1]
        # window sums of p and of I_d * p, in one pass of the box filter
        stacked = torch.cat([xs, (gs[:, None] * xs[None]).flatten(0, 1)], dim=0)
        sums = box_sum_valid(stacked, k)
        sum_p = sums[:c]  # (C, h, W')
        cov = sums[c:].view(3, c, *sum_p.shape[-2:]).sub_(mu[:, None] * sum_p[None])  # area * cov_k(I, p)
        a = inv[:, 0, None] * cov[0]
        a.addcmul_(inv[:, 1, None], cov[1]).addcmul_(inv[:, 2, None], cov[2])  # (3, C, h, W')
        b = sum_p.div_(self.area).sub_((mu[:, None] * a).sum(dim=0))
        spread = box_sum_adjoint(torch.cat([a.flatten(0, 1), b], dim=0), k)[:, y0 - w0 : y1 - w0]
        sum_a = spread[: 3 * c].view(3, c, y1 - y0, -1)
        g = self.guide[:, y0:y1]
        result = x[:, y0:y1] * self.count[y0:y1]
        result.sub_(spread[3 * c :])
        for d in range(3):
            result.sub_(g[d] * sum_a[d])
        return result

    __call__ = matvec

    def diagonal(self) -> Tensor:
        """The diagonal of ``L``, ``(H, W)`` (computed in float64 at construction)."""
        return self._diagonal

    @staticmethod
    def _diagonal_of(g: Tensor, mu: Tensor, inv: Tensor, count: Tensor, k: int, area: float) -> Tensor:
        """``L_ii = sum_k (1 - (1 + d' A_k d) / |w|)`` with ``d = I_i - mu_k``, from box sums of
        ``A_k``, ``A_k mu_k`` and ``mu_k' A_k mu_k``. In float64: with a tiny eps, ``A_k`` is huge
        in flat windows and float32 would cancel catastrophically (even to negative values)."""
        if mu.numel() == 0:
            return torch.zeros(g.shape[-2:], dtype=g.dtype, device=g.device)
        inv_mu = (inv * mu[None]).sum(dim=1)  # (3, H', W')
        mu_inv_mu = (mu * inv_mu).sum(dim=0, keepdim=True)
        sums = box_sum_adjoint(torch.cat([inv.reshape(9, *mu.shape[-2:]), inv_mu, mu_inv_mu]), k)
        sum_inv = sums[:9].reshape(3, 3, *g.shape[-2:])
        quad = (g[:, None] * sum_inv * g[None]).sum(dim=(0, 1)) - 2 * (g * sums[9:12]).sum(dim=0) + sums[12]
        return (count - (count + quad) / area).clamp_min(0.0)

    def energy(self, p: Tensor) -> Tensor:
        """``sum_c p_c' L p_c`` over the leading slices of ``p``."""
        return (p.to(self.dtype) * self.matvec(p)).sum()


def matting_laplacian_sparse(
    guide: Tensor | np.ndarray, *, radius: int = 1, eps: float = 1e-7
) -> scipy.sparse.csr_matrix:
    """The explicit sparse matting Laplacian (float64), the reference for :class:`MattingLaplacian`.

    Pixels are numbered row-major: index ``y * W + x``. Memory and time grow with the number of
    windows times ``(2r+1)^4``: for tests and small images only.

    Args:
        guide: the guide image, RGB in [0, 1].
        radius: window radius, as for :class:`MattingLaplacian`.
        eps: covariance regulariser, as for :class:`MattingLaplacian`.

    Returns:
        ``L`` as a symmetric CSR matrix.

    Shape:
        - guide: :math:`(3, H, W)` or :math:`(1, 3, H, W)`
        - output: :math:`(HW, HW)`

    Example:
        >>> guide = torch.rand(3, 5, 6, dtype=torch.float64)
        >>> lap = matting_laplacian_sparse(guide)
        >>> p = torch.rand(5, 6, dtype=torch.float64)
        >>> fast = MattingLaplacian(guide).matvec(p).reshape(-1).numpy()
        >>> bool(np.allclose(lap @ p.reshape(-1).numpy(), fast, rtol=1e-10, atol=1e-12))
        True
    """
    g = _guide_chw(torch.as_tensor(guide)).double().numpy()
    _, h, w = g.shape
    k = 2 * radius + 1
    area = k * k
    n = h * w
    if h < k or w < k:
        return scipy.sparse.csr_matrix((n, n))
    index = np.arange(n).reshape(h, w)
    # every complete window's pixel indices: (windows, area)
    win_idx = np.lib.stride_tricks.sliding_window_view(index, (k, k)).reshape(-1, area)
    colours = g.reshape(3, n).T[win_idx]  # (windows, area, 3)
    mu = colours.mean(axis=1, keepdims=True)
    centred = colours - mu
    cov = np.einsum("wai,waj->wij", centred, centred) / area + (eps / area) * np.eye(3)
    inv = np.linalg.inv(cov)
    values = np.eye(area)[None] - (1.0 + np.einsum("wai,wij,wbj->wab", centred, inv, centred)) / area
    rows = np.repeat(win_idx, area, axis=1).ravel()
    cols = np.tile(win_idx, (1, area)).ravel()
    return scipy.sparse.coo_matrix((values.ravel(), (rows, cols)), shape=(n, n)).tocsr()


class _PhotorealismEnergy(torch.autograd.Function):
    """``sum_c V_c' L V_c`` with the analytic gradient ``2 L V`` (L is symmetric)."""

    @staticmethod
    def forward(ctx, image: Tensor, laplacian: MattingLaplacian) -> Tensor:  # type: ignore[override]
        lv = laplacian.matvec(image)
        ctx.save_for_backward(lv)
        return (image * lv).sum()

    @staticmethod
    def backward(ctx, grad_output: Tensor) -> tuple[Tensor, None]:  # type: ignore[override]
        (lv,) = ctx.saved_tensors
        return 2.0 * grad_output * lv, None


def photorealism_loss(image: Tensor, laplacian: MattingLaplacian, weight: float = 1.0) -> Tensor:
    """Luan et al.'s photorealism regulariser: ``weight * sum_c V_c[O]' L V_c[O]``.

    Its gradient is ``2 * weight * L V_c[O]``, computed with one matrix-free product (the
    product of the forward pass is reused).

    Args:
        image: the output image ``O``, RGB in [0, 1], the size of the Laplacian's guide.
        laplacian: the content image's :class:`MattingLaplacian`.
        weight: ``lambda``.

    Returns:
        The loss, in the image's precision.

    Shape:
        - image: :math:`(1, 3, H, W)` or :math:`(3, H, W)`
        - output: scalar

    Example:
        >>> guide = torch.rand(1, 3, 6, 7, dtype=torch.float64)
        >>> lap = MattingLaplacian(guide)
        >>> bool(photorealism_loss(guide, lap) < 1e-4)  # the content itself: zero up to eps
        True
        >>> bool(photorealism_loss(torch.rand(1, 3, 6, 7, dtype=torch.float64), lap) > 0.1)
        True
    """
    return weight * _PhotorealismEnergy.apply(image, laplacian)


class PhotorealismLoss(nn.Module):
    """:func:`photorealism_loss` for a fixed guide.

    Example:
        >>> guide = torch.rand(1, 3, 6, 7, dtype=torch.float64)
        >>> image = torch.rand(1, 3, 6, 7, dtype=torch.float64)
        >>> module = PhotorealismLoss(guide, weight=10.0)
        >>> torch.equal(module(image), photorealism_loss(image, module.laplacian, 10.0))
        True
    """

    def __init__(self, guide: Tensor, *, weight: float = 1.0, radius: int = 1, eps: float = 1e-7) -> None:
        super().__init__()
        self.laplacian = MattingLaplacian(guide, radius=radius, eps=eps)
        self.weight = weight

    def forward(self, image: Tensor) -> Tensor:
        return photorealism_loss(image, self.laplacian, self.weight)
