import io
import os
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image, ImageCms

from restyle.artistic import Result, stylize
from restyle.errors import RestyleError
from restyle.image import (
    RestyleWarning,
    camera_exif,
    check_writable,
    image_size,
    load_image,
    read_metadata,
    resize,
    resize_long_side,
    sample_path,
    save_image,
    to_pil,
    to_uint8,
)

from .conftest import animated_gif, png_with_header, smooth_image


@pytest.fixture
def rgb():
    return smooth_image(20, 30)


def assert_close_to(tensor, array, atol=2 / 255):
    expected = torch.from_numpy(array.astype(np.float32) / 255.0).permute(2, 0, 1)[None]
    assert tensor.shape == expected.shape
    assert torch.allclose(tensor, expected, atol=atol)


@pytest.mark.parametrize("suffix", [".png", ".webp", ".tif", ".bmp"])
def test_lossless_formats_round_trip(tmp_path, rgb, suffix):
    path = tmp_path / f"x{suffix}"
    kwargs = {"lossless": True} if suffix == ".webp" else {}
    Image.fromarray(rgb).save(path, **kwargs)
    assert_close_to(load_image(path), rgb, atol=1e-6)


def test_avif_photos_are_read(tmp_path, rgb):
    from PIL import features

    if not features.check("avif"):
        pytest.skip("this Pillow has no AVIF support")
    Image.fromarray(rgb).save(tmp_path / "photo.avif", quality=100, subsampling="4:4:4")
    assert_close_to(load_image(tmp_path / "photo.avif"), rgb, atol=4 / 255)
    assert image_size(tmp_path / "photo.avif") == (30, 20)


def adobe_rgb_to_srgb(rgb: np.ndarray) -> np.ndarray:
    """Adobe RGB (1998) 8-bit values to sRGB in [0, 1], written out from the two standards
    (both D65; their matrices to and from XYZ), independently of littleCMS."""
    to_xyz = np.array(
        [[0.5767309, 0.1855540, 0.1881852], [0.2973769, 0.6273491, 0.0752741], [0.0270343, 0.0706872, 0.9911085]]
    )
    from_xyz = np.array(
        [[3.2404542, -1.5371385, -0.4985314], [-0.9692660, 1.8760108, 0.0415560], [0.0556434, -0.2040259, 1.0572252]]
    )
    linear = (rgb / 255.0) ** (563 / 256)
    srgb_linear = np.clip(linear @ (from_xyz @ to_xyz).T, 0.0, 1.0)
    return np.where(srgb_linear <= 0.0031308, 12.92 * srgb_linear, 1.055 * srgb_linear ** (1 / 2.4) - 0.055)


def test_an_adobe_rgb_photo_is_converted_to_srgb():
    path = sample_path("rocket")  # scikit-image's rocket.jpg carries an Adobe RGB (1998) profile
    with Image.open(path) as img:
        assert "Adobe RGB" in ImageCms.getProfileDescription(
            ImageCms.ImageCmsProfile(io.BytesIO(img.info["icc_profile"]))
        )
        raw = np.asarray(img.convert("RGB"), dtype=np.float64)
    ours = load_image(path)[0].permute(1, 2, 0).numpy()
    error = np.abs(ours - adobe_rgb_to_srgb(raw))
    assert error.mean() < 0.5 / 255 and np.quantile(error, 0.999) < 2 / 255
    assert np.abs(ours - raw / 255).mean() > 5 / 255  # the conversion did change the colours


def test_srgb_tagged_and_untagged_images_are_read_as_they_are(tmp_path, rgb):
    with Image.open(sample_path("astronaut")) as img:  # tagged sRGB IEC61966-2.1
        assert "sRGB" in ImageCms.getProfileDescription(ImageCms.ImageCmsProfile(io.BytesIO(img.info["icc_profile"])))
        raw = np.asarray(img.convert("RGB"))
    assert torch.equal(load_image(sample_path("astronaut")), load_image(raw))


def test_an_unreadable_colour_profile_warns_and_reads_the_pixels(tmp_path, rgb):
    path = tmp_path / "odd.png"
    Image.fromarray(rgb).save(path, icc_profile=b"not a profile at all")
    with pytest.warns(RestyleWarning, match="colour profile cannot be read"):
        out = load_image(path)
    assert_close_to(out, rgb, atol=1e-6)


def test_jpeg(tmp_path, rgb):
    path = tmp_path / "x.jpg"
    Image.fromarray(rgb).save(path, quality=100, subsampling=0)
    expected = torch.from_numpy(rgb / 255.0).permute(2, 0, 1)[None].float()
    assert (load_image(path) - expected).abs().mean() < 2 / 255


def test_grayscale_and_palette(tmp_path, rgb):
    gray = rgb[..., 0]
    Image.fromarray(gray, "L").save(tmp_path / "g.png")
    out = load_image(tmp_path / "g.png")
    assert_close_to(out, np.repeat(gray[..., None], 3, axis=2), atol=1e-6)
    pal = Image.fromarray(rgb).quantize(16)
    pal.save(tmp_path / "p.png")
    assert_close_to(load_image(tmp_path / "p.png"), np.asarray(pal.convert("RGB")), atol=1e-6)


def test_rgba_composited_on_white(tmp_path):
    arr = np.zeros((4, 4, 4), dtype=np.uint8)
    arr[..., 0] = 255  # red
    arr[:2, :, 3] = 0  # top half transparent
    arr[2:, :, 3] = 255
    Image.fromarray(arr, "RGBA").save(tmp_path / "a.png")
    out = load_image(tmp_path / "a.png")
    assert torch.allclose(out[0, :, 0, 0], torch.ones(3))  # white
    assert torch.allclose(out[0, :, 3, 0], torch.tensor([1.0, 0.0, 0.0]))  # red


def test_sixteen_bit_gray_png_and_rgb_tiff(tmp_path):
    gray16 = (np.linspace(0, 65535, 24).reshape(4, 6)).astype(np.uint16)
    Image.fromarray(gray16).save(tmp_path / "g16.png")
    out = load_image(tmp_path / "g16.png")
    assert torch.allclose(out[0, 0], torch.from_numpy(gray16 / 65535.0).float(), atol=1e-6)
    tifffile = pytest.importorskip("tifffile")
    rgb16 = (np.random.default_rng(0).random((5, 7, 3)) * 65535).astype(np.uint16)
    tifffile.imwrite(tmp_path / "c16.tif", rgb16, photometric="rgb")
    out = load_image(tmp_path / "c16.tif")
    # 16-bit precision is kept (8-bit would be off by up to 1/510)
    assert torch.allclose(out[0].permute(1, 2, 0), torch.from_numpy(rgb16 / 65535.0).float(), atol=1e-6)


def test_a_16_bit_adobe_rgb_tiff_is_converted_to_srgb(tmp_path):
    """A photo editor's 16-bit export in Adobe RGB: read past Pillow at full depth, its colours
    were taken as sRGB (5.7 levels in 255 off on average), then converted through LittleCMS at
    8 bits (0.25 level off on average, and only 256 levels); now in floating point."""
    import tifffile

    with Image.open(sample_path("rocket")) as img:
        profile = img.info["icc_profile"]  # Adobe RGB (1998)
        raw = np.asarray(img.convert("RGB"))
    tifffile.imwrite(tmp_path / "adobe16.tif", raw.astype(np.uint16) * 257, photometric="rgb", iccprofile=profile)
    ours = load_image(tmp_path / "adobe16.tif")
    # the 8-bit file with that profile, which LittleCMS converts: within its rounding
    assert (ours - load_image(sample_path("rocket"))).abs().max() < 1 / 255
    error = np.abs(ours[0].permute(1, 2, 0).numpy() - adobe_rgb_to_srgb(raw.astype(np.float64)))
    assert error.mean() < 0.01 / 255 and error.max() < 0.2 / 255  # at 8 bits: 0.25 and 0.73 levels
    # a fine gradient keeps its 16 bits through the conversion
    ramp = np.linspace(0.2, 0.3, 3000)[None, :, None].repeat(2, axis=0) * [1.0, 0.8, 0.6]
    tifffile.imwrite(
        tmp_path / "ramp16.tif", (ramp * 65535).round().astype(np.uint16), photometric="rgb", iccprofile=profile
    )
    converted = load_image(tmp_path / "ramp16.tif")[0, 1, 0]
    assert len(torch.unique(converted)) > 2000  # through LittleCMS at 8 bits: 20 or so levels
    expected = adobe_rgb_to_srgb(np.round(ramp * 65535) / 65535 * 255)[0, :, 1]
    assert np.abs(converted.numpy() - expected).max() < 0.05 / 255
    srgb = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    fine = (np.random.default_rng(1).random((5, 7, 3)) * 65535).astype(np.uint16)
    tifffile.imwrite(tmp_path / "srgb16.tif", fine, photometric="rgb", iccprofile=srgb)
    kept = load_image(tmp_path / "srgb16.tif")[0].permute(1, 2, 0)  # sRGB-tagged: 16 bits kept
    assert torch.allclose(kept, torch.from_numpy(fine / 65535.0).float(), atol=1e-6)


@pytest.mark.parametrize("suffix", [".tif", ".png"])
@pytest.mark.parametrize("orientation", range(1, 9))
def test_a_16_bit_file_is_turned_upright_as_pillow_turns_8_bit_files(tmp_path, orientation, suffix):
    import tifffile

    from restyle.bitdepth import encode_png16

    pytest.importorskip("cv2")  # reads 16-bit colour PNGs past Pillow
    rgb16 = (np.random.default_rng(orientation).random((3, 5, 3)) * 65535).astype(np.uint16)
    eight = Image.fromarray((rgb16 / 257).round().astype(np.uint8))
    exif = eight.getexif()
    exif[0x0112] = orientation
    eight.save(tmp_path / "eight.png", exif=exif)  # turned by Pillow's own exif_transpose
    deep_path = tmp_path / f"deep{suffix}"
    if suffix == ".tif":
        tifffile.imwrite(deep_path, rgb16, photometric="rgb", extratags=[(274, "H", 1, orientation, True)])
    else:
        deep_path.write_bytes(encode_png16(rgb16, exif=exif.tobytes()))
    deep, reference = load_image(deep_path), load_image(tmp_path / "eight.png")
    assert deep.shape == reference.shape
    assert image_size(deep_path) == image_size(tmp_path / "eight.png") == (deep.shape[-1], deep.shape[-2])
    assert (deep - reference).abs().max() <= 0.5 / 255 + 1e-6


def test_cmyk(tmp_path):
    img = Image.new("CMYK", (3, 2), (0, 255, 255, 0))  # pure red in CMYK
    img.save(tmp_path / "c.jpg", quality=100)
    out = load_image(tmp_path / "c.jpg")
    assert out.shape == (1, 3, 2, 3)
    assert out[0, 0].mean() > 0.9 and out[0, 1].mean() < 0.1 and out[0, 2].mean() < 0.1


def _save_heif(path, rgb, **nclx):
    pillow_heif = pytest.importorskip("pillow_heif", reason="the heif extra is not installed")
    pillow_heif.register_heif_opener()
    Image.fromarray(rgb).save(path, format="HEIF", quality=-1, chroma=444, **nclx)  # lossless, no chroma subsampling


def test_heic_photos_are_read(tmp_path, rgb):
    _save_heif(tmp_path / "photo.heic", rgb)
    assert_close_to(load_image(tmp_path / "photo.heic"), rgb, atol=1.5 / 255)  # 8-bit YCbCr in between
    assert image_size(tmp_path / "photo.heic") == (30, 20)


def test_a_heic_turned_by_the_camera_is_read_upright(tmp_path, rgb):
    pytest.importorskip("pillow_heif", reason="the heif extra is not installed")
    exif = Image.fromarray(rgb).getexif()
    exif[0x0112] = 6  # stored as HEIF's own rotation, which the decoder applies
    _save_heif(tmp_path / "turned.heic", rgb, exif=exif.tobytes())
    out = load_image(tmp_path / "turned.heic")
    assert out.shape == (1, 3, 30, 20) and image_size(tmp_path / "turned.heic") == (20, 30)
    assert_close_to(out, np.ascontiguousarray(np.rot90(rgb, -1)), atol=1.5 / 255)  # a quarter turn clockwise, once


#: Linear Display P3 -> linear sRGB, as commonly published (rounded to 4 digits): the reference for
#: the matrix restyle derives from the primaries' chromaticities.
P3_TO_SRGB = np.array([[1.2249, -0.2247, 0.0], [-0.0420, 1.0419, 0.0], [-0.0197, -0.0786, 1.0979]])


def test_a_display_p3_heic_without_an_icc_profile_is_converted_to_srgb(tmp_path):
    rgb = np.stack(np.meshgrid(np.linspace(30, 230, 6), np.linspace(30, 230, 6), indexing="ij"), -1)
    rgb = np.concatenate([rgb, np.full((6, 6, 1), 120.0)], -1).round().astype(np.uint8)
    _save_heif(tmp_path / "p3.heic", rgb, color_primaries=12, transfer_characteristics=13, matrix_coefficients=6)

    def decode(v):
        return np.where(v <= 0.04045, v / 12.92, ((v + 0.055) / 1.055) ** 2.4)

    def encode(v):
        return np.where(v <= 0.0031308, v * 12.92, 1.055 * np.maximum(v, 0.0031308) ** (1 / 2.4) - 0.055)

    expected = encode(np.clip(decode(rgb / 255.0) @ P3_TO_SRGB.T, 0, 1))
    out = load_image(tmp_path / "p3.heic")[0].permute(1, 2, 0).numpy()
    assert np.abs(out - expected).max() <= 2.5 / 255  # YCbCr 8-bit in the file, 8-bit after
    assert np.abs(out - rgb / 255.0).max() > 10 / 255  # it did change: P3 colours are not sRGB's


def test_an_hdr_heic_is_read_as_an_sdr_screen_shows_it(tmp_path):
    from .conftest import encode_hdr

    sdr = np.repeat(np.random.default_rng(0).uniform(0.3, 0.9, (4, 6, 3)), 4, 0)
    signal = np.round(encode_hdr(sdr, "pq") * 255).astype(np.uint8)
    _save_heif(tmp_path / "hdr.heic", signal, color_primaries=9, transfer_characteristics=16, matrix_coefficients=9)
    out = load_image(tmp_path / "hdr.heic")[0].permute(1, 2, 0).numpy()
    assert np.abs(out - sdr).mean() < 3 / 255  # an 8-bit PQ signal is coarse: a level or two
    assert np.abs(signal / 255.0 - sdr).mean() > 30 / 255  # the signal taken as sRGB is far off


def _save_heif_10bit(path, signal, **options):
    """A 10-bit HEIC, as cameras save HLG and PQ photos, from a float (H, W, 3) signal in [0, 1]
    (or (H, W, 4), with transparency)."""
    pillow_heif = pytest.importorskip("pillow_heif", reason="the heif extra is not installed")
    pillow_heif.register_heif_opener()
    words = np.round(signal * 1023).astype(np.uint16) << 6  # 10-bit codes on the 16-bit scale
    mode = "RGBA;16" if signal.shape[2] == 4 else "RGB;16"
    heif = pillow_heif.from_bytes(mode=mode, size=(signal.shape[1], signal.shape[0]), data=words.tobytes())
    heif.save(path, quality=-1, chroma=444, **options)


def test_a_10_bit_hdr_heic_is_read_at_its_full_depth(tmp_path):
    from .conftest import encode_hdr

    sdr = np.repeat(np.random.default_rng(0).uniform(0.3, 0.9, (4, 6, 3)), 4, 0)
    _save_heif_10bit(
        tmp_path / "hdr.heic",
        encode_hdr(sdr, "hlg"),
        color_primaries=9,
        transfer_characteristics=18,
        matrix_coefficients=0,
    )
    out = load_image(tmp_path / "hdr.heic")[0].permute(1, 2, 0).numpy()
    # 10 bits hold an HLG signal to a quarter of a level or so; 8 bits would be off by a level or two
    assert np.abs(out - sdr).mean() < 0.4 / 255 and np.abs(out - sdr).max() < 1.5 / 255


def test_a_10_bit_heic_with_transparency_is_read_at_its_full_depth(tmp_path):
    # a gradient between 8-bit levels, fading from transparent (top) to opaque (bottom)
    rgba = np.zeros((16, 24, 4))
    rgba[..., 0] = np.linspace(0.2, 0.3, 24)[None]
    rgba[..., 1], rgba[..., 2] = 512 / 1023, 256 / 1023  # 8 bits would read 0.5020 and 0.2510
    rgba[..., 3] = np.linspace(0, 1, 16)[:, None]
    _save_heif_10bit(tmp_path / "clear.heic", rgba, matrix_coefficients=0)  # RGB: lossless
    codes = np.round(rgba * 1023) / 1023
    expected = codes[..., :3] * codes[..., 3:] + (1 - codes[..., 3:])  # on white
    out = load_image(tmp_path / "clear.heic")[0].permute(1, 2, 0).numpy()
    assert np.abs(out - expected).max() < 1e-5  # its 10-bit codes; at 8 bits, 0.5 level off


def test_a_10_bit_heic_turned_by_the_camera_is_read_upright_once(tmp_path, rgb):
    pytest.importorskip("pillow_heif", reason="the heif extra is not installed")
    exif = Image.fromarray(rgb).getexif()
    exif[0x0112] = 6
    signal = np.clip((rgb + 0.4) / 255.0, 0, 1)  # between 8-bit levels: 8 bits would be 0.4 levels off
    _save_heif_10bit(tmp_path / "turned.heic", signal, exif=exif.tobytes(), matrix_coefficients=0)  # RGB: lossless
    out = load_image(tmp_path / "turned.heic")[0].permute(1, 2, 0).numpy()
    assert np.abs(out - np.rot90(signal, -1)).max() < 0.2 / 255  # a quarter turn clockwise, once; 10-bit codes


def test_a_heic_without_pillow_heif_is_a_one_line_error(tmp_path, rgb, monkeypatch):
    _save_heif(tmp_path / "photo.heic", rgb)
    # as without pillow-heif: Pillow has no HEIF opener, and none can be registered
    monkeypatch.setattr(Image, "ID", [name for name in Image.ID if name != "HEIF"])
    monkeypatch.setattr("restyle.image.heif_support", lambda: False)
    with pytest.raises(RestyleError, match=r"photo.heic: a HEIF \(HEIC\) image; reading it needs pillow-heif"):
        load_image(tmp_path / "photo.heic")


def test_exif_orientation(tmp_path, rgb):
    img = Image.fromarray(rgb)  # 20 high x 30 wide
    exif = img.getexif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise on display
    img.save(tmp_path / "o.jpg", exif=exif, quality=100)
    out = load_image(tmp_path / "o.jpg")
    assert out.shape == (1, 3, 30, 20)


@pytest.mark.parametrize("orientation", [1, 6])
def test_a_jpeg_read_at_least_a_size_is_decoded_smaller_upright_and_alike(tmp_path, orientation):
    big = np.asarray(Image.fromarray(smooth_image(60, 80)).resize((640, 480), Image.BICUBIC))
    img = Image.fromarray(big)
    exif = img.getexif()
    exif[0x0112] = orientation
    img.save(tmp_path / "big.jpg", exif=exif, quality=95)
    img.save(tmp_path / "big.png")
    full = load_image(tmp_path / "big.jpg")
    small = load_image(tmp_path / "big.jpg", at_least=100)
    # 1/4 of 640x480 (160x120): 1/8 (80x60) would fall below 100 on both sides
    assert small.shape[-2:] == ((120, 160) if orientation == 1 else (160, 120))
    assert full.shape[-2:] == ((480, 640) if orientation == 1 else (640, 480))
    reference = resize(full, *small.shape[-2:])
    assert (small - reference).abs().mean() < 1 / 255  # the same picture, decoded at a quarter
    assert load_image(tmp_path / "big.png", at_least=100).shape[-2:] == (480, 640)  # other files: whole
    with pytest.raises(RestyleError, match="at_least must be at least 1, not 0"):
        load_image(tmp_path / "big.jpg", at_least=0)


def _turned_jpeg(path, width, height, orientation):
    """A smooth JPEG of upright size ``width`` x ``height``, stored turned for ``orientation``."""
    upright = np.asarray(Image.fromarray(smooth_image(50, 100)).resize((width, height), Image.BICUBIC))
    stored = upright if orientation == 1 else np.rot90(upright)  # 6 turns it a quarter clockwise
    img = Image.fromarray(np.ascontiguousarray(stored))
    exif = img.getexif()
    exif[0x0112] = orientation
    img.save(path, exif=exif, quality=95)


@pytest.fixture
def drafts(monkeypatch):
    """The sizes asked of libjpeg's scaled decoding (None: whole), in the order asked."""
    from PIL import JpegImagePlugin

    asked = []
    draft = JpegImagePlugin.JpegImageFile.draft
    monkeypatch.setattr(
        JpegImagePlugin.JpegImageFile, "draft", lambda img, mode, size: asked.append(size) or draft(img, mode, size)
    )
    return asked


@pytest.mark.parametrize("dequantise", [False, True])
@pytest.mark.parametrize("orientation", [1, 6])
def test_a_jpeg_read_at_a_size_is_decoded_smaller_where_that_is_exact(tmp_path, drafts, orientation, dequantise):
    path = tmp_path / "wide.jpg"
    _turned_jpeg(path, 400, 200, orientation)
    stored = (100, 50) if orientation == 1 else (50, 100)
    whole = load_image(path, dequantise=dequantise)
    assert whole.shape[-2:] == (200, 400) and drafts == [None]
    # a quarter keeps the long side 3.1 times 32; an eighth would not
    small = load_image(path, size=32, dequantise=dequantise)
    assert small.shape[-2:] == (16, 32) and drafts[-1] == stored
    assert (small - resize(whole, 16, 32)).abs().max() < 2 / 255  # the same picture
    load_image(path, size=50, dequantise=dequantise)  # a quarter would be twice 50
    assert drafts[-1] == (stored[0] * 2, stored[1] * 2)
    odd = tmp_path / "odd.jpg"
    _turned_jpeg(odd, 401, 200, orientation)  # a half's last column would stand for one pixel, not two
    assert load_image(odd, size=32, dequantise=dequantise).shape[-2:] == (16, 32) and drafts[-1] is None


@pytest.mark.parametrize("dequantise", [False, True])
def test_a_jpeg_over_max_pixels_decoded_smaller_is_sized_by_its_whole(tmp_path, drafts, dequantise):
    path = tmp_path / "wide.jpg"
    _turned_jpeg(path, 400, 201, 1)
    with pytest.warns(RestyleWarning, match="over --max-pixels; downscaling while reading"):
        small = load_image(path, size=50, max_pixels=400 * 200, dequantise=dequantise)
    # decoded at a quarter, 100x51, whose long side 50 would round its height up to 26; the
    # photo's own is 201 * 50 / 400 = 25.1
    assert drafts == [(50, 50)] and small.shape[-2:] == (25, 50)


@pytest.mark.parametrize("suffix", [".jpg", ".png", ".tif", ".webp"])
@pytest.mark.parametrize("orientation", range(1, 9))
def test_image_size_is_the_upright_size_load_image_reads(tmp_path, rgb, orientation, suffix):
    img = Image.fromarray(rgb)  # 20 high x 30 wide
    exif = img.getexif()
    exif[0x0112] = orientation
    path = tmp_path / f"o{suffix}"
    img.save(path, exif=exif)
    width, height = image_size(path)
    assert load_image(path).shape[-2:] == (height, width)
    assert (width, height) == ((20, 30) if orientation >= 5 else (30, 20))


def test_image_size_of_bad_files_is_one_line(tmp_path):
    (tmp_path / "junk.png").write_bytes(b"not an image")
    for path, message in [(tmp_path / "junk.png", "not an image"), (tmp_path / "gone.png", "no such file")]:
        with pytest.raises(RestyleError, match=message):
            image_size(path)


def test_float_and_32_bit_grey_files(tmp_path, rgb):
    grey = rgb[..., 0].astype(np.float32) / 255.0
    Image.fromarray(grey, "F").save(tmp_path / "unit.tif")  # a float TIFF on the 0..1 scale
    Image.fromarray(grey * 255.0, "F").save(tmp_path / "byte.tif")  # ... and on 0..255
    Image.fromarray((grey * 65535.0).astype(np.int32), "I").save(tmp_path / "int.tif")  # 32-bit grey, 16-bit values
    for name in ("unit.tif", "byte.tif", "int.tif"):
        out = load_image(tmp_path / name)
        assert torch.allclose(out, torch.from_numpy(grey).expand(1, 3, -1, -1), atol=1e-4), name


def test_in_memory_inputs(rgb):
    from_np = load_image(rgb)
    assert torch.equal(load_image(Image.fromarray(rgb)), from_np)
    assert torch.equal(load_image(from_np[0]), from_np)
    assert torch.equal(load_image(np.moveaxis(rgb, 2, 0)), from_np)
    assert torch.allclose(load_image(rgb.astype(np.float32) / 255), from_np)
    with pytest.raises(RestyleError, match="NaN"):
        load_image(np.full((4, 4, 3), np.nan, dtype=np.float32))
    with pytest.raises(RestyleError, match=r"^image: expected a path, PIL image, numpy array or tensor, not int$"):
        load_image(42)
    result = Result(from_np)  # what stylize returns: its image is what a next run or a save takes
    with pytest.raises(RestyleError, match=r"^content: expected a path, .* not Result; give its .image$"):
        load_image(result, what="content")
    # an image file's bytes, or the file open: what to give instead (PIL opens both)
    png = io.BytesIO()
    Image.fromarray(rgb).save(png, format="PNG")
    with pytest.raises(
        RestyleError, match=r"not bytes; for an image file's bytes, give PIL.Image.open\(io.BytesIO\(data\)\)$"
    ):
        load_image(png.getvalue())
    with pytest.raises(RestyleError, match=r"not BytesIO; for an open image file, give PIL.Image.open\(file\)$"):
        load_image(png)
    assert torch.equal(load_image(Image.open(io.BytesIO(png.getvalue()))), from_np)  # as the hint says
    with pytest.raises(RestyleError, match="^image: a tensor on the meta device holds no pixels$"):
        load_image(torch.empty(1, 3, 4, 4, device="meta"))  # not PyTorch's NotImplementedError
    with pytest.raises(RestyleError, match="shape"):
        load_image(torch.zeros(2, 3, 4, 4))
    # a uint8 tensor is 0..255, as a uint8 array (it was clipped to 0..1: nearly all white)
    assert torch.equal(load_image(torch.from_numpy(rgb).permute(2, 0, 1)), from_np)
    with pytest.raises(RestyleError, match="unsupported tensor dtype torch.int64"):
        load_image(torch.from_numpy(rgb.astype(np.int64)).permute(2, 0, 1))
    # floats on the 0..255 scale are refused (clipping turned them white); a small overshoot is clipped
    for source in (rgb.astype(np.float64), torch.from_numpy(rgb).permute(2, 0, 1).float(), -from_np):
        with pytest.raises(RestyleError, match="a float image must be on a 0..1 scale"):
            load_image(source)
    overshoot = from_np * 1.2 - 0.1
    assert torch.equal(load_image(overshoot), overshoot.clamp(0, 1))
    assert torch.equal(load_image(overshoot[0].permute(1, 2, 0).numpy()), overshoot.clamp(0, 1))


def test_size_sets_long_side(rgb):
    assert load_image(rgb, size=15).shape == (1, 3, 10, 15)
    assert load_image(rgb, size=60).shape == (1, 3, 40, 60)
    assert resize_long_side(torch.rand(1, 3, 7, 3), 14).shape == (1, 3, 14, 6)


def test_samples_are_bundled():
    assert sample_path("astronaut").is_file()
    assert load_image("sample:chelsea", size=32).shape[-1] == 32
    with pytest.raises(RestyleError, match="unknown sample"):
        load_image("sample:nope")


# --- bad input -------------------------------------------------------------------------------


def test_missing_file_and_folder(tmp_path):
    with pytest.raises(RestyleError, match="no such file"):
        load_image(tmp_path / "missing.png")
    with pytest.raises(RestyleError, match="is a folder"):
        load_image(tmp_path)


def test_a_sample_named_without_its_prefix_is_pointed_to(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(RestyleError) as caught:
        load_image("Astronaut")
    assert str(caught.value) == "Astronaut: no such file (the built-in photo is sample:astronaut)"
    with pytest.raises(RestyleError) as caught:  # a path in a folder is meant as a file: no advice
        load_image(tmp_path / "astronaut")
    assert str(caught.value) == f"{tmp_path / 'astronaut'}: no such file"


def test_not_an_image(tmp_path):
    path = tmp_path / "notes.png"
    path.write_text("hello, I am text")
    with pytest.raises(RestyleError, match="not an image"):
        load_image(path)


def test_truncated_image(tmp_path, rgb):
    buf = io.BytesIO()
    Image.fromarray(smooth_image(200, 200)).save(buf, format="PNG")
    path = tmp_path / "cut.png"
    path.write_bytes(buf.getvalue()[: len(buf.getvalue()) // 2])
    with pytest.raises(RestyleError, match="truncated or corrupt|cannot decode"):
        load_image(path)
    buf = io.BytesIO()
    Image.fromarray(smooth_image(200, 200)).save(buf, format="JPEG")
    path = tmp_path / "cut.jpg"
    path.write_bytes(buf.getvalue()[: len(buf.getvalue()) // 2])
    with pytest.raises(RestyleError, match="truncated or corrupt|cannot decode"):
        load_image(path)


def test_a_corrupt_compressed_tiff_is_one_error_with_libtiff_s_reason(tmp_path, capfd):
    """libtiff prints why it fails on stderr, beside restyle's error; restyle puts it in the
    error instead, so that a user sees one line."""
    buf = io.BytesIO()
    Image.fromarray(smooth_image(40, 50)).save(buf, format="TIFF", compression="tiff_lzw")
    data = bytearray(buf.getvalue())
    data[20:60] = b"\xff" * 40  # inside the LZW strip, after the 8-byte header: codes it never defined
    path = tmp_path / "bad.tif"
    path.write_bytes(bytes(data))
    with pytest.raises(
        RestyleError,
        match=r"^.*bad.tif: image data cannot be decoded \((decoder error )?-2; libtiff: Using code not yet",
    ):
        load_image(path)
    os.write(2, b"stderr restored\n")
    assert capfd.readouterr().err == "stderr restored\n"


def test_decompression_bomb_refused_without_decoding(tmp_path):
    path = tmp_path / "bomb.png"
    path.write_bytes(png_with_header(100_000, 100_000))
    with pytest.raises(RestyleError, match="max-pixels|decompression bomb"):
        load_image(path)
    with pytest.raises(RestyleError, match="max-pixels|decompression bomb"):
        load_image(path, size=512)  # far over the limit: refused even when downscaling


def test_over_the_limit_is_one_error_without_pils_own_warning(tmp_path):
    path = tmp_path / "big.png"
    path.write_bytes(png_with_header(20_000, 15_000))  # in PIL's warning band at our limit
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with pytest.raises(RestyleError, match="over the --max-pixels limit"):
            load_image(path)
    assert caught == []


def test_zero_size_image(tmp_path):
    path = tmp_path / "zero.png"
    path.write_bytes(png_with_header(0, 10))
    with pytest.raises(RestyleError, match="zero size|not an image"):
        load_image(path)
    with pytest.raises(RestyleError, match="zero size"):
        load_image(np.zeros((0, 5, 3), dtype=np.uint8))


@pytest.mark.parametrize(
    ("array", "message"),
    [
        (np.zeros((8, 8, 3), np.int64), "an array of int64 is not an image type; give uint8 .0..255."),
        (np.zeros((8, 8, 3), np.complex64), "an array of complex64 is not an image type"),
        (
            np.zeros((8, 8, 5), np.uint8),
            r"expected an image array of shape \(H, W\[, 1\|3\|4\]\) or \(1\|3\|4, H, W\), got \(8, 8, 5\)$",
        ),
        (np.zeros((2, 8, 8, 3), np.uint8), "expected an image array of shape"),
    ],
)
def test_arrays_of_other_types_or_shapes_are_refused_with_the_fix(array, message):
    with pytest.raises(RestyleError, match=message):
        load_image(array)


@pytest.mark.parametrize(
    ("source", "fix"),
    [
        (torch.rand(20, 30, 3), "; its channels are last: give tensor.permute(2, 0, 1)"),
        (torch.rand(1, 20, 30, 3), "; its channels are last: give tensor.permute(0, 3, 1, 2)"),
        (torch.rand(2, 3, 20, 30), "; one image at a time: tensor[i]"),
        (torch.rand(1, 2, 20, 30), ""),
        (np.random.default_rng(0).random((1, 20, 30, 3)), "; one image at a time: array[i]"),
    ],
)
def test_a_wrong_shape_is_told_with_its_likely_fix(source, fix):
    with pytest.raises(RestyleError) as caught:
        load_image(source)
    assert str(caught.value).endswith(f"got {tuple(source.shape)}{fix}")
    if fix.startswith("; its channels are last"):  # the fix it gives works
        order = [int(i) for i in fix.split("(")[1].rstrip(")").split(", ")]
        assert load_image(source.permute(*order)).shape == (1, 3, 20, 30)


@pytest.mark.parametrize(
    ("low", "high", "fix"),
    [
        (0.0, 255.0, "divide 0..255 values by 255"),
        (-1.0, 1.0, "map -1..1 values with (x + 1) / 2"),
        (-2.1, 2.6, "undo the normalisation: multiply by its standard deviation and add its mean"),
    ],
)
def test_a_float_image_on_another_scale_is_told_how_to_bring_it_to_0_1(low, high, fix):
    values = torch.linspace(low, high, 3 * 8 * 8).reshape(1, 3, 8, 8)
    for source in (values, values[0].permute(1, 2, 0).numpy()):
        with pytest.raises(RestyleError) as caught:
            load_image(source)
        assert str(caught.value).endswith(f"values run from {low:.3g} to {high:.3g} ({fix})")


def test_a_grey_tensor_may_be_two_dimensional_as_an_array_may():
    grey = torch.rand(6, 9)
    assert torch.equal(load_image(grey), load_image(grey.numpy()))
    assert torch.equal(load_image(grey), grey.expand(1, 3, 6, 9))


def test_a_tensor_with_alpha_is_composited_on_white_as_an_array_is():
    rgba = torch.rand(1, 4, 6, 9)
    expected = rgba[:, :3] * rgba[:, 3:] + 1 - rgba[:, 3:]
    assert torch.allclose(load_image(rgba), expected)
    assert torch.allclose(load_image(rgba[0]), expected)
    assert torch.allclose(load_image(rgba[0].permute(1, 2, 0).numpy()), expected)
    assert torch.allclose(
        load_image((rgba * 255).round().to(torch.uint8)),
        load_image((rgba * 255).round().to(torch.uint8)[0].permute(1, 2, 0).numpy()),
    )


def test_a_sparse_tensor_is_read_as_its_dense_pixels():
    dense = torch.rand(3, 6, 9) * (torch.rand(3, 6, 9) > 0.5)
    assert torch.equal(load_image(dense.to_sparse()), load_image(dense))


def test_a_pil_image_opened_from_a_phone_photo_is_turned_upright_as_its_file_is(tmp_path, rgb):
    img = Image.fromarray(rgb)  # 20 high x 30 wide, stored on its side
    exif = img.getexif()
    exif[0x0112] = 6
    img.save(tmp_path / "phone.jpg", exif=exif, quality=95)
    with Image.open(tmp_path / "phone.jpg") as opened:  # decoded lazily, inside load_image
        from_pil = load_image(opened)
    assert from_pil.shape == (1, 3, 30, 20)
    assert torch.equal(from_pil, load_image(tmp_path / "phone.jpg"))


def test_premultiplied_grey_with_alpha_is_read_as_its_unpremultiplied_form():
    grey = Image.fromarray(np.array([[10, 200], [90, 255]], dtype=np.uint8))
    alpha = Image.fromarray(np.array([[255, 128], [0, 64]], dtype=np.uint8))
    la = Image.merge("LA", (grey, alpha))
    assert torch.equal(load_image(la.convert("La")), load_image(la.convert("La").convert("LA")))
    assert load_image(la.convert("La"))[0, 0, 0, 0] == pytest.approx(10 / 255)


def test_a_pil_image_that_cannot_be_decoded_is_a_one_line_error(tmp_path, rgb):
    Image.fromarray(rgb).save(tmp_path / "whole.png")
    data = (tmp_path / "whole.png").read_bytes()
    (tmp_path / "cut.png").write_bytes(data[: len(data) // 2])
    closed = Image.open(tmp_path / "whole.png")
    closed.close()
    with Image.open(tmp_path / "cut.png") as cut:
        for image, reason in [(cut, "truncated"), (closed, "closed image")]:
            with pytest.raises(RestyleError, match=rf"^style: the PIL image cannot be read \(.*{reason}"):
                load_image(image, what="style")


def test_over_max_pixels_error_or_downscale_with_warning(tmp_path, rgb):
    path = tmp_path / "big.png"
    Image.fromarray(rgb).save(path)  # 600 pixels
    with pytest.raises(RestyleError, match=r"\(600 pixels\) is over the --max-pixels limit of 500 pixels"):
        load_image(path, max_pixels=500)
    with pytest.warns(RestyleWarning, match="downscaling"):
        out = load_image(path, max_pixels=500, size=15)
    assert out.shape == (1, 3, 10, 15)


@pytest.mark.parametrize("limit", [0, -5])
def test_a_max_pixels_below_one_is_refused_not_taken_as_a_limit(tmp_path, rgb, limit):
    """--max-pixels 0 (or -5) refused every image as over "the limit of 0 pixels"."""
    path = tmp_path / "a.png"
    Image.fromarray(rgb).save(path)
    for call in (lambda: load_image(path, max_pixels=limit), lambda: image_size(path, max_pixels=limit)):
        with pytest.raises(RestyleError) as caught:
            call()
        assert str(caught.value) == f"--max-pixels must be at least 1, not {limit}"
    with pytest.raises(RestyleError, match="^--max-pixels must be at least 1"):  # an image in memory too
        stylize(rgb, rgb, size=32, max_pixels=limit)


def test_a_sample_over_max_pixels_is_named_as_the_user_named_it():
    """Not by its file inside the installed scikit-image."""
    with pytest.raises(RestyleError) as caught:
        load_image("sample:coffee", max_pixels=1000)
    assert str(caught.value).startswith("sample:coffee: 600x400 (0.2 MP) is over the --max-pixels limit of 1000 pixels")


# --- writing ---------------------------------------------------------------------------------


def test_metadata_never_holds_an_images_pixels(tmp_path):
    """An image in memory among the parameters (a caller's own, say) is written as "<in memory>",
    not as the repr of its pixels."""
    params = {"array": np.zeros((400, 400, 3)), "tensor": torch.zeros(1, 3, 9, 9), "pil": Image.new("RGB", (5, 5))}
    path = save_image(load_image(smooth_image(8, 12)), tmp_path / "out.png", metadata={**params, "seed": 1})
    assert read_metadata(path) == {"array": "<in memory>", "tensor": "<in memory>", "pil": "<in memory>", "seed": 1}


def test_save_image_takes_what_load_image_takes_and_checks_it_as_an_input(tmp_path):
    """An array crashed on ``.detach``, an (H, W) tensor in a permute, and a 0..255 float tensor
    was written white: no file is written for a bad one."""
    rgb = smooth_image(8, 12)
    expected = load_image(rgb)
    for given in (rgb, rgb.astype(np.float64) / 255, expected[0], expected[0].permute(1, 2, 0).numpy()):
        assert torch.equal(load_image(save_image(given, tmp_path / "a.png")), expected)
    grey = torch.rand(8, 12)
    assert torch.allclose(
        load_image(save_image(grey, tmp_path / "g.png", bits=16)), grey.expand(1, 3, 8, 12), atol=1e-4
    )
    with pytest.raises(RestyleError, match=r"b.png: not written: a float image must be on a 0..1 scale.*by 255\)$"):
        save_image(expected * 255, tmp_path / "b.png")
    with pytest.raises(RestyleError, match="c.png: not written: the image contains NaN"):
        save_image(np.full((4, 4, 3), np.nan), tmp_path / "c.png")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.png", "g.png"]


@pytest.mark.parametrize(("suffix", "limit"), [(".webp", 16_383), (".jpg", 65_500)])
def test_an_image_wider_than_its_format_holds_is_one_line_and_no_file(tmp_path, suffix, limit):
    """Pillow's WebP encoder raised a ValueError; libjpeg wrote a broken stream, told as one."""
    assert save_image(torch.zeros(1, 3, 1, limit), tmp_path / f"edge{suffix}").exists()
    message = rf"wide{suffix}: a .* image holds at most {limit} pixels a side, and this one has {limit + 1}; "
    for image in (torch.zeros(1, 3, limit + 1, 1), Image.new("L", (limit + 1, 1))):
        with pytest.raises(RestyleError, match=message + r"write .png or .tif$"):
            save_image(image, tmp_path / f"wide{suffix}")
    assert [p.name for p in tmp_path.iterdir()] == [f"edge{suffix}"]


def test_save_image_refuses_an_empty_or_closed_pil_image_and_wrong_types_in_one_line(tmp_path, rgb):
    closed = Image.fromarray(rgb)
    closed.close()
    for image, args, message in [
        (Image.new("RGB", (0, 0)), {}, r"e.png: not written: the image has zero size$"),
        (closed, {}, r"e.png: not written: the PIL image cannot be read \(Operation on closed image\)$"),
        (rgb, {"metadata": "seed=1"}, r"^metadata must be a mapping \(a dict\), not 'seed=1'$"),
    ]:
        with pytest.raises(RestyleError, match=message):
            save_image(image, tmp_path / "e.png", **args)
    for path in (b"e.png", 3):
        with pytest.raises(RestyleError, match=rf"^path must be a string or a pathlib.Path, not {path!r}$"):
            save_image(rgb, path)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("suffix", [".png", ".jpg", ".tif", ".webp"])
def test_save_formats_with_metadata(tmp_path, suffix):
    image = load_image(smooth_image(8, 12))
    params = {"seed": 3, "style_weight": 100.0, "layers": ["relu1_1"]}
    path = save_image(image, tmp_path / f"out{suffix}", metadata=params)
    assert read_metadata(path) == params
    back = load_image(path)
    assert back.shape == image.shape
    if suffix == ".jpg":
        assert (back - image).abs().mean() < 0.02
    else:
        assert torch.allclose(back, image, atol=1 / 255)
    assert [p.name for p in tmp_path.iterdir()] == [path.name]  # no temporary files left
    with Image.open(path) as img:  # tagged sRGB, for colour-managed editors
        assert ImageCms.getProfileDescription(ImageCms.ImageCmsProfile(io.BytesIO(img.info["icc_profile"]))).startswith(
            "sRGB"
        )


def test_parameters_larger_than_a_jpeg_comment_are_refused_before_writing_and_fit_elsewhere(tmp_path):
    """A JPEG comment holds 65,533 bytes; libjpeg failed a larger one as "broken data stream"."""
    from restyle.image import JPEG_COMMENT_LIMIT

    image = load_image(smooth_image(8, 12))
    room = JPEG_COMMENT_LIMIT - len('{"notes": ""}')
    fits = save_image(image, tmp_path / "fits.jpg", metadata={"notes": "x" * room})  # to the byte
    assert read_metadata(fits) == {"notes": "x" * room}
    fits.unlink()
    big = {"notes": "x" * (room + 1)}
    with pytest.raises(RestyleError) as raised:
        save_image(image, tmp_path / "big.jpg", metadata=big)
    assert str(raised.value) == (
        f"{tmp_path / 'big.jpg'}: not written: its parameters take 65,534 bytes, more than a JPEG comment holds "
        "(65,533); save it as PNG, TIFF or WebP"
    )
    assert list(tmp_path.iterdir()) == []
    for suffix in (".png", ".tif", ".webp"):
        assert read_metadata(save_image(image, tmp_path / f"big{suffix}", metadata=big)) == big


def test_a_jpeg_holds_a_cameras_largest_exif_beside_its_parameters(tmp_path):
    """EXIF up to EXIF_LIMIT is passed on; with the sRGB profile and the parameters it no longer
    fitted Pillow's 64 KiB header buffer, and the result failed as "broken data stream"."""
    from restyle.image import EXIF_LIMIT

    exif = Image.Exif()
    exif[0x010F] = "Canon"
    exif.get_ifd(0x8769)[0x927C] = b"\x01" * (EXIF_LIMIT - 1000)  # a large MakerNote, under the limit
    data = exif.tobytes()
    assert EXIF_LIMIT - 1000 < len(data) <= EXIF_LIMIT
    params = {f"option_{i}": "v" * 20 for i in range(60)}  # about 1.8 kB, as a run's record
    path = save_image(load_image(smooth_image(8, 12)), tmp_path / "out.jpg", metadata=params, exif=data)
    assert read_metadata(path) == params
    with Image.open(path) as img:
        assert img.getexif()[0x010F] == "Canon" and len(img.info["exif"]) > EXIF_LIMIT - 1000


def camera_jpeg(path, rgb):
    """A JPEG as a camera writes it: make, model, date taken, pixel size, turned by EXIF."""
    exif = Image.Exif()
    exif[0x010F], exif[0x0110], exif[0x0112] = "Canon", "EOS R5", 6
    details = exif.get_ifd(0x8769)
    details[0x9003], details[0xA002], details[0xA003] = "2024:05:01 10:20:30", rgb.shape[1], rgb.shape[0]
    Image.fromarray(rgb).save(path, exif=exif, quality=95)
    return path


@pytest.mark.parametrize("suffix", [".png", ".jpg", ".tif", ".webp"])
def test_a_photos_exif_travels_with_its_result_upright(tmp_path, rgb, suffix):
    photo = camera_jpeg(tmp_path / "camera.jpg", rgb)
    upright = load_image(photo)
    assert upright.shape[-2:] == (rgb.shape[1], rgb.shape[0])  # turned by its orientation
    params = {"seed": 1, "note": "ünïcode"}
    path = save_image(upright, tmp_path / f"out{suffix}", metadata=params, exif=camera_exif(photo))
    assert read_metadata(path) == params
    with Image.open(path) as img:
        exif = img.getexif()
        details = exif.get_ifd(0x8769)
    assert (exif[0x010F], exif[0x0110], exif[0x0112]) == ("Canon", "EOS R5", 1)
    assert details[0x9003] == "2024:05:01 10:20:30" and 0xA002 not in details and 0xA003 not in details
    assert load_image(path).shape == upright.shape  # not turned a second time
    assert camera_exif(tmp_path / f"out{suffix}") is not None and camera_exif("sample:coffee") is None


def test_a_photos_gps_position_travels_with_its_result(tmp_path, rgb):
    exif = Image.Exif()
    exif[0x010F] = "Pixel"
    gps = exif.get_ifd(0x8825)
    gps[1], gps[2] = "N", (48.0, 51.0, 29.0)  # GPSLatitudeRef, GPSLatitude
    Image.fromarray(rgb).save(tmp_path / "phone.jpg", exif=exif)
    path = save_image(
        load_image(tmp_path / "phone.jpg"), tmp_path / "out.jpg", exif=camera_exif(tmp_path / "phone.jpg")
    )
    with Image.open(path) as img:
        assert img.getexif().get_ifd(0x8825) == {1: "N", 2: (48.0, 51.0, 29.0)}


def _tiff_with_tags(path, rgb, tags):
    import tifffile

    tifffile.imwrite(path, rgb, extratags=tags)
    return path


@pytest.mark.parametrize("suffix", [".jpg", ".png", ".tif", ".webp"])
def test_a_tiffs_layout_and_private_tags_stay_behind(tmp_path, rgb, suffix):
    """A TIFF's first directory is its image's too (strips, bit depths) and often holds large
    XMP: a JPEG result cannot take 100 kB of EXIF, which failed the save at the very end."""
    photo = _tiff_with_tags(
        tmp_path / "export.tif", rgb, [(271, "s", 0, "Nikon", True), (700, "B", 100_000, b"x" * 100_000, True)]
    )
    path = save_image(load_image(photo), tmp_path / f"out{suffix}", exif=camera_exif(photo))
    with Image.open(path) as img:
        exif = img.getexif()  # a TIFF result's own first directory holds its own layout
    assert exif[0x010F] == "Nikon" and exif[0x0112] == 1 and 700 not in exif
    if suffix != ".tif":
        assert not {273, 279, 258} & set(exif)  # the source's StripOffsets, StripByteCounts, BitsPerSample


def test_exif_too_long_for_a_jpeg_loses_the_maker_note_then_everything(tmp_path, rgb):
    exif = Image.Exif()
    exif[0x010F] = "Canon"
    details = exif.get_ifd(0x8769)
    details[0x9003], details[0x927C] = "2024:05:01 10:20:30", b"m" * 70_000  # DateTimeOriginal, MakerNote
    Image.fromarray(rgb).save(tmp_path / "maker.png", exif=exif)  # a PNG's EXIF has no such limit
    kept = Image.Exif()
    kept.load(camera_exif(tmp_path / "maker.png"))
    assert kept[0x010F] == "Canon" and kept.get_ifd(0x8769) == {0x9003: "2024:05:01 10:20:30"}
    details[0x927C], details[0x9286] = b"m", b"u" * 70_000  # a short maker note, a long UserComment
    Image.fromarray(rgb).save(tmp_path / "comment.png", exif=exif)
    assert camera_exif(tmp_path / "comment.png") is None  # the result is written without it


def test_a_floating_point_tiff_is_read_as_stored(tmp_path, caplog):
    """Pillow cannot open floating-point colour TIFFs (as scientific and HDR tools write them)."""
    import tifffile

    values = np.random.default_rng(0).random((12, 20, 3)).astype(np.float32)
    tifffile.imwrite(tmp_path / "float.tif", values, photometric="rgb")
    assert image_size(tmp_path / "float.tif") == (20, 12)
    assert np.array_equal(load_image(tmp_path / "float.tif")[0].permute(1, 2, 0).numpy(), values)
    with pytest.raises(
        RestyleError, match=r"float.tif: 20x12 \(240 pixels\) is over the --max-pixels limit of 100 pixels"
    ):
        load_image(tmp_path / "float.tif", max_pixels=100)
    tifffile.imwrite(tmp_path / "linear.tif", values * 4, photometric="rgb")  # linear light, from an HDR merge
    with pytest.raises(
        RestyleError,
        match=r"linear.tif: a floating-point image with values up to 4, as linear HDR is stored; tone-map it",
    ):
        load_image(tmp_path / "linear.tif")
    (tmp_path / "junk.tif").write_bytes(b"II*\0 junk")
    with warnings.catch_warnings(record=True) as caught:  # the one-line error alone: no lines from
        warnings.simplefilter("always")  # Pillow ("Corrupt EXIF data") or tifffile's logger
        for read in (image_size, load_image):
            with pytest.raises(RestyleError, match=r"junk.tif: not an image, or a format restyle cannot read"):
                read(tmp_path / "junk.tif")
    assert not caught and not caplog.records


def test_a_large_style_is_read_downscaled_not_refused(tmp_path):
    from restyle.image import load_style

    values = (np.random.default_rng(0).random((60, 90, 3)) * 255).astype(np.uint8)
    Image.fromarray(values).save(tmp_path / "style.png")
    own = load_image(tmp_path / "style.png")
    assert torch.equal(load_style(tmp_path / "style.png", long_side=45), own)  # within twice: as it is
    assert torch.equal(load_style(tmp_path / "style.png", long_side=44), resize(own, 29, 44))
    assert torch.equal(load_style(values, long_side=44), resize(own, 29, 44))  # in memory alike
    with pytest.raises(RestyleError, match="over the --max-pixels limit"):
        load_image(tmp_path / "style.png", max_pixels=2000)
    with pytest.warns(RestyleWarning, match="is over --max-pixels; downscaling while reading"):
        assert load_style(tmp_path / "style.png", long_side=20, max_pixels=2000).shape == (1, 3, 13, 20)


def test_webp_output_is_lossless(tmp_path, rgb):
    image = torch.from_numpy(rgb / 255.0).permute(2, 0, 1)[None].float()
    path = save_image(image, tmp_path / "out.webp")
    assert_close_to(load_image(path), rgb, atol=1e-6)  # lossy WebP would smear the chroma


def test_unwritable_output_is_caught_before_work(tmp_path):
    with pytest.raises(RestyleError, match="does not exist"):
        check_writable(tmp_path / "nope" / "out.png")
    with pytest.raises(RestyleError, match="unsupported output type"):
        check_writable(tmp_path / "out.gifx")
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        import os

        # root ignores permissions; /proc is unwritable for everyone
        folder = Path("/proc") if os.access(locked, os.W_OK) else locked
        with pytest.raises(RestyleError, match="not writable"):
            check_writable(folder / "out.png")
    finally:
        locked.chmod(0o700)


def test_a_non_finite_image_is_not_written(tmp_path):
    target = tmp_path / "out.png"
    image = torch.rand(1, 3, 8, 8)
    image[0, 1, 2, 3] = float("nan")  # to_pil would have written it as black
    with pytest.raises(RestyleError, match="not written: the image contains NaN or infinite values"):
        save_image(image, target)
    assert not target.exists()


def test_failed_write_leaves_no_partial_file(tmp_path, monkeypatch):
    image = load_image(smooth_image(8, 8))
    target = tmp_path / "out.png"
    target.write_bytes(b"previous result")

    def explode(self, *args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(Image.Image, "save", explode)
    with pytest.raises(KeyboardInterrupt):
        save_image(image, target)
    assert target.read_bytes() == b"previous result"  # untouched
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.png"]  # temp file removed


@pytest.mark.parametrize("name", ["out.jpg", "out.png", "out.tif", "out.webp"])
def test_a_full_disk_is_a_one_line_error_and_leaves_no_file(tmp_path, monkeypatch, name):
    """Every byte goes through the file object's checked writes: Pillow given a real file
    writes JPEGs straight to its descriptor and took a short write on a full disk for a whole
    one, leaving a truncated file reported as saved."""
    import errno
    import io

    import restyle.files

    class FullDisk(io.FileIO):
        def write(self, data):
            raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(restyle.files.os, "fdopen", lambda fd, mode: FullDisk(fd, "wb"))
    with pytest.raises(RestyleError, match=f"{name}: cannot write: No space left on device"):
        save_image(load_image(smooth_image(32, 32)), tmp_path / name)
    assert list(tmp_path.iterdir()) == []


def test_saved_files_get_the_umask_mode_not_the_temp_files_0600(tmp_path):
    old = os.umask(0o027)
    try:
        target = save_image(load_image(smooth_image(8, 8)), tmp_path / "out.png")
        still = os.umask(0o027)  # reading the umask means setting it; saving must not change it
    finally:
        os.umask(old)
    assert still == 0o027
    assert (target.stat().st_mode & 0o777) == 0o640  # 0666 minus the umask, as for any new file


def test_a_replaced_file_keeps_its_permissions(tmp_path):
    """A rename gives the result a new file's mode; a private (0600) or group (0660) result was
    made world-readable (0644 under the usual umask) when a run replaced it."""
    target = tmp_path / "out.png"
    for mode in (0o600, 0o660, 0o604):
        target.write_bytes(b"previous result")
        target.chmod(mode)
        save_image(load_image(smooth_image(8, 8)), target)
        assert (target.stat().st_mode & 0o777) == mode and target.read_bytes()[:4] == b"\x89PNG"


def test_an_output_that_is_a_symbolic_link_writes_the_file_it_points_to(tmp_path):
    """A rename onto the link replaced the link with a file: the file it pointed to kept the
    old result and the link was gone."""
    (tmp_path / "prints").mkdir()
    run7 = tmp_path / "prints" / "run7.png"
    run7.write_bytes(b"previous result")
    run7.chmod(0o600)
    latest = tmp_path / "latest.png"
    latest.symlink_to(Path("prints") / "run7.png")
    image = load_image(smooth_image(8, 8))
    assert save_image(image, check_writable(latest)) == latest
    assert latest.is_symlink() and latest.resolve() == run7.resolve()
    assert torch.equal(load_image(run7), image) and (run7.stat().st_mode & 0o777) == 0o600
    assert sorted(p.name for p in (tmp_path / "prints").iterdir()) == ["run7.png"]
    dangling = tmp_path / "next.png"
    dangling.symlink_to(Path("prints") / "run8.png")  # its file is made
    save_image(image, dangling)
    assert dangling.is_symlink() and torch.equal(load_image(tmp_path / "prints" / "run8.png"), image)
    broken = tmp_path / "gone.png"
    broken.symlink_to(Path("nowhere") / "run9.png")
    with pytest.raises(RestyleError, match="output folder .*nowhere does not exist"):
        check_writable(broken)


def test_a_read_only_output_is_refused_before_work_and_kept(tmp_path):
    """A rename onto a read-only file succeeds (it needs only the folder writable): a result
    the user had made read-only to keep it was replaced without a word."""
    kept = tmp_path / "kept.png"
    kept.write_bytes(b"previous result")
    kept.chmod(0o444)
    try:
        for attempt in (lambda: check_writable(kept), lambda: save_image(load_image(smooth_image(8, 8)), kept)):
            with pytest.raises(RestyleError, match="kept.png: the file is read-only; give another output"):
                attempt()
        assert kept.read_bytes() == b"previous result" and sorted(p.name for p in tmp_path.iterdir()) == ["kept.png"]
        kept.chmod(0o644)  # writable again: replaced
        check_writable(kept)
    finally:
        kept.chmod(0o644)


def test_to_uint8_rounds_to_the_nearest_level_and_round_trips():
    levels = torch.arange(256, dtype=torch.float64) / 255.0
    # every 8-bit level survives the trip, also when nudged by less than half a level
    assert torch.equal(to_uint8(levels), torch.arange(256, dtype=torch.uint8))
    assert torch.equal(to_uint8(levels + 0.49 / 255.0), torch.arange(256).clamp(max=255).to(torch.uint8))
    assert torch.equal(to_uint8(levels[1:] - 0.49 / 255.0), torch.arange(1, 256, dtype=torch.uint8))
    assert to_uint8(torch.tensor([-3.0, float("inf")])).tolist() == [0, 255]
    assert to_uint8(torch.rand(2, 3, 4, 5)).shape == (2, 3, 4, 5)


def test_to_pil_round_trips_an_8_bit_image(rgb):
    image = load_image(rgb)
    assert np.array_equal(np.asarray(to_pil(image)), rgb)
    assert np.array_equal(np.asarray(to_pil(image[0])), rgb)
    # values off the 8-bit levels go to the nearest one, out-of-range ones are clipped
    image = torch.tensor([[-0.1, 0.1], [0.5, 1.2]]).expand(3, 2, 2)
    assert np.asarray(to_pil(image))[..., 0].tolist() == [[0, 26], [128, 255]]


@pytest.mark.parametrize("suffix", [".gif", ".webp", ".png"])
def test_animation_read_as_its_first_frame_with_a_warning(tmp_path, suffix):
    first = np.zeros((16, 20, 3), np.uint8)
    first[:, :10] = (255, 0, 0)  # red left half; the second frame is plain blue
    frames = [Image.fromarray(first), Image.new("RGB", (20, 16), (0, 0, 255))]
    path = tmp_path / f"anim{suffix}"
    frames[0].save(path, save_all=True, append_images=frames[1:], duration=100, lossless=True)
    with pytest.warns(
        RestyleWarning, match=r"an animation of 2 frames; only its first is used \(restyle video takes a clip\)"
    ):
        img = load_image(path)
    assert img.shape == (1, 3, 16, 20)
    assert img[0, 0, :, :10].mean() > 0.95 and img[0, 2, :, :10].mean() < 0.05  # red, from the first frame


def test_an_animated_gif_cut_short_reads_as_its_first_frame(tmp_path):
    """Pillow's frame count fails on a file that ends inside a frame's descriptor (it raised
    through ``load_image``); restyle.gif's block parser counts the whole frames."""
    whole = animated_gif(tmp_path / "whole.gif", count=4, duration=100).read_bytes()
    last = whole.rfind(b"\x21\xf9\x04")  # the last frame's graphic control, then its descriptor
    path = tmp_path / "cut.gif"
    path.write_bytes(whole[: last + 8 + 5])
    with pytest.warns(RestyleWarning, match=r"cut.gif: an animation of 3 frames; only its first is used"):
        image = load_image(path)
    assert torch.equal(image, load_image(np.asarray(Image.open(tmp_path / "whole.gif").convert("RGB"))))


def test_still_gif_reads_without_a_warning(tmp_path):
    path = tmp_path / "still.gif"
    Image.new("RGB", (20, 16), (0, 0, 255)).save(path)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        load_image(path)


def test_holds_deep_colour_from_the_header(tmp_path, rgb):
    import tifffile

    from restyle.image import holds_deep_colour

    from .test_raw import write_dng

    words = rgb.astype(np.uint16) * 257
    cases = {
        "eight.png": lambda p: Image.fromarray(rgb).save(p),
        "eight.tif": lambda p: Image.fromarray(rgb).save(p),
        "eight.jpg": lambda p: Image.fromarray(rgb).save(p),
        "sixteen.png": lambda p: save_image(torch.from_numpy(words / 65535.0).permute(2, 0, 1)[None], p, bits=16),
        "grey16.png": lambda p: Image.fromarray(words[..., 0]).save(p),
        "sixteen.tif": lambda p: tifffile.imwrite(p, words, photometric="rgb"),
        "float.tif": lambda p: tifffile.imwrite(p, words.astype(np.float32) / 65535, photometric="rgb"),
        "raw.dng": lambda p: write_dng(p, np.full((16, 24, 3), 0.3)),
        "junk.png": lambda p: p.write_text("not an image"),
    }
    deep = {}
    for name, write in cases.items():
        write(tmp_path / name)
        deep[name] = holds_deep_colour(tmp_path / name)
    assert deep == {name: name.startswith(("sixteen", "grey16", "float", "raw")) for name in cases}


def test_a_video_given_as_an_image_is_named_as_one(tmp_path):
    import imageio_ffmpeg

    clip = tmp_path / "clip.mp4"
    writer = imageio_ffmpeg.write_frames(str(clip), (32, 16), fps=5)
    writer.send(None)
    for _ in range(3):
        writer.send(np.zeros((16, 32, 3), np.uint8).tobytes())
    writer.close()
    mpeg = tmp_path / "old.mpg"
    mpeg.write_bytes(b"\x00\x00\x01\xb3" + bytes(60))  # what Pillow takes for an MPEG image it cannot decode
    stream = tmp_path / "cam.h264"  # a security camera's raw stream, no container
    stream.write_bytes(b"\x00\x00\x00\x01\x67" + bytes(60))
    for path in (clip, mpeg, stream):
        with pytest.raises(RestyleError, match=f"^{path}: a video, not an image; restyle video stylises a clip$"):
            load_image(path)
    notes = tmp_path / "notes.mp4.txt"
    notes.write_text("not a video either")
    with pytest.raises(RestyleError, match="not an image, or a format restyle cannot read"):
        load_image(notes)


@pytest.mark.parametrize("suffix", [".png", ".jpg", ".tif", ".webp"])
def test_save_image_writes_a_pil_image_of_any_mode(tmp_path, suffix):
    """A mode the format stores is written as it is; any other (transparency in a JPEG, CMYK,
    floats, 16 bits) as load_image reads it: 8-bit sRGB, never CMYK or floats tagged sRGB."""
    rgb = Image.fromarray(smooth_image(8, 10))
    images = {mode: rgb.convert(mode) for mode in ("1", "L", "LA", "P", "RGB", "RGBA", "CMYK", "YCbCr", "I", "F")}
    images["I;16"] = Image.fromarray(np.arange(80, dtype=np.uint16).reshape(8, 10) * 800)
    images["PA"] = rgb.convert("P").convert("PA")
    clear = np.asarray(rgb.convert("RGBA")).copy()
    clear[:4, :, 3] = 0  # a transparent top half: white once composited
    images["RGBA clear"] = Image.fromarray(clear)
    # JPEG is lossy, the more so on the palette's dithering; the others are lossless
    mean_tolerance, max_tolerance = (0.02, 0.1) if suffix == ".jpg" else (0.5 / 255, 0.5 / 255 + 1e-6)
    for name, image in images.items():
        path = save_image(image, tmp_path / f"{name}{suffix}")
        with Image.open(path) as written:
            assert written.mode in ("1", "L", "LA", "P", "RGB", "RGBA"), (name, written.mode)
        error = (load_image(path) - load_image(image)).abs()
        assert error.mean() <= mean_tolerance and error.max() <= max_tolerance, (name, error.mean(), error.max())


def test_save_image_converts_a_pil_image_in_another_colour_space(tmp_path):
    from .test_icc import PROPHOTO, gamma_curve, icc_profile

    image = Image.fromarray(smooth_image(8, 10))
    image.info["icc_profile"] = icc_profile(PROPHOTO, [gamma_curve(1.8)] * 3)
    path = save_image(image, tmp_path / "out.png")  # tagged sRGB: written in sRGB
    assert float((load_image(path) - load_image(image)).abs().max()) <= 0.5 / 255 + 1e-6
    assert float((load_image(path) - load_image(np.asarray(image))).abs().mean()) > 3 / 255  # the colours changed


def test_a_pil_float_image_with_nan_is_refused(tmp_path):
    image = Image.fromarray(np.full((4, 4), np.nan, dtype=np.float32))
    with pytest.raises(RestyleError, match=r"^image: the image contains NaN or infinite values$"):
        load_image(image)
    with pytest.raises(RestyleError, match=r"out.png: not written: the image contains NaN or infinite values$"):
        save_image(image, tmp_path / "out.png")
    assert list(tmp_path.iterdir()) == []


def test_a_photo_whose_exif_is_damaged_is_read_as_stored(tmp_path):
    """Pillow raises on a WebP's EXIF whose TIFF header is broken; browsers show the photo, and
    so does restyle, with a warning, in every reader that looks at the EXIF."""
    rgb = smooth_image(12, 16)
    exif = Image.Exif()
    exif[0x0112] = 6  # a quarter turn, which cannot be known once the block is damaged
    buf = io.BytesIO()
    Image.fromarray(rgb).save(buf, format="WEBP", lossless=True, exif=exif.tobytes())
    data = bytearray(buf.getvalue())
    header = max(data.find(b"II*\x00"), data.find(b"MM\x00*"))
    data[header] = 9  # neither "II" nor "MM": not a TIFF header
    path = tmp_path / "damaged.webp"
    path.write_bytes(bytes(data))
    with pytest.warns(RestyleWarning, match=r"damaged.webp: its EXIF block is damaged; read as stored, without its"):
        image = load_image(path)
    assert torch.equal(image, load_image(rgb))
    assert image_size(path) == (16, 12)
    assert read_metadata(path) == {}
    assert camera_exif(path) is None


def test_an_empty_path_is_refused_not_read_as_the_current_folder(tmp_path, monkeypatch):
    from restyle.image import load_style

    monkeypatch.chdir(tmp_path)
    Image.fromarray(smooth_image(8, 8)).save(tmp_path / "a.png")  # the current folder holds an image
    calls = {
        "content": lambda: load_image("", what="content"),
        "style": lambda: load_style(" ", long_side=32),
        "image": lambda: image_size(""),
        "output": lambda: save_image(torch.rand(1, 3, 4, 4), ""),
    }
    for what, call in calls.items():
        with pytest.raises(RestyleError, match=rf"^{what}: the path is empty \(an unset shell variable\?\)$"):
            call()
    assert [p.name for p in tmp_path.iterdir()] == ["a.png"]
