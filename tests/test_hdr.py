"""HDR to SDR: the transfer curves against BT.2100's anchor values, the primaries matrix against
BT.2087's, the tone curve's invariants, and the whole mapping against an independent encoder."""

import numpy as np
import pytest
import torch

from restyle.hdr import (
    BT709,
    BT2020,
    KNEE,
    hdr_to_sdr,
    hlg_to_display,
    pq_to_display,
    primaries_matrix,
    tone_map,
)

from .conftest import BT709_TO_BT2020, encode_hdr


def t(x) -> torch.Tensor:
    """A float64 tensor of an array (the functions keep the dtype they are given)."""
    return torch.as_tensor(np.asarray(x, dtype=np.float64))


def grey(value: float) -> torch.Tensor:
    return torch.full((3,), value, dtype=torch.float64)


def test_hlg_anchor_values():
    assert hlg_to_display(grey(0.0))[0] == 0.0
    assert hlg_to_display(grey(1.0))[0].item() == pytest.approx(1000.0, rel=1e-6)  # signal 1: the display's peak
    # signal 0.5: scene light 1/12 (the OETF's two pieces meet there), shown at 1000 (1/12)^1.2
    assert hlg_to_display(grey(0.5))[0].item() == pytest.approx(1000.0 * (1 / 12) ** 1.2, rel=1e-9)
    assert hlg_to_display(grey(0.75))[0].item() == pytest.approx(203.0, abs=0.5)  # BT.2408's HDR reference white
    # the system gamma acts on luminance: a colour keeps its scene-light ratios
    colour = hlg_to_display(t([0.2, 0.45, 0.3])).numpy()  # signals under 0.5: scene light e^2 / 3
    scene = np.array([0.2, 0.45, 0.3]) ** 2 / 3
    assert colour / colour[1] == pytest.approx(scene / scene[1])


def test_pq_anchor_values():
    assert pq_to_display(grey(0.0))[0] == 0.0
    assert pq_to_display(grey(1.0))[0].item() == pytest.approx(10000.0, rel=1e-9)
    assert pq_to_display(grey(0.5081))[0].item() == pytest.approx(100.0, abs=0.2)  # SDR's 100 cd/m² in PQ
    assert pq_to_display(grey(0.5806))[0].item() == pytest.approx(203.0, abs=0.3)  # HDR reference white (58%)


def test_primaries_matrix_is_bt2087s_inverse():
    m = primaries_matrix(BT2020, BT709)
    assert m @ BT709_TO_BT2020 == pytest.approx(np.eye(3), abs=2e-4)  # the published one is rounded
    assert m.sum(axis=1) == pytest.approx(np.ones(3))  # white stays white


def test_tone_curve_invariants():
    y = np.linspace(0.0, 6.0, 6001)
    out = tone_map(t(np.stack([y, y, y], axis=-1)))[:, 0].numpy()
    below = y <= KNEE
    assert np.array_equal(out[below], y[below])  # the identity below the knee
    assert np.all(np.diff(out) > -1e-12) and np.all(np.diff(out[y <= 1000 / 203]) > 0)  # increasing up to the peak
    assert out.max() == pytest.approx(1.0) and out[y >= 1000 / 203] == pytest.approx(1.0)  # 1 from the peak up
    h = 1e-6
    above = ((tone_map(grey(KNEE + h))[0] - tone_map(grey(KNEE))[0]) / h).item()
    assert above == pytest.approx(1.0, abs=1e-4)  # the slope is continuous at the knee (1 below it)
    rgb = np.array([2.0, 1.0, 0.5])
    mapped = tone_map(t(rgb)).numpy()
    assert mapped / mapped[0] == pytest.approx(rgb / rgb[0])  # one factor: hue and saturation kept
    with pytest.raises(ValueError, match="knee"):
        tone_map(t(rgb), knee=1.2)


@pytest.mark.parametrize("curve", ["hlg", "pq"])
def test_hdr_to_sdr_undoes_an_independent_encoder_below_the_knee(curve):
    # luminance under the knee; no channel near 0, where BT.2087's 4-digit matrix is too coarse
    sdr = np.random.default_rng(0).uniform(0.15, 0.9, (50, 3))
    assert hdr_to_sdr(t(encode_hdr(sdr, curve)), curve).numpy() == pytest.approx(
        sdr, abs=1e-3
    )  # a quarter of an 8-bit level


@pytest.mark.parametrize("curve", ["hlg", "pq"])
def test_hdr_to_sdr_neutrals_and_range(curve):
    signal = np.linspace(0.0, 1.0, 101)
    sdr = hdr_to_sdr(t(np.stack([signal] * 3, axis=-1)), curve).numpy()
    assert np.allclose(sdr, sdr[:, :1], atol=1e-6)  # grey stays grey
    assert sdr[0, 0] == 0.0 and np.all(np.diff(sdr[:, 0]) > -1e-12) and sdr.max() <= 1.0
    saturated = hdr_to_sdr(t(np.eye(3)), curve)  # BT.2020's primaries lie outside BT.709: clipped, in range
    assert saturated.min() >= 0.0 and saturated.max() <= 1.0


def test_bad_arguments():
    with pytest.raises(ValueError, match="unknown HDR curve 'hdr10'"):
        hdr_to_sdr(grey(0.5), "hdr10")
    for bad in (torch.zeros(3, 4), torch.zeros(3, dtype=torch.uint8)):
        with pytest.raises(ValueError, match="a float tensor with RGB values on the last axis"):
            hdr_to_sdr(bad, "hlg")
    for bad in (np.zeros(3), "frame.png"):
        with pytest.raises(TypeError, match=r"^hdr_to_sdr: expected a tensor \(\*, 3\) of RGB values, not "):
            hdr_to_sdr(bad, "hlg")
