import shlex
import shutil
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from restyle import photo
from restyle.dequantise import dequantise_from
from restyle.errors import RestyleError
from restyle.image import RestyleWarning, load_image, read_metadata, save_image
from restyle.masks import DPST_COLORS, MaskPair
from restyle.metrics import style_distance
from restyle.optim import optimize
from restyle.photo import PRESETS, png_handoff, segment_color_transfer, stylize_photo
from restyle.smoothing import guided_upsample
from restyle.vgg import CAFFE_MEAN_BGR

from .conftest import smooth_image


@pytest.fixture
def pair(tmp_path):
    """A 48x64 content and style with DPST masks: sky (blue) on top, ground (green) below."""
    content = smooth_image(48, 64, seed=1)
    style = smooth_image(48, 64, seed=2)
    style[:24] = (style[:24] * 0.3 + np.array([20, 40, 160]) * 0.7).astype(np.uint8)  # blue sky
    style[24:] = (style[24:] * 0.3 + np.array([150, 120, 30]) * 0.7).astype(np.uint8)  # brown ground
    mask = np.zeros((48, 64, 3), dtype=np.uint8)
    mask[:24] = np.array(DPST_COLORS["blue"]) * 255
    mask[24:] = np.array(DPST_COLORS["green"]) * 255
    paths = {}
    for name, arr in {"content": content, "style": style, "cmask": mask, "smask": mask}.items():
        paths[name] = tmp_path / f"{name}.png"
        Image.fromarray(arr).save(paths[name])
    return paths


def top_bottom(height: int, width: int) -> MaskPair:
    """Two regions, the top and the bottom half, the same in content and style."""
    top = torch.zeros(height, width)
    top[: height // 2] = 1.0
    halves = torch.stack([top, 1.0 - top])
    return MaskPair(halves, halves.clone(), ["top", "bottom"])


def test_segment_color_transfer_moves_each_region():
    content = torch.rand(1, 3, 20, 20) * 0.2 + 0.4
    style = torch.zeros(1, 3, 20, 20)
    style[..., :10, :] = torch.tensor([0.1, 0.2, 0.8]).view(1, 3, 1, 1)
    style[..., 10:, :] = torch.tensor([0.7, 0.5, 0.1]).view(1, 3, 1, 1)
    style = style + 0.02 * torch.rand(1, 3, 20, 20)
    out = segment_color_transfer(content, style, top_bottom(20, 20))
    assert torch.allclose(out[..., :10, :].mean(dim=(2, 3)), style[..., :10, :].mean(dim=(2, 3)), atol=0.01)
    assert torch.allclose(out[..., 10:, :].mean(dim=(2, 3)), style[..., 10:, :].mean(dim=(2, 3)), atol=0.01)


def test_fast_preset_with_masks(pair):
    r = stylize_photo(
        pair["content"],
        pair["style"],
        content_mask=pair["cmask"],
        style_mask=pair["smask"],
        preset="fast",
        size=64,
        device="cpu",
    )
    assert r.image.shape == (1, 3, 48, 64) and r.history == [] and r.params["mask_labels"] == ["blue", "green"]
    style = load_image(pair["style"])
    # the sky region takes the sky's blue, the ground the ground's brown
    assert r.image[0, 2, :20].mean() > r.image[0, 0, :20].mean()
    assert abs(float(r.image[0, :, 28:].mean(dim=(1, 2))[0] - style[0, 0, 28:].mean())) < 0.08


def test_full_resolution_carries_the_result_up_to_the_photo(pair, tmp_path):
    masks = dict(content_mask=pair["cmask"], style_mask=pair["smask"], preset="fast", device="cpu")
    small = stylize_photo(pair["content"], pair["style"], size=32, **masks)
    full = stylize_photo(pair["content"], pair["style"], size=32, full_resolution=True, **masks)
    assert small.image.shape == (1, 3, 24, 32) and full.image.shape == (1, 3, 48, 64)
    assert full.params["full_resolution"] is True
    # the fast preset smooths the 8-bit steps of the photo at --size, and the full-size photo's
    # from it (restyle.dequantise.dequantise_from)
    work = load_image(pair["content"], size=32, dequantise=True)
    content = dequantise_from(load_image(pair["content"]), work)
    expected = guided_upsample(small.image, work, content).clamp(0, 1)
    assert torch.allclose(full.image, expected, atol=1e-6)
    # a photo smaller than --size comes back at its own size
    bigger = stylize_photo(pair["content"], pair["style"], size=96, full_resolution=True, **masks)
    assert bigger.image.shape == (1, 3, 48, 64)


def test_full_resolution_refuses_a_photo_over_max_pixels_before_any_work(pair, tmp_path, monkeypatch):
    style = tmp_path / "small_style.png"
    Image.open(pair["style"]).resize((32, 24)).save(style)  # 768 pixels: under the limit
    options = {"size": 32, "max_pixels": 2000, "preset": "fast", "device": "cpu"}  # the content has 3072
    monkeypatch.setattr(photo, "segment_color_transfer", lambda *a, **k: pytest.fail("computed anyway"))
    # without it: downscaled while reading, as --size asks for a smaller image anyway
    with pytest.warns(RestyleWarning, match="max-pixels"), pytest.raises(pytest.fail.Exception, match="computed"):
        stylize_photo(pair["content"], style, **options)
    with pytest.raises(RestyleError, match="max-pixels"):
        stylize_photo(pair["content"], style, full_resolution=True, **options)


def test_default_preset_optimises_a_grid_towards_the_style(pair):
    masks = dict(content_mask=pair["cmask"], style_mask=pair["smask"], size=64, device="cpu")
    seen = []
    r = stylize_photo(pair["content"], pair["style"], iterations=6, callback=seen.append, **masks)
    assert r.status == "done" and len(r.history) == 6
    assert {"content", "style", "tv", "photo", "color"} <= set(seen[-1].losses)
    assert seen[-1].image.shape == (1, 3, 48, 64)  # the callback sees rendered images
    assert r.params["settings"]["photo_weight"] == 1e4 and r.params["settings"]["parameterization"] == "grid"
    # With no iterations the grid is the identity: the result is the fast preset's (smoothed
    # as strongly as the default preset smooths, and from the content as read: the fast preset
    # alone smooths its 8-bit steps first).
    start = stylize_photo(pair["content"], pair["style"], iterations=0, **masks)
    strength = PRESETS["default"].smoothing_strength
    fast_options = {"preset": "fast", "smoothing_strength": strength, "dequantise": False}
    fast = stylize_photo(pair["content"], pair["style"], **fast_options, **masks)
    assert torch.allclose(start.image, fast.image, atol=1e-6)
    # The optimisation moves the result towards the style's Grams, region by region.
    regions = top_bottom(48, 64)
    style = load_image(pair["style"])
    assert style_distance(r.image, style, regions) < 0.9 * style_distance(fast.image, style, regions)


def test_channels_last_reaches_the_encoder_and_changes_only_the_speed(pair, monkeypatch):
    # The photo presets run the encoder channels-last by default (faster on AMX CPUs); the
    # contiguous layout must give the same result (float32: only the summation order differs).
    layouts = []
    real = photo.Objective

    def spy(*args, **kwargs):
        layouts.append(kwargs["channels_last"])
        return real(*args, **kwargs)

    monkeypatch.setattr(photo, "Objective", spy)
    opts = dict(content_mask=pair["cmask"], style_mask=pair["smask"], size=64, device="cpu", iterations=4)
    last = stylize_photo(pair["content"], pair["style"], precision="float32", **opts)
    assert layouts and all(layouts) and last.params["channels_last"] is True
    layouts.clear()
    plain = stylize_photo(pair["content"], pair["style"], precision="float32", channels_last=False, **opts)
    assert layouts and not any(layouts)
    # Every evaluation agrees; L-BFGS carries the last digits' difference into the pixels.
    for a, b in zip(last.history, plain.history, strict=True):
        assert a.losses["total"] == pytest.approx(b.losses["total"], rel=1e-4)
    assert torch.allclose(last.image, plain.image, atol=1e-2)


def test_grid_smoothness_keeps_the_grid_near_one_transform(pair):
    opts = dict(content_mask=pair["cmask"], style_mask=pair["smask"], size=64, device="cpu", iterations=6)
    start = stylize_photo(pair["content"], pair["style"], **{**opts, "iterations": 0}).image
    free = stylize_photo(pair["content"], pair["style"], **opts)
    stiff = stylize_photo(pair["content"], pair["style"], grid_smoothness=1e9, **opts)
    assert "penalty" in stiff.history[-1].losses and "penalty" not in free.history[-1].losses
    assert float((stiff.image - start).abs().mean()) < 0.5 * float((free.image - start).abs().mean())


def test_dpst_preset_two_stages_without_masks(pair, monkeypatch):
    seen, bounds = [], []

    def recording(*args, **kwargs):
        bounds.append(kwargs.get("bounds", "default"))
        return optimize(*args, **kwargs)

    monkeypatch.setattr(photo, "optimize", recording)
    r = stylize_photo(
        pair["content"],
        pair["style"],
        preset="dpst",
        size=64,
        iterations=3,
        device="cpu",
        seed=3,
        callback=lambda it: seen.append((it.scale, it.image.clone())),
    )
    # stage 1 without the photorealism term, stage 2 with it
    assert [("photo" in rec.losses) for rec in r.history] == [False] * 3 + [True] * 3
    assert r.params["mask_labels"] == ["all"]
    # stage 1 starts, as DPST's does, from the mean pixel plus noise of 1e-4 in 0..255 units
    first = seen[0][1]
    noise = (first - torch.tensor(CAFFE_MEAN_BGR[::-1]).view(1, 3, 1, 1) / 255.0) * 255.0
    assert abs(float(noise.mean())) < 1e-5 and float(noise.std()) == pytest.approx(1e-4, rel=0.1)
    # stage 2 starts from stage 1's result read back from DPST's 8-bit PNG: clipped, quantised
    best = min((rec.losses["total"], i) for i, rec in enumerate(r.history[:3]))[1]
    handed = next(image for scale, image in seen if scale == 1)
    assert torch.equal(handed, png_handoff(seen[best][1]))
    assert float(handed.min()) >= 0.0 and float(handed.max()) <= 1.0
    # the pixels are not clamped while optimised (DPST clips only what it saves) ...
    assert bounds == [None, None]
    # ... but the result is a valid image
    assert float(r.image.min()) >= 0.0 and float(r.image.max()) <= 1.0


def test_png_handoff_clips_and_quantises():
    image = torch.tensor([-0.2, 0.1, 0.5004, 1.3]).view(1, 1, 2, 2).expand(1, 3, 2, 2).clone()
    out = png_handoff(image)
    expected = torch.tensor([0.0, 26 / 255, 128 / 255, 1.0]).view(1, 1, 2, 2).expand(1, 3, 2, 2)
    assert torch.allclose(out, expected, atol=1e-7)
    assert torch.equal(out * 255.0, (out * 255.0).round())


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"content_mask": "x.png"}, "both"),
        ({"preset": "slow"}, "unknown --preset"),
        ({"photo_weight": -1.0}, "finite number >= 0"),
        ({"size": 12}, "at least 16"),
        ({"smoothing": "blur"}, "smoothing"),
        (
            {"region_weights": [1, 2, 3]},
            r"^--region-weights: 3 given for 1 region \(all\); give one weight per region$",
        ),
        ({"region_weights": [float("nan")]}, "each of --region-weights must be a finite number >= 0, not nan"),
        ({"region_weights": [-1.0]}, "each of --region-weights must be a finite"),
        ({"global_style": 1.5}, "global-style"),
        ({"precision": "fp8"}, "unknown --precision 'fp8'"),
        ({"iterations": -1}, "--iterations must be at least 0"),
    ],
)
def test_bad_options(pair, kwargs, message):
    with pytest.raises(RestyleError, match=message):
        stylize_photo(pair["content"], pair["style"], **{"size": 64, "device": "cpu", "preset": "fast", **kwargs})


def test_result_carries_the_image_before_its_post_process(pair):
    kwargs = {"content_mask": pair["cmask"], "style_mask": pair["smask"], "preset": "fast", "size": 64}
    plain = stylize_photo(pair["content"], pair["style"], smoothing="none", device="cpu", **kwargs)
    assert plain.unsmoothed is None
    smoothed = stylize_photo(pair["content"], pair["style"], device="cpu", **kwargs)
    assert smoothed.unsmoothed is not None
    assert torch.equal(smoothed.unsmoothed, plain.image)
    assert (smoothed.image - smoothed.unsmoothed).abs().max() > 1e-3


def test_failed_smoothing_keeps_the_unsmoothed_result(pair, monkeypatch):
    kwargs = {"content_mask": pair["cmask"], "style_mask": pair["smask"], "preset": "fast", "size": 64}
    unsmoothed = stylize_photo(pair["content"], pair["style"], smoothing="none", device="cpu", **kwargs)
    monkeypatch.setattr(photo, "matting_smoothing", lambda image, *a, **k: torch.full_like(image, float("nan")))
    with pytest.warns(RestyleWarning, match="smoothing failed"):
        r = stylize_photo(pair["content"], pair["style"], device="cpu", **kwargs)
    assert torch.equal(r.image, unsmoothed.image)


def test_style_image_much_smaller_than_the_content(pair, tmp_path):
    """A 18x24 style (with its 48x64 mask) on a 96x128 content: the Grams are normalised by
    area, so the style's statistics still apply region by region."""
    small = Image.open(pair["style"]).resize((24, 18), Image.Resampling.BILINEAR)
    small.save(tmp_path / "small.png")
    masks = dict(content_mask=pair["cmask"], style_mask=pair["smask"], size=128, device="cpu")
    r = stylize_photo(pair["content"], tmp_path / "small.png", iterations=4, **masks)
    assert r.status == "done" and r.image.shape == (1, 3, 96, 128) and torch.isfinite(r.image).all()
    assert r.params["mask_labels"] == ["blue", "green"]
    # the sky takes the small style's blue, the ground its brown
    top, bottom = r.image[0, :, :40].mean(dim=(1, 2)), r.image[0, :, 56:].mean(dim=(1, 2))
    assert top[2] > top[0] + 0.2 and bottom[0] > bottom[2] + 0.2
    regions = top_bottom(96, 128)
    style = load_image(tmp_path / "small.png", size=128)
    content = load_image(pair["content"], size=128)
    assert style_distance(r.image, style, regions) < 0.1 * style_distance(content, style, regions)


def test_tiny_style_image_is_refused(pair, tmp_path):
    Image.fromarray(smooth_image(10, 12)).save(tmp_path / "tiny.png")
    with pytest.raises(RestyleError, match="style image is too small"):
        stylize_photo(pair["content"], tmp_path / "tiny.png", size=64, device="cpu", preset="fast")


def test_cli_sweep_checks_every_value_before_the_first_run(pair, tmp_path, capsys):
    from restyle.cli import main

    args = ["photo", str(pair["content"]), str(pair["style"]), "-o", str(tmp_path / "out.png"), "--quiet"]
    assert main([*args, "--preset", "fast", "--size", "64", "--style-weight", "10,nan"]) == 1
    assert "--style-weight must be a finite number >= 0, not nan" in capsys.readouterr().err
    assert not list(tmp_path.glob("out*"))  # not even the first combination's result


def test_cli_refuses_a_sweep_with_the_fast_preset(pair, tmp_path, capsys):
    from restyle.cli import main

    args = ["photo", str(pair["content"]), str(pair["style"]), "-o", str(tmp_path / "out.png"), "--quiet"]
    assert main([*args, "--preset", "fast", "--size", "64", "--photo-weight", "1,10"]) == 1
    err = capsys.readouterr().err
    assert (
        err
        == "restyle: error: preset fast runs no optimisation, so a sweep of --photo-weight would give equal images\n"
    )
    assert not list(tmp_path.glob("out*"))


@pytest.mark.parametrize(
    ("preset", "options", "message"),
    [
        (
            "fast",
            {"style_weight": 5.0, "iterations": 3},
            "--style-weight, --iterations have no effect with preset fast",
        ),
        ("fast", {"grid_smoothness": 1.0}, "--grid-smoothness has no effect with preset fast: it runs no optimisation"),
        (
            "dpst",
            {"grid_smoothness": 1.0, "iterations": 1},
            "--grid-smoothness has no effect with preset dpst: it optimises",
        ),
    ],
)
def test_options_a_preset_ignores_are_warned_of(pair, preset, options, message):
    with pytest.warns(RestyleWarning, match=message):
        stylize_photo(pair["content"], pair["style"], size=64, device="cpu", preset=preset, **options)


def test_options_a_preset_uses_are_not_warned_of(pair):
    with warnings.catch_warnings():
        warnings.simplefilter("error", RestyleWarning)
        stylize_photo(pair["content"], pair["style"], size=64, device="cpu", preset="fast", smoothing_strength=5.0)
        stylize_photo(pair["content"], pair["style"], size=64, device="cpu", iterations=1, grid_smoothness=1.0)


def test_cli_photo_and_sweep_contact_sheet(pair, tmp_path, capsys):
    from restyle.cli import main

    out = tmp_path / "out.png"
    code = main(
        [
            "photo",
            str(pair["content"]),
            str(pair["style"]),
            "-o",
            str(out),
            "--size",
            "64",
            "--quiet",
            "--content-mask",
            str(pair["cmask"]),
            "--style-mask",
            str(pair["smask"]),
            "--iterations",
            "1",
            "--style-weight",
            "10,1000",
            "--photo-weight",
            "1e2,1e4",
            "--device",
            "cpu",
        ]
    )
    assert code == 0, capsys.readouterr().err
    files = sorted(p.name for p in tmp_path.glob("out_*.png"))
    assert files == [
        "out_sheet.png",
        "out_sw1000_pw100.png",
        "out_sw1000_pw10000.png",
        "out_sw10_pw100.png",
        "out_sw10_pw10000.png",
    ]
    meta = read_metadata(tmp_path / "out_sw10_pw10000.png")
    assert meta["sweep"] == {"style_weight": 10.0, "photo_weight": 10000.0} and meta["command"] == "photo"
    assert Image.open(tmp_path / "out_sheet.png").size[0] > 2 * 64
    # one seed for the whole sweep (before, each result drew its own): only the weights differ
    results = sorted(tmp_path.glob("out_sw*.png"))
    assert len({read_metadata(path)["seed"] for path in results}) == 1
    # the sheet records the sweep whole, and the command it gives runs it again, to the same images
    capsys.readouterr()
    assert main(["info", "--command", str(tmp_path / "out_sheet.png")]) == 0
    words = shlex.split(capsys.readouterr().out)
    assert words[words.index("--style-weight") + 1] == "10.0,1000.0" and "--seed" in words
    assert words[words.index("-o") + 1] == str(tmp_path / "out-again.png")
    assert main([*words[1:], "--quiet"]) == 0, capsys.readouterr().err
    for path in [tmp_path / "out_sheet.png", *results]:
        again = path.with_name(path.name.replace("out_", "out-again_"))
        assert np.array_equal(np.asarray(Image.open(again)), np.asarray(Image.open(path))), again.name


def test_cli_photo_full_resolution(pair, tmp_path, capsys):
    from restyle.cli import main

    out = tmp_path / "out.png"
    args = ["photo", str(pair["content"]), str(pair["style"]), "-o", str(out), "--size", "32", "--quiet"]
    assert main([*args, "--iterations", "1", "--full-resolution", "--device", "cpu"]) == 0, capsys.readouterr().err
    assert Image.open(out).size == (64, 48)  # the photo's own size, worked at 32 px
    meta = read_metadata(out)
    assert meta["full_resolution"] is True and meta["size"] == 32


def test_cli_smooth_upsample(pair, tmp_path, capsys):
    from restyle.cli import main
    from restyle.image import resize, save_image

    content = load_image(pair["content"])
    small = stylize_photo(pair["content"], pair["style"], size=32, preset="fast", device="cpu").image
    save_image(small, tmp_path / "small.png")
    out = tmp_path / "up.png"
    args = ["smooth", str(tmp_path / "small.png"), "--content", str(pair["content"]), "--method", "upsample"]
    assert main([*args, "-o", str(out)]) == 0, capsys.readouterr().err
    expected = guided_upsample(load_image(tmp_path / "small.png"), resize(content, 24, 32), content).clamp(0, 1)
    assert torch.allclose(load_image(out), expected, atol=1 / 255)  # at the photo's size: 64x48
    assert read_metadata(out)["eps"] == 1e-5
    assert main(["smooth", str(tmp_path / "small.png"), "--method", "upsample", "-o", str(out)]) == 1
    assert "--method upsample needs --content" in capsys.readouterr().err


@pytest.mark.parametrize("method", ["affine", "bilateral"])
def test_cli_smooth_shows_progress_over_rows_unless_quiet(pair, tmp_path, capsys, method):
    from restyle.cli import main

    args = ["smooth", str(pair["style"]), "--content", str(pair["content"]), "--method", method, "-o"]
    assert main([*args, str(tmp_path / "a.png")]) == 0
    err = capsys.readouterr().err
    assert f"{method} smoothing: 100%" in err and "48/48 [" in err  # the image's 48 rows
    assert main([*args, str(tmp_path / "b.png"), "--quiet"]) == 0
    assert capsys.readouterr().err == ""
    assert np.array_equal(np.asarray(Image.open(tmp_path / "a.png")), np.asarray(Image.open(tmp_path / "b.png")))


def test_a_saved_result_records_its_command_and_named_inputs(pair, tmp_path):
    result = stylize_photo(pair["content"], load_image(pair["style"]), preset="fast", size=32, device="cpu")
    meta = read_metadata(result.save(tmp_path / "r.png"))
    assert meta["command"] == "photo" and meta["content"] == str(pair["content"]) and meta["style"] == "<in memory>"
    assert meta["status"] == "done" and meta["preset"] == "fast"


@pytest.mark.parametrize(
    "kind", ["array", "pil", "pil_grey", "labels", "tensor", "tensor_labels", "model_labels", "batch_labels"]
)
def test_masks_given_in_memory(tmp_path, kind, capsys):
    """Masks may be arrays, PIL images or tensors, as the images may (a grey PIL image or a 2-D
    integer array or tensor holds integer labels, as a grey file does; a segmentation model's
    ``argmax`` is (H, W) or (1, H, W)); a result records them as in memory, not their pixels,
    and ``restyle info --command`` leaves places for them."""
    from restyle.cli import main

    content, style = smooth_image(32, 48), smooth_image(40, 40, seed=1)
    c_mask, s_mask = np.zeros((32, 48, 3), np.uint8), np.zeros((40, 40, 3), np.uint8)
    c_mask[:16], s_mask[:20] = (0, 0, 255), (0, 0, 255)  # blue over black
    given = {
        "array": (c_mask, s_mask),
        "pil": (Image.fromarray(c_mask), Image.fromarray(s_mask)),
        "pil_grey": (Image.fromarray(c_mask).convert("L"), Image.fromarray(s_mask).convert("L")),
        "labels": (np.where(c_mask[..., 2] > 0, 5, 0).astype(np.uint8), np.where(s_mask[..., 2] > 0, 5, 0)),
        "tensor": (torch.from_numpy(c_mask).permute(2, 0, 1), torch.from_numpy(s_mask).permute(2, 0, 1) / 255.0),
        "tensor_labels": (
            torch.from_numpy(c_mask[..., 2] > 0) * 5,
            torch.from_numpy(s_mask[..., 2] > 0).to(torch.uint8) * 5,
        ),
        "model_labels": (torch.from_numpy(c_mask[None, ..., 2] > 0) * 5, torch.from_numpy(s_mask[..., 2] > 0) * 5),
        "batch_labels": (
            torch.from_numpy(c_mask[None, None, ..., 2] > 0) * 5,
            torch.from_numpy(s_mask[..., 2] > 0) * 5,
        ),
    }[kind]
    result = stylize_photo(content, style, content_mask=given[0], style_mask=given[1], preset="fast", size=32)
    integer = kind in ("labels", "tensor_labels", "model_labels", "batch_labels")
    expected = ["label 0", "label 5"] if integer else {"pil_grey": ["label 0", "label 29"]}.get(kind, ["blue", "black"])
    assert result.params["mask_labels"] == expected
    meta = read_metadata(result.save(tmp_path / "r.png"))
    assert meta["content_mask"] == meta["style_mask"] == "<in memory>"
    assert main(["info", "--command", str(tmp_path / "r.png")]) == 0
    words = capsys.readouterr().out.split()
    assert words[words.index("--content-mask") + 1] == "CONTENT_MASK" and "STYLE_MASK" in words


def test_cli_smooth_without_content_names_the_photo_a_result_was_made_from(pair, tmp_path, capsys, monkeypatch):
    from restyle.cli import main

    monkeypatch.chdir(tmp_path)
    photo = Path("my photo.png")
    shutil.copy(pair["content"], photo)
    result = save_image(load_image(pair["style"]), "result.png", metadata={"command": "photo", "content": str(photo)})
    assert main(["smooth", str(result), "-o", "x.png"]) == 1
    assert capsys.readouterr().err == (
        "restyle: error: --method affine needs --content (the photo whose edges to follow); "
        "result.png was made from my photo.png: --content 'my photo.png'\n"
    )
    photo.unlink()  # not at hand: no advice
    assert main(["smooth", str(result), "-o", "x.png"]) == 1
    assert capsys.readouterr().err.endswith("(the photo whose edges to follow)\n")
    web = save_image(load_image(pair["style"]), "web.png", metadata={"restyle_web": "photo", "content": "result.png"})
    assert main(["smooth", str(web), "-o", "x.png"]) == 1  # a web upload's name is no photo of the user's
    assert capsys.readouterr().err.endswith("(the photo whose edges to follow)\n")
    assert not Path("x.png").exists()


def test_cli_smooth(pair, tmp_path, capsys):
    from restyle.cli import main

    for method in ("affine", "matting", "guided", "posterize", "bilateral"):
        out = tmp_path / f"{method}.png"
        assert (
            main(["smooth", str(pair["style"]), "--content", str(pair["content"]), "--method", method, "-o", str(out)])
            == 0
        )
        assert Image.open(out).size == (64, 48)
    capsys.readouterr()
    assert main(["smooth", str(pair["style"]), "--method", "affine", "-o", str(tmp_path / "x.png")]) == 1
    assert (
        capsys.readouterr().err == "restyle: error: --method affine needs --content (the photo whose edges to follow)\n"
    )
    sparse = tmp_path / "sparse.png"
    args = ["smooth", str(pair["style"]), "--content", str(pair["content"]), "--radius", "6", "-o"]
    assert main([*args, str(sparse), "--stride", "3"]) == 0
    assert read_metadata(sparse)["stride"] == 3
    assert main([*args, str(tmp_path / "dense.png")]) == 0
    dense = np.asarray(Image.open(tmp_path / "dense.png"), dtype=float)
    assert np.abs(np.asarray(Image.open(sparse), dtype=float) - dense).max() > 0
    assert main([*args, str(tmp_path / "y.png"), "--stride", "0"]) == 1
    assert "--stride must be at least 1" in capsys.readouterr().err
    for method in ("affine", "bilateral", "guided"):
        bad = ["smooth", str(pair["style"]), "--content", str(pair["content"]), "--method", method, "--radius", "-1"]
        assert main([*bad, "-o", str(tmp_path / "y.png")]) == 1
        assert "--radius must be at least 1" in capsys.readouterr().err
        # wider than the image: refused (a radius of 1000 ran the bilateral loop for minutes;
        # one past int64 was a traceback)
        for radius in ("65", str(10**23)):
            assert main([*bad[:-1], radius, "-o", str(tmp_path / "y.png")]) == 1
            assert f"--radius {radius} is wider than the image (64x48); use at most 64" in capsys.readouterr().err
    assert main([*bad[:-1], "64", "-o", str(tmp_path / "r64.png")]) == 0
    wide = tmp_path / "wide.png"
    Image.fromarray(np.zeros((16, 64, 3), dtype=np.uint8)).save(wide)
    assert main(["smooth", str(pair["style"]), "--content", str(wide), "--method", "guided", "-o", str(sparse)]) == 0
    assert "the content is 64x16 but the image is 64x48: a different aspect ratio" in capsys.readouterr().err
    flat = tmp_path / "flat.png"
    Image.fromarray(np.full((48, 64, 3), 128, dtype=np.uint8)).save(flat)
    on_flat = [
        "smooth",
        str(pair["style"]),
        "--content",
        str(flat),
        "--method",
        "guided",
        "-o",
        str(tmp_path / "f.png"),
    ]
    # a flat guide's windows are singular below rounding (a NaN image; before, a traceback)
    for eps in ("1e-100", "1e-13"):
        assert main([*on_flat, "--eps", eps]) == 1
        assert f"--eps must be at least 1e-12, not {float(eps):g}" in capsys.readouterr().err
    assert main([*on_flat, "--eps", "1e-12"]) == 0
    for flag, value in (("--eps", "0"), ("--eps", "-1"), ("--edge", "nan"), ("--beta", "0")):
        bad = ["smooth", str(pair["style"]), "--content", str(pair["content"]), "--method", "guided", flag, value]
        assert main([*bad, "-o", str(tmp_path / "y.png")]) == 1
        assert f"{flag} must be a positive number, not {float(value)}" in capsys.readouterr().err
    assert not (tmp_path / "y.png").exists()


def test_cli_a_photo_given_as_a_mask_is_one_line_before_any_work(pair, tmp_path, capsys):
    from restyle.cli import main

    out = tmp_path / "out.png"
    args = ["photo", str(pair["content"]), str(pair["style"]), "-o", str(out), "--size", "64", "--quiet"]
    assert main([*args, "--content-mask", str(pair["content"]), "--style-mask", str(pair["smask"])]) == 1
    err = capsys.readouterr().err
    assert err.startswith(f"restyle: error: content mask {pair['content']}: does not look like a mask")
    assert err.count("\n") == 1 and not out.exists()


def test_a_content_photo_enlarged_more_than_twice_is_warned_about_unless_delivered_at_its_own_size(tmp_path):
    content = tmp_path / "small.png"
    Image.fromarray(smooth_image(24, 32)).save(content)
    style = smooth_image(64, 64)[::-1].copy()

    def said(**options):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            stylize_photo(content, style, preset="fast", device="cpu", **options)
        return [str(w.message) for w in caught if issubclass(w.category, RestyleWarning)]

    expected = "content is 32x24, enlarged 3.0 times to 96 px: its detail comes out soft (--size 32 keeps its own size)"
    assert said(size=96) == [expected]
    assert said(size=64) == []  # twice: silent
    assert said(size=96, full_resolution=True) == []  # its detail comes from the photo itself
