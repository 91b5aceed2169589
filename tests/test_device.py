"""The run's device, precision and seed (restyle.device)."""

from __future__ import annotations

import pytest
import torch

from restyle.device import Runtime, resolve_device, runtime
from restyle.errors import RestyleError


def test_runtime_keeps_a_given_seed_and_the_asked_precision() -> None:
    run = runtime(device="cpu", precision="bfloat16", seed=123)
    assert run == Runtime(torch.device("cpu"), True, 123)
    assert run.recorded() == {"seed": 123, "device_used": "cpu", "precision_used": "bfloat16"}
    assert runtime(device="cpu", precision="float32", seed=0).bf16 is False


def test_runtime_picks_and_records_a_seed_when_none_is_given() -> None:
    seeds = {runtime(device="cpu", precision="float32", seed=None).seed for _ in range(5)}
    assert all(isinstance(s, int) and 0 <= s < 2**31 for s in seeds)
    assert len(seeds) > 1  # five draws from 2**31 values do not all coincide


def test_auto_device_is_cuda_exactly_when_cuda_is_available() -> None:
    expected = "cuda" if torch.cuda.is_available() else None
    chosen = resolve_device("auto").type
    if expected:
        assert chosen == expected
    else:
        assert chosen in ("cpu", "mps")


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"device": "tpu", "precision": "auto"}, "unknown --device"),
        ({"device": "cpu", "precision": "half"}, "precision"),
    ],
)
def test_runtime_rejects_bad_options_in_one_line(options: dict, message: str) -> None:
    with pytest.raises(RestyleError, match=message) as err:
        runtime(seed=0, **options)
    assert "\n" not in str(err.value)


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
def test_asking_for_missing_cuda_names_the_fix() -> None:
    with pytest.raises(RestyleError, match="use --device auto"):
        runtime(device="cuda", precision="auto", seed=0)


@pytest.mark.parametrize("name", ["cpu:", "cuda:x", "cuda:-1", ":0", "auto:0", "CPU", "tpu"])
def test_a_device_string_torch_cannot_read_is_named_whole(name: str) -> None:
    """ "cpu:" reached torch.device and came out as PyTorch's RuntimeError (a traceback from the
    CLI); ":0" was told as "unknown --device ''"."""
    with pytest.raises(RestyleError) as err:
        resolve_device(name)
    assert str(err.value) == f"unknown --device {name!r}: use one of auto, cpu, cuda, mps (or cuda:N, the N-th GPU)"


def test_a_gpu_past_the_machine_s_count_is_refused_naming_those_there(monkeypatch) -> None:
    """ "cuda:3" was taken as it was and failed at the first tensor sent there; the message for
    a machine without CUDA named "cuda", not the device asked for."""
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(RestyleError, match=r"^--device cuda:3 was asked for, but no CUDA GPU is available"):
        resolve_device("cuda:3")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    assert resolve_device("cuda:1") == torch.device("cuda", 1)
    assert resolve_device(torch.device("cuda", 0)) == torch.device("cuda", 0)
    with pytest.raises(RestyleError) as err:
        resolve_device("cuda:2")
    assert str(err.value) == "--device cuda:2 was asked for, but this machine's CUDA GPUs are cuda:0 to cuda:1"
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)
    with pytest.raises(RestyleError, match=r"GPUs are cuda:0$"):
        resolve_device("cuda:1")


def test_a_bad_device_from_the_cli_is_one_line(capsys, tmp_path, content_png, style_png) -> None:
    from .conftest import run

    code, _, err = run(capsys, "art", content_png, style_png, "-o", tmp_path / "o.png", "--device", "cpu:")
    assert (
        code == 1
        and err
        == "restyle: error: unknown --device 'cpu:': use one of auto, cpu, cuda, mps (or cuda:N, the N-th GPU)\n"
    )
    assert not (tmp_path / "o.png").exists()
