import itertools

import numpy as np
import pytest
import torch
from PIL import Image

from restyle.bitdepth import encode_png16
from restyle.dequantise import Dequantise, dequantise, dequantise_from, flat, on_grid
from restyle.image import load_image, read_metadata, resize
from restyle.photo import stylize_photo
from tests.conftest import run


def staircase(
    rows: int = 120, cols: int = 16, low: float = 0.10, high: float = 0.13
) -> tuple[torch.Tensor, torch.Tensor]:
    """A gentle vertical colour ramp (a clear sky) and its 8-bit staircase, ``(1, 3, rows, cols)``."""
    t = torch.linspace(low, high, rows, dtype=torch.float64)[:, None].expand(rows, cols)
    ramp = torch.stack([t * 0.7, t * 0.9, t * 1.5]).clamp(0, 1)[None]
    return ramp, torch.round(ramp * 255) / 255


def levels_rms(a: torch.Tensor, b: torch.Tensor) -> float:
    return float(((a - b) * 255).pow(2).mean().sqrt())


@pytest.mark.parametrize("shape", [(9, 11), (3, 9, 11), (2, 3, 9, 11)])
def test_shape_and_dtype_are_kept(shape):
    x = torch.randint(0, 256, shape).float() / 255
    out = dequantise(x)
    assert out.shape == x.shape and out.dtype == x.dtype
    assert dequantise(x.double()).dtype == torch.float64


@pytest.mark.parametrize("tolerance", [0.5, 0.75, 1.0])
def test_every_value_stays_within_its_tolerance(tolerance):
    x = torch.randint(0, 256, (1, 3, 40, 50), generator=torch.Generator().manual_seed(0)).double() / 255
    x[..., 10:30, :] = torch.round(torch.linspace(0.2, 0.25, 20, dtype=torch.float64)[:, None] * 255) / 255
    out = dequantise(x, tolerance=tolerance)
    assert float((out - x).abs().max()) * 255 <= tolerance + 1e-9
    assert out.min() >= 0 and out.max() <= 1


def test_within_half_a_level_it_rounds_back_to_the_stored_image():
    _, stored = staircase()
    out = dequantise(stored, tolerance=0.49)
    assert torch.equal(torch.round(out * 255), torch.round(stored * 255))


def test_a_staircase_becomes_the_ramp_it_was_cut_from():
    ramp, stored = staircase()
    assert levels_rms(stored, ramp) == pytest.approx(0.29, abs=0.02)  # rounding: 1 / sqrt(12) level
    out = dequantise(stored)
    assert levels_rms(out, ramp) < levels_rms(stored, ramp) / 4
    # the steps are gone: no row-to-row jump near a level (the staircase jumps a whole level)
    jumps = (out[..., 1:, :] - out[..., :-1, :]).abs().amax() * 255
    assert float((stored[..., 1:, :] - stored[..., :-1, :]).abs().amax()) * 255 == pytest.approx(1.0)
    assert float(jumps) < 0.2


def test_a_ramp_of_a_level_a_row_and_a_flat_image_are_kept():
    ramp = (torch.arange(60, dtype=torch.float64)[:, None].expand(60, 7) + 40) / 255  # already smooth
    assert torch.allclose(dequantise(ramp), ramp, atol=1e-12)  # reflection about the border keeps it straight
    flat = torch.full((3, 20, 30), 77 / 255, dtype=torch.float64)
    assert torch.allclose(dequantise(flat), flat, atol=1e-15)


def test_texture_noise_and_edges_stay_exactly_as_read():
    generator = torch.Generator().manual_seed(1)
    noise = torch.randint(100, 110, (1, 3, 40, 40), generator=generator).double() / 255  # grain spans 9 levels
    assert torch.equal(dequantise(noise), noise)
    # a sky beside texture: the sky's steps are smoothed, the texture and the edge are not touched
    _, sky = staircase(rows=40, cols=40)
    image = torch.cat([sky, noise], dim=-1)
    image[..., 60:] += torch.arange(20, dtype=torch.float64) % 2 * 60 / 255  # stripes across an edge
    out = dequantise(image)
    moved = out != image
    assert moved[..., :38].float().mean() > 0.9  # the sky, but the column beside the noise
    assert not moved[..., 39:].any()
    assert float((out - image).abs().max()) * 255 <= 0.75 + 1e-9


def brute_flat(x, span):
    padded = torch.nn.functional.pad(x, (1, 1, 1, 1), value=float("nan"))
    out = torch.zeros_like(x, dtype=torch.bool)
    for i in range(x.shape[-2]):
        for j in range(x.shape[-1]):
            window = padded[..., i : i + 3, j : j + 3].flatten(-2)
            top = torch.where(window.isnan(), -1, window).amax(-1)
            bottom = torch.where(window.isnan(), 2, window).amin(-1)
            out[..., i, j] = (top - bottom) * 255 <= span + 1e-9
    return out


@pytest.mark.parametrize("span", [0.0, 1.0, 2.0])
def test_flat_matches_a_brute_force_neighbourhood_range(span):
    x = torch.randint(50, 54, (2, 3, 9, 12), generator=torch.Generator().manual_seed(2)).double() / 255
    x[0, :, :4, :5] = 51 / 255  # a flat patch
    assert torch.equal(flat(x, span=span), brute_flat(x, span))
    assert flat(x[0, 0], span=span).shape == (9, 12)


def test_module_equals_function():
    _, stored = staircase()
    module = Dequantise(levels=255, tolerance=0.5)
    assert torch.equal(module(stored), dequantise(stored, levels=255, tolerance=0.5))


def test_other_step_counts():
    t = torch.linspace(0.3, 0.31, 200, dtype=torch.float64)[:, None].expand(200, 8)
    stored = torch.round(t * 1023) / 1023  # 10 bits
    out = dequantise(stored, levels=1023)
    assert float((out - stored).abs().max()) * 1023 <= 0.75 + 1e-9
    assert ((out - t) * 1023).pow(2).mean().sqrt() < ((stored - t) * 1023).pow(2).mean().sqrt() / 4


@pytest.mark.parametrize(
    ("args", "kwargs", "message"),
    [
        ((torch.zeros(4, 4, dtype=torch.uint8),), {}, "float image"),
        ((torch.zeros(4),), {}, "at least 2 dimensions"),
        ((torch.zeros(4, 4),), {"tolerance": -1.0}, "tolerance"),
        ((torch.zeros(4, 4),), {"levels": 0}, "levels"),
        ((torch.zeros(4, 4),), {"flat_span": -1.0}, "flat_span"),
    ],
)
def test_bad_input(args, kwargs, message):
    with pytest.raises(ValueError, match=message):
        dequantise(*args, **kwargs)


def test_on_grid_tells_8_bit_values_from_others():
    eight = torch.randint(0, 256, (3, 10, 10)).float() / 255
    assert on_grid(eight)
    assert not on_grid(resize(eight[None], 7, 7))  # resampled: between the levels
    assert not on_grid(torch.linspace(0, 1, 1000))
    assert on_grid(torch.tensor([0.0, 1.0]))
    assert not on_grid(torch.tensor([0.0, float("nan")]))
    assert not on_grid(torch.tensor([0.0, 0.01 / 255]))  # a hundredth of a level off
    assert on_grid(torch.tensor([0.0, 1000 / 1023, 1.0], dtype=torch.float64), levels=1023)
    sixteen = torch.tensor([40000 / 65535, 1.0], dtype=torch.float64)
    assert on_grid(sixteen, levels=65535) and not on_grid(sixteen + 0.01 / 65535, levels=65535)
    assert not on_grid(sixteen, levels=255)


def test_load_image_smooths_8_bit_files_only(tmp_path):
    ramp, stored = staircase()
    eight = tmp_path / "sky8.png"
    Image.fromarray((stored[0].permute(1, 2, 0).numpy() * 255).round().astype(np.uint8)).save(eight)
    as_read = load_image(eight)
    smoothed = load_image(eight, dequantise=True)
    assert torch.allclose(as_read.double(), stored, atol=1e-7)
    assert float((smoothed - as_read).abs().max()) * 255 <= 0.75 + 1e-4
    assert levels_rms(smoothed.double(), ramp) < levels_rms(as_read.double(), ramp) / 4
    # after a resize too: the smoothing follows it, on the image's work size
    half = load_image(eight, size=60, dequantise=True)
    assert half.shape[-2:] == (60, 8) and not torch.equal(half, load_image(eight, size=60))
    # a 16-bit file is read as it is
    deep = tmp_path / "sky16.png"
    deep.write_bytes(encode_png16((ramp * 65535).round().to(torch.int32)[0].permute(1, 2, 0).numpy().astype(np.uint16)))
    assert torch.equal(load_image(deep, dequantise=True), load_image(deep))


def sky_pair(tmp_path):
    """A dark sky's staircase as the content and a style whose sky spans most of the range: the
    fast preset's colour transfer stretches the content's few levels into many."""
    _, stored = staircase(rows=96, cols=64, low=0.10, high=0.12)
    content = tmp_path / "sky.png"
    Image.fromarray((stored[0].permute(1, 2, 0).numpy() * 255).round().astype(np.uint8)).save(content)
    t = np.linspace(0.05, 0.95, 96)[:, None, None] * np.ones((1, 64, 1))
    style = tmp_path / "dusk.png"
    Image.fromarray((np.concatenate([t, t * 0.6, 1 - t], axis=2) * 255).round().astype(np.uint8)).save(style)
    return content, style


def test_photo_stretching_a_sky_turns_its_steps_into_bands_unless_dequantised(tmp_path):
    content, style = sky_pair(tmp_path)
    options = {"preset": "fast", "size": 64, "device": "cpu", "smoothing": "none"}
    banded = stylize_photo(content, style, dequantise=False, **options).image
    smooth = stylize_photo(content, style, **options).image  # on by default

    def largest_jump(image):  # between rows of the column mean, in levels
        column = image[0].mean(dim=2) * 255
        return float((column[:, 1:] - column[:, :-1]).abs().max())

    stretch = float(banded[0].mean(dim=2).amax(1).sub(banded[0].mean(dim=2).amin(1)).max()) * 255 / 5
    assert stretch > 5  # the content's 5 levels became many
    assert largest_jump(banded) > 3  # a band at each step
    assert largest_jump(smooth) < largest_jump(banded) / 3


def test_cli_records_the_choice(capsys, tmp_path):
    content, style = sky_pair(tmp_path)
    for flag, expected in (("--dequantise", True), ("--no-dequantise", False)):
        out = tmp_path / f"{flag}.png"
        code, _, err = run(
            capsys, "photo", content, style, "-o", out, "--preset", "fast", "--size", "48", flag, "--quiet"
        )
        assert code == 0, err
        assert read_metadata(out)["dequantise"] is expected


def test_only_the_fast_preset_dequantises_by_default(tmp_path):
    content, style = sky_pair(tmp_path)
    assert stylize_photo(content, style, preset="fast", size=64, device="cpu").params["settings"]["dequantise"] is True
    options = {"size": 64, "device": "cpu", "iterations": 0}
    default = stylize_photo(content, style, **options)
    assert default.params["settings"]["dequantise"] is False
    forced = stylize_photo(content, style, dequantise=True, **options)
    assert forced.params["settings"]["dequantise"] is True and not torch.equal(forced.image, default.image)


def test_a_large_image_follows_its_smaller_smoothed_copy_where_flat():
    ramp, stored = staircase(rows=480, cols=40, low=0.10, high=0.13)
    stored = stored.clone()
    stored[..., :, 30:] = torch.randint(0, 256, (1, 3, 480, 10), generator=torch.Generator().manual_seed(3)) / 255
    small = dequantise(torch.nn.functional.interpolate(stored, size=(120, 10), mode="area"))
    out = dequantise_from(stored, small)
    assert out.shape == stored.shape
    assert float((out - stored).abs().max()) * 255 <= 0.75 + 1e-9
    assert torch.equal(out[..., 29:], stored[..., 29:])  # the noise, and the column beside it, as read
    sky = (..., slice(4, -4), slice(0, 20))  # away from the noise, which the smaller copy averages in
    assert levels_rms(out[sky], ramp[sky]) < levels_rms(stored[sky], ramp[sky]) / 1.5
    with pytest.raises(ValueError, match="same B and C"):
        dequantise_from(stored, small[:, :1])


def test_on_grid_looks_at_every_value_of_a_large_image():
    eight = torch.randint(0, 256, (3, 1500, 1000)).float() / 255  # over one chunk of 4M values
    assert on_grid(eight)
    eight[-1, -1, -1] += 0.3 / 255
    assert not on_grid(eight)


def test_a_skyline_does_not_pull_the_sky_beside_it_towards_its_tone():
    _, sky = staircase(rows=60, cols=48)
    image = torch.cat([sky, torch.full((1, 3, 20, 48), 5 / 255, dtype=torch.float64)], dim=-2)  # dark buildings
    shift = (dequantise(image) - image) * 255
    # the sky's steps are smoothed symmetrically: near the buildings, as far from them
    assert abs(float(shift[..., 40:60, :].mean())) < 0.1
    assert float(shift[..., 61:, :].abs().max()) < 1e-9  # flat too, and stays on its own level


def test_stopped_means_match_explicit_windows():
    from restyle.dequantise import _room, _stopped_mean

    generator = torch.Generator().manual_seed(4)
    x = torch.rand(2, 7, 11, generator=generator, dtype=torch.float64)
    smooth = torch.rand(2, 7, 11, generator=generator) > 0.25
    for dim in (1, 2):
        room = _room(smooth, dim)
        for radius in (1, 3, 8):
            got = _stopped_mean(x, room, radius, dim)
            for b, i, j in itertools.product(range(2), range(7), range(11)):
                line = x[b, :, j] if dim == 1 else x[b, i, :]
                ok = smooth[b, :, j] if dim == 1 else smooth[b, i, :]
                centre = i if dim == 1 else j
                reach = 0  # widest symmetric window within the line's smooth run, at most radius
                while (
                    reach < radius
                    and ok[centre]
                    and centre - reach - 1 >= 0
                    and centre + reach + 1 < len(line)
                    and ok[centre - reach - 1]
                    and ok[centre + reach + 1]
                ):
                    reach += 1
                expected = line[centre - reach : centre + reach + 1].mean()
                assert float(got[b, i, j]) == pytest.approx(float(expected), abs=1e-12)


def jpeg_sky(path, *, rows=180, cols=96, **save):
    """A dark sky ramp saved as a JPEG (quality 92, 4:2:0); returns the float ramp it was made from."""
    t = np.linspace(0.08, 0.16, rows)[:, None, None] * np.ones((1, cols, 1))
    ramp = np.concatenate([t * 0.6, t * 0.8, t * 1.4], axis=2)
    Image.fromarray((ramp * 255).round().astype(np.uint8)).save(path, quality=92, **save)
    return torch.from_numpy(ramp).permute(2, 0, 1)[None]


def test_a_jpeg_is_smoothed_in_its_ycbcr_codes(tmp_path):
    from restyle.image import _smoothed_jpeg

    path = tmp_path / "sky.jpg"
    ramp = jpeg_sky(path)
    as_read = load_image(path)
    in_rgb = dequantise(as_read)  # what dequantising the RGB that libjpeg gives reaches
    in_codes = load_image(path, dequantise=True)
    assert in_codes.shape == as_read.shape and in_codes.dtype == torch.float32
    # libjpeg's RGB steps are up to 4 levels for one step of Y: smoothing in RGB leaves most
    assert levels_rms(in_codes.double(), ramp) < levels_rms(in_rgb.double(), ramp) / 1.5
    assert levels_rms(in_codes.double(), ramp) < levels_rms(as_read.double(), ramp) / 2.5
    assert float((in_codes - as_read).abs().max()) * 255 < 3  # the picture itself is kept
    # resized first, smoothed at the work size, as other files are
    half = load_image(path, size=90, dequantise=True)
    assert half.shape[-2:] == (90, 48) and (half - load_image(path, size=90)).abs().max() * 255 < 3
    # not for other files: a grey JPEG, a PNG (load_image smooths those in RGB)
    grey = tmp_path / "grey.jpg"
    Image.fromarray((ramp[0, 1].numpy() * 255).round().astype(np.uint8)).save(grey, quality=92)
    assert _smoothed_jpeg(grey, size=None, max_pixels=10**7, icc=True, what="x") is None
    png = tmp_path / "sky.png"
    Image.fromarray((ramp[0].permute(1, 2, 0).numpy() * 255).round().astype(np.uint8)).save(png)
    assert _smoothed_jpeg(png, size=None, max_pixels=10**7, icc=True, what="x") is None


def test_a_turned_jpeg_in_a_colour_profile_is_smoothed_upright_and_converted(tmp_path):
    from restyle.image import _smoothed_jpeg, sample_path

    with Image.open(sample_path("rocket")) as img:  # Adobe RGB (1998)
        profile = img.info["icc_profile"]
    path = tmp_path / "turned.jpg"
    exif = Image.new("RGB", (1, 1)).getexif()
    exif[0x0112] = 6  # a quarter turn clockwise to show it upright
    jpeg_sky(path, exif=exif.tobytes(), icc_profile=profile)
    as_read = load_image(path)  # upright, converted to sRGB by LittleCMS
    smoothed = load_image(path, dequantise=True)
    assert _smoothed_jpeg(path, size=None, max_pixels=10**7, icc=True, what="x") is not None  # in its codes
    assert as_read.shape[-2:] == (96, 180) and smoothed.shape == as_read.shape
    assert float((smoothed - as_read).abs().mean()) * 255 < 0.8  # the same colours, upright
    assert float((smoothed - as_read).abs().max()) * 255 < 3.5


def test_a_stylised_jpeg_sky_bands_less_when_dequantised(tmp_path):
    content = tmp_path / "sky.jpg"
    jpeg_sky(content, rows=96, cols=64)
    _, style = sky_pair(tmp_path)
    options = {"preset": "fast", "size": 96, "device": "cpu", "smoothing": "none"}

    def banding(image):  # the column mean against itself smoothed, in levels RMS
        column = image[0].mean(dim=2).double() * 255
        smooth = torch.nn.functional.avg_pool1d(column[:, None], 9, 1, 4, count_include_pad=False)[:, 0]
        return float((column - smooth)[:, 8:-8].pow(2).mean().sqrt())

    banded = banding(stylize_photo(content, style, dequantise=False, **options).image)
    smooth = banding(stylize_photo(content, style, **options).image)  # on by default
    assert smooth < banded / 3, (smooth, banded)


def test_a_full_resolution_jpeg_follows_its_work_size_in_its_codes(tmp_path):
    from restyle.image import smoothed_jpeg_pair

    path = tmp_path / "sky.jpg"
    ramp = jpeg_sky(path, rows=360, cols=192)
    small, full = smoothed_jpeg_pair(path, size=90, max_pixels=10**7)
    assert torch.equal(small, load_image(path, size=90, dequantise=True))  # the same work-size copy
    as_read = load_image(path)
    assert full.shape == as_read.shape and float((full - as_read).abs().max()) * 255 < 3
    assert levels_rms(full.double(), ramp) < levels_rms(as_read.double(), ramp) / 2.5
    assert smoothed_jpeg_pair(tmp_path / "missing.jpg", size=90, max_pixels=10**7) is None

    _, style = sky_pair(tmp_path)
    options = {"preset": "fast", "size": 96, "device": "cpu", "full_resolution": True}

    def largest_jump(image):  # between rows of the column mean, in levels
        column = image[0].mean(dim=2) * 255
        return float((column[:, 1:] - column[:, :-1]).abs().max())

    banded = stylize_photo(path, style, dequantise=False, **options).image
    smooth = stylize_photo(path, style, **options).image
    assert smooth.shape[-2:] == (360, 192)
    assert largest_jump(smooth) < largest_jump(banded) / 3, (largest_jump(smooth), largest_jump(banded))


def test_a_bad_jpeg_read_for_smoothing_is_the_same_one_line_error(tmp_path):
    from restyle.errors import RestyleError
    from restyle.image import smoothed_jpeg_pair

    good = tmp_path / "sky.jpg"
    jpeg_sky(good)
    cut = tmp_path / "cut.jpg"
    cut.write_bytes(good.read_bytes()[:900])
    for options in ({"size": 90}, {}):
        with pytest.raises(RestyleError, match=r"cut\.jpg: image data is truncated or corrupt$"):
            load_image(cut, dequantise=True, **options)
    assert smoothed_jpeg_pair(cut, size=90, max_pixels=10**7) is None  # load_image then says why
    with pytest.raises(RestyleError, match="truncated or corrupt"):
        stylize_photo(cut, good, preset="fast", size=64, full_resolution=True, device="cpu")
    with pytest.raises(RestyleError, match="is over the --max-pixels limit"):
        smoothed_jpeg_pair(good, size=90, max_pixels=1000)
