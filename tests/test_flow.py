"""Optical flow, warping and Ruder's certainty; the temporal loss term."""

import numpy as np
import pytest
import torch

from restyle.flow import Warp, certainty, optical_flow, warp
from restyle.objective import Temporal


def textured(height: int, width: int, seed: int = 0) -> torch.Tensor:
    rng = np.random.default_rng(seed)
    from scipy.ndimage import gaussian_filter

    img = gaussian_filter(rng.random((height, width, 3)), sigma=(2, 2, 0))
    img = (img - img.min()) / (img.max() - img.min())
    return torch.from_numpy(img).permute(2, 0, 1)[None].float()


def test_warp_integer_shift_reads_the_neighbour():
    image = torch.rand(1, 3, 10, 12, dtype=torch.float64)
    flow = torch.zeros(1, 2, 10, 12, dtype=torch.float64)
    flow[:, 0], flow[:, 1] = 2.0, -1.0  # read 2 right, 1 up
    out = warp(image, flow)
    assert torch.allclose(out[..., 1:, :-2], image[..., :-1, 2:], atol=1e-12)
    # outside the image: the border pixel
    assert torch.allclose(out[..., 0, :-2], image[..., 0, 2:], atol=1e-12)
    assert torch.allclose(warp(image, torch.zeros_like(flow)), image, atol=1e-12)
    assert torch.equal(Warp()(image, flow), out)


def test_warp_half_pixel_is_the_average_and_gradients_check():
    image = torch.rand(1, 1, 4, 5, dtype=torch.float64, requires_grad=True)
    flow = torch.zeros(1, 2, 4, 5, dtype=torch.float64)
    flow[:, 0] = 0.5
    out = warp(image, flow)
    assert torch.allclose(out[..., :-1], (image[..., :-1] + image[..., 1:]) / 2)
    flow.requires_grad_(True)
    assert torch.autograd.gradcheck(lambda i, f: warp(i, f + 0.3), (image, flow))


def test_warp_checks_shapes():
    with pytest.raises(ValueError, match=r"\(1, 2, H, W\)"):
        warp(torch.rand(1, 3, 4, 4), torch.rand(1, 3, 4, 4))
    with pytest.raises(ValueError, match="differ in size"):
        warp(torch.rand(1, 3, 4, 4), torch.rand(1, 2, 5, 4))


def test_dis_recovers_a_known_translation():
    base = textured(80, 100)
    moved = torch.roll(base, shifts=(2, 3), dims=(-2, -1))  # content moves 3 right, 2 down
    flow = optical_flow(base, moved)
    inner = flow[..., 10:-10, 10:-10]
    assert inner[0, 0].median().item() == pytest.approx(3.0, abs=0.25)
    assert inner[0, 1].median().item() == pytest.approx(2.0, abs=0.25)
    # warping the moved frame back with the flow gives the original (interior)
    back = warp(moved, flow)
    assert (back - base)[..., 10:-10, 10:-10].abs().mean() < 0.02
    with pytest.raises(ValueError, match="differ in size"):
        optical_flow(base, base[..., :40])


def _reference_certainty(forward: np.ndarray, backward: np.ndarray) -> np.ndarray:
    """Ruder's rules written out per pixel, with explicit bilinear sampling (border clamped)."""
    _, _, h, w = forward.shape
    out = np.ones((h, w))
    for y in range(h):
        for x in range(w):
            bx, by = backward[0, 0, y, x], backward[0, 1, y, x]
            sx, sy = min(max(x + bx, 0), w - 1), min(max(y + by, 0), h - 1)
            x0, y0 = int(np.floor(sx)), int(np.floor(sy))
            x1, y1 = min(x0 + 1, w - 1), min(y0 + 1, h - 1)
            fx, fy = sx - x0, sy - y0
            f = forward[0]
            tilde = (
                f[:, y0, x0] * (1 - fx) * (1 - fy)
                + f[:, y0, x1] * fx * (1 - fy)
                + f[:, y1, x0] * (1 - fx) * fy
                + f[:, y1, x1] * fx * fy
            )
            b = backward[0, :, y, x]
            occluded = ((tilde + b) ** 2).sum() > 0.01 * ((tilde**2).sum() + (b**2).sum()) + 0.5
            gx = backward[0, :, y, x + 1] - b if x + 1 < w else np.zeros(2)
            gy = backward[0, :, y + 1, x] - b if y + 1 < h else np.zeros(2)
            boundary = (gx**2).sum() + (gy**2).sum() > 0.01 * (b**2).sum() + 0.002
            out[y, x] = 0.0 if occluded or boundary else 1.0
    return out


def test_certainty_matches_the_rules_written_out():
    rng = np.random.default_rng(3)
    from scipy.ndimage import gaussian_filter

    forward = gaussian_filter(rng.normal(0, 3, (1, 2, 12, 14)), sigma=(0, 0, 1.5, 1.5))
    backward = -forward + gaussian_filter(rng.normal(0, 1.5, (1, 2, 12, 14)), sigma=(0, 0, 1, 1))
    got = certainty(torch.from_numpy(forward), torch.from_numpy(backward))[0, 0].numpy()
    want = _reference_certainty(forward, backward)
    assert 0 < want.mean() < 1  # both kinds of pixel occur
    assert np.array_equal(got, want)


def test_moving_square_disocclusion_is_uncertain():
    h, w = 40, 40
    # a square at x 10..19 moves 6 px right; the background stays
    forward = torch.zeros(1, 2, h, w)
    forward[0, 0, 15:25, 10:20] = 6.0
    backward = torch.zeros(1, 2, h, w)
    backward[0, 0, 15:25, 16:26] = -6.0
    c = certainty(forward, backward)[0, 0]
    assert c[15:25, 10:16].sum() == 0  # uncovered background: its round trip fails
    assert c[:10].eq(1).all() and c[30:].eq(1).all()  # still background far away
    assert c[18:22, 18:24].eq(1).all()  # inside the moving square


def test_temporal_term_value_and_resize():
    target = torch.rand(1, 3, 8, 10)
    c = (torch.rand(1, 1, 8, 10) > 0.5).float()
    x = torch.rand(1, 3, 8, 10)
    term = Temporal(target, c, 7.0)
    want = 7.0 * float((c * (x - target) ** 2).sum()) / x.numel()
    assert term.loss(x).item() == pytest.approx(want, rel=1e-6)
    assert term.loss(target).item() == 0.0
    small = term.resized((4, 5))
    assert small.target.shape == (1, 3, 4, 5) and small.certainty.shape == (1, 1, 4, 5)
    assert term.resized((8, 10)) is term
