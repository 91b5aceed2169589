"""YUV codes and RGB, by ITU-T H.273's equations: how video and JPEG store colour.

A video stores its pictures as a luma code (Y) and two colour-difference codes (Cb, Cr), a JPEG
too (JFIF: BT.601's weights over the full 0..255 range). Smoothing a gradient's steps
(:mod:`restyle.dequantise`) has to happen in these codes, where a step is one code: converted
to RGB, one step of Y became steps of up to 4 levels. These are the conversions, for
:mod:`restyle.clip` (video) and :mod:`restyle.image` (JPEG).
"""

from __future__ import annotations

import torch

__all__ = ["YUV_MATRICES", "rgb_to_yuv", "yuv_to_rgb"]

#: Kr and Kb of the YUV matrices whose codes :func:`yuv_to_rgb` converts, by ffmpeg's names.
YUV_MATRICES = {
    "bt709": (0.2126, 0.0722),
    "smpte170m": (0.299, 0.114),
    "bt470bg": (0.299, 0.114),
    "bt2020nc": (0.2627, 0.0593),
    "smpte240m": (0.212, 0.087),
    "fcc": (0.30, 0.11),
}


def yuv_to_rgb(planes: torch.Tensor, matrix: str, *, full_range: bool = False, bits: int = 8) -> torch.Tensor:
    """YUV codes (as floats, possibly between codes) to RGB in [0, 1], as ITU-T H.273 defines it.

    ffmpeg's own conversion agrees for 8-bit 4:4:4 codes at their own size, within rounding, but
    not when it scales 4:2:0 video (mid-grey, luma 126, came out as 126 of 255, not 128), nor
    for deeper codes into 16-bit RGB: it takes white as 65280 of 65535 there (a gain of 0.9961,
    measured; 255 times 256), so that a 10-bit clip read by it came out 0.4% dark. The inverse
    is :func:`rgb_to_yuv`.

    Args:
        planes: Y, Cb and Cr codes, 0 to ``2 ** bits - 1``.
        matrix: one of :data:`YUV_MATRICES`.
        full_range: codes span 0..255 at 8 bits (JPEG's ``pc`` range); else video range, Y
            16..235, Cb and Cr 16..240 (times ``2 ** (bits - 8)`` for deeper codes).
        bits: bits per code.

    Shape:
        - planes: :math:`(3, H, W)`
        - output: :math:`(1, 3, H, W)`

    Example:
        >>> grey = torch.tensor([126.0, 128.0, 128.0])[:, None, None]  # BT.709 video range
        >>> yuv_to_rgb(grey, "bt709").flatten().mul(255).round().tolist()
        [128.0, 128.0, 128.0]
    """
    kr, kb = YUV_MATRICES[matrix]
    if full_range:
        top, middle = 2**bits - 1, 2 ** (bits - 1)
        y, cb, cr = planes[0] / top, (planes[1] - middle) / top, (planes[2] - middle) / top
    else:
        step = 2 ** (bits - 8)
        y = (planes[0] - 16 * step) / (219 * step)
        cb, cr = (planes[1:] - 128 * step) / (224 * step)
    red = y + 2 * (1 - kr) * cr
    blue = y + 2 * (1 - kb) * cb
    green = (y - kr * red - kb * blue) / (1 - kr - kb)
    return torch.stack([red, green, blue])[None].clamp(0, 1)


def rgb_to_yuv(rgb: torch.Tensor, matrix: str, *, full_range: bool = False, bits: int = 8) -> torch.Tensor:
    """RGB in [0, 1] to YUV codes as floats (not rounded), as ITU-T H.273 defines it: the
    inverse of :func:`yuv_to_rgb`. Used for 10-bit video, which ffmpeg would encode from 16-bit
    RGB with codes 0.4% high (white at luma 943, not 940: its scale takes white as 65280).

    Args:
        rgb: RGB in [0, 1].
        matrix, full_range, bits: as :func:`yuv_to_rgb`'s.

    Shape:
        - rgb: :math:`(*, 3, H, W)`
        - output: :math:`(*, 3, H, W)`, Y, Cb and Cr

    Example:
        >>> white = torch.ones(3, 1, 1)
        >>> rgb_to_yuv(white, "bt709", bits=10).flatten().tolist()
        [940.0, 512.0, 512.0]
    """
    kr, kb = YUV_MATRICES[matrix]
    red, green, blue = rgb.unbind(-3)
    y = kr * red + (1 - kr - kb) * green + kb * blue
    cb, cr = (blue - y) / (2 * (1 - kb)), (red - y) / (2 * (1 - kr))
    if full_range:
        top, middle = 2**bits - 1, 2 ** (bits - 1)
        return torch.stack([y * top, cb * top + middle, cr * top + middle], -3)
    step = 2 ** (bits - 8)
    return torch.stack([(16 + 219 * y) * step, (128 + 224 * cb) * step, (128 + 224 * cr) * step], -3)
