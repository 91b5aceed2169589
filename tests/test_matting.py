import numpy as np
import pytest
import torch

from restyle.matting import MattingLaplacian, PhotorealismLoss, matting_laplacian_sparse, photorealism_loss

SHAPES = [(9, 11), (10, 7), (3, 14), (15, 3), (5, 5), (16, 13)]


def sparse_product(L, p):
    c, h, w = p.shape
    return torch.from_numpy(np.stack([L @ p[i].reshape(-1).numpy() for i in range(c)]).reshape(c, h, w))


@pytest.mark.parametrize(("h", "w"), SHAPES)
@pytest.mark.parametrize("radius", [1, 2])
@pytest.mark.parametrize("strip_rows", [1, 2, 32])
def test_matrix_free_equals_sparse_reference(h, w, radius, strip_rows):
    g = torch.Generator().manual_seed(h * 100 + w)
    guide = torch.rand(3, h, w, dtype=torch.float64, generator=g)
    p = torch.rand(3, h, w, dtype=torch.float64, generator=g)
    lap = MattingLaplacian(guide, radius=radius)
    lap.strip_rows = strip_rows
    ref = sparse_product(matting_laplacian_sparse(guide, radius=radius), p)
    got = lap.matvec(p)
    if ref.norm() == 0:  # image narrower than a window: L = 0
        assert got.abs().max() == 0
    else:
        assert float((got - ref).norm() / ref.norm()) < 1e-10


def test_diagonal_matches_sparse():
    guide = torch.rand(3, 8, 12, dtype=torch.float64)
    L = matting_laplacian_sparse(guide)
    assert np.allclose(MattingLaplacian(guide).diagonal().numpy().ravel(), L.diagonal(), rtol=1e-10, atol=1e-10)


def test_locally_affine_images_are_in_the_null_space():
    guide = torch.rand(3, 12, 10, dtype=torch.float64)
    a = torch.tensor([0.3, -1.2, 0.7], dtype=torch.float64)
    p = (a[:, None, None] * guide).sum(dim=0) + 0.25  # p = a . I + b
    lap = MattingLaplacian(guide, eps=1e-12)
    assert lap.matvec(p).abs().max() < 1e-6 * p.abs().max()
    assert lap.matvec(torch.ones(12, 10, dtype=torch.float64)).abs().max() < 1e-9  # constants too


def test_symmetric_and_positive_semidefinite():
    guide = torch.rand(3, 11, 9, dtype=torch.float64)
    lap = MattingLaplacian(guide)
    for seed in range(5):
        g = torch.Generator().manual_seed(seed)
        p, q = (
            torch.randn(11, 9, dtype=torch.float64, generator=g),
            torch.randn(11, 9, dtype=torch.float64, generator=g),
        )
        assert torch.isclose((lap.matvec(p) * q).sum(), (p * lap.matvec(q)).sum(), rtol=1e-9)
        assert lap.energy(p) >= -1e-9
    L = matting_laplacian_sparse(guide)
    assert abs(L - L.T).max() < 1e-9


def test_photorealism_gradcheck_and_gradient_formula():
    guide = torch.rand(3, 6, 7, dtype=torch.float64)
    lap = MattingLaplacian(guide, eps=1e-4)
    image = torch.rand(1, 3, 6, 7, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda x: photorealism_loss(x, lap, 0.5), (image,))
    loss = photorealism_loss(image, lap, 3.0)
    loss.backward()
    assert torch.allclose(image.grad, 2 * 3.0 * lap.matvec(image.detach()))
    L = matting_laplacian_sparse(guide, eps=1e-4)
    v = image.detach()[0].reshape(3, -1).numpy()
    assert loss.item() == pytest.approx(3.0 * sum(v[c] @ (L @ v[c]) for c in range(3)), rel=1e-10)


def test_module_equals_function():
    guide = torch.rand(1, 3, 8, 8, dtype=torch.float64)
    image = torch.rand(1, 3, 8, 8, dtype=torch.float64)
    module = PhotorealismLoss(guide, weight=2.0)
    assert module(image) == photorealism_loss(image, MattingLaplacian(guide), 2.0)


def test_float32_close_to_float64():
    guide = torch.rand(3, 40, 50, dtype=torch.float64)
    p = torch.rand(3, 40, 50, dtype=torch.float64)
    ref = MattingLaplacian(guide).matvec(p)
    got = MattingLaplacian(guide, dtype=torch.float32).matvec(p.float())
    assert float((got.double() - ref).norm() / ref.norm()) < 1e-3


def test_shape_errors():
    with pytest.raises(ValueError, match="RGB image"):
        MattingLaplacian(torch.rand(4, 5, 5))
    with pytest.raises(
        TypeError, match=r"^guide: expected a tensor .*, not str; read an image with restyle.load_image$"
    ):
        MattingLaplacian("photo.png")  # it failed on .ndim
    lap = MattingLaplacian(torch.rand(3, 5, 5))
    with pytest.raises(ValueError, match="expected"):
        lap.matvec(torch.rand(3, 5, 6))
