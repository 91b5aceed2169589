"""Camera RAW photos: developed by LibRaw (rawpy), never read as their TIFF preview."""

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from restyle.errors import RestyleError
from restyle.image import RestyleWarning, camera_exif, image_files, image_size, load_image, read_metadata, to_uint8

from .conftest import run

tifffile = pytest.importorskip("tifffile")

#: CIE XYZ (D65) -> linear sRGB (IEC 61966-2-1, rounded to 4 digits): the synthetic camera's
#: colour matrix, so that its raw channels are linear sRGB scaled by its white balance.
XYZ_TO_SRGB = np.array([[3.2406, -1.5372, -0.4986], [-0.9689, 1.8758, 0.0415], [0.0557, -0.2040, 1.0570]])
BLACK, WHITE = 256, 16383


def srgb_encode(linear: np.ndarray) -> np.ndarray:
    return np.where(linear <= 0.0031308, 12.92 * linear, 1.055 * np.maximum(linear, 0.0031308) ** (1 / 2.4) - 0.055)


def scene(height: int = 64, width: int = 96) -> np.ndarray:
    """Smooth linear-sRGB gradients, and a white bar (4% of the pixels) that clips, so that
    LibRaw's brightening (the brightest 1% of pixels to white) leaves the exposure as it is."""
    y, x = np.mgrid[0:height, 0:width] / np.array([height, width])[:, None, None]
    linear = np.stack([0.05 + 0.6 * x, 0.1 + 0.4 * y, 0.4 - 0.3 * x * y], -1)
    linear[:, :4] = 1.0
    return linear


def _rationals(values) -> list[int]:
    return [v for x in np.ravel(values) for v in (round(float(x) * 10000), 10000)]


def write_dng(path: Path, linear: np.ndarray, *, gains=(1.0, 1.0, 1.0), orientation=1, preview=False) -> Path:
    """A DNG as a camera with an RGGB Bayer sensor records ``linear`` (linear sRGB), its channels
    scaled by ``gains`` (its white balance). With ``preview``, its first image is a small RGB
    preview and the sensor data sits in a sub-directory, as in cameras' and phones' DNGs."""
    camera = linear * np.asarray(gains)
    mosaic = np.empty(linear.shape[:2])
    mosaic[0::2, 0::2] = camera[0::2, 0::2, 0]
    mosaic[0::2, 1::2] = camera[0::2, 1::2, 1]
    mosaic[1::2, 0::2] = camera[1::2, 0::2, 1]
    mosaic[1::2, 1::2] = camera[1::2, 1::2, 2]
    data = np.round(BLACK + np.clip(mosaic, 0, 1) * (WHITE - BLACK)).astype(np.uint16)
    described = [
        (50706, "B", 4, (1, 4, 0, 0), True),  # DNGVersion
        (50708, "s", 0, "restyle test camera", True),  # UniqueCameraModel
        (271, "s", 0, "Restyle", True),  # Make
        (50721, "2i", 9, _rationals(np.diag(gains) @ XYZ_TO_SRGB), True),  # ColorMatrix1
        (50778, "H", 1, (21,), True),  # CalibrationIlluminant1: D65
        (50728, "2I", 3, _rationals(gains), True),  # AsShotNeutral
        (274, "H", 1, (orientation,), True),  # Orientation
    ]
    sensor = [
        (33421, "H", 2, (2, 2), True),  # CFARepeatPatternDim
        (33422, "B", 4, (0, 1, 1, 2), True),  # CFAPattern: RGGB
        (50714, "H", 1, (BLACK,), True),  # BlackLevel
        (50717, "H", 1, (WHITE,), True),  # WhiteLevel
    ]
    with tifffile.TiffWriter(path) as tif:
        if preview:
            tif.write(np.zeros((16, 24, 3), np.uint8), photometric="rgb", subfiletype=1, subifds=1, extratags=described)
            tif.write(data, photometric=32803, subfiletype=0, extratags=sensor)
        else:
            tif.write(data, photometric=32803, subfiletype=0, extratags=described + sensor)
    return path


@pytest.fixture
def rawpy():
    return pytest.importorskip("rawpy", reason="the raw extra is not installed")


def test_a_dng_is_developed_with_the_cameras_white_balance_into_srgb(tmp_path, rawpy):
    linear = scene()
    path = write_dng(tmp_path / "shot.dng", linear, gains=(0.5, 1.0, 0.8))
    out = load_image(path)[0].permute(1, 2, 0).numpy()
    error = np.abs(out - srgb_encode(linear))[6:-6, 6:-6] * 255  # demosaicing is rougher at the borders
    assert error.mean() < 0.1 and error.max() < 0.5


def test_a_dngs_preview_is_not_taken_for_the_photo(tmp_path, rawpy):
    """Pillow opens a DNG as a TIFF and reads its first image: here a 24x16 preview."""
    path = write_dng(tmp_path / "phone.dng", scene(), preview=True)
    assert load_image(path).shape == (1, 3, 64, 96) and image_size(path) == (96, 64)
    assert camera_exif(path) is not None  # the camera's tags, from the preview's directory


@pytest.mark.parametrize(("orientation", "turn"), [(1, 0), (3, 2), (6, -1), (8, 1)])
def test_a_raw_photo_is_developed_upright(tmp_path, rawpy, orientation, turn):
    linear = scene()
    path = write_dng(tmp_path / "turned.dng", linear, orientation=orientation)
    out = load_image(path)[0].permute(1, 2, 0).numpy()
    expected = np.rot90(srgb_encode(linear), turn)  # numpy's positive turns are anticlockwise
    assert out.shape == expected.shape and image_size(path) == (out.shape[1], out.shape[0])
    assert np.abs(out - expected)[6:-6, 6:-6].mean() < 0.1 / 255


def test_a_small_size_develops_at_half_size(tmp_path, rawpy, monkeypatch):
    import restyle.image

    asked = []
    real = restyle.image.read_raw
    monkeypatch.setattr(
        restyle.image, "read_raw", lambda path, half_size: asked.append(half_size) or real(path, half_size=half_size)
    )
    linear = scene()
    path = write_dng(tmp_path / "shot.dng", linear)
    small = load_image(path, size=48)  # 48 <= 96 / 2: one pixel per 2x2 sensor cell
    assert load_image(path, size=49).shape == (1, 3, 33, 49) and asked == [True, False]
    reference = load_image(srgb_encode(linear).astype(np.float32), size=48)
    assert small.shape == reference.shape == (1, 3, 32, 48)
    assert (small - reference)[..., 3:-3, 3:-3].abs().mean() < 1 / 255
    asked.clear()  # read for a caller that resizes it (restyle video's frames): both sides at least
    assert load_image(path, at_least=32).shape == (1, 3, 32, 48) and asked == [True]
    assert load_image(path, at_least=33).shape == (1, 3, 64, 96) and asked == [True, False]


def test_raw_files_are_photos_of_a_folder_and_hold_no_parameters(tmp_path, rawpy, capsys):
    for name in ("b.CR3", "a.dng", "c.jpg", "notes.txt"):
        (tmp_path / name).write_bytes(b"")
    assert [p.name for p in image_files(tmp_path)] == ["a.dng", "b.CR3", "c.jpg"]
    path = write_dng(tmp_path / "shot.dng", scene())
    assert read_metadata(path) == {}
    code, _, stderr = run(capsys, "info", path)
    assert code == 1 and "holds no restyle parameters" in stderr


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"not a raw file at all", "junk.nef: not a RAW file LibRaw can read (Input/output error)"),
        (None, "junk.nef: no such file"),
    ],
)
def test_bad_raw_files_are_one_line_errors(tmp_path, rawpy, capsys, style_png, content, message):
    path = tmp_path / "junk.nef"
    if content is not None:
        path.write_bytes(content)
    code, _, stderr = run(capsys, "photo", path, style_png, "-o", tmp_path / "o.png", "--preset", "fast")
    assert code == 1 and stderr.count("\n") == 1 and message in stderr, stderr
    assert not (tmp_path / "o.png").exists()


def test_a_raw_file_without_rawpy_is_a_one_line_error(tmp_path, monkeypatch):
    monkeypatch.setattr("restyle.raw.raw_support", lambda: False)
    (tmp_path / "IMG_0001.CR3").write_bytes(b"\0" * 64)
    with pytest.raises(RestyleError, match=r"IMG_0001.CR3: a camera RAW file; reading it needs rawpy: pip install"):
        load_image(tmp_path / "IMG_0001.CR3")


def test_a_raw_photo_is_stylised_from_the_command_line(tmp_path, rawpy, capsys, style_png):
    photo = write_dng(tmp_path / "shot.dng", scene(), preview=True)
    out = tmp_path / "shot.jpg"
    code, _, stderr = run(capsys, "photo", photo, style_png, "-o", out, "--preset", "fast", "--size", "48")
    assert code == 0, stderr
    with Image.open(out) as img:
        assert img.size == (48, 32) and img.getexif()[0x010F] == "Restyle"


def test_raw_plus_jpeg_in_a_folder_stylises_the_jpeg(tmp_path, rawpy, capsys, style_png):
    folder = tmp_path / "card"
    folder.mkdir()
    write_dng(folder / "IMG_0001.DNG", scene())
    Image.fromarray((srgb_encode(scene()) * 255).round().astype(np.uint8)).save(folder / "IMG_0001.JPG")
    write_dng(folder / "IMG_0002.DNG", scene())  # RAW only
    out = tmp_path / "looks"
    code, stdout, stderr = run(
        capsys, "photo", folder, style_png, "-o", out, "--preset", "fast", "--size", "48", "--quiet"
    )
    assert code == 0, stderr
    assert stdout.split() == [str(out / "IMG_0001.jpg"), str(out / "IMG_0002.png")]
    assert read_metadata(out / "IMG_0001.jpg")["content"] == str(folder / "IMG_0001.JPG")
    assert stderr.splitlines() == [
        "restyle: RAW+JPEG pairs: stylising the image the camera developed, not the RAW file (IMG_0001.DNG)"
    ]


def test_raw_plus_jpeg_in_a_folder_of_frames_is_each_moment_once(tmp_path, rawpy):
    """A timelapse shot RAW+JPEG was a clip of every moment twice, the camera's JPEG and then
    LibRaw's development of the same shot."""
    from restyle.clip import probe, read_frames

    folder = tmp_path / "timelapse"
    folder.mkdir()
    for number in range(3):
        linear = scene() * (0.5 + 0.2 * number)
        write_dng(folder / f"IMG_{number:04d}.DNG", linear)
        if number < 2:  # the last shot was kept as RAW only
            Image.fromarray((srgb_encode(linear) * 255).round().astype(np.uint8)).save(folder / f"IMG_{number:04d}.JPG")
    with pytest.warns(RestyleWarning) as caught:
        info = probe(folder)
    assert [str(w.message) for w in caught] == [
        "RAW+JPEG pairs: the frames are the images the camera developed, not the RAW files (IMG_0000.DNG, IMG_0001.DNG)"
    ]
    frames = list(read_frames(info, shape=(64, 96)))
    assert info.frames == len(frames) == 3
    assert np.array_equal(frames[1], np.asarray(Image.open(folder / "IMG_0001.JPG")))  # the camera's
    developed = to_uint8(load_image(folder / "IMG_0002.DNG")[0]).permute(1, 2, 0).numpy()
    assert np.array_equal(frames[2], developed)
