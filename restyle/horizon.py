"""Sky and ground: the split of an image into an upper and a lower part along one border that
crosses it from left to right, at one height per column.

Most photographs that people restyle have a sky over the ground, buildings, trees or water, and
a style photo usually has one too; the sky should take the sky's style. Clustering by VGG
features and colour often mixes the two (a night sky with the dark trees under it, a pale sky
with a pale house), so :mod:`restyle.automask` uses this split as a layout prior.

The border is found as in GrabCut, but with a shape constraint instead of a free labelling:
each part's descriptors are modelled by one Gaussian, every column's border height is chosen
by dynamic programming to minimise the two parts' negative log-likelihoods plus a cost per
pixel of vertical jump between neighbouring columns, and the two are alternated. Objects that
stand on the ground (buildings, people, trees) stay below the border, since a column may have
its border at any height. An image without a sky still gets a border: above an object, it
cuts off the background over it; in a close-up it may mean nothing.
"""

from __future__ import annotations

import numpy as np

__all__ = ["border_heights", "sky_mask"]


def border_heights(sky_cost: np.ndarray, ground_cost: np.ndarray, *, jump: float) -> np.ndarray:
    """The per-column border of least cost.

    Minimises ``sum_x [sum_{y < h_x} sky_cost[y, x] + sum_{y >= h_x} ground_cost[y, x]] + jump *
    sum_x |h_x - h_{x-1}|`` exactly, by dynamic programming over the columns.

    Args:
        sky_cost: ``(H, W)`` cost of each pixel being above the border.
        ground_cost: ``(H, W)`` cost of it being below.
        jump: cost per pixel of height change between neighbouring columns (>= 0).

    Returns:
        ``(W,)`` int heights in ``0..H``: the rows above the border in each column.

    Example:
        >>> sky = np.array([[0, 0, 0], [1, 1, 0], [1, 1, 1]], float)  # cheap as sky: the zeros
        >>> border_heights(sky, 1 - sky, jump=0.1).tolist()
        [1, 1, 2]
    """
    if sky_cost.shape != ground_cost.shape or sky_cost.ndim != 2:
        raise ValueError(f"expected two (H, W) cost maps of one shape, got {sky_cost.shape} and {ground_cost.shape}")
    if jump < 0:
        raise ValueError(f"jump must be >= 0, not {jump}")
    height, width = sky_cost.shape
    above = np.vstack([np.zeros((1, width)), np.cumsum(sky_cost, axis=0)])  # (H+1, W): rows < h
    below = np.vstack([np.cumsum(ground_cost[::-1], axis=0)[::-1], np.zeros((1, width))])  # rows >= h
    column_cost = above + below
    heights = np.arange(height + 1)
    step = jump * np.abs(heights[:, None] - heights[None, :])  # (h, h_previous)
    total = column_cost[:, 0].copy()
    back = np.zeros((height + 1, width), dtype=np.int64)
    for x in range(1, width):
        candidates = total[None, :] + step
        back[:, x] = candidates.argmin(axis=1)
        total = candidates[heights, back[:, x]] + column_cost[:, x]
    out = np.empty(width, dtype=np.int64)
    out[-1] = int(total.argmin())
    for x in range(width - 1, 0, -1):
        out[x - 1] = back[out[x], x]
    return out


def _neg_log_likelihood(x: np.ndarray, members: np.ndarray) -> np.ndarray:
    """Negative log-density of every row of ``x`` under the Gaussian fitted to ``x[members]``."""
    mean = x[members].mean(axis=0)
    cov = np.cov(x[members].T) + 1e-3 * np.eye(x.shape[1])
    _, logdet = np.linalg.slogdet(cov)
    d = x - mean
    return 0.5 * (np.einsum("ij,ij->i", d @ np.linalg.inv(cov), d) + logdet)


def sky_mask(
    descriptors: np.ndarray, *, jump: float = 2.0, rounds: int = 6, top: float = 0.15, bottom: float = 0.3
) -> np.ndarray:
    """Split an image into the part above and the part below one left-to-right border.

    Args:
        descriptors: ``(D, H, W)`` per-pixel descriptors (e.g. colour and VGG features); each
            channel is standardised over the image first.
        jump: cost per pixel of border height change between neighbouring columns, in units of
            one pixel's log-likelihood (higher: a smoother border).
        rounds: the most alternations of fitting the two Gaussians and placing the border.
        top: share of the rows, from the top, that the upper part's first model is fitted to.
        bottom: share of the rows, from the bottom, that the lower part's first model is fitted to.

    Returns:
        ``(H, W)`` bool: True above the border; all False when the image does not split (one
        part would hold under 2% of it, e.g. a flat image).

    Example:
        >>> image = np.zeros((1, 12, 10)); image[0, :4] = 1.0; image[0, :8, 6:] = 1.0  # sky over a step
        >>> sky_mask(image + 0.01 * np.random.default_rng(0).normal(size=image.shape)).sum(axis=0).tolist()
        [4, 4, 4, 4, 4, 4, 8, 8, 8, 8]
    """
    if descriptors.ndim != 3:
        raise ValueError(f"expected descriptors (D, H, W), got {descriptors.shape}")
    channels, height, width = descriptors.shape
    x = descriptors.reshape(channels, -1).T.astype(np.float64)
    x = (x - x.mean(axis=0)) / (x.std(axis=0) + 1e-6)
    rows = np.repeat(np.arange(height), width)
    upper = rows < max(1, round(height * top))
    lower = rows >= min(height - 1, round(height * (1 - bottom)))
    least = max(1, round(0.02 * upper.size))  # a part smaller than this is no part
    for _ in range(rounds):
        sky_cost = _neg_log_likelihood(x, upper).reshape(height, width)
        ground_cost = _neg_log_likelihood(x, lower).reshape(height, width)
        heights = border_heights(sky_cost, ground_cost, jump=jump)
        new = (np.arange(height)[:, None] < heights[None, :]).ravel()
        if new.sum() < least or (~new).sum() < least:
            return np.zeros((height, width), dtype=bool)  # one part only: no sky
        if np.array_equal(new, upper):
            break
        upper, lower = new, ~new
    return upper.reshape(height, width)
