import pytest
import torch

from restyle.errors import RestyleError
from restyle.pyramid import LevelImage, compose_levels, level_count, level_shapes, pyramid_sizes


def test_pyramid_sizes_halve_down_to_min_size():
    assert pyramid_sizes(512, min_size=128) == [128, 256, 512]
    assert pyramid_sizes(512, min_size=129) == [256, 512]
    assert pyramid_sizes(512, enabled=False) == [512]
    assert pyramid_sizes(900, min_size=100, factor=3) == [100, 300, 900]
    with pytest.raises(RestyleError, match="^--pyramid-factor must be above 1, not 1$"):
        pyramid_sizes(512, factor=1)
    # a factor so close to 1 that a scale rounds to itself looped forever
    with pytest.raises(
        RestyleError, match="^--pyramid-factor 1.0001 is too close to 1: the scale below 64 px would be 64 px too$"
    ):
        pyramid_sizes(64, min_size=16, factor=1.0001)
    assert pyramid_sizes(64, min_size=60, factor=1.02) == [60, 61, 62, 63, 64]  # each 1 px apart, still ends
    assert pyramid_sizes(512, min_size=128, factor=1.0001, enabled=False) == [512]


def test_level_count_and_shapes():
    # the coarsest level keeps a short side of at least `coarsest` pixels
    for h, w in [(341, 512), (16, 16), (17, 40), (700, 467)]:
        n = level_count(h, w, coarsest=16)
        shapes = level_shapes(h, w, n)
        assert len(shapes) == n and shapes[0] == (h, w)
        assert min(shapes[-1]) >= 8  # rounded up, so at least half of 16
        assert min(h, w) // 2 ** (n - 1) >= 16 and min(h, w) // 2**n < 16
    assert level_shapes(7, 9, 4) == [(7, 9), (4, 5), (2, 3), (1, 2)]
    with pytest.raises(RestyleError):
        level_shapes(7, 9, 0)


def test_compose_levels_reference_values():
    # A 2x2 level upsampled bilinearly (half-pixel centres) to 4x4: output row i samples source
    # row (i + 0.5) / 2 - 0.5 = -0.25, 0.25, 0.75, 1.25, clamped at the borders.
    level = torch.tensor([[1.0, 3.0], [5.0, 7.0]]).view(1, 1, 2, 2)
    weights = torch.tensor([[1.0, 0.0], [0.75, 0.25], [0.25, 0.75], [0.0, 1.0]])  # (4, 2)
    expected = weights @ level[0, 0] @ weights.T
    base = torch.arange(16.0).view(1, 1, 4, 4)
    fine = torch.full((1, 1, 4, 4), 0.5)
    out = compose_levels(base, [fine, level])
    assert torch.allclose(out[0, 0], base[0, 0] + 0.5 + expected)
    assert torch.equal(compose_levels(base, []), base)


def test_level_image_starts_at_its_base_and_equals_the_function():
    torch.manual_seed(0)
    base = torch.rand(1, 3, 23, 30)
    image = LevelImage(base, levels=3)
    assert image.shapes == [(23, 30), (12, 15), (6, 8)]
    zeros = image.zeros()
    assert zeros.shape == (3 * (23 * 30 + 12 * 15 + 6 * 8),)
    assert torch.equal(image(zeros), base)
    flat = torch.randn_like(zeros)
    assert torch.allclose(image(flat), compose_levels(base, image.split(flat)).clamp(0, 1))
    out = image(flat)
    assert out.min() >= 0 and out.max() <= 1 and out.shape == base.shape


def test_level_image_gradcheck():
    torch.manual_seed(1)
    base = 0.3 + 0.4 * torch.rand(1, 3, 9, 11, dtype=torch.float64)
    image = LevelImage(base, levels=3)
    flat = (0.01 * torch.randn(image.zeros().shape, dtype=torch.float64)).requires_grad_(True)
    assert torch.autograd.gradcheck(image, (flat,))


def test_a_coarse_level_gathers_the_gradient_of_its_footprint():
    # d <w, image> / d level_k = U_k^T w: for a constant w, a coarse cell's gradient is about
    # its footprint's area (4^k pixels), which is what makes large moves cheap for L-BFGS.
    base = torch.full((1, 1, 32, 32), 0.5)
    image = LevelImage(base, levels=3)
    flat = image.zeros().requires_grad_(True)
    image(flat).sum().backward()
    grads = image.split(flat.grad)
    for k, g in enumerate(grads):
        assert torch.allclose(g.sum(), torch.tensor(32.0 * 32.0))  # interpolation weights sum to 1
        assert torch.allclose(g[..., 2:-2, 2:-2], torch.full_like(g[..., 2:-2, 2:-2], 4.0**k))


def test_level_image_bad_input():
    with pytest.raises(ValueError, match=r"\(B, C, H, W\)"):
        LevelImage(torch.rand(3, 8, 8))
    image = LevelImage(torch.rand(1, 3, 8, 8), levels=2)
    with pytest.raises(ValueError, match="flat parameters of 240 values"):
        image(torch.zeros(10))
    with pytest.raises(ValueError, match="base's B, C"):
        compose_levels(torch.rand(1, 3, 8, 8), [torch.rand(1, 1, 4, 4)])
