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
