"""The sky border (restyle.horizon)."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from restyle.horizon import border_heights, sky_mask


def _cost(sky_cost: np.ndarray, ground_cost: np.ndarray, jump: float, heights: np.ndarray) -> float:
    """The energy ``border_heights`` minimises, written out for one sequence of heights."""
    data = sum(sky_cost[:h, x].sum() + ground_cost[h:, x].sum() for x, h in enumerate(heights))
    return float(data + jump * np.abs(np.diff(heights)).sum())


def _brute_force(sky_cost: np.ndarray, ground_cost: np.ndarray, jump: float) -> float:
    """The least cost over every sequence of column heights, enumerated."""
    height, width = sky_cost.shape
    every = itertools.product(range(height + 1), repeat=width)
    return min(_cost(sky_cost, ground_cost, jump, np.array(heights)) for heights in every)


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("jump", [0.0, 0.3, 2.0])
def test_border_is_the_exact_minimum(seed: int, jump: float) -> None:
    rng = np.random.default_rng(seed)
    sky_cost, ground_cost = rng.normal(size=(2, 4, 4))
    heights = border_heights(sky_cost, ground_cost, jump=jump)
    assert heights.shape == (4,) and heights.min() >= 0 and heights.max() <= 4
    best = _brute_force(sky_cost, ground_cost, jump)
    assert _cost(sky_cost, ground_cost, jump, heights) == pytest.approx(best)


def test_without_jump_cost_each_column_is_on_its_own() -> None:
    rng = np.random.default_rng(1)
    sky_cost, ground_cost = rng.normal(size=(2, 7, 9))
    column_costs = np.stack([sky_cost[:h].sum(0) + ground_cost[h:].sum(0) for h in range(8)])
    np.testing.assert_array_equal(border_heights(sky_cost, ground_cost, jump=0.0), column_costs.argmin(0))


def test_a_high_jump_cost_gives_a_level_border() -> None:
    rng = np.random.default_rng(2)
    sky_cost, ground_cost = rng.normal(size=(2, 6, 8))
    assert len(set(border_heights(sky_cost, ground_cost, jump=1e6).tolist())) == 1


@pytest.mark.parametrize(
    ("sky_cost", "ground_cost", "jump", "message"),
    [
        (np.zeros((3, 3)), np.zeros((3, 4)), 1.0, "one shape"),
        (np.zeros(3), np.zeros(3), 1.0, r"\(H, W\)"),
        (np.zeros((3, 3)), np.zeros((3, 3)), -1.0, "jump"),
    ],
)
def test_border_rejects_bad_input(sky_cost, ground_cost, jump, message) -> None:
    with pytest.raises(ValueError, match=message):
        border_heights(sky_cost, ground_cost, jump=jump)


def _skyline(height: int = 48, width: int = 64, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """A textured ground with buildings of several heights under a smooth sky gradient:
    ``(descriptors (3, H, W), truth (H, W) bool)``."""
    rng = np.random.default_rng(seed)
    tops = np.repeat(rng.integers(10, 30, size=8), width // 8)  # each building's top row
    rows = np.arange(height)[:, None]
    truth = rows < tops[None, :]
    sky = np.stack(
        [0.6 + 0.2 * rows / height * np.ones((1, width)), np.full((height, width), 0.7), np.full((height, width), 0.9)]
    )
    ground = 0.3 + 0.1 * rng.normal(size=(3, height, width))
    image = np.where(truth[None], sky, ground) + 0.01 * rng.normal(size=(3, height, width))
    return image, truth


@pytest.mark.parametrize("seed", range(3))
def test_sky_mask_finds_the_skyline(seed: int) -> None:
    image, truth = _skyline(seed=seed)
    found = sky_mask(image)
    assert found.shape == truth.shape and found.dtype == bool
    assert (found == truth).mean() > 0.99


def test_sky_mask_of_a_flat_image_is_empty() -> None:
    assert not sky_mask(np.full((3, 20, 30), 0.5)).any()


def test_sky_mask_is_above_its_border_in_every_column() -> None:
    image, _ = _skyline(seed=4)
    found = sky_mask(image)
    heights = found.sum(axis=0)
    np.testing.assert_array_equal(found, np.arange(found.shape[0])[:, None] < heights[None, :])


def test_sky_mask_checks_its_input() -> None:
    with pytest.raises(ValueError, match=r"\(D, H, W\)"):
        sky_mask(np.zeros((20, 30)))
