"""Photorealistic style transfer (Luan et al. 2017, "Deep Photo Style Transfer").

:func:`stylize_photo` is the entry point; ``restyle photo`` derives its flags from it.
Presets:

- ``default``: the colour transfer of each region towards the style, smoothed (the ``fast``
  preset's result), is the image that a bilateral grid of affine colour maps
  (:mod:`restyle.bilateral`, sliced by the content's luminance) transforms; the grid, not the
  pixels, is optimised, coarse to fine (256 then 512 px), for content + segment-wise Gram style
  + photorealism + a colour-distribution term; the grid is then rendered at full size and the
  result smoothed with the closed-form matting smoothing. Deviations from DPST: the grid
  parameterisation (photorealistic by construction: it cannot paint new edges), no
  noise-initialised first stage, the colour term, 60 iterations instead of 2000, bfloat16
  encoder.
- ``dpst``: DPST's pipeline, for comparison: stage 1 is segmented neural style from the mean
  pixel plus faint noise (1000 L-BFGS iterations on unconstrained pixels), handed to stage 2
  as DPST does (clipped to [0, 1], 8 bits); stage 2 adds the photorealism term (1000
  more), then DPST's smooth local affine post-process.
- ``fast``: the colour transfer and the smoothing alone, no VGG optimisation.
"""

from __future__ import annotations

import math
import os
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any, Literal

import torch
from torch import Tensor

from restyle.artistic import CONTENT_LAYERS, STYLE_LAYERS, Result, recorded_inputs
from restyle.automask import AutoMasks, check_mask_options, resolve_global_style, resolve_masks
from restyle.bilateral import BilateralGrid, fit_grid, grid_roughness, grid_size, identity_grid
from restyle.color import match_color, rgb_to_ycbcr
from restyle.dequantise import dequantise_from, on_grid
from restyle.device import runtime
from restyle.errors import RestyleError, check_at_least, check_choice, check_weight, flag
from restyle.footprint import check_memory, lbfgs_pairs, photo_bytes
from restyle.image import (
    DEFAULT_MAX_PIXELS,
    ImageLike,
    RestyleWarning,
    check_inputs,
    check_long_side,
    load_image,
    load_style,
    resize,
    scaled_shape,
    smoothed_jpeg_pair,
    style_shape,
    to_uint8,
)
from restyle.masks import MaskPair
from restyle.matting import MattingLaplacian
from restyle.objective import Objective, Temporal
from restyle.optim import Iterate, LbfgsMemory, Record, Schedule, optimize
from restyle.pyramid import pyramid_sizes
from restyle.signature import check_arguments
from restyle.smoothing import guided_upsample, local_affine_smoothing, matting_smoothing
from restyle.vgg import CAFFE_MEAN_BGR, MIN_TRANSFER_SIZE, check_size, min_side

# Every layer a photo transfer reads.
_LAYERS = (*CONTENT_LAYERS, *STYLE_LAYERS)

__all__ = ["PRESETS", "Preset", "png_handoff", "preset_settings", "segment_color_transfer", "stylize_photo"]


@dataclass(frozen=True)
class Preset:
    """The settings a preset fixes unless the caller overrides them."""

    content_weight: float = 5.0
    style_weight: float = 100.0
    photo_weight: float = 1e4
    tv_weight: float = 1e-3
    color_weight: float = 0.0
    # Where the pixels start: "color" (the segment-wise colour transfer), "content", or "mean"
    # (DPST's stage 1: the ImageNet mean pixel plus N(0, init_noise^2) noise in Caffe's 0..255
    # units, an almost flat grey-brown image).
    init: str = "color"
    init_noise: float = 1e-4  # DPST's neuralstyle_seg.lua (neural-style's random init uses 1e-3)
    # DPST multiplies each region's Gram loss by the region's share of the layer (the mean of its
    # content mask there); False sums the regions' losses unweighted (restyle.objective).
    area_weighted: bool = False
    # DPST optimises the pixels unconstrained and clips only when it saves; False keeps every
    # iterate in [0, 1] (restyle.optim.optimize's projection).
    unbounded: bool = False
    # DPST hands stage 1 to stage 2 through an 8-bit PNG: Torch's image.save clips to [0, 1] and
    # quantises (its image.minmax{min=0, max=1} before the save changes nothing); False passes
    # the float image on.
    png_handoff: bool = False
    stages: tuple[tuple[int, bool], ...] = ((60, True),)  # (iterations, photorealism on) at full size
    coarse_iterations: int = 60
    pyramid: bool = True
    coarsest: float = 0.25  # the pyramid's smallest scale, as a share of the work size (>= 128 px)
    smoothing: str = "matting"
    smoothing_strength: float = 1e-2
    # smoothing_strength with automatic masks (None: the same). Automatic borders are less exact
    # than painted ones, and a stronger smoothing hides a border drawn across a smooth area.
    auto_smoothing_strength: float | None = None
    # eps of the smoothing's Laplacian. Deviation: DPST's 1e-7 makes the float32 operator
    # inexact on flat windows (the conjugate gradients can break down); 1e-5 never did on the
    # DPST pairs and scored better on photorealism and structure (benchmarks/RESULTS.md).
    smoothing_eps: float = 1e-5
    # "pixels": optimise the image itself (Gatys, DPST). "grid": optimise a bilateral grid of
    # affine colour transforms of the smoothed colour transfer (restyle.bilateral), at
    # work_size, then render it at full size.
    parameterization: str = "pixels"
    work_size: int | None = None  # long side of the grid optimisation (None: the output size)
    grid_cell: int = 32  # pixels between grid nodes at work_size
    grid_bins: int = 8  # grid nodes along the luminance axis
    grid_smoothness: float = 0.0  # weight of the grid's roughness penalty (bilateral.grid_roughness)
    # Smooth the content's 8-bit steps in its flat areas first (restyle.dequantise). Only where
    # no optimisation follows: the fast preset's colour map stretches the steps of a sky
    # straight into bands (0.43 -> 0.09 levels RMS). The default preset's own smoothing left
    # that sky at about 0.5 either way, and forced on over DPST's 20 pairs it moved three of
    # four medians slightly the wrong way (benchmarks/RESULTS.md, "Banding").
    dequantise: bool = False


PRESETS: dict[str, Preset] = {
    # Deviations from DPST: the image is a bilateral grid of affine colour maps of the
    # colour-transferred content (photorealistic by construction, and the same at every scale of
    # the pyramid), not free pixels; a colour-distribution term; one stage of 40 + 20
    # iterations instead of 2 x 1000; the matting smoothing before and after (twice as strong
    # with automatic masks).
    "default": Preset(
        content_weight=20.0,
        parameterization="grid",
        color_weight=1e5,
        work_size=512,
        coarsest=0.5,
        stages=((20, True),),
        coarse_iterations=40,
        smoothing_strength=20.0,
        auto_smoothing_strength=40.0,
    ),
    # Deviations from DPST: bfloat16 encoder where the CPU runs it natively; the result is the best
    # iterate of stage 2, not its last evaluation; our L-BFGS retries a step that blows the loss
    # up; the exact gradient of the segment-wise style loss (DPST's leaves out the mask's factor
    # where a mask is soft, near region borders); images x255 for the encoder (DPST: x256); the
    # hand-off rounds to the nearest 8-bit level where Torch's PNG writer truncates (<= 1/255).
    "dpst": Preset(
        # DPST's TV module adds tv_weight * (neighbour differences) to the gradient: the gradient
        # of tv_weight / 2 * sum(d^2). Our tv_loss is sum(d^2), so DPST's 1e-3 is 5e-4 here.
        tv_weight=5e-4,
        area_weighted=True,
        init="mean",
        unbounded=True,
        png_handoff=True,
        stages=((1000, False), (1000, True)),
        pyramid=False,
        smoothing="affine",
    ),
    "fast": Preset(
        stages=(), pyramid=False, coarse_iterations=0, smoothing="matting", smoothing_strength=10.0, dequantise=True
    ),
}


def segment_color_transfer(content: Tensor, style: Tensor, masks: MaskPair) -> Tensor:
    """Closed-form colour transfer, region by region: each content region's colour mean and
    covariance are moved onto those of the matching style region (:func:`match_color`), and
    the results are blended by the content masks. Pixels in no region get the global transfer.

    Shape:
        - content: :math:`(1, 3, H, W)`; style: :math:`(1, 3, H', W')`; output like content
    """
    masks = masks.resized(content.shape, style.shape)
    out = torch.zeros_like(content)
    weight = torch.zeros_like(content[:, :1])
    for c_mask, s_mask in zip(masks.content, masks.style):
        if c_mask.sum() < 1 or s_mask.sum() < 1:
            continue
        recoloured = match_color(content, style, source_weights=c_mask[None, None], target_weights=s_mask[None, None])
        out += recoloured * c_mask[None, None]
        weight += c_mask[None, None]
    rest = (1.0 - weight).clamp_min(0.0)
    if float(rest.max()) > 1e-3:
        out += match_color(content, style) * rest
        weight += rest
    return (out / weight.clamp_min(1e-8)).clamp(0.0, 1.0)


def stylize_photo(
    content: ImageLike,
    style: ImageLike,
    *,
    content_mask: ImageLike | None = None,
    style_mask: ImageLike | None = None,
    auto_masks: bool | AutoMasks = False,
    substyles: int | None = None,
    preset: Literal["default", "dpst", "fast"] = "default",
    size: int = 512,
    full_resolution: bool = False,
    style_weight: float | None = None,
    photo_weight: float | None = None,
    content_weight: float | None = None,
    tv_weight: float | None = None,
    color_weight: float | None = None,
    grid_smoothness: float | None = None,
    iterations: int | None = None,
    smoothing: Literal["preset", "matting", "affine", "none"] = "preset",
    smoothing_strength: float | None = None,
    region_weights: Sequence[float] | None = None,
    global_style: float | None = None,
    mask_palette: Literal["auto", "dpst", "colors", "integer"] = "auto",
    seed: int | None = None,
    device: str | torch.device = "auto",
    precision: Literal["auto", "float32", "bfloat16"] = "auto",
    channels_last: bool = True,
    dequantise: bool | None = None,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    callback: Callable[[Iterate], None] | None = None,
    _cache: dict | None = None,
    _temporal: tuple[Tensor, Temporal] | None = None,
    _memory: LbfgsMemory | None = None,
) -> Result:
    """Give ``content`` the look of ``style`` without making it look painted (DPST).

    Args:
        content: the content photo (path, PIL image, numpy array or tensor).
        style: the style photo.
        content_mask: semantic mask of the content (DPST colours, any colour-coded label
            image, or an integer label image); regions take the style of the same label.
        style_mask: semantic mask of the style, with the same labels.
        auto_masks: find the masks automatically (sub-styles of the style image matched to
            regions of the content; see :mod:`restyle.automask`). From Python, masks found
            before by :func:`~restyle.automask.auto_masks` (and looked at) may be given instead.
        substyles: number of sub-styles for ``auto_masks`` (default: chosen automatically).
        preset: "default" (fast, one stage), "dpst" (Luan et al.'s two-stage pipeline), or
            "fast" (colour transfer and smoothing only, no optimisation).
        size: long side of the result in pixels (the size the transfer works at).
        full_resolution: deliver the result at the content photo's own size: the result at
            ``size`` is carried up by guided upsampling (its local affine colour maps of the
            content applied to the full-size photo; :func:`~restyle.smoothing.guided_upsample`),
            which takes seconds even at 24 MP. Not after an interruption.
        style_weight: weight of the style loss (preset's default: 100).
        photo_weight: lambda, weight of the photorealism (matting) term (default: 1e4).
        content_weight: weight of the content loss (default preset: 20; dpst: 5).
        tv_weight: weight of the total-variation loss (default: 1e-3; dpst: 5e-4, which is
            DPST's 1e-3 in its own convention).
        color_weight: weight of the colour-distribution term, which pulls each region's
            L*a*b* colours towards the style region's (default preset: 1e5; others: off).
        grid_smoothness: default preset: weight of a penalty on differences between neighbouring
            grid nodes (0: none). Larger values keep tone curves gentle; try 1e5 where the
            result shows blotches.
        iterations: L-BFGS iterations at the last scale, per stage (default: the preset's; the
            default preset runs 40 at 256 px, then these at 512 px).
        smoothing: post-process: "matting" (closed-form matting smoothing), "affine" (DPST's
            smooth local affine), "none", or the preset's choice.
        smoothing_strength: beta of the matting smoothing (default preset: 20, or 40 with
            ``auto_masks``; fast: 10; larger is smoother and more photorealistic).
        region_weights: style weight of each mask region, in the order of the shared labels.
        global_style: share of the wider style's statistics in each region's style target, 0 to
            1: the whole style image's, or with ``auto_masks`` the style on the sub-style's side
            of the sky border (default: 0 with mask files, as DPST; 0.5 with ``auto_masks``, so
            that a wrongly matched region is pulled less far towards the wrong sub-style).
        mask_palette: how masks are read: "auto", "dpst", "colors" or "integer".
        seed: random seed (the noise that the dpst preset starts from); picked and recorded if
            not given.
        device: "auto" (CUDA, then MPS, then CPU), "cpu", "cuda" (or "cuda:1", a GPU by number) or "mps".
        precision: encoder precision: "auto" uses bfloat16 where the hardware runs it natively.
        channels_last: run the encoder on channels-last tensors: the same result up to the
            rounding of masked bfloat16 Grams, and on a CPU with AMX 15-22% faster per pair
            (DPST pairs 2, 8 and 14 at 700 px; no difference on one with AVX-512 BF16 only).
        dequantise: smooth the 8-bit steps of the content's flat areas before stylising it,
            each value moving by at most 3/4 of a level (:mod:`restyle.dequantise`), so that a
            style that stretches a smooth gradient such as a clear sky does not turn each step
            into a visible band; a JPEG file in its YCbCr codes, before they become RGB; deeper
            images (16-bit, RAW) are used as read. Default: the preset's (on for ``fast`` only,
            where no optimisation follows).
        max_pixels: refuse input images with more pixels than this.
        callback: called after every iteration with an :class:`~restyle.optim.Iterate`. To
            stop the run early, it raises ``KeyboardInterrupt``: the result is then the best
            iterate so far, at the full size, with ``status`` "interrupted".
        _cache: a dict shared by the calls of a weight sweep (one content, one style): the
            masks and the matting Laplacians are computed once.
        _temporal: for video: the start image (the previous frame warped) and the temporal
            term; the coarse scales are then skipped.
        _memory: for video: L-BFGS pairs carried between frames (full-size stage).

    Returns:
        A :class:`~restyle.artistic.Result`.
    """
    check_arguments(stylize_photo, locals())
    params = {
        n: v for n, v in locals().items() if n not in ("content", "style", "callback", "_cache", "_temporal", "_memory")
    }
    params["auto_masks"] = bool(auto_masks)  # found masks are recorded as their matching, below
    params.update(
        recorded_inputs("photo", content=content, style=style, content_mask=content_mask, style_mask=style_mask)
    )
    settings = _settings(
        preset,
        iterations=iterations,
        smoothing=smoothing,
        auto_masks=bool(auto_masks),
        style_weight=style_weight,
        photo_weight=photo_weight,
        content_weight=content_weight,
        tv_weight=tv_weight,
        color_weight=color_weight,
        grid_smoothness=grid_smoothness,
        smoothing_strength=smoothing_strength,
    )
    if dequantise is not None:
        settings = replace(settings, dequantise=dequantise)
    check_long_side(size, minimum=MIN_TRANSFER_SIZE)
    check_mask_options(content_mask=content_mask, style_mask=style_mask, auto=auto_masks, substyles=substyles)
    check_inputs({"content": content, "style": style, "content mask": content_mask, "style mask": style_mask})
    for weight in region_weights or ():  # their number is checked once the masks are known
        check_weight(weight, "each of --region-weights")
    global_style = resolve_global_style(global_style, auto=bool(auto_masks))
    params["global_style_used"] = global_style
    run = runtime(device=device, precision=precision, seed=seed)
    dev, bf16, seed = run.device, run.bf16, run.seed
    params.update(run.recorded(), settings={k: v for k, v in vars(settings).items()})

    # loaded first, so that a photo over --max-pixels fails at once rather than after the work;
    # the work-size content is then made from it, not decoded again (a camera RAW file would
    # also be developed again, at half size, into a guide that differs from the photo's own).
    # With dequantise, a JPEG is read as its YCbCr codes, smoothed there at the work size, the
    # full-size photo following it (image.smoothed_jpeg_pair)
    pair = (
        smoothed_jpeg_pair(content, size=size, max_pixels=max_pixels)
        if full_resolution and settings.dequantise and isinstance(content, (str, os.PathLike))
        else None
    )
    if pair is not None:
        work_source, original = pair
    else:
        original = load_image(content, max_pixels=max_pixels, what="content") if full_resolution else None
        work_source = content if original is None else original
    content_full, style_full = _load_pair(
        work_source,
        style,
        size=size,
        max_pixels=max_pixels,
        dequantise=settings.dequantise,
        own_size=full_resolution,
    )
    height, width = content_full.shape[-2:]
    _check_memory(settings, content_full, style_full, original, auto_masks=bool(auto_masks), device=dev)
    masks, matching = _sweep_masks(
        content_full,
        style_full,
        _cache,
        content_mask=content_mask,
        style_mask=style_mask,
        auto=auto_masks,
        substyles=substyles,
        palette=mask_palette,
        max_pixels=max_pixels,
        device=dev,
    )
    if matching is not None:
        params["auto_masks_matching"] = matching
    params["mask_labels"] = masks.names
    masks = masks.resized(content_full.shape, style_full.shape)
    if region_weights is not None and len(region_weights) != len(masks.names):
        raise RestyleError(
            f"--region-weights: {len(region_weights)} given for {len(masks.names)} "
            f"region{'s' if len(masks.names) > 1 else ''} ({', '.join(masks.names)}); give one weight per region"
        )

    recoloured = segment_color_transfer(content_full, style_full, masks)
    # Laplacians depend only on the content and the size: a weight sweep passes one cache.
    laplacians: dict[Any, MattingLaplacian] = {} if _cache is None else _cache.setdefault("laplacians", {})

    def smooth(image: Tensor) -> Tensor:
        return _post_process(image, content_full, settings, laplacians, device=dev)

    grid_mode = settings.parameterization == "grid"
    temporal = None
    if grid_mode:
        # The grid transforms the smoothed colour transfer (the fast preset's result), so the
        # identity grid is already a photorealistic start.
        base = recoloured if settings.smoothing == "none" else smooth(recoloured)
        image = base
    else:
        image = _start_image(settings, content_full, recoloured, seed=seed)
    if _temporal is not None:
        image, temporal = _temporal

    work = _work_size(settings, size)
    # A video frame (``_temporal``) starts from the previous stylised frame warped into it:
    # already stylised, so it skips the coarse scales (as art mode does).
    plan = _plan(settings, (height, width), work, smallest=min_side(_LAYERS), coarse=temporal is None)

    started = time.perf_counter()
    history: list[Record] = []
    status, message = "done", ""
    grid = None
    if grid_mode and plan:
        grid = identity_grid(
            *grid_size(*scaled_shape(height, width, work), cell=settings.grid_cell, bins=settings.grid_bins),
            device=dev,
        )
        if temporal is not None:  # start from the grid that best reproduces the warped frame
            grid = fit_grid(grid, _renderer(content_full, base, scaled_shape(height, width, work), dev), image)
    smoothness = settings.grid_smoothness
    roughness = (lambda g: smoothness * grid_roughness(g)) if smoothness > 0 else None
    schedule = Schedule(
        tuple(n for _, n, _ in plan), tuple(math.prod(scaled_shape(height, width, side)) for side, _, _ in plan)
    )
    for index, (long_side, n, photo) in enumerate(plan):
        shape = scaled_shape(height, width, long_side)
        objective = _scale_objective(
            settings,
            content_full,
            style_full,
            masks,
            laplacians,
            long_side=long_side,
            photo=photo,
            region_weights=region_weights,
            global_style=global_style,
            bf16=bf16,
            channels_last=channels_last,
            temporal=temporal,
            device=dev,
        )
        common = {
            "iterations": n,
            "scale": index,
            "schedule": schedule,
            "start_time": started,
            "callback": callback,
            "memory": _memory if index == len(plan) - 1 else None,
        }
        if grid is not None:
            outcome = optimize(
                grid,
                objective,
                render=_renderer(content_full, base, shape, dev),
                bounds=None,
                penalty=roughness,
                **common,
            )
            grid = outcome.parameters
        else:
            if settings.png_handoff and index > 0:  # the stage before saved its result as DPST does
                image = png_handoff(image)
            bounds = None if settings.unbounded else (0.0, 1.0)
            outcome = optimize(resize(image, *shape).to(dev), objective, bounds=bounds, **common)
            image = outcome.image.detach().float().cpu()
        history += outcome.history
        if outcome.status != "done":
            status, message = outcome.status, outcome.message
            break

    if grid is not None:
        with torch.no_grad():
            image = _renderer(content_full, base, (height, width), dev)(grid).cpu()
    result = image if image.shape[-2:] == (height, width) else resize(image, height, width)
    unsmoothed = None
    if status != "interrupted" and settings.smoothing != "none" and (plan or not grid_mode):
        unsmoothed, result = result.clamp(0, 1), smooth(result)
    if original is not None and status != "interrupted" and original.shape != result.shape:
        if original.shape[-2] * original.shape[-1] > height * width:
            if settings.dequantise and on_grid(original):  # its steps, smoothed as content_full's were
                original = dequantise_from(original, content_full)
            result = guided_upsample(result.clamp(0, 1), content_full, original)
        else:  # a photo smaller than --size: back to its own size
            result = resize(result.clamp(0, 1), *original.shape[-2:])
    return Result(
        image=result.clamp(0, 1),
        history=history,
        params=params,
        status=status,
        message=message,
        unsmoothed=unsmoothed,
    )


def _check_memory(
    settings: Preset,
    content: Tensor,
    style: Tensor,
    original: Tensor | None,
    *,
    auto_masks: bool,
    device: torch.device,
) -> None:
    """Stop before the work if the run would not fit in memory (:mod:`restyle.footprint`)."""
    height, width = content.shape[-2:]
    size = max(height, width)
    grid = settings.parameterization == "grid"

    def needed(long_side: int) -> int:
        h, w = scaled_shape(height, width, long_side)
        wh, ww = scaled_shape(height, width, _work_size(settings, long_side))
        sh, sw = style_shape(*style.shape[-2:], long_side)
        return photo_bytes(
            wh * ww if settings.stages else 0,
            h * w,
            style_pixels=sh * sw,
            grid=grid,
            pairs=lbfgs_pairs("lbfgs", max((n for n, _ in settings.stages), default=0)),
            original_pixels=0 if original is None else original.shape[-2] * original.shape[-1],
            auto_masks=auto_masks,
        )

    check_memory(needed, size, device=device, what="a photo run")


def _work_size(settings: Preset, size: int) -> int:
    """The long side the optimisation works at: the grid preset's work size at most."""
    return min(size, settings.work_size or size) if settings.parameterization == "grid" else size


def _load_pair(
    content: ImageLike, style: ImageLike, *, size: int, max_pixels: int, dequantise: bool, own_size: bool = False
) -> tuple[Tensor, Tensor]:
    """The content at ``size`` (its 8-bit steps smoothed if ``dequantise``) and the style image
    (brought down to ``size`` if it is over twice that), each checked to be large enough for the
    network's layers. A content enlarged much is warned about, unless the result is delivered
    at its own size (``own_size``: its detail comes from the photo itself)."""
    content_full = load_image(
        content, size=size, max_pixels=max_pixels, what="content", dequantise=dequantise, warn_enlarged=not own_size
    )
    check_size(*content_full.shape[-2:], _LAYERS, what=f"content at --size {size}", option="--size")
    style_full = load_style(style, long_side=size, max_pixels=max_pixels)
    check_size(*style_full.shape[-2:], _LAYERS, what="style image")
    return content_full, style_full


def _sweep_masks(content: Tensor, style: Tensor, cache: dict | None, **options: Any) -> tuple[MaskPair, dict | None]:
    """:func:`~restyle.automask.resolve_masks` of the pair, computed once for all the calls of
    a weight sweep that share ``cache``."""
    cached = None if cache is None else cache.get("masks")
    if cached is None:
        cached = resolve_masks(content, style, **options)
        if cache is not None:
            cache["masks"] = cached
    return cached


def _scale_objective(
    settings: Preset,
    content: Tensor,
    style: Tensor,
    masks: MaskPair,
    laplacians: dict[Any, MattingLaplacian],
    *,
    long_side: int,
    photo: bool,
    region_weights: Sequence[float] | None,
    global_style: float,
    bf16: bool,
    channels_last: bool,
    temporal: Temporal | None,
    device: torch.device,
) -> Objective:
    """The loss at one scale of the plan: content, style and masks at ``long_side`` px (the
    style's long side at least twice the side the deepest layer needs), and, if ``photo`` is
    on, the content's matting Laplacian at that size, cached in ``laplacians`` by size."""
    shape = scaled_shape(*content.shape[-2:], long_side)
    content_s = resize(content, *shape).to(device)
    style_s = resize(style, *scaled_shape(*style.shape[-2:], max(long_side, min_side(_LAYERS) * 2)))
    masks_s = masks.resized(shape, style_s.shape).to(device)
    laplacian = None
    if photo and settings.photo_weight > 0:
        if long_side not in laplacians:
            laplacians[long_side] = MattingLaplacian(content_s, dtype=torch.float32)
        laplacian = laplacians[long_side]
    return Objective(
        content_s,
        [style_s.to(device)],
        blend=[1.0],
        content_weight=settings.content_weight,
        style_weight=settings.style_weight,
        tv_weight=settings.tv_weight,
        content_layers=CONTENT_LAYERS,
        style_layers=STYLE_LAYERS,
        style_layer_weights=[1.0] * len(STYLE_LAYERS),
        content_masks=masks_s.content,
        style_masks=masks_s.style,
        region_weights=region_weights,
        area_weighted=settings.area_weighted,
        global_style=global_style,
        style_context=masks_s.context,
        photo_weight=settings.photo_weight if photo else 0.0,
        laplacian=laplacian,
        color_weight=settings.color_weight,
        bf16=bf16,
        channels_last=channels_last,
        temporal=None if temporal is None else temporal.resized(shape).to(device),
    )


def preset_settings(name: str) -> Preset:
    """The settings of the preset called ``name``; a one-line error naming the presets if
    there is none."""
    return PRESETS[check_choice(name, PRESETS, "--preset")]


def _settings(
    preset: str, *, iterations: int | None, smoothing: str, auto_masks: bool, **overrides: float | None
) -> Preset:
    """The preset's settings with the caller's overrides, each checked (one-line errors), and
    with ``auto_masks`` the preset's smoothing strength for automatic masks."""
    settings = preset_settings(preset)
    if auto_masks and settings.auto_smoothing_strength is not None:
        settings = replace(settings, smoothing_strength=settings.auto_smoothing_strength)
    settings = replace(
        settings,
        **{k: check_weight(v, flag(k)) for k, v in overrides.items() if v is not None},
    )
    if iterations is not None:
        check_at_least(iterations, 0, "--iterations")
        settings = replace(settings, stages=tuple((iterations, photo) for _, photo in settings.stages))
    if smoothing != "preset":
        check_choice(smoothing, ("preset", "matting", "affine", "none"), "--smoothing")
        settings = replace(settings, smoothing=smoothing)
    given = [k for k, v in overrides.items() if v is not None] + (["iterations"] if iterations is not None else [])
    unused = [k for k in given if k != "smoothing_strength"] if not settings.stages else []
    if not unused and settings.parameterization != "grid" and "grid_smoothness" in given:
        unused = ["grid_smoothness"]  # a penalty on the grid, which only the default preset optimises
    if unused:
        why = NO_OPTIMISATION if not settings.stages else "it optimises pixels, not a grid"
        warn_no_effect([flag(k) for k in unused], preset, why)
    return settings


#: Why the fast preset ignores the loss weights and iterations (:func:`warn_no_effect`).
NO_OPTIMISATION = "it runs no optimisation"


def warn_no_effect(options: Sequence[str], preset: str, why: str) -> None:
    """Warn that ``options`` given by the caller (of :func:`stylize_photo`, or of a video run
    through it) have no effect with ``preset``, and ``why``."""
    verb = "has" if len(options) == 1 else "have"
    warnings.warn(f"{', '.join(options)} {verb} no effect with preset {preset}: {why}", RestyleWarning, stacklevel=4)


def _start_image(settings: Preset, content: Tensor, recoloured: Tensor, *, seed: int) -> Tensor:
    """Where the pixels start (``Preset.init``)."""
    if settings.init == "mean":
        generator = torch.Generator().manual_seed(seed)
        mean = torch.tensor(CAFFE_MEAN_BGR[::-1]).view(1, 3, 1, 1) / 255.0
        return mean + (settings.init_noise / 255.0) * torch.randn(content.shape, generator=generator)
    if settings.init == "content":
        return content
    return recoloured


def _plan(
    settings: Preset, shape: tuple[int, int], work: int, *, smallest: int, coarse: bool
) -> list[tuple[int, int, bool]]:
    """The optimisation runs in order, as (long side, iterations, photorealism on): the
    pyramid's coarse scales (if ``coarse``; those the network can see), then the preset's
    stages at ``work`` px. Runs of 0 iterations are left out."""
    sizes = pyramid_sizes(work, min_size=max(128, round(work * settings.coarsest)), enabled=settings.pyramid)
    sizes = [s for s in sizes if min(scaled_shape(*shape, s)) >= smallest]
    plan: list[tuple[int, int, bool]] = []
    if coarse and settings.coarse_iterations and settings.stages:
        plan += [(s, settings.coarse_iterations, settings.stages[-1][1]) for s in sizes[:-1]]
    plan += [(work, n, photo) for n, photo in settings.stages]
    return [step for step in plan if step[1] > 0]


def _post_process(
    image: Tensor,
    content: Tensor,
    settings: Preset,
    laplacians: dict[Any, MattingLaplacian],
    *,
    device: torch.device,
) -> Tensor:
    """The preset's smoothing (``affine`` or ``matting``) of ``image`` guided by ``content``;
    the matting Laplacian is cached in ``laplacians`` by the content's size and eps (a weight
    sweep shares one content). Keeps ``image``, with a warning, if the smoothing fails."""
    if settings.smoothing == "affine":
        return local_affine_smoothing(image, content)
    key = ("smoothing", *content.shape[-2:], settings.smoothing_eps)
    if key not in laplacians:
        laplacians[key] = MattingLaplacian(content.to(device), eps=settings.smoothing_eps, dtype=torch.float32)
    smoothed = matting_smoothing(
        image.to(device), laplacians[key], beta=settings.smoothing_strength, tol=1e-3, max_iterations=100
    ).cpu()
    if bool(torch.isfinite(smoothed).all()):
        return smoothed
    warnings.warn(
        "photorealistic smoothing failed (non-finite values); kept the unsmoothed result",
        RestyleWarning,
        stacklevel=4,
    )
    return image


def png_handoff(image: Tensor) -> Tensor:
    """What DPST's stage 2 reads from stage 1's saved PNG: the image clipped to [0, 1] and
    rounded to 8 bits. (Torch's PNG writer truncates to the level below; we round, as every
    8-bit conversion here does: at most 1/255 apart.)

    Shape:
        - image: :math:`(B, 3, H, W)`; output like image
    """
    return to_uint8(image).to(image.device, image.dtype) / 255.0


def _renderer(
    content: Tensor, base: Tensor, shape: tuple[int, int], device: torch.device
) -> Callable[[Tensor], Tensor]:
    """The grid-to-image map at ``shape``: the grid sliced by the content's luminance, applied
    to ``base``, clamped to [0, 1]."""
    guide = rgb_to_ycbcr(resize(content, *shape))[:, :1].clamp(0.0, 1.0)
    render = BilateralGrid(guide.to(device), resize(base, *shape).to(device))
    return lambda grid: render(grid).clamp(0.0, 1.0)
