import pytest
import torch

from restyle.losses import (
    ContentLoss,
    GramLoss,
    TVLoss,
    content_loss,
    gram_loss,
    gram_matrix,
    masked_gram,
    self_product,
    tv_loss,
)


def test_gram_of_known_tensor():
    # Two channels over a 1x2 map: f1 = (1, 2), f2 = (3, 4).
    f = torch.tensor([[[[1.0, 2.0]], [[3.0, 4.0]]]])
    expected = torch.tensor([[5.0, 11.0], [11.0, 25.0]])
    assert torch.allclose(gram_matrix(f, normalize=False)[0], expected)
    assert torch.allclose(gram_matrix(f)[0], expected / 4)  # C * H * W = 4


def test_self_product_matches_bmm_and_its_custom_gradient_passes_gradcheck():
    a = torch.randn(2, 4, 9, dtype=torch.float64, requires_grad=True)
    assert torch.allclose(self_product(a), torch.bmm(a, a.transpose(1, 2)), atol=1e-12)
    # an asymmetric upstream gradient: the backward must use g + g^T, not 2 g
    weights = torch.randn(2, 4, 4, dtype=torch.float64)
    (self_product(a) * weights).sum().backward()
    reference = a.detach().clone().requires_grad_(True)
    (torch.bmm(reference, reference.transpose(1, 2)) * weights).sum().backward()
    assert torch.allclose(a.grad, reference.grad, atol=1e-12)
    assert torch.autograd.gradcheck(self_product, (torch.randn(1, 3, 5, dtype=torch.float64, requires_grad=True),))
    with pytest.raises(ValueError, match=r"\(B, C, N\)"):
        self_product(torch.randn(3, 5))


def test_gram_shape_symmetric_and_float32_under_bf16():
    f = torch.randn(2, 5, 7, 3)
    g = gram_matrix(f)
    assert g.shape == (2, 5, 5)
    assert torch.allclose(g, g.transpose(1, 2))
    assert gram_matrix(f.bfloat16()).dtype == torch.float32


def test_gram_of_bf16_features_is_accurate_and_differentiable():
    # The product runs in bfloat16 with float32 accumulation: only the rounding of the result
    # to bfloat16 (8 bits of mantissa) separates it from the exact Gram of the same values.
    f = torch.rand(1, 8, 40, 50).bfloat16().requires_grad_(True)
    exact = gram_matrix(f.detach().double())
    g = gram_matrix(f)
    assert g.dtype == torch.float32
    assert torch.allclose(g.double(), exact, rtol=2**-8, atol=0)
    g.sum().backward()  # d sum(F F^T) / dF[i, p] = 2 * sum_j F[j, p] for every channel i
    expected = 2 * f.detach().double().sum(dim=1, keepdim=True).expand(-1, 8, -1, -1) / (8 * 40 * 50)
    assert f.grad.dtype == torch.bfloat16
    assert torch.allclose(f.grad.double(), expected, rtol=2**-6, atol=1e-6)
    # float16 features are multiplied in float32: this Gram's entries (4e6) overflow float16.
    big = torch.full((1, 2, 20, 20), 100.0, dtype=torch.float16)
    assert torch.equal(gram_matrix(big, normalize=False), torch.full((1, 2, 2), 4e6))
    assert torch.equal(masked_gram(big, torch.ones(1, 20, 20)), torch.full((1, 2, 2), 5e3))


def test_masked_gram_of_bf16_features_is_accurate():
    # Both branches: overlapping soft masks (one weighted product) and disjoint hard masks
    # (a product per region); float32 results within bfloat16 rounding of the exact Grams.
    f = torch.rand(1, 6, 20, 30).bfloat16()
    soft = torch.rand(2, 20, 30)
    hard = torch.zeros(3, 20, 30)
    hard[0, :, :10], hard[1, :, 10:20], hard[2, :, 20:] = 1, 1, 1
    for masks in (soft, hard):
        g = masked_gram(f, masks)
        exact = masked_gram(f.double(), masks.bfloat16().double())
        assert g.dtype == torch.float32
        assert torch.allclose(g.double(), exact, rtol=2**-7, atol=0)


def test_gram_loss_analytic():
    f = torch.tensor([[[[1.0, 2.0]], [[3.0, 4.0]]]])
    target = torch.zeros(2, 2)
    g = torch.tensor([[5.0, 11.0], [11.0, 25.0]]) / 4
    assert torch.isclose(gram_loss(f, target), (g**2).mean())
    assert gram_loss(f, gram_matrix(f)[0]) == 0


def test_content_loss_analytic():
    a = torch.zeros(1, 2, 2, 2)
    b = torch.full((1, 2, 2, 2), 3.0)
    assert content_loss(a, b) == 9.0
    with pytest.raises(ValueError, match="shapes differ"):
        content_loss(a, torch.zeros(1, 2, 3, 2))


def test_tv_of_checkerboard_and_constant():
    n = 6
    checker = ((torch.arange(n)[:, None] + torch.arange(n)[None]) % 2).float()
    image = checker.expand(1, 3, n, n) / 255.0  # unit steps on the 0..255 scale
    # each channel: n rows of n-1 horizontal steps plus the same vertically, each squared = 1
    assert tv_loss(image) == pytest.approx(3 * 2 * n * (n - 1))
    assert tv_loss(torch.full((1, 3, 5, 5), 0.3)) == 0


def test_shape_errors():
    with pytest.raises(ValueError, match="B, C, H, W"):
        gram_matrix(torch.zeros(3, 4, 4))
    with pytest.raises(ValueError, match="B, C, H, W"):
        tv_loss(torch.zeros(4, 4))
    with pytest.raises(TypeError, match="expected a tensor of features"):
        gram_matrix([[0.0]])


def test_modules_equal_functions():
    f = torch.randn(1, 4, 5, 5)
    t = torch.randn(1, 4, 5, 5)
    g = gram_matrix(torch.randn(1, 4, 5, 5))
    assert ContentLoss(t)(f) == content_loss(f, t)
    assert GramLoss(g[0])(f) == gram_loss(f, g[0])
    img = torch.rand(1, 3, 6, 6)
    assert TVLoss()(img) == tv_loss(img)


def test_gradcheck_losses_float64():
    f = torch.randn(1, 3, 4, 4, dtype=torch.float64, requires_grad=True)
    target = gram_matrix(torch.randn(1, 3, 4, 4, dtype=torch.float64)).detach()
    assert torch.autograd.gradcheck(lambda x: gram_loss(x, target), (f,))
    assert torch.autograd.gradcheck(tv_loss, (torch.rand(1, 3, 5, 4, dtype=torch.float64, requires_grad=True),))
    t = torch.randn(1, 3, 4, 4, dtype=torch.float64)
    assert torch.autograd.gradcheck(lambda x: content_loss(x, t), (f,))


def test_tv_value_and_gradient_analytic():
    # One row with values 0, 1, 3 on the 0..255 scale: TV = 1^2 + 2^2 = 5.
    x = (torch.tensor([[[[0.0, 1.0, 3.0]]]]) / 255.0).requires_grad_(True)
    loss = tv_loss(x)
    assert loss.item() == pytest.approx(5.0, rel=1e-5)
    loss.backward()
    # d/dv = (-2, 2 - 4, 4) on the 255 scale; the chain rule through v = 255 x adds a factor 255.
    assert torch.allclose(x.grad.flatten(), torch.tensor([-2.0, -2.0, 4.0]) * 255.0, rtol=1e-4)


def test_masked_gram_over_region_supports_equals_the_dense_product():
    import torch.nn.functional as F

    gen = torch.Generator().manual_seed(0)
    features = torch.rand(1, 6, 15, 21, generator=gen, dtype=torch.float64, requires_grad=True)
    labels = torch.randint(0, 3, (15, 21), generator=gen)
    labels[:, :7] = 0  # mostly disjoint regions, soft at their borders after averaging
    masks = F.avg_pool2d(F.one_hot(labels, 3).permute(2, 0, 1).double()[None], 3, 1, 1, count_include_pad=False)[0]
    flat = features.reshape(1, 6, -1) * masks.reshape(3, 1, -1)
    dense = torch.bmm(flat, flat.transpose(1, 2)) / (6 * masks.sum(dim=(1, 2)).view(3, 1, 1))
    assert torch.allclose(masked_gram(features, masks), dense, rtol=1e-12, atol=0)
    assert torch.autograd.gradcheck(lambda f: masked_gram(f, masks), (features,))


@pytest.mark.parametrize("masks", ["none", "soft", "hard"])
def test_grams_of_channels_last_features_equal_those_of_contiguous_ones(masks):
    # Channels-last features are multiplied as stored ((H*W, C) in memory, no copy); the Gram,
    # its gradient and gradcheck must match the contiguous layout's, and the gradient comes back
    # channels-last (what the encoder's backward expects).
    gen = torch.Generator().manual_seed(1)
    features = torch.randn(1, 5, 9, 11, generator=gen, dtype=torch.float64)
    last = features.contiguous(memory_format=torch.channels_last).requires_grad_(True)
    plain = features.clone().requires_grad_(True)
    region = torch.zeros(2, 9, 11, dtype=torch.float64)
    region[0, :, :4], region[1, :, 4:] = 1.0, 1.0
    mask = {"soft": torch.rand(2, 9, 11, generator=gen, dtype=torch.float64), "hard": region}.get(masks)

    def gram(f):
        return gram_matrix(f) if mask is None else masked_gram(f, mask)

    weights = torch.randn(gram(plain).shape, generator=gen, dtype=torch.float64)
    (gram(last) * weights).sum().backward()
    (gram(plain) * weights).sum().backward()
    assert torch.allclose(gram(last), gram(plain), rtol=1e-12, atol=1e-14)
    assert torch.allclose(last.grad, plain.grad, rtol=1e-12, atol=1e-14)
    assert last.grad.is_contiguous(memory_format=torch.channels_last)
    assert torch.autograd.gradcheck(gram, (last.detach().requires_grad_(True),))


def test_sliced_wasserstein_of_a_shift_and_of_a_permutation():
    from restyle.losses import resample_sorted, sliced_wasserstein_loss

    gen = torch.Generator().manual_seed(1)
    points = torch.randn(50, 3, generator=gen, dtype=torch.float64)
    directions = torch.randn(3, 8, generator=gen, dtype=torch.float64)
    directions = directions / directions.norm(dim=0, keepdim=True)
    target = (points @ directions).sort(dim=0).values
    assert float(sliced_wasserstein_loss(points[torch.randperm(50, generator=gen)], target, directions)) < 1e-24
    shift = torch.tensor([0.3, -1.0, 2.0], dtype=torch.float64)
    expected = (shift @ directions).pow(2).mean()  # sorting keeps the order under a shift
    assert torch.allclose(sliced_wasserstein_loss(points + shift, target, directions), expected, rtol=1e-12)
    assert torch.equal(resample_sorted(target, 50), target)
    assert torch.allclose(resample_sorted(torch.tensor([[0.0], [2.0]]), 5).flatten(), torch.linspace(0, 2, 5))
    moving = points.clone().requires_grad_(True)
    assert torch.autograd.gradcheck(lambda p: sliced_wasserstein_loss(p, target, directions), (moving,))
    with pytest.raises(ValueError, match="target_sorted"):
        sliced_wasserstein_loss(points, target[:10], directions)


def test_color_distribution_loss_per_region():
    from restyle.losses import ColorDistributionLoss

    gen = torch.Generator().manual_seed(2)
    style = torch.rand(1, 3, 10, 12, generator=gen) * 0.5 + 0.25
    masks = torch.zeros(2, 10, 12)
    masks[0, :4], masks[1, 4:] = 1.0, 1.0
    loss = ColorDistributionLoss(style, content_masks=masks, style_masks=masks)
    assert float(loss(style)) < 1e-8
    # each region's pixels shuffled within the region: the same colour distributions
    flat = style.reshape(3, -1).clone()
    top = torch.arange(48)
    flat[:, top] = flat[:, top[torch.randperm(48, generator=gen)]]
    assert float(loss(flat.reshape(1, 3, 10, 12))) < 1e-8
    # swapping the two regions' colours costs something; the loss follows the masks
    swapped = torch.cat([style[..., 6:, :], style[..., :6, :]], dim=2)
    assert float(loss(swapped)) > 1.0
    # a region missing from the style is skipped
    empty = masks.clone()
    empty[1] = 0.0
    only_top = ColorDistributionLoss(style, content_masks=masks, style_masks=empty)
    brighter = style.clone()
    brighter[..., 4:, :] += 0.2
    assert float(only_top(brighter)) < 1e-8
    assert len(only_top.regions) == 1
