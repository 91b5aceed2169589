"""Artistic style transfer (Gatys, Ecker and Bethge 2015) with the refinements users expect.

:func:`stylize` is the single entry point; the ``restyle art`` command derives its flags from
its signature. Deviations from the paper, each on purpose:

- a coarse-to-fine pyramid (Gatys et al. optimise at one size), each finer scale starting from
  the upsampled result plus the content detail the coarser scale lacked;
- the optimiser moves a multi-resolution pyramid of the image rather than its pixels
  (:class:`~restyle.pyramid.LevelImage`; Gatys et al. optimise the pixels): the same images
  are reachable, but L-BFGS needs several times fewer iterations for the same loss; L-BFGS
  scales each level by its own initial inverse Hessian (``optimize(blocks=...)``), where plain
  L-BFGS has one scale for all parameters;
- every iterate is clamped to [0, 1] (a projected method; the paper optimises unconstrained);
- bfloat16 autocast for the encoder where the hardware runs it natively (the Gram products take
  the bfloat16 features, accumulating in float32; Grams and losses are float32): about twice as
  fast on AVX-512 BF16 CPUs without raising the loss;
- the returned image is the lowest-loss iterate, not the last one;
- several styles are blended by a weighted average of their Gram matrices (as neural-style).
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import torch
from torch import Tensor

from restyle.automask import AutoMasks, check_mask_options, resolve_global_style, resolve_masks
from restyle.color import combine_luminance, luminance, match_color, match_luminance
from restyle.device import runtime
from restyle.errors import RestyleError, check_positive, check_weight, flag, home_hint, no_such_file
from restyle.footprint import art_bytes, check_memory, lbfgs_pairs
from restyle.image import (
    DEFAULT_MAX_PIXELS,
    SAMPLE_PREFIX,
    ImageLike,
    check_inputs,
    check_long_side,
    check_work_size,
    load_image,
    load_style,
    resize,
    save_image,
    scaled_shape,
    source_name,
    warn_if_enlarged,
    warn_if_stretched,
)
from restyle.masks import MaskPair
from restyle.objective import Objective, Temporal
from restyle.optim import Iterate, LbfgsMemory, Record, Schedule, optimize
from restyle.pyramid import LevelImage, pyramid_sizes
from restyle.signature import check_arguments
from restyle.vgg import MIN_TRANSFER_SIZE, check_size, layer_index, min_side

__all__ = ["Result", "stylize"]

STYLE_LAYERS = ("relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1")
CONTENT_LAYERS = ("relu4_2",)


@dataclass
class Result:
    """A finished (or stopped) transfer.

    Attributes:
        image: the result, ``(1, 3, H, W)`` RGB in [0, 1] on the CPU.
        history: one :class:`~restyle.optim.Record` per iteration, over all scales.
        params: every parameter of the run (with the seed actually used), as stored in files.
        status: ``done``, ``interrupted`` (Ctrl-C) or ``nonfinite`` (NaN/inf loss).
        message: why it stopped early, if it did.
        unsmoothed: photo mode only: the result before its post-process (smoothing), so that
            another post-process can be tried without a rerun; ``None`` when there was none.
    """

    image: Tensor
    history: list[Record] = field(default_factory=list)
    params: dict[str, Any] = field(default_factory=dict)
    status: str = "done"
    message: str = ""
    unsmoothed: Tensor | None = None

    @property
    def stopped_at_start(self) -> bool:
        """Whether the run was stopped (Ctrl-C, the web page's Stop) at its first evaluation,
        before any step: its image is then its start, the content photo, no result to keep.

        Example:
            >>> Result(torch.zeros(1, 3, 2, 2), status="interrupted").stopped_at_start
            True
        """
        return self.status == "interrupted" and len(self.history) <= 1

    def metadata(self) -> dict[str, Any]:
        """What a saved result records: restyle's version, the parameters and the status (so
        that ``restyle info --command`` can make it again, and says when it stopped early)."""
        from restyle import __version__

        return {"restyle_version": __version__, **self.params, "status": self.status}

    def save(self, path: str | Path, *, exif: bytes | None = None, bits: int = 8) -> Path:
        """Write the image atomically with its :meth:`metadata`, and ``exif`` (e.g. the
        content photo's: :func:`~restyle.image.camera_exif`); ``bits`` per channel, 8 or 16
        (PNG and TIFF)."""
        return save_image(self.image, path, metadata=self.metadata(), exif=exif, bits=bits)


def recorded_inputs(command: str, **sources: ImageLike | list[ImageLike] | None) -> dict[str, Any]:
    """A run's command and the names of its inputs (images, masks, an init image), as a result
    records them: the CLI's own words, for ``restyle info --command``; an input given in memory
    as :data:`~restyle.image.IN_MEMORY`, never its pixels; one not given (a mask) as ``None``."""
    recorded: dict[str, Any] = {"command": command}
    for key, source in sources.items():
        if isinstance(source, list):
            recorded[key] = [source_name(s) for s in source]
        else:
            recorded[key] = None if source is None else source_name(source)
    return recorded


def _as_list(value: Any) -> list[Any]:
    """One style image or several (a list, a tuple, or an iterator such as a generator; a file
    open for reading is one image's, not an iterator of styles) as a list."""
    if isinstance(value, (list, tuple)) or (isinstance(value, Iterator) and not hasattr(value, "read")):
        return list(value)
    return [value]


def _style_at(style: Tensor, long_side: int, smallest: int) -> Tensor:
    """The style image at a long side, enlarged if needed so its short side is at least ``smallest``."""
    h, w = style.shape[-2:]
    long_side = max(long_side, math.ceil(smallest * max(h, w) / min(h, w)))
    return resize(style, *scaled_shape(h, w, long_side))


def _check_layers(layers: Sequence[str], what: str) -> list[str]:
    layers = list(layers)
    if not layers:
        raise RestyleError(f"{what}: at least one layer is needed")
    for name in layers:
        layer_index(name)
    return layers


def _color_targets(preserve_color: str, content: Tensor, styles: list[Tensor]) -> tuple[Tensor, list[Tensor]]:
    """The content and style images the losses see, for ``preserve_color``."""
    if preserve_color == "luminance":
        # Gatys et al. 2016: transfer luminance only, after matching the style's luminance
        # mean and spread to the content's; the content's chroma is put back at the end.
        return luminance(content), [match_luminance(style, content) for style in styles]
    if preserve_color == "histogram":
        return content, [match_color(style, content) for style in styles]
    return content, styles


def _check_init(init: ImageLike) -> None:
    """An init that names no file, told before any work (not after the style targets): the
    option mixes words and paths, so "contnet" would otherwise read as a missing file only."""
    if not isinstance(init, str) or init in ("content", "noise") or init.startswith(SAMPLE_PREFIX):
        return  # an image given in memory or as a Path is load_image's to check, as are samples
    if Path(init).exists():
        return
    if os.path.islink(init) or home_hint(init):  # not a mistyped word: say what is wrong with the path
        raise RestyleError(f"--init {no_such_file(init)}")
    raise RestyleError(f"--init {init}: no such file (--init takes content, noise, or an image)")


def _start_image(
    init: ImageLike, content: Tensor, *, generator: torch.Generator, max_pixels: int, grey: bool
) -> Tensor:
    """Where the optimisation starts: the content, noise around mid-grey, or a given image
    (made grey if ``grey``: luminance-only transfer)."""
    if isinstance(init, str) and init == "content":
        return content
    if isinstance(init, str) and init == "noise":
        return (0.5 + 0.1 * torch.randn(content.shape, generator=generator)).clamp(0, 1)
    image = load_image(init, max_pixels=max_pixels, what="init image")
    warn_if_stretched(image.shape, content.shape, "the init image", "the content")
    return luminance(image) if grey else image


def _masks(
    content: Tensor,
    styles: list[Tensor],
    params: dict[str, Any],
    *,
    content_mask: ImageLike | None,
    style_mask: ImageLike | None,
    auto: bool | AutoMasks,
    substyles: int | None,
    max_pixels: int,
    device: torch.device,
) -> MaskPair | None:
    """The region masks asked for (files or ``auto``), or ``None`` for none; what was used is
    recorded in ``params``."""
    if content_mask is None and style_mask is None and not auto:
        return None
    masks, matching = resolve_masks(
        content,
        styles[0],
        content_mask=content_mask,
        style_mask=style_mask,
        auto=auto,
        substyles=substyles,
        max_pixels=max_pixels,
        device=device,
    )
    params["mask_labels"] = masks.names
    if matching is not None:
        params["auto_masks_matching"] = matching
    return masks


def _check_memory(
    content: Tensor, styles: list[Tensor], params: dict[str, Any], *, bf16: bool, device: torch.device
) -> None:
    """Stop before the work if the run would not fit in memory (:mod:`restyle.footprint`)."""
    height, width = content.shape[-2:]

    def needed(long_side: int) -> int:
        h, w = scaled_shape(height, width, long_side)
        style_side = max(1, round(long_side * params["style_scale"]))  # as at the full-size scale
        style_pixels = max(math.prod(scaled_shape(*s.shape[-2:], style_side)) for s in styles)
        return art_bytes(
            h * w,
            style_pixels=style_pixels,
            parameters_per_pixel=4.0 if params["parameterization"] == "multires" else 3.0,
            pairs=lbfgs_pairs(params["optimizer"], params["iterations"]),
            float32=not bf16,
            auto_masks=bool(params["auto_masks"]),
        )

    check_memory(needed, params["size"], device=device, what="an art run")


def _check_options(params: dict[str, Any]) -> None:
    """One-line errors for the options of :func:`stylize` that are checked on their own."""
    check_long_side(params["size"], minimum=MIN_TRANSFER_SIZE)
    if params["iterations"] < 1 or params["coarse_iterations"] < 0:
        raise RestyleError("--iterations must be at least 1 (and --coarse-iterations at least 0)")
    if check_positive(params["learning_rate"], "--learning-rate") > 1:  # a step past the image's range
        raise RestyleError(
            f"--learning-rate must be at most 1 (images are on a 0..1 scale), not {params['learning_rate']}"
        )
    check_positive(params["style_scale"], "--style-scale")
    for name in ("content_weight", "style_weight", "tv_weight"):
        check_weight(params[name], flag(name))


def stylize(
    content: ImageLike,
    styles: ImageLike | Iterable[ImageLike],
    *,
    size: int = 512,
    style_blend: Sequence[float] | None = None,
    style_scale: float = 1.0,
    content_mask: ImageLike | None = None,
    style_mask: ImageLike | None = None,
    auto_masks: bool | AutoMasks = False,
    substyles: int | None = None,
    global_style: float | None = None,
    content_weight: float = 5.0,
    style_weight: float = 100.0,
    tv_weight: float = 1e-3,
    content_layers: Sequence[str] = CONTENT_LAYERS,
    style_layers: Sequence[str] = STYLE_LAYERS,
    style_layer_weights: Sequence[float] | None = None,
    preserve_color: Literal["none", "luminance", "histogram"] = "none",
    init: ImageLike = "content",
    seed: int | None = None,
    optimizer: Literal["lbfgs", "adam"] = "lbfgs",
    parameterization: Literal["multires", "pixels"] = "multires",
    iterations: int = 62,
    coarse_iterations: int = 40,
    pyramid: bool = True,
    min_size: int = 128,
    pyramid_factor: float = 2.0,
    learning_rate: float = 0.02,
    pooling: Literal["max", "avg"] = "max",
    device: str | torch.device = "auto",
    precision: Literal["auto", "float32", "bfloat16"] = "auto",
    channels_last: bool = True,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    callback: Callable[[Iterate], None] | None = None,
    _temporal: tuple[Tensor, Temporal] | None = None,
    _cache: dict | None = None,
    _memory: LbfgsMemory | None = None,
) -> Result:
    """Render ``content`` in the style of one or more style images (Gatys et al. 2015).

    Args:
        content: the content image (path, PIL image, numpy array or tensor).
        styles: one style image or several (a list, a tuple or a generator of them).
        size: long side of the result in pixels.
        style_blend: relative weight of each style image (default: equal).
        style_scale: long side of the style images relative to the content's (1 = the same);
            larger values give larger style patterns, smaller values finer ones.
        content_mask: region mask of the content (colour-coded or integer labels, as
            ``restyle photo``); each region takes the style of the same region of the style
            image. One style image only.
        style_mask: region mask of the style image, with the same labels.
        auto_masks: find the masks automatically (see :mod:`restyle.automask`). From Python,
            masks found before by :func:`~restyle.automask.auto_masks` may be given instead.
        substyles: number of sub-styles for ``auto_masks`` (default: chosen automatically).
        global_style: share of the wider style's statistics in each region's style target,
            0 to 1: the whole style image's, or with ``auto_masks`` the style on the sub-style's
            side of the sky border (default: 0 with mask files; 0.5 with ``auto_masks``).
        content_weight: weight of the content loss.
        style_weight: weight of the style loss.
        tv_weight: weight of the total-variation (smoothness) loss.
        content_layers: VGG-19 layers whose features the content loss keeps.
        style_layers: VGG-19 layers whose Gram matrices the style loss matches.
        style_layer_weights: weight of each style layer (default: 1 each).
        preserve_color: keep the content's colours: "luminance" transfers only luminance and
            keeps the content's chroma; "histogram" first matches the style image's colour
            mean and covariance to the content's.
        init: where optimisation starts: "content", "noise", or an image.
        seed: random seed (noise init); a random one is picked and recorded if not given.
        optimizer: "lbfgs" (best for this problem) or "adam".
        parameterization: what the optimiser moves: "multires", a pyramid of levels of halving
            resolution whose upsampled sum is the image (several times fewer iterations for a loss), or
            "pixels", as Gatys et al.
        iterations: iterations at the full size.
        coarse_iterations: iterations at each smaller pyramid scale.
        pyramid: optimise coarse-to-fine, from min_size up to size, each scale starting from
            the previous result upsampled.
        min_size: the smallest long side a pyramid scale may have (with size 512 the scales are
            128, 256 and 512 px).
        pyramid_factor: ratio between the long sides of neighbouring pyramid scales.
        learning_rate: Adam's step size (images are on a 0..1 scale).
        pooling: VGG pooling: "max" as trained, or "avg".
        device: "auto" (CUDA, then MPS, then CPU), "cpu", "cuda" (or "cuda:1", a GPU by number) or "mps".
        precision: encoder precision: "auto" uses bfloat16 where the hardware runs it natively.
        channels_last: run the encoder on channels-last tensors: the same loss, and on a CPU
            with AMX under half the time per bfloat16 iteration (0.39 against 0.83 s at 512 x
            512 px); on one with AVX-512 BF16 only, no measurable difference.
        max_pixels: refuse input images with more pixels than this.
        callback: called after every iteration with an :class:`~restyle.optim.Iterate`. To
            stop the run early, it raises ``KeyboardInterrupt``: the result is then the best
            iterate so far, at the full size, with ``status`` "interrupted".
        _temporal: for video (:mod:`restyle.video`): the start image and the temporal term.
        _cache: a dict shared by calls with the same styles and masks (video frames): style
            targets computed once are reused.
        _memory: L-BFGS pairs carried between calls (video frames; see
            :class:`~restyle.optim.LbfgsMemory`), used at the full-size scale.

    Returns:
        A :class:`Result` with the image, the per-iteration history and the parameters.

    Example:
        >>> import numpy as np
        >>> rng = np.random.default_rng(0)
        >>> c, s = rng.random((32, 32, 3)), rng.random((32, 32, 3))
        >>> r = stylize(c, s, size=32, iterations=2, pyramid=False, device="cpu")
        >>> tuple(r.image.shape), len(r.history), r.status
        ((1, 3, 32, 32), 2, 'done')
    """
    check_arguments(stylize, locals())
    styles = _as_list(styles)  # once: a generator is read once
    params = {
        name: value
        for name, value in locals().items()
        if name not in ("content", "styles", "callback", "_temporal", "_cache", "_memory")
    }
    params["auto_masks"] = bool(auto_masks)  # found masks are recorded as their matching
    params.update(
        recorded_inputs(
            "art",
            content=content,
            styles=styles,
            content_mask=content_mask,
            style_mask=style_mask,
            init=init,  # "content" and "noise" are kept as they are, as any name is
        )
    )
    _check_options(params)
    global_style = resolve_global_style(global_style, auto=bool(auto_masks))
    content_layers = _check_layers(content_layers, "--content-layers")
    style_layers = _check_layers(style_layers, "--style-layers")
    layer_weights = (
        [1.0] * len(style_layers) if style_layer_weights is None else [float(w) for w in style_layer_weights]
    )
    if len(layer_weights) != len(style_layers):
        raise RestyleError(
            f"--style-layer-weights: {len(layer_weights)} given for the style layers {', '.join(style_layers)}; "
            "give one weight per layer"
        )
    for weight in layer_weights:
        check_weight(weight, "each of --style-layer-weights")

    run = runtime(device=device, precision=precision, seed=seed)
    dev, bf16, seed = run.device, run.bf16, run.seed
    params.update(run.recorded())

    if not styles:
        raise RestyleError("at least one style image is needed")
    check_mask_options(content_mask=content_mask, style_mask=style_mask, auto=auto_masks, substyles=substyles)
    _check_init(init)
    if len(styles) != 1 and (content_mask is not None or auto_masks):
        raise RestyleError("masks work with one style image, not several")
    blend = [1.0] * len(styles) if style_blend is None else [float(w) for w in style_blend]
    if len(blend) != len(styles) or not all(math.isfinite(w) and w >= 0 for w in blend) or sum(blend) <= 0:
        raise RestyleError(
            f"--style-blend needs one weight per style ({len(styles)} given), each finite and non-negative, "
            f"with a positive sum; got {blend}"
        )

    styles_named = {f"style {i + 1}": s for i, s in enumerate(styles)}
    check_inputs({"content": content, **styles_named, "content mask": content_mask, "style mask": style_mask})
    content_full = load_image(content, size=size, max_pixels=max_pixels, what="content", warn_enlarged=True)
    style_side = max(1, round(size * style_scale))  # the largest a style is used at (full size)
    style_images = [
        load_style(s, long_side=style_side, max_pixels=max_pixels, what=f"style {i + 1}") for i, s in enumerate(styles)
    ]
    for index, style_image in enumerate(style_images):  # the largest the style gets, at the full size
        shape = scaled_shape(*style_image.shape[-2:], style_side)
        check_work_size(
            shape, max_pixels=max_pixels, what=f"style {index + 1}", option="--style-scale", value=style_scale
        )
    _check_memory(content_full, style_images, params, bf16=bf16, device=dev)
    target_content, style_images = _color_targets(preserve_color, content_full, style_images)

    masks = _masks(
        content_full,
        style_images,
        params,
        content_mask=content_mask,
        style_mask=style_mask,
        auto=auto_masks,
        substyles=substyles,
        max_pixels=max_pixels,
        device=dev,
    )
    if masks is not None:
        params["global_style_used"] = global_style

    height, width = content_full.shape[-2:]
    temporal = None
    if _temporal is not None:
        start, temporal = _temporal
        if preserve_color == "luminance":  # optimised in luminance; the frames are in colour
            start = luminance(start)
            temporal = Temporal(luminance(temporal.target), temporal.certainty, temporal.weight)
    else:
        generator = torch.Generator().manual_seed(seed)
        start = _start_image(
            init, target_content, generator=generator, max_pixels=max_pixels, grey=preserve_color == "luminance"
        )

    check_size(height, width, [*content_layers, *style_layers], what=f"content at --size {size}", option="--size")
    for index, style_image in enumerate(style_images if _cache is None else ()):  # a video warns once
        own = max(style_image.shape[-2:]) / size  # the style scale that keeps its own size
        hint = f" (or --style-scale {own:.2g} uses it at its own size)" if own >= 0.1 else ""
        warn_if_enlarged(style_image.shape, style_side, f"style {index + 1}", hint=hint)
    smallest = min_side([*content_layers, *style_layers])
    # Why min_size defaults to 128 px: the 128-px scale costs about two full-size iterations and,
    # with the multi-resolution parameterisation, ended 3% lower on DPST pair 8 than starting at
    # 256 px (benchmarks/RESULTS.md, "Pyramid from 128 px").
    sizes = [
        s
        for s in pyramid_sizes(size, min_size=min_size, factor=pyramid_factor, enabled=pyramid)
        if min(scaled_shape(height, width, s)) >= smallest
    ]

    def objective_at(content_s: Tensor, long_side: int) -> Objective:
        """The loss at one pyramid scale (``content_s``: the content at that scale, on the
        device); style targets come from ``_cache`` when it has them."""
        shape = tuple(content_s.shape[-2:])
        styles_s = [_style_at(s, round(long_side * style_scale), smallest).to(dev) for s in style_images]
        scaled_masks = None if masks is None else masks.resized(shape, styles_s[0].shape).to(dev)
        cache_key = ("style_targets", shape, tuple(tuple(s.shape) for s in styles_s), bf16)
        objective = Objective(
            content_s,
            styles_s,
            blend=blend,
            content_weight=content_weight,
            style_weight=style_weight,
            tv_weight=tv_weight,
            content_layers=content_layers,
            style_layers=style_layers,
            style_layer_weights=layer_weights,
            pooling=pooling,
            bf16=bf16,
            channels_last=channels_last,
            temporal=None if temporal is None else temporal.resized(shape).to(dev),
            content_masks=None if scaled_masks is None else scaled_masks.content,
            style_masks=None if scaled_masks is None else scaled_masks.style,
            global_style=global_style if masks is not None else 0.0,
            style_context=None if scaled_masks is None else scaled_masks.context,
            style_targets=None if _cache is None or masks is not None else _cache.get(cache_key),
        )
        if _cache is not None and masks is None:
            _cache[cache_key] = objective.style_targets
        return objective

    started = time.perf_counter()
    history: list[Record] = []
    plan = [coarse_iterations] * (len(sizes) - 1) + [iterations]
    schedule = Schedule(tuple(plan), tuple(math.prod(scaled_shape(height, width, s)) for s in sizes))
    image = start
    status, message = "done", ""
    for index, long_side in enumerate(sizes):
        shape = scaled_shape(height, width, long_side)
        content_s = resize(target_content, *shape).to(dev)
        x0 = resize(image, *shape).to(dev)
        if index > 0:
            # Put back the content detail that the coarser scale could not hold (a Laplacian-
            # pyramid step): the upsampled result is blurry, which costs many fine iterations.
            coarse = resize(resize(target_content, *image.shape[-2:]), *shape).to(dev)
            x0 = (x0 + content_s - coarse).clamp(0, 1)
        n = plan[index]
        if n == 0:
            image = x0
            continue
        render = LevelImage(x0) if parameterization == "multires" else None
        outcome = optimize(
            x0 if render is None else render.zeros(),
            objective_at(content_s, long_side),
            iterations=n,
            render=render,
            bounds=(0.0, 1.0) if render is None else None,  # LevelImage clamps its image itself
            optimizer=optimizer,
            learning_rate=learning_rate,
            memory=_memory if index == len(sizes) - 1 else None,
            blocks=None if render is None else render.level_sizes,
            scale=index,
            schedule=schedule,
            start_time=started,
            callback=callback,
        )
        history += outcome.history
        image = outcome.image
        if outcome.status != "done":
            status, message = outcome.status, outcome.message
            break

    result = resize(image.detach().float().cpu(), height, width)
    if preserve_color == "luminance":
        result = combine_luminance(result, content_full)
    return Result(image=result.clamp(0, 1), history=history, params=params, status=status, message=message)
