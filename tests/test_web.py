"""Web UI: request handlers without a browser, then the real thing in headless Chromium."""

import functools
import inspect
import io
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from restyle import __version__
from restyle.automask import AUTO_GLOBAL_STYLE
from restyle.errors import RestyleError
from restyle.image import RestyleWarning, camera_exif, load_image, read_metadata, save_image, to_pil
from restyle.masks import DPST_COLORS
from restyle.photo import PRESETS
from restyle.web import (
    EDITOR_CANVAS,
    MASK_LAYER_ALPHA,
    Update,
    _run,
    art_job,
    auto_mask_layers,
    brush_radius,
    editor_mask,
    in_page_terms,
    photo_job,
    preset_sliders,
    request_stop,
    slider_weights,
    stop_flag,
    video_job,
    viewable_upload,
)

from .conftest import animated_gif, smooth_image, stripes_image

gradio = pytest.importorskip("gradio", reason="the web extra is not installed: pip install -e '.[web]'")


def rgba_layer(shape, box, colour):
    layer = np.zeros((*shape, 4), dtype=np.uint8)
    y0, y1, x0, x1 = box
    layer[y0:y1, x0:x1, :3] = colour
    layer[y0:y1, x0:x1, 3] = 255
    return layer


def test_editor_mask_reads_strokes_and_leaves_the_rest_white():
    assert editor_mask(None, (4, 4)) is None
    assert editor_mask({"background": None, "layers": [], "composite": None}, (4, 4)) is None
    empty = np.zeros((10, 12, 4), dtype=np.uint8)
    assert editor_mask({"layers": [empty]}, (10, 12)) is None
    blue = rgba_layer((10, 12), (0, 5, 0, 12), (10, 5, 250))  # near blue (anti-aliased brush)
    red = rgba_layer((10, 12), (3, 7, 0, 4), (255, 0, 0))  # a later layer on top
    mask = editor_mask({"layers": [blue, red]}, (10, 12))
    assert mask[0, 8].tolist() == [0, 0, 255]
    assert mask[4, 1].tolist() == [255, 0, 0]
    assert mask[9, 9].tolist() == [255, 255, 255]
    # a layer of another size is scaled to the image
    assert editor_mask({"layers": [blue]}, (20, 24))[0:10, :].tolist() == np.full((10, 24, 3), [0, 0, 255]).tolist()


@pytest.fixture
def images():
    return smooth_image(48, 64), stripes_image(64, 64)


def collect(job):
    return list(job)


def test_photo_job_streams_previews_and_a_png_with_parameters(tmp_path, images, monkeypatch):
    monkeypatch.setattr("restyle.web.PREVIEW_SECONDS", 0.0)
    content, style = images
    updates = collect(
        photo_job(content, style, None, None, preset="default", size=48, stop=threading.Event(), folder=tmp_path)
    )
    previews = [u for u in updates if u.file is None]
    assert previews and previews[0].image.shape == (36, 48, 3) and "iteration" in previews[0].status
    final = updates[-1]
    assert final.status.startswith("done") and final.image == final.file  # an 8-bit PNG: shown as it is
    meta = read_metadata(final.file)
    assert meta["restyle_web"] == "photo" and meta["preset"] == "default" and meta["size"] == 48
    assert meta["status"] == "done" and meta["restyle_version"] == __version__
    assert "content" not in meta and "style" not in meta  # the server's temporary copies: not recorded
    # the status line gives the command that makes the same result from the command line
    said = final.status.partition("; the same from the command line: ")[2]
    assert said == f"restyle photo CONTENT STYLE -o result.png --size 48 --seed {meta['seed']}"  # no more to say


def test_photo_job_full_resolution(tmp_path, images):
    content, style = images
    options = {"preset": "fast", "size": 32, "full_resolution": True, "stop": threading.Event(), "folder": tmp_path}
    final = collect(photo_job(content, style, None, None, **options))[-1]
    assert read_metadata(final.file)["full_resolution"] is True
    with Image.open(final.image) as shown:
        assert shown.size == (64, 48)


def test_uploads_in_another_colour_profile_are_converted_to_srgb(tmp_path):
    from PIL import Image

    from restyle.image import load_image, sample_path
    from restyle.web import _check_image

    with Image.open(sample_path("rocket")) as upload:  # an Adobe RGB photo, as Gradio hands it over
        upload = upload.convert("RGB")
        raw = np.asarray(upload)
        ours = _check_image(upload, "content", 10**8)
    expected = (load_image(sample_path("rocket"))[0].permute(1, 2, 0).numpy() * 255).round()
    assert np.array_equal(ours, expected.astype(np.uint8)) and not np.array_equal(ours, raw)
    with pytest.raises(RestyleError, match=r"^the content image: 40x30 \(1200 pixels\) is over the --max-pixels limit"):
        _check_image(Image.new("RGB", (40, 30)), "content", 1000)


def test_an_uploaded_file_is_read_as_the_cli_reads_it(tmp_path, images):
    """The UI hands the jobs the uploaded file itself, so a web result is the CLI's: a JPEG
    smoothed in its YCbCr codes (the fast preset, at the work size and at full resolution), a
    16-bit PNG read at 16 bits."""
    from restyle.photo import stylize_photo

    content, style = images
    jpeg, deep = tmp_path / "content.jpg", tmp_path / "deep.png"
    Image.fromarray(content).save(jpeg, quality=70)
    y, x = np.mgrid[0:48, 0:64]
    save_image(torch.from_numpy(np.stack([x / 63, y / 47, (x + y) / 110])).float()[None], deep, bits=16)
    for upload, preset, full in ((jpeg, "fast", False), (jpeg, "fast", True), (deep, "default", False)):
        options = {"preset": preset, "size": 32, "full_resolution": full}
        job = photo_job(
            str(upload), style, None, None, **options, download="PNG, 16 bits", stop=threading.Event(), folder=tmp_path
        )
        web = load_image(collect(job)[-1].file)
        cli = stylize_photo(upload, style, **options).image
        assert torch.allclose(web, cli, atol=0.5 / 65535, rtol=0), upload.name
        # an image decoded first, as the UI used to hand uploads over, gives another result
        decoded = np.asarray(to_pil(load_image(upload)))
        assert not torch.allclose(stylize_photo(decoded, style, **options).image, cli, atol=0.5 / 65535, rtol=0)


def test_an_upload_that_is_not_an_image_is_named_by_its_name(tmp_path, images):
    bad = tmp_path / "gradio-cache-1234" / "holiday.jpg"
    bad.parent.mkdir()
    bad.write_bytes(b"not a jpeg")
    job = photo_job(str(bad), images[1], None, None, stop=threading.Event(), folder=tmp_path)
    with pytest.raises(RestyleError) as raised:
        collect(job)
    assert "holiday.jpg" in str(raised.value) and "gradio-cache" not in str(raised.value)
    truncated = bad.parent / "cut.jpg"  # a header that reads, and pixels that do not
    Image.fromarray(images[0]).save(truncated, quality=90)
    truncated.write_bytes(truncated.read_bytes()[:400])
    with pytest.raises(RestyleError) as raised:
        collect(photo_job(str(truncated), images[1], None, None, stop=threading.Event(), folder=tmp_path))
    assert str(raised.value).startswith("cut.jpg: ") and "gradio-cache" not in str(raised.value)
    clip = bad.parent / "clip.mp4"
    clip.write_bytes(os.urandom(20_000))
    with pytest.raises(RestyleError) as raised:
        collect(video_job(str(clip), images[1], stop=threading.Event(), folder=tmp_path))
    assert str(raised.value).startswith("clip.mp4: not a readable video"), str(raised.value)
    big = tmp_path / "big.png"
    Image.new("RGB", (40, 30)).save(big)
    with pytest.raises(
        RestyleError, match=r"the content image: 40x30 \(1200 pixels\) is over the --max-pixels limit of 1000 pixels"
    ):
        collect(photo_job(str(big), images[1], None, None, stop=threading.Event(), folder=tmp_path, max_pixels=1000))


def test_a_downloaded_result_keeps_the_uploads_camera_exif(tmp_path, images):
    from PIL import Image

    content, style = images
    upload = Image.fromarray(content)
    upload.getexif()[0x010F] = "Canon"  # as Gradio hands over a camera JPEG: EXIF in the image's info
    upload.info["exif"] = upload.getexif().tobytes()
    options = {"preset": "fast", "size": 32, "stop": threading.Event(), "folder": tmp_path}
    final = collect(photo_job(upload, style, None, None, **options))[-1]
    with Image.open(final.file) as img:
        assert img.getexif()[0x010F] == "Canon" and img.getexif()[0x0112] == 1
    assert upload.getexif().get(0x0112) is None  # the upload itself is left as it was


def test_photo_job_with_painted_masks(tmp_path, images):
    content, style = images
    c_edit = {"layers": [rgba_layer((48, 64), (0, 20, 0, 64), (0, 0, 255))]}
    s_edit = {"layers": [rgba_layer((64, 64), (0, 30, 0, 64), (0, 0, 255))]}
    final = collect(
        photo_job(content, style, c_edit, s_edit, preset="fast", size=48, stop=threading.Event(), folder=tmp_path)
    )[-1]
    meta = read_metadata(final.file)
    assert meta["mask_labels"] == ["blue", "white"] and meta["mask_palette"] == "dpst"  # the brush's colours
    said = final.status.partition("; the same from the command line: ")[2].split()
    assert (
        said[said.index("--content-mask") + 1] == "CONTENT_MASK"
        and said[said.index("--style-mask") + 1] == "STYLE_MASK"
    )
    assert said[said.index("--mask-palette") + 1] == "dpst"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"content": None}, "upload a content image"),
        ({"c_edit": {"layers": [rgba_layer((48, 64), (0, 9, 0, 9), (0, 0, 255))]}}, "both images"),
        ({"content": np.zeros((300, 300, 3), np.uint8)}, "is over the --max-pixels limit"),
        ({"size": 8}, "at least 16"),
    ],
)
def test_photo_job_errors_are_messages(tmp_path, images, change, message):
    content, style = images
    args = {"content": content, "style": style, "c_edit": None, "s_edit": None, "size": 48, **change}
    with pytest.raises(RestyleError, match=message):
        collect(
            photo_job(
                args["content"], args["style"], args["c_edit"], args["s_edit"], preset="fast", size=args["size"],
                stop=threading.Event(), folder=tmp_path, max_pixels=50_000,
            )
        )  # fmt: skip


def test_stop_returns_the_best_result_so_far(tmp_path, images, monkeypatch):
    monkeypatch.setattr("restyle.web.PREVIEW_SECONDS", 0.0)
    content, style = images
    stop = stop_flag("test-session")
    updates = []
    for update in art_job(content, [style, None, None], [1, 1, 1], size=48, iterations=500, stop=stop, folder=tmp_path):
        updates.append(update)
        if len(updates) == 3:
            assert request_stop("test-session").startswith("stopping")
    final = updates[-1]
    assert final.status.startswith("stopped early") and final.file and Path(final.file).exists()
    assert len(updates) < 20  # it did stop: 500 iterations would give far more previews
    # the next job of the session starts with the flag cleared
    assert collect(art_job(content, [style, None, None], [1, 1, 1], size=32, iterations=2, stop=stop, folder=tmp_path))[
        -1
    ].status.startswith("done")


def test_a_job_stopped_before_its_first_step_says_so_and_keeps_nothing(tmp_path, images, monkeypatch):
    """It showed the content photo as "stopped early: best result so far", and saved it."""
    import restyle.artistic

    content, style = images
    stop = threading.Event()
    objective = restyle.artistic.Objective

    def stopped(*args, **kwargs):  # Stop pressed while the style targets are computed
        stop.set()
        return objective(*args, **kwargs)

    monkeypatch.setattr(restyle.artistic, "Objective", stopped)
    with pytest.raises(RestyleError, match="^stopped before any result$"):
        collect(art_job(content, [style, None, None], [1, 1, 1], size=48, iterations=50, stop=stop, folder=tmp_path))
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("preset", sorted(PRESETS))
def test_photo_sliders_start_at_the_presets_exact_weights(preset):
    chosen = PRESETS[preset]
    sliders = preset_sliders(preset)
    exact = (chosen.style_weight, chosen.photo_weight, chosen.content_weight)
    for value, weight in zip(sliders, exact, strict=True):
        assert 10.0**value == pytest.approx(weight, rel=0.01)
    # untouched sliders leave the preset's weights to the preset (20, not 10^1.301 = 19.998)
    assert slider_weights(preset, *sliders) == dict.fromkeys(("style_weight", "photo_weight", "content_weight"))
    moved = slider_weights(preset, sliders[0] + 1, *sliders[1:])
    assert moved["style_weight"] == pytest.approx(10 * chosen.style_weight, rel=0.01)
    assert moved["photo_weight"] is None and moved["content_weight"] is None


def test_an_art_result_of_two_uploaded_styles_records_their_count_not_their_copies(tmp_path, images):
    content, style = images
    first, second = tmp_path / "a.png", tmp_path / "b.png"  # uploads arrive as the server's copies
    Image.fromarray(style).save(first)
    Image.fromarray(np.ascontiguousarray(style[::-1])).save(second)
    options = {"size": 32, "iterations": 2, "stop": threading.Event(), "folder": tmp_path}
    final = collect(art_job(content, [str(first), None, str(second)], [1, 1, 2], **options))[-1]
    meta = read_metadata(final.file)
    assert meta["styles"] == [None, None] and meta["restyle_web"] == "art" and meta["status"] == "done"
    said = final.status.partition("; the same from the command line: ")[2]
    assert said.split()[:5] == ["restyle", "art", "CONTENT", "STYLE1", "STYLE2"]


@pytest.mark.parametrize(
    ("download", "suffix", "dtype"), [("TIFF, 16 bits", ".tif", np.uint16), ("PNG", ".png", np.uint8)]
)
def test_the_download_format_is_the_users_choice(tmp_path, images, download, suffix, dtype):
    import tifffile

    content, style = images
    options = {"size": 32, "stop": threading.Event(), "folder": tmp_path, "download": download}
    art = collect(art_job(content, [style, None, None], [1, 1, 1], iterations=2, **options))[-1]
    photo = collect(photo_job(content, style, None, None, preset="fast", **options))[-1]
    for final in (art, photo):
        assert Path(final.file).suffix == suffix and read_metadata(final.file)["size"] == 32
        pixels = tifffile.imread(final.file) if suffix == ".tif" else np.asarray(Image.open(final.file))
        assert pixels.dtype == dtype and pixels.shape == (24, 32, 3)
        # the page shows the result losslessly at 8 bits, whatever the download's format
        with Image.open(final.image) as shown:
            assert shown.format == "PNG" and shown.mode == "RGB"
            eight = np.round(pixels / 257.0) if dtype == np.uint16 else pixels
            assert np.array_equal(np.asarray(shown), eight)


def test_an_unknown_download_format_is_refused_before_any_work(tmp_path, images):
    content, style = images
    with pytest.raises(RestyleError, match="unknown download format 'JPEG': choose from PNG, PNG, 16 bits, TIFF"):
        collect(art_job(content, [style], [1], download="JPEG", stop=threading.Event(), folder=tmp_path))
    with pytest.raises(RestyleError, match="unknown download format"):
        collect(photo_job(content, style, None, None, download="JPEG", stop=threading.Event(), folder=tmp_path))
    assert not list(tmp_path.iterdir())


def test_art_job_passes_its_options_and_leaves_the_rest_to_stylize(tmp_path, images):
    from restyle.artistic import stylize

    content, style = images
    options = {"size": 32, "iterations": 2, "stop": threading.Event(), "folder": tmp_path}
    chosen = read_metadata(
        collect(art_job(content, [style], [1], style_scale=0.5, style_weight=1e3, **options))[-1].file
    )
    assert chosen["style_scale"] == 0.5 and chosen["style_weight"] == 1e3 and chosen["iterations"] == 2
    left = read_metadata(collect(art_job(content, [style], [1], **options))[-1].file)
    defaults = inspect.signature(stylize).parameters
    assert left["style_scale"] == defaults["style_scale"].default
    assert left["style_weight"] == defaults["style_weight"].default


def test_art_job_needs_a_style(tmp_path, images):
    with pytest.raises(RestyleError, match="at least one style"):
        collect(art_job(images[0], [None, None, None], [1, 1, 1], stop=threading.Event(), folder=tmp_path))


def test_auto_mask_layers_feed_back_as_masks(images):
    from restyle.automask import auto_masks
    from restyle.image import load_image

    content, style = images
    c_edit, s_edit, info, _ = auto_mask_layers(content, style, size=64)  # the images' own sizes
    assert "content region" in info
    assert c_edit["background"].shape == content.shape
    # each layer the editor's canvas square, the mask at its top-left: so the editor shows it on
    # the photo (it centres a layer in its canvas), and a stroke painted later lands where drawn
    layer = c_edit["layers"][0]
    assert layer.shape == (EDITOR_CANVAS, EDITOR_CANVAS, 4)
    assert (layer[:48, :64, 3] == MASK_LAYER_ALPHA).all() and not layer[48:, :, 3].any() and not layer[:, 64:, 3].any()
    found = auto_masks(load_image(content), load_image(style))  # deterministic: the same masks
    palette = (np.array(list(DPST_COLORS.values())) * 255).astype(np.uint8)
    expected = palette[np.asarray(found.assignment)[found.content.labels]]
    assert np.array_equal(layer[:48, :64, :3], expected)
    # untouched, the editor sends the layers back as they came: cut to the photo
    assert np.array_equal(editor_mask(c_edit, content.shape[:2]), expected)
    assert np.array_equal(editor_mask(s_edit, style.shape[:2]), palette[found.style.labels])
    # edited, it sends them at the photo's size, as shown
    shown = {"background": c_edit["background"], "layers": [layer[:48, :64]]}
    assert np.array_equal(editor_mask(shown, content.shape[:2]), expected)
    with pytest.raises(RestyleError, match=f"masks are shown at most {EDITOR_CANVAS} px on a side"):
        auto_mask_layers(content, style, size=EDITOR_CANVAS + 16)


def test_auto_mask_layers_take_a_number_of_substyles(images):
    content, style = images
    for count in (1, 3):
        _, s_edit, _, found = auto_mask_layers(content, style, substyles=count, size=64)
        assert found.style.count == count
        assert len(np.unique(editor_mask(s_edit, style.shape[:2]).reshape(-1, 3), axis=0)) == count
    with pytest.raises(RestyleError, match="--substyles must be at least 1"):
        auto_mask_layers(content, style, substyles=0, size=64)


def test_brush_radius_is_a_sixteenth_of_the_short_side_across():
    assert [brush_radius(512, 384), brush_radius(384, 512), brush_radius(64, 48)] == [12, 12, 2]
    assert brush_radius(8, 8) == 1 and brush_radius(1, 1) == 1  # the editor's smallest
    assert brush_radius(4032, 3024) == 94 and brush_radius(8000, 6000) == 100  # its largest
    with pytest.raises(ValueError, match="at least one pixel on a side, not 0 x 5"):
        brush_radius(0, 5)


def test_mask_editors_get_a_brush_fitted_to_the_image_they_show(tmp_path, monkeypatch, images):
    """Gradio's brush is 50 pixels across on any image: 78% of a 64-px photo's width, 1.7% of a
    3000-px one's (measured in the browser). An upload, or the Auto-masks button, gives the
    editor a brush a sixteenth of the image's short side across, in the masks' colours."""
    from restyle.web import _editor_for_upload, build_app

    monkeypatch.setenv("GRADIO_TEMP_DIR", str(tmp_path / "gradio"))  # where Gradio copies values
    content, style = tmp_path / "content.png", tmp_path / "style.png"
    Image.fromarray(np.zeros((2000, 3000, 3), np.uint8)).save(content)
    Image.fromarray(images[1]).save(style)
    app = build_app(folder=tmp_path)
    built = next(b for b in app.blocks.values() if getattr(b, "elem_id", None) == "photo-cmask").brush
    assert built.default_size == "auto" and built.color_mode == "fixed"
    editor = _editor_for_upload(_upload(content), max_pixels=10**7)
    assert editor.constructor_args["value"] == str(content)
    assert editor.brush.default_size == 62 and editor.brush.colors == built.colors
    # an upload cleared, or one restyle cannot read (taken out of its field by viewable_upload):
    # the editor follows, its brush as it was
    (tmp_path / "junk.png").write_bytes(b"not an image")
    for upload in (None, _upload(tmp_path / "junk.png")):
        assert set(_editor_for_upload(upload, max_pixels=10**7).constructor_args) == {"value"}
    # the Auto-masks button: fitted to the images it shows (the content at the Photo tab's size;
    # the 64-px style is not enlarged), not to the uploads
    auto = next(f.fn for f in app.fns.values() if f.name == "auto")
    c_edit, s_edit, *_ = auto(str(content), str(style), "auto", 256)
    assert c_edit.constructor_args["value"]["background"].shape[:2] == (171, 256) and c_edit.brush.default_size == 5
    assert s_edit.constructor_args["value"]["background"].shape[:2] == (64, 64) and s_edit.brush.default_size == 2


def test_photo_job_runs_unedited_auto_masks_as_automatic_and_edited_ones_as_painted(tmp_path, images):
    content, style = images
    c_edit, s_edit, _, found = auto_mask_layers(content, style, size=48)
    assert found.masks.names  # what the button found, kept for the run
    assert c_edit["background"].shape == (36, 48, 3)  # found and shown at the run's size

    def run(c_layers):
        job = photo_job(
            content,
            style,
            c_layers,
            s_edit,
            preset="fast",
            size=48,
            auto=found,
            stop=threading.Event(),
            folder=tmp_path,
        )
        return read_metadata(collect(job)[-1].file)

    meta = run(c_edit)
    assert meta["auto_masks"] is True and meta["global_style_used"] == AUTO_GLOBAL_STYLE
    assert meta["auto_masks_matching"]["content_regions"] and not list(tmp_path.glob("content_mask-*"))
    # one corner repainted in another used sub-style's colour: now painted masks
    edited = c_edit["layers"][0].copy()
    corner = tuple(edited[0, 0, :3])
    used = [(np.array(DPST_COLORS[name]) * 255).astype(np.uint8) for name in found.masks.names]
    other = next(colour for colour in used if tuple(colour) != corner)
    edited[:8, :8, :3] = other
    meta = run({**c_edit, "layers": [edited]})
    assert meta["auto_masks"] is False and meta["global_style_used"] == 0.0
    assert sorted(meta["mask_labels"]) == sorted(found.masks.names)
    assert list(tmp_path.glob("content_mask-*"))


def test_unedited_auto_masks_give_the_clis_auto_masks_result(tmp_path, images):
    """The Auto-masks button finds the masks at the Photo tab's size from the files as the job
    reads them, so a run with them unedited is ``restyle photo --auto-masks``, whatever the
    upload's own size."""
    from restyle.photo import stylize_photo

    content, style = tmp_path / "content.png", tmp_path / "style.png"
    Image.fromarray(smooth_image(300, 400)).save(content)
    Image.fromarray(stripes_image(200, 200)).save(style)
    c_edit, s_edit, _, found = auto_mask_layers(str(content), str(style), size=64)
    assert c_edit["background"].shape == (48, 64, 3) and s_edit["background"].shape == (64, 64, 3)
    options = {"preset": "fast", "size": 64}
    job = photo_job(str(content), str(style), c_edit, s_edit, **options, auto=found, download="PNG, 16 bits",
                    stop=threading.Event(), folder=tmp_path)  # fmt: skip
    final = collect(job)[-1]
    assert read_metadata(final.file)["auto_masks"] is True
    cli = stylize_photo(content, style, **options, auto_masks=True).image
    assert torch.allclose(load_image(final.file), cli, atol=0.5 / 65535, rtol=0)


def test_masks_count_as_unedited_up_to_blended_borders():
    from restyle.web import EDGE_TOLERANCE, _same_away_from_borders

    blue, green, lightblue = (0, 0, 255), (0, 255, 0), (0, 255, 255)
    expected = np.zeros((20, 30, 3), np.uint8)
    expected[:, :15], expected[:, 15:] = blue, green
    painted = expected.copy()
    painted[:, 15 - EDGE_TOLERANCE : 15 + EDGE_TOLERANCE] = lightblue  # the editor's blended edge
    assert _same_away_from_borders(expected, painted)
    painted[10, 15 + EDGE_TOLERANCE] = lightblue  # one pixel further out: an edit
    assert not _same_away_from_borders(expected, painted)
    assert not _same_away_from_borders(expected, expected[:, :29])


def _test_clip(path, *options, seconds=0.5):
    """ffmpeg's test pattern as a 64x48 clip at 8 frames a second, with ``options`` for its output."""
    import imageio_ffmpeg

    source = f"testsrc2=size=64x48:rate=8:duration={seconds}"
    command = [imageio_ffmpeg.get_ffmpeg_exe(), "-y", "-loglevel", "error", "-f", "lavfi", "-i", source]
    subprocess.run([*command, *options, str(path)], check=True)
    return path


def test_video_job_yields_frames_then_the_file(tmp_path, images, monkeypatch):
    from restyle.clip import probe

    monkeypatch.setattr("restyle.web.PREVIEW_SECONDS", 0.0)
    clip = _test_clip(tmp_path / "clip.mp4", "-pix_fmt", "yuv420p")
    updates = collect(video_job(str(clip), images[1], size=48, stop=threading.Event(), folder=tmp_path))
    assert updates[0] == Update(None, "reading the clip")  # not the last run's status
    # the source frames as they are read, then the stylised ones
    assert [u.status for u in updates[1:5]] == [f"reading frame {i} of about {4 if i < 4 else 5}" for i in (1, 2, 3, 4)]
    assert updates[1].image.shape == (36, 48, 3) and updates[1].fraction == 0.25
    assert updates[5].status == "stylising the first frame in full"
    assert "frame 1/4" in updates[6].status
    assert updates[-1].file.endswith(".mp4") and Path(updates[-1].file).exists()
    # the last frame stays on screen with the result, not cleared: the video's own last frame
    assert updates[-1].image is not None and updates[-1].image.shape == (36, 48, 3)
    assert np.array_equal(updates[-1].image, updates[-2].image)  # every frame previewed here: the 4th
    options = {"size": 32, "full_resolution": True, "stop": threading.Event(), "folder": tmp_path}
    full = collect(video_job(str(clip), images[1], **options, max_pixels=10**8))[-1].file
    assert probe(full).size == (64, 48)  # worked at 32 px, delivered at the clip's own size
    assert read_metadata(full)["max_pixels"] == 10**8  # the server's --max-pixels, as its image jobs take it
    gif = collect(video_job(str(clip), images[1], **{**options, "download": "GIF (loops, no sound)"}))[-1].file
    assert gif.endswith(".gif") and probe(gif).size == (64, 48) and read_metadata(gif)["size"] == 32
    # marked as the web's: its command line has places for the files, not the temporary uploads
    from restyle.cli import result_command

    words, notes = result_command(read_metadata(gif), Path(gif))
    assert words[:4] == ["restyle", "video", "VIDEO", "STYLE"] and "--full-resolution" in words
    assert notes == ["made in the web UI: put your files in place of VIDEO and STYLE"]
    with pytest.raises(RestyleError, match="upload a clip or an animated GIF first"):
        collect(video_job(None, images[1], stop=threading.Event(), folder=tmp_path))


def test_the_video_tab_takes_a_clip_or_an_animated_gif_but_not_both(tmp_path, images):
    from restyle.clip import probe
    from restyle.web import clip_upload

    gif = str(animated_gif(tmp_path / "loop.gif", duration=100, loop=0))
    assert clip_upload("clip.mp4", None) == "clip.mp4" and clip_upload(None, gif) == gif
    assert clip_upload(None, None) is None
    with pytest.raises(RestyleError, match="both a clip and a GIF are uploaded: remove the one not meant"):
        clip_upload("clip.mp4", gif)
    options = {"size": 32, "stop": threading.Event(), "folder": tmp_path, "download": "GIF (loops, no sound)"}
    made = collect(video_job(gif, images[1], **options))[-1].file
    assert probe(made).frames == 4 and probe(made).fps == 10


def test_a_jobs_warnings_reach_that_job_only(monkeypatch):
    import warnings

    def work(callback):
        warnings.warn("for this job", RestyleWarning, stacklevel=1)
        warnings.warn("not ours: another category", UserWarning, stacklevel=1)
        other = threading.Thread(target=lambda: warnings.warn("another thread's", RestyleWarning, stacklevel=1))
        other.start()
        other.join()
        callback("step")
        return "result"

    for _ in range(2):  # the same warning again in the next job: every job shows its own
        with warnings.catch_warnings(record=True):
            events = list(_run(work, threading.Event()))
        assert events == [("warning", "for this job"), ("iterate", "step"), ("done", "result")]


def test_jobs_run_one_after_another_in_one_worker_thread():
    """One thread for all the network work: one OpenMP team and one malloc arena (see _Worker)."""
    from restyle.web import _WORKER

    threads = []

    def work(callback):
        threads.append(threading.get_ident())
        callback("step")
        return len(threads)

    assert list(_run(work, threading.Event()))[-1] == ("done", 1)
    assert list(_run(work, threading.Event()))[-1] == ("done", 2)
    assert _WORKER.call(threading.get_ident) == threads[0] == threads[1] != threading.get_ident()
    with pytest.raises(RestyleError, match="handed back"):
        _WORKER.call(lambda: (_ for _ in ()).throw(RestyleError("handed back")))


def test_a_job_whose_page_went_away_stops_at_its_next_step():
    ended = threading.Event()

    def work(callback):
        try:
            for step in range(1000):
                callback(step)
                time.sleep(0.01)
            return "finished"
        finally:
            ended.set()

    job = _run(work, threading.Event())
    assert next(job) == ("iterate", 0)
    job.close()  # Gradio closes the stream of a page that is gone
    assert ended.wait(10)
    assert list(_run(lambda callback: "next", threading.Event())) == [("done", "next")]  # not kept waiting


def test_warnings_go_with_the_jobs_updates(tmp_path, images, monkeypatch):
    import warnings

    import restyle.photo

    real = restyle.photo.stylize_photo

    def warning_first(*args, **kwargs):
        warnings.warn("the style image is small", RestyleWarning, stacklevel=1)
        return real(*args, **kwargs)

    monkeypatch.setattr(restyle.photo, "stylize_photo", warning_first)
    with warnings.catch_warnings(record=True):
        updates = collect(
            photo_job(*images, None, None, preset="fast", size=48, stop=threading.Event(), folder=tmp_path)
        )
    assert [note for u in updates for note in u.notes] == ["the style image is small"]
    assert updates[-1].file is not None


def test_video_job_shows_that_an_hdr_clip_is_converted(tmp_path, images):
    import warnings

    tags = "format=yuv420p10le,setparams=color_primaries=bt2020:color_trc=arib-std-b67:colorspace=bt2020nc"
    clip = _test_clip(tmp_path / "hlg.mp4", "-vf", tags, "-c:v", "libx264", seconds=0.25)
    with warnings.catch_warnings(record=True):
        updates = collect(video_job(str(clip), images[1], size=32, stop=threading.Event(), folder=tmp_path))
    notes = [note for u in updates for note in u.notes]
    assert len(notes) == 1 and notes[0].startswith("hlg.mp4: an HDR clip (HLG)")  # the upload's name, not its path


def _upload(path: Path, name: str | None = None) -> dict:
    """An upload as Gradio hands it to an event that does not preprocess: its file description."""
    return {"path": str(path), "orig_name": name or path.name, "meta": {"_type": "gradio.FileData"}}


def test_a_heic_upload_is_shown_as_the_srgb_image_restyle_reads(tmp_path):
    pillow_heif = pytest.importorskip("pillow_heif", reason="the heif extra is not installed")
    pillow_heif.register_heif_opener()
    rgb = smooth_image(24, 32)
    exif = Image.Exif()
    exif[0x010F] = "Apple"
    Image.fromarray(rgb).save(tmp_path / "photo.heic", quality=-1, chroma=444, color_primaries=12, exif=exif)
    Image.fromarray(rgb).save(tmp_path / "photo.png")
    shown = viewable_upload(_upload(tmp_path / "photo.heic"), folder=tmp_path)
    with Image.open(shown) as img:  # a PNG that browsers show, with the photo's camera
        assert img.format == "PNG" and img.getexif()[0x010F] == "Apple"
        assert np.array_equal(np.asarray(img.convert("RGB")), np.asarray(to_pil(load_image(tmp_path / "photo.heic"))))
        assert camera_exif(img) is not None  # what the jobs read from the field, for the download
    assert viewable_upload(_upload(tmp_path / "photo.png"), folder=tmp_path) == gradio.skip()  # browsers show it
    assert viewable_upload(None, folder=tmp_path) == gradio.skip()


def test_a_tiff_upload_is_shown_as_a_png(tmp_path):
    """Browsers other than Safari cannot show TIFF; a 16-bit one is shown, and used, at 16 bits."""
    import tifffile

    deep = (np.random.default_rng(0).random((20, 30, 3)) * 65535).astype(np.uint16)
    tifffile.imwrite(tmp_path / "export.tif", deep, photometric="rgb")
    shown = viewable_upload(_upload(tmp_path / "export.tif"), folder=tmp_path)
    with Image.open(shown) as img:
        assert img.format == "PNG" and img.size == (30, 20)
    assert torch.equal(load_image(shown), load_image(tmp_path / "export.tif"))  # all 16 bits
    tifffile.imwrite(tmp_path / "eight.tif", (deep >> 8).astype(np.uint8), photometric="rgb")
    shown = viewable_upload(_upload(tmp_path / "eight.tif"), folder=tmp_path)
    with Image.open(shown) as img:  # an 8-bit TIFF as an 8-bit PNG
        assert img.mode == "RGB" and np.array_equal(np.asarray(img), deep >> 8)
    with pytest.warns(UserWarning) as warned:  # the server's --max-pixels holds here too: the field is emptied
        assert viewable_upload(_upload(tmp_path / "export.tif"), folder=tmp_path, max_pixels=500) is None
    assert str(warned[0].message).startswith("export.tif: 30x20 (600 pixels) is over the --max-pixels limit of 500")


def test_an_upload_named_near_the_systems_limit_is_shown(tmp_path):
    """Its PNG was named after it and 13 bytes more: over 255 bytes, refused, and the upload
    taken out of the field."""
    import tifffile

    upload = tmp_path / ("t" * 250 + ".tif")
    tifffile.imwrite(upload, np.zeros((20, 30, 3), np.uint8), photometric="rgb")
    shown = Path(viewable_upload(_upload(upload), folder=tmp_path))
    assert shown.parent == tmp_path and shown.name.startswith("t" * 200) and len(shown.name.encode()) <= 255
    assert load_image(shown).shape == (1, 3, 20, 30)


def test_a_raw_upload_is_developed_not_shown_as_its_preview(tmp_path):
    pytest.importorskip("rawpy", reason="the raw extra is not installed")
    from .test_raw import scene, write_dng

    dng = write_dng(tmp_path / "IMG_0001.DNG", scene(), preview=True)  # a 24x16 preview first
    with Image.open(viewable_upload(_upload(dng), folder=tmp_path)) as img:
        assert img.size == (96, 64) and img.getexif()[0x010F] == "Restyle"  # the writer's camera
    assert torch.equal(load_image(viewable_upload(_upload(dng), folder=tmp_path)), load_image(dng))  # 16 bits
    (tmp_path / "junk.cr3").write_bytes(b"not a raw file")
    with pytest.warns(UserWarning) as warned:
        assert viewable_upload(_upload(tmp_path / "junk.cr3"), folder=tmp_path) is None  # taken out of the field
    assert str(warned[0].message) == "junk.cr3: not a RAW file LibRaw can read (Input/output error)"  # not its path


def test_an_upload_restyle_cannot_read_is_taken_out_with_a_warning(tmp_path):
    """Left in the field, Gradio would fail on it at every run, with a traceback on the server."""
    (tmp_path / "junk.png").write_bytes(os.urandom(5000))
    with pytest.warns(UserWarning) as warned:
        assert viewable_upload(_upload(tmp_path / "junk.png"), folder=tmp_path) is None
    assert [str(w.message) for w in warned] == ["junk.png: not an image, or a format restyle cannot read"]
    Image.new("RGB", (40, 30)).save(tmp_path / "fine.jpg")
    assert viewable_upload(_upload(tmp_path / "fine.jpg"), folder=tmp_path) == gradio.skip()
    with pytest.warns(UserWarning) as warned:  # over the server's --max-pixels: no job would read it
        assert viewable_upload(_upload(tmp_path / "fine.jpg"), folder=tmp_path, max_pixels=1199) is None
    assert str(warned[0].message) == (  # as the CLI, and a TIFF upload (above), word it
        "fine.jpg: 40x30 (1200 pixels) is over the --max-pixels limit of 1199 pixels; "
        "pass a larger --max-pixels if you trust this file"
    )
    assert viewable_upload(_upload(tmp_path / "fine.jpg"), folder=tmp_path, max_pixels=1200) == gradio.skip()


def test_one_job_runs_at_a_time_whichever_tab_it_comes_from(tmp_path):
    from restyle.web import JOBS, build_app

    app = build_app(folder=tmp_path)
    queued = {f.concurrency_id for f in app.fns.values() if f.queue and f.concurrency_limit is not None}
    jobs = [f for f in app.fns.values() if f.concurrency_id == JOBS]
    assert queued == {JOBS} and len(jobs) == 4  # photo, art, video and the Auto-masks button
    assert app._queue.default_concurrency_limit == 1
    # uploads are queued (their warnings reach the page) but do not wait for a running job
    uploads = [f for f in app.fns.values() if any(t[1] == "upload" for t in f.targets)]
    assert uploads and all(f.queue and f.concurrency_limit is None for f in uploads)


def test_a_running_job_is_shown_without_gradios_full_animation(tmp_path):
    """Its pulsing borders kept the browser drawing: on 2 cores shared with the job, 11 s of CPU
    in a 43-s photo job. The stylise jobs show the runtime display and queue place only; the
    Auto-masks button, with no Progress box of its own, keeps the full animation."""
    from restyle.web import JOB_PROGRESS, JOBS, build_app

    app = build_app(folder=tmp_path)
    jobs = sorted((f.name, f.show_progress) for f in app.fns.values() if f.concurrency_id == JOBS)
    assert JOB_PROGRESS == "minimal" and jobs == [
        ("art", "minimal"),
        ("auto", "full"),
        ("photo", "minimal"),
        ("video", "minimal"),
    ]
    assert {f.api_name for f in app.fns.values() if f.concurrency_id == JOBS} == {"art", "auto", "photo", "video"}


def test_the_status_line_gives_the_time_left_from_the_work_done():
    from restyle.optim import Iterate
    from restyle.web import _eta

    at = functools.partial(Iterate, 0, (171, 256), 40, {}, scales=2, step=40, steps=60, total_work=30.0)
    assert _eta(at(6.0, work=10.0)) == ", about 12 s left"  # counting iterations said 3 s
    assert _eta(at(0.0, work=0.0)) == ""


def test_update_defaults():
    assert Update().file is None


# ---------------------------------------------------------------- browser


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"


@pytest.mark.parametrize(
    ("error", "shown"),
    [
        (RuntimeError("DefaultCPUAllocator: can't allocate memory"), "out of memory; try a smaller size"),
        (MemoryError(), "out of memory; try a smaller size"),
        (RestyleError("style: no such file"), "style: no such file"),
        (ValueError("a bug"), "internal error: ValueError: a bug"),
    ],
)
def test_job_errors_are_one_line(capsys, error, shown):
    def work(callback):
        callback("an iterate")
        raise error

    assert list(_run(work, threading.Event())) == [("iterate", "an iterate"), ("error", shown)]
    assert ("Traceback" in capsys.readouterr().err) == isinstance(error, ValueError)  # only bugs are logged


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--port", "99999"], "--port must be between 1 and 65535, not 99999"),
        (["--port", "0"], "--port must be between 1 and 65535"),
        (["--max-upload-mb", "0"], "--max-upload-mb must be at least 1"),
        (["--port", "in use"], "cannot start the server on 127.0.0.1:{port}: the port is in use; give another --port"),
        # an address of another machine (TEST-NET-1): Gradio called it a port in use
        (
            ["--host", "192.0.2.1"],
            "cannot start the server on 192.0.2.1:7860: 192.0.2.1 is not an address of this machine",
        ),
    ],
)
def test_serve_errors_are_one_line(capsys, tmp_path, monkeypatch, argv, message):
    import tempfile

    from restyle.cli import main

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))  # where the server would keep uploads

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        argv = [str(port) if a == "in use" else a for a in argv]
        code = main(["serve", *argv])
    err = capsys.readouterr().err
    assert code != 0 and message.format(port=port) in err and len(err.strip().splitlines()) == 1, err
    assert list(tmp_path.iterdir()) == []  # no empty upload folder left in /tmp


def test_serve_refuses_a_pixel_limit_under_one_before_it_starts(tmp_path, monkeypatch):
    """The server started with ``--max-pixels 0`` and refused every upload as over it. (Not
    blocking, so that the test ends if it starts.)"""
    import tempfile

    from restyle import web

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    try:
        with pytest.raises(RestyleError, match=r"^--max-pixels must be at least 1, not 0$"):
            app = web.serve(port=_free_port(), max_pixels=0, block=False)
    finally:
        if "app" in locals():
            app.close()
    assert list(tmp_path.iterdir()) == []


def test_serve_on_an_unknown_name_is_one_line(capsys, monkeypatch):
    """Gradio called this a port in use too. (The name lookup is stubbed: no DNS in a test.)"""
    from restyle.cli import main

    def unknown(*args, **kwargs):
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    monkeypatch.setattr(socket, "getaddrinfo", unknown)
    assert main(["serve", "--host", "photos.example"]) == 1
    assert (
        capsys.readouterr().err
        == "restyle: error: --host photos.example: not an address, nor a name this machine knows\n"
    )


def test_serve_on_a_port_without_rights_is_one_line(capsys, monkeypatch):
    """A port under 1024 for a user who is not root (root here: the bind is stubbed)."""
    import errno

    from restyle.cli import main

    def refused(self, address):
        raise PermissionError(errno.EACCES, "Permission denied")

    monkeypatch.setattr(socket.socket, "bind", refused)
    assert main(["serve", "--port", "80"]) == 1
    assert capsys.readouterr().err == (
        "restyle: error: cannot start the server on 127.0.0.1:80: permission denied "
        "(ports under 1024 need administrator rights); give another --port\n"
    )


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "sigterm"])
def test_a_stopped_server_exits_and_deletes_its_uploads(tmp_path, sig):
    """One Ctrl-C (or a service manager's SIGTERM) stops the server; the uploads and results it
    kept, people's photos, do not stay in the temporary folder. Before, the first Ctrl-C only
    printed "stopping after this step", and the folder stayed."""
    port = _free_port()
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "TMPDIR": str(tmp_path)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "restyle", "serve", "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        env=env,
        text=True,
    )
    try:
        deadline = time.time() + 120
        while proc.poll() is None and time.time() < deadline:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                time.sleep(0.5)
        assert [p.name[:12] for p in tmp_path.iterdir()] == ["restyle-web-"]  # where it keeps uploads
        proc.send_signal(sig)
        output, _ = proc.communicate(timeout=60)
    finally:
        proc.kill()
    assert proc.returncode == 0, output
    assert "restyle: server stopped; its uploads and results are deleted" in output
    assert not list(tmp_path.iterdir())


def _python(script: str, tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    """``script`` run by Python in a process of its own, its temporary files (a server's folder)
    in ``tmp_path``."""
    env = {**os.environ, "TMPDIR": str(tmp_path), "PYTHONUNBUFFERED": "1"}
    return subprocess.run([sys.executable, "-c", script, *args], capture_output=True, text=True, timeout=180, env=env)


def test_a_started_server_imports_what_the_first_auto_masks_click_needs(tmp_path):
    """scikit-learn (for the mixtures) is imported while the page opens, not on the first click,
    and by the worker: in a thread of its own it would leave glibc an arena outside the one-arena
    policy (``web._warm_up``)."""
    script = (
        "import sys, threading, time\n"
        "from restyle import web\n"
        "ran_in = []\n"
        "warm_up = web._warm_up\n"
        "def spy():\n"
        "    ran_in.append(threading.current_thread().name)\n"
        "    warm_up()\n"
        "web._warm_up = spy\n"
        f"app = web.serve(port={_free_port()}, block=False)\n"
        "deadline = time.time() + 20\n"
        "while 'sklearn.mixture' not in sys.modules and time.time() < deadline:\n"
        "    time.sleep(0.05)\n"
        "print('sklearn.mixture' in sys.modules)\n"
        "print('ran in', *ran_in)\n"
        "app.close()\n"
    )
    done = _python(script, tmp_path)  # the folder of a server that does not block, left to its caller: there
    assert "True" in done.stdout.splitlines(), done.stdout + done.stderr
    assert "ran in restyle-work" in done.stdout.splitlines(), done.stdout + done.stderr
    before = subprocess.run(
        [sys.executable, "-c", "import sys\nfrom restyle import web\nprint('sklearn' in sys.modules)"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert before.stdout.split() == ["False"], before.stdout + before.stderr  # not imported with restyle.web


def _ipv6_loopback() -> bool:
    try:
        with socket.socket(socket.AF_INET6) as probe:
            probe.bind(("::1", 0))
    except OSError:
        return False
    return True


@pytest.mark.skipif(not _ipv6_loopback(), reason="needs IPv6 on the loopback")
def test_serve_on_an_ipv6_address_with_or_without_brackets(tmp_path):
    """``--host ::1`` failed once the server had started: Gradio wrote its own URL as
    ``http://::1:7860`` and httpx refused it (a traceback). ``[::1]``, as a URL writes it, was
    "not an address"."""
    script = (
        "import urllib.request\n"
        "from restyle import web\n"
        "for host, port in (('::1', int(sys.argv[1])), ('[::1]', int(sys.argv[2]))):\n"
        "    app = web.serve(host=host, port=port, block=False)\n"
        "    with urllib.request.urlopen(f'http://[::1]:{port}/', timeout=30) as page:\n"
        "        print('page', host, page.status)\n"
        "    app.close()\n"
    )
    done = _python("import sys\n" + script, tmp_path, str(_free_port()), str(_free_port()))
    pages = [line for line in done.stdout.splitlines() if line.startswith("page ")]  # not Gradio's own lines
    assert pages == ["page ::1 200", "page [::1] 200"], done.stdout + done.stderr


_SERVER_WITH_A_JOB = """
import os, signal, sys, threading, torch
from restyle import web

def job():  # as a job runs: PyTorch's work, step after step, until its stop flag is set
    stop, x = web.stop_flag("page"), torch.randn(1, 32, 128, 128, requires_grad=True)
    conv = torch.nn.Conv2d(32, 32, 3)
    print("job started", flush=True)
    while not stop.is_set():
        conv(x).sum().backward()
    print("job stopped", flush=True)

web._WORKER.submit(job)
threading.Timer(8, lambda: os.kill(os.getpid(), signal.SIGINT)).start()  # Ctrl-C mid-job
web.serve(port=int(sys.argv[1]))
"""


_SERVER_WITH_A_LONG_STEP = """
import os, signal, sys, threading, time, torch
from restyle import cli, web

def job():  # one step longer than anyone waits: its stop flag is not looked at
    x, conv, end = torch.randn(1, 32, 128, 128, requires_grad=True), torch.nn.Conv2d(32, 32, 3), time.time() + 120
    while time.time() < end:
        conv(x).sum().backward()

web._WORKER.submit(job)
for at in (8, 11):  # Ctrl-C, then Ctrl-C again while the job does not stop
    threading.Timer(at, lambda: os.kill(os.getpid(), signal.SIGINT)).start()
sys.exit(cli.main(["serve", "--port", sys.argv[1]]))
"""


def test_ctrl_c_again_quits_a_server_whose_job_does_not_stop(tmp_path):
    started = time.time()
    done = _python(_SERVER_WITH_A_LONG_STEP, tmp_path, str(_free_port()))
    assert done.returncode == 130 and time.time() - started < 60, done.stdout + done.stderr
    assert "Ctrl-C again to quit now" in done.stderr and "terminate called" not in done.stderr, done.stderr
    assert not list(tmp_path.glob("restyle-web-*"))  # its folder deleted all the same


def test_a_server_stopped_mid_job_stops_the_job_and_exits_cleanly(tmp_path):
    """Its job's thread, inside PyTorch at the interpreter's exit, aborted the process: "terminate
    called without an active exception", exit status 134 (-6 here)."""
    done = _python(_SERVER_WITH_A_JOB, tmp_path, str(_free_port()))
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.count("job started") == 1 and "job stopped" in done.stdout, done.stdout
    assert "stopping the running job at its next step" in done.stderr, done.stderr
    assert "terminate called" not in done.stderr, done.stderr
    assert not list(tmp_path.glob("restyle-web-*"))  # its folder deleted


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    port = _free_port()
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    log = tmp_path_factory.mktemp("server") / "log.txt"
    with open(log, "w") as handle:
        proc = subprocess.Popen(
            [sys.executable, "-m", "restyle", "serve", "--port", str(port), "--max-upload-mb", "1"],
            stdout=handle,
            stderr=subprocess.STDOUT,
            env=env,
        )
    deadline = time.time() + 120
    while time.time() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            break
        except OSError:
            if proc.poll() is not None:
                pytest.fail(f"server exited: {log.read_text()}")
            time.sleep(0.5)
    else:
        proc.kill()
        pytest.fail(f"server did not start: {log.read_text()}")
    yield f"http://127.0.0.1:{port}"
    proc.terminate()
    proc.wait(timeout=30)


def _run_again_and_download(page, path: Path) -> dict:
    """Click the Photo tab's Stylise again, wait for a new result file, save it to ``path`` and
    return its metadata."""
    before = page.locator("#photo-file a").first.get_attribute("href")
    page.locator("#photo-run").click()
    deadline = time.time() + 240
    while time.time() < deadline:  # a new result file, once the run is done
        done = page.locator("#photo-status textarea").input_value().startswith("done")
        links = page.locator("#photo-file a")
        if done and links.count() and links.first.get_attribute("href") != before:
            break
        time.sleep(0.1)
    with page.expect_download() as info:
        page.locator("#photo-file a").first.click()
    info.value.save_as(path)
    return read_metadata(path)


@pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian's chromium is not installed (make test installs it)")
def test_browser_photo_transfer_end_to_end(server, tmp_path):
    from playwright.sync_api import sync_playwright

    content, style = tmp_path / "content.jpg", tmp_path / "style.png"
    turned = Image.Exif()
    turned[0x0112] = 6  # a phone photo: stored on its side, shown turned a quarter clockwise
    Image.fromarray(np.ascontiguousarray(np.rot90(smooth_image(48, 64)))).save(content, quality=95, exif=turned)
    Image.fromarray(stripes_image(64, 64)).save(style)
    big, junk = tmp_path / "big.png", tmp_path / "junk.png"
    big.write_bytes(os.urandom(1_200_000))  # over the 1 MB limit the server was started with
    junk.write_bytes(os.urandom(5000))
    hosts = set()
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=CHROMIUM,
            headless=True,
            args=["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync"],
        )  # fmt: skip
        page = browser.new_page(accept_downloads=True)
        page.on("request", lambda r: hosts.add(r.url.split("/")[2] if "://" in r.url else r.url[:5]))
        page.goto(server)
        # a file that is no image: a warning on the page, and the field left empty
        page.locator("#photo-content input[type=file]").set_input_files(str(junk))
        page.get_by_text("junk.png: not an image", exact=False).first.wait_for(timeout=30_000)
        deadline = time.time() + 10
        while page.locator("#photo-content img").count() and time.time() < deadline:
            time.sleep(0.1)
        assert page.locator("#photo-content img").count() == 0
        page.locator("#photo-content input[type=file]").set_input_files(str(content))
        page.locator("#photo-style input[type=file]").set_input_files(str(style))
        page.locator("#photo-size input[type=number]").fill("64")
        page.locator("#photo-size input[type=number]").press("Enter")
        page.locator("#photo-content img").wait_for(timeout=30_000)
        page.locator("#photo-style img").wait_for(timeout=30_000)
        page.locator("#photo-run").click()
        saw_intermediate = False
        deadline = time.time() + 240
        while time.time() < deadline:
            status = page.locator("#photo-status textarea").input_value()
            if "iteration" in status and page.locator("#photo-result img").count() > 0:
                saw_intermediate = True
            if status.startswith("done"):
                break
            time.sleep(0.1)
        assert saw_intermediate, "no intermediate image was shown"
        assert status.startswith("done"), status
        link = page.locator("#photo-file a").first
        link.wait_for(timeout=30_000)
        with page.expect_download() as info:
            link.click()
        path = tmp_path / "result.png"
        info.value.save_as(path)
        meta = read_metadata(path)
        assert meta["restyle_web"] == "photo" and meta["size"] == 64
        with Image.open(path) as img:
            assert img.size == (64, 48)
            # the page shows the result itself, not a lossy copy of it
            shown = page.request.get(page.locator("#photo-result img").first.get_attribute("src")).body()
            assert np.array_equal(np.asarray(Image.open(io.BytesIO(shown)).convert("RGB")), np.asarray(img))
        # automatic masks: found by the button, shown, and used as automatic masks when unedited
        page.get_by_text("Masks (optional)", exact=False).first.click()  # open the accordion
        page.locator("#photo-auto").click()
        page.get_by_text("content region", exact=False).first.wait_for(timeout=60_000)
        assert _run_again_and_download(page, path)["auto_masks"] is True
        # a stroke painted over the automatic masks: the masks stay where the page shows them (the
        # editor centred a layer it was sent in its canvas, so an edit sent back the masks shifted
        # off the photo, with only the stroke left on it)
        page.locator("#photo-cmask canvas").first.scroll_into_view_if_needed()
        box = page.locator("#photo-cmask canvas").first.bounding_box()
        x = box["x"] + box["width"] / 2
        page.mouse.move(x, box["y"] + 0.1 * box["height"])  # down through both regions, in blue
        page.mouse.down()
        page.mouse.move(x, box["y"] + 0.9 * box["height"], steps=8)
        page.mouse.up()
        meta = _run_again_and_download(page, path)
        # the stroke is blue; green and black are the automatic masks', kept (before: lost), and
        # in their colours (sent back as WebP, a green came back nearly black, and some pixels grey)
        assert meta["auto_masks"] is False and meta["mask_labels"] == ["blue", "green", "black"], meta
        # an oversize upload is refused with a message
        page.locator("#photo-content input[type=file]").set_input_files(str(big))
        page.get_by_text("maximum allowed size", exact=False).first.wait_for(timeout=30_000)
        browser.close()
    assert hosts <= {"127.0.0.1:" + server.rsplit(":", 1)[1], "data:", "blob:"}, hosts


def _video_tab_with(p, server: str, field: str, source: Path, tmp_path: Path):
    """A browser and its page on the Video tab, ``source`` uploaded to ``field`` (the clip's or
    the GIF's), a striped style uploaded and shown, and the size set to 64."""
    style = tmp_path / "style.png"
    Image.fromarray(stripes_image(64, 64)).save(style)
    browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox", "--disable-gpu"])
    page = browser.new_page(accept_downloads=True)
    page.goto(server)
    page.get_by_role("tab", name="Video").click()
    page.locator(f"{field} input[type=file]").set_input_files(str(source))
    page.locator("#video-style input[type=file]").set_input_files(str(style))
    page.locator("#video-style img").wait_for(timeout=30_000)
    page.locator("#video-size input[type=number]").fill("64")
    page.locator("#video-size input[type=number]").press("Enter")
    return browser, page


def _download_video(page, folder: Path) -> Path:
    """The Video tab's result, downloaded into ``folder`` under the name the page gives it."""
    with page.expect_download() as info:
        page.locator("#video-file a").first.click()
    path = folder / info.value.suggested_filename
    info.value.save_as(path)
    return path


@pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian's chromium is not installed (make test installs it)")
def test_browser_video_stops_continues_and_downloads_ten_bits(server, tmp_path, images):
    from playwright.sync_api import sync_playwright

    from restyle.clip import probe

    clip = _test_clip(tmp_path / "clip.mp4", "-pix_fmt", "yuv420p", seconds=5)  # 40 frames
    with sync_playwright() as p:
        browser, page = _video_tab_with(p, server, "#video-clip", clip, tmp_path)
        page.locator("#video-clip video").wait_for(timeout=30_000)
        page.get_by_role("radio", name="art").check()  # slow enough to stop halfway
        page.get_by_label("MOV, 10 bits (ProRes 422 HQ)").check()
        status = page.locator("#video-status textarea")

        def wait_for(condition, seconds=240):
            deadline = time.time() + seconds
            while time.time() < deadline and not condition(status.input_value()):
                time.sleep(0.1)
            return status.input_value()

        page.locator("#video-run").click()
        running = wait_for(lambda s: re.match(r"frame ([2-9]|\d\d)/40", s) is not None or s.startswith("done"))
        assert running.startswith("frame"), running  # previews are shown at most once a second
        page.locator("#video-stop").click()
        stopped = wait_for(lambda s: s.startswith("stopped"))
        assert re.fullmatch(
            r"stopped after \d+ frames; Stylise video with the same settings continues from there", stopped
        )
        page.locator("#video-run").click()
        assert wait_for(lambda s: s.startswith("done")).startswith("done")
        path = _download_video(page, tmp_path)
        browser.close()
    assert path.suffix == ".mov" and probe(path).frames == 40 and read_metadata(path)["bit_depth"] == 10


@pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian's chromium is not installed (make test installs it)")
def test_browser_video_tab_takes_an_animated_gif(server, tmp_path):
    from playwright.sync_api import sync_playwright

    from restyle.clip import probe

    gif = animated_gif(tmp_path / "loop.gif", count=5, duration=100, loop=0)
    with sync_playwright() as p:
        browser, page = _video_tab_with(p, server, "#video-gif", gif, tmp_path)
        page.locator("#video-gif").get_by_text(".gif", exact=True).first.wait_for(timeout=30_000)
        gif_out = page.get_by_label("GIF (loops, no sound)")
        gif_out.wait_for(timeout=10_000)
        deadline = time.time() + 10
        while time.time() < deadline and not gif_out.is_checked():  # chosen by the upload
            time.sleep(0.1)
        assert gif_out.is_checked()
        status = page.locator("#video-status textarea")
        page.locator("#video-run").click()
        deadline = time.time() + 120
        while time.time() < deadline and not status.input_value().startswith("done"):
            time.sleep(0.1)
        assert status.input_value().startswith("done"), status.input_value()
        path = _download_video(page, tmp_path)
        browser.close()
    assert path.suffix == ".gif" and probe(path).frames == 5 and probe(path).fps == 10


def test_server_serves_no_file_outside_its_folder(server, tmp_path):
    import urllib.error
    import urllib.request

    secret = tmp_path / "secret.txt"
    secret.write_text("not for the web")
    for target in (str(secret), "/etc/passwd", str(Path(__file__).resolve())):
        for route in ("/gradio_api/file=", "/file="):
            try:
                with urllib.request.urlopen(server + route + target, timeout=10) as response:
                    body = response.read()
            except urllib.error.HTTPError as exc:
                assert exc.code in (403, 404), (route, target, exc.code)
                continue
            assert b"not for the web" not in body and b"root:" not in body, (route, target)


def test_server_binds_to_localhost_only(server):
    port = int(server.rsplit(":", 1)[1])
    addresses = {info[4][0] for info in socket.getaddrinfo(socket.gethostname(), None, socket.AF_INET)}
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:  # the address of the default route
        try:
            probe.connect(("10.255.255.255", 1))  # sends nothing
            addresses.add(probe.getsockname()[0])
        except OSError:
            pass
    addresses -= {"127.0.0.1", "0.0.0.0"}
    if not addresses:
        pytest.skip("this machine has no address besides 127.0.0.1 to try")
    for address in addresses:
        with pytest.raises(OSError):
            socket.create_connection((address, port), timeout=2).close()


def test_a_stopped_video_job_continues_when_run_again_with_the_same_settings(tmp_path, images, monkeypatch):
    import restyle.video

    monkeypatch.setattr("restyle.web.PREVIEW_SECONDS", 0.0)
    clip = _test_clip(tmp_path / "clip.mp4", "-pix_fmt", "yuv420p")
    real = restyle.video.stylize_video
    resumed: list[bool] = []

    def recording(*args, callback, **kwargs):
        def record(progress):
            if progress.stage == "stylise":
                resumed.append(progress.resumed)
            callback(progress)

        return real(*args, callback=record, **kwargs)

    monkeypatch.setattr(restyle.video, "stylize_video", recording)
    stop = threading.Event()
    job = video_job(str(clip), images[1], size=32, stop=stop, folder=tmp_path)
    statuses = [next(job).status for _ in range(6)]  # the clip's 4 frames read, then the count
    assert statuses[:2] == ["reading the clip", "reading frame 1 of about 4"]
    assert statuses[-1] == "stylising the first frame in full"
    next(job)  # the first frame
    next(job)  # the second
    stop.set()
    stopped = collect(job)[-1]
    assert re.fullmatch(
        r"stopped after [23] frames; Stylise video with the same settings continues from there", stopped.status
    )
    assert stopped.file is None and stopped.image is not None  # the last frame finished stays on screen
    done = len(resumed)
    resumed.clear()
    updates = collect(video_job(str(clip), images[1], size=32, stop=threading.Event(), folder=tmp_path))
    assert updates[0].status == f"continuing after {done} finished frames"
    assert resumed == [True] * done + [False] * (4 - done)
    assert updates[-1].status == "done" and Path(updates[-1].file).exists()
    again = collect(video_job(str(clip), images[1], size=32, stop=threading.Event(), folder=tmp_path))
    assert again == [Update(None, "done (made earlier with these settings)", updates[-1].file)]
    resumed.clear()
    other = collect(video_job(str(clip), images[1], size=48, stop=threading.Event(), folder=tmp_path))
    assert resumed == [False] * 4 and other[-1].file != updates[-1].file  # other settings: made afresh


def test_a_video_job_stopped_before_its_first_frame_says_so(tmp_path, images, monkeypatch):
    import restyle.video

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(restyle.video, "stylize_video", interrupted)
    clip = tmp_path / "clip.mp4"
    clip.write_bytes(b"")
    updates = collect(video_job(str(clip), images[1], stop=threading.Event(), folder=tmp_path))
    assert updates[1:] == [Update(None, "stopped before the first frame was finished")]


def test_a_video_downloads_in_the_format_chosen(tmp_path, images):
    import imageio_ffmpeg

    clip = _test_clip(tmp_path / "clip.mp4", "-pix_fmt", "yuv420p", seconds=0.25)
    job = video_job(
        str(clip), images[1], size=32, download="MOV, 10 bits (ProRes 422 HQ)", stop=threading.Event(), folder=tmp_path
    )
    final = collect(job)[-1]
    assert final.file.endswith(".mov") and read_metadata(final.file)["bit_depth"] == 10
    described = subprocess.run(
        [imageio_ffmpeg.get_ffmpeg_exe(), "-hide_banner", "-i", final.file], capture_output=True, text=True
    ).stderr
    assert "prores (HQ)" in described and "yuv422p10le" in described
    eight = collect(video_job(str(clip), images[1], size=32, stop=threading.Event(), folder=tmp_path))[-1]
    assert eight.file.endswith(".mp4") and read_metadata(eight.file)["bit_depth"] == 8  # the default
    with pytest.raises(RestyleError, match="unknown download format 'GIF': choose from MP4 \\(H.264\\), MP4, 10"):
        collect(video_job(str(clip), images[1], download="GIF", stop=threading.Event(), folder=tmp_path / "none"))


def test_previews_are_throttled_and_carry_the_warnings_raised_since_the_last(monkeypatch):
    import warnings

    from restyle.web import _previews

    def work(callback):
        warnings.warn("before the first", RestyleWarning, stacklevel=1)
        for step in range(5):
            callback(step)
            if step == 2:
                warnings.warn("/server/copy/clip.mp4: after the third", RestyleWarning, stacklevel=1)
        return "the result"

    def drain(job):
        shown = []
        while True:
            try:
                shown.append(next(job))
            except StopIteration as end:
                return shown, end.value

    def note(message):
        return message.replace("/server/copy/clip.mp4", "clip.mp4")

    monkeypatch.setattr("restyle.web.PREVIEW_SECONDS", 3600.0)
    with warnings.catch_warnings(record=True):  # shown as before too: not in pytest's summary
        shown, ended = drain(_previews(work, threading.Event(), lambda step: Update(status=f"step {step}"), note=note))
    assert shown == [Update(status="step 0", notes=("before the first",))]  # the first is shown at once
    assert ended == ("done", "the result", ("clip.mp4: after the third",))
    monkeypatch.setattr("restyle.web.PREVIEW_SECONDS", 0.0)
    with warnings.catch_warnings(record=True):
        shown, ended = drain(_previews(work, threading.Event(), lambda step: Update(status=f"step {step}")))
    assert [u.status for u in shown] == [f"step {i}" for i in range(5)]
    assert [u.notes for u in shown] == [("before the first",), (), (), ("/server/copy/clip.mp4: after the third",), ()]
    assert ended == ("done", "the result", ())


def test_notes_name_the_pages_fields_not_the_command_lines_options(tmp_path):
    import warnings

    content = tmp_path / "small.png"
    Image.fromarray(smooth_image(24, 32)).save(content)
    style = smooth_image(64, 64)[::-1].copy()
    job = photo_job(str(content), style, None, None, preset="fast", size=96, stop=threading.Event(), folder=tmp_path)
    with warnings.catch_warnings(record=True):  # shown on the server's terminal too: not here
        notes = [note for update in collect(job) for note in update.notes]
    assert notes == [
        "content is 32x24, enlarged 3.0 times to 96 px: its detail comes out soft (size 32 keeps its own size)"
    ]


@pytest.mark.parametrize(
    ("message", "shown"),
    [
        ("--style-scale must be a positive number, not 0", "style scale must be a positive number, not 0"),
        ("--substyles must be at least 1, not 0", "sub-styles must be at least 1, not 0"),
        ("clip.mp4: --frames 900 starts after the clip's end", "clip.mp4: frames 900 starts after the clip's end"),
        (
            "unknown --preset 'slow': use one of default, dpst, fast",
            "unknown preset 'slow': use one of default, dpst, fast",
        ),
        # a flag the page has no field for stays a flag; a word with hyphens is no flag
        (
            "over the --max-pixels limit; a well-known one-line fix",
            "over the --max-pixels limit; a well-known one-line fix",
        ),
    ],
)
def test_messages_name_the_page_fields_for_the_flags(message, shown):
    assert in_page_terms(message) == shown


def test_a_number_field_sent_empty_or_nan_is_a_message_naming_the_field(tmp_path, images, monkeypatch):
    """The page's sliders always send numbers; a request made by hand (the page's API) can send
    null, or NaN, for any of them. Each is a message naming the field, never an internal error."""
    import math
    from types import SimpleNamespace

    import gradio as gr

    from restyle.web import build_app, preset_sliders

    monkeypatch.setenv("GRADIO_TEMP_DIR", str(tmp_path / "gradio"))
    content, style = tmp_path / "content.png", tmp_path / "style.png"
    Image.fromarray(images[0]).save(content)
    Image.fromarray(images[1]).save(style)
    app = build_app(folder=tmp_path)
    endpoints = {f.api_name: f.fn for f in app.fns.values()}
    request = SimpleNamespace(session_hash="by-hand")
    c, s = str(content), str(style)
    sent = {  # each endpoint's inputs as the page sends them, and the fields that are numbers
        "photo": ([c, s, None, None, None, "fast", 48, False, *preset_sliders("fast"), "PNG"],
                  {6: "size", 8: "style weight", 9: "photo weight", 10: "content weight"}),
        "art": ([c, s, None, None, 1.0, 1.0, 1.0, "none", 48, 4.0, 1.0, 2, "PNG"],
                {4: "blend weight 1", 8: "size", 9: "style weight", 10: "style scale", 11: "iterations"}),
        "video": ([c, None, s, "photo", "fast", 48, False, 2, "MP4 (H.264)"], {5: "size", 7: "frames"}),
        "auto": ([c, s, "auto", 48], {3: "size"}),
    }  # fmt: skip
    for name, (inputs, fields) in sent.items():
        for index, field in fields.items():
            for bad in (None, math.nan, "twelve"):
                if bad is None and field in ("style scale", "iterations"):
                    continue  # art_job's None: stylize's default
                values = list(inputs)
                values[index] = bad
                with pytest.raises(gr.Error) as raised:
                    if name == "auto":
                        endpoints[name](*values)
                    else:
                        list(endpoints[name](request, lambda *a, **k: None, *values))
                assert raised.value.message == f"{field} must be a number, not {bad!r}", (name, field)
    assert not list(tmp_path.glob("*.png"))[2:]  # nothing made but the two uploads
