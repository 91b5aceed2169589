import numpy as np
import pytest
import torch

from restyle.bilateral import (
    BilateralGrid,
    apply_affine,
    bilateral_slice,
    fit_grid,
    grid_roughness,
    grid_size,
    identity_grid,
)
from restyle.matting import MattingLaplacian


def trilinear_reference(grid: np.ndarray, guide: np.ndarray) -> np.ndarray:
    """Trilinear interpolation written out per pixel: grid (C, D, Hg, Wg), guide (H, W)."""
    c, d, hg, wg = grid.shape
    h, w = guide.shape
    out = np.zeros((c, h, w))
    for i in range(h):
        for j in range(w):
            y = i * (hg - 1) / max(h - 1, 1)
            x = j * (wg - 1) / max(w - 1, 1)
            z = min(max(guide[i, j], 0.0), 1.0) * (d - 1)
            y0, x0, z0 = min(int(y), hg - 2), min(int(x), wg - 2), min(int(z), d - 2)
            ty, tx, tz = y - y0, x - x0, z - z0
            for dz, wz in ((0, 1 - tz), (1, tz)):
                for dy, wy in ((0, 1 - ty), (1, ty)):
                    for dx, wx in ((0, 1 - tx), (1, tx)):
                        out[:, i, j] += wz * wy * wx * grid[:, z0 + dz, y0 + dy, x0 + dx]
    return out


@pytest.mark.parametrize("shape", [(7, 9), (3, 11), (10, 3)])
def test_slice_matches_explicit_trilinear_interpolation(shape):
    gen = torch.Generator().manual_seed(0)
    grid = torch.randn(1, 5, 4, 3, 4, generator=gen, dtype=torch.float64)
    guide = torch.rand(1, 1, *shape, generator=gen, dtype=torch.float64) * 1.2 - 0.1  # some outside [0, 1]
    guide[0, 0, 0, 0], guide[0, 0, -1, -1] = 0.0, 1.0
    out = bilateral_slice(grid, guide)
    assert out.shape == (1, 5, *shape)
    ref = trilinear_reference(grid[0].numpy(), guide[0, 0].numpy())
    np.testing.assert_allclose(out[0].numpy(), ref, rtol=1e-10, atol=1e-12)


def test_slice_and_apply_gradcheck():
    gen = torch.Generator().manual_seed(1)
    grid = torch.randn(1, 12, 3, 2, 3, generator=gen, dtype=torch.float64, requires_grad=True)
    guide = torch.rand(1, 1, 5, 6, generator=gen, dtype=torch.float64)
    image = torch.rand(1, 3, 5, 6, generator=gen, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda g, x: apply_affine(bilateral_slice(g, guide), x), (grid, image))


def test_identity_grid_returns_the_image_and_module_equals_function():
    image = torch.rand(1, 3, 9, 13)
    guide = image.mean(dim=1, keepdim=True)
    assert torch.allclose(BilateralGrid(guide, image)(identity_grid(5, *grid_size(9, 13, cell=4, bins=5)[1:])), image)
    grid = torch.randn(1, 12, 3, 4, 5)
    assert torch.equal(BilateralGrid(guide, image)(grid), apply_affine(bilateral_slice(grid, guide), image))


def test_apply_affine_reference_values():
    coefficients = torch.zeros(1, 12, 1, 1)
    coefficients[0, :4, 0, 0] = torch.tensor([1.0, 2.0, 3.0, 0.5])  # red = r + 2g + 3b + 0.5
    coefficients[0, 9, 0, 0] = 1.0  # blue = g
    pixel = torch.tensor([0.1, 0.2, 0.3]).view(1, 3, 1, 1)
    assert torch.allclose(apply_affine(coefficients, pixel).flatten(), torch.tensor([1.9, 0.0, 0.2]))


def test_one_affine_map_everywhere_has_zero_matting_energy():
    # A grid that holds the same transform in every cell maps the content by one affine map,
    # which the content's matting Laplacian annihilates: the parameterisation is photorealistic.
    gen = torch.Generator().manual_seed(2)
    content = torch.rand(1, 3, 12, 10, generator=gen, dtype=torch.float64)
    transform = torch.randn(12, generator=gen, dtype=torch.float64)
    grid = transform.view(1, 12, 1, 1, 1).expand(1, 12, 4, 3, 3).contiguous()
    out = BilateralGrid(content.mean(dim=1, keepdim=True), content)(grid)
    laplacian = MattingLaplacian(content, eps=1e-12)
    assert float(laplacian.matvec(out[0]).abs().max()) < 1e-6 * float(out.abs().max())


def test_grid_size_and_bad_shapes():
    assert grid_size(342, 512, cell=32, bins=8) == (8, 12, 17)
    assert grid_size(10, 10, cell=64, bins=2) == (2, 2, 2)
    with pytest.raises(ValueError, match="bins"):
        grid_size(10, 10, cell=4, bins=1)
    with pytest.raises(ValueError, match="grid of shape"):
        bilateral_slice(torch.zeros(1, 12, 3, 3), torch.zeros(1, 1, 4, 4))
    with pytest.raises(ValueError, match="guide of shape"):
        bilateral_slice(torch.zeros(1, 12, 2, 3, 3), torch.zeros(1, 3, 4, 4))
    with pytest.raises(ValueError, match="coefficients"):
        apply_affine(torch.zeros(1, 9, 4, 4), torch.zeros(1, 3, 4, 4))
    with pytest.raises(ValueError, match="RGB image"):
        apply_affine(torch.zeros(1, 12, 4, 4), torch.zeros(1, 3, 5, 4))
    with pytest.raises(ValueError, match="sizes differ"):
        BilateralGrid(torch.zeros(1, 1, 4, 4), torch.zeros(1, 3, 5, 4))
    with pytest.raises(ValueError, match=r"a guide \(1, 1, H, W\) and an image \(1, 3, H, W\), got .* and \(3, 4, 4\)"):
        BilateralGrid(torch.zeros(1, 1, 4, 4), torch.zeros(3, 4, 4))
    render = BilateralGrid(torch.zeros(1, 1, 4, 4), torch.zeros(1, 3, 4, 4))
    with pytest.raises(ValueError, match=r"^fit_grid: expected a grid of shape"):
        fit_grid(torch.zeros(12, 2, 2, 2), render, torch.zeros(1, 3, 4, 4))
    with pytest.raises(ValueError, match=r"^fit_grid: expected the target as one RGB image"):
        fit_grid(identity_grid(2, 2, 2), render, torch.zeros(3, 4, 4))


def test_operators_take_tensors_only():
    """A path or an array is a TypeError naming the argument, as kornia's operators give."""
    grid, image = identity_grid(2, 2, 2), torch.zeros(1, 3, 4, 4)
    guide, array = torch.zeros(1, 1, 4, 4), np.zeros((4, 4, 3))
    calls = {
        "bilateral_slice grid": lambda: bilateral_slice(grid.numpy(), guide),
        "bilateral_slice guide": lambda: bilateral_slice(grid, "guide.png"),
        "apply_affine coefficients": lambda: apply_affine(grid[:, :, 0].numpy(), image),
        "apply_affine image": lambda: apply_affine(grid[:, :, 0], array),
        "grid_roughness grid": lambda: grid_roughness(grid.tolist()),
        "BilateralGrid guide": lambda: BilateralGrid("guide.png", image),
        "BilateralGrid image": lambda: BilateralGrid(guide, array),
        "fit_grid grid": lambda: fit_grid(grid.numpy(), BilateralGrid(guide, image), image),
        "fit_grid target": lambda: fit_grid(grid, BilateralGrid(guide, image), "target.png"),
    }
    for what, call in calls.items():
        with pytest.raises(TypeError, match=rf"^{what}: expected a tensor \(1, "):
            call()


def test_fit_grid_recovers_a_grid_that_produced_the_target():
    from restyle.bilateral import fit_grid

    gen = torch.Generator().manual_seed(3)
    image = torch.rand(1, 3, 24, 32, generator=gen, dtype=torch.float64)
    render = BilateralGrid(image.mean(dim=1, keepdim=True), image)
    start = identity_grid(4, 3, 4, dtype=torch.float64)
    truth = start + 0.1 * torch.randn(start.shape, generator=gen, dtype=torch.float64)
    target = render(truth)
    fitted = fit_grid(start, render, target, iterations=60)
    before = float((render(start) - target).pow(2).mean())
    assert float((render(fitted) - target).pow(2).mean()) < 1e-3 * before


def test_grid_roughness_reference_values():
    from restyle.bilateral import grid_roughness

    assert float(grid_roughness(identity_grid(4, 3, 5))) == 0.0  # one transform everywhere
    grid = torch.zeros(1, 2, 3, 2, 4)
    grid[0, 1, :, :, 2:] = 1.0  # channel 1 steps by 1 between columns 1 and 2: 3 * 2 node pairs
    grid[0, 0, 2] = 2.0  # channel 0 steps by 2 between bins 1 and 2: 2 * 4 node pairs
    assert float(grid_roughness(grid)) == 6 * 1.0 + 8 * 4.0
    assert float(grid_roughness(grid, spatial=0.0)) == 8 * 4.0  # the tone-curve steps only
    assert float(grid_roughness(grid, spatial=0.5)) == 0.5 * 6 * 1.0 + 8 * 4.0
    with pytest.raises(ValueError, match="grid of shape"):
        grid_roughness(torch.zeros(1, 12, 3, 3))
