"""Quality metrics, computed the same way for every method.

The four metrics of the DPST benchmark (``benchmarks/dpst.py``):

- :func:`style_distance`: segment-wise Gram distance at VGG-19 relu1_1..relu5_1 (lower = closer
  to the style);
- :func:`color_distance`: segment-wise sliced Wasserstein distance of Lab colours (lower =
  closer to the style's colours);
- :func:`photorealism_energy`: the matting energy ``sum_c o' L o / (3N)`` of the output under
  the content's Laplacian (lower = more locally affine in the content's colours);
- :func:`structure_similarity`: SSIM of the Sobel edge magnitudes of the content's and the
  output's luminance (higher = the content's edges are kept).

Mask agreement (``benchmarks/automask.py``): :func:`adjusted_rand_index` and
:func:`matching_accuracy`. Flicker (``benchmarks/video.py``): :func:`temporal_error`.
"""

from __future__ import annotations

import numpy as np
import torch
from skimage.color import rgb2lab
from skimage.filters import sobel
from skimage.metrics import structural_similarity
from torch import Tensor

from restyle.errors import check_tensor
from restyle.flow import certainty, optical_flow, warp
from restyle.losses import masked_gram
from restyle.masks import MaskPair, masks_for_layers
from restyle.matting import MattingLaplacian
from restyle.vgg import encoder

__all__ = [
    "adjusted_rand_index",
    "color_distance",
    "matching_accuracy",
    "photorealism_energy",
    "structure_similarity",
    "style_distance",
    "temporal_error",
]

METRIC_LAYERS = ("relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1")


def _check_images(name: str, **images: Tensor) -> None:
    """Each of ``images`` (by keyword: its role) is one RGB image ``(1, 3, H, W)``."""
    for what, x in images.items():
        check_tensor(x, f"{name} {what}", "(1, 3, H, W)")
        if x.ndim != 4 or x.shape[:2] != (1, 3):
            raise ValueError(f"{name}: expected the {what} as one RGB image (1, 3, H, W), got {tuple(x.shape)}")


def _check_same_size(name: str, **images: Tensor) -> None:
    """``images`` (by keyword: their roles) are of one size."""
    sizes = {what: _size(x) for what, x in images.items()}
    if len(set(sizes.values())) > 1:
        listed = " and ".join(f"the {what} ({size})" for what, size in sizes.items())
        raise ValueError(f"{name}: {listed} must be of one size")


def _check_masks(name: str, masks: MaskPair, output: Tensor, style: Tensor) -> None:
    if masks.content.shape[-2:] != output.shape[-2:] or masks.style.shape[-2:] != style.shape[-2:]:
        raise ValueError(
            f"{name}: masks of {_size(masks.content)} and {_size(masks.style)} do not fit the output "
            f"({_size(output)}) and the style ({_size(style)}); use masks.resized(output.shape, style.shape)"
        )


def _size(x: Tensor) -> str:
    return f"{x.shape[-1]}x{x.shape[-2]}"


def _areas(masks: MaskPair) -> Tensor:
    area = masks.content.sum(dim=(1, 2))
    return area / area.sum().clamp_min(1e-8)


@torch.no_grad()
def style_distance(output: Tensor, style: Tensor, masks: MaskPair) -> float:
    """Mean over layers of the area-weighted ``||G_out - G_style||^2 / ||G_style||^2`` per region.

    Args:
        output: the image scored, RGB in [0, 1].
        style: the style image.
        masks: the regions of both (:meth:`MaskPair.whole <restyle.masks.MaskPair.whole>` for none),
            at the images' sizes; each region's share is its share of the output's area.

    Returns:
        The distance: 0 when every region's Grams equal the style region's; 1 when the output's
        Grams are all zero.

    Shape:
        - output: :math:`(1, 3, H, W)`; style: :math:`(1, 3, H', W')`; masks at those sizes

    Example:
        >>> style = torch.rand(1, 3, 32, 32)
        >>> masks = MaskPair.whole(style.shape, style.shape)
        >>> style_distance(style, style, masks)
        0.0
        >>> style_distance(torch.rand(1, 3, 32, 32), style, masks) > 0
        True
    """
    _check_images("style_distance", output=output, style=style)
    _check_masks("style_distance", masks, output, style)
    enc = encoder(last_layer="relu5_1")
    fo = enc(output.float(), METRIC_LAYERS)
    fs = enc(style.float(), METRIC_LAYERS)
    mo = masks_for_layers(masks.content, METRIC_LAYERS)
    ms = masks_for_layers(masks.style, METRIC_LAYERS)
    weights = _areas(masks)
    total = 0.0
    for name in METRIC_LAYERS:
        go = masked_gram(fo[name], mo[name])
        gs = masked_gram(fs[name], ms[name])
        rel = (go - gs).pow(2).sum(dim=(1, 2)) / gs.pow(2).sum(dim=(1, 2)).clamp_min(1e-12)
        total += float((rel * weights).sum())
    return total / len(METRIC_LAYERS)


def _sliced_wasserstein(a: np.ndarray, b: np.ndarray, directions: np.ndarray, quantiles: int = 256) -> float:
    qs = np.linspace(0.0, 1.0, quantiles)
    pa = np.quantile(a @ directions.T, qs, axis=0)
    pb = np.quantile(b @ directions.T, qs, axis=0)
    return float(np.abs(pa - pb).mean())


def color_distance(output: Tensor, style: Tensor, masks: MaskPair, *, projections: int = 64, seed: int = 0) -> float:
    """Area-weighted sliced Wasserstein-1 distance between the Lab colours of each output region
    and the matching style region (random directions fixed by ``seed``; Lab units).

    Args:
        output: the image scored, RGB in [0, 1].
        style: the style image.
        masks: the regions of both, at the images' sizes; a pixel is in a region where its mask
            is above 0.5.
        projections: number of random directions in Lab space.
        seed: seed of the directions.

    Returns:
        The distance in Lab units (0 for the same colours, in any arrangement).

    Shape:
        - output: :math:`(1, 3, H, W)`; style: :math:`(1, 3, H', W')`; masks at those sizes

    Example:
        >>> style = torch.rand(1, 3, 8, 8, dtype=torch.float64)
        >>> shuffled = style.flatten(2)[..., torch.randperm(64)].view(1, 3, 8, 8)
        >>> masks = MaskPair.whole(style.shape, style.shape)
        >>> color_distance(shuffled, style, masks)
        0.0
        >>> color_distance(style.flip(1), style, masks) > 1  # red and blue swapped
        True
    """
    _check_images("color_distance", output=output, style=style)
    _check_masks("color_distance", masks, output, style)
    rng = np.random.default_rng(seed)
    directions = rng.normal(size=(projections, 3))
    directions /= np.linalg.norm(directions, axis=1, keepdims=True)
    lab_o = rgb2lab(output[0].permute(1, 2, 0).double().numpy()).reshape(-1, 3)
    lab_s = rgb2lab(style[0].permute(1, 2, 0).double().numpy()).reshape(-1, 3)
    weights = _areas(masks).numpy()
    total = 0.0
    for w, mc, ms in zip(weights, masks.content, masks.style):
        sel_o = mc.reshape(-1).numpy() > 0.5
        sel_s = ms.reshape(-1).numpy() > 0.5
        if w <= 0 or sel_o.sum() < 2 or sel_s.sum() < 2:
            continue
        total += float(w) * _sliced_wasserstein(lab_o[sel_o], lab_s[sel_s], directions)
    return total


def photorealism_energy(output: Tensor, content: Tensor, laplacian: MattingLaplacian | None = None) -> float:
    """``sum_c o_c' L o_c / (3N)`` with ``L`` the content's matting Laplacian (float64).

    Args:
        output: the image scored, RGB in [0, 1].
        content: the content photo, the Laplacian's guide.
        laplacian: the content's Laplacian, if already built (it is then not rebuilt).

    Returns:
        The mean energy per colour value: near 0 where the output is locally an affine function
        of the content's colours.

    Shape:
        - output, content: :math:`(1, 3, H, W)`

    Example:
        >>> content = torch.rand(1, 3, 10, 12)
        >>> photorealism_energy(0.5 * content + 0.1, content) < 1e-6
        True
        >>> photorealism_energy(torch.rand(1, 3, 10, 12), content) > 0.01
        True
    """
    _check_images("photorealism_energy", output=output, content=content)
    _check_same_size("photorealism_energy", output=output, content=content)
    if laplacian is not None and laplacian.shape != tuple(content.shape[-2:]):
        size = f"{laplacian.shape[1]}x{laplacian.shape[0]}"
        raise ValueError(f"photorealism_energy: the Laplacian is of a {size} guide, the content {_size(content)}")
    lap = laplacian or MattingLaplacian(content.double())
    o = output[0].double()
    return float(lap.energy(o)) / o.numel()


def structure_similarity(output: Tensor, content: Tensor) -> float:
    """SSIM between the Sobel edge magnitudes of the content's and the output's luminance.

    Args:
        output: the image scored, RGB in [0, 1].
        content: the content photo, of the same size.

    Returns:
        The SSIM, at most 1 (the content's edges exactly).

    Shape:
        - output, content: :math:`(1, 3, H, W)`

    Example:
        >>> content = torch.rand(1, 3, 16, 16, dtype=torch.float64)
        >>> structure_similarity(content, content)
        1.0
        >>> structure_similarity(torch.rand(1, 3, 16, 16, dtype=torch.float64), content) < 0.5
        True
    """
    _check_images("structure_similarity", output=output, content=content)
    _check_same_size("structure_similarity", output=output, content=content)
    weights = np.array([0.299, 0.587, 0.114])
    lum_o = np.tensordot(weights, output[0].double().numpy(), axes=1)
    lum_c = np.tensordot(weights, content[0].double().numpy(), axes=1)
    eo, ec = sobel(lum_o), sobel(lum_c)
    data_range = max(float(ec.max() - ec.min()), float(eo.max() - eo.min()), 1e-6)
    return float(structural_similarity(ec, eo, data_range=data_range))


def adjusted_rand_index(a: np.ndarray, b: np.ndarray, *, ignore: int | None = -1) -> float:
    """Adjusted Rand index of two labelings of the same pixels (1: identical up to renaming,
    about 0: chance agreement). Pixels labelled ``ignore`` in either map are left out.

    Args:
        a: one label map (any shape).
        b: another, of the same size.
        ignore: the label of pixels to leave out (None: keep every pixel).

    Returns:
        The index (1.0 also when fewer than two pixels are left).

    Example:
        >>> adjusted_rand_index(np.array([0, 0, 1, 1]), np.array([5, 5, 2, 2]))
        1.0
    """
    a, b = np.asarray(a).ravel(), np.asarray(b).ravel()
    if a.shape != b.shape:
        raise ValueError(f"label maps differ in size: {a.shape} vs {b.shape}")
    if ignore is not None:
        keep = (a != ignore) & (b != ignore)
        a, b = a[keep], b[keep]
    n = a.size
    if n < 2:
        return 1.0
    _, ia = np.unique(a, return_inverse=True)
    _, ib = np.unique(b, return_inverse=True)
    table = np.zeros((ia.max() + 1, ib.max() + 1), dtype=np.float64)
    np.add.at(table, (ia, ib), 1.0)

    def pairs(x: np.ndarray) -> float:
        return float((x * (x - 1) / 2).sum())

    index = pairs(table)
    rows, cols = pairs(table.sum(axis=1)), pairs(table.sum(axis=0))
    expected = rows * cols / (n * (n - 1) / 2)
    maximum = (rows + cols) / 2
    if maximum == expected:
        return 1.0
    return (index - expected) / (maximum - expected)


def matching_accuracy(
    content_substyle: np.ndarray,
    style_substyle: np.ndarray,
    content_truth: np.ndarray,
    style_truth: np.ndarray,
    *,
    ignore: int | None = -1,
) -> float:
    """Share of content pixels whose sub-style is, in the style image, mostly their own label.

    Each sub-style stands for the ground-truth label covering most of it in the style image;
    a content pixel is right when its sub-style stands for its own ground-truth label. Pixels
    whose label is ``ignore`` or absent from the style's ground truth are left out.

    Args:
        content_substyle: ``(H, W)`` sub-style of each content pixel.
        style_substyle: ``(H', W')`` sub-style of each style pixel.
        content_truth: ``(H, W)`` ground-truth label of each content pixel.
        style_truth: ``(H', W')`` ground-truth label of each style pixel.

    Example:
        >>> style_sub = np.array([[0, 0, 1, 1]]); style_truth = np.array([[7, 7, 7, 3]])
        >>> matching_accuracy(np.array([[0, 1, 1]]), style_sub, np.array([[7, 3, 7]]), style_truth)
        0.6666666666666666
    """
    for a, b, what in ((content_substyle, content_truth, "content"), (style_substyle, style_truth, "style")):
        if np.shape(a) != np.shape(b):
            raise ValueError(f"{what} label maps differ in size: {np.shape(a)} vs {np.shape(b)}")
    s_sub, s_truth = np.asarray(style_substyle).ravel(), np.asarray(style_truth).ravel()
    keep = s_truth != ignore if ignore is not None else np.ones(s_truth.shape, bool)
    labels = np.unique(s_truth[keep])
    c_sub, c_truth = np.asarray(content_substyle).ravel(), np.asarray(content_truth).ravel()
    # the label each sub-style stands for; a sub-style missing from the style stands for none
    lookup = np.full(int(max(c_sub.max(initial=0), s_sub.max(initial=0))) + 1, labels.min(initial=0) - 1)
    for sub in np.unique(s_sub[keep]):
        counts = [(s_truth[keep & (s_sub == sub)] == label).sum() for label in labels]
        lookup[sub] = labels[int(np.argmax(counts))]
    valid = np.isin(c_truth, labels)
    if not valid.any():
        return float("nan")
    return float((lookup[c_sub[valid]] == c_truth[valid]).mean())


def temporal_error(frames: list[torch.Tensor], stylised: list[torch.Tensor]) -> list[float]:
    """Ruder's temporal error per frame pair: ``mean(c * (s_t - warp(s_{t-1}))^2)``, with flow
    and certainty computed from the original frames (values in [0, 1] units).

    Args:
        frames: the original frames, in order.
        stylised: the stylised frames, one per original.

    Returns:
        One error per pair of consecutive frames (``len(frames) - 1`` values).

    Shape:
        - each frame: :math:`(1, 3, H, W)`

    Example:
        >>> frame, look = torch.rand(1, 3, 24, 32), torch.rand(1, 3, 24, 32)
        >>> temporal_error([frame, frame], [look, look])[0] < 1e-10  # stylised the same twice
        True
        >>> temporal_error([frame, frame], [look, torch.rand(1, 3, 24, 32)])[0] > 0.01  # flicker
        True
    """
    if len(frames) != len(stylised):
        raise ValueError(f"temporal_error: {len(frames)} frames but {len(stylised)} stylised ones: give one per frame")
    for t, (frame, look) in enumerate(zip(frames, stylised)):
        roles = {f"frame {t}": frame, f"stylised frame {t}": look}
        _check_images("temporal_error", **roles)
        _check_same_size("temporal_error", **{"frame 0": frames[0], **roles})
    errors = []
    for t in range(1, len(frames)):
        forward = optical_flow(frames[t - 1], frames[t])
        backward = optical_flow(frames[t], frames[t - 1])
        c = certainty(forward, backward)
        errors.append(float((c * (stylised[t] - warp(stylised[t - 1], backward)) ** 2).mean()))
    return errors
