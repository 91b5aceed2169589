import numpy as np
import pytest
import torch

from restyle.boxfilter import box_mean, box_sum_adjoint, box_sum_valid


def brute_valid(x, k):
    h, w = x.shape[-2:]
    out = torch.zeros(*x.shape[:-2], h - k + 1, w - k + 1, dtype=x.dtype)
    for i in range(h - k + 1):
        for j in range(w - k + 1):
            out[..., i, j] = x[..., i : i + k, j : j + k].sum(dim=(-2, -1))
    return out


@pytest.mark.parametrize("k", [1, 3, 5, 7, 11])
def test_valid_sum_matches_brute_force(k):
    x = torch.rand(2, 13, 17, dtype=torch.float64)
    assert torch.allclose(box_sum_valid(x, k), brute_valid(x, k), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("k", [3, 9])
def test_adjoint_is_the_transpose(k):
    x = torch.rand(3, 12, 15, dtype=torch.float64)
    y = torch.rand(3, 12 - k + 1, 15 - k + 1, dtype=torch.float64)
    assert torch.allclose((box_sum_valid(x, k) * y).sum(), (x * box_sum_adjoint(y, k)).sum(), rtol=1e-12)
    assert box_sum_adjoint(y, k).shape == x.shape


def test_window_larger_than_image_and_bad_k():
    assert box_sum_valid(torch.ones(2, 2), 3).shape == (0, 0)
    with pytest.raises(ValueError, match="at least 1"):
        box_sum_valid(torch.ones(3, 3), 0)


def test_float32_running_sums_stay_accurate():
    x = torch.rand(1, 400, 900)
    assert torch.allclose(box_sum_valid(x, 31), box_sum_valid(x.double(), 31).float(), rtol=1e-4)


def brute_mean(x, radius):
    h, w = x.shape[-2:]
    out = torch.zeros_like(x)
    for i in range(h):
        for j in range(w):
            window = x[..., max(i - radius, 0) : i + radius + 1, max(j - radius, 0) : j + radius + 1]
            out[..., i, j] = window.mean(dim=(-2, -1))
    return out


@pytest.mark.parametrize(
    ("shape", "radius"), [((2, 13, 17), 3), ((1, 3, 9, 6), 2), ((4, 5), 8), ((1, 1), 2), ((6, 7), 0)]
)
def test_box_mean_matches_brute_force_windows_cut_at_the_borders(shape, radius):
    x = torch.rand(shape, dtype=torch.float64)
    assert torch.allclose(box_mean(x, radius), brute_mean(x, radius), rtol=1e-12, atol=1e-12)


def test_box_mean_of_a_constant_and_bad_input():
    assert torch.equal(box_mean(torch.full((3, 10, 12), 0.25), 4), torch.full((3, 10, 12), 0.25))
    with pytest.raises(ValueError, match="radius must be at least 0"):
        box_mean(torch.ones(3, 3), -1)
    with pytest.raises(ValueError, match=r"^box_mean: expected at least 2 dimensions"):
        box_mean(torch.ones(3), 1)


@pytest.mark.parametrize("operator", [box_sum_valid, box_sum_adjoint, box_mean])
def test_operators_take_tensors_of_at_least_two_dimensions(operator):
    name = operator.__name__
    with pytest.raises(TypeError, match=rf"^{name}: expected a tensor \(\*, H, W\), not ndarray$"):
        operator(np.ones((4, 4)), 1)
    with pytest.raises(ValueError, match=rf"^{name}: expected at least 2 dimensions \(\*, H, W\), got shape \(4,\)$"):
        operator(torch.ones(4), 1)
