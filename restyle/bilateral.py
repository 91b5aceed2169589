"""Bilateral grids of affine colour transforms: a photorealistic parameterisation of an image.

A bilateral grid (Chen et al. 2007) stores values on a coarse lattice over the image plane and
one intensity axis. Here each cell holds a 3x4 affine colour transform (12 coefficients), as in
Chen et al. 2016 ("Bilateral guided upsampling") and Gharbi et al. 2017 (HDRnet). *Slicing* the
grid with a guide image (its luminance picks the intensity coordinate) gives every pixel its
own transform, smooth in space and in the guide's tones, and different on either side of an
edge of the guide. Applying the transforms to an image changes its colours and tones but cannot
paint new edges or textures, so whatever the grid holds, the result stays a photograph of the
same scene. restyle optimises such a grid, instead of pixels, in its default photo preset.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from restyle.errors import check_tensor
from restyle.optim import optimize

__all__ = [
    "BilateralGrid",
    "apply_affine",
    "bilateral_slice",
    "fit_grid",
    "grid_roughness",
    "grid_size",
    "identity_grid",
]

COEFFICIENTS = 12  # a 3x3 matrix (row-major) and an offset per output channel


def _check_grid(grid: Tensor, name: str) -> None:
    check_tensor(grid, f"{name} grid", "(1, C, D, Hg, Wg)", image=False)
    if grid.ndim != 5 or grid.shape[0] != 1:
        raise ValueError(f"{name}: expected a grid of shape (1, C, D, Hg, Wg), got {tuple(grid.shape)}")


def _check(grid: Tensor, guide: Tensor) -> None:
    _check_grid(grid, "bilateral_slice")
    check_tensor(guide, "bilateral_slice guide", "(1, 1, H, W)")
    if guide.ndim != 4 or guide.shape[:2] != (1, 1):
        raise ValueError(f"bilateral_slice: expected a guide of shape (1, 1, H, W), got {tuple(guide.shape)}")


def grid_size(height: int, width: int, *, cell: int, bins: int) -> tuple[int, int, int]:
    """``(bins, Hg, Wg)`` for an image of ``height x width``: about one node every ``cell``
    pixels along each side (at least two per side), ``bins`` along the intensity axis.

    Example:
        >>> grid_size(342, 512, cell=32, bins=8)
        (8, 12, 17)
    """
    if cell < 1 or bins < 2:
        raise ValueError(f"grid_size: cell must be >= 1 and bins >= 2, got {cell} and {bins}")
    return bins, max(2, round(height / cell) + 1), max(2, round(width / cell) + 1)


def identity_grid(
    bins: int, height: int, width: int, *, dtype: torch.dtype = torch.float32, device: torch.device | str = "cpu"
) -> Tensor:
    """A grid whose every cell holds the identity colour transform.

    Args:
        bins: nodes along the intensity axis.
        height: nodes along the image's height.
        width: nodes along the image's width.
        dtype: the grid's dtype.
        device: the grid's device.

    Returns:
        The grid: at every node, the 3 x 4 affine map ``[I | 0]`` stored row by row.

    Shape:
        - output: :math:`(1, 12, bins, height, width)`

    Example:
        >>> identity_grid(2, 2, 2)[0, :, 0, 0, 0].view(3, 4)
        tensor([[1., 0., 0., 0.],
                [0., 1., 0., 0.],
                [0., 0., 1., 0.]])
    """
    grid = torch.zeros(1, COEFFICIENTS, bins, height, width, dtype=dtype, device=device)
    for channel in range(3):
        grid[:, 4 * channel + channel] = 1.0
    return grid


def bilateral_slice(grid: Tensor, guide: Tensor) -> Tensor:
    """Per-pixel values of a bilateral grid: trilinear interpolation at ``(x, y, guide(x, y))``.

    The grid's corners sit on the image's corner pixels; its intensity axis spans guide values
    0 to 1 (values outside are clamped to the border).

    Args:
        grid: the grid, ``C`` values per node.
        guide: intensities in [0, 1] that pick each pixel's position on the grid's depth axis.

    Returns:
        ``C`` values per pixel.

    Shape:
        - grid: :math:`(1, C, D, H_g, W_g)`
        - guide: :math:`(1, 1, H, W)`
        - output: :math:`(1, C, H, W)`

    Example:
        >>> grid = torch.zeros(1, 1, 2, 2, 2)
        >>> grid[:, :, 1] = 1.0  # value = intensity
        >>> bilateral_slice(grid, torch.full((1, 1, 3, 3), 0.25))[0, 0, 1, 1].item()
        0.25
    """
    _check(grid, guide)
    height, width = guide.shape[-2:]
    ys = torch.linspace(-1.0, 1.0, height, dtype=grid.dtype, device=grid.device)
    xs = torch.linspace(-1.0, 1.0, width, dtype=grid.dtype, device=grid.device)
    zs = guide[0, 0].to(grid.dtype) * 2.0 - 1.0
    coords = torch.stack(
        [xs.view(1, width).expand(height, width), ys.view(height, 1).expand(height, width), zs], dim=-1
    )
    sliced = F.grid_sample(grid, coords[None, None], mode="bilinear", padding_mode="border", align_corners=True)
    return sliced[:, :, 0]


def grid_roughness(grid: Tensor, *, spatial: float = 1.0) -> Tensor:
    """Sum of squared differences between neighbouring grid nodes: along the intensity axis,
    plus ``spatial`` times those along both spatial axes. 0 for a grid that holds one transform
    everywhere. As a penalty it keeps the tone curves the grid encodes from bending steeply
    (Chen et al. 2016 regularise their grids the same way); ``spatial=0`` leaves neighbouring
    cells free to hold different transforms and only smooths each cell's tone curve.

    Shape:
        - grid: :math:`(1, C, D, H_g, W_g)`; output: scalar

    Example:
        >>> grid = torch.zeros(1, 1, 2, 2, 2)
        >>> grid[:, :, 1] = 1.0  # one step of 1 along the intensity axis, at 4 nodes
        >>> grid_roughness(grid).item()
        4.0
    """
    check_tensor(grid, "grid_roughness grid", "(1, C, D, Hg, Wg)", image=False)
    if grid.ndim != 5:
        raise ValueError(f"grid_roughness: expected a grid of shape (1, C, D, Hg, Wg), got {tuple(grid.shape)}")
    intensity = (grid.diff(dim=2) ** 2).sum()
    if spatial == 0:
        return intensity
    return intensity + spatial * sum((grid.diff(dim=axis) ** 2).sum() for axis in (3, 4))


def apply_affine(coefficients: Tensor, image: Tensor) -> Tensor:
    """Apply per-pixel affine colour transforms: ``out_c = sum_j A_cj image_j + b_c``.

    Args:
        coefficients: per pixel and output channel ``c``, ``A_c0, A_c1, A_c2, b_c`` (channels
            ``4c .. 4c + 3``).
        image: the RGB image to transform.

    Shape:
        - coefficients: :math:`(1, 12, H, W)`; image: :math:`(1, 3, H, W)`; output like image

    Example:
        >>> apply_affine(identity_grid(2, 2, 2)[:, :, 0], torch.rand(1, 3, 2, 2)).shape
        torch.Size([1, 3, 2, 2])
    """
    check_tensor(coefficients, "apply_affine coefficients", "(1, 12, H, W)", image=False)
    check_tensor(image, "apply_affine image", "(1, 3, H, W)")
    if coefficients.ndim != 4 or coefficients.shape[1] != COEFFICIENTS:
        raise ValueError(f"apply_affine: expected coefficients (1, 12, H, W), got {tuple(coefficients.shape)}")
    if image.ndim != 4 or image.shape[1] != 3 or image.shape[-2:] != coefficients.shape[-2:]:
        raise ValueError(
            f"apply_affine: expected an RGB image (1, 3, H, W) of the coefficients' size, got {tuple(image.shape)}"
        )
    per_channel = coefficients.view(1, 3, 4, *coefficients.shape[-2:])
    return (per_channel[:, :, :3] * image[:, None]).sum(dim=2) + per_channel[:, :, 3]


class BilateralGrid(nn.Module):
    """Render an image through a bilateral grid of affine colour transforms.

    ``forward(grid) = apply_affine(bilateral_slice(grid, guide), image)``, with the guide and
    the image fixed at construction (the guide is typically the content's luminance, the image
    the content or a recoloured content).

    Shape:
        - guide: :math:`(1, 1, H, W)`; image: :math:`(1, 3, H, W)`
        - forward's grid: :math:`(1, 12, D, H_g, W_g)`; output: :math:`(1, 3, H, W)`

    Example:
        >>> image = torch.rand(1, 3, 8, 8)
        >>> render = BilateralGrid(image.mean(1, keepdim=True), image)
        >>> torch.allclose(render(identity_grid(4, 3, 3)), image, atol=1e-6)
        True
    """

    def __init__(self, guide: Tensor, image: Tensor) -> None:
        super().__init__()
        check_tensor(guide, "BilateralGrid guide", "(1, 1, H, W)")
        check_tensor(image, "BilateralGrid image", "(1, 3, H, W)")
        if guide.ndim != 4 or guide.shape[:2] != (1, 1) or image.ndim != 4 or image.shape[:2] != (1, 3):
            raise ValueError(
                "BilateralGrid: expected a guide (1, 1, H, W) and an image (1, 3, H, W), "
                f"got {tuple(guide.shape)} and {tuple(image.shape)}"
            )
        if guide.shape[-2:] != image.shape[-2:]:
            raise ValueError(
                f"BilateralGrid: guide and image sizes differ: {tuple(guide.shape)} vs {tuple(image.shape)}"
            )
        self.register_buffer("guide", guide)
        self.register_buffer("image", image)

    def forward(self, grid: Tensor) -> Tensor:
        return apply_affine(bilateral_slice(grid, self.guide), self.image.to(grid.dtype))


def fit_grid(grid: Tensor, render: Callable[[Tensor], Tensor], target: Tensor, *, iterations: int = 30) -> Tensor:
    """The grid whose rendering is closest to ``target`` in the least-squares sense.

    L-BFGS from ``grid`` (the rendering is linear in the grid, so the problem is a linear least
    squares one; a few dozen iterations suffice). Used to start a video frame's grid from the
    previous stylised frame warped into it.

    Args:
        grid: the start, e.g. :func:`identity_grid`.
        render: maps a grid to an image (e.g. a :class:`BilateralGrid`).
        target: the image to reproduce (resized to the rendering's size).
        iterations: L-BFGS iterations.

    Returns:
        The fitted grid.

    Shape:
        - grid: :math:`(1, 12, D, H_g, W_g)`; target: :math:`(1, 3, H', W')`; output like grid

    Example:
        >>> image = torch.rand(1, 3, 16, 16)
        >>> render = BilateralGrid(image.mean(1, keepdim=True), image)
        >>> darker = 0.5 * image + 0.1  # one affine map, which a grid can hold
        >>> start = identity_grid(4, 3, 3)
        >>> fitted = fit_grid(start, render, darker)
        >>> def error(grid): return float((render(grid) - darker).abs().mean())
        >>> error(fitted) < 0.05 * error(start)  # 30 iterations: close, not exact
        True
    """
    _check_grid(grid, "fit_grid")
    check_tensor(target, "fit_grid target", "(1, 3, H, W)")
    if target.ndim != 4 or target.shape[:2] != (1, 3):
        raise ValueError(f"fit_grid: expected the target as one RGB image (1, 3, H, W), got {tuple(target.shape)}")
    with torch.no_grad():
        size = render(grid).shape[-2:]
    goal = F.interpolate(target.to(grid), size=tuple(size), mode="bilinear", align_corners=False, antialias=True)

    def loss(image: Tensor) -> tuple[Tensor, dict[str, Tensor]]:
        error = (image - goal).pow(2).mean() * 1e4  # scaled so that L-BFGS's first step is not tiny
        return error, {"fit": error}

    outcome = optimize(grid, loss, iterations=iterations, render=render, bounds=None)
    assert outcome.parameters is not None
    return outcome.parameters
