"""Losses of neural style transfer, each a pure function plus a thin ``nn.Module``.

Conventions follow Gatys et al. as implemented by neural-style and DPST (the source of the
default weights): features are those of Caffe-preprocessed images (0..255 scale), the content
loss is a mean squared error, the Gram matrix is normalised by the number of feature elements
(``C * H * W``), and the style loss of a layer is the mean squared error between Grams.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from restyle.color import rgb_to_lab
from restyle.errors import check_tensor

__all__ = [
    "ColorDistributionLoss",
    "ContentLoss",
    "GramLoss",
    "TVLoss",
    "content_loss",
    "gram_loss",
    "gram_matrix",
    "masked_gram",
    "resample_sorted",
    "self_product",
    "sliced_wasserstein_loss",
    "tv_loss",
]


def _check_features(x: Tensor, name: str) -> None:
    check_tensor(x, name, "of features (B, C, H, W)", image=False)
    if x.ndim != 4:
        raise ValueError(f"{name}: expected features of shape (B, C, H, W), got {tuple(x.shape)}")


def _full_precision(x: Tensor) -> Tensor:
    """Half-precision features (from autocast) to float32; float32 and float64 unchanged."""
    return x if x.dtype in (torch.float32, torch.float64) else x.float()


def _product_precision(x: Tensor) -> Tensor:
    """Features as the Gram products take them: bfloat16 as it is (its products accumulate in
    float32, and its range is float32's), float16 to float32 (a Gram can overflow it)."""
    return x if x.dtype == torch.bfloat16 else _full_precision(x)


def _flat_features(features: Tensor) -> Tensor:
    """Feature maps ``(B, C, H, W)`` as ``(B, C, H*W)`` without a copy when they are channels-last.

    Channels-last memory is ``(B, H*W, C)``, so the flat features are its transpose (a view); a
    reshape would copy every map into ``(B, C, H*W)`` order first.
    """
    b, c, h, w = features.shape
    if c > 1 and features.is_contiguous(memory_format=torch.channels_last):
        return features.permute(0, 2, 3, 1).reshape(b, h * w, c).transpose(1, 2)
    return features.reshape(b, c, h * w)


def _pixels_major(a: Tensor) -> bool:
    """Whether ``a`` of shape ``(B, C, N)`` is stored as ``(B, N, C)`` (see :func:`_flat_features`)."""
    return a.shape[1] > 1 and a.transpose(1, 2).is_contiguous()


class _SelfProduct(torch.autograd.Function):
    """``A A^T`` for ``A`` of shape ``(B, C, N)``, with the backward ``(g + g^T) A``: one batched
    product where autograd's generic ``bmm`` backward takes two and a sum (the Grams' products
    were 18% of a style evaluation at 512 px on a CPU, bfloat16 encoder).

    ``A`` may be stored either way round; the gradient is returned in ``A``'s own layout, so a
    channels-last encoder gets channels-last gradients. (Channels-last bfloat16 features of
    64 x 339 x 512, forward and backward on this CPU: 89 ms when reshaped to ``(B, C, N)``
    order, 15 ms multiplied as they are stored.)
    """

    @staticmethod
    def forward(ctx: torch.autograd.function.FunctionCtx, a: Tensor) -> Tensor:
        ctx.save_for_backward(a)
        return torch.bmm(a, a.transpose(1, 2))

    @staticmethod
    def backward(ctx: torch.autograd.function.FunctionCtx, grad: Tensor) -> Tensor:
        (a,) = ctx.saved_tensors
        sym = grad + grad.transpose(1, 2)
        if _pixels_major(a):  # (sym A)^T = A^T sym, computed in A's storage order
            return torch.bmm(a.transpose(1, 2), sym).transpose(1, 2)
        return torch.bmm(sym, a)


def self_product(a: Tensor) -> Tensor:
    """``A A^T`` batched (the unnormalised Gram of flattened features), ``(B, C, N) -> (B, C, C)``.

    Example:
        >>> self_product(torch.tensor([[[1.0, 2.0], [0.0, 1.0]]]))
        tensor([[[5., 2.],
                 [2., 1.]]])
    """
    if a.ndim != 3:
        raise ValueError(f"self_product: expected a tensor of shape (B, C, N), got {tuple(a.shape)}")
    return _SelfProduct.apply(a)


def gram_matrix(features: Tensor, *, normalize: bool = True) -> Tensor:
    """The Gram matrix of feature maps, ``F F^T``, in float32 whatever the input precision.

    Args:
        features: feature maps.
        normalize: divide by ``C * H * W`` (neural-style's convention) so that the value does not
            grow with the image size.

    Returns:
        The Gram matrices.

    Shape:
        - features: :math:`(B, C, H, W)`
        - output: :math:`(B, C, C)`

    Example:
        >>> gram_matrix(torch.ones(1, 2, 3, 3))
        tensor([[[0.5000, 0.5000],
                 [0.5000, 0.5000]]])
    """
    _check_features(features, "gram_matrix")
    _, c, h, w = features.shape
    flat = _product_precision(_flat_features(features))
    with torch.autocast(flat.device.type, enabled=False):
        # The product in the features' own precision, the result in float32: under bfloat16
        # autocast the product accumulates in float32 anyway (oneDNN, cuBLAS), and it skips a
        # float32 copy of every feature map and a float32 product. One evaluation at 512 px on
        # this CPU: 1.063 -> 0.902 s, the loss of the result unchanged (benchmarks/RESULTS.md).
        gram = _full_precision(self_product(flat))
    return gram / (c * h * w) if normalize else gram


def _weighted_columns(flat: Tensor, weights: Tensor, index: Tensor | None = None) -> Tensor:
    """Columns of ``flat`` ``(C, N)`` times ``weights`` (``(N,)``, or ``(K, N)`` for K copies),
    only those in ``index`` if given, stored in ``flat``'s own order (see :func:`_pixels_major`)."""
    if index is not None:
        weights = weights.index_select(-1, index)
    if _pixels_major(flat[None]):
        rows = flat.transpose(0, 1)  # (N, C) in memory
        if index is not None:
            rows = rows.index_select(0, index)
        return (rows * weights[..., None]).transpose(-1, -2)
    if index is not None:
        flat = flat.index_select(1, index)
    return flat * weights[..., None, :]


def masked_gram(features: Tensor, masks: Tensor) -> Tensor:
    """Gram matrices of features weighted by region masks, normalised by each region's area.

    DPST's segment-wise Gram: for region ``l`` with mask ``m_l`` (at the features' size),
    ``G_l = (F * m_l)(F * m_l)^T / (C * sum(m_l))``. With a mask of ones this is
    :func:`gram_matrix`. An empty region gives a zero Gram.

    Args:
        features: feature maps of one image.
        masks: one weight map per region, in [0, 1], at the features' size.

    Returns:
        One Gram matrix per region, in float32 whatever the input precision.

    Shape:
        - features: :math:`(1, C, H, W)`
        - masks: :math:`(K, H, W)`
        - output: :math:`(K, C, C)`

    Example:
        >>> f = torch.rand(1, 4, 3, 5)
        >>> torch.allclose(masked_gram(f, torch.ones(1, 3, 5)), gram_matrix(f))
        True
    """
    _check_features(features, "masked_gram")
    if features.shape[0] != 1 or masks.ndim != 3 or masks.shape[-2:] != features.shape[-2:]:
        raise ValueError(
            f"masked_gram: expected features (1, C, H, W) and masks (K, H, W) of the same H, W; "
            f"got {tuple(features.shape)} and {tuple(masks.shape)}"
        )
    c = features.shape[1]
    flat = _product_precision(_flat_features(features))  # as gram_matrix
    weights = masks.reshape(masks.shape[0], -1)  # (K, HW)
    area = _full_precision(weights).sum(dim=1).clamp_min(1e-8).view(-1, 1, 1)
    weights = weights.to(flat.dtype)
    support = weights > 0
    counts = support.sum(dim=1)
    with torch.autocast(flat.device.type, enabled=False):
        if masks.shape[0] > 1 and int(counts.sum()) < 0.75 * weights.numel():
            # Mostly disjoint regions (hard masks, soft only near their borders): each region's
            # Gram over the pixels where its mask is non-zero only. Exact, and about K times
            # cheaper than weighting every pixel for every region.
            grams = []
            for k in range(weights.shape[0]):
                index = support[k].nonzero().squeeze(1)
                grams.append(self_product(_weighted_columns(flat[0], weights[k], index)[None])[0])
            gram = torch.stack(grams)
        else:
            gram = self_product(_weighted_columns(flat[0], weights))
    gram = _full_precision(gram)
    return gram / (c * area.to(gram.dtype))


def gram_loss(features: Tensor, target_gram: Tensor) -> Tensor:
    """Mean squared difference between the Gram of ``features`` and a target Gram.

    Args:
        features: feature maps.
        target_gram: the target, normalised as :func:`gram_matrix` normalises.

    Returns:
        The loss (float32).

    Shape:
        - features: :math:`(B, C, H, W)`
        - target_gram: :math:`(B, C, C)` or :math:`(C, C)`
        - output: scalar

    Example:
        >>> f = torch.ones(1, 2, 3, 3)  # Gram: every entry 0.5
        >>> gram_loss(f, torch.zeros(2, 2))
        tensor(0.2500)
    """
    gram = gram_matrix(features)
    return F.mse_loss(gram, target_gram.to(gram.dtype).expand_as(gram))


def content_loss(features: Tensor, target: Tensor) -> Tensor:
    """Mean squared difference between feature maps (computed in float32).

    Args:
        features: feature maps.
        target: the target feature maps, of the same shape.

    Returns:
        The loss.

    Shape:
        - features, target: :math:`(B, C, H, W)`
        - output: scalar

    Example:
        >>> content_loss(torch.full((1, 2, 2, 2), 3.0), torch.ones(1, 2, 2, 2))
        tensor(4.)
    """
    _check_features(features, "content_loss")
    if features.shape != target.shape:
        raise ValueError(f"content_loss: shapes differ: {tuple(features.shape)} vs {tuple(target.shape)}")
    return F.mse_loss(_full_precision(features), target.to(_full_precision(features).dtype))


def tv_loss(image: Tensor) -> Tensor:
    """Total variation: the sum of squared differences between neighbouring pixels.

    Measured on the 0..255 scale of the encoder's input, as neural-style and DPST do.

    Shape:
        - image: :math:`(B, C, H, W)` in [0, 1]
        - output: scalar

    Example:
        >>> checker = (torch.arange(4)[:, None] + torch.arange(4)[None]) % 2
        >>> tv_loss(checker.float().expand(1, 3, 4, 4) / 255)  # 2 * 3 * 4 * 3 unit steps
        tensor(72.)
    """
    _check_features(image, "tv_loss")
    x = image * 255.0
    dy = x[..., 1:, :] - x[..., :-1, :]
    dx = x[..., :, 1:] - x[..., :, :-1]
    return dy.pow(2).sum() + dx.pow(2).sum()


def sliced_wasserstein_loss(points: Tensor, target_sorted: Tensor, directions: Tensor) -> Tensor:
    """Squared sliced Wasserstein-2 distance between a point cloud and a target distribution.

    Projects ``points`` on each direction, sorts the projections, and returns the mean squared
    difference to ``target_sorted``, the target's sorted projections at the same quantiles
    (:func:`resample_sorted`). Sorting is the optimal 1-D transport, so the gradient moves each
    point towards the target value of its rank (Risser et al. 2017 use such histogram losses
    against the instabilities of Gram-only style losses).

    Args:
        points: the point cloud (e.g. a region's L*a*b* colours).
        target_sorted: the target's projections on ``directions``, sorted along dim 0, one row
            per point.
        directions: unit directions to project on, one per column.

    Returns:
        The mean over directions and ranks of the squared difference of sorted projections.

    Shape:
        - points: :math:`(N, D)`; target_sorted: :math:`(N, P)`; directions: :math:`(D, P)`
        - output: scalar

    Example:
        >>> d = torch.eye(2)
        >>> x = torch.tensor([[0.0, 1.0], [2.0, 3.0]])
        >>> sliced_wasserstein_loss(x + 1.0, (x @ d).sort(dim=0).values, d)  # every projection off by 1
        tensor(1.)
    """
    if points.ndim != 2 or directions.ndim != 2 or points.shape[1] != directions.shape[0]:
        raise ValueError(
            f"sliced_wasserstein_loss: expected points (N, D) and directions (D, P), "
            f"got {tuple(points.shape)} and {tuple(directions.shape)}"
        )
    if target_sorted.shape != (points.shape[0], directions.shape[1]):
        raise ValueError(
            f"sliced_wasserstein_loss: expected target_sorted of shape {(points.shape[0], directions.shape[1])}, "
            f"got {tuple(target_sorted.shape)}"
        )
    projected = (points @ directions).sort(dim=0).values
    return (projected - target_sorted).pow(2).mean()


def resample_sorted(values: Tensor, count: int) -> Tensor:
    """Sorted columns resampled to ``count`` evenly spaced quantiles (linear interpolation).

    Args:
        values: sorted columns (e.g. a style region's sorted projections).
        count: the number of quantiles (e.g. the number of points they are compared with).

    Returns:
        The values at ``count`` evenly spaced ranks, first and last kept.

    Shape:
        - values: :math:`(M, P)` sorted along dim 0; output: :math:`(count, P)`

    Example:
        >>> resample_sorted(torch.tensor([[0.0], [1.0], [4.0]]), 5).squeeze(1)
        tensor([0.0000, 0.5000, 1.0000, 2.5000, 4.0000])
    """
    m = values.shape[0]
    position = torch.linspace(0.0, m - 1, count, dtype=values.dtype, device=values.device)
    low = position.floor().long().clamp_max(m - 1)
    high = (low + 1).clamp_max(m - 1)
    t = (position - low.to(values.dtype))[:, None]
    return values[low] * (1.0 - t) + values[high] * t


class ColorDistributionLoss(nn.Module):
    """Region by region, the sliced Wasserstein distance between the L*a*b* colours of an image
    and those of a style image (:func:`sliced_wasserstein_loss`), area-weighted.

    Pixels count in a region where its mask is above 0.5. Large regions are represented by a
    fixed random subset of ``max_samples`` pixels (fixed at construction, so the loss is a
    deterministic function of the image). Regions empty on either side are skipped.

    Args:
        style: the style image.
        content_masks: the regions of the images this loss will see (default: one region).
        style_masks: the same regions in the style image.
        projections: number of random directions in L*a*b* space.
        max_samples: pixels sampled per region of the image.
        seed: seed of the directions and the samples.

    Shape:
        - style: :math:`(1, 3, H_s, W_s)`; content_masks :math:`(K, H, W)`; style_masks
          :math:`(K, H_s, W_s)`
        - forward's image: :math:`(1, 3, H, W)`; output: scalar

    Example:
        >>> style = torch.rand(1, 3, 8, 8)
        >>> loss = ColorDistributionLoss(style, content_masks=torch.ones(1, 8, 8))
        >>> float(loss(style)) < 1e-8
        True
    """

    def __init__(
        self,
        style: Tensor,
        *,
        content_masks: Tensor,
        style_masks: Tensor | None = None,
        projections: int = 32,
        max_samples: int = 4096,
        seed: int = 0,
    ) -> None:
        super().__init__()
        if style_masks is None:
            style_masks = torch.ones(1, *style.shape[-2:], device=style.device)
        if content_masks.ndim != 3 or style_masks.shape[0] != content_masks.shape[0]:
            raise ValueError(
                f"ColorDistributionLoss: expected masks (K, H, W) and (K, Hs, Ws), "
                f"got {tuple(content_masks.shape)} and {tuple(style_masks.shape)}"
            )
        generator = torch.Generator().manual_seed(seed)
        directions = torch.randn(3, projections, generator=generator, dtype=torch.float64)
        self.register_buffer("directions", (directions / directions.norm(dim=0, keepdim=True)).float())
        lab = rgb_to_lab(style.float())[0].reshape(3, -1).T  # (Ns, 3)
        area = content_masks.reshape(content_masks.shape[0], -1).sum(dim=1)
        shares = area / area.sum().clamp_min(1e-8)
        self.regions: list[tuple[float, Tensor, Tensor]] = []  # (share, pixel indices, target)
        for share, c_mask, s_mask in zip(shares.tolist(), content_masks, style_masks):
            pixels = (c_mask.reshape(-1) > 0.5).nonzero().squeeze(1)
            style_pixels = (s_mask.reshape(-1) > 0.5).nonzero().squeeze(1)
            if pixels.numel() < 2 or style_pixels.numel() < 2:
                continue
            if pixels.numel() > max_samples:
                keep = torch.randperm(pixels.numel(), generator=generator)[:max_samples].to(pixels.device)
                pixels = pixels[keep]
            projected = (lab[style_pixels] @ self.directions.to(lab.device)).sort(dim=0).values
            self.regions.append((share, pixels, resample_sorted(projected, pixels.numel())))

    def forward(self, image: Tensor) -> Tensor:
        flat = image.float().flatten(2)  # (1, 3, HW)
        total = torch.zeros((), device=image.device)
        for share, pixels, target in self.regions:
            # only the sampled pixels are converted: the conversion is per pixel
            lab = rgb_to_lab(flat[:, :, pixels, None])[0, :, :, 0].T  # (n, 3)
            total = total + share * sliced_wasserstein_loss(lab, target, self.directions)
        return total


class ContentLoss(nn.Module):
    """:func:`content_loss` against a fixed target.

    Example:
        >>> target = torch.rand(1, 4, 5, 5)
        >>> f = torch.rand(1, 4, 5, 5)
        >>> torch.equal(ContentLoss(target)(f), content_loss(f, target))
        True
    """

    def __init__(self, target: Tensor) -> None:
        super().__init__()
        self.register_buffer("target", target.detach())

    def forward(self, features: Tensor) -> Tensor:
        return content_loss(features, self.target)


class GramLoss(nn.Module):
    """:func:`gram_loss` against a fixed target Gram.

    Example:
        >>> target = gram_matrix(torch.rand(1, 4, 5, 5))
        >>> f = torch.rand(1, 4, 6, 6)
        >>> torch.equal(GramLoss(target)(f), gram_loss(f, target))
        True
    """

    def __init__(self, target_gram: Tensor) -> None:
        super().__init__()
        self.register_buffer("target", target_gram.detach())

    def forward(self, features: Tensor) -> Tensor:
        return gram_loss(features, self.target)


class TVLoss(nn.Module):
    """:func:`tv_loss` as a module.

    Example:
        >>> image = torch.rand(1, 3, 6, 7)
        >>> torch.equal(TVLoss()(image), tv_loss(image))
        True
    """

    def forward(self, image: Tensor) -> Tensor:
        return tv_loss(image)
