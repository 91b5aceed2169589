import warnings

import numpy as np
import pytest
import torch
from PIL import Image

from restyle import RestyleError, artistic, stylize
from restyle.color import rgb_to_ycbcr
from restyle.image import RestyleWarning, load_image, read_metadata
from restyle.losses import gram_matrix, masked_gram
from restyle.masks import masks_for_layers
from restyle.objective import Objective

from .conftest import smooth_image, stripes_image

FAST = {"size": 48, "iterations": 6, "coarse_iterations": 0, "pyramid": False, "device": "cpu"}


@pytest.fixture(scope="module")
def images():
    return smooth_image(36, 48), stripes_image(40, 40)


def test_optimisation_lowers_the_loss(images):
    content, style = images
    result = stylize(content, style, **{**FAST, "iterations": 15}, seed=1)
    totals = [r.losses["total"] for r in result.history]
    assert len(totals) == 15 and min(totals) < 0.6 * totals[0]
    assert result.image.shape == (1, 3, 36, 48)
    assert result.image.min() >= 0 and result.image.max() <= 1


def test_a_style_enlarged_more_than_twice_is_warned_about(images):
    """A thumbnail of a painting, enlarged to the result's size, gives blurred brush strokes."""
    content, style = images  # a 40-px style
    options = {**FAST, "iterations": 1}
    for size, expected in ((80, None), (96, "style 1 is 40x40, enlarged 2.4 times to 96 px")):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            stylize(content, style, **{**options, "size": size})
        said = [str(w.message) for w in caught if issubclass(w.category, RestyleWarning)]
        assert said == ([] if expected is None else [f"{expected}: its brush strokes come out blurred; a larger "
                        "image keeps them sharp (or --style-scale 0.42 uses it at its own size)"])  # fmt: skip
    with warnings.catch_warnings():
        warnings.simplefilter("error", RestyleWarning)
        stylize(content, style, **{**options, "size": 96, "style_scale": 0.42})  # at its own size: silent


def test_result_save_writes_parameters_and_a_photos_exif(tmp_path, images):
    from restyle.image import camera_exif, read_metadata

    content, style = images
    photo = tmp_path / "photo.jpg"
    exif = Image.Exif()
    exif[0x010F] = "Nikon"
    Image.fromarray(content).save(photo, exif=exif)
    result = stylize(photo, style, **{**FAST, "iterations": 2}, seed=3)
    path = result.save(tmp_path / "out.jpg", exif=camera_exif(photo))
    assert read_metadata(path)["seed"] == 3 and read_metadata(path)["iterations"] == 2
    with Image.open(path) as img:
        assert img.getexif()[0x010F] == "Nikon"
    assert Image.open(result.save(tmp_path / "plain.png")).getexif().get(0x010F) is None


def test_both_parameterizations_lower_the_loss_and_stay_in_range(images):
    content, style = images
    finals = {}
    for parameterization in ("multires", "pixels"):
        result = stylize(content, style, **{**FAST, "iterations": 12}, parameterization=parameterization, seed=1)
        totals = [r.losses["total"] for r in result.history]
        assert min(totals) < 0.7 * totals[0], parameterization
        assert result.image.min() >= 0 and result.image.max() <= 1
        assert result.params["parameterization"] == parameterization
        finals[parameterization] = result.image
    # the two really are different optimisation paths
    assert (finals["multires"] - finals["pixels"]).abs().max() > 1e-3


def test_seed_makes_noise_runs_reproducible(images):
    content, style = images
    a = stylize(content, style, **FAST, init="noise", seed=5)
    b = stylize(content, style, **FAST, init="noise", seed=5)
    c = stylize(content, style, **FAST, init="noise", seed=6)
    assert torch.equal(a.image, b.image)
    assert not torch.equal(a.image, c.image)
    assert a.params["seed"] == 5
    assert isinstance(stylize(content, style, **FAST).params["seed"], int)  # chosen and recorded


@pytest.mark.filterwarnings("ignore:style 1 is 40x40, enlarged")  # a small style, at a 96-px result
def test_pyramid_scales_and_callback(images):
    content, style = images
    seen = []
    result = stylize(
        content, style, size=96, iterations=2, coarse_iterations=3, min_size=20, device="cpu", callback=seen.append
    )
    # 96 / 2 / 2 = 24 px is the smallest scale at or above min_size
    assert [it.scale for it in seen] == [0] * 3 + [1] * 3 + [2] * 2
    assert [it.size[1] for it in seen][::3] == [24, 48, 96]
    assert seen[-1].step == seen[-1].steps == 8
    assert seen[0].image.shape[-1] == 24 and seen[-1].image.shape[-1] == 96
    assert result.image.shape[-1] == 96


def test_scales_too_small_for_the_network_are_skipped_or_refused(images):
    content, style = images  # 36 x 48
    seen = []
    stylize(content, style, size=64, iterations=1, coarse_iterations=1, min_size=16, device="cpu", callback=seen.append)
    # 16 px wide would be 12 px high: below relu5_1's 16 px, so that scale is skipped
    assert sorted({it.size[1] for it in seen}) == [32, 64]
    with pytest.raises(RestyleError) as caught:
        stylize(content, style, size=20, device="cpu")
    assert str(caught.value) == (
        "the content at --size 20 is too small: 20x15; the deepest VGG-19 layer used (relu5_1) needs at least "
        "16 px on each side (--size 22 is large enough)"
    )
    assert stylize(content, style, size=22, iterations=1, device="cpu").image.shape == (1, 3, 16, 22)


def test_inputs_of_every_kind(tmp_path, images):
    content, style = images
    Image.fromarray(content).save(tmp_path / "c.png")
    as_tensor = load_image(content)
    for c in (tmp_path / "c.png", str(tmp_path / "c.png"), Image.fromarray(content), content, as_tensor, as_tensor[0]):
        r = stylize(c, style, **{**FAST, "iterations": 1}, seed=0)
        assert r.image.shape == (1, 3, 36, 48)


def test_blended_styles_average_grams(images):
    content, style = images
    other = smooth_image(40, 40, seed=3)
    c = load_image(content)
    s1, s2 = load_image(style), load_image(other)
    common = {
        "content_weight": 1,
        "style_weight": 1,
        "tv_weight": 0,
        "content_layers": ["relu2_1"],
        "style_layers": ["relu1_1", "relu2_1"],
        "style_layer_weights": [1, 1],
    }
    obj = Objective(c, [s1, s2], blend=[3, 1], **common)
    ref1 = Objective(c, [s1], blend=[1], **common)
    ref2 = Objective(c, [s2], blend=[1], **common)
    for name in ("relu1_1", "relu2_1"):
        expected = 0.75 * ref1.style_targets[name] + 0.25 * ref2.style_targets[name]
        assert torch.allclose(obj.style_targets[name], expected, rtol=1e-5, atol=1e-6)


def _two_regions(images):
    """The test images, each split into two regions (style: left | right halves; content: top /
    bottom), and the options of an objective with a one-layer masked style loss."""
    content, style = images
    c, s = load_image(content), load_image(style)
    h, w = s.shape[-2:]
    style_masks = torch.zeros(2, h, w)
    style_masks[0, :, : w // 2] = 1
    style_masks[1, :, w // 2 :] = 1
    ch, cw = c.shape[-2:]
    content_masks = torch.zeros(2, ch, cw)
    content_masks[0, : ch // 2] = 1
    content_masks[1, ch // 2 :] = 1
    common = {
        "blend": [1],
        "content_weight": 1,
        "style_weight": 1,
        "tv_weight": 0,
        "content_layers": ["relu1_1"],
        "style_layers": ["relu1_1"],
        "style_layer_weights": [1],
        "content_masks": content_masks,
        "style_masks": style_masks,
    }
    return c, s, common


def test_global_style_blends_region_and_whole_grams(images):
    c, s, common = _two_regions(images)
    mixed = Objective(c, [s], global_style=0.25, **common)
    pure = Objective(c, [s], **common)
    # the whole style's Gram, from the raw features
    flat = mixed.features(s, ["relu1_1"])["relu1_1"].float().flatten(2)[0]
    whole = flat @ flat.T / flat.numel()
    expected = 0.75 * pure.style_targets["relu1_1"] + 0.25 * whole
    assert torch.allclose(mixed.style_targets["relu1_1"], expected, rtol=1e-4, atol=1e-6)
    assert not torch.allclose(pure.style_targets["relu1_1"][0], pure.style_targets["relu1_1"][1], rtol=1e-2)
    with pytest.raises(ValueError, match="global_style"):
        Objective(c, [s], global_style=1.5, **common)


def test_style_context_blends_each_region_with_the_gram_of_its_context(images):
    c, s, common = _two_regions(images)
    common["global_style"] = 0.25
    h, w = s.shape[-2:]
    whole = Objective(c, [s], **common)
    ones = Objective(c, [s], style_context=torch.ones(2, h, w), **common)
    assert torch.allclose(ones.style_targets["relu1_1"], whole.style_targets["relu1_1"], rtol=1e-5, atol=1e-7)
    # region 0 blends with the left third of the style, region 1 with the right two thirds
    context = torch.zeros(2, h, w)
    context[0, :, : w // 3] = 1
    context[1, :, w // 3 :] = 1
    sided = Objective(c, [s], style_context=context, **common)
    pure = Objective(c, [s], **{**common, "global_style": 0.0})
    feats = sided.features(s, ["relu1_1"])["relu1_1"].float()[0]
    at_layer = masks_for_layers(context, ["relu1_1"])["relu1_1"]  # as the region masks are carried
    for k in range(2):
        part = (feats * at_layer[k]).flatten(1)
        gram = part @ part.T / (feats.shape[0] * at_layer[k].sum())
        expected = 0.75 * pure.style_targets["relu1_1"][k] + 0.25 * gram
        assert torch.allclose(sided.style_targets["relu1_1"][k], expected, rtol=1e-4, atol=1e-6)
    assert not torch.allclose(sided.style_targets["relu1_1"], whole.style_targets["relu1_1"], rtol=1e-2)
    with pytest.raises(ValueError, match="style_context"):
        Objective(c, [s], style_context=torch.ones(3, h, w), **common)
    with pytest.raises(ValueError, match="style_context"):
        Objective(c, [s], **{**common, "content_masks": None, "style_masks": None}, style_context=context)


def test_area_weighted_regions_weigh_each_region_loss_by_its_share_of_the_layer(images):
    # DPST multiplies each region's Gram loss by the mean of its content mask at that layer.
    content, style = images
    c, s = load_image(content), load_image(style)
    ch, cw = c.shape[-2:]
    content_masks = torch.zeros(2, ch, cw)
    content_masks[0, : ch // 4] = 1  # a quarter of the image ...
    content_masks[1, ch // 4 :] = 1  # ... and the rest
    h, w = s.shape[-2:]
    style_masks = torch.zeros(2, h, w)
    style_masks[0, :, : w // 2] = 1
    style_masks[1, :, w // 2 :] = 1
    layers = ["relu1_1", "relu3_1"]
    common = {
        "blend": [1],
        "content_weight": 0,
        "style_weight": 1,
        "tv_weight": 0,
        "content_layers": ["relu1_1"],
        "style_layers": layers,
        "style_layer_weights": [1, 2],
        "content_masks": content_masks,
        "style_masks": style_masks,
        "region_weights": [3, 1],
    }
    plain = Objective(c, [s], **common)
    weighted = Objective(c, [s], area_weighted=True, **common)
    x = (c + 0.2 * torch.rand(c.shape, generator=torch.Generator().manual_seed(1))).clamp(0, 1)
    feats = plain.features(x)
    layer_masks = masks_for_layers(content_masks, layers)
    expected_plain = expected_weighted = 0.0
    for name, layer_weight in zip(layers, [1, 2]):
        grams = masked_gram(feats[name].float(), layer_masks[name])
        per_region = ((grams - plain.style_targets[name]) ** 2).mean(dim=(1, 2)) * torch.tensor([3.0, 1.0])
        share = layer_masks[name].mean(dim=(1, 2))
        assert 0.2 < float(share[0]) < 0.3 and float(share.sum()) == pytest.approx(1.0, abs=1e-5)
        expected_plain += layer_weight * float(per_region.sum())
        expected_weighted += layer_weight * float((per_region * share).sum())
    assert float(plain.style_loss(feats)) == pytest.approx(expected_plain, rel=1e-4)
    assert float(weighted.style_loss(feats)) == pytest.approx(expected_weighted, rel=1e-4)
    assert expected_weighted < 0.9 * expected_plain


def test_channels_last_changes_only_the_speed(images):
    # The default encoder layout is channels-last; the contiguous layout must give the same
    # result (float32, so that only the convolutions' summation order differs).
    content, style = images
    last = stylize(content, style, **FAST, seed=0, precision="float32", channels_last=True)
    plain = stylize(content, style, **FAST, seed=0, precision="float32", channels_last=False)
    assert last.params["channels_last"] is True
    assert torch.allclose(last.image, plain.image, atol=2e-3)
    assert last.history[-1].losses["total"] == pytest.approx(plain.history[-1].losses["total"], rel=1e-3)


def test_objective_without_masks_equals_one_region_of_ones(images):
    # No masks takes plain Grams (no mask multiply); a mask of ones over the whole image must
    # give the same targets, loss and gradient.
    content, style = images
    c, s = load_image(content), load_image(style)
    common = {
        "blend": [1],
        "content_weight": 5,
        "style_weight": 100,
        "tv_weight": 1e-3,
        "content_layers": ["relu2_2"],
        "style_layers": ["relu1_1", "relu2_1", "relu3_1"],
        "style_layer_weights": [1, 0.5, 2],
    }
    plain = Objective(c, [s], **common)
    ones = Objective(
        c, [s], content_masks=torch.ones(1, *c.shape[-2:]), style_masks=torch.ones(1, *s.shape[-2:]), **common
    )
    assert plain.content_masks is None
    x = (c + 0.1 * torch.rand(c.shape, generator=torch.Generator().manual_seed(0))).clamp(0, 1)
    grads = []
    for obj in (plain, ones):
        image = x.clone().requires_grad_(True)
        total, _ = obj(image)
        grads.append((total.item(), torch.autograd.grad(total, image)[0]))
    assert grads[0][0] == pytest.approx(grads[1][0], rel=1e-5)
    assert torch.allclose(grads[0][1], grads[1][1], rtol=1e-4, atol=1e-6 * grads[1][1].abs().max().item())
    for name in common["style_layers"]:
        assert torch.allclose(plain.style_targets[name], ones.style_targets[name], rtol=1e-5, atol=1e-7)


def test_objective_is_zero_at_its_own_targets(images):
    content, _ = images
    c = load_image(content)
    obj = Objective(
        c,
        [c],
        blend=[1],
        content_weight=5,
        style_weight=100,
        tv_weight=0,
        content_layers=["relu4_2"],
        style_layers=["relu1_1", "relu3_1"],
        style_layer_weights=[1, 1],
    )
    total, _ = obj(c)
    assert total.item() == pytest.approx(0.0, abs=1e-6)
    feats = obj.features(c, ["relu1_1"])
    assert torch.allclose(obj.style_targets["relu1_1"], gram_matrix(feats["relu1_1"]))


def test_preserve_color_luminance_keeps_content_chroma(images):
    content, style = images
    result = stylize(content, style, **FAST, preserve_color="luminance", seed=0)
    chroma_out = rgb_to_ycbcr(result.image)[:, 1:]
    chroma_in = rgb_to_ycbcr(load_image(content))[:, 1:]
    # equal up to clamping of out-of-gamut pixels
    assert (chroma_out - chroma_in).abs().mean() < 0.01
    plain = stylize(content, style, **FAST, seed=0)
    assert (rgb_to_ycbcr(plain.image)[:, 1:] - chroma_in).abs().mean() > 2 * (chroma_out - chroma_in).abs().mean()


def test_preserve_color_histogram_runs_and_stays_closer_in_colour(images):
    content, style = images
    hist = stylize(content, style, **{**FAST, "iterations": 10}, preserve_color="histogram", seed=0)
    plain = stylize(content, style, **{**FAST, "iterations": 10}, seed=0)
    c_mean = load_image(content).mean(dim=(2, 3))
    assert (hist.image.mean(dim=(2, 3)) - c_mean).abs().sum() < (plain.image.mean(dim=(2, 3)) - c_mean).abs().sum()


def test_adam_and_init_image(tmp_path, images):
    content, style = images
    init = tmp_path / "init.png"
    Image.fromarray(np.full((9, 12, 3), 128, np.uint8)).save(init)  # the content's 3:4
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        r = stylize(content, style, **FAST, optimizer="adam", init=str(init))
    assert r.status == "done" and len(r.history) == FAST["iterations"]
    Image.fromarray(np.full((10, 10, 3), 128, np.uint8)).save(init)
    with pytest.warns(RestyleWarning, match="the init image is 10x10 but the content is 48x36: a different aspect"):
        stylize(content, style, **FAST, init=str(init))


def test_nonfinite_is_reported(images):
    content, style = images
    r = stylize(content, style, **FAST, style_weight=1e38)  # finite, but the loss overflows float32
    assert r.status == "nonfinite" and "kept the last good iterate" in r.message
    assert torch.isfinite(r.image).all()


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"size": 8}, "at least 16"),
        ({"size": 16}, "too small"),
        ({"style_weight": float("nan")}, "finite"),
        ({"content_weight": -1}, "finite number >= 0"),
        ({"style_layers": ["relu9_9"]}, "unknown VGG-19 layer"),
        ({"style_layers": []}, "at least one layer"),
        (
            {"style_layer_weights": [1, 2]},
            r"^--style-layer-weights: 2 given for the style layers relu1_1, relu2_1, relu3_1, relu4_1, relu5_1; give one",
        ),
        ({"style_layers": ["relu1_1"], "style_layer_weights": [-1]}, "each of --style-layer-weights must be a finite"),
        ({"style_blend": [1, 2]}, r"--style-blend needs one weight per style \(1 given\).*; got \[1.0, 2.0\]"),
        (
            {"style_blend": [float("nan")]},
            "--style-blend needs one weight per style .1 given., each finite and non-negative",
        ),
        (
            {"style_blend": [float("inf")]},
            "--style-blend needs one weight per style .1 given., each finite and non-negative",
        ),
        ({"style_blend": [-1]}, "--style-blend needs one weight per style .1 given., each finite and non-negative"),
        ({"style_blend": [0]}, "positive sum"),
        ({"optimizer": "sgd"}, "unknown --optimizer"),
        ({"parameterization": "fourier"}, "parameterization"),
        ({"preserve_color": "sepia"}, "unknown --preserve-color"),
        ({"device": "tpu"}, "unknown --device"),
        ({"precision": "fp8"}, "precision"),
        ({"style_scale": 0}, "--style-scale must be a positive number"),
        ({"style_scale": float("inf")}, "--style-scale must be a positive number, not inf"),
        ({"style_scale": float("nan")}, "--style-scale must be a positive number, not nan"),
        ({"style_scale": 1e300}, "--style-scale 1e.300 would make it over 10,000,000 px on a side"),
        ({"learning_rate": -1.0, "optimizer": "adam"}, "--learning-rate must be a positive number"),
        ({"learning_rate": 1e300, "optimizer": "adam"}, "--learning-rate must be at most 1"),
        ({"pyramid": True, "pyramid_factor": 1.0001, "min_size": 16}, "the scale below 48 px would be 48 px too"),
        ({"min_size": 0}, "--min-size must be at least 1"),
        ({"seed": 2**64}, "--seed must be between 0 and 2"),
        ({"seed": -1}, "--seed must be between 0 and 2"),
        ({"style_scale": 1000}, "style 1: --style-scale 1000 would make it"),
        ({"iterations": 0}, "--iterations must be at least 1"),
        ({"coarse_iterations": -1}, "coarse-iterations at least 0"),
        ({"init": "/nonexistent.png"}, "no such file"),
    ],
)
def test_bad_options(images, kwargs, message):
    content, style = images
    with pytest.raises(RestyleError, match=message):
        stylize(content, style, **{**FAST, **kwargs})


def test_a_misspelt_init_word_is_told_before_any_image_is_read(images, monkeypatch):
    content, style = images

    def read(*args, **kwargs):
        raise AssertionError("an image was read before the init was checked")

    monkeypatch.setattr(artistic, "load_image", read)
    with pytest.raises(RestyleError) as caught:
        stylize(content, style, **{**FAST, "init": "contnet"})
    assert str(caught.value) == "--init contnet: no such file (--init takes content, noise, or an image)"


def test_a_callback_stops_a_run_early_by_raising_keyboard_interrupt(images, tmp_path):
    """The documented way for Python code to stop a run (the web UI's Stop does it): the result
    is the best iterate so far, at the full size even when stopped at a coarse scale."""
    content, style = images
    seen = []

    def enough(it):
        seen.append((it.scale, it.iteration))
        if it.scale == 0 and it.iteration == 2:  # the coarse scale (scales count from 0)
            raise KeyboardInterrupt

    options = {**FAST, "size": 64, "pyramid": True, "min_size": 32, "coarse_iterations": 4}
    result = stylize(content, style, **options, callback=enough)
    assert result.status == "interrupted" and seen == [(0, 1), (0, 2)] and len(result.history) == 2
    assert result.image.shape == (1, 3, 48, 64) and torch.isfinite(result.image).all()
    assert read_metadata(result.save(tmp_path / "r.png"))["status"] == "interrupted"  # the file says so too


def test_an_init_image_given_in_memory_is_recorded_by_no_pixels(images, tmp_path):
    content, style = images
    start = np.full((36, 48, 3), 0.5)
    result = stylize(content, style, **{**FAST, "iterations": 1, "init": start})
    assert result.params["init"] == "<in memory>"
    assert read_metadata(result.save(tmp_path / "r.png"))["init"] == "<in memory>"
    on_disk = tmp_path / "start.png"
    Image.fromarray(np.full((36, 48, 3), 128, np.uint8)).save(on_disk)
    assert stylize(content, style, **{**FAST, "iterations": 1, "init": on_disk}).params["init"] == str(on_disk)


def test_cuda_requested_without_gpu(images):
    if torch.cuda.is_available():
        pytest.skip("a GPU is present")
    content, style = images
    with pytest.raises(RestyleError, match="no CUDA GPU"):
        stylize(content, style, **{**FAST, "device": "cuda"})


def test_cache_reuses_style_targets_and_gives_the_same_result(monkeypatch):
    rng = np.random.default_rng(1)
    content, style = rng.random((32, 32, 3)), rng.random((40, 40, 3))
    calls = []
    real = Objective.features

    def spy(self, image, layers=None):
        calls.append(layers)
        return real(self, image, layers)

    monkeypatch.setattr(Objective, "features", spy)
    cache: dict = {}
    runs = []
    for _ in range(2):
        calls.clear()
        runs.append(stylize(content, style, size=32, iterations=3, pyramid=False, device="cpu", seed=0, _cache=cache))
        runs[-1].calls = list(calls)
    assert len(cache) == 1
    style_passes = [c for c in runs[0].calls if c is not None]  # style encodings name their layers
    assert len(style_passes) == 1 and not [c for c in runs[1].calls if c is not None]
    assert torch.allclose(runs[0].image, runs[1].image)


def test_a_content_enlarged_more_than_twice_is_warned_about(images):
    content, style = images  # a 48 x 36 content
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        stylize(content, style, **{**FAST, "iterations": 1, "size": 112, "style_scale": 0.36})
    assert [str(w.message) for w in caught if issubclass(w.category, RestyleWarning)] == [
        "content is 48x36, enlarged 2.3 times to 112 px: its detail comes out soft (--size 48 keeps its own size)"
    ]


def test_styles_given_by_a_generator_are_read_once_as_a_list_is(images):
    """A generator of styles was taken for one image ("not generator")."""
    content, style = images
    other = np.ascontiguousarray(style[::-1])
    options = {**FAST, "iterations": 2, "style_blend": [1.0, 2.0]}
    listed = stylize(content, [style, other], **options, seed=3)
    generated = stylize(content, (s for s in (style, other)), **options, seed=3)
    assert torch.equal(generated.image, listed.image) and generated.params["styles"] == ["<in memory>"] * 2
    with pytest.raises(RestyleError, match="at least one style image is needed"):
        stylize(content, iter([]), **FAST)
