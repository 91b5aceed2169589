"""Automatic masks: sub-styles found in the style, content regions matched to them."""

import json

import numpy as np
import pytest
import torch
from PIL import Image

from restyle.automask import (
    AUTO_GLOBAL_STYLE,
    Segmentation,
    _feathered,
    auto_masks,
    match_regions,
    resolve_global_style,
    resolve_masks,
    segment,
)
from restyle.errors import RestyleError
from restyle.image import RestyleWarning, read_metadata, save_image
from restyle.masks import DPST_COLORS, label_map, pair_masks
from restyle.metrics import adjusted_rand_index, matching_accuracy

from .conftest import run


def two_region_image(
    height: int, width: int, *, top: tuple, bottom: tuple, seed: int
) -> tuple[torch.Tensor, np.ndarray]:
    """A smooth 'sky' over a textured 'ground', with the boundary along a wave; and its truth."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width]
    boundary = height * 0.45 + height * 0.08 * np.sin(x / width * 2 * np.pi)
    truth = (y > boundary).astype(np.int64)
    img = np.empty((height, width, 3))
    img[:] = np.array(top) * (0.85 + 0.15 * y / height)[..., None]
    texture = 0.25 * rng.standard_normal((height, width, 1)) + 0.2 * np.sin(x / 2.0)[..., None]
    ground = np.array(bottom) + texture
    img[truth == 1] = ground[truth == 1]
    return torch.from_numpy(np.clip(img, 0, 1)).permute(2, 0, 1)[None].float(), truth


@pytest.fixture(scope="module")
def scene():
    content, c_truth = two_region_image(96, 128, top=(0.55, 0.75, 0.95), bottom=(0.3, 0.5, 0.2), seed=1)
    style, s_truth = two_region_image(112, 112, top=(0.95, 0.6, 0.3), bottom=(0.25, 0.3, 0.15), seed=2)
    return content, c_truth, style, s_truth


def test_finds_the_two_regions_and_matches_sky_to_sky(scene):
    content, c_truth, style, s_truth = scene
    found = auto_masks(content, style)
    # chosen by BIC, not given: the two regions, plus at most a thin border class (VGG features
    # whose receptive field straddles the edge differ from both sides)
    assert found.style.count in (2, 3), found.style.bic
    assert found.style.areas[:2].sum() > 0.85
    assert adjusted_rand_index(found.style.labels, s_truth) > 0.8
    content_substyle = np.asarray(found.assignment)[found.content.labels]
    assert adjusted_rand_index(content_substyle, c_truth) > 0.8
    # the content's sky takes the style's sky: the matched labels agree with the truth pairing
    sky_substyle = np.bincount(found.style.labels[s_truth == 0]).argmax()
    assert np.mean(content_substyle[c_truth == 0] == sky_substyle) > 0.8
    # masks at the images' sizes, one label per used sub-style, covering every pixel
    k = len(found.masks.names)
    assert found.masks.content.shape == (k, 96, 128) and found.masks.style.shape == (k, 112, 112)
    assert torch.allclose(found.masks.content.sum(0), torch.ones(96, 128))
    assert found.masks.names[:2] == ["blue", "green"]


def test_given_count_and_determinism(scene):
    content, _, style, _ = scene
    a = auto_masks(content, style, substyles=3, content_regions=2)
    b = auto_masks(content, style, substyles=3, content_regions=2)
    assert a.style.count == 3 and a.content.count == 2 and a.style.bic == {}
    assert np.array_equal(a.style.labels, b.style.labels) and a.assignment == b.assignment
    # regions are ordered by falling area
    assert np.all(np.diff(a.style.areas) <= 1e-12)


def test_smoothing_removes_isolated_regions(scene):
    style = scene[2]

    def fragments(labels):
        from scipy.ndimage import label

        return sum(label(labels == k)[1] for k in np.unique(labels))

    rough = segment([style], counts=[4], smoothness=0.0)[0]
    smooth = segment([style], counts=[4], smoothness=5.0)[0]
    assert fragments(smooth.labels) <= fragments(rough.labels)


def _regions(vectors, centres, areas, sky=None):
    """A Segmentation holding only what matching reads: per-layer unit vectors, centres, areas
    and shares above the sky border (none by default)."""
    blocks = [np.asarray(v, float) / np.linalg.norm(v) for v in vectors]
    semantics = np.stack([np.concatenate([b, b]) for b in blocks])  # the same block for both layers
    n = len(areas)
    sky = np.zeros(n) if sky is None else np.asarray(sky, float)
    return Segmentation(np.zeros((2, 2), int), np.zeros((n, 1)), np.asarray(areas), semantics, np.asarray(centres), sky)


def test_match_regions_cost_and_spread():
    style = _regions([[1, 0], [0, 1]], [[0.2, 0.5], [0.8, 0.5]], [0.5, 0.5])
    # both content regions look most like sub-style 0
    content = _regions([[1, 0.1], [1, 0.5]], [[0.3, 0.5], [0.6, 0.5]], [0.6, 0.4])
    cost, nearest = match_regions(content, style, spread=0.0, position=0.0)
    assert nearest == [0, 0]
    # reference: summed cosine distances over the two layers, scaled by their median
    cos = np.array([[1 / np.hypot(1, 0.1), 0.1 / np.hypot(1, 0.1)], [1 / np.hypot(1, 0.5), 0.5 / np.hypot(1, 0.5)]])
    semantic = 2 * (1 - cos)
    np.testing.assert_allclose(cost, semantic / np.median(semantic))
    _, spread = match_regions(content, style, spread=5.0, position=0.0)
    assert spread == [0, 1]  # the larger region keeps its nearest, the smaller moves


def test_match_regions_position_breaks_ties():
    style = _regions([[1, 0], [1, 0]], [[0.1, 0.5], [0.9, 0.5]], [0.5, 0.5])  # alike, top and bottom
    content = _regions([[1, 0.2], [1, 0.2]], [[0.8, 0.5], [0.2, 0.5]], [0.5, 0.5])  # bottom, top
    cost, assignment = match_regions(content, style, spread=0.0)
    assert assignment == [1, 0]
    place = np.array([[0.49, 0.01], [0.01, 0.49]])
    np.testing.assert_allclose(cost, 1.0 + 0.5 * place / np.median(place))


def test_match_regions_sky_term_sends_sky_to_sky():
    # alike in features and place: only the shares above the sky border tell them apart
    style = _regions([[1, 0], [1, 0]], [[0.5, 0.5], [0.5, 0.5]], [0.5, 0.5], sky=[1.0, 0.0])
    content = _regions([[1, 0.2], [1, 0.2]], [[0.5, 0.5], [0.5, 0.5]], [0.5, 0.5], sky=[0.1, 0.8])
    cost, assignment = match_regions(content, style, spread=0.0, position=0.0, sky=2.0)
    assert assignment == [1, 0]
    np.testing.assert_allclose(cost, 1.0 + 2.0 * np.array([[0.9, 0.1], [0.2, 0.8]]))
    _, without = match_regions(content, style, spread=0.0, position=0.0, sky=0.0)
    assert without == [0, 0]  # a tie, broken by order


def test_segment_records_each_regions_share_above_the_sky_border(scene):
    _, _, style, s_truth = scene
    found = segment([style], counts=[2])[0]
    sky_region = np.bincount(found.labels[s_truth == 0]).argmax()
    assert found.sky[sky_region] > 0.8 and found.sky[1 - sky_region] < 0.2
    assert np.all(segment([style], counts=[2], sky=False)[0].sky == 0)


def test_each_region_blends_with_its_own_side_of_the_style_sky_border(scene):
    content, _, style, s_truth = scene
    found = auto_masks(content, style, substyles=2)
    above = found.style.above
    assert above.shape == s_truth.shape and above.dtype == bool
    assert np.mean(above == (s_truth == 0)) > 0.9  # the border follows the horizon
    used = [list(DPST_COLORS).index(name) for name in found.masks.names]
    assert len(used) == 2 and found.masks.context.shape == found.masks.style.shape
    for u, context in zip(used, found.masks.context):
        side = above if found.style.sky[u] > 0.5 else ~above
        assert torch.equal(context, torch.from_numpy(side).float())
    assert found.summary()["blend_context"] == "side of the sky border"
    resized = found.masks.resized((48, 64), (56, 56)).to("cpu")
    assert resized.context.shape == (2, 56, 56)
    # no border looked for, or one sub-style used: blend with the whole style
    flat = auto_masks(content, style, substyles=2, sky=False)
    assert flat.style.above is None and flat.masks.context is None
    assert flat.summary()["blend_context"] == "whole style"
    assert auto_masks(content, style, substyles=1).masks.context is None


def test_flat_image_gives_one_substyle_and_too_many_is_reduced_with_a_warning():
    flat = torch.full((1, 3, 40, 60), 0.4)
    found = auto_masks(flat, flat)
    assert found.style.count == 1 and found.masks.names == ["blue"]
    with pytest.warns(RestyleWarning, match="flat"):
        found = auto_masks(flat, flat, substyles=3)
    assert found.style.count == 1


def test_more_substyles_than_colours_is_capped(scene):
    content, _, style, _ = scene
    with pytest.warns(RestyleWarning, match="at most 9"):
        found = auto_masks(content, style, substyles=12)
    assert found.style.count <= 9


def test_images_may_be_given_as_load_image_takes_them(scene, tmp_path):
    """A path, an array or a (3, H, W) tensor gives the masks the (1, 3, H, W) tensor gives (the
    README's example reads the images first; a path crashed with an AttributeError)."""
    content, _, style, _ = scene
    expected = auto_masks(content, style, substyles=2, content_regions=2)
    path = save_image(style, tmp_path / "style.png", bits=16)
    as_file = auto_masks(content[0], path, substyles=2, content_regions=2)
    assert torch.equal(as_file.masks.content, expected.masks.content)
    assert adjusted_rand_index(as_file.style.labels, expected.style.labels) > 0.95  # 16-bit levels
    as_array = auto_masks(content[0].permute(1, 2, 0).numpy(), style, substyles=2, content_regions=2)
    assert torch.equal(as_array.masks.content, expected.masks.content)
    with pytest.raises(RestyleError, match="missing.png: no such file"):
        auto_masks(content, tmp_path / "missing.png")


def test_tiny_and_bad_inputs():
    tiny = torch.rand(1, 3, 8, 8)
    found = auto_masks(tiny, tiny)
    assert found.masks.content.shape[1:] == (8, 8)
    with pytest.raises(RestyleError, match="too small"):
        auto_masks(torch.rand(1, 3, 3, 30), tiny)
    with pytest.raises(RestyleError, match="at least 1"):
        auto_masks(tiny, tiny, substyles=0)
    with pytest.raises(ValueError, match=r"\(1, 3, H, W\)"):
        segment([torch.rand(3, 8, 8)], counts=[None])


@pytest.mark.skipif(torch.cuda.is_available(), reason="a GPU is there to be asked for")
def test_a_gpu_asked_for_where_there_is_none_is_one_line():
    """torch's AssertionError ("Torch not compiled with CUDA enabled") came from the encoder."""
    tiny = torch.rand(1, 3, 8, 8)
    for call in (lambda: auto_masks(tiny, tiny, device="cuda"), lambda: segment([tiny], counts=[2], device="cuda:0")):
        with pytest.raises(RestyleError, match="^--device cuda(:0)? was asked for, but no CUDA GPU is available"):
            call()


def test_more_substyles_than_mask_colours_are_told_and_cut_to_nine():
    tiny = torch.rand(1, 3, 8, 8)
    with pytest.warns(RestyleWarning, match="^--max-substyles 12: at most 9 sub-styles are supported; using 9$"):
        found = auto_masks(tiny, tiny, max_substyles=12)
    assert 1 <= len(found.masks.names) <= 9


def test_every_entry_point_that_takes_a_device_picks_it_as_the_commands_do():
    """auto_masks (and so the web page's Auto-masks button) and segment ran on the CPU by
    default, beside a GPU the transfer itself used."""
    import inspect

    from restyle import stylize, stylize_photo
    from restyle.automask import resolve_masks
    from restyle.video import stylize_video

    for entry in (stylize, stylize_photo, stylize_video, auto_masks, segment, resolve_masks):
        assert inspect.signature(entry).parameters["device"].default == "auto", entry.__name__


@pytest.mark.parametrize("work_size", [0, 15, 2049, 10**23])
def test_work_size_out_of_range(work_size):
    tiny = torch.rand(1, 3, 8, 8)
    with pytest.raises(RestyleError, match=f"--work-size must be between 16 and 2048, not {work_size}$"):
        auto_masks(tiny, tiny, work_size=work_size)


def test_image_too_narrow_at_the_work_size():
    # 400 x 10 at work size 384 would be 384 x 10 (before: a max-pool error from inside VGG-19)
    narrow, square = torch.rand(1, 3, 10, 400), torch.rand(1, 3, 32, 32)
    with pytest.raises(
        RestyleError,
        match=r"the content at --work-size 384 is too small: 384x10; the deepest VGG-19 layer used \(relu5_1\) needs at least 16 px",
    ):
        auto_masks(narrow, square)
    with pytest.raises(
        RestyleError, match=r"the image 1 at --work-size 384 is too small: 384x10; .* \(relu5_1\) needs at least 16 px"
    ):
        segment([narrow], counts=[2])
    found = auto_masks(narrow, square, work_size=1000, substyles=1, content_regions=1)  # 1000 x 25 is enough
    assert found.masks.content.shape[1:] == (10, 400)


def test_adjusted_rand_index_against_sklearn():
    from sklearn.metrics import adjusted_rand_score

    rng = np.random.default_rng(0)
    for _ in range(5):
        a, b = rng.integers(0, 4, 500), rng.integers(0, 3, 500)
        b[:300] = a[:300] % 3
        assert adjusted_rand_index(a, b, ignore=None) == pytest.approx(adjusted_rand_score(a, b), abs=1e-12)
    a, b = rng.integers(0, 3, 200), rng.integers(0, 3, 200)
    b[:50] = -1  # ignored pixels leave the score
    assert adjusted_rand_index(a, b) == pytest.approx(adjusted_rand_score(a[50:], b[50:]), abs=1e-12)
    assert adjusted_rand_index(np.array([0, 0, 1, 1]), np.array([1, 1, 0, 0])) == 1.0


def test_saved_masks_round_trip_through_the_dpst_palette(scene, tmp_path):
    content, _, style, _ = scene
    found = auto_masks(content, style)
    c_path, s_path, j_path = found.save(tmp_path / "m")
    labels, _ = label_map(c_path, palette="dpst")
    expected = np.asarray(found.assignment)[found.content.labels]
    assert np.array_equal(labels.numpy(), expected)  # blue = 0, green = 1, ... as DPST's order
    pair = pair_masks(c_path, s_path, content.shape, style.shape)
    assert pair.names == found.masks.names
    # the PNGs hold the hard masks (the transfer itself uses them feathered)
    assert torch.equal(pair.content, auto_masks(content, style, feather=0).masks.content)
    info = json.loads(j_path.read_text())
    assert len(info["content_regions"]) == found.content.count
    assert not list((tmp_path / "m").glob(".*"))  # no temporary files left


@pytest.fixture
def scene_files(scene, tmp_path):
    content, _, style, _ = scene
    paths = []
    for name, image in (("content.png", content), ("style.png", style)):
        Image.fromarray((image[0].permute(1, 2, 0).numpy() * 255).astype(np.uint8)).save(tmp_path / name)
        paths.append(tmp_path / name)
    return paths


def test_cli_masks_then_photo_with_those_masks(capsys, tmp_path, scene_files):
    content, style = scene_files
    code, out, err = run(capsys, "masks", content, style, "-o", tmp_path / "masks", "--device", "cpu")
    assert code == 0, err
    assert "content region 0" in err and out.split() == [
        str(tmp_path / "masks" / n) for n in ("content_mask.png", "style_mask.png", "matching.json")
    ]
    matching = json.loads((tmp_path / "masks" / "matching.json").read_text())
    skies = [r["sky"] for r in matching["content_regions"]] + [s["sky"] for s in matching["substyles"]]
    assert all(0 <= s <= 1 for s in skies) and max(skies) > 0.5  # the scene's sky is found
    assert "mostly sky) -> " in err  # and named in the description
    # the masks carry their parameters: info --command makes the same masks again, in masks-again
    meta = read_metadata(tmp_path / "masks" / "content_mask.png")
    assert meta == read_metadata(tmp_path / "masks" / "style_mask.png")
    assert {k: meta[k] for k in ("command", "content", "style", "size", "seed")} == {
        "command": "masks",
        "content": str(content),
        "style": str(style),
        "size": 512,
        "seed": 0,
    }
    code, out, err = run(capsys, "info", "--command", tmp_path / "masks" / "style_mask.png")
    assert (
        code == 0
        and err == ""
        and out.split()[:6] == ["restyle", "masks", str(content), str(style), "-o", str(tmp_path / "masks-again")]
    )
    assert run(capsys, *out.split()[1:], "--quiet", "--device", "cpu")[0] == 0
    for name in ("content_mask.png", "style_mask.png"):
        again = np.asarray(Image.open(tmp_path / "masks-again" / name))
        assert np.array_equal(again, np.asarray(Image.open(tmp_path / "masks" / name)))
    code, out, err = run(
        capsys, "photo", content, style, "-o", tmp_path / "o.png", "--preset", "fast", "--quiet", "--device", "cpu",
        "--content-mask", tmp_path / "masks" / "content_mask.png", "--style-mask", tmp_path / "masks" / "style_mask.png",
    )  # fmt: skip
    assert code == 0, err
    assert read_metadata(tmp_path / "o.png")["mask_labels"][:2] == ["blue", "green"]


def test_cli_masks_without_the_sky_border(capsys, tmp_path, scene_files):
    content, style = scene_files
    code, _, err = run(capsys, "masks", content, style, "-o", tmp_path / "m", "--no-sky", "--device", "cpu")
    assert code == 0, err
    matching = json.loads((tmp_path / "m" / "matching.json").read_text())
    assert all(r["sky"] == 0 for r in matching["content_regions"] + matching["substyles"])


@pytest.mark.parametrize("command", ["photo", "art"])
def test_cli_auto_masks_end_to_end(capsys, tmp_path, scene_files, command):
    content, style = scene_files
    extra = ["--preset", "fast"] if command == "photo" else ["--iterations", "2", "--coarse-iterations", "0"]
    code, _, err = run(
        capsys, command, content, style, "-o", tmp_path / "o.png", "--auto-masks", "--size", "64",
        "--quiet", "--device", "cpu", *extra,
    )  # fmt: skip
    assert code == 0, err
    meta = read_metadata(tmp_path / "o.png")
    assert meta["auto_masks"] is True and meta["mask_labels"][:2] == ["blue", "green"]
    assert meta["auto_masks_matching"]["content_regions"]
    assert meta["global_style_used"] == AUTO_GLOBAL_STYLE  # automatic masks: blended targets


def test_global_style_defaults_and_checks():
    assert resolve_global_style(None, auto=True) == AUTO_GLOBAL_STYLE
    assert resolve_global_style(None, auto=False) == 0.0  # mask files: DPST's region-to-region loss
    assert resolve_global_style(0.2, auto=True) == 0.2
    for bad in (-0.1, 1.5):
        with pytest.raises(RestyleError, match="--global-style must be between 0 and 1"):
            resolve_global_style(bad, auto=False)


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--auto-masks", "--content-mask", "{c}", "--style-mask", "{s}"], "leave out --content-mask"),
        (["--substyles", "2"], "--substyles needs --auto-masks"),
        (["--auto-masks", "--substyles", "0"], "substyles must be at least 1"),
        (["--auto-masks", "--global-style", "2"], "global-style must be between 0 and 1"),
    ],
)
@pytest.mark.parametrize("command", ["photo", "art"])
def test_cli_mask_option_errors(capsys, tmp_path, scene_files, command, argv, message):
    content, style = scene_files
    argv = [a.format(c=content, s=style) for a in argv]
    code, _, err = run(capsys, command, content, style, "-o", tmp_path / "o.png", "--quiet", "--device", "cpu", *argv)
    assert code == 1 and err.count("\n") == 1 and message in err, err
    assert not (tmp_path / "o.png").exists()


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--feather", "-1"], "feather must be at least 0, not -1"),
        (["--spread", "nan"], "spread must be a finite number >= 0, not nan"),
        (["--smoothness", "-2"], "smoothness must be a finite number >= 0"),
        (["--substyles", "0"], "substyles must be at least 1"),
        (["--max-substyles", "0"], "--max-substyles must be at least 1, not 0"),
    ],
)
def test_cli_masks_option_errors(capsys, tmp_path, scene_files, argv, message):
    content, style = scene_files
    code, _, err = run(capsys, "masks", content, style, "-o", tmp_path / "m", "--device", "cpu", *argv)
    assert code == 1 and err.count("\n") == 1 and message in err, err
    assert not (tmp_path / "m").exists()


@pytest.mark.parametrize(
    ("output", "message"),
    [
        ("file/sub", "cannot create the output folder: {tmp}/file is a file"),
        ("file", "cannot create the output folder: {tmp}/file is a file"),
        ("new/masks.png", "-o is the folder for content_mask.png, style_mask.png and matching.json, not a file name"),
        ("/proc/restyle/m", "output folder /proc is not writable"),  # root may write anywhere else
    ],
)
def test_cli_masks_bad_output_fails_before_any_work(capsys, tmp_path, scene_files, monkeypatch, output, message):
    import restyle.automask

    def no_work(*args, **kwargs):
        raise AssertionError("auto_masks ran before the output was checked")

    monkeypatch.setattr(restyle.automask, "auto_masks", no_work)
    content, style = scene_files
    (tmp_path / "file").write_text("x")
    code, _, err = run(capsys, "masks", content, style, "-o", tmp_path / output, "--device", "cpu")
    assert code == 1 and err.count("\n") == 1 and message.format(tmp=tmp_path) in err, err
    assert not (tmp_path / "new").exists()


def test_cli_masks_makes_missing_folders_and_takes_an_existing_folder_with_a_suffix(capsys, tmp_path, scene_files):
    content, style = scene_files
    for output in (tmp_path / "a" / "b", tmp_path / "old.png"):
        if output.suffix:
            output.mkdir()
        code, out, err = run(capsys, "masks", content, style, "-o", output, "--device", "cpu", "--quiet")
        assert code == 0, err
        assert out.split() == [str(output / n) for n in ("content_mask.png", "style_mask.png", "matching.json")]


@pytest.mark.parametrize("entry", ["photo", "art"])
def test_masks_found_before_are_used_as_they_are(scene, monkeypatch, entry):
    """``auto_masks=`` an :class:`AutoMasks`: no new segmentation; the transfer records the
    given matching and blends the style targets as for automatic masks."""
    import restyle.automask
    from restyle import stylize
    from restyle.photo import stylize_photo

    content, _, style, _ = scene
    found = auto_masks(content, style)
    masks, matching = resolve_masks(
        content[..., ::2, ::2], style, content_mask=None, style_mask=None, auto=found, substyles=None, max_pixels=10**6
    )
    assert matching == found.summary() and masks.names == found.masks.names
    assert masks.content.shape[-2:] == (48, 64) and masks.style.shape == found.masks.style.shape
    assert torch.allclose(masks.content.sum(0), torch.ones(48, 64), atol=1e-4)  # still a partition
    with pytest.warns(
        RestyleWarning, match="^the content mask found is 128x96 but the content is 96x128: a different aspect ratio"
    ):
        resolve_masks(
            content.transpose(-1, -2),
            style,
            content_mask=None,
            style_mask=None,
            auto=found,
            substyles=None,
            max_pixels=1,
        )

    def no_segmentation(*args, **kwargs):
        raise AssertionError("segmented again")

    monkeypatch.setattr(restyle.automask, "auto_masks", no_segmentation)
    run = stylize_photo if entry == "photo" else stylize
    options = {"preset": "fast"} if entry == "photo" else {"iterations": 1, "pyramid": False}
    result = run(content, style, auto_masks=found, size=64, device="cpu", **options)
    assert result.params["auto_masks"] is True and result.params["auto_masks_matching"] == found.summary()
    assert result.params["global_style_used"] == AUTO_GLOBAL_STYLE
    assert result.params["mask_labels"] == found.masks.names
    with pytest.raises(RestyleError, match="not to masks already found"):
        run(content, style, auto_masks=found, substyles=2, size=64, device="cpu", **options)


def test_the_default_preset_smooths_more_with_automatic_masks(scene):
    from restyle.photo import PRESETS, stylize_photo

    content, _, style, _ = scene
    found = auto_masks(content, style)
    default = PRESETS["default"]
    assert default.auto_smoothing_strength > default.smoothing_strength

    def strength(**options):
        quick = {} if options.get("preset") == "fast" else {"iterations": 0}  # fast runs none anyway
        result = stylize_photo(content, style, size=64, device="cpu", **quick, **options)
        return result.params["settings"]["smoothing_strength"]

    assert strength(auto_masks=found) == default.auto_smoothing_strength
    assert strength() == default.smoothing_strength
    assert strength(auto_masks=found, smoothing_strength=5.0) == 5.0  # the caller's value wins
    assert strength(auto_masks=found, preset="fast") == PRESETS["fast"].smoothing_strength


def test_art_masks_must_have_one_style(tmp_path, scene):
    from restyle import stylize

    content, _, style, _ = scene
    with pytest.raises(RestyleError, match="one style image"):
        stylize(content, [style, style], auto_masks=True, size=64, iterations=1, device="cpu")


def test_matching_accuracy_against_a_pixel_loop():
    rng = np.random.default_rng(1)
    style_sub, style_truth = rng.integers(0, 3, (20, 30)), rng.integers(0, 4, (20, 30))
    style_truth[style_sub == 1] = 2  # sub-style 1 is all label 2
    style_truth[:2] = -1  # unlabelled border
    content_sub, content_truth = rng.integers(0, 3, (15, 10)), rng.integers(-1, 6, (15, 10))
    stands = {}
    for sub in range(3):
        labels = [t for t, s in zip(style_truth.ravel(), style_sub.ravel()) if s == sub and t != -1]
        stands[sub] = max(sorted(set(labels)), key=labels.count)
    present = set(style_truth.ravel()) - {-1}
    right = [stands[s] == t for s, t in zip(content_sub.ravel(), content_truth.ravel()) if t in present]
    got = matching_accuracy(content_sub, style_sub, content_truth, style_truth)
    assert stands[1] == 2 and got == pytest.approx(np.mean(right), abs=1e-12)
    # a perfect matching scores 1, and maps of different sizes are refused
    assert matching_accuracy(style_sub, style_sub, style_truth, style_truth) < 1  # sub-styles 0, 2 mix labels
    assert matching_accuracy(style_truth.clip(0), style_truth.clip(0), style_truth, style_truth) == 1.0
    with pytest.raises(ValueError, match="differ in size"):
        matching_accuracy(content_sub, style_sub, content_truth[:5], style_truth)


def test_feathering_blends_borders_in_smooth_areas_and_keeps_edges():
    content = torch.zeros(1, 3, 32, 64)
    content[..., 32:] = 1.0  # one strong edge at x = 32; flat on either side
    x = torch.arange(64).expand(32, 64)
    across_flat = _feathered(torch.stack([x < 16, x >= 16]).float(), content, 8)
    on_edge = _feathered(torch.stack([x < 32, x >= 32]).float(), content, 8)
    for soft in (across_flat, on_edge):
        assert soft.min() >= 0 and torch.allclose(soft.sum(0), torch.ones(32, 64), atol=1e-5)
    assert 0.3 < float(across_flat[0, 16, 16]) < 0.7  # a border in a flat area blends
    assert float(on_edge[0, 16, 31]) > 0.95 and float(on_edge[0, 16, 32]) < 0.05  # an edge stays sharp


def test_auto_masks_content_masks_are_feathered_unless_asked_not_to(scene):
    content, _, style, _ = scene
    soft = auto_masks(content, style, substyles=2, content_regions=2)
    hard = auto_masks(content, style, substyles=2, content_regions=2, feather=0)
    assert set(torch.unique(hard.masks.content).tolist()) <= {0.0, 1.0}
    assert torch.allclose(soft.masks.content.sum(0), torch.ones(soft.masks.content.shape[1:]), atol=1e-5)
    assert torch.equal(soft.masks.style, hard.masks.style)  # the style's sub-styles stay hard
    assert (soft.masks.content.argmax(0) == hard.masks.content.argmax(0)).float().mean() > 0.95


def test_masks_take_every_seed_the_other_commands_take(capsys, tmp_path, scene_files):
    """``restyle masks --seed -1`` (or 2^32 and above) reached scikit-learn's mixture, which
    takes seeds below 2^32, and came out as its InvalidParameterError, a traceback, after the
    features were computed. Every seed of 0 to 2^63 - 1 is taken now (the mixture's is the
    seed modulo 2^32: 2^32 finds what 0 finds), and any other is one line before any work."""
    content, style = scene_files
    for seed in ("0", str(2**32)):
        code, _, err = run(capsys, "masks", content, style, "-o", tmp_path / seed, "--seed", seed, "--quiet")
        assert code == 0, err
    for name in ("content_mask.png", "style_mask.png"):
        assert np.array_equal(
            np.asarray(Image.open(tmp_path / "0" / name)), np.asarray(Image.open(tmp_path / str(2**32) / name))
        )
    for seed in ("-1", str(2**63)):
        code, _, err = run(capsys, "masks", content, style, "-o", tmp_path / "bad", "--seed", seed, "--quiet")
        assert code == 1 and err == f"restyle: error: --seed must be between 0 and 2^63 - 1, not {seed}\n"
    assert not (tmp_path / "bad").exists()
