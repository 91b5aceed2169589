"""restyle.icc: matrix/TRC ICC profiles read from their bytes and applied in floating point,
against LittleCMS (through Pillow, at 8 bits) and against the curves' own equations."""

from __future__ import annotations

import io
import struct

import numpy as np
import pytest
import torch
from PIL import Image, ImageCms

from restyle.icc import read_matrix_shaper, to_srgb

D50 = (0.9642, 1.0, 0.8249)
#: The primaries' XYZ, adapted to D50, as ICC profiles store them (rounded to 4 digits).
PROPHOTO = np.array([[0.7977, 0.1352, 0.0313], [0.2880, 0.7119, 0.0001], [0.0000, 0.0000, 0.8249]])
DISPLAY_P3 = np.array([[0.5151, 0.2920, 0.1571], [0.2412, 0.6922, 0.0666], [-0.0011, 0.0419, 0.7841]])
SRGB_PARAMS = (2.4, 1 / 1.055, 0.055 / 1.055, 1 / 12.92, 0.04045)


def fixed(*values: float) -> bytes:
    return b"".join(struct.pack(">i", round(v * 65536)) for v in values)


def xyz_tag(x: float, y: float, z: float) -> bytes:
    return b"XYZ \0\0\0\0" + fixed(x, y, z)


def gamma_curve(gamma: float) -> bytes:
    return b"curv\0\0\0\0" + struct.pack(">IH", 1, round(gamma * 256)) + b"\0\0"


def table_curve(values: np.ndarray) -> bytes:
    data = b"curv\0\0\0\0" + struct.pack(f">I{len(values)}H", len(values), *np.round(values * 65535).astype(int))
    return data + b"\0" * (-len(data) % 4)


def para_curve(function: int, *params: float) -> bytes:
    return b"para\0\0\0\0" + struct.pack(">HH", function, 0) + fixed(*params)


def icc_profile(colorants: np.ndarray, curves: list[bytes], *, extra=(), space=b"RGB ", pcs=b"XYZ ") -> bytes:
    """A version 2 display profile holding only what a matrix/TRC profile needs: the tests' own
    writer of the layout ICC.1 gives (header, tag table, tags on 4-byte boundaries)."""
    tags = [(b"wtpt", xyz_tag(*D50))]
    tags += [(name, xyz_tag(*colorants[:, i])) for i, name in enumerate((b"rXYZ", b"gXYZ", b"bXYZ"))]
    tags += list(zip((b"rTRC", b"gTRC", b"bTRC"), curves, strict=True)) + list(extra)
    offset = 128 + 4 + 12 * len(tags)
    table, data = struct.pack(">I", len(tags)), b""
    for name, body in tags:
        table += struct.pack(">4sII", name, offset + len(data), len(body))
        data += body + b"\0" * (-len(body) % 4)
    size = offset + len(data)
    header = struct.pack(">I4sI4s4s4s12s4s", size, b"none", 0x02100000, b"mntr", space, pcs, bytes(12), b"acsp")
    header += bytes(68 - len(header)) + fixed(*D50)
    return header + bytes(128 - len(header)) + table + data


def littlecms(rgb8: np.ndarray, profile: bytes) -> np.ndarray:
    """LittleCMS's conversion of 8-bit RGB in ``profile`` to its own sRGB, in [0, 1]."""
    srgb = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB"))
    out = ImageCms.profileToProfile(Image.fromarray(rgb8), ImageCms.ImageCmsProfile(io.BytesIO(profile)), srgb)
    return np.asarray(out, dtype=np.float64) / 255.0


def colour_cube(steps: int = 18) -> np.ndarray:
    levels = np.linspace(0, 255, steps).round().astype(np.uint8)
    return np.stack(np.meshgrid(levels, levels, levels, indexing="ij"), axis=-1).reshape(steps, steps * steps, 3)


LSTAR = np.where(
    np.linspace(0, 1, 256) > 0.08, ((np.linspace(0, 1, 256) + 0.16) / 1.16) ** 3, np.linspace(0, 1, 256) / 9.033
)
CURVES = {
    "ProPhoto, gamma 1.8": (PROPHOTO, [gamma_curve(1.8)] * 3),
    "Display P3, sRGB's curve (para 3)": (DISPLAY_P3, [para_curve(3, *SRGB_PARAMS)] * 3),
    "para 0, 1 and 2": (DISPLAY_P3, [para_curve(0, 2.2), para_curve(1, 2.0, 1.05, -0.05), para_curve(2, 2.2, 1.1, -0.1, 0.0)]),
    "para 4 and tables": (
        PROPHOTO,
        [para_curve(4, 2.4, 0.947, 0.052, 0.077, 0.039, 0.001, 0.0), table_curve(LSTAR), table_curve(np.linspace(0, 1, 2))],
    ),
}  # fmt: skip


@pytest.mark.parametrize("name", list(CURVES))
def test_a_matrix_shaper_profile_converts_as_littlecms_does(name):
    colorants, curves = CURVES[name]
    profile = icc_profile(colorants, curves)
    shaper = read_matrix_shaper(profile)
    assert shaper is not None
    assert np.abs(shaper.colorants - colorants).max() < 1e-4
    cube = colour_cube()
    ours = to_srgb(cube / 255.0, shaper)
    error = np.abs(ours - littlecms(cube, profile)) * 255
    assert error.mean() < 0.35 and error.max() < 1.0, (error.mean(), error.max())  # its 8-bit rounding
    assert np.abs(ours - cube / 255.0).mean() * 255 > 3  # the colours did change


def test_curves_follow_their_equations():
    x = torch.linspace(0, 1, 101, dtype=torch.float64)

    def curve(body: bytes):  # read from the tag's bytes, as a profile's are
        from restyle.icc import _curve

        return _curve(body, 0, len(body))(x)

    srgb = torch.where(x <= 0.04045, x / 12.92, ((x + 0.055) / 1.055) ** 2.4)
    assert torch.allclose(curve(para_curve(3, *SRGB_PARAMS)), srgb, atol=1e-4)
    assert torch.allclose(curve(gamma_curve(1.8)), x**1.8, atol=1e-3)  # 1.8 as u8Fixed8: 1.80078
    assert torch.allclose(curve(para_curve(0, 2.2)), x**2.2, atol=1e-4)
    assert torch.allclose(curve(para_curve(1, 2.0, 2.0, -1.0)), torch.where(x >= 0.5, (2 * x - 1) ** 2, 0.0), atol=1e-4)
    low = torch.where(x >= 0.5, (2 * x - 1) ** 2 + 0.1, 0.1)
    assert torch.allclose(curve(para_curve(2, 2.0, 2.0, -1.0, 0.1)), low, atol=1e-4)
    four = torch.where(x >= 0.2, (0.5 * x + 0.5) ** 2 + 0.01, 0.3 * x + 0.02)
    assert torch.allclose(curve(para_curve(4, 2.0, 0.5, 0.5, 0.3, 0.2, 0.01, 0.02)), four, atol=1e-4)
    assert torch.allclose(
        curve(table_curve(np.array([0.0, 0.25, 1.0]))), torch.where(x <= 0.5, x / 2, 1.5 * x - 0.5), atol=1e-4
    )
    identity = b"curv\0\0\0\0" + struct.pack(">I", 0)
    assert torch.equal(curve(identity), x)


def test_an_adobe_rgb_profile_is_read_from_a_real_file():
    from restyle.image import sample_path

    with Image.open(sample_path("rocket")) as img:  # scikit-image's rocket.jpg: Adobe RGB (1998)
        shaper = read_matrix_shaper(img.info["icc_profile"])
    assert shaper is not None
    adobe = np.array([[0.6097, 0.2053, 0.1492], [0.3111, 0.6257, 0.0632], [0.0195, 0.0609, 0.7446]])  # D50
    assert np.abs(shaper.colorants - adobe).max() < 2e-4
    x = torch.tensor([0.25, 0.5, 1.0], dtype=torch.float64)
    assert torch.allclose(shaper.curves[1](x), x ** (563 / 256), atol=1e-6)  # its gamma, 2.19921875


@pytest.mark.parametrize(
    "profile",
    [
        icc_profile(PROPHOTO, [gamma_curve(1.8)] * 3, extra=[(b"A2B0", b"mft2" + bytes(60))]),  # a lookup table
        icc_profile(PROPHOTO, [gamma_curve(1.8)] * 3, pcs=b"Lab "),
        icc_profile(PROPHOTO, [gamma_curve(1.8)] * 3, space=b"CMYK"),
        icc_profile(PROPHOTO, [gamma_curve(1.8)] * 2 + [b"text\0\0\0\0abc\0"]),  # not a curve
        icc_profile(PROPHOTO, [para_curve(7, 1.0)] * 3),  # no such parametric curve
        icc_profile(PROPHOTO, [para_curve(2, 2.2, 0.9, 0.1, 0.01)] * 3),  # black raised: LittleCMS compensates it
        icc_profile(np.zeros((3, 3)), [gamma_curve(1.8)] * 3),  # no primaries
        icc_profile(PROPHOTO, [gamma_curve(1.8)] * 3)[:300],  # cut short
        b"not a profile at all",
        b"",
    ],
)
def test_other_profiles_are_left_to_littlecms(profile):
    assert read_matrix_shaper(profile) is None


def test_out_of_gamut_colours_are_clipped_and_srgb_is_kept():
    srgb = read_matrix_shaper(ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes())
    assert srgb is not None
    values = np.random.default_rng(0).random((4, 5, 3)).astype(np.float32)
    assert np.abs(to_srgb(values, srgb) - values).max() < 1e-4  # sRGB to itself
    prophoto = read_matrix_shaper(icc_profile(PROPHOTO, [gamma_curve(1.8)] * 3))
    assert prophoto is not None
    green = to_srgb(np.array([[[0.0, 1.0, 0.0]]]), prophoto)  # far outside sRGB
    assert green.min() >= 0.0 and green.max() <= 1.0 and green[0, 0, 1] == pytest.approx(1.0, abs=1e-6)
