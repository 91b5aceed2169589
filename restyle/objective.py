"""The loss that every transfer minimises, for one image size.

``content_weight * content + style_weight * style + tv_weight * TV + photo_weight * photorealism
+ color_weight * colour``

- content: mean squared feature error at the content layers (Gatys et al.);
- style: Gram matrix error at the style layers, segment-wise when masks are given (DPST: per
  region, features masked and the Gram normalised by the region's area), summed over regions
  (DPST's code weights each region by its share of the layer: ``area_weighted=True``);
  several style images are blended by averaging their Grams;
- TV: total variation (:func:`restyle.losses.tv_loss`);
- photorealism: Luan et al.'s ``sum_c V_c' L V_c`` under the content's matting Laplacian;
- colour: region-wise sliced Wasserstein distance of L*a*b* colours to the style
  (:class:`restyle.losses.ColorDistributionLoss`; not in Gatys et al. or DPST, whose Gram
  losses match colour only through the first layers' second moments);
- temporal (video): Ruder et al.'s ``mean(c * (x - w)^2)``, w the previous stylised frame warped
  into this one and c its per-pixel certainty (:mod:`restyle.flow`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor

from restyle.losses import ColorDistributionLoss, content_loss, gram_matrix, masked_gram, tv_loss
from restyle.masks import masks_for_layers
from restyle.matting import MattingLaplacian, photorealism_loss
from restyle.vgg import deepest, encoder, layer_index

__all__ = ["Objective", "Temporal"]


@dataclass
class Temporal:
    """Ruder et al.'s short-term temporal term: ``weight * mean(certainty * (x - target)^2)``.

    Attributes:
        target: the previous stylised frame warped into this frame, ``(1, 3, H, W)``.
        certainty: where the warp can be trusted, in [0, 1], ``(1, 1, H, W)`` (0 at
            disocclusions and motion boundaries).
        weight: the term's weight (0 turns it off).
    """

    target: Tensor
    certainty: Tensor
    weight: float

    def loss(self, image: Tensor) -> Tensor:
        return self.weight * (self.certainty * (image - self.target) ** 2).mean()

    def resized(self, shape: Sequence[int]) -> Temporal:
        """The same term at another image size (bilinear)."""
        if tuple(shape) == tuple(self.target.shape[-2:]):
            return self
        size = tuple(shape)
        return Temporal(
            F.interpolate(self.target, size=size, mode="bilinear", align_corners=False, antialias=True),
            F.interpolate(self.certainty, size=size, mode="bilinear", align_corners=False, antialias=True),
            self.weight,
        )

    def to(self, device: torch.device | str) -> Temporal:
        return Temporal(self.target.to(device), self.certainty.to(device), self.weight)


class Objective:
    """Content + (segment-wise) style + TV (+ photorealism) loss with precomputed targets.

    Args:
        content: the content image at the size to optimise, ``(1, 3, H, W)``.
        styles: style images (any size).
        blend: weights of the styles' Grams (normalised to sum to 1).
        content_masks, style_masks: region masks ``(K, H, W)`` at the content's and at each
            style's size (one style only when masks are given); None for one global region.
        region_weights: weight of each region's style loss (default 1 each).
        area_weighted: also weight each region's style loss, at each layer, by the region's
            share of that layer (the mean of its content mask there), as DPST's code does; the
            default sums the regions' losses unweighted.
        global_style: share of the whole style image's Gram in each region's target,
            ``(1 - g) G_region + g G_whole`` (0: purely region to region, as DPST; 1: the masks
            only decide where the loss is summed). Softens the damage a wrongly matched
            region does (automatic masks).
        style_context: ``(K, H', W')`` at the style's size: blend each region's target with the
            Gram of these style pixels instead of the whole style's (``G_whole`` above is then
            the masked Gram of region ``k``'s context). None: the whole style.
        laplacian: the content's :class:`~restyle.matting.MattingLaplacian`, needed when
            ``photo_weight > 0``.
        color_weight: weight of the colour-distribution term (one style image only).
        bf16: run the encoder under bfloat16 autocast (the Gram products take its bfloat16
            features; Grams and losses are float32).
        channels_last: feed the encoder channels-last tensors.
        temporal: a :class:`Temporal` term (video), at this objective's size.
        style_targets: the Gram targets of another objective with the same styles, masks and
            layers (``objective.style_targets``), to skip computing them again (video frames).
    """

    def __init__(
        self,
        content: Tensor,
        styles: Sequence[Tensor],
        *,
        blend: Sequence[float],
        content_weight: float,
        style_weight: float,
        tv_weight: float,
        content_layers: Sequence[str],
        style_layers: Sequence[str],
        style_layer_weights: Sequence[float],
        content_masks: Tensor | None = None,
        style_masks: Tensor | None = None,
        region_weights: Sequence[float] | None = None,
        area_weighted: bool = False,
        global_style: float = 0.0,
        style_context: Tensor | None = None,
        photo_weight: float = 0.0,
        laplacian: MattingLaplacian | None = None,
        color_weight: float = 0.0,
        pooling: str = "max",
        bf16: bool = False,
        channels_last: bool = False,
        temporal: Temporal | None = None,
        style_targets: dict[str, Tensor] | None = None,
    ) -> None:
        if temporal is not None and temporal.target.shape[-2:] != content.shape[-2:]:
            raise ValueError("the temporal target must have the content's size")
        self.temporal = temporal
        if (content_masks is None) != (style_masks is None):
            raise ValueError("content_masks and style_masks go together")
        if content_masks is not None and len(styles) != 1:
            raise ValueError("masks work with exactly one style image")
        if not 0.0 <= global_style <= 1.0:
            raise ValueError(f"global_style must be in [0, 1], not {global_style}")
        if style_context is not None and (style_masks is None or style_context.shape != style_masks.shape):
            expected = None if style_masks is None else tuple(style_masks.shape)
            raise ValueError(
                f"style_context must have the style masks' shape {expected}, not {tuple(style_context.shape)}"
            )
        if photo_weight > 0 and laplacian is None:
            raise ValueError("photo_weight > 0 needs the content's matting Laplacian")
        if color_weight > 0 and len(styles) != 1:
            raise ValueError("color_weight > 0 works with exactly one style image")
        device = content.device
        self.content_layers = list(content_layers)
        self.style_layers = list(style_layers)
        self.layers = sorted(set(self.content_layers) | set(self.style_layers), key=layer_index)
        self.encoder = encoder(device=device, pooling=pooling, last_layer=deepest(self.layers))
        self.weights = (content_weight, style_weight, tv_weight, photo_weight)
        self.style_layer_weights = list(style_layer_weights)
        self.laplacian = laplacian
        self.bf16 = bf16
        self.channels_last = channels_last
        # No masks: one global region, whose Grams are plain Grams (masked_gram with a mask of
        # ones gives the same values, but multiplies every feature map by it first).
        regions = content_masks is not None
        if content_masks is None:
            content_masks = torch.ones(1, *content.shape[-2:])
            style_masks_list = [torch.ones(1, *s.shape[-2:]) for s in styles]
        else:
            style_masks_list = [style_masks]
        k = content_masks.shape[0]
        self.color_weight = color_weight
        self.color = (
            ColorDistributionLoss(
                styles[0], content_masks=content_masks.to(device), style_masks=style_masks_list[0].to(device)
            )
            if color_weight > 0
            else None
        )
        self.region_weights = (
            torch.ones(k) if region_weights is None else torch.tensor(list(region_weights), dtype=torch.float32)
        )
        if self.region_weights.shape[0] != k:
            raise ValueError(f"region_weights has {self.region_weights.shape[0]} values for {k} regions")
        self.region_weights = self.region_weights.to(device)
        self.content_masks = (
            {n: m.to(device) for n, m in masks_for_layers(content_masks, self.style_layers).items()}
            if regions
            else None
        )
        # Each region's weight per style layer (DPST: its content mask's mean at that layer).
        self.layer_region_weights = {
            name: self.region_weights
            * (self.content_masks[name].mean(dim=(1, 2)) if area_weighted and self.content_masks else 1.0)
            for name in self.style_layers
        }
        total = float(sum(blend))
        with torch.no_grad():
            feats = self.features(content)
            self.content_targets = {name: feats[name].detach() for name in self.content_layers}
            self.style_targets: dict[str, Tensor] = {}
            if style_targets is not None:  # computed by an earlier objective for the same styles
                self.style_targets = dict(style_targets)
                styles = []
            for style, masks, share in zip(styles, style_masks_list, blend):
                style_feats = self.features(style, self.style_layers)
                layer_masks = masks_for_layers(masks, self.style_layers) if regions else None
                context = None if style_context is None else masks_for_layers(style_context, self.style_layers)
                for name in self.style_layers:
                    gram = self._grams(style_feats[name], None if layer_masks is None else layer_masks[name].to(device))
                    if global_style > 0:
                        whole = self._grams(style_feats[name], None if context is None else context[name].to(device))
                        gram = (1.0 - global_style) * gram + global_style * whole
                    gram = gram * (share / total)
                    self.style_targets[name] = self.style_targets.get(name, 0) + gram

    def features(self, image: Tensor, layers: Sequence[str] | None = None) -> dict[str, Tensor]:
        """Encoder features of ``image`` with this objective's precision and memory format."""
        if self.channels_last:
            image = image.contiguous(memory_format=torch.channels_last)
        with torch.autocast(image.device.type, dtype=torch.bfloat16, enabled=self.bf16):
            return self.encoder(image, self.layers if layers is None else layers)

    @staticmethod
    def _grams(features: Tensor, masks: Tensor | None) -> Tensor:
        """Per-region Grams ``(K, C, C)``; ``masks`` None for one global region."""
        return gram_matrix(features) if masks is None else masked_gram(features, masks)

    def style_loss(self, feats: dict[str, Tensor]) -> Tensor:
        """Unweighted style term: per layer, the region-weighted sum of Gram MSEs."""
        total = torch.zeros((), device=self.region_weights.device)
        for name, weight in zip(self.style_layers, self.style_layer_weights):
            grams = self._grams(feats[name], None if self.content_masks is None else self.content_masks[name])
            per_region = F.mse_loss(grams, self.style_targets[name], reduction="none").mean(dim=(1, 2))
            total = total + weight * (per_region * self.layer_region_weights[name]).sum()
        return total

    def __call__(self, image: Tensor) -> tuple[Tensor, dict[str, Tensor]]:
        content_weight, style_weight, tv_weight, photo_weight = self.weights
        feats = self.features(image)
        content = sum(content_loss(feats[name], self.content_targets[name]) for name in self.content_layers)
        parts = {
            "content": content_weight * content,
            "style": style_weight * self.style_loss(feats),
            "tv": tv_weight * tv_loss(image),
        }
        if photo_weight > 0:
            parts["photo"] = photorealism_loss(image, self.laplacian, photo_weight)
        if self.color is not None:
            parts["color"] = self.color_weight * self.color(image)
        if self.temporal is not None and self.temporal.weight > 0:
            parts["temporal"] = self.temporal.loss(image)
        return sum(parts.values()), parts
