"""Semantic masks: colour-coded label images, and how they follow features through VGG-19.

A mask image assigns each pixel to a region. Two kinds are read:

- DPST's palette (blue, green, black, white, red, yellow, grey, lightblue, purple), matched
  within +-0.1 per channel as DPST does: hand-drawn masks are anti-aliased, so many pixels
  on region borders match no colour and belong to no region;
- general label maps: any set of distinct colours (the colours covering at least
  ``min_fraction`` of the image are the labels; every pixel goes to the nearest one), or an
  integer label image (grayscale or palette PNG with few distinct values; paired with a colour
  mask, such an image is read by its colours instead).

Inside restyle a pair of masks is a :class:`MaskPair`: soft one-hot masks ``(K, H, W)`` for
the content and the style, over the same K labels (those present in both).
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from torch import Tensor

from restyle.errors import RestyleError, check_choice, check_tensor, listing
from restyle.image import (
    DEFAULT_MAX_PIXELS,
    ImageLike,
    RestyleWarning,
    load_image,
    to_uint8,
    upright_pil,
    warn_if_stretched,
)
from restyle.vgg import LAYERS, layer_index

__all__ = [
    "DPST_COLORS",
    "MaskPair",
    "dpst_labels",
    "label_map",
    "labels_to_masks",
    "masks_for_layers",
    "pair_masks",
    "resize_labels",
]

#: DPST's mask colours (RGB in [0, 1]) in DPST's order.
DPST_COLORS: dict[str, tuple[float, float, float]] = {
    "blue": (0.0, 0.0, 1.0),
    "green": (0.0, 1.0, 0.0),
    "black": (0.0, 0.0, 0.0),
    "white": (1.0, 1.0, 1.0),
    "red": (1.0, 0.0, 0.0),
    "yellow": (1.0, 1.0, 0.0),
    "grey": (0.5, 0.5, 0.5),
    "lightblue": (0.0, 1.0, 1.0),
    "purple": (1.0, 0.0, 1.0),
}
DPST_TOLERANCE = 0.1
#: The share of a mask's pixels a colour needs to be a label of a general colour mask.
MIN_FRACTION = 0.002


def dpst_labels(image: Tensor, *, tolerance: float = DPST_TOLERANCE) -> tuple[Tensor, list[str]]:
    """Label each pixel with the DPST colour it matches within ``tolerance`` per channel.

    Returns:
        ``(labels, names)``: an int64 map with -1 where no colour matches, and the names of the
        labels in index order (all nine DPST colours).

    Shape:
        - image: :math:`(1, 3, H, W)` RGB in [0, 1]
        - labels: :math:`(H, W)`

    Example:
        >>> mask = torch.tensor([[0.05, 0.0, 0.93], [0.5, 0.5, 0.5], [0.7, 0.2, 0.3]]).T.reshape(1, 3, 1, 3)
        >>> labels, names = dpst_labels(mask)  # anti-aliased blue, grey, and no DPST colour
        >>> [names[i] if i >= 0 else None for i in labels[0].tolist()]
        ['blue', 'grey', None]
    """
    check_tensor(image, "dpst_labels", "(1, 3, H, W)")
    if image.ndim != 4 or image.shape[:2] != (1, 3):
        raise ValueError(f"dpst_labels: expected one RGB image (1, 3, H, W), got {tuple(image.shape)}")
    rgb = image[0]
    labels = torch.full(rgb.shape[-2:], -1, dtype=torch.int64)
    names = list(DPST_COLORS)
    for index, colour in enumerate(DPST_COLORS.values()):
        target = torch.tensor(colour, dtype=rgb.dtype).view(3, 1, 1)
        match = ((rgb - target).abs() < tolerance).all(dim=0)
        labels[match & (labels < 0)] = index
    return labels, names


#: A mask paints each region in one flat colour, so most neighbouring pixels share their
#: colour exactly: at least 94% of them in DPST's 40 masks, and 85% after saving them as JPEG at
#: quality 50. In photos far fewer do: 3-60% in scikit-image's samples and 1-78% in DPST's 40
#: inputs and styles (the 78% has large clipped areas). Below this share, "a photo given as a mask".
MIN_FLATNESS = 0.7


def _flatness(arr: np.ndarray) -> float:
    """Share of horizontally or vertically neighbouring pixels of the same colour, ``(H, W, 3)``.

    Example:
        >>> _flatness(np.zeros((4, 4, 3), dtype=np.uint8)), _flatness(np.arange(48, dtype=np.uint8).reshape(4, 4, 3))
        (1.0, 0.0)
    """
    across = (arr[:, 1:] == arr[:, :-1]).all(axis=-1)
    down = (arr[1:] == arr[:-1]).all(axis=-1)
    pairs = across.size + down.size
    return float(across.sum() + down.sum()) / pairs if pairs else 1.0


def _palette_labels(image: Tensor, *, min_fraction: float, what: str = "mask") -> tuple[Tensor, list[str]]:
    """Labels from the frequent colours of an image, every pixel to the nearest one."""
    pixels = to_uint8(image[0]).permute(1, 2, 0).numpy()
    flatness = _flatness(pixels)
    if flatness < MIN_FLATNESS:
        raise RestyleError(
            f"{what}: does not look like a mask: only {flatness:.0%} of its neighbouring pixels share their colour "
            "(a mask paints each region in one flat colour; is this a photo?)"
        )
    arr = pixels.reshape(-1, 3)
    packed = (arr[:, 0].astype(np.int32) << 16) | (arr[:, 1].astype(np.int32) << 8) | arr[:, 2]
    codes, inverse, counts = np.unique(packed, return_inverse=True, return_counts=True)
    colours = np.stack([codes >> 16, (codes >> 8) & 255, codes & 255], axis=1)
    frequent = counts >= min_fraction * arr.shape[0]
    if not frequent.any():
        frequent = counts == counts.max()
    keep = colours[frequent]
    # Each distinct colour to its nearest label colour, then every pixel through its colour: as
    # many distances as distinct colours, not as pixels.
    dist = ((colours[:, None, :] - keep[None]) ** 2).sum(axis=2)
    labels = torch.from_numpy(dist.argmin(axis=1)[inverse.reshape(-1)].reshape(image.shape[-2:])).long()
    # A colour of DPST's palette keeps its DPST name, so that a mask in DPST's colours plus
    # another colour still pairs with a mask in DPST's colours; colours one name covers merge.
    dpst, dpst_names = dpst_labels(torch.from_numpy(keep.T / 255.0).reshape(1, 3, 1, -1))
    names = [
        dpst_names[d] if d >= 0 else "#{:02x}{:02x}{:02x}".format(*map(int, c)) for d, c in zip(dpst[0].tolist(), keep)
    ]
    unique = list(dict.fromkeys(names))
    return torch.tensor([unique.index(n) for n in names])[labels], unique


def _integer_labels(source: ImageLike) -> tuple[Tensor, list[str]] | None:
    """An integer label image (grayscale or palette with at most 64 values; a file, a PIL image, or
    a 2-D integer array or tensor, such as a segmentation model's ``argmax``), or None."""
    if isinstance(source, Tensor):  # (H, W), or (1, H, W) or (1, 1, H, W) as a model gives it
        if source.is_meta:  # no pixels: load_image says so
            return None
        values = source.detach().cpu()
        if values.layout != torch.strided:  # sparse: its labels, as the dense tensor holds them
            values = values.to_dense()
        while values.ndim > 2 and values.shape[0] == 1:
            values = values[0]
        if values.ndim != 2 or values.is_floating_point() or values.is_complex():
            return None
        source = values.numpy()
    if isinstance(source, (str, os.PathLike)):
        try:
            with Image.open(source) as img:  # read as the PIL image it is, inside the try
                return _integer_labels(img)
        except (OSError, RestyleError):  # not an image, or a damaged one: read by its colours, which tell why
            return None
    if isinstance(source, np.ndarray):
        if source.ndim != 2 or source.dtype.kind not in "iub":
            return None
        values = source
    else:
        if source.mode not in ("L", "P", "I", "I;16"):
            return None
        values = np.asarray(upright_pil(source, "mask"))  # upright, as the photo it belongs to is read
    uniques = np.unique(values)
    if len(uniques) > 64:
        return None
    labels = np.searchsorted(uniques, values)
    return torch.from_numpy(labels).long(), [f"label {int(v)}" for v in uniques]


def label_map(
    source: ImageLike,
    *,
    palette: Literal["auto", "dpst", "colors", "integer"] = "auto",
    min_fraction: float = MIN_FRACTION,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    what: str = "mask",
) -> tuple[Tensor, list[str]]:
    """Read a mask into integer labels and label names.

    Args:
        source: a mask: a path, or in memory (a PIL image, an array or a tensor, in any layout
            :func:`~restyle.image.load_image` takes; a 2-D integer array or tensor, or a
            grayscale or palette PIL image, may hold integer labels, as a file may).
        palette: ``dpst`` (DPST's nine colours within +-0.1), ``colors`` (frequent colours,
            nearest assignment), ``integer`` (grayscale/palette label values) or ``auto``:
            integer labels for a grayscale/palette image with few values, DPST's palette if its
            colours cover at least 80% of the pixels (the rest being anti-aliased borders);
            otherwise frequent colours.
        min_fraction: share of the pixels a colour needs to be a label (``colors``).

    Returns:
        ``(labels, names)``: int64 ``(H, W)`` with -1 for unassigned pixels, and the names.

    Example:
        >>> mask = torch.zeros(1, 3, 4, 4)
        >>> mask[:, 2, :2] = 1.0  # top half blue, bottom half black
        >>> labels, names = label_map(mask)
        >>> [names[i] for i in labels[:, 0].tolist()]
        ['blue', 'blue', 'black', 'black']
    """
    check_choice(palette, ("auto", "dpst", "colors", "integer"), "--mask-palette")
    named = isinstance(source, (str, os.PathLike))
    if palette in ("auto", "integer"):
        found = _integer_labels(source) if not named or os.path.exists(source) else None
        if found is not None and (palette == "integer" or len(found[1]) <= 16):
            return found
        if palette == "integer":
            where = f"{what} {source}" if named else what
            raise RestyleError(f"{where}: not an integer label image (grayscale or palette, <= 64 values)")
    return _colour_labels(source, palette=palette, min_fraction=min_fraction, max_pixels=max_pixels, what=what)


def _colour_labels(
    source: ImageLike,
    *,
    palette: Literal["auto", "dpst", "colors", "integer"],
    min_fraction: float,
    max_pixels: int,
    what: str,
) -> tuple[Tensor, list[str]]:
    """:func:`label_map` of a mask read by its colours (``auto``: DPST's, or frequent ones)."""
    # icc=False: a mask's colours name its regions (a mask painted in an Adobe RGB document
    # keeps DPST's pure colours as stored)
    image = load_image(source, max_pixels=max_pixels, what=what, icc=False)
    where = f"{what} {source}" if isinstance(source, (str, os.PathLike)) else what
    if palette == "colors":
        return _palette_labels(image, min_fraction=min_fraction, what=where)
    labels, names = dpst_labels(image)
    if palette == "dpst":
        return labels, names
    # auto: DPST colours if they explain the image (anti-aliased borders excepted)
    if (labels >= 0).float().mean() >= 0.8:
        return labels, names
    return _palette_labels(image, min_fraction=min_fraction, what=where)


def _integer_named(names: list[str]) -> bool:
    return bool(names) and all(name.startswith("label ") for name in names)


def labels_to_masks(labels: Tensor, count: int) -> Tensor:
    """One-hot float masks ``(count, H, W)`` from labels (-1 = in no mask).

    Example:
        >>> labels_to_masks(torch.tensor([[0, 1, -1]]), 2)
        tensor([[[1., 0., 0.]],
        <BLANKLINE>
                [[0., 1., 0.]]])
    """
    check_tensor(labels, "labels_to_masks", "(H, W) of labels", image=False)
    masks = torch.zeros(count, *labels.shape)
    for index in range(count):
        masks[index] = (labels == index).float()
    return masks


def resize_labels(labels: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """A label (integer or boolean) map resized to ``shape`` by nearest neighbours: no new labels.

    Example:
        >>> resize_labels(np.array([[0, 1], [2, 3]]), (2, 4))
        array([[0, 0, 1, 1],
               [2, 2, 3, 3]])
    """
    resized = F.interpolate(torch.from_numpy(labels.astype(np.int64))[None, None].float(), size=shape, mode="nearest")
    return resized[0, 0].long().numpy().astype(labels.dtype)


def _resize_masks(masks: Tensor, shape: tuple[int, int]) -> Tensor:
    if tuple(masks.shape[-2:]) == tuple(shape):
        return masks
    return F.interpolate(masks[None], size=shape, mode="bilinear", align_corners=False, antialias=True)[0]


@dataclass
class MaskPair:
    """Soft masks of the content and the style over the labels they share.

    Attributes:
        content: ``(K, H, W)`` at the content image's size.
        style: ``(K, H', W')`` at the style image's size.
        names: the K label names.
        context: ``(K, H', W')`` at the style's size, or None: the style pixels whose Gram each
            region's target is blended with when ``global_style > 0`` (None: the whole style).
    """

    content: Tensor
    style: Tensor
    names: list[str]
    context: Tensor | None = None

    @staticmethod
    def whole(content_shape: Sequence[int], style_shape: Sequence[int]) -> MaskPair:
        """One region covering both images: what "no masks" means."""
        return MaskPair(torch.ones(1, *content_shape[-2:]), torch.ones(1, *style_shape[-2:]), ["all"])

    def resized(self, content_shape: Sequence[int], style_shape: Sequence[int]) -> MaskPair:
        """The same masks at other image sizes (bilinear, antialiased)."""
        return MaskPair(
            _resize_masks(self.content, tuple(content_shape[-2:])),
            _resize_masks(self.style, tuple(style_shape[-2:])),
            self.names,
            None if self.context is None else _resize_masks(self.context, tuple(style_shape[-2:])),
        )

    def to(self, device: torch.device | str) -> MaskPair:
        """The same masks on ``device``."""
        return MaskPair(
            self.content.to(device),
            self.style.to(device),
            self.names,
            None if self.context is None else self.context.to(device),
        )


def pair_masks(
    content_mask: ImageLike,
    style_mask: ImageLike,
    content_shape: Sequence[int],
    style_shape: Sequence[int],
    *,
    palette: Literal["auto", "dpst", "colors", "integer"] = "auto",
    max_pixels: int = DEFAULT_MAX_PIXELS,
) -> MaskPair:
    """Read a content mask and a style mask and keep the labels they share.

    Masks may differ in size from their images (they are resized; a different aspect ratio is
    stretched, with a warning). A label in one mask but not in the other is ignored. One only in
    the content mask is warned of, since those parts of the content take no style (the warning
    names the style mask's unused labels too: the two are often one colour drawn in two shades);
    one only in the style mask is not, since a style often has a region the content lacks (DPST's
    pairs 3 and 10, or the sub-styles ``restyle masks`` found and matched to no region). No shared
    label at all is an error.

    Args:
        content_mask: the content's mask: a path or an image in memory (see :func:`label_map`).
        style_mask: the style's mask, in the same palette.
        content_shape: the content image's shape (the content masks are resized to it).
        style_shape: the style image's shape.
        palette: how the masks are read (see :func:`label_map`).
        max_pixels: refuse mask files with more pixels than this.

    Returns:
        The masks of the shared labels, at the images' sizes.

    Example:
        >>> content = torch.zeros(1, 3, 4, 4)
        >>> content[:, 2, :2] = 1.0  # blue over black
        >>> style = torch.zeros(1, 3, 6, 6)
        >>> style[:, 2, :, :3] = 1.0  # blue beside black
        >>> pair = pair_masks(content, style, (8, 8), (6, 6))
        >>> pair.names, tuple(pair.content.shape), tuple(pair.style.shape)
        (['blue', 'black'], (2, 8, 8), (2, 6, 6))
    """
    c_labels, c_names = label_map(content_mask, palette=palette, max_pixels=max_pixels, what="content mask")
    s_labels, s_names = label_map(style_mask, palette=palette, max_pixels=max_pixels, what="style mask")
    if palette == "auto" and _integer_named(c_names) != _integer_named(s_names):
        # One mask reads as integer labels (a grayscale or palette PNG), the other by its colours:
        # the first is a colour mask too, saved with few colours (a black-and-white sky mask, a
        # mask a PNG optimiser turned into a palette image). Read it by its colours.
        if _integer_named(c_names):
            c_labels, c_names = _colour_labels(
                content_mask, palette="auto", min_fraction=MIN_FRACTION, max_pixels=max_pixels, what="content mask"
            )
        else:
            s_labels, s_names = _colour_labels(
                style_mask, palette="auto", min_fraction=MIN_FRACTION, max_pixels=max_pixels, what="style mask"
            )
    c_names = _match_colours(c_names, s_names)
    for labels, shape, what in ((c_labels, content_shape, "content"), (s_labels, style_shape, "style")):
        warn_if_stretched(labels.shape, shape, f"the {what} mask", "its image")
    c_present = {c_names[i] for i in torch.unique(c_labels).tolist() if i >= 0}
    s_present = {s_names[i] for i in torch.unique(s_labels).tolist() if i >= 0}
    shared = list(dict.fromkeys(name for name in c_names if name in c_present and name in s_present))
    only_content = sorted(c_present - s_present)
    only_style = sorted(s_present - c_present)
    if shared and only_content:
        unused = f"; the style mask's {listing(only_style)} {_verb(only_style, 'goes', 'go')} unused"
        warnings.warn(
            f"the content mask's {listing(only_content)} {_verb(only_content, 'is', 'are')} not in the style mask: "
            f"those parts of the content take no style{unused if only_style else ''}",
            RestyleWarning,
            stacklevel=2,
        )
    if not shared:
        raise RestyleError(
            f"the content and style masks share no label (content: {listing(sorted(c_present))}; "
            f"style: {listing(sorted(s_present))})"
        )
    c_masks = labels_to_masks(_relabel(c_labels, c_names, shared), len(shared))
    s_masks = labels_to_masks(_relabel(s_labels, s_names, shared), len(shared))
    return MaskPair(c_masks, s_masks, shared).resized(content_shape, style_shape)


def _match_colours(names: list[str], others: list[str], tolerance: float = DPST_TOLERANCE) -> list[str]:
    """``names`` with each colour label (``#rrggbb``) that ``others`` lacks renamed to the
    nearest colour label of ``others`` within ``tolerance`` per channel (as DPST matches its
    colours), if there is one. The same colour saved twice rarely comes back exactly: a mask
    saved as JPEG shifts it by a few levels.

    Example:
        >>> _match_colours(["#0dc95b", "#fa8207", "blue"], ["#0cc85a", "#123456"])
        ['#0cc85a', '#fa8207', 'blue']
    """

    def rgb(name: str) -> np.ndarray | None:
        if len(name) != 7 or not name.startswith("#"):
            return None
        return np.array([int(name[i : i + 2], 16) for i in (1, 3, 5)])

    candidates = [(other, c) for other in others if (c := rgb(other)) is not None]
    matched = []
    for name in names:
        colour = rgb(name)
        if colour is not None and name not in others:
            distances = [(int(np.abs(c - colour).max()), other) for other, c in candidates]
            near = [pair for pair in distances if pair[0] <= tolerance * 255]
            name = min(near)[1] if near else name
        matched.append(name)
    return matched


def _relabel(labels: Tensor, names: list[str], kept: list[str]) -> Tensor:
    """``labels`` (indices into ``names``) as indices into ``kept``; -1 where a label is not kept."""
    table = torch.tensor([kept.index(n) if n in kept else -1 for n in names] + [-1])
    return table[labels]  # index -1 (no label) reads the table's last entry, -1


def _verb(names: Sequence[str], one: str, several: str) -> str:
    """``one`` after a single name, ``several`` after more."""
    return one if len(names) == 1 else several


def masks_for_layers(masks: Tensor, layers: Sequence[str]) -> dict[str, Tensor]:
    """Masks at the resolution of each named VGG-19 layer, following DPST.

    Each pooling halves the masks (bilinear, as the pooling halves the features: floor sizes)
    and each convolution averages them over its 3x3 window, so a mask value says how much of a
    feature's receptive field lies in the region.

    Args:
        masks: soft masks at the image's size, one per region.
        layers: the layers wanted, by name (``relu4_2``).

    Returns:
        The masks at each wanted layer.

    Shape:
        - masks: :math:`(K, H, W)`
        - output: ``{layer: (K, h, w)}`` with ``h, w`` the feature size at that layer

    Example:
        >>> out = masks_for_layers(torch.ones(2, 37, 50), ["relu1_1", "relu3_1", "relu5_1"])
        >>> [tuple(m.shape) for m in out.values()]  # VGG-19's feature sizes: floor halving
        [(2, 37, 50), (2, 9, 12), (2, 2, 3)]
        >>> all(bool(torch.allclose(m, torch.ones_like(m))) for m in out.values())  # a full mask stays full
        True
    """
    check_tensor(masks, "masks_for_layers", "(K, H, W)", image=False)
    if masks.ndim != 3:
        raise ValueError(f"masks_for_layers: expected masks (K, H, W), got {tuple(masks.shape)}")
    wanted = set(layers)
    out: dict[str, Tensor] = {}
    x = masks[None]
    last = max(layer_index(name) for name in layers) if layers else -1
    for name in LAYERS[: last + 1]:
        if name.startswith("conv"):
            x = F.avg_pool2d(x, 3, stride=1, padding=1, count_include_pad=False)
        elif name.startswith("pool"):
            h, w = x.shape[-2] // 2, x.shape[-1] // 2
            x = F.interpolate(x, size=(max(h, 1), max(w, 1)), mode="bilinear", align_corners=False, antialias=True)
        if name in wanted:
            out[name] = x[0]
    return out
