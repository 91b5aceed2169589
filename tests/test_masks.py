import warnings

import numpy as np
import pytest
import torch
from PIL import Image

from restyle.errors import RestyleError
from restyle.image import RestyleWarning
from restyle.masks import (
    DPST_COLORS,
    MaskPair,
    dpst_labels,
    label_map,
    labels_to_masks,
    masks_for_layers,
    pair_masks,
    resize_labels,
)


def two_region_mask(h, w, left, right, blur=True):
    arr = np.zeros((h, w, 3), dtype=np.float64)
    arr[:, : w // 2] = DPST_COLORS[left]
    arr[:, w // 2 :] = DPST_COLORS[right]
    if blur:  # anti-aliased border: a column of in-between colours
        arr[:, w // 2] = (np.array(DPST_COLORS[left]) + np.array(DPST_COLORS[right])) / 2
    return (arr * 255).round().astype(np.uint8)


def save(tmp_path, name, arr):
    path = tmp_path / name
    Image.fromarray(arr).save(path)
    return path


def test_dpst_colours_within_tolerance_and_antialiasing_unassigned():
    arr = two_region_mask(4, 9, "blue", "red")
    arr[0, 0] = [20, 10, 240]  # blue within 0.1
    arr[1, 0] = [40, 0, 255]  # 0.157 off in red: no match
    labels, names = dpst_labels(torch.from_numpy(arr / 255.0).permute(2, 0, 1)[None].float())
    assert names[:3] == ["blue", "green", "black"]
    assert labels[0, 0] == names.index("blue") and labels[1, 0] == -1
    assert (labels[:, 4] == -1).all()  # the blended border column
    assert (labels[:, 5:] == names.index("red")).all()


def test_general_colours_nearest_assignment(tmp_path):
    arr = np.zeros((10, 10, 3), dtype=np.uint8)
    arr[:, :5] = [12, 200, 90]
    arr[:, 5:] = [250, 130, 7]
    arr[0, 0] = [20, 190, 95]  # a rare, close colour: goes to the nearest label
    labels, names = label_map(save(tmp_path, "m.png", arr), palette="colors", min_fraction=0.05)
    assert names == ["#0cc85a", "#fa8207"]
    assert labels[0, 0] == 0 and (labels[:, 5:] == 1).all()


def test_integer_label_png(tmp_path):
    arr = np.zeros((6, 6), dtype=np.uint8)
    arr[3:] = 7
    labels, names = label_map(save(tmp_path, "l.png", arr))
    assert names == ["label 0", "label 7"] and labels[5, 5] == 1 and labels[0, 0] == 0


def test_an_integer_label_image_is_turned_upright_as_its_photo_is(tmp_path):
    arr = np.zeros((4, 6), dtype=np.uint8)  # stored on its side: label 7 along the stored top row
    arr[0] = 7
    img = Image.fromarray(arr)
    exif = img.getexif()
    exif[0x0112] = 6  # shown turned a quarter clockwise: the top row becomes the right column
    img.save(tmp_path / "turned.png", exif=exif)
    with Image.open(tmp_path / "turned.png") as opened:
        for source in (tmp_path / "turned.png", opened):
            labels, names = label_map(source)
            assert names == ["label 0", "label 7"] and labels.shape == (6, 4)
            assert (labels[:, -1] == 1).all() and (labels[:, :-1] == 0).all()


def test_an_integer_label_pil_image_that_cannot_be_decoded_is_a_one_line_error(tmp_path):
    save(tmp_path, "l.png", (np.random.default_rng(0).integers(0, 16, (64, 64)) * 10).astype(np.uint8))
    data = (tmp_path / "l.png").read_bytes()
    (tmp_path / "cut.png").write_bytes(data[: len(data) // 2])
    with pytest.raises(RestyleError, match="cut.png: image data is truncated or corrupt"):
        label_map(tmp_path / "cut.png")
    with Image.open(tmp_path / "cut.png") as cut, pytest.raises(RestyleError, match="the PIL image cannot be read"):
        label_map(cut)


def test_a_sparse_label_tensor_is_read_as_its_dense_labels_and_a_meta_one_is_refused():
    labels = torch.zeros(4, 6, dtype=torch.long)
    labels[2:] = 3
    (from_sparse, names), (from_dense, dense_names) = label_map(labels.to_sparse()), label_map(labels)
    assert torch.equal(from_sparse, from_dense) and names == dense_names == ["label 0", "label 3"]
    with pytest.raises(RestyleError, match="^mask: a tensor on the meta device holds no pixels$"):
        label_map(torch.empty(4, 6, dtype=torch.long, device="meta"))


def test_pair_reports_and_ignores_unshared_labels(tmp_path):
    content = save(tmp_path, "c.png", two_region_mask(8, 20, "blue", "green"))
    style = save(tmp_path, "s.png", two_region_mask(8, 20, "blue", "red"))
    with pytest.warns(RestyleWarning) as caught:
        pair = pair_masks(content, style, (1, 3, 8, 20), (1, 3, 8, 20))
    assert [str(w.message) for w in caught] == [
        "the content mask's green is not in the style mask: those parts of the content take no style; "
        "the style mask's red goes unused"
    ]
    assert pair.names == ["blue"]
    assert pair.content.shape == (1, 8, 20) and pair.style.shape == (1, 8, 20)
    assert pair.content[0, :, 10:].max() == 0  # the green half is in no region: no style there


def test_labels_only_in_the_style_mask_are_ignored_without_a_warning(tmp_path):
    """A style often has a region the content lacks (DPST's pairs 3 and 10; a sub-style that
    ``restyle masks`` matched to no region): not worth a warning."""
    content = save(tmp_path, "c.png", two_region_mask(8, 20, "blue", "green"))
    style = np.concatenate([two_region_mask(8, 20, "blue", "green"), two_region_mask(8, 20, "red", "yellow")])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        pair = pair_masks(content, save(tmp_path, "s.png", style), (8, 20), (16, 20))
    assert pair.names == ["blue", "green"]
    assert pair.style[:, 8:].max() == 0  # the red and yellow half in no region


def test_several_content_only_labels_are_named_in_the_plural(tmp_path):
    content = save(
        tmp_path,
        "c.png",
        np.concatenate([two_region_mask(8, 20, "blue", "green"), two_region_mask(8, 20, "red", "red")]),
    )
    style = save(tmp_path, "s.png", two_region_mask(8, 20, "blue", "blue"))
    with pytest.warns(
        RestyleWarning,
        match=r"^the content mask's green, red are not in the style mask: those parts of the content take no style$",
    ):
        pair_masks(content, style, (16, 20), (8, 20))


def test_dpst_colours_keep_their_names_beside_a_foreign_colour(tmp_path):
    # half orange (no DPST colour), so the content mask is read as general colours; its blue
    # must still pair with the style mask's blue, and near-blue shades merge into it
    arr = two_region_mask(8, 20, "blue", "blue", blur=False)
    arr[:, 10:] = [255, 128, 0]
    arr[:, 9] = [10, 5, 245]  # another shade of DPST's blue
    content = save(tmp_path, "c.png", arr)
    labels, names = label_map(content, min_fraction=0.01)
    assert names == ["blue", "#ff8000"] and (labels[:, :10] == 0).all() and (labels[:, 10:] == 1).all()
    style = save(tmp_path, "s.png", two_region_mask(6, 6, "blue", "blue", blur=False))
    with pytest.warns(RestyleWarning, match="content mask's #ff8000 is not in the style mask"):
        pair = pair_masks(content, style, (8, 20), (6, 6))
    assert pair.names == ["blue"] and pair.content[0, :, :10].min() == 1 and pair.content[0, :, 10:].max() == 0


def test_no_shared_label_and_unknown_colour_are_errors(tmp_path):
    content = save(tmp_path, "c.png", two_region_mask(8, 8, "blue", "blue", blur=False))
    style = save(tmp_path, "s.png", two_region_mask(8, 8, "red", "red", blur=False))
    with pytest.raises(RestyleError, match="share no label"):
        pair_masks(content, style, (8, 8), (8, 8))
    odd = save(tmp_path, "odd.png", np.full((8, 8, 3), [13, 77, 201], dtype=np.uint8))
    with pytest.raises(RestyleError, match="share no label"):
        pair_masks(odd, style, (8, 8), (8, 8))


def test_masks_of_another_size_and_aspect(tmp_path):
    content = save(tmp_path, "c.png", two_region_mask(20, 20, "blue", "green", blur=False))
    style = save(tmp_path, "s.png", two_region_mask(10, 10, "blue", "green", blur=False))
    with pytest.warns(RestyleWarning, match="different aspect ratio"):
        pair = pair_masks(content, style, (1, 3, 10, 30), (1, 3, 40, 40))
    assert pair.content.shape == (2, 10, 30) and pair.style.shape == (2, 40, 40)
    assert torch.allclose(pair.content.sum(0), torch.ones(10, 30), atol=1e-5)


def test_masks_follow_the_network():
    masks = torch.zeros(2, 32, 24)
    masks[0, :, :12] = 1
    masks[1, :, 12:] = 1
    out = masks_for_layers(masks, ["relu1_1", "relu3_1", "relu5_1"])
    assert out["relu1_1"].shape == (2, 32, 24)
    assert out["relu3_1"].shape == (2, 8, 6)
    assert out["relu5_1"].shape == (2, 2, 1)
    for m in out.values():
        assert torch.allclose(m.sum(0), torch.ones_like(m[0]), atol=1e-5)  # a partition stays one
    # after a 3x3 average the border column is shared between the regions
    assert 0 < out["relu1_1"][0, 5, 12] < 1


def test_whole_mask_pair():
    pair = MaskPair.whole((1, 3, 5, 6), (1, 3, 7, 8))
    assert pair.names == ["all"] and pair.content.shape == (1, 5, 6) and pair.style.sum() == 56


def test_resize_labels_keeps_labels_and_dtype():
    labels = np.random.default_rng(0).integers(0, 5, size=(7, 9))
    up = resize_labels(labels, (21, 27))
    assert up.dtype == labels.dtype and up.shape == (21, 27)
    assert np.array_equal(up[::3, ::3], labels)  # each pixel becomes a 3x3 block of itself
    down = resize_labels(up, (7, 9))
    assert np.array_equal(down, labels)
    flags = resize_labels(labels > 2, (14, 18))
    assert flags.dtype == bool and np.array_equal(flags[::2, ::2], labels > 2)


def test_mask_colours_are_read_as_stored_whatever_their_colour_profile(tmp_path):
    from restyle.image import load_image, sample_path

    with Image.open(sample_path("rocket")) as img:
        adobe = img.info["icc_profile"]  # an Adobe RGB (1998) profile, as a mask painted in such a document has
    mask = np.zeros((8, 8, 3), dtype=np.uint8)
    mask[:4] = (100, 150, 50)
    mask[4:] = (200, 60, 90)
    Image.fromarray(mask).save(tmp_path / "tagged.png", icc_profile=adobe)
    Image.fromarray(mask).save(tmp_path / "plain.png")
    tagged = label_map(tmp_path / "tagged.png", palette="colors")
    plain = label_map(tmp_path / "plain.png", palette="colors")
    assert tagged[1] == plain[1] == ["#649632", "#c83c5a"] and torch.equal(tagged[0], plain[0])
    # a photo with that profile is converted: the same colours would no longer match
    assert (load_image(tmp_path / "tagged.png") - load_image(tmp_path / "plain.png")).abs().max() > 10 / 255


def jpeg_copy(tmp_path, name, arr, quality):
    path = tmp_path / name
    Image.fromarray(arr).save(path, quality=quality)
    return path


def test_a_photo_given_as_a_mask_is_a_clear_error(tmp_path):
    from skimage import data

    photo = save(tmp_path, "photo.png", data.astronaut())
    for palette in ("auto", "colors"):
        with pytest.raises(RestyleError, match=r"photo.png: does not look like a mask: only \d+% of its neighbouring"):
            label_map(photo, palette=palette, what="content mask")
    mask = save(tmp_path, "mask.png", two_region_mask(40, 40, "blue", "green"))
    with pytest.raises(RestyleError, match="content mask .*photo.png: does not look like a mask"):
        pair_masks(photo, mask, (40, 40), (40, 40))


@pytest.mark.parametrize("colours", [("blue", "red"), ((12, 200, 90), (250, 130, 7))])
def test_masks_saved_as_jpeg_read_as_their_png(tmp_path, colours):
    arr = np.zeros((64, 96, 3), dtype=np.uint8)
    for index, colour in enumerate(colours):
        rgb = np.array(DPST_COLORS[colour]) * 255 if isinstance(colour, str) else np.array(colour)
        arr[:, index * 48 : (index + 1) * 48] = rgb.round().astype(np.uint8)
    arr[20:40, 30:60] = arr[0, 0]  # a block of the first colour reaching into the second
    png_labels, _ = label_map(save(tmp_path, "m.png", arr))
    jpg_labels, jpg_names = label_map(jpeg_copy(tmp_path, "m.jpg", arr, quality=50))
    # JPEG shifts a colour by a level or two, so a general colour's name may change: each JPEG
    # label stands for the PNG label it overlaps most
    overlap = {j: torch.mode(png_labels[jpg_labels == j]).values.item() for j in torch.unique(jpg_labels).tolist()}
    assert (jpg_labels.clone().apply_(overlap.get) == png_labels).float().mean() > 0.95
    if isinstance(colours[0], str):  # DPST's colours keep their names (border blends aside)
        counts = torch.bincount(jpg_labels[jpg_labels >= 0].flatten(), minlength=len(jpg_names))
        big = [jpg_names[j] for j in overlap if j >= 0 and counts[j] > 0.01 * jpg_labels.numel()]
        assert sorted(big) == sorted(colours)


def test_each_pixel_takes_the_nearest_frequent_colour(tmp_path):
    rng = np.random.default_rng(3)
    palette = np.array([[200, 30, 30], [30, 200, 30], [30, 30, 200], [150, 150, 40]], dtype=np.uint8)
    arr = palette[np.repeat(np.arange(4), 16)[None].repeat(64, axis=0)]  # four flat stripes
    noisy = rng.random((64, 64)) < 0.05  # rare colours scattered over them
    arr[noisy] = rng.integers(0, 256, (int(noisy.sum()), 3), dtype=np.uint8)
    labels, names = label_map(save(tmp_path, "m.png", arr), palette="colors", min_fraction=0.05)
    order = [names.index("#{:02x}{:02x}{:02x}".format(*c)) for c in palette]
    nearest = ((arr[:, :, None, :].astype(int) - palette[None, None].astype(int)) ** 2).sum(-1).argmin(-1)
    assert torch.equal(labels, torch.tensor(order)[torch.from_numpy(nearest)])


def test_long_label_lists_are_cut_short_in_messages(tmp_path):
    def stripes(green):
        arr = np.zeros((10, 150, 3), dtype=np.uint8)
        for index in range(15):
            arr[:, index * 10 : (index + 1) * 10] = [10 * index, green, 201]
        return arr

    content, style = save(tmp_path, "c.png", stripes(77)), save(tmp_path, "s.png", stripes(177))
    with pytest.raises(
        RestyleError, match=r"share no label \(content: #004dc9, .* and 5 more; style: .* and 5 more\)$"
    ):
        pair_masks(content, style, (10, 150), (10, 150))


def test_colours_a_few_levels_apart_pair_as_dpsts_colours_do(tmp_path):
    """A mask saved as JPEG comes back with its colours shifted by a few levels; its regions
    still pair with the PNG mask's (within DPST's +-0.1), and colours further apart do not."""
    arr = np.zeros((40, 60, 3), dtype=np.uint8)
    arr[:, :30], arr[:, 30:] = [12, 200, 90], [250, 130, 7]
    shifted = arr.copy()
    shifted[:, :30], shifted[:, 30:] = [20, 190, 95], [150, 130, 7]  # 10 levels off; 100 levels off
    with pytest.warns(RestyleWarning, match="content mask's #96820[78] is not .* the style mask's #fa8207 goes unused"):
        pair = pair_masks(save(tmp_path, "c.png", shifted), save(tmp_path, "s.png", arr), (40, 60), (40, 60))
    assert pair.names == ["#0cc85a"] and pair.content[0, :, :30].min() == 1 and pair.content[0, :, 30:].max() == 0


def test_two_content_colours_near_one_style_colour_make_one_region(tmp_path):
    arr = np.zeros((40, 60, 3), dtype=np.uint8)
    arr[:, :20], arr[:, 20:40], arr[:, 40:] = [12, 200, 90], [16, 196, 94], [250, 130, 7]
    style = np.zeros((40, 60, 3), dtype=np.uint8)
    style[:, :30], style[:, 30:] = [12, 200, 90], [250, 130, 7]
    pair = pair_masks(save(tmp_path, "c.png", arr), save(tmp_path, "s.png", style), (40, 60), (40, 60))
    assert pair.names == ["#0cc85a", "#fa8207"]
    assert pair.content[0, :, :40].min() == 1 and pair.content[0, :, 40:].max() == 0


def _two_regions(path, top, bottom, *, mode="RGB", size=(8, 6)):
    """A mask of two regions, top rows ``top`` and the rest ``bottom``, saved in ``mode``."""
    rgb = np.zeros((size[1], size[0], 3), np.uint8)
    rgb[: size[1] // 2], rgb[size[1] // 2 :] = top, bottom
    image = Image.fromarray(rgb)
    (image.convert("P", palette=Image.Palette.ADAPTIVE, colors=2) if mode == "P" else image.convert(mode)).save(path)
    return path


@pytest.mark.parametrize(
    ("mode", "top", "bottom", "names"),
    [
        ("P", (0, 0, 255), (255, 0, 0), ["blue", "red"]),  # as a PNG optimiser saves a two-colour mask
        ("L", (255, 255, 255), (0, 0, 0), ["white", "black"]),  # a black-and-white sky mask
    ],
)
def test_a_few_colour_mask_pairs_by_colour_with_an_rgb_mask(tmp_path, mode, top, bottom, names):
    """A grayscale or palette mask with few values reads as integer labels, which an RGB mask of
    the same colours shares none of: paired with one, it is read by its colours."""
    content = _two_regions(tmp_path / "content_mask.png", top, bottom, mode=mode)
    style = _two_regions(tmp_path / "style_mask.png", top, bottom, size=(10, 10))
    with Image.open(content) as img:
        assert img.mode == mode and label_map(content)[1][0].startswith("label ")  # alone: integer labels
    for first, second, first_shape, second_shape in (
        (content, style, (6, 8), (10, 10)),
        (style, content, (10, 10), (6, 8)),
    ):
        pair = pair_masks(first, second, first_shape, second_shape)
        assert sorted(pair.names) == sorted(names)
        top_index = pair.names.index(names[0])
        assert pair.content[top_index, 0, 0] == 1 and pair.content[top_index, -1, 0] == 0


def test_two_label_images_still_pair_by_their_values(tmp_path):
    for name, size in (("content.png", (8, 6)), ("style.png", (10, 10))):
        labels = np.zeros((size[1], size[0]), np.uint8)
        labels[size[1] // 2 :] = 1
        Image.fromarray(labels).save(tmp_path / name)
    pair = pair_masks(tmp_path / "content.png", tmp_path / "style.png", (6, 8), (10, 10))
    assert pair.names == ["label 0", "label 1"]


def test_mask_operators_take_tensors_of_their_shapes():
    """The operators take tensors, as kornia's do; label_map and pair_masks read files."""
    with pytest.raises(TypeError, match=r"^dpst_labels: expected a tensor \(1, 3, H, W\), not str; read an image"):
        dpst_labels("mask.png")
    with pytest.raises(ValueError, match=r"^dpst_labels: expected one RGB image \(1, 3, H, W\), got \(3, 4, 4\)$"):
        dpst_labels(torch.zeros(3, 4, 4))
    with pytest.raises(TypeError, match=r"^labels_to_masks: expected a tensor \(H, W\) of labels, not ndarray$"):
        labels_to_masks(np.zeros((4, 4), dtype=int), 2)
    with pytest.raises(TypeError, match=r"^masks_for_layers: expected a tensor \(K, H, W\), not ndarray$"):
        masks_for_layers(np.ones((1, 8, 8)), ["relu1_1"])
    with pytest.raises(ValueError, match=r"^masks_for_layers: expected masks \(K, H, W\), got \(1, 1, 8, 8\)$"):
        masks_for_layers(torch.ones(1, 1, 8, 8), ["relu1_1"])


def test_label_map_refuses_an_unknown_palette_naming_the_flag():
    with pytest.raises(RestyleError) as caught:
        label_map(torch.zeros(1, 3, 4, 4), palette="rainbow")
    assert str(caught.value) == "unknown --mask-palette 'rainbow': use one of auto, dpst, colors, integer"
