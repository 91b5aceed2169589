import pytest
import torch

from restyle.image import load_image
from restyle.masks import MaskPair
from restyle.matting import MattingLaplacian
from restyle.metrics import (
    color_distance,
    photorealism_energy,
    structure_similarity,
    style_distance,
    temporal_error,
)

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


def test_metrics_take_one_rgb_tensor_per_image():
    image = torch.rand(1, 3, 8, 10)
    masks = MaskPair.whole(image.shape, image.shape)
    metrics = {
        "style_distance": lambda x: style_distance(x, image, masks),
        "color_distance": lambda x: color_distance(x, image, masks),
        "photorealism_energy": lambda x: photorealism_energy(x, image),
        "structure_similarity": lambda x: structure_similarity(x, image),
    }
    for name, metric in metrics.items():
        for given in ("result.png", image[0].permute(1, 2, 0).numpy()):
            with pytest.raises(TypeError, match=rf"^{name} output: expected a tensor \(1, 3, H, W\), not \w+; read"):
                metric(given)
        for shape in ((3, 8, 10), (1, 1, 8, 10), (2, 3, 8, 10)):
            with pytest.raises(ValueError, match=rf"^{name}: expected the output as one RGB image"):
                metric(torch.rand(shape))
    with pytest.raises(TypeError, match=r"^temporal_error frame 0: expected a tensor"):
        temporal_error(["a.png", "b.png"], [image, image])


def test_metrics_refuse_images_masks_and_operators_of_other_sizes():
    image, small = torch.rand(1, 3, 8, 10), torch.rand(1, 3, 6, 10)
    for metric in (photorealism_energy, structure_similarity):
        with pytest.raises(ValueError, match=rf"^{metric.__name__}: the output \(10x6\) and the content \(10x8\) must"):
            metric(small, image)
    with pytest.raises(ValueError, match=r"^photorealism_energy: the Laplacian is of a 10x6 guide, the content 10x8$"):
        photorealism_energy(image, image, MattingLaplacian(small))
    for metric in (style_distance, color_distance):
        with pytest.raises(ValueError, match=r"masks of 10x6 and 10x8 do not fit the output \(10x8\).*masks.resized"):
            metric(image, image, MaskPair.whole(small.shape, image.shape))
    with pytest.raises(ValueError, match=r"^temporal_error: 2 frames but 1 stylised ones: give one per frame$"):
        temporal_error([image, image], [image])
    with pytest.raises(ValueError, match=r"^temporal_error: the frame 0 \(10x8\) and the frame 1 \(10x6\)"):
        temporal_error([image, small], [image, small])
