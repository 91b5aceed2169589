import math

import pytest
import scipy.sparse
import scipy.sparse.linalg
import torch

from restyle.image import RestyleWarning
from restyle.matting import MattingLaplacian, matting_laplacian_sparse
from restyle.smoothing import (
    bilateral_filter,
    guided_filter,
    guided_upsample,
    local_affine_smoothing,
    matting_smoothing,
    posterization_refinement,
)


def brute_guided_filter(guide, p, r, eps):
    """He et al.'s colour guided filter written out pixel by pixel (border windows clipped)."""
    _, _, h, w = guide.shape
    a = torch.zeros(3, h, w, dtype=torch.float64)
    b = torch.zeros(h, w, dtype=torch.float64)
    for y in range(h):
        for x in range(w):
            ys, xs = slice(max(0, y - r), y + r + 1), slice(max(0, x - r), x + r + 1)
            win = guide[0, :, ys, xs].reshape(3, -1)
            pw = p[0, 0, ys, xs].reshape(-1)
            mu = win.mean(1)
            cov = (win - mu[:, None]) @ (win - mu[:, None]).T / win.shape[1]
            cross = (win - mu[:, None]) @ (pw - pw.mean()) / win.shape[1]
            a[:, y, x] = torch.linalg.solve(cov + eps * torch.eye(3, dtype=torch.float64), cross)
            b[y, x] = pw.mean() - a[:, y, x] @ mu
    out = torch.zeros(h, w, dtype=torch.float64)
    for y in range(h):
        for x in range(w):
            ys, xs = slice(max(0, y - r), y + r + 1), slice(max(0, x - r), x + r + 1)
            out[y, x] = a[:, ys, xs].reshape(3, -1).mean(1) @ guide[0, :, y, x] + b[ys, xs].mean()
    return out


def test_guided_filter_matches_brute_force():
    g = torch.Generator().manual_seed(0)
    guide = torch.rand(1, 3, 9, 8, dtype=torch.float64, generator=g)
    p = torch.rand(1, 1, 9, 8, dtype=torch.float64, generator=g)
    ours = guided_filter(guide, p, radius=2, eps=0.01)
    assert torch.allclose(ours[0, 0], brute_guided_filter(guide, p, 2, 0.01), atol=1e-9)


def test_affine_fit_refuses_an_eps_below_rounding():
    flat = torch.full((1, 3, 12, 12), 0.5)
    with pytest.raises(ValueError, match="eps must be at least 1e-12"):
        guided_filter(flat, flat, radius=2, eps=1e-100)
    assert torch.isfinite(guided_filter(flat, flat, radius=2, eps=1e-12)).all()


def test_guided_filter_keeps_the_guide_and_smooths_flat_noise():
    guide = torch.rand(1, 3, 16, 16, dtype=torch.float64)
    assert torch.allclose(guided_filter(guide, guide, radius=2, eps=1e-10), guide, atol=1e-4)
    flat = torch.full((1, 3, 16, 16), 0.5, dtype=torch.float64)
    noisy = flat + 0.05 * torch.randn(1, 3, 16, 16, dtype=torch.float64)
    assert guided_filter(flat, noisy, radius=3).std() < 0.3 * noisy.std()


def test_guided_upsample_at_the_same_size_is_the_guided_filter():
    g = torch.Generator().manual_seed(1)
    guide = torch.rand(1, 3, 9, 8, dtype=torch.float64, generator=g)
    p = torch.rand(1, 2, 9, 8, dtype=torch.float64, generator=g)
    ours = guided_upsample(p, guide, guide, radius=2, eps=0.01)
    assert ours.shape == p.shape and ours.dtype == p.dtype
    for c in range(2):  # against the pixel-by-pixel filter, one channel at a time
        assert torch.allclose(ours[0, c], brute_guided_filter(guide, p[:, c : c + 1], 2, 0.01), atol=1e-9)


def test_guided_upsample_recovers_a_colour_grade_and_the_detail_bicubic_loses():
    g = torch.Generator().manual_seed(2)
    full = torch.rand(1, 3, 48, 64, dtype=torch.float64, generator=g)  # all detail: the worst case for bicubic
    grade = torch.tensor([[0.6, 0.3, 0.0], [0.1, 0.5, 0.2], [0.0, 0.2, 0.9]], dtype=torch.float64)
    graded_full = torch.einsum("ij,bjhw->bihw", grade, full) + 0.05
    small = torch.nn.functional.interpolate(full, size=(12, 16), mode="area")
    graded_small = torch.einsum("ij,bjhw->bihw", grade, small) + 0.05
    up = guided_upsample(graded_small, small, full, radius=1, eps=1e-10)
    assert up.shape == (1, 3, 48, 64)
    assert torch.allclose(up, graded_full, atol=1e-5)  # the grade is affine in the guide: exact
    bicubic = torch.nn.functional.interpolate(graded_small, size=(48, 64), mode="bicubic", align_corners=False)
    assert (bicubic - graded_full).abs().mean() > 0.05


def test_guided_upsample_checks_its_inputs():
    image = torch.rand(1, 3, 8, 8)
    with pytest.raises(ValueError, match="guide of the image's size"):
        guided_upsample(image, torch.rand(1, 3, 4, 4), torch.rand(1, 3, 16, 16))
    with pytest.raises(ValueError, match="RGB guides"):
        guided_upsample(image, torch.rand(1, 1, 8, 8), torch.rand(1, 1, 16, 16))
    with pytest.raises(ValueError, match="single image"):
        guided_upsample(image[0], image, torch.rand(1, 3, 16, 16))


def test_posterization_refinement_formula():
    content = torch.rand(1, 3, 12, 12)
    stylised = torch.rand(1, 3, 12, 12) * 0.5 + 0.25
    expected = (stylised + content - guided_filter(content, content, radius=8, eps=0.01)).clamp(0, 1)
    assert torch.allclose(posterization_refinement(stylised, content), expected, atol=1e-6)


def test_bilateral_with_wide_colour_sigma_is_a_gaussian_blur():
    x = torch.rand(1, 1, 10, 10, dtype=torch.float64)
    out = bilateral_filter(x, radius=1, sigma_space=1.0, sigma_color=1e6)
    kernel = torch.tensor(
        [
            [
                torch.exp(torch.tensor(-(dy * dy + dx * dx) / 2.0)).item() if dy * dy + dx * dx <= 1 else 0.0
                for dx in (-1, 0, 1)
            ]
            for dy in (-1, 0, 1)
        ],
        dtype=torch.float64,
    )
    padded = torch.nn.functional.pad(x, (1, 1, 1, 1), mode="replicate")
    expected = torch.nn.functional.conv2d(padded, kernel[None, None]) / kernel.sum()
    assert torch.allclose(out, expected, atol=1e-9)


def test_bilateral_with_extreme_colour_sigmas_stays_finite():
    # sigma^2 underflowing to 0 gave 0 / 0 = NaN weights (a black image once saved), and a sigma
    # whose square overflows raised OverflowError
    x = torch.rand(1, 3, 10, 10)
    assert torch.allclose(bilateral_filter(x, radius=2, sigma_color=1e-300), x, atol=1e-6)  # only equal colours weigh
    blur = bilateral_filter(x, radius=2, sigma_color=1e300)
    assert torch.allclose(blur, bilateral_filter(x, torch.zeros(1, 1, 10, 10), radius=2), atol=1e-6)  # colour-blind
    for bad in (0.0, -1.0, float("nan"), float("inf")):
        with pytest.raises(ValueError, match="sigma_color must be a positive number"):
            bilateral_filter(x, sigma_color=bad)


def test_bilateral_in_bands_equals_the_whole_image_filter():
    # taller than two bands, with a short last one; a reference written out per offset
    from restyle.smoothing import BILATERAL_BAND

    h, w, radius, sigma_space, sigma_color = 2 * BILATERAL_BAND + 11, 23, 3, 1.5, 0.2
    image, guide = torch.rand(1, 4, h, w, dtype=torch.float64), torch.rand(1, 3, h, w, dtype=torch.float64)
    padded = torch.nn.functional.pad(image, (radius,) * 4, mode="replicate")
    padded_guide = torch.nn.functional.pad(guide, (radius,) * 4, mode="replicate")
    num, den = torch.zeros_like(image), torch.zeros(1, 1, h, w, dtype=torch.float64)
    for dy in range(-radius, radius + 1):
        for dx in range(-radius, radius + 1):
            if dy * dy + dx * dx <= radius * radius:
                g = padded_guide[..., radius + dy : radius + dy + h, radius + dx : radius + dx + w]
                colour = ((g - guide) ** 2).sum(1, keepdim=True)
                weight = torch.exp(-colour / (2 * sigma_color**2) - (dy * dy + dx * dx) / (2 * sigma_space**2))
                num += weight * padded[..., radius + dy : radius + dy + h, radius + dx : radius + dx + w]
                den += weight
    calls = []
    out = bilateral_filter(
        image,
        guide,
        radius=radius,
        sigma_space=sigma_space,
        sigma_color=sigma_color,
        progress=lambda *a: calls.append(a),
    )
    assert torch.allclose(out, num / den, rtol=0, atol=1e-12)
    assert calls == [(BILATERAL_BAND, h), (2 * BILATERAL_BAND, h), (h, h)]


def test_bilateral_gradient_across_bands():
    from restyle.smoothing import BILATERAL_BAND

    x = torch.rand(1, 2, BILATERAL_BAND + 3, 5, dtype=torch.float64, requires_grad=True)  # two bands, in-place sums
    assert torch.autograd.gradcheck(lambda t: bilateral_filter(t, radius=1, sigma_color=0.5), (x,))


def test_bilateral_keeps_edges():
    x = torch.zeros(1, 1, 8, 8)
    x[..., 4:] = 1.0
    assert torch.allclose(bilateral_filter(x, radius=3, sigma_color=0.05), x, atol=1e-4)


def test_local_affine_smoothing_reproduces_an_affine_recolouring():
    content = torch.rand(1, 3, 24, 24, dtype=torch.float64) * 0.8 + 0.1
    matrix = torch.tensor([[0.8, 0.1, 0.0], [0.05, 0.7, 0.1], [0.0, 0.2, 0.6]], dtype=torch.float64)
    target = torch.einsum("ij,bjhw->bihw", matrix, content) + 0.05
    out = local_affine_smoothing(target, content, eps=1e-8, filter_radius=4, stride=1)
    assert torch.allclose(out, target, atol=1e-3)


def brute_local_affine(image, content, eps, filter_radius, filter_edge):
    """DPST's smooth local affine written out pixel by pixel: a ridge least-squares affine fit
    of the image's colours on the content's in each clipped 3 x 3 window (normal equations, the
    ridge on the colour coefficients only), then each pixel's 12 coefficients averaged over a
    disc with weights exp(-mean squared colour difference / (2 edge^2) - d^2 / (2 (R/3)^2)),
    out-of-image neighbours taking the nearest border pixel's values."""
    _, _, h, w = content.shape
    g = content[0].double()
    t = image[0].double()
    coeff = torch.zeros(h, w, 4, 3, dtype=torch.float64)
    for y in range(h):
        for x in range(w):
            ys, xs = slice(max(0, y - 1), y + 2), slice(max(0, x - 1), x + 2)
            win = g[:, ys, xs].reshape(3, -1).T
            design = torch.cat([win, torch.ones(len(win), 1, dtype=torch.float64)], dim=1)
            ridge = torch.diag(torch.tensor([eps * len(win)] * 3 + [0.0], dtype=torch.float64))
            coeff[y, x] = torch.linalg.solve(design.T @ design + ridge, design.T @ t[:, ys, xs].reshape(3, -1).T)
    out = torch.zeros(3, h, w, dtype=torch.float64)
    sigma = filter_radius / 3
    for y in range(h):
        for x in range(w):
            total, weight_sum = torch.zeros(4, 3, dtype=torch.float64), 0.0
            for dy in range(-filter_radius, filter_radius + 1):
                for dx in range(-filter_radius, filter_radius + 1):
                    if dy * dy + dx * dx > filter_radius**2:
                        continue
                    qy, qx = min(max(y + dy, 0), h - 1), min(max(x + dx, 0), w - 1)
                    colour = float(((g[:, qy, qx] - g[:, y, x]) ** 2).mean())
                    weight = math.exp(-colour / (2 * filter_edge**2) - (dy * dy + dx * dx) / (2 * sigma**2))
                    total += weight * coeff[qy, qx]
                    weight_sum += weight
            smoothed = total / weight_sum
            out[:, y, x] = smoothed[:3].T @ g[:, y, x] + smoothed[3]
    return out.clamp(0, 1)[None]


def test_local_affine_smoothing_matches_a_pixel_by_pixel_reference():
    torch.manual_seed(3)
    content = torch.rand(1, 3, 9, 11, dtype=torch.float64)
    content[..., 5:] = content[..., 5:] * 0.3 + 0.6  # an edge the filter must respect
    image = (content.flip(1) * 0.7 + 0.2 + 0.1 * torch.rand_like(content)).clamp(0, 1)
    out = local_affine_smoothing(image, content, eps=1e-3, filter_radius=3, filter_edge=0.1)
    expected = brute_local_affine(image, content, eps=1e-3, filter_radius=3, filter_edge=0.1)
    assert torch.allclose(out.double(), expected, atol=1e-5)


def test_local_affine_smoothing_stride_samples_the_window():
    content = torch.rand(1, 3, 20, 20)
    image = torch.rand(1, 3, 20, 20)
    dense = local_affine_smoothing(image, content, filter_radius=6)
    sparse = local_affine_smoothing(image, content, filter_radius=6, stride=3)
    assert not torch.allclose(dense, sparse, atol=1e-4)
    assert torch.allclose(dense, local_affine_smoothing(image, content, filter_radius=6, stride=1))


def test_matting_smoothing_solves_the_linear_system():
    guide = torch.rand(1, 3, 10, 9, dtype=torch.float64)
    y = torch.rand(1, 3, 10, 9, dtype=torch.float64) * 0.6 + 0.2
    beta = 1e-3
    x = matting_smoothing(y, MattingLaplacian(guide), beta=beta, tol=1e-10, max_iterations=2000)
    A = scipy.sparse.identity(90) + beta * matting_laplacian_sparse(guide)
    for c in range(3):
        ref = scipy.sparse.linalg.spsolve(A.tocsc(), y[0, c].reshape(-1).numpy())
        assert torch.allclose(x[0, c].reshape(-1), torch.from_numpy(ref).clamp(0, 1), atol=1e-6)


def test_a_black_channel_does_not_stop_the_others_smoothing(recwarn):
    """A result whose red is 0 everywhere (a deep-blue look): its red is solved from the start,
    which CG took for a breakdown and stopped all three channels before their first step."""
    guide = torch.rand(1, 3, 10, 9, dtype=torch.float64)
    y = torch.rand(1, 3, 10, 9, dtype=torch.float64) * 0.6 + 0.2
    y[:, 0] = 0.0
    beta = 1e-3
    x = matting_smoothing(y, MattingLaplacian(guide), beta=beta, tol=1e-10, max_iterations=2000)
    A = (scipy.sparse.identity(90) + beta * matting_laplacian_sparse(guide)).tocsc()
    for c in (1, 2):
        ref = scipy.sparse.linalg.spsolve(A, y[0, c].reshape(-1).numpy())
        assert torch.allclose(x[0, c].reshape(-1), torch.from_numpy(ref).clamp(0, 1), atol=1e-6)
    assert bool((x[0, 0] == 0).all()) and not [w for w in recwarn if w.category is RestyleWarning]


def test_matting_smoothing_warns_when_not_converged():
    guide = torch.rand(1, 3, 20, 20, dtype=torch.float64)
    y = torch.rand(1, 3, 20, 20, dtype=torch.float64)
    with pytest.warns(RestyleWarning, match="conjugate gradients stopped"):
        out = matting_smoothing(y, MattingLaplacian(guide), beta=1.0, tol=1e-12, max_iterations=2)
    assert out.shape == y.shape and torch.isfinite(out).all()


def test_shape_checks():
    with pytest.raises(ValueError, match="single image"):
        guided_filter(torch.rand(3, 4, 4), torch.rand(3, 4, 4))
    with pytest.raises(ValueError, match="differ"):
        local_affine_smoothing(torch.rand(1, 3, 4, 4), torch.rand(1, 3, 5, 4))


@pytest.mark.parametrize(
    "operator", [guided_filter, local_affine_smoothing, matting_smoothing], ids=lambda f: f.__name__
)
def test_a_path_or_an_array_is_told_to_be_read_first(operator):
    image = torch.rand(1, 3, 8, 8)
    for wrong in ("photo.png", image[0].permute(1, 2, 0).numpy()):
        with pytest.raises(TypeError, match=rf"^{operator.__name__}: expected a tensor \(1, C, H, W\), not "):
            operator(wrong, image)


class _Indefinite:
    """A stand-in operator whose (I + beta L) is negative definite: CG must stop, not diverge."""

    dtype = torch.float64

    def matvec(self, v):
        return -3.0 * v

    def diagonal(self):
        return torch.zeros(4, 4, dtype=torch.float64)


def test_matting_smoothing_stops_cleanly_on_breakdown():
    y = torch.rand(1, 3, 4, 4, dtype=torch.float64)
    with pytest.warns(RestyleWarning, match="conjugate gradients stopped"):
        out = matting_smoothing(y, _Indefinite(), beta=1.0)
    assert torch.isfinite(out).all()
    assert torch.allclose(out, y.clamp(0, 1))  # no step was taken: the start is kept


def test_bilateral_filter_rejects_a_bad_window():
    x = torch.rand(1, 3, 8, 8)
    with pytest.raises(ValueError, match="stride"):
        bilateral_filter(x, stride=0)
    with pytest.raises(ValueError, match="radius"):
        bilateral_filter(x, radius=-1)
