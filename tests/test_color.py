import pytest
import torch

from restyle.color import (
    combine_luminance,
    linear_to_srgb,
    luminance,
    match_color,
    match_luminance,
    rgb_to_ycbcr,
    srgb_to_linear,
    ycbcr_to_rgb,
)


def test_ycbcr_reference_values_and_round_trip():
    red = torch.tensor([1.0, 0.0, 0.0]).view(1, 3, 1, 1)
    ycc = rgb_to_ycbcr(red).flatten()
    # BT.601 full range: Y = 0.299, Cb = 0.5 - 0.168736, Cr = 1.0
    assert torch.allclose(ycc, torch.tensor([0.299, 0.5 - 0.168736, 1.0]), atol=1e-6)
    x = torch.rand(2, 3, 5, 4)
    assert torch.allclose(ycbcr_to_rgb(rgb_to_ycbcr(x)), x, atol=1e-5)


def test_luminance_is_grey():
    x = torch.rand(1, 3, 4, 4)
    y = luminance(x)
    assert torch.equal(y[:, 0], y[:, 1]) and torch.equal(y[:, 1], y[:, 2])
    assert torch.allclose(rgb_to_ycbcr(y)[:, 1:], torch.full((1, 2, 4, 4), 0.5), atol=1e-6)


def test_combine_luminance_takes_each_part():
    g = torch.Generator().manual_seed(0)
    # mid-range colours, so that no combination leaves the RGB gamut (which would be clamped)
    a, b = torch.rand(1, 3, 6, 6, generator=g) * 0.2 + 0.4, torch.rand(1, 3, 6, 6, generator=g) * 0.2 + 0.4
    out = rgb_to_ycbcr(combine_luminance(a, b))
    assert torch.allclose(out[:, :1], rgb_to_ycbcr(a)[:, :1], atol=1e-5)
    assert torch.allclose(out[:, 1:], rgb_to_ycbcr(b)[:, 1:], atol=1e-5)


def test_match_luminance_moves_mean_and_spread():
    g = torch.Generator().manual_seed(0)
    source = torch.rand(1, 3, 10, 12, generator=g)
    target = torch.rand(1, 3, 7, 5, generator=g) * 0.3 + 0.35  # a narrow spread: nothing clamped
    out = match_luminance(source, target)
    assert out.shape == source.shape
    assert torch.equal(out[:, 0], out[:, 1]) and torch.equal(out[:, 1], out[:, 2])  # grey
    y_source, y_target, y_out = (rgb_to_ycbcr(x)[0, 0].double() for x in (source, target, out))
    # reference: the affine map of the source's luma that takes its mean and std to the target's
    expected = (y_source - y_source.mean()) / y_source.std() * y_target.std() + y_target.mean()
    assert torch.allclose(y_out, expected, atol=1e-5)
    assert abs(float(y_out.mean() - y_target.mean())) < 1e-5 and abs(float(y_out.std() - y_target.std())) < 1e-5
    # a flat source stays flat, at the target's mean, not NaN
    flat = match_luminance(torch.full((1, 3, 4, 4), 0.7), target)
    assert torch.allclose(flat, torch.full_like(flat, float(y_target.mean())), atol=1e-5)
    with pytest.raises(ValueError, match="match_luminance"):
        match_luminance(torch.rand(3, 4, 4), target)


def _moments(x, w=None):
    p = x[0].reshape(3, -1).double()
    w = torch.ones(p.shape[1], dtype=p.dtype) if w is None else w.reshape(-1).double()
    m = (p * w).sum(1) / w.sum()
    c = ((p - m[:, None]) * w) @ (p - m[:, None]).T / w.sum()
    return m, c


def test_match_color_moves_mean_and_covariance():
    g = torch.Generator().manual_seed(0)
    source = torch.rand(1, 3, 20, 20, generator=g) * 0.3 + 0.2
    mix = torch.tensor([[0.2, 0.05, 0.0], [0.05, 0.15, 0.02], [0.0, 0.02, 0.1]])
    target = (torch.einsum("ij,bjhw->bihw", mix, torch.randn(1, 3, 30, 30, generator=g)) + 0.5).clamp(0, 1)
    out = match_color(source, target, eps=1e-9)
    mo, co = _moments(out)
    mt, ct = _moments(target)
    assert torch.allclose(mo, mt, atol=0.02)
    assert torch.allclose(co, ct, atol=0.01)


def test_match_color_with_weights_uses_only_the_region():
    source = torch.rand(1, 3, 10, 10)
    target = torch.zeros(1, 3, 10, 10)
    target[..., :5] = torch.tensor([0.9, 0.1, 0.1]).view(1, 3, 1, 1)  # red left half
    target[..., 5:] = torch.tensor([0.1, 0.1, 0.9]).view(1, 3, 1, 1)  # blue right half
    left = torch.zeros(1, 1, 10, 10)
    left[..., :5] = 1
    out = match_color(source, target, target_weights=left)
    assert torch.allclose(out.mean(dim=(2, 3)).flatten(), torch.tensor([0.9, 0.1, 0.1]), atol=0.02)


def test_shape_checks():
    with pytest.raises(ValueError, match="RGB batch"):
        rgb_to_ycbcr(torch.zeros(1, 4, 2, 2))
    with pytest.raises(ValueError, match="shapes differ"):
        combine_luminance(torch.zeros(1, 3, 2, 2), torch.zeros(1, 3, 2, 3))
    with pytest.raises(TypeError, match=r"^rgb_to_ycbcr: expected a tensor \(B, 3, H, W\), not ndarray; read an image"):
        rgb_to_ycbcr(torch.zeros(1, 3, 2, 2).numpy())
    with pytest.raises(TypeError, match=r"^match_color: expected a tensor \(B, 3, H, W\), not str"):
        match_color(torch.zeros(1, 3, 2, 2), "style.png")


def test_rgb_to_lab_matches_scikit_image_and_has_finite_gradients():
    import numpy as np
    from skimage.color import rgb2lab

    from restyle.color import rgb_to_lab

    x = torch.rand(1, 3, 6, 7, dtype=torch.float64)
    x[0, :, 0, 0] = 0.0  # black: the cube root's linear segment
    x[0, :, 0, 1] = 1.0
    x[0, :, 0, 2] = 0.04045  # the sRGB curve's knee
    ref = rgb2lab(x[0].permute(1, 2, 0).numpy())
    # (scikit-image rounds the CIE constants: 0.008856 and 7.787, hence 1e-4 rather than 1e-12)
    assert np.abs(rgb_to_lab(x)[0].permute(1, 2, 0).numpy() - ref).max() < 1e-4
    x.requires_grad_(True)
    rgb_to_lab(x).sum().backward()
    assert bool(torch.isfinite(x.grad).all())
    assert torch.autograd.gradcheck(rgb_to_lab, (torch.rand(1, 3, 2, 3, dtype=torch.float64, requires_grad=True),))


def test_srgb_curve_round_trip_anchor_values_and_gradient():
    x = torch.linspace(0, 1, 1001, dtype=torch.float64)
    assert torch.allclose(linear_to_srgb(srgb_to_linear(x)), x, atol=1e-12)
    # the standard's anchors: its linear segment ends at 0.04045 (0.0031308 linear); mid grey 0.5 is 0.2140
    assert float(srgb_to_linear(torch.tensor(0.04045, dtype=torch.float64))) == pytest.approx(0.0031308, rel=1e-4)
    assert float(srgb_to_linear(torch.tensor(0.5, dtype=torch.float64))) == pytest.approx(0.21404, abs=1e-5)
    grid = torch.tensor([0.0, 0.02, 0.3, 0.9], dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(srgb_to_linear, (grid,))
