"""Coarse-to-fine pyramids: of image sizes (optimise small first) and of the image itself.

:func:`pyramid_sizes` plans the scales of a coarse-to-fine run: each scale starts from the
previous result upsampled, so the expensive full-size iterations only add detail. This is a
deviation from Gatys et al., who optimise at one size.

:class:`LevelImage` is a multi-resolution parameterisation of one image: the optimiser moves
``L`` grids of halving resolution whose upsampled sum, added to a fixed base, is the image.
A gradient step then moves large areas as readily as single pixels (the gradient of a coarse
level sums the pixel gradient over its footprint), which preconditions the ill-conditioned
style loss: at 512 px on DPST pair 14, 60 L-BFGS iterations come within 1.5% of the loss of
300 pixel iterations (see benchmarks/RESULTS.md). Gatys et al. optimise the pixels directly.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from restyle.errors import RestyleError, check_at_least
from restyle.image import check_long_side

__all__ = ["LevelImage", "compose_levels", "level_count", "level_shapes", "pyramid_sizes"]


def pyramid_sizes(long_side: int, *, min_size: int = 128, factor: float = 2.0, enabled: bool = True) -> list[int]:
    """Long sides of the pyramid's scales, smallest first, ending at ``long_side``.

    Sizes shrink by ``factor`` from ``long_side`` while they stay at or above ``min_size``.

    Args:
        long_side: the last scale's long side (the output's).
        min_size: the smallest long side a scale may have.
        factor: the ratio between neighbouring scales.
        enabled: False gives the last scale alone.

    Returns:
        The long sides, smallest first.

    Example:
        >>> pyramid_sizes(512)
        [128, 256, 512]
        >>> pyramid_sizes(700)
        [175, 350, 700]
        >>> pyramid_sizes(100)
        [100]
    """
    check_long_side(long_side)
    if not factor > 1:
        raise RestyleError(f"--pyramid-factor must be above 1, not {factor}")
    check_at_least(min_size, 1, "--min-size")  # a pyramid down to 0 px would never end
    sizes = [long_side]
    while enabled and round(sizes[0] / factor) >= min_size:
        smaller = round(sizes[0] / factor)
        if smaller == sizes[0]:  # the loop would never end
            raise RestyleError(
                f"--pyramid-factor {factor} is too close to 1: the scale below {sizes[0]} px would be {smaller} px too"
            )
        sizes.insert(0, smaller)
    return sizes


#: Least short side of a LevelImage's coarsest level. With one inverse-Hessian scale per level
#: (``optimize(blocks=...)``), 8 reached lower losses than 16 and 4 on DPST pairs 3, 8 and 14
#: (benchmarks/RESULTS.md); with one shared scale, 16 had been best.
COARSEST_LEVEL = 8


def level_count(height: int, width: int, *, coarsest: int = COARSEST_LEVEL) -> int:
    """How many levels halve an image down to a coarsest level whose short side is still at
    least ``coarsest`` pixels (at least one level: the full resolution).

    Example:
        >>> level_count(341, 512), level_count(171, 256), level_count(10, 10)
        (6, 5, 1)
    """
    short = min(height, width)
    if short < 1 or coarsest < 1:
        raise RestyleError(f"level_count needs positive sizes, got {height}x{width} and coarsest {coarsest}")
    return 1 + max(0, math.floor(math.log2(short / coarsest)))


def level_shapes(height: int, width: int, levels: int) -> list[tuple[int, int]]:
    """``(h, w)`` of each level, finest first: level ``k`` is the image size halved ``k`` times
    (rounded up, so that no level is empty).

    Example:
        >>> level_shapes(5, 8, 3)
        [(5, 8), (3, 4), (2, 2)]
    """
    check_at_least(levels, 1, "levels")
    return [(-(-height // 2**k), -(-width // 2**k)) for k in range(levels)]


def compose_levels(base: Tensor, levels: list[Tensor]) -> Tensor:
    """``base + sum_k up(level_k)``: each level bilinearly upsampled to the base's size.

    Args:
        base: the fixed image the levels are added to.
        levels: one tensor per level, of any sizes, with the base's batch and channels.

    Returns:
        The composed image (not clamped).

    Shape:
        - base: :math:`(B, C, H, W)`
        - levels: :math:`(B, C, H_k, W_k)` each
        - output: :math:`(B, C, H, W)`

    Example:
        >>> base = torch.zeros(1, 1, 4, 4)
        >>> compose_levels(base, [torch.ones(1, 1, 4, 4), torch.full((1, 1, 2, 2), 2.0)])[0, 0, 0]
        tensor([3., 3., 3., 3.])
    """
    if base.ndim != 4:
        raise ValueError(f"compose_levels: expected a base of shape (B, C, H, W), got {tuple(base.shape)}")
    out = base
    for level in levels:
        if level.ndim != 4 or level.shape[:2] != base.shape[:2]:
            raise ValueError(
                f"compose_levels: each level must be (B, C, h, w) with the base's B, C = {tuple(base.shape[:2])}, "
                f"got {tuple(level.shape)}"
            )
        if level.shape[-2:] != base.shape[-2:]:
            level = F.interpolate(level, size=base.shape[-2:], mode="bilinear", align_corners=False)
        out = out + level
    return out


class LevelImage(nn.Module):
    """An image parameterised as a base plus a pyramid of levels, all in one flat vector.

    Calling it on the flat parameters (``(N,)``, see :meth:`zeros`) gives the image,
    ``clamp(compose_levels(base, levels), 0, 1)``; all levels at zero give the base. This is
    the ``render`` that :func:`restyle.optim.optimize` takes. (Clamping the image, rather than
    moving the parameters back into range after each step, reached lower losses on DPST pairs
    3 and 14 at 512 px: 1.87e6 vs 2.01e6 and 7.1e5 vs 7.6e5.)

    Args:
        base: the start image, ``(1, 3, H, W)``.
        levels: number of levels (default: :func:`level_count` of the base's size).

    Example:
        >>> base = torch.rand(1, 3, 40, 60)
        >>> image = LevelImage(base)
        >>> image.shapes
        [(40, 60), (20, 30), (10, 15)]
        >>> torch.equal(image(image.zeros()), base)
        True
    """

    def __init__(self, base: Tensor, *, levels: int | None = None) -> None:
        super().__init__()
        if base.ndim != 4:
            raise ValueError(f"LevelImage: expected a base of shape (B, C, H, W), got {tuple(base.shape)}")
        height, width = base.shape[-2:]
        self.base = base.detach()
        self.shapes = level_shapes(height, width, level_count(height, width) if levels is None else levels)
        b, c = base.shape[:2]
        self.level_sizes = [b * c * h * w for h, w in self.shapes]  # values per level in the flat vector

    def zeros(self) -> Tensor:
        """Flat parameters for which the image is the base."""
        return torch.zeros(sum(self.level_sizes), dtype=self.base.dtype, device=self.base.device)

    def split(self, flat: Tensor) -> list[Tensor]:
        """The flat parameters as one ``(B, C, h, w)`` tensor per level."""
        count = sum(self.level_sizes)
        if flat.ndim != 1 or flat.numel() != count:
            raise ValueError(f"LevelImage: expected flat parameters of {count} values, got {tuple(flat.shape)}")
        b, c = self.base.shape[:2]
        parts = flat.split(self.level_sizes)
        return [part.view(b, c, h, w) for part, (h, w) in zip(parts, self.shapes, strict=True)]

    def forward(self, flat: Tensor) -> Tensor:
        return compose_levels(self.base, self.split(flat)).clamp(0, 1)
