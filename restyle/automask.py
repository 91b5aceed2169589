"""Automatic masks: split a style image into sub-styles and match content regions to them.

After Pegios et al. 2018 ("Style Decomposition for Improved Neural Style Transfer"), with
these choices of ours:

1. Both images are over-segmented into superpixels (SLIC), so that every region edge follows
   an image edge; superpixels, not pixels, are clustered.
2. A superpixel's descriptor is the mean over its pixels of VGG-19 relu3_1 and relu4_1
   features (projected on a principal basis shared by both images, then upsampled), its Lab
   colour and, with a small weight, its position. Each block is scaled to unit variance.
3. With a larger weight, whether the superpixel lies above or below the image's sky border
   (:func:`restyle.horizon.sky_mask`: one border from left to right, at one height per column,
   found on coarse features), so that no region mixes sky with what stands under it.
4. The style's superpixels are clustered by a Gaussian mixture (full covariances); K is
   the one with the lowest BIC unless given. The labels are then smoothed by a Potts model
   over the superpixel adjacency graph (iterated conditional modes, edges weighted by the
   length of the shared border). The content is segmented the same way.
5. Regions are matched by what they show, not by their colour: each region's mean VGG-19
   relu4_1 and relu5_1 feature vectors (all channels, compared by cosine distance), plus a
   smaller term for the distance between the regions' centres and one for the difference of
   their shares above the sky border. Each content region goes to
   the sub-style of least cost plus a penalty on the share of the content a sub-style already
   has, so that one sub-style does not take everything; several content regions may share one
   sub-style. (On the 20 DPST pairs this sends 83% of the content's pixels, on average, to a
   sub-style of the right hand-drawn label, against 84% for the best matching of the same
   regions; see benchmarks/automask.py. Matching the clustering descriptors instead sent 71%,
   measured before the sky border.)

6. The content masks are feathered by a guided filter on the content (``feather``), so that
   a border the clustering drew across a smooth area blends, while borders on the content's
   edges stay sharp; the style's sub-style masks stay hard.
7. The transfer blends each region's Gram target with a wider one (``global_style``, see
   :data:`AUTO_GLOBAL_STYLE`). That wider target is the Gram of the style on the sub-style's
   own side of the sky border (``MaskPair.context``), not of the whole style.

The result is a :class:`~restyle.masks.MaskPair` named in DPST's colours (so that
``restyle masks`` can write masks a user can edit) and the matching, for inspection.
"""

from __future__ import annotations

import json
import math
import os
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from skimage.color import rgb2lab
from skimage.segmentation import slic
from torch import Tensor

from restyle.device import check_seed, resolve_device
from restyle.errors import RestyleError, check_at_least, check_weight
from restyle.files import atomic_write
from restyle.horizon import sky_mask
from restyle.image import ImageLike, RestyleWarning, load_image, resize, save_image, scaled_shape, warn_if_stretched
from restyle.masks import DPST_COLORS, MaskPair, resize_labels
from restyle.signature import check_arguments
from restyle.smoothing import guided_filter
from restyle.vgg import check_size, encoder, min_side

__all__ = [
    "AutoMasks",
    "Segmentation",
    "auto_masks",
    "check_mask_options",
    "match_regions",
    "resolve_masks",
    "segment",
]

FEATURE_LAYERS = ("relu3_1", "relu4_1")  # clustering descriptors
MATCH_LAYERS = ("relu4_1", "relu5_1")  # region semantics for matching
# Weights of the matching cost's terms, each scaled by its median over the cost matrix: the
# cosine distance of the region semantics, and the squared distance of the region centres.
MATCH_POSITION = 0.5
# Share of a wider Gram in each region's style target when the masks are automatic
# (``global_style`` of the transfers). Deviation from DPST, whose hand masks use 0: a region
# matched to the wrong sub-style is pulled only half as far towards it. The wider Gram is the
# style's on the sub-style's side of the sky border (``_side_contexts``), not the whole style's:
# a wrong match mostly stays on its own side, and the whole style's Gram pulled ground regions
# towards sky statistics. (On the 20 DPST pairs, `default` preset, this closes 0.53 of the Gram
# gap against 0.47 with the whole style; see benchmarks/RESULTS.md.)
AUTO_GLOBAL_STYLE = 0.5
#: The most sub-styles: one per DPST colour, so that masks can be written and edited.
MAX_SUBSTYLES = len(DPST_COLORS)
#: The largest work size: analysis at 2048 px took 54 s and 3.8 GB here for a 96-px pair (the
#: images are brought to the work size, up or down), and the masks come out at each image's
#: own size whatever it is.
MAX_WORK_SIZE = 2048
# Relative weight of each descriptor block: relu3_1, relu4_1, Lab colour, position, above the
# sky border (0 or 1).
BLOCK_WEIGHTS = (1.0, 1.0, 0.7, 0.3, 2.0)
# Least spread a block is scaled by, so that near-constant blocks are not blown up to unit
# variance: Lab units for colour; positions (in [0, 1]) always have a uniform's spread; the sky
# flag (0 or 1) is divided by at least 0.3, so that a sliver of sky does not weigh more than a
# sky that fills half the image.
BLOCK_FLOORS = (1e-8, 1e-8, 5.0, 0.29, 0.3)
# Weight in the matching cost of the difference between two regions' shares above the sky border.
MATCH_SKY = 2.0
# Long side at which the sky border is found: VGG features this coarse describe a region's
# texture rather than its details. (The size it was measured at on the DPST pairs; others were
# not tried.)
SKY_WORK_SIZE = 192
FLAT_LAB_STD = 1.0  # an image whose colours vary less than this (Lab units) is one region
COMPONENTS = 8  # principal components kept per VGG layer


@dataclass
class Segmentation:
    """Regions of one image.

    Attributes:
        labels: ``(H, W)`` int region of every pixel, at the image's size, 0..K-1 by falling area.
        descriptors: ``(K, D)`` mean descriptor of each region.
        areas: ``(K,)`` share of the image each region covers.
        semantics: ``(K, D)`` each region's mean VGG features, one unit-norm block per layer of
            ``MATCH_LAYERS``, so that a dot product sums the cosine similarities.
        centres: ``(K, 2)`` each region's mean (y, x) position over the long side, in [0, 1].
        sky: ``(K,)`` share of each region above the image's sky border (zeros without one).
        bic: BIC of each K tried (empty when K was given).
        above: ``(H, W)`` bool, the pixels above the sky border at the image's size (None when
            no border was looked for).
    """

    labels: np.ndarray
    descriptors: np.ndarray
    areas: np.ndarray
    semantics: np.ndarray
    centres: np.ndarray
    sky: np.ndarray
    bic: dict[int, float] = field(default_factory=dict)
    above: np.ndarray | None = None

    @property
    def count(self) -> int:
        return len(self.areas)


@dataclass
class AutoMasks:
    """Automatic masks and how they were found.

    Attributes:
        masks: the pair to use for transfer, one label per sub-style that some content region uses.
        style: the style's sub-styles.
        content: the content's regions.
        cost: ``(content regions, sub-styles)`` matching costs (see :func:`match_regions`).
        assignment: the sub-style of each content region.
    """

    masks: MaskPair
    style: Segmentation
    content: Segmentation
    cost: np.ndarray
    assignment: list[int]

    def summary(self) -> dict:
        """The matching as plain data (for metadata, JSON and printing)."""
        names = list(DPST_COLORS)
        return {
            "substyles": [
                {
                    "label": names[s],
                    "style_area": round(float(self.style.areas[s]), 4),
                    "sky": round(float(self.style.sky[s]), 4),
                }
                for s in range(self.style.count)
            ],
            "content_regions": [
                {
                    "region": r,
                    "area": round(float(self.content.areas[r]), 4),
                    "sky": round(float(self.content.sky[r]), 4),
                    "substyle": names[self.assignment[r]],
                    "cost": round(float(self.cost[r, self.assignment[r]]), 4),
                }
                for r in range(self.content.count)
            ],
            "blend_context": "whole style" if self.masks.context is None else "side of the sky border",
            "style_bic": {str(k): round(v, 1) for k, v in self.style.bic.items()},
            "content_bic": {str(k): round(v, 1) for k, v in self.content.bic.items()},
        }

    def describe(self) -> str:
        """A few lines saying which content region took which sub-style."""
        info = self.summary()
        lines = [f"{len(info['substyles'])} sub-styles in the style image, {self.content.count} content regions:"]
        for r in info["content_regions"]:
            where = ", mostly sky" if r["sky"] > 0.5 else ""
            lines.append(f"  content region {r['region']} ({r['area']:.0%} of the content{where}) -> {r['substyle']}")
        return "\n".join(lines)

    @property
    def content_substyles(self) -> np.ndarray:
        """``(H, W)``: the sub-style each content pixel takes (its region's assignment)."""
        return np.asarray(self.assignment)[self.content.labels]

    def colour_masks(self) -> tuple[np.ndarray, np.ndarray]:
        """The content and style masks as uint8 RGB ``(H, W, 3)`` in DPST's colours."""
        palette = (np.array(list(DPST_COLORS.values())) * 255).astype(np.uint8)
        return palette[self.content_substyles], palette[self.style.labels]

    def save(
        self, directory: str | os.PathLike, *, metadata: Mapping[str, Any] | None = None
    ) -> tuple[Path, Path, Path]:
        """Write ``content_mask.png``, ``style_mask.png`` (DPST colours) and ``matching.json``;
        the masks carry ``metadata`` (the parameters that made them) as results do."""
        folder = Path(directory)
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as err:
            raise RestyleError(f"cannot create {folder}: {err.strerror}") from None
        content_rgb, style_rgb = self.colour_masks()
        paths = [
            save_image(Image.fromarray(content_rgb), folder / "content_mask.png", metadata=metadata),
            save_image(Image.fromarray(style_rgb), folder / "style_mask.png", metadata=metadata),
        ]
        text = json.dumps(self.summary(), indent=2) + "\n"
        paths.append(atomic_write(folder / "matching.json", lambda handle: handle.write(text.encode())))
        return paths[0], paths[1], paths[2]


def _warn(message: str) -> None:
    warnings.warn(message, RestyleWarning, stacklevel=3)


def _features(
    images: list[Tensor], device: torch.device, *, semantic_layers: bool = True
) -> tuple[list[list[Tensor]], list[list[Tensor]]]:
    """VGG features of each image (at its work size).

    Returns:
        ``(projected, semantic)``: per image, the ``FEATURE_LAYERS`` features projected on a
        principal basis shared by all images and upsampled to the image's size, ``(C', H, W)``
        per layer; and the ``MATCH_LAYERS`` features as they are, ``(C, h, w)`` per layer
        (empty lists without ``semantic_layers``, and the network run only as deep as needed).
    """
    deep = MATCH_LAYERS if semantic_layers else ()
    layers = tuple(dict.fromkeys(FEATURE_LAYERS + deep))
    enc = encoder(device=device, last_layer=layers[-1])
    raw, semantic = [], []
    with torch.no_grad():
        for image in images:
            feats = enc(image.to(device), layers)
            raw.append([feats[name][0].float().cpu() for name in FEATURE_LAYERS])
            semantic.append([feats[name][0].float().cpu() for name in deep])
    out: list[list[Tensor]] = [[] for _ in images]
    for layer in range(len(FEATURE_LAYERS)):
        flat = torch.cat([r[layer].flatten(1).T for r in raw])  # (pixels of all images, C)
        mean = flat.mean(0)
        centred = flat - mean
        # principal basis of the pooled features: both images are described in one space
        _, _, v = torch.linalg.svd(centred[:: max(1, len(centred) // 20000)], full_matrices=False)
        basis = v[:COMPONENTS].T
        for index, r in enumerate(raw):
            h, w = r[layer].shape[-2:]
            proj = ((r[layer].flatten(1).T - mean) @ basis).T.reshape(-1, h, w)
            size = images[index].shape[-2:]
            out[index].append(F.interpolate(proj[None], size=size, mode="bilinear", align_corners=False)[0])
    return out, semantic


def _region_semantics(labels: np.ndarray, count: int, feats: list[Tensor]) -> np.ndarray:
    """Each region's mean feature vector per layer, unit-normed and concatenated: ``(count, D)``.

    Regions are area-pooled to each layer's grid, so a region smaller than a feature cell still
    gets the cells it overlaps, weighted by how much of each it covers.
    """
    onehot = F.one_hot(torch.from_numpy(labels).long(), count).permute(2, 0, 1).float()[None]
    blocks = []
    for feat in feats:
        weights = F.adaptive_avg_pool2d(onehot, tuple(feat.shape[-2:]))[0].flatten(1)  # (count, cells)
        means = weights @ feat.flatten(1).T / weights.sum(1, keepdim=True).clamp_min(1e-12)
        blocks.append(F.normalize(means, dim=1))
    return torch.cat(blocks, dim=1).double().numpy()


def _superpixels(image: Tensor, count: int) -> np.ndarray:
    arr = image[0].permute(1, 2, 0).numpy().astype(np.float64)
    labels = slic(arr, n_segments=count, compactness=10.0, start_label=0, channel_axis=-1)
    # relabel to 0..n-1 (SLIC may leave gaps)
    _, labels = np.unique(labels, return_inverse=True)
    return labels.reshape(arr.shape[:2])


def _block_means(labels: np.ndarray, blocks: list[np.ndarray], count: int) -> list[np.ndarray]:
    """Mean of each ``(D, H, W)`` block over each superpixel: ``[(count, D)]``."""
    flat = labels.ravel()
    sizes = np.bincount(flat, minlength=count).astype(np.float64)
    means = []
    for block in blocks:
        d = block.shape[0]
        sums = np.stack([np.bincount(flat, weights=block[i].ravel(), minlength=count) for i in range(d)], axis=1)
        means.append(sums / np.maximum(sizes, 1)[:, None])
    return means


def _adjacency(labels: np.ndarray, count: int) -> np.ndarray:
    """Shared border length between superpixels: ``(count, count)``, symmetric."""
    adj = np.zeros((count, count))
    for a, b in ((labels[:, 1:], labels[:, :-1]), (labels[1:], labels[:-1])):
        diff = a != b
        np.add.at(adj, (a[diff], b[diff]), 1.0)
    return adj + adj.T


def _fit_mixture(x: np.ndarray, k: int | None, max_k: int, seed: int) -> tuple[np.ndarray, dict[int, float], int]:
    """Cluster rows of ``x``: ``(log-probabilities (n, K), BIC per K, K)``."""
    from sklearn.mixture import GaussianMixture

    if len(x) < 2:  # one superpixel: one region
        if k is not None and k > 1:
            _warn(f"{k} sub-styles asked, but the image supports at most 1; using 1")
        return np.zeros((len(x), 1)), {}, 1
    distinct = len(np.unique(np.round(x, 6), axis=0))
    supported = max(1, min(distinct, len(x) // 4 or 1))
    limit = supported if k is not None else min(max_k, supported)
    if k is not None and k > limit:
        _warn(f"{k} sub-styles asked, but the image supports at most {limit}; using {limit}")
        k = limit
    candidates = [k] if k is not None else list(range(1, limit + 1))
    best, bic = None, {}
    for n in candidates:
        # scikit-learn takes seeds below 2^32; restyle's go to 2^63 - 1, as torch's do
        model = GaussianMixture(n, covariance_type="full", reg_covar=1e-3, n_init=2, random_state=seed % 2**32)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # sklearn's convergence warnings on degenerate data
            model.fit(x)
        score = float(model.bic(x))
        if k is None:
            bic[n] = score
        if best is None or score < best[1] or k is not None:
            best = (model, score)
    model = best[0]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        log_prob = np.log(np.clip(model.predict_proba(x), 1e-12, None))
    return log_prob, bic, model.n_components


def _potts(unary: np.ndarray, adjacency: np.ndarray, strength: float, rounds: int = 8) -> np.ndarray:
    """Iterated conditional modes for ``sum unary + strength * sum_edges w_ij [l_i != l_j]``."""
    labels = unary.argmin(axis=1)
    k = unary.shape[1]
    weights = adjacency / max(adjacency.sum(axis=1).mean(), 1e-12)
    for _ in range(rounds):
        agree = weights @ np.eye(k)[labels]  # (n, K): border weight to neighbours of each label
        energy = unary + strength * (weights.sum(axis=1, keepdims=True) - agree)
        new = energy.argmin(axis=1)
        if np.array_equal(new, labels):
            break
        labels = new
    return labels


def _normalise_blocks(blocks: list[list[np.ndarray]]) -> list[np.ndarray]:
    """Scale each block to unit mean variance over all images, weight it, and concatenate:
    ``blocks[image][block]`` of ``(n_image, D_block)`` -> ``[(n_image, D)]``; the blocks are the
    first ones of ``BLOCK_WEIGHTS``."""
    out = [[] for _ in blocks]
    for b, (weight, floor) in enumerate(zip(BLOCK_WEIGHTS[: len(blocks[0])], BLOCK_FLOORS)):
        pooled = np.concatenate([img[b] for img in blocks])
        scale = max(float(np.sqrt(pooled.var(axis=0).mean())), floor)
        for i, img in enumerate(blocks):
            out[i].append(img[b] / scale * weight)
    return [np.concatenate(parts, axis=1) for parts in out]


def _prepare(image: Tensor, work: int) -> Tensor:
    h, w = image.shape[-2:]
    return resize(image, *scaled_shape(h, w, work))


def _lab(image: Tensor) -> np.ndarray:
    """L*a*b* colours of an RGB image ``(1, 3, H, W)``: ``(3, H, W)``."""
    return rgb2lab(image[0].permute(1, 2, 0).numpy().astype(np.float64)).transpose(2, 0, 1)


def _sky_masks(images: list[Tensor], device: torch.device) -> list[np.ndarray]:
    """Each image's part above its sky border (:func:`restyle.horizon.sky_mask`), found on its
    colour and ``FEATURE_LAYERS`` features at ``SKY_WORK_SIZE`` (larger for a long narrow
    image, whose short side the features need at least ``min_side(FEATURE_LAYERS)`` px of):
    ``(h, w)`` bool at that size."""
    smallest = min_side(FEATURE_LAYERS)
    small = []
    for image in images:
        h, w = image.shape[-2:]
        small.append(_prepare(image, max(SKY_WORK_SIZE, math.ceil(smallest * max(h, w) / min(h, w)))))
    feats, _ = _features(small, device, semantic_layers=False)
    return [
        sky_mask(np.concatenate([_lab(image)] + [f.numpy().astype(np.float64) for f in layer_feats]))
        for image, layer_feats in zip(small, feats)
    ]


def segment(
    images: list[Tensor],
    *,
    counts: list[int | None],
    max_count: int = 6,
    work_size: int = 384,
    superpixels: int = 300,
    smoothness: float = 1.0,
    sky: bool = True,
    seed: int = 0,
    device: torch.device | str = "auto",
    names: Sequence[str] | None = None,
) -> list[Segmentation]:
    """Segment images into regions of similar VGG features and colour, in one descriptor space.

    Args:
        images: RGB images ``(1, 3, H, W)`` in [0, 1].
        counts: the number of regions of each image, or None to choose it by BIC.
        max_count: the most regions BIC may choose.
        work_size: long side at which features and superpixels are computed.
        superpixels: about how many SLIC superpixels per image.
        smoothness: strength of the Potts smoothing of the region labels (0: none).
        sky: describe each superpixel also by whether it lies above the image's sky border, so
            that regions keep to one side of it.
        seed: seed of the mixture fitting.
        device: where the VGG features are computed (as :func:`auto_masks`'s).
        names: what each image is, for messages (default: "image 1", "image 2", ...).

    Returns:
        One :class:`Segmentation` per image, labels at the image's own size.
    """
    for image in images:
        if image.ndim != 4 or image.shape[:2] != (1, 3):
            raise ValueError(f"expected an RGB image (1, 3, H, W), got {tuple(image.shape)}")
        if min(image.shape[-2:]) < 4:
            raise RestyleError(f"the image is too small for automatic masks: {image.shape[-1]}x{image.shape[-2]}")
    smallest = min_side(FEATURE_LAYERS + MATCH_LAYERS)
    if not smallest <= work_size <= MAX_WORK_SIZE:
        raise RestyleError(f"--work-size must be between {smallest} and {MAX_WORK_SIZE}, not {work_size}")
    check_seed(seed)
    device = resolve_device(device)  # "cuda" without a GPU: one line, not torch's assertion
    for index, image in enumerate(images):
        name = names[index] if names else f"image {index + 1}"
        check_size(
            *scaled_shape(*image.shape[-2:], work_size),
            FEATURE_LAYERS + MATCH_LAYERS,
            what=f"{name} at --work-size {work_size}",
            option="--work-size",
            largest=MAX_WORK_SIZE,
        )
    work = [_prepare(image, work_size) for image in images]
    feats, semantic = _features(work, device)
    skies = _sky_masks(images, device) if sky else [None] * len(images)
    sp_labels, blocks, flat, layouts = [], [], [], []
    for image, layer_feats, sky_part in zip(work, feats, skies):
        h, w = image.shape[-2:]
        labels = _superpixels(image, min(superpixels, h * w // 16 or 1))
        n = int(labels.max()) + 1
        lab = _lab(image)
        ys, xs = np.mgrid[0:h, 0:w].astype(np.float64)
        position = np.stack([ys / max(h, w), xs / max(h, w)])
        above = np.zeros((h, w)) if sky_part is None else resize_labels(sky_part, (h, w)).astype(np.float64)
        flat.append(bool(lab.reshape(3, -1).std(axis=1).max() < FLAT_LAB_STD))
        extra = [lab, position] + ([above[None]] if sky else [])
        per_sp = _block_means(labels, [f.numpy().astype(np.float64) for f in layer_feats] + extra, n)
        sp_labels.append(labels)
        layouts.append(np.concatenate([position, above[None]]))
        blocks.append(per_sp)
    descriptors = _normalise_blocks(blocks)

    out = []
    for image, labels, desc, count, is_flat, sem, layout, sky_part in zip(
        images, sp_labels, descriptors, counts, flat, semantic, layouts, skies
    ):
        n = len(desc)
        if is_flat:
            if count is not None and count > 1:
                _warn(f"{count} regions asked, but the image is flat (one colour): using 1")
            count = 1
        log_prob, bic, k = _fit_mixture(desc, count, max_count, seed)
        region = (
            _potts(-log_prob, _adjacency(labels, n), smoothness) if smoothness > 0 and k > 1 else log_prob.argmax(1)
        )
        pixel = region[labels]
        # order regions by falling area; drop any the smoothing emptied
        areas = np.bincount(pixel.ravel(), minlength=k) / pixel.size
        order = [r for r in np.argsort(-areas, kind="stable") if areas[r] > 0]
        remap = np.full(k, -1)
        remap[order] = np.arange(len(order))
        pixel = remap[pixel]
        sizes = np.bincount(labels.ravel(), minlength=n).astype(np.float64)
        sp_region = remap[region]
        region_desc = np.stack(
            [np.average(desc[sp_region == r], axis=0, weights=sizes[sp_region == r]) for r in range(len(order))]
        )
        centres, sky_share = np.split(_block_means(pixel, [layout], len(order))[0], [2], axis=1)
        full = resize_labels(pixel, tuple(image.shape[-2:]))
        areas = np.bincount(full.ravel(), minlength=len(order)) / full.size
        semantics = _region_semantics(pixel, len(order), sem)
        above = None if sky_part is None else resize_labels(sky_part, tuple(image.shape[-2:]))
        out.append(Segmentation(full, region_desc, areas, semantics, centres, sky_share[:, 0], bic, above))
    return out


def match_regions(
    content: Segmentation,
    style: Segmentation,
    *,
    spread: float = 1.0,
    position: float = MATCH_POSITION,
    sky: float = MATCH_SKY,
) -> tuple[np.ndarray, list[int]]:
    """Give each content region a sub-style: least matching cost, plus ``spread`` times the
    typical cost times the content share a sub-style already has (largest regions choose first).

    The cost of content region r and sub-style s is ``d_sem / median(d_sem) + position *
    d_pos / median(d_pos) + sky * d_sky``: ``d_sem`` sums the cosine distances of the regions'
    mean features over ``MATCH_LAYERS``, ``d_pos`` is the squared distance of the regions'
    centres, ``d_sky`` the difference of their shares above their images' sky borders.

    Args:
        content: the content's regions.
        style: the style's sub-styles.
        spread: how strongly a sub-style already given to much of the content is avoided (0:
            each region takes its cheapest sub-style).
        position: weight of the position term against the feature term.
        sky: weight of the sky term.

    Returns:
        ``(cost, assignment)``: the ``(content regions, sub-styles)`` costs and the sub-style
        index of each content region.

    Example:
        >>> def regions(semantics, areas, centres):
        ...     k = len(areas)
        ...     return Segmentation(np.zeros((1, 1), int), np.zeros((k, 1)), np.array(areas),
        ...                         np.array(semantics, float), np.array(centres, float), np.zeros(k))
        >>> sky_ground = regions([[1, 0], [0, 1]], [0.6, 0.4], [[0.2, 0.5], [0.8, 0.5]])
        >>> ground_sky = regions([[0, 1], [1, 0]], [0.5, 0.5], [[0.8, 0.5], [0.2, 0.5]])
        >>> match_regions(sky_ground, ground_sky)[1]  # each region takes its like
        [1, 0]
    """
    semantic = len(MATCH_LAYERS) - content.semantics @ style.semantics.T
    place = ((content.centres[:, None, :] - style.centres[None]) ** 2).sum(axis=2)

    def scaled(d: np.ndarray) -> np.ndarray:
        return d / max(float(np.median(d)), 1e-12)

    cost = scaled(semantic) + position * scaled(place) + sky * np.abs(content.sky[:, None] - style.sky[None])
    typical = float(np.median(cost)) if cost.size else 0.0
    used = np.zeros(style.count)
    assignment = [0] * content.count
    for r in np.argsort(-content.areas, kind="stable"):
        s = int(np.argmin(cost[r] + spread * typical * used))
        assignment[int(r)] = s
        used[s] += content.areas[r]
    return cost, assignment


def _feathered(masks: Tensor, guide: Tensor, radius: int) -> Tensor:
    """Masks softened by a guided filter on ``guide``, renormalised to sum to 1 at each pixel.

    A region border found by clustering may cross a smooth area of the content, where two
    regions' different colour transfers would meet at a visible seam; feathered there, they
    blend. On the content's own edges the filter keeps the border sharp. (On the 20 DPST pairs,
    ``fast`` preset, this lowered the median matting energy from 5.8e-5 to 3.7e-5.)
    """
    soft = guided_filter(guide.float(), masks[None], radius=radius, eps=1e-2)[0].clamp_min(0.0)
    return soft / soft.sum(0, keepdim=True).clamp_min(1e-6)


def _side_contexts(style: Segmentation, used: list[int]) -> Tensor | None:
    """Each used sub-style's side of the style's sky border, ``(K, H, W)`` float: the side
    holding most of the sub-style. None (blend with the whole style) when fewer than two
    sub-styles are used or no border splits the style."""
    above = style.above
    if above is None or len(used) < 2 or above.all() or not above.any():
        return None
    return torch.stack([torch.from_numpy(above if style.sky[u] > 0.5 else ~above) for u in used]).float()


def auto_masks(
    content: ImageLike,
    style: ImageLike,
    *,
    substyles: int | None = None,
    content_regions: int | None = None,
    max_substyles: int = 6,
    smoothness: float = 1.0,
    spread: float = 1.0,
    feather: int = 8,
    work_size: int = 384,
    sky: bool = True,
    seed: int = 0,
    device: torch.device | str = "auto",
) -> AutoMasks:
    """Find sub-styles of ``style`` and the content regions that should take each.

    Args:
        content: the content image: a path, ``sample:NAME``, or in memory, as
            :func:`~restyle.image.load_image` takes it (a tensor ``(1, 3, H, W)`` in [0, 1], say).
        style: the style image, likewise.
        substyles: number of sub-styles (None: chosen by BIC, at most ``max_substyles``).
        content_regions: number of content regions (None: chosen by BIC).
        max_substyles: the most sub-styles (and content regions) BIC may choose; at most 9.
        smoothness: Potts smoothing of the region labels (0: none).
        spread: penalty that spreads the content over the sub-styles (0: nearest only).
        feather: radius of the guided filter that softens the content masks along smooth
            areas while keeping them sharp on the content's edges (0: hard masks).
        work_size: long side at which the images are analysed (16 to 2048).
        sky: find each image's sky border (one border across the image, at one height per
            column), keep every region to one side of it, match sky to sky, and blend each
            region's style target with its own side of the style (``masks.context``).
        seed: seed of the mixture fitting (the result is deterministic for a seed).
        device: where the VGG features are computed: "auto" (CUDA, then MPS, then the CPU),
            as every entry point, or "cpu", "cuda" ("cuda:1") or "mps".

    Returns:
        An :class:`AutoMasks`; its ``masks`` are at the images' sizes.

    Example:
        >>> import torch
        >>> content = torch.zeros(1, 3, 64, 96); content[:, 2, :32] = 1; content[:, 1, 32:] = 0.6
        >>> style = torch.zeros(1, 3, 80, 80); style[:, :, :40] = 0.9; style[:, 0, 40:] = 0.5
        >>> found = auto_masks(content, style, substyles=2, content_regions=2)
        >>> found.masks.content.shape[1:], found.masks.style.shape[1:]
        (torch.Size([64, 96]), torch.Size([80, 80]))
    """
    check_arguments(auto_masks, locals())
    content, style = load_image(content, what="content"), load_image(style, what="style")
    for value, name in ((substyles, "--substyles"), (content_regions, "--content-regions")):
        if value is not None:
            check_at_least(value, 1, name)
    check_weight(spread, "--spread")
    check_weight(smoothness, "--smoothness")
    check_at_least(feather, 0, "--feather")
    check_at_least(max_substyles, 1, "--max-substyles")
    if substyles is not None and substyles > MAX_SUBSTYLES:
        _warn(f"at most {MAX_SUBSTYLES} sub-styles are supported (one per mask colour); using {MAX_SUBSTYLES}")
        substyles = MAX_SUBSTYLES
    if max_substyles > MAX_SUBSTYLES:
        _warn(
            f"--max-substyles {max_substyles}: at most {MAX_SUBSTYLES} sub-styles are supported; using {MAX_SUBSTYLES}"
        )
        max_substyles = MAX_SUBSTYLES
    style_seg, content_seg = segment(
        [style, content],
        counts=[substyles, content_regions],
        max_count=max_substyles,
        work_size=work_size,
        smoothness=smoothness,
        sky=sky,
        seed=seed,
        device=device,
        names=["style", "content"],
    )
    cost, assignment = match_regions(content_seg, style_seg, spread=spread)  # sky shares are 0 without sky
    used = sorted(set(assignment))
    substyle = np.asarray(assignment)[content_seg.labels]  # as AutoMasks.content_substyles
    c_masks = torch.stack([torch.from_numpy(substyle == u) for u in used]).float()
    if feather > 0 and len(used) > 1:
        c_masks = _feathered(c_masks, content, feather)
    s_masks = torch.stack([torch.from_numpy(style_seg.labels == u) for u in used]).float()
    names = list(DPST_COLORS)
    pair = MaskPair(c_masks, s_masks, [names[u] for u in used], _side_contexts(style_seg, used))
    return AutoMasks(pair, style_seg, content_seg, cost, assignment)


def resolve_global_style(global_style: float | None, *, auto: bool) -> float:
    """The ``global_style`` a transfer uses: the caller's (checked to lie in [0, 1]), or by
    default 0 with mask files and :data:`AUTO_GLOBAL_STYLE` with automatic masks."""
    if global_style is None:
        return AUTO_GLOBAL_STYLE if auto else 0.0
    if not 0.0 <= global_style <= 1.0:
        raise RestyleError(f"--global-style must be between 0 and 1, not {global_style}")
    return float(global_style)


def check_mask_options(
    *, content_mask: object, style_mask: object, auto: bool | AutoMasks, substyles: int | None
) -> None:
    """A one-line :class:`RestyleError` if the mask options do not go together (mask files and
    ``auto``, ``substyles`` without ``auto``, one mask file of two). Called before any image is
    read, so that such a mistake is the only line printed.

    Example:
        >>> check_mask_options(content_mask=None, style_mask=None, auto=True, substyles=3)  # fine
    """
    if (content_mask is None) != (style_mask is None):
        raise RestyleError("give both --content-mask and --style-mask, or neither")
    if auto and content_mask is not None:
        raise RestyleError("--auto-masks finds masks itself: leave out --content-mask and --style-mask")
    if substyles is not None and not auto:
        raise RestyleError("--substyles needs --auto-masks")
    if substyles is not None and isinstance(auto, AutoMasks):
        raise RestyleError("--substyles applies when masks are found, not to masks already found")
    if substyles is not None:
        check_at_least(substyles, 1, "--substyles")


def resolve_masks(
    content: Tensor,
    style: Tensor,
    *,
    content_mask: ImageLike | None,
    style_mask: ImageLike | None,
    auto: bool | AutoMasks,
    substyles: int | None,
    palette: str = "auto",
    max_pixels: int,
    seed: int = 0,
    device: torch.device | str = "auto",
) -> tuple[MaskPair, dict | None]:
    """The masks a transfer uses: given mask files, automatic masks, or one global region.

    Args:
        content: the content image, at the size the transfer works at.
        style: the style image.
        content_mask: the content's mask file, or None.
        style_mask: the style's mask file, or None (both or neither).
        auto: find the masks automatically (no mask files then), or the automatic masks
            already found (:func:`auto_masks`), to be used as they are.
        substyles: the number of sub-styles for ``auto`` (None: chosen by BIC).
        palette: how mask files are read (see :func:`restyle.masks.label_map`).
        max_pixels: refuse mask files with more pixels than this.
        seed: seed of the automatic segmentation.
        device: where the automatic segmentation's VGG features are computed.

    Returns:
        ``(masks, matching)``: the pair at the images' sizes, and the automatic matching as
        plain data (None unless ``auto``).

    Example:
        >>> options = dict(content_mask=None, style_mask=None, substyles=None, max_pixels=10**6)
        >>> masks, matching = resolve_masks(torch.rand(1, 3, 8, 8), torch.rand(1, 3, 6, 6), auto=False, **options)
        >>> masks.names, tuple(masks.style.shape), matching  # no masks: one region, everywhere
        (['all'], (1, 6, 6), None)
    """
    from restyle.masks import pair_masks

    check_mask_options(content_mask=content_mask, style_mask=style_mask, auto=auto, substyles=substyles)
    if content_mask is not None:
        pair = pair_masks(content_mask, style_mask, content.shape, style.shape, palette=palette, max_pixels=max_pixels)
        return pair, None
    if isinstance(auto, AutoMasks):  # found before, perhaps at another size
        warn_if_stretched(auto.masks.content.shape, content.shape, "the content mask found", "the content")
        warn_if_stretched(auto.masks.style.shape, style.shape, "the style mask found", "the style image")
        return auto.masks.resized(content.shape, style.shape), auto.summary()
    if auto:
        found = auto_masks(content, style, substyles=substyles, seed=seed, device=device)
        return found.masks, found.summary()
    return MaskPair.whole(content.shape, style.shape), None
