"""Optical flow, warping and flow certainty (occlusions, motion boundaries) for video.

Conventions: a flow is ``(1, 2, H, W)`` in pixels, channel 0 horizontal (x), channel 1
vertical (y). ``flow_ab`` maps frame a to frame b: pixel p of a moves to ``p + flow_ab(p)`` in b.
To bring an image of frame b into frame a's pixel grid, sample it at ``p + flow_ab(p)``:
``warp(image_b, flow_ab)``.

Certainty follows Ruder, Dosovitskiy and Brox 2016 (arXiv 1604.08610), section 3.2, with
w the forward flow (previous -> current) and w^ the backward flow (current -> previous):
a pixel of the current frame is disoccluded where the round trip does not come back,
``|w~ + w^|^2 > 0.01 (|w~|^2 + |w^|^2) + 0.5`` with ``w~(p) = w(p + w^(p))``, and lies on a
motion boundary where ``|grad w^_x|^2 + |grad w^_y|^2 > 0.01 |w^|^2 + 0.002``. Certainty is 0
there and 1 elsewhere.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from restyle.color import rgb_to_ycbcr
from restyle.image import to_uint8

__all__ = ["Warp", "certainty", "optical_flow", "warp"]


def _check(tensor: Tensor, channels: int | None, name: str) -> None:
    if tensor.ndim != 4 or tensor.shape[0] != 1 or (channels is not None and tensor.shape[1] != channels):
        want = f"(1, {channels}, H, W)" if channels is not None else "(1, C, H, W)"
        raise ValueError(f"{name} must be {want}, got {tuple(tensor.shape)}")


def optical_flow(source: Tensor, target: Tensor, *, preset: str = "medium") -> Tensor:
    """Dense optical flow from ``source`` to ``target`` with OpenCV's DIS (Kroeger et al. 2016).

    Args:
        source: RGB frame ``(1, 3, H, W)`` in [0, 1].
        target: RGB frame of the same size.
        preset: DIS preset: "ultrafast", "fast" or "medium".

    Returns:
        The flow ``(1, 2, H, W)`` in pixels (float32): channel 0 is x, channel 1 is y.

    Example:
        >>> source = F.interpolate(torch.rand(1, 3, 8, 8), size=(64, 64), mode="bicubic").clamp(0, 1)
        >>> flow = optical_flow(source, source.roll(2, dims=3))  # everything moves 2 px right
        >>> round(float(flow[0, 0, 8:-8, 8:-8].median()), 2), round(abs(float(flow[0, 1].median())), 2)
        (2.0, 0.0)
    """
    import cv2

    _check(source, 3, "source")
    _check(target, 3, "target")
    if source.shape != target.shape:
        raise ValueError(f"frames differ in size: {tuple(source.shape)} vs {tuple(target.shape)}")
    presets = {
        "ultrafast": cv2.DISOPTICAL_FLOW_PRESET_ULTRAFAST,
        "fast": cv2.DISOPTICAL_FLOW_PRESET_FAST,
        "medium": cv2.DISOPTICAL_FLOW_PRESET_MEDIUM,
    }
    if preset not in presets:
        raise ValueError(f"unknown DIS preset {preset!r}: use one of {', '.join(presets)}")

    def gray(image: Tensor) -> np.ndarray:
        return to_uint8(rgb_to_ycbcr(image.detach().float().cpu())[0, 0]).numpy()

    dis = cv2.DISOpticalFlow_create(presets[preset])
    flow = dis.calc(gray(source), gray(target), None)
    return torch.from_numpy(flow).permute(2, 0, 1)[None].float()


def warp(image: Tensor, flow: Tensor) -> Tensor:
    """Sample ``image`` at ``p + flow(p)`` (bilinear; outside the image: the nearest border pixel).

    Args:
        image: the image to warp (e.g. the previous stylised frame).
        flow: for each pixel of the result, where to read in ``image``, in pixels (x, y); the
            backward flow, current frame to previous, warps the previous frame into the current.

    Returns:
        The warped image.

    Shape:
        - image: :math:`(1, C, H, W)`
        - flow: :math:`(1, 2, H, W)`
        - output: :math:`(1, C, H, W)`

    Example:
        >>> image = torch.arange(12.0).view(1, 1, 3, 4)
        >>> shift = torch.zeros(1, 2, 3, 4); shift[:, 0] = 1.0  # read one pixel to the right
        >>> warp(image, shift)[0, 0, 0].tolist()
        [1.0, 2.0, 3.0, 3.0]
    """
    _check(image, None, "image")
    _check(flow, 2, "flow")
    if image.shape[-2:] != flow.shape[-2:]:
        raise ValueError(f"image {tuple(image.shape)} and flow {tuple(flow.shape)} differ in size")
    h, w = image.shape[-2:]
    ys, xs = torch.meshgrid(
        torch.arange(h, dtype=flow.dtype, device=flow.device),
        torch.arange(w, dtype=flow.dtype, device=flow.device),
        indexing="ij",
    )
    x = xs + flow[0, 0]
    y = ys + flow[0, 1]
    # normalised coordinates with align_corners=True: -1 and 1 are the centres of the edge pixels
    grid = torch.stack([2 * x / max(w - 1, 1) - 1, 2 * y / max(h - 1, 1) - 1], dim=-1)[None]
    return F.grid_sample(image, grid.to(image.dtype), mode="bilinear", padding_mode="border", align_corners=True)


class Warp(nn.Module):
    """Module form of :func:`warp`.

    Example:
        >>> image, flow = torch.rand(1, 3, 5, 6), torch.randn(1, 2, 5, 6)
        >>> torch.equal(Warp()(image, flow), warp(image, flow))
        True
    """

    def forward(self, image: Tensor, flow: Tensor) -> Tensor:
        return warp(image, flow)


def certainty(forward: Tensor, backward: Tensor) -> Tensor:
    """Where the previous frame, warped into the current one, can be trusted (Ruder et al.).

    Args:
        forward: flow previous -> current, ``(1, 2, H, W)``.
        backward: flow current -> previous, ``(1, 2, H, W)``.

    Returns:
        ``(1, 1, H, W)``: 0 at disocclusions and motion boundaries of the current frame, 1 elsewhere.

    Example:
        >>> still = torch.zeros(1, 2, 8, 8)
        >>> bool(certainty(still, still).eq(1).all())
        True
    """
    _check(forward, 2, "forward")
    _check(backward, 2, "backward")
    if forward.shape != backward.shape:
        raise ValueError(f"flows differ in size: {tuple(forward.shape)} vs {tuple(backward.shape)}")
    round_trip = warp(forward, backward)  # w~(p) = w(p + w^(p))
    occluded = ((round_trip + backward) ** 2).sum(1, keepdim=True) > 0.01 * (
        (round_trip**2).sum(1, keepdim=True) + (backward**2).sum(1, keepdim=True)
    ) + 0.5
    # gradients of the backward flow by forward differences (zero at the far border)
    dx = F.pad(backward[..., :, 1:] - backward[..., :, :-1], (0, 1, 0, 0))
    dy = F.pad(backward[..., 1:, :] - backward[..., :-1, :], (0, 0, 0, 1))
    gradient = (dx**2 + dy**2).sum(1, keepdim=True)
    boundary = gradient > 0.01 * (backward**2).sum(1, keepdim=True) + 0.002
    return (~(occluded | boundary)).to(backward.dtype)
