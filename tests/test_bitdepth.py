"""16-bit PNG and TIFF output: pixels read back by other decoders (OpenCV, tifffile), metadata,
the sRGB profile, the camera's EXIF, and the CLI's --bit-depth."""

import numpy as np
import pytest
import tifffile
import torch
from PIL import Image

from restyle.bitdepth import encode_png16, to_uint16, write_tiff16
from restyle.cli import main
from restyle.errors import RestyleError
from restyle.image import camera_exif, load_image, read_metadata, save_image

from .conftest import run

cv2 = pytest.importorskip("cv2")  # an independent PNG decoder (the video extra, installed by make install)


def random_levels(height: int, width: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    levels = rng.integers(0, 65536, size=(height, width, 3), dtype=np.uint16)
    levels[0, 0], levels[-1, -1] = 0, 65535  # both ends of the range
    return levels


def read_png16(path) -> np.ndarray:
    decoded = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    assert decoded is not None and decoded.dtype == np.uint16 and decoded.shape[2] == 3
    return decoded[..., ::-1]  # OpenCV's BGR


def test_to_uint16_rounds_and_clips():
    image = torch.tensor([-0.5, 0.0, 1 / 65535, 0.4 / 65535, 0.6 / 65535, 0.5, 1.0, 2.0]).view(1, 1, 8).expand(3, 1, 8)
    assert to_uint16(image)[0, :, 0].tolist() == [0, 0, 1, 0, 1, 32768, 65535, 65535]
    assert to_uint16(image[None]).shape == (1, 8, 3)
    with pytest.raises(ValueError, match=r"expected a \(3, H, W\) or \(1, 3, H, W\) image, got \(1, 8\)"):
        to_uint16(torch.zeros(1, 8))


@pytest.mark.parametrize("shape", [(1, 1), (7, 5), (300, 2)])
@pytest.mark.parametrize("level", [1, 6])
def test_png16_pixels_decode_exactly_elsewhere(tmp_path, shape, level):
    levels = random_levels(*shape)
    path = tmp_path / "deep.png"
    path.write_bytes(encode_png16(levels, level=level))
    assert np.array_equal(read_png16(path), levels)


def test_png16_is_split_into_idat_chunks_when_large(tmp_path, monkeypatch):
    import restyle.bitdepth

    monkeypatch.setattr(restyle.bitdepth, "_IDAT_PIECE", 100)
    levels = random_levels(20, 30, seed=1)
    data = encode_png16(levels)
    assert data.count(b"IDAT") > 10
    (tmp_path / "split.png").write_bytes(data)
    assert np.array_equal(read_png16(tmp_path / "split.png"), levels)


def test_encoders_refuse_other_arrays():
    for bad in (np.zeros((2, 2, 3), np.uint8), np.zeros((2, 2), np.uint16), np.zeros((0, 2, 3), np.uint16)):
        with pytest.raises(ValueError, match="expected a non-empty uint16"):
            encode_png16(bad)
        with pytest.raises(ValueError, match="expected a non-empty uint16"):
            write_tiff16(None, bad)


@pytest.fixture
def camera():
    """A photo's EXIF as restyle passes it on (:func:`camera_exif`)."""
    photo = Image.new("RGB", (4, 4))
    tags = photo.getexif()
    tags[0x010F], tags[0x0110], tags[0x0132] = "Canon", "EOS R5", "2026:12:05 10:00:00"
    exif = camera_exif(photo)
    assert exif is not None
    return exif


@pytest.mark.parametrize("suffix", [".png", ".tif"])
def test_save_image_16_bits_keeps_precision_metadata_profile_and_camera(tmp_path, camera, suffix):
    gradient = torch.linspace(0, 1, 4000).view(1, 1, 1, 4000).expand(1, 3, 2, 4000).contiguous()
    path = save_image(gradient, tmp_path / f"deep{suffix}", metadata={"seed": 7}, exif=camera, bits=16)
    pixels = read_png16(path) if suffix == ".png" else tifffile.imread(path)
    assert pixels.dtype == np.uint16 and np.array_equal(pixels, to_uint16(gradient))
    assert len(np.unique(pixels)) == 4000  # 8 bits would leave 256 levels
    assert read_metadata(path) == {"seed": 7}
    with Image.open(path) as img:
        assert img.info.get("icc_profile") and img.getexif().get(0x010F) == "Canon"
        assert img.getexif().get(0x0110) == "EOS R5"
    assert (load_image(path) - gradient).abs().max() <= 0.5 / 65535 + 1e-7  # read back at full depth
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # written atomically
    # libtiff and libpng, through OpenCV (BGR), read the same pixels: the TIFF's predictor
    # (horizontal differencing) and the PNG's filters are the formats' own
    assert np.array_equal(cv2.imread(str(path), cv2.IMREAD_UNCHANGED)[..., ::-1], pixels)


def test_a_pil_image_saved_at_16_bits_keeps_its_8_bit_levels(tmp_path):
    levels = np.arange(256, dtype=np.uint8).repeat(3).reshape(1, 256, 3)
    path = save_image(Image.fromarray(levels), tmp_path / "p.png", bits=16)
    assert np.array_equal(read_png16(path), levels.astype(np.uint16) * 257)


@pytest.mark.parametrize(
    ("name", "bits", "message"),
    [
        ("out.jpg", 16, "out.jpg: .jpg holds 8 bits per channel; write .png or .tif for 16"),
        ("out.webp", 16, "out.webp: .webp holds 8 bits per channel; write .png or .tif for 16"),
        ("out.png", 12, "bits must be 8 or 16, not 12"),
    ],
)
def test_save_image_refuses_depths_a_format_cannot_hold(tmp_path, name, bits, message):
    with pytest.raises(RestyleError) as caught:
        save_image(torch.rand(1, 3, 4, 4), tmp_path / name, bits=bits)
    assert message in str(caught.value)
    assert not list(tmp_path.iterdir())


TINY = ["--size", "32", "--iterations", "2", "--no-pyramid", "--quiet", "--device", "cpu"]


def test_cli_art_writes_16_bits_and_refuses_jpeg_before_any_work(capsys, tmp_path, monkeypatch, content_png, style_png):
    content, style = content_png, style_png
    code, stdout, err = run(capsys, "art", content, style, "-o", tmp_path / "o.png", "--bit-depth", "16", *TINY)
    assert code == 0 and stdout.strip() == str(tmp_path / "o.png"), err
    assert read_png16(tmp_path / "o.png").shape == (24, 32, 3) and read_metadata(tmp_path / "o.png")["size"] == 32

    import restyle.artistic

    def no_work(*args, **kwargs):
        raise AssertionError("images loaded before the output was checked")

    monkeypatch.setattr(restyle.artistic, "load_image", no_work)
    code, _, err = run(capsys, "art", content, style, "-o", tmp_path / "o.jpg", "--bit-depth", "16", *TINY)
    assert code == 1 and err.count("\n") == 1 and ".jpg holds 8 bits per channel" in err, err
    with pytest.raises(SystemExit) as exit_:  # argparse: a usage error
        main(["art", str(content), str(style), "-o", str(tmp_path / "x.png"), "--bit-depth", "12"])
    assert exit_.value.code == 2 and "invalid choice: 12" in capsys.readouterr().err


def test_cli_smooth_and_photo_write_16_bits(capsys, tmp_path, content_png, style_png):
    content, style = content_png, style_png
    code, _, err = run(
        capsys, "smooth", style, "--content", content, "--method", "guided", "-o", tmp_path / "g.tif",
        "--bit-depth", "16", "--quiet",
    )  # fmt: skip
    assert code == 0, err
    assert tifffile.imread(tmp_path / "g.tif").dtype == np.uint16
    assert read_metadata(tmp_path / "g.tif")["method"] == "guided"
    code, _, err = run(
        capsys, "photo", content, style, "-o", tmp_path / "p.png", "--preset", "fast", "--size", "32",
        "--device", "cpu", "--quiet", "--bit-depth", "16",
    )  # fmt: skip
    assert code == 0, err
    assert read_png16(tmp_path / "p.png").shape == (24, 32, 3)


def test_without_opencv_a_16_bit_png_is_read_at_8_bits(tmp_path, monkeypatch):
    import sys

    gradient = torch.linspace(0, 1, 1000).view(1, 1, 1, 1000).expand(1, 3, 1, 1000).contiguous()
    path = save_image(gradient, tmp_path / "deep.png", bits=16)
    monkeypatch.setitem(sys.modules, "cv2", None)  # import cv2 now raises ImportError
    eight = load_image(path)
    assert (eight - gradient).abs().max() <= 1 / 255 + 1e-6
    assert len(torch.unique(eight[0, 0])) <= 256
