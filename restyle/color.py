"""Colour spaces and closed-form colour transfer.

Used for colour preservation (Gatys et al. 2016, "Preserving Color in Neural Artistic Style
Transfer"): luminance-only transfer keeps the content's chroma, and colour matching moves the
style image's colour mean and covariance onto the content's before the transfer.
"""

from __future__ import annotations

import torch
from torch import Tensor

from restyle.errors import check_tensor

__all__ = [
    "combine_luminance",
    "linear_to_srgb",
    "luminance",
    "match_color",
    "match_luminance",
    "rgb_to_lab",
    "rgb_to_ycbcr",
    "srgb_to_linear",
    "ycbcr_to_rgb",
]

# ITU-R BT.601 full-range (JPEG) YCbCr, values in [0, 1] with chroma centred on 0.5.
_RGB_TO_YCBCR = torch.tensor(
    [[0.299, 0.587, 0.114], [-0.168736, -0.331264, 0.5], [0.5, -0.418688, -0.081312]], dtype=torch.float64
)
_YCBCR_TO_RGB = torch.linalg.inv(_RGB_TO_YCBCR)
_CHROMA_OFFSET = torch.tensor([0.0, 0.5, 0.5], dtype=torch.float64)


def _check_rgb(image: Tensor, name: str) -> None:
    check_tensor(image, name, "(B, 3, H, W)")
    if image.ndim != 4 or image.shape[1] != 3:
        raise ValueError(f"{name}: expected an RGB batch of shape (B, 3, H, W), got {tuple(image.shape)}")


def _apply_matrix(image: Tensor, matrix: Tensor) -> Tensor:
    return torch.einsum("ij,bjhw->bihw", matrix.to(image), image)


def rgb_to_ycbcr(image: Tensor) -> Tensor:
    """RGB in [0, 1] to full-range YCbCr (Y in [0, 1], Cb and Cr centred on 0.5).

    Shape:
        - image: :math:`(B, 3, H, W)`
        - output: :math:`(B, 3, H, W)`

    Example:
        >>> rgb_to_ycbcr(torch.ones(1, 3, 1, 1)).flatten()
        tensor([1.0000, 0.5000, 0.5000])
    """
    _check_rgb(image, "rgb_to_ycbcr")
    return _apply_matrix(image, _RGB_TO_YCBCR) + _CHROMA_OFFSET.to(image).view(1, 3, 1, 1)


# sRGB (D65) to CIE XYZ, and the D65 white point: the constants scikit-image's rgb2lab uses.
_RGB_TO_XYZ = torch.tensor(
    [[0.412453, 0.357580, 0.180423], [0.212671, 0.715160, 0.072169], [0.019334, 0.119193, 0.950227]],
    dtype=torch.float64,
)
_WHITE_D65 = torch.tensor([0.95047, 1.0, 1.08883], dtype=torch.float64)
_LAB_DELTA = 6.0 / 29.0


def srgb_to_linear(signal: Tensor) -> Tensor:
    """The sRGB curve's decoding: signal in [0, 1] to linear light, any shape.

    Differentiable everywhere (the power is taken only where it is used).

    Example:
        >>> srgb_to_linear(torch.tensor([0.0, 0.5, 1.0], dtype=torch.float64)).round(decimals=4).tolist()
        [0.0, 0.214, 1.0]
    """
    return torch.where(signal <= 0.04045, signal / 12.92, ((signal.clamp_min(0.04045) + 0.055) / 1.055) ** 2.4)


def linear_to_srgb(linear: Tensor) -> Tensor:
    """The sRGB curve's encoding: linear light in [0, 1] to signal, any shape (the inverse of
    :func:`srgb_to_linear`).

    Example:
        >>> linear_to_srgb(torch.tensor([0.0, 0.214, 1.0], dtype=torch.float64)).round(decimals=3).tolist()
        [0.0, 0.5, 1.0]
    """
    return torch.where(linear <= 0.0031308, linear * 12.92, 1.055 * linear.clamp_min(0.0031308) ** (1 / 2.4) - 0.055)


def rgb_to_lab(image: Tensor) -> Tensor:
    """sRGB in [0, 1] to CIE L*a*b* (D65): L in [0, 100], a and b roughly in [-128, 128].

    Differentiable everywhere (the cube root's linear segment near black avoids its infinite
    slope), so it can sit inside a loss.

    Shape:
        - image: :math:`(B, 3, H, W)`
        - output: :math:`(B, 3, H, W)`

    Example:
        >>> [abs(round(v, 1)) for v in rgb_to_lab(torch.ones(1, 3, 1, 1)).flatten().tolist()]
        [100.0, 0.0, 0.0]
    """
    _check_rgb(image, "rgb_to_lab")
    xyz = _apply_matrix(srgb_to_linear(image), _RGB_TO_XYZ) / _WHITE_D65.to(image).view(1, 3, 1, 1)
    cube = _LAB_DELTA**3
    f = torch.where(xyz > cube, xyz.clamp_min(cube) ** (1.0 / 3.0), xyz / (3 * _LAB_DELTA**2) + 4.0 / 29.0)
    fx, fy, fz = f[:, 0:1], f[:, 1:2], f[:, 2:3]
    return torch.cat([116.0 * fy - 16.0, 500.0 * (fx - fy), 200.0 * (fy - fz)], dim=1)


def ycbcr_to_rgb(image: Tensor) -> Tensor:
    """Inverse of :func:`rgb_to_ycbcr` (not clamped).

    Shape:
        - image: :math:`(B, 3, H, W)`; output: same

    Example:
        >>> rgb = torch.rand(1, 3, 4, 5, dtype=torch.float64)
        >>> torch.allclose(ycbcr_to_rgb(rgb_to_ycbcr(rgb)), rgb)
        True
    """
    _check_rgb(image, "ycbcr_to_rgb")
    return _apply_matrix(image - _CHROMA_OFFSET.to(image).view(1, 3, 1, 1), _YCBCR_TO_RGB)


def luminance(image: Tensor) -> Tensor:
    """The BT.601 luma of an RGB image, repeated over three channels (a grey RGB image).

    Shape:
        - image: :math:`(B, 3, H, W)`
        - output: :math:`(B, 3, H, W)`

    Example:
        >>> luminance(torch.tensor([1.0, 0.0, 0.0]).view(1, 3, 1, 1)).flatten()  # pure red
        tensor([0.2990, 0.2990, 0.2990])
    """
    y = rgb_to_ycbcr(image)[:, :1]
    return y.expand(-1, 3, -1, -1).contiguous()


def match_luminance(source: Tensor, target: Tensor) -> Tensor:
    """The luminance of ``source`` with its mean and standard deviation moved onto those of
    ``target``'s luminance, as a grey RGB image clamped to [0, 1] (Gatys et al. 2016's
    luminance-only transfer matches the style's luminance to the content's this way).

    Args:
        source: the image whose luminance is moved (the style, in luminance-only transfer).
        target: the image whose luminance statistics are taken (the content).

    Returns:
        The moved luminance, repeated over three channels.

    Shape:
        - source: :math:`(1, 3, H, W)`; target: :math:`(1, 3, H', W')`; output like source

    Example:
        >>> out = match_luminance(torch.rand(1, 3, 8, 8), torch.full((1, 3, 4, 4), 0.25))
        >>> round(float(out.mean()), 4), round(float(out.std()), 4)
        (0.25, 0.0)
    """
    _check_rgb(source, "match_luminance")
    _check_rgb(target, "match_luminance")
    y_source = rgb_to_ycbcr(source)[:, :1]
    y_target = rgb_to_ycbcr(target)[:, :1]
    spread = float(y_source.std())
    # a flat source (no spread to scale: rounding noise would be blown up) maps to the mean
    gain = float(y_target.std()) / spread if spread > 1e-4 else 0.0
    y = (y_source - y_source.mean()) * gain + y_target.mean()
    return y.clamp(0.0, 1.0).expand(-1, 3, -1, -1).contiguous()


def combine_luminance(luma_from: Tensor, chroma_from: Tensor) -> Tensor:
    """An image with the luminance of ``luma_from`` and the chroma (Cb, Cr) of ``chroma_from``.

    Both must have the same shape; the result is clamped to [0, 1]. Colour preservation by
    luminance-only transfer recombines the stylised luminance with the content's chroma this way.

    Args:
        luma_from: the image whose Y (BT.601 luma) is kept.
        chroma_from: the image whose Cb and Cr are kept.

    Returns:
        The combined RGB image.

    Shape:
        - luma_from, chroma_from: :math:`(B, 3, H, W)`; output: same

    Example:
        >>> a = 0.4 + 0.2 * torch.rand(1, 3, 4, 4)  # mid greys and
        >>> b = 0.45 + 0.1 * torch.rand(1, 3, 4, 4)  # weak chroma: in gamut, nothing clamped
        >>> out = rgb_to_ycbcr(combine_luminance(a, b))
        >>> torch.allclose(out[:, :1], rgb_to_ycbcr(a)[:, :1], atol=1e-5)
        True
    """
    if luma_from.shape != chroma_from.shape:
        raise ValueError(f"combine_luminance: shapes differ: {tuple(luma_from.shape)} vs {tuple(chroma_from.shape)}")
    y = rgb_to_ycbcr(luma_from)[:, :1]
    cbcr = rgb_to_ycbcr(chroma_from)[:, 1:]
    return ycbcr_to_rgb(torch.cat([y, cbcr], dim=1)).clamp(0.0, 1.0)


def _mean_cov(pixels: Tensor, weights: Tensor) -> tuple[Tensor, Tensor]:
    """Weighted mean (3,) and covariance (3, 3) of pixels (3, N) with weights (N,)."""
    total = weights.sum().clamp_min(1e-12)
    mean = (pixels * weights).sum(dim=1) / total
    centred = pixels - mean[:, None]
    cov = (centred * weights) @ centred.T / total
    return mean, cov


def _sqrtm(cov: Tensor, *, inverse: bool, eps: float) -> Tensor:
    values, vectors = torch.linalg.eigh(cov + eps * torch.eye(3, dtype=cov.dtype, device=cov.device))
    values = values.clamp_min(eps)
    power = -0.5 if inverse else 0.5
    return vectors @ torch.diag(values.pow(power)) @ vectors.T


def match_color(
    source: Tensor,
    target: Tensor,
    *,
    source_weights: Tensor | None = None,
    target_weights: Tensor | None = None,
    eps: float = 1e-5,
) -> Tensor:
    """Move ``source``'s colour mean and covariance onto ``target``'s (a closed-form transfer).

    With ``C_s``, ``C_t`` the colour covariances and ``m_s``, ``m_t`` the means, every source
    pixel ``x`` becomes ``C_t^{1/2} C_s^{-1/2} (x - m_s) + m_t``: the symmetric square-root
    solution, which keeps the colour axes from rotating needlessly. Optional per-pixel weights
    (soft masks) restrict the statistics to a region; the transform applies to every pixel and
    the caller blends regions.

    Args:
        source: the image whose colours change.
        target: the image whose colour statistics are taken.
        source_weights: optional weights for the source statistics.
        target_weights: optional weights for the target statistics.
        eps: regulariser of the covariances (on a [0, 1] scale).

    Returns:
        The recoloured source, clamped to [0, 1].

    Shape:
        - source: :math:`(1, 3, H, W)`; target: :math:`(1, 3, H', W')`
        - weights: :math:`(1, 1, H, W)` and :math:`(1, 1, H', W')`
        - output: :math:`(1, 3, H, W)`

    Example:
        >>> source = 0.4 + 0.2 * torch.rand(1, 3, 32, 32, dtype=torch.float64)
        >>> target = 0.3 + 0.4 * torch.rand(1, 3, 16, 16, dtype=torch.float64)
        >>> out = match_color(source, target, eps=1e-12)
        >>> torch.allclose(out.mean(dim=(2, 3)), target.mean(dim=(2, 3)))
        True
    """
    _check_rgb(source, "match_color")
    _check_rgb(target, "match_color")
    src = source[0].reshape(3, -1).double()
    tgt = target[0].reshape(3, -1).double()
    ws = (
        torch.ones(src.shape[1], dtype=src.dtype, device=src.device)
        if source_weights is None
        else source_weights.reshape(-1).double()
    )
    wt = (
        torch.ones(tgt.shape[1], dtype=tgt.dtype, device=tgt.device)
        if target_weights is None
        else target_weights.reshape(-1).double()
    )
    mean_s, cov_s = _mean_cov(src, ws)
    mean_t, cov_t = _mean_cov(tgt, wt)
    transform = _sqrtm(cov_t, inverse=False, eps=eps) @ _sqrtm(cov_s, inverse=True, eps=eps)
    out = transform @ (src - mean_s[:, None]) + mean_t[:, None]
    return out.reshape(source.shape).to(source.dtype).clamp(0.0, 1.0)
