import torch

from restyle.image import load_image
from restyle.masks import MaskPair
from restyle.metrics import color_distance, photorealism_energy, structure_similarity, style_distance

from .conftest import smooth_image


def test_metrics_of_identical_images():
    img = load_image(smooth_image(40, 48))
    masks = MaskPair.whole(img.shape, img.shape)
    assert style_distance(img, img, masks) < 1e-8
    assert color_distance(img, img, masks) < 1e-8
    assert structure_similarity(img, img) > 0.9999


def test_metrics_move_the_right_way():
    content = load_image(smooth_image(40, 48, seed=0))
    other = load_image(smooth_image(40, 48, seed=5))
    masks = MaskPair.whole(content.shape, other.shape)
    assert style_distance(content, other, masks) > 0.01
    assert color_distance(content, other, masks) > color_distance(other, other, masks)
    assert structure_similarity(other, content) < 0.9


def test_photorealism_energy_zero_for_affine_recolouring():
    content = load_image(smooth_image(30, 30)).double()
    recoloured = 0.5 * content.flip(1) + 0.2  # a global affine colour map
    noisy = (recoloured + 0.05 * torch.randn_like(recoloured)).clamp(0, 1)
    assert photorealism_energy(recoloured, content) < 1e-4 * photorealism_energy(noisy, content)
