"""How much memory a transfer needs, and whether this machine has it.

A run that asks for more memory than the machine has does not fail cleanly on Linux: the kernel
lets the allocations through and its out-of-memory killer ends the process later, minutes into
the work, with no message of ours. So a run on the CPU estimates its peak from its sizes before
the work starts, and one that cannot fit stops with a one-line error naming the largest
``--size`` that does. ``RESTYLE_MEMORY_CHECK=0`` skips the check (for swap, or a wrong
estimate).

The estimate is a sum of measured terms: the peak resident memory of fresh processes on the
CPU (bfloat16 encoder, channels-last), fitted on runs of 256 to 2048 px and checked against
others (``benchmarks/memory_footprint.py``; benchmarks/RESULTS.md, "Memory a run needs").
``restyle smooth`` checks its own estimate the same way. A run's peak is the larger of its phases (computing the style targets,
optimising, post-processing), because the allocator reuses the memory one phase frees for the
next; automatic masks add to it.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import torch

from restyle.errors import RestyleError
from restyle.optim import HISTORY_SIZE

__all__ = [
    "BASE",
    "BASE_WITHOUT_NETWORK",
    "GIB",
    "art_bytes",
    "available_bytes",
    "check_memory",
    "largest_size",
    "lbfgs_pairs",
    "peak_resident_bytes",
    "photo_bytes",
    "smoothing_bytes",
]

GIB = 2**30
#: The interpreter, torch and the encoder's weights (0.43 GiB measured; 0.46 GiB fitted), and
#: the same without the network, which the photo fast preset does not load.
BASE, BASE_WITHOUT_NETWORK = int(0.46 * GIB), int(0.28 * GIB)
#: The encoder's forward and backward pass on the optimised image, per pixel: activations kept
#: for the backward pass and their gradients. With float32 features, 2920 bytes.
ENCODER_BF16, ENCODER_F32 = 2190, 2920
#: The style targets, per pixel of a style image at its working size (a forward pass without
#: gradients whose style-layer features are kept until their Grams are taken).
STYLE = 575
#: One L-BFGS pair (a step and a gradient change) per optimised parameter: 8 bytes, and 10.3
#: to 13 as measured (the allocator's slack); 11 here.
PAIR = 11.0
#: The photo presets' objective per pixel of the work size (masked Grams, the matting
#: Laplacian; the default preset also a colour term and its grid's rendering), and the matting
#: post-process per pixel of the result.
PHOTO_GRID, PHOTO_PIXELS, PHOTO_SMOOTHING = 3500, 2900, 1000
#: Guided upsampling to the photo's own size (``--full-resolution``), per pixel of the photo.
FULL_RESOLUTION = 50
#: ``restyle smooth`` per pixel of the image (``upsample``: of the photo it is carried up to),
#: measured at 1.5 and 3 MP (bilateral since it filters in bands of rows, affine and posterize
#: since the fit filters 6 colour moments, not 9; guided and posterize since the window means
#: need no padded copies); its base is :data:`BASE_WITHOUT_NETWORK`.
SMOOTHING = {"affine": 560, "matting": 875, "posterize": 560, "guided": 495, "bilateral": 65, "upsample": 50}
#: Finding automatic masks (at a fixed 384 px): what the peak grew by with them (0.24 GiB, photo
#: default preset at 512 px), not all of it given back to the optimisation after.
AUTO_MASKS = int(0.25 * GIB)

_CHECK_VARIABLE = "RESTYLE_MEMORY_CHECK"


def lbfgs_pairs(optimizer: str, iterations: int, history_size: int = HISTORY_SIZE) -> int:
    """The most curvature pairs the optimiser holds at once (Adam's two moment buffers count as
    one pair).

    Example:
        >>> lbfgs_pairs("lbfgs", 62), lbfgs_pairs("lbfgs", 300), lbfgs_pairs("adam", 300)
        (62, 100, 1)
    """
    return 1 if optimizer == "adam" else min(iterations, history_size)


def art_bytes(
    pixels: int,
    *,
    pairs: int,
    style_pixels: int = 0,
    parameters_per_pixel: float = 4.0,
    float32: bool = False,
    auto_masks: bool = False,
) -> int:
    """Estimated peak memory of an art run (:func:`restyle.stylize`) on the CPU, in bytes.

    Args:
        pixels: pixels of the result (the largest pyramid scale).
        style_pixels: pixels of the largest style image at its working size.
        parameters_per_pixel: 4 for the multi-resolution parameterisation (three colours times
            a pyramid's 4/3), 3 for the pixels.
        pairs: L-BFGS pairs held at the full size (:func:`lbfgs_pairs`).
        float32: the encoder runs in float32 (no bfloat16 autocast).
        auto_masks: automatic masks are found first.

    Example:
        >>> round(art_bytes(512 * 339, pairs=62) / GIB, 2)  # the default at --size 512
        1.25
    """
    encoder = ENCODER_F32 if float32 else ENCODER_BF16
    optimise = pixels * (encoder + PAIR * parameters_per_pixel * pairs)
    phases = max(optimise, style_pixels * STYLE)
    return int(BASE + phases + (AUTO_MASKS if auto_masks else 0))


def photo_bytes(
    work_pixels: int,
    pixels: int,
    *,
    style_pixels: int = 0,
    grid: bool = True,
    pairs: int = 0,
    original_pixels: int = 0,
    auto_masks: bool = False,
) -> int:
    """Estimated peak memory of a photo run (:func:`restyle.stylize_photo`) on the CPU, in bytes.

    Args:
        work_pixels: pixels of the image the optimisation scores (0 for the fast preset, which
            does not load the network).
        pixels: pixels of the result, which the post-process smooths.
        style_pixels: pixels of the style image at its working size.
        grid: the optimisation moves a bilateral grid (the default preset), whose nodes are
            few enough for its L-BFGS pairs to be left out; else the pixels (the dpst preset).
        pairs: L-BFGS pairs held at once when the pixels are optimised.
        original_pixels: pixels of the content photo when the result is carried up to its
            own size (``full_resolution``), else 0.
        auto_masks: automatic masks are found first.

    Example:
        >>> round(photo_bytes(512 * 339, 512 * 339) / GIB, 2)  # the default preset at --size 512
        1.03
    """
    per_pixel = PHOTO_GRID if grid else PHOTO_PIXELS + 3 * PAIR * pairs
    optimise = work_pixels * per_pixel
    phases = max(
        optimise,
        pixels * PHOTO_SMOOTHING,
        style_pixels * STYLE,
        original_pixels * FULL_RESOLUTION,
    )
    base = BASE if work_pixels or auto_masks else BASE_WITHOUT_NETWORK
    return int(base + phases + (AUTO_MASKS if auto_masks else 0))


def smoothing_bytes(method: str, pixels: int) -> int:
    """Estimated peak memory of ``restyle smooth --method METHOD`` on an image of ``pixels``.

    Example:
        >>> round(smoothing_bytes("matting", 6000 * 4000) / GIB, 1)
        19.8
    """
    return int(BASE_WITHOUT_NETWORK + SMOOTHING[method] * pixels)


def _read_int(path: Path) -> int | None:
    try:
        return int(path.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None


def _meminfo(root: Path) -> dict[str, int]:
    """``/proc/meminfo`` in bytes."""
    values: dict[str, int] = {}
    try:
        text = (root / "proc/meminfo").read_text()
    except OSError:
        return values
    for line in text.splitlines():
        name, _, rest = line.partition(":")
        parts = rest.split()
        if parts and parts[0].isdigit():
            values[name] = int(parts[0]) * (1024 if parts[1:2] == ["kB"] else 1)
    return values


def _cgroup_headroom(root: Path) -> int | None:
    """What the process's memory cgroup still allows (its limit minus what it uses, page cache
    that can be dropped not counted as used), or None without a limit. cgroup v2, then v1."""
    for folder, limit_name, usage_name, cache_key in (
        ("sys/fs/cgroup", "memory.max", "memory.current", "inactive_file"),
        ("sys/fs/cgroup/memory", "memory.limit_in_bytes", "memory.usage_in_bytes", "total_inactive_file"),
    ):
        limit, usage = _read_int(root / folder / limit_name), _read_int(root / folder / usage_name)
        if limit is None or usage is None or limit >= 2**60:  # "max" (v2) or no limit (v1)
            continue
        cache = 0
        try:
            for line in (root / folder / "memory.stat").read_text().splitlines():
                key, _, value = line.partition(" ")
                if key == cache_key and value.strip().isdigit():
                    cache = int(value)
        except OSError:
            pass
        return max(0, limit - usage + cache)
    return None


def _resident_bytes(root: Path) -> int:
    """This process's resident memory (it can reuse it: the allocator keeps what it frees)."""
    try:
        pages = int((root / "proc/self/statm").read_text().split()[1])
    except (OSError, ValueError, IndexError):
        return 0
    return pages * os.sysconf("SC_PAGE_SIZE")


def peak_resident_bytes(root: Path = Path("/")) -> int:
    """The most resident memory this process has held: ``VmHWM`` of ``/proc/self/status``,
    which the measurements of the terms above use.

    Not ``getrusage``'s ``ru_maxrss``: a process started by ``subprocess`` keeps, across its
    ``exec``, the peak of the parent it was forked from (a child of a 3-GiB process reports
    3 GiB), so a child's own peak cannot be read from it. ``ru_maxrss`` is the fallback where
    ``/proc`` is missing.

    Example:
        >>> peak_resident_bytes() > 0
        True
    """
    try:
        for line in (root / "proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def available_bytes(root: Path = Path("/")) -> int | None:
    """Memory this process can grow to: what it holds now plus what the system (and its memory
    cgroup, if limited) can still give it without swapping. None where that is unknown (not
    Linux).

    Args:
        root: where ``/proc`` and ``/sys`` are (tests pass a fake tree).

    Example:
        >>> available_bytes() is None or available_bytes() > 0
        True
    """
    free = _meminfo(root).get("MemAvailable")
    if free is None:
        return None
    headroom = _cgroup_headroom(root)
    if headroom is not None:
        free = min(free, headroom)
    return _resident_bytes(root) + free


def largest_size(needed: Callable[[int], int], available: int, size: int, smallest: int = 16) -> int | None:
    """The largest long side up to ``size`` whose estimate ``needed(long_side)`` fits in
    ``available`` bytes (the estimate grows with the size), or None if not even ``smallest``
    does.

    Example:
        >>> largest_size(lambda s: s * s, 10_000, 4000)
        100
    """
    if needed(smallest) > available:
        return None
    low, high = smallest, size  # needed(low) fits; find the last that fits
    while low < high:
        middle = (low + high + 1) // 2
        if needed(middle) <= available:
            low = middle
        else:
            high = middle - 1
    return low


def check_memory(
    needed: Callable[[int], int],
    size: int,
    *,
    device: torch.device,
    what: str,
    option: str | None = "--size",
    available: int | None = None,
) -> None:
    """Raise a one-line :class:`RestyleError` before a CPU run that would not fit in memory.

    Args:
        needed: estimated peak bytes of the run at a given long side (``art_bytes`` and
            ``photo_bytes`` over the run's shapes).
        size: the long side asked for.
        device: where the run computes; only CPU runs are checked (a GPU's own out-of-memory
            error is caught and reported as it happens).
        what: the run, for the message ("an art run").
        option: the option that sets ``size``; None when no option does (the message then
            asks for a smaller image).
        available: bytes available (default: :func:`available_bytes`).

    Example:
        >>> check_memory(lambda s: s * s, 100, device=torch.device("cpu"), what="a run", available=10**6)
        >>> check_memory(lambda s: s * s * 2**30, 100, device=torch.device("cpu"), what="a run", available=2**33)
        Traceback (most recent call last):
        ...
        restyle.errors.RestyleError: a run at --size 100 needs about 10000.0 GiB of memory, and 8.0 GiB is available; use --size 2 or less (RESTYLE_MEMORY_CHECK=0 runs it anyway)
    """
    if device.type != "cpu" or os.environ.get(_CHECK_VARIABLE, "1") == "0":
        return
    available = available_bytes() if available is None else available
    if available is None:
        return
    estimate = needed(size)
    if estimate <= available:
        return
    largest = largest_size(needed, available, size, smallest=1)
    subject = f"{what} at {option} {size}" if option else what
    if not largest:
        advice = "free some memory"
    elif option:
        advice = f"use {option} {largest} or less"
    else:
        advice = f"use an image of at most {largest} px on its long side"
    raise RestyleError(
        f"{subject} needs about {estimate / GIB:.1f} GiB of memory, and {available / GIB:.1f} GiB is available; "
        f"{advice} ({_CHECK_VARIABLE}=0 runs it anyway)"
    )
