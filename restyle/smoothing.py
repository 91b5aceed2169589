"""Edge-aware post-processing: guided filter, bilateral filters, DPST's local affine smoothing,
posterisation refinement, and a closed-form photorealistic smoothing.

Every operator takes and returns ``(1, 3, H, W)`` RGB images in [0, 1] (guides likewise) and
is usable on any image, not only on style transfer results.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import Tensor

from restyle.boxfilter import box_mean
from restyle.errors import check_tensor
from restyle.image import RestyleWarning
from restyle.matting import MattingLaplacian

__all__ = [
    "bilateral_filter",
    "guided_filter",
    "guided_upsample",
    "local_affine_smoothing",
    "matting_smoothing",
    "posterization_refinement",
]


def _check_image(x: Tensor, name: str) -> None:
    check_tensor(x, name, "(1, C, H, W)")
    if x.ndim != 4 or x.shape[0] != 1:
        raise ValueError(f"{name}: expected a single image (1, C, H, W), got {tuple(x.shape)}")


#: The smallest regulariser of the local affine fit: its colour moments carry float64 rounding
#: of about 1e-17, so a smaller one leaves a flat window's covariance singular (1e-100 gave NaN
#: on a flat photo).
SMALLEST_EPS = 1e-12
#: The upper triangle of the symmetric 3 x 3 colour covariance, row by row.
_UPPER = ((0, 0), (0, 1), (0, 2), (1, 1), (1, 2), (2, 2))


def _affine_fit(guide: Tensor, target: Tensor, radius: int, eps: float) -> tuple[Tensor, Tensor]:
    """Per-window least-squares affine map from the guide's colours to each target channel.

    Returns ``a`` of shape (1, C, 3, H, W) and ``b`` of shape (1, C, H, W): for the window
    centred on each pixel, target_c ~ a_c . guide + b_c, ridge-regularised by ``eps``.

    In float64. The covariance is symmetric, so only its 6 distinct moments are box-filtered
    and it is inverted in closed form (its adjugate over its determinant; it is positive
    definite with ``eps > 0``): less memory and time than 9 moments and a batched LAPACK
    inverse, which matters on full-size photos (``restyle smooth``).
    """
    if not eps >= SMALLEST_EPS:
        raise ValueError(f"eps must be at least {SMALLEST_EPS:g}, got {eps}")
    g = guide.double()
    t = target.double()
    c = t.shape[1]
    mu = box_mean(g, radius)  # (1, 3, H, W)
    mt = box_mean(t, radius)  # (1, C, H, W)
    moments = g.new_empty(1, 6, *g.shape[-2:])
    for k, (i, j) in enumerate(_UPPER):
        torch.mul(g[:, i], g[:, j], out=moments[:, k])
    moments = box_mean(moments, radius)
    for k, (i, j) in enumerate(_UPPER):  # the covariance, in place: E[g_i g_j] - mu_i mu_j (+ eps)
        moments[:, k].sub_(mu[:, i] * mu[:, j])
        if i == j:
            moments[:, k].add_(eps)
    p, q, r, u, v, w = moments.unbind(1)  # [[p, q, r], [q, u, v], [r, v, w]]
    adj = torch.stack([u * w - v * v, r * v - q * w, q * v - r * u, p * w - r * r, q * r - p * v, p * u - q * q], 1)
    det = p * adj[:, 0] + q * adj[:, 1] + r * adj[:, 2]
    del moments, p, q, r, u, v, w
    adj /= det[:, None]
    inverse = [[adj[:, k] for k in row] for row in ((0, 1, 2), (1, 3, 4), (2, 4, 5))]
    cross = box_mean((g[:, :, None] * t[:, None]).flatten(1, 2), radius).view(1, 3, c, *g.shape[-2:])
    cross -= mu[:, :, None] * mt[:, None]  # (1, 3, C, H, W): covariance of guide and target
    a = torch.stack([sum(inverse[i][j][:, None] * cross[:, j] for j in range(3)) for i in range(3)], dim=2)
    b = mt - (a * mu[:, None]).sum(dim=2)
    return a, b


def guided_filter(guide: Tensor, image: Tensor, *, radius: int = 8, eps: float = 0.01) -> Tensor:
    """He et al.'s guided filter with a colour guide: edge-preserving smoothing of ``image``.

    Args:
        guide: the image whose edges are kept.
        image: the image to filter (any number of channels).
        radius: window radius.
        eps: regulariser; larger means smoother.

    Shape:
        - guide: :math:`(1, 3, H, W)`; image: :math:`(1, C, H, W)`; output like ``image``

    Example:
        >>> g = torch.rand(1, 3, 16, 16)
        >>> torch.allclose(guided_filter(g, g, radius=2, eps=1e-8), g, atol=1e-3)
        True
    """
    _check_image(guide, "guided_filter")
    _check_image(image, "guided_filter")
    a, b = _mean_coefficients(guide, image, radius, eps)
    return ((a * guide.double()[:, None]).sum(dim=2) + b).to(image.dtype)


def _mean_coefficients(guide: Tensor, image: Tensor, radius: int, eps: float) -> tuple[Tensor, Tensor]:
    """The guided filter's per-pixel affine maps: each window's fit averaged over the windows
    that hold the pixel (shapes as :func:`_affine_fit`'s)."""
    a, b = _affine_fit(guide, image, radius, eps)
    return box_mean(a.flatten(1, 2), radius).view_as(a), box_mean(b, radius)


def guided_upsample(image: Tensor, guide: Tensor, guide_full: Tensor, *, radius: int = 1, eps: float = 1e-5) -> Tensor:
    """Carry a result made at a small size up to the size of its full-size guide (He and Sun
    2015's fast guided filter): fit the guided filter's local affine colour maps from
    ``guide`` to ``image`` at the small size, upsample the maps bilinearly, and apply them to
    ``guide_full``. The result keeps the full-size guide's edges and fine detail, where plain
    upsampling blurs them. It suits results that are locally affine in their guide, as a
    photorealistic transfer's are (its matting term asks exactly that); a painting's brush
    strokes are not, and would be smoothed away.

    Args:
        image: the small result.
        guide: the guide (the content photo) at the result's size.
        guide_full: the same guide at the size wanted.
        radius: window radius of the fit, in small-size pixels.
        eps: regulariser of the fit; smaller follows the result more closely.

    Returns:
        The result at ``guide_full``'s size (not clamped).

    Shape:
        - image: :math:`(1, C, h, w)`; guide: :math:`(1, 3, h, w)`; guide_full: :math:`(1, 3, H, W)`
        - output: :math:`(1, C, H, W)`

    Example:
        >>> full = torch.rand(1, 3, 40, 60, generator=torch.Generator().manual_seed(0))
        >>> small = F.interpolate(full, size=(20, 30), mode="area")
        >>> graded = 0.5 * small + 0.2  # a colour grade: affine in the guide
        >>> torch.allclose(guided_upsample(graded, small, full, radius=2, eps=1e-8), 0.5 * full + 0.2, atol=1e-4)
        True
    """
    for x in (image, guide, guide_full):
        _check_image(x, "guided_upsample")
    if guide.shape[1] != 3 or guide_full.shape[1] != 3 or guide.shape[-2:] != image.shape[-2:]:
        raise ValueError(
            f"guided_upsample: expected RGB guides and a guide of the image's size, got image "
            f"{tuple(image.shape)}, guide {tuple(guide.shape)}, guide_full {tuple(guide_full.shape)}"
        )
    a, b = _mean_coefficients(guide, image, radius, eps)
    size = guide_full.shape[-2:]
    out = torch.empty(1, image.shape[1], *size, dtype=image.dtype, device=image.device)
    full = guide_full.to(image.dtype)
    for c in range(image.shape[1]):  # one channel's maps at a time: 4 full-size planes, not 12
        a_c = F.interpolate(a[:, c].to(image.dtype), size=size, mode="bilinear", align_corners=False)
        b_c = F.interpolate(b[:, c : c + 1].to(image.dtype), size=size, mode="bilinear", align_corners=False)
        out[:, c] = (a_c * full).sum(dim=1) + b_c[:, 0]
    return out


def posterization_refinement(image: Tensor, content: Tensor, *, radius: int = 8, eps: float = 0.01) -> Tensor:
    """DPST's fix for posterised output: ``K = J + I - GuidedFilter(I; I)``.

    The content's fine detail (``I`` minus its guided-filtered self) is added back onto the
    stylised image ``J``.

    Args:
        image: the stylised image ``J``.
        content: the content photo ``I`` (also the guide of its own filtering).
        radius: radius of the guided filter (DPST: 8).
        eps: regulariser of the guided filter (DPST: 0.01).

    Returns:
        ``K``, not clamped (it may leave [0, 1] slightly).

    Shape:
        - image, content: :math:`(1, 3, H, W)`; output: same

    Example:
        >>> content = torch.rand(1, 3, 20, 20)
        >>> smooth = guided_filter(content, content)
        >>> torch.allclose(posterization_refinement(smooth, content), content, atol=1e-6)
        True
    """
    _check_image(image, "posterization_refinement")
    detail = content - guided_filter(content, content, radius=radius, eps=eps)
    return (image + detail).clamp(0.0, 1.0)


#: The largest Gaussian factor :func:`_gaussian_scale` gives: finite in float32, and large
#: enough that any colour difference an 8- or 16-bit image holds weighs nothing.
_LARGEST_GAUSSIAN_SCALE = 1e30


def _gaussian_scale(sigma: float) -> float:
    """``1 / (2 sigma^2)``, the factor of a Gaussian weight ``exp(-d^2 / (2 sigma^2))``, kept
    finite in float32: at most 1e30 (a tiny sigma: only equal values weigh; 0 x 1e30 is still 0,
    where 0 / 0 would be NaN), and 0 for a sigma whose square overflows (every value weighs alike).

    Example:
        >>> _gaussian_scale(0.5), _gaussian_scale(1e-300), _gaussian_scale(1e300)
        (2.0, 1e+30, 0.0)
    """
    square = float(sigma) * float(sigma)  # inf for a huge sigma (``**`` would raise), then 0.5 / inf = 0
    if square == 0.0:
        return _LARGEST_GAUSSIAN_SCALE
    return min(0.5 / square, _LARGEST_GAUSSIAN_SCALE)


#: Rows per band of :func:`bilateral_filter`: 8, 16, 32 and 64 ran within 7% of one another on a
#: 464 x 2800 image with 12 channels.
BILATERAL_BAND = 32


def bilateral_filter(
    image: Tensor,
    guide: Tensor | None = None,
    *,
    radius: int = 5,
    sigma_space: float | None = None,
    sigma_color: float = 0.1,
    stride: int = 1,
    progress: Callable[[int, int], None] | None = None,
) -> Tensor:
    """(Joint) bilateral filter: each pixel becomes a weighted mean of its neighbours, weighted
    by spatial distance and by colour distance in ``guide`` (``image`` itself by default).

    The image is filtered in bands of ``BILATERAL_BAND`` rows, so that each band's work stays
    in the CPU's cache: 1.5 times as fast as whole-image passes at 2800 x 1852 px, with the same
    result (``benchmarks/smoothing_speed.py``).

    Args:
        image: the image to filter.
        guide: the image whose colours weigh the neighbours (default: ``image``).
        radius: neighbourhood radius in pixels.
        sigma_space: spatial Gaussian sigma (default ``radius / 2``).
        sigma_color: colour Gaussian sigma on [0, 1] colours.
        stride: sample the neighbourhood every ``stride`` pixels (a sparse kernel: the cost falls
            by ``stride^2`` for large radii).
        progress: called after each band with (rows done, rows in all).

    Returns:
        The filtered image (weights normalised at the borders, so a flat image stays flat).

    Shape:
        - image: :math:`(1, C, H, W)`; guide: :math:`(1, G, H, W)`; output like ``image``

    Example:
        >>> flat = torch.full((1, 3, 9, 9), 0.3)
        >>> torch.allclose(bilateral_filter(flat, radius=2), flat)
        True
        >>> edge = torch.zeros(1, 1, 9, 9)
        >>> edge[..., 5:] = 1.0  # a step far above sigma_color stays a step
        >>> bool((bilateral_filter(edge, radius=2, sigma_color=0.05) - edge).abs().max() < 1e-6)
        True
    """
    _check_image(image, "bilateral_filter")
    if radius < 0 or stride < 1:
        raise ValueError(f"bilateral_filter: radius must be >= 0 and stride >= 1, got {radius} and {stride}")
    # the weights in the image's precision: a float64 guide of a float32 image made them float64,
    # which the in-place sums below take on torch 2.13 and failed on torch 2.1 (an internal assert)
    guide = image if guide is None else guide.to(image.dtype)
    if not (math.isfinite(sigma_color) and sigma_color > 0):
        raise ValueError(f"bilateral_filter: sigma_color must be a positive number, got {sigma_color}")
    sigma_space = sigma_space or max(radius / 2.0, 0.5)
    colour_scale, space_scale = _gaussian_scale(sigma_color), _gaussian_scale(sigma_space)
    h, w = image.shape[-2:]
    pad = (radius, radius, radius, radius)
    padded = F.pad(image, pad, mode="replicate")
    padded_guide = F.pad(guide, pad, mode="replicate")
    offsets = [
        (dy, dx)
        for dy in range(-radius, radius + 1, stride)
        for dx in range(-radius, radius + 1, stride)
        if dy * dy + dx * dx <= radius * radius
    ]
    out = torch.empty_like(image)
    for top in range(0, h, BILATERAL_BAND):
        rows = min(BILATERAL_BAND, h - top)
        centre = guide[..., top : top + rows, :]
        num = image.new_zeros(*image.shape[:-2], rows, w)
        den = image.new_zeros(image.shape[0], 1, rows, w)
        for dy, dx in offsets:
            y, x = radius + top + dy, radius + dx
            weight = torch.sub(padded_guide[..., y : y + rows, x : x + w], centre).square_().sum(dim=1, keepdim=True)
            weight.mul_(-colour_scale).sub_((dy * dy + dx * dx) * space_scale).exp_()
            num.addcmul_(weight, padded[..., y : y + rows, x : x + w])
            den.add_(weight)
        out[..., top : top + rows, :] = num / den
        if progress is not None:
            progress(top + rows, h)
    return out


def local_affine_smoothing(
    image: Tensor,
    content: Tensor,
    *,
    radius: int = 1,
    eps: float = 1e-3 / 9,
    filter_radius: int = 15,
    filter_edge: float = 0.01,
    stride: int = 1,
    progress: Callable[[int, int], None] | None = None,
) -> Tensor:
    """DPST's "smooth local affine" post-process.

    Fit, in every ``(2 radius + 1)^2`` window, an affine map from the content's colours to the
    output's (12 coefficients per pixel), smooth the coefficient maps with a joint bilateral
    filter guided by the content, and apply the smoothed maps to the content. The result has
    the output's colours on the content's exact edges and texture.

    The filter is DPST's: spatial sigma ``filter_radius / 3``, and a colour weight
    ``exp(-d / (2 filter_edge^2))`` where ``d`` is the *mean* over the three channels of the
    squared colour difference. DPST's fit adds 1e-3 to the colour diagonal of the 9-pixel
    moment matrix, which is ``eps = 1e-3 / 9`` on the window's covariance.

    Args:
        image: the stylised image to smooth.
        content: the content photo (the guide).
        radius: radius of the windows the affine maps are fitted in (DPST: 1, 3 x 3 windows).
        eps: ridge regulariser of the fit, on the colour covariance.
        filter_radius: radius of the bilateral filter (DPST's ``f_radius``).
        filter_edge: colour sigma of the bilateral filter (DPST's ``f_edge``).
        stride: sample the filter's window every ``stride`` pixels: faster by ``stride^2``, but
            on the DPST pairs stride 3 left 1.5-2 times the matting energy of stride 1.
        progress: called as the bilateral filter advances, with (rows done, rows in all).

    Deviation from DPST: the filter's window is a disc of radius ``filter_radius``, not a square
    (its corners weigh at most exp(-4.5) of the centre).

    Shape:
        - image, content: :math:`(1, 3, H, W)`; output: same

    Example:
        >>> content = torch.rand(1, 3, 16, 16)
        >>> local_affine_smoothing(0.5 * content + 0.2, content, filter_radius=3).shape
        torch.Size([1, 3, 16, 16])
    """
    _check_image(image, "local_affine_smoothing")
    if image.shape != content.shape:
        raise ValueError(
            f"local_affine_smoothing: image {tuple(image.shape)} and content {tuple(content.shape)} differ"
        )
    a, b = _affine_fit(content, image, radius, eps)  # (1, 3, 3, H, W), (1, 3, H, W)
    coeffs = torch.cat([a.flatten(1, 2), b], dim=1).float()  # (1, 12, H, W)
    # bilateral_filter sums the squared channel differences; DPST averages them.
    sigma_color = filter_edge * content.shape[1] ** 0.5
    smooth = bilateral_filter(
        coeffs,
        content,
        radius=filter_radius,
        sigma_space=filter_radius / 3,
        sigma_color=sigma_color,
        stride=stride,
        progress=progress,
    )
    a = smooth[:, :9].view(1, 3, 3, *image.shape[-2:])
    out = (a * content[:, None]).sum(dim=2) + smooth[:, 9:]
    return out.clamp(0.0, 1.0).to(image.dtype)


def matting_smoothing(
    image: Tensor,
    laplacian: MattingLaplacian,
    *,
    beta: float = 1e-2,
    tol: float = 1e-4,
    max_iterations: int = 200,
) -> Tensor:
    """Closed-form photorealistic smoothing: solve ``(Id + beta L) x = y`` per channel.

    ``L`` is the content's matting Laplacian (matrix-free), ``y`` the stylised image. The
    solution is the image closest to ``y`` that is locally an affine function of the content's
    colours, in the sense of Levin's matting energy (after Li et al. 2018, who use a similar
    affinity-based smoothing). Solved with Jacobi-preconditioned conjugate gradients, all three
    channels at once, warm-started from ``y``. A solve that does not reach ``tol`` warns and
    returns the last iterate (CG lowers the quadratic energy at every step).

    Args:
        image: the stylised image ``y``.
        laplacian: the content's :class:`~restyle.matting.MattingLaplacian`, of ``image``'s size.
        beta: strength: larger is smoother (closer to an affine function of the content).
        tol: relative residual at which CG stops.
        max_iterations: CG iterations at most.

    Returns:
        ``x``, in ``image``'s precision.

    Shape:
        - image: :math:`(1, 3, H, W)`; output: same

    Example:
        >>> content = torch.rand(1, 3, 12, 12, dtype=torch.float64)
        >>> tinted = 0.5 * content + 0.2  # already an affine function of the content
        >>> x = matting_smoothing(tinted, MattingLaplacian(content), beta=10.0)
        >>> bool((x - tinted).abs().max() < 1e-3)
        True
        >>> noisy = tinted + 0.1 * torch.randn_like(tinted)
        >>> lap = MattingLaplacian(content)
        >>> bool(lap.energy(matting_smoothing(noisy, lap, beta=10.0)) < lap.energy(noisy))
        True
    """
    _check_image(image, "matting_smoothing")
    dtype = laplacian.dtype
    y = image[0].to(dtype)
    diag = 1.0 + beta * laplacian.diagonal()

    def apply(v: Tensor) -> Tensor:
        return v + beta * laplacian.matvec(v)

    x = y.clone()
    r = y - apply(x)
    z = r / diag
    p = z.clone()
    rz = (r * z).sum(dim=(1, 2))
    norm_y = y.pow(2).sum(dim=(1, 2)).sqrt().clamp_min(1e-12)
    # CG decreases the quadratic energy at every step (not the residual), so the last iterate is
    # the best one; the residual only decides when to stop.
    residual = float((r.pow(2).sum(dim=(1, 2)).sqrt() / norm_y).max())
    steps = 0
    for steps in range(max_iterations):  # noqa: B007 - the count is reported below
        if residual < tol:
            break
        ap = apply(p)
        curvature = (p * ap).sum(dim=(1, 2))
        live = rz > 0  # a channel whose residual is exactly zero (an all-black one) is solved
        if not bool(torch.isfinite(curvature).all()) or bool((curvature[live] <= 0).any()):
            # Breakdown: in float32 a nearly singular L is not exactly positive semidefinite.
            # Keep the last good iterate (its energy is the lowest reached) and say so below.
            break
        alpha = torch.where(live, rz / curvature.clamp_min(1e-30), 0.0)
        x = x + alpha[:, None, None] * p
        r = r - alpha[:, None, None] * ap
        z = r / diag
        rz_new = (r * z).sum(dim=(1, 2))
        p = z + (rz_new / rz.clamp_min(1e-30))[:, None, None] * p
        rz = rz_new
        residual = float((r.pow(2).sum(dim=(1, 2)).sqrt() / norm_y).max())
    if residual >= tol:
        warnings.warn(
            f"photorealistic smoothing: conjugate gradients stopped at relative residual {residual:.2g} "
            f"after {steps} iterations (asked {tol:g}); kept the last (lowest-energy) iterate",
            RestyleWarning,
            stacklevel=2,
        )
    best = x
    return best[None].to(image.dtype).clamp(0.0, 1.0)
