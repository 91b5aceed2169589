"""Choosing the compute device, the precision that is fast on it, and the run's seed."""

from __future__ import annotations

import functools
import random
from dataclasses import dataclass

import torch

from restyle.allocator import keep_freed_memory
from restyle.errors import RestyleError, check_choice

__all__ = ["DEVICES", "Runtime", "bf16_is_fast", "check_seed", "resolve_device", "runtime", "use_bf16"]

DEVICES = ("auto", "cpu", "cuda", "mps")


def resolve_device(name: str | torch.device = "auto") -> torch.device:
    """``auto`` picks CUDA, then Apple MPS, then the CPU; an explicit device (``cpu``, ``cuda``,
    ``cuda:1``, ``mps``) must exist.

    Example:
        >>> resolve_device("cpu")
        device(type='cpu')
        >>> resolve_device("cpu:")
        Traceback (most recent call last):
        ...
        restyle.errors.RestyleError: unknown --device 'cpu:': use one of auto, cpu, cuda, mps (or cuda:N, the N-th GPU)
    """
    text = str(name)
    if text == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if _mps_available():
            return torch.device("mps")
        return torch.device("cpu")
    unknown = RestyleError(f"unknown --device {text!r}: use one of {', '.join(DEVICES)} (or cuda:N, the N-th GPU)")
    if text.partition(":")[0] not in ("cpu", "cuda", "mps"):  # "auto" takes no index
        raise unknown
    try:
        device = torch.device(text)
    except RuntimeError:  # "cpu:", "cuda:x", "cuda:-1"
        raise unknown from None
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise RestyleError(f"--device {text} was asked for, but no CUDA GPU is available; use --device auto")
        count = torch.cuda.device_count()
        if device.index is not None and device.index >= count:
            gpus = "cuda:0" if count == 1 else f"cuda:0 to cuda:{count - 1}"
            raise RestyleError(f"--device {text} was asked for, but this machine's CUDA GPUs are {gpus}")
    if device.type == "mps" and not _mps_available():
        raise RestyleError(f"--device {text} was asked for, but Apple MPS is not available; use --device auto")
    return device


def _mps_available() -> bool:
    mps = getattr(torch.backends, "mps", None)
    return bool(mps is not None and mps.is_available())


@functools.cache
def bf16_is_fast(device_type: str) -> bool:
    """Whether bfloat16 autocast speeds up convolutions here (CUDA with bf16, or a CPU with
    AVX-512 BF16 or AMX, where oneDNN runs bf16 convolutions natively)."""
    if device_type == "cuda":
        return bool(torch.cuda.is_available() and torch.cuda.is_bf16_supported())
    if device_type != "cpu":
        return False
    try:
        with open("/proc/cpuinfo", encoding="ascii", errors="ignore") as handle:
            flags = handle.read()
    except OSError:
        return False
    return " avx512_bf16" in flags or " amx_bf16" in flags


def use_bf16(precision: str, device: torch.device) -> bool:
    """Whether to run the encoder under bfloat16 autocast: ``auto`` where it is native
    (:func:`bf16_is_fast`), or as asked with ``float32`` / ``bfloat16``."""
    check_choice(precision, ("auto", "float32", "bfloat16"), "--precision")
    if precision == "auto":
        return bf16_is_fast(device.type)
    return precision == "bfloat16"


@dataclass(frozen=True)
class Runtime:
    """Where and how a transfer computes.

    Attributes:
        device: the device it runs on.
        bf16: whether the encoder runs under bfloat16 autocast.
        seed: the seed of its random numbers.
    """

    device: torch.device
    bf16: bool
    seed: int

    def recorded(self) -> dict[str, int | str]:
        """What a result's metadata records: the seed and the device and precision used."""
        return {
            "seed": self.seed,
            "device_used": str(self.device),
            "precision_used": "bfloat16" if self.bf16 else "float32",
        }


def runtime(*, device: str | torch.device, precision: str, seed: int | None) -> Runtime:
    """The :class:`Runtime` a transfer's options ask for; a random seed is picked if none is
    given, so that it can be recorded and the run repeated. On the CPU it also makes ``malloc``
    keep freed memory for reuse (:func:`restyle.allocator.keep_freed_memory`).

    Example:
        >>> runtime(device="cpu", precision="float32", seed=7).recorded()
        {'seed': 7, 'device_used': 'cpu', 'precision_used': 'float32'}
    """
    dev = resolve_device(device)
    if dev.type == "cpu":
        keep_freed_memory()  # large CPU tensors then reuse freed pages (restyle.allocator)
    if seed is not None:
        check_seed(seed)
    return Runtime(dev, use_bf16(precision, dev), new_seed() if seed is None else seed)


def check_seed(seed: int) -> int:
    """``seed`` if it is one that every command takes: 0 to 2^63 - 1, what torch's generators
    take; a one-line :class:`RestyleError` otherwise.

    Example:
        >>> check_seed(7)
        7
        >>> check_seed(-1)
        Traceback (most recent call last):
        ...
        restyle.errors.RestyleError: --seed must be between 0 and 2^63 - 1, not -1
    """
    if not 0 <= seed < 2**63:
        raise RestyleError(f"--seed must be between 0 and 2^63 - 1, not {seed}")
    return seed


def new_seed() -> int:
    """A random seed for a run given none; it is recorded with the result, so the run can be
    repeated.

    Example:
        >>> 0 <= new_seed() < 2**31
        True
    """
    return random.randrange(2**31)
