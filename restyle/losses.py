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

__all__ = [
    "ContentLoss",
    "GramLoss",
    "TVLoss",
    "content_loss",
    "gram_loss",
    "gram_matrix",
    "masked_gram",
    "tv_loss",
]


def _check_features(x: Tensor, name: str) -> None:
    if x.ndim != 4:
        raise ValueError(f"{name}: expected features of shape (B, C, H, W), got {tuple(x.shape)}")


def _full_precision(x: Tensor) -> Tensor:
    """Half-precision features (from autocast) to float32; float32 and float64 unchanged."""
    return x if x.dtype in (torch.float32, torch.float64) else x.float()


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
    b, c, h, w = features.shape
    flat = _full_precision(features.reshape(b, c, h * w))
    with torch.autocast(flat.device.type, enabled=False):
        gram = torch.bmm(flat, flat.transpose(1, 2))
    return gram / (c * h * w) if normalize else gram


def masked_gram(features: Tensor, masks: Tensor) -> Tensor:
    """Gram matrices of features weighted by region masks, normalised by each region's area.

    DPST's segment-wise Gram: for region ``l`` with mask ``m_l`` (at the features' size),
    ``G_l = (F * m_l)(F * m_l)^T / (C * sum(m_l))``. With a mask of ones this is
    :func:`gram_matrix`. An empty region gives a zero Gram.

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
    flat = _full_precision(features.reshape(1, c, -1))
    weights = masks.reshape(masks.shape[0], 1, -1).to(flat.dtype)
    weighted = flat * weights  # (K, C, HW)
    with torch.autocast(flat.device.type, enabled=False):
        gram = torch.bmm(weighted, weighted.transpose(1, 2))
    area = weights.sum(dim=(1, 2)).clamp_min(1e-8).view(-1, 1, 1)
    return gram / (c * area)


def gram_loss(features: Tensor, target_gram: Tensor) -> Tensor:
    """Mean squared difference between the Gram of ``features`` and a target Gram.

    Shape:
        - features: :math:`(B, C, H, W)`
        - target_gram: :math:`(B, C, C)` or :math:`(C, C)`
        - output: scalar
    """
    gram = gram_matrix(features)
    return F.mse_loss(gram, target_gram.to(gram.dtype).expand_as(gram))


def content_loss(features: Tensor, target: Tensor) -> Tensor:
    """Mean squared difference between feature maps (computed in float32).

    Shape:
        - features, target: :math:`(B, C, H, W)`
        - output: scalar
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


class ContentLoss(nn.Module):
    """:func:`content_loss` against a fixed target."""

    def __init__(self, target: Tensor) -> None:
        super().__init__()
        self.register_buffer("target", target.detach())

    def forward(self, features: Tensor) -> Tensor:
        return content_loss(features, self.target)


class GramLoss(nn.Module):
    """:func:`gram_loss` against a fixed target Gram."""

    def __init__(self, target_gram: Tensor) -> None:
        super().__init__()
        self.register_buffer("target", target_gram.detach())

    def forward(self, features: Tensor) -> Tensor:
        return gram_loss(features, self.target)


class TVLoss(nn.Module):
    """:func:`tv_loss` as a module."""

    def forward(self, image: Tensor) -> Tensor:
        return tv_loss(image)
