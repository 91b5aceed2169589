"""Video style transfer with temporal consistency (Ruder, Dosovitskiy and Brox 2016).

Every frame is stylised with the image pipeline (artistic or photorealistic), started from the
previous stylised frame warped into it by optical flow, with a temporal loss that keeps it
close to that warp wherever the flow can be trusted (:mod:`restyle.flow`). The first frame is
stylised in full (coarse-to-fine); later frames need only a few full-size iterations.

Deviations from the paper, named:
- flow is OpenCV's DIS, not DeepFlow/EpicFlow (DIS is orders of magnitude faster on a CPU);
- later frames are optimised for ``frame_iterations`` L-BFGS steps (default 5), not until
  convergence: the warped start is already stylised, so most of the image needs no change;
- those steps carry L-BFGS's curvature pairs from frame to frame
  (:class:`restyle.optim.LbfgsMemory`): each frame's loss is nearly the last one's, so no
  step is spent on a cold start's tiny first step or on rebuilding the curvature model;
- the ``fast`` photo preset has no optimisation: its temporal term is solved in closed form,
  per pixel ``x = (s + k c w) / (1 + k c)`` with s the frame's own result, w the warped
  previous output, c the certainty and k the temporal weight; and it skips the matting
  smoothing (its global colour transfer is already an affine map of the content's colours);
- long-term consistency averages the warps from frames {1, 10, 20, 40} back with Ruder's
  rule that a pixel takes the nearest of them it can trust.

Frames are kept in a work folder (one PNG per stylised frame, written atomically, with a
settings file) while the clip is stylised; a run that stops leaves them there, and running the
same command again continues where it stopped. Once the output is written the folder is
removed, unless ``keep_frames`` (to extend the clip later without redoing its frames). The
output video is encoded to a temporary file and renamed, so it is complete or absent.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import math
import os
import re
import shutil
import tempfile
import time
import warnings
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, overload

import numpy as np
import torch

from restyle.bitdepth import encode_png16, to_uint16
from restyle.clip import (
    VideoInfo,
    check_gif_frames,
    check_video_bits,
    check_video_extra,
    check_video_side,
    check_video_suffix,
    decoded_smaller,
    frame_shape,
    frame_to_tensor,
    parse_frame_range,
    probe,
    read_frames,
    write_frame_folder,
    write_video,
)
from restyle.dequantise import dequantise as smooth_steps
from restyle.dequantise import dequantise_from, on_grid
from restyle.errors import RestyleError, check_path_given, check_positive, check_weight
from restyle.files import (
    atomic_write,
    check_lookup,
    check_not_an_input,
    check_replaceable,
    hold_folder,
    name_beside,
)
from restyle.flow import certainty, optical_flow, warp
from restyle.image import (
    DEFAULT_MAX_PIXELS,
    IN_MEMORY,
    SAMPLE_PREFIX,
    ImageLike,
    RestyleWarning,
    check_inputs,
    check_long_side,
    check_output_folder,
    check_pixels,
    check_work_size,
    load_style,
    resize,
    to_uint8,
    warn_if_enlarged,
)
from restyle.objective import Temporal
from restyle.optim import STOP, UNDER_WAY, LbfgsMemory
from restyle.signature import check_arguments
from restyle.smoothing import guided_upsample
from restyle.vgg import MIN_TRANSFER_SIZE, check_size

__all__ = ["FrameProgress", "stylize_video", "work_folder", "work_frames"]

LONG_TERM_OFFSETS = (1, 10, 20, 40)
LARGE_SOURCE_PIXELS = 3840 * 2160
DEFAULT_TEMPORAL_WEIGHT = {"art": 1e3, "photo": 1e3, "fast": 4.0}


@dataclass
class FrameProgress:
    """Passed to the callback after each frame: first as each source frame is read (``stage``
    ``"read"``), then as each is stylised (``"stylise"``).

    While reading, ``total`` is the clip's estimated frame count (a video file's from its
    duration), never reached; the last ``"read"`` report gives the count read, so that
    ``index + 1 == total`` there and only there. Reading a long clip takes a while: its frames
    are decoded, and smoothed with ``dequantise``, before the first is stylised (about 70 ms a
    640x360 frame with the ``fast`` preset, measured on a 720p clip)."""

    index: int  # 0-based, within the selected range
    total: int
    resumed: bool  # taken from the work folder rather than computed
    seconds: float  # this frame's time
    elapsed: float  # since this stage began
    eta: float
    image: torch.Tensor  # the stylised frame; while reading, the frame read
    stage: Literal["read", "stylise"] = "stylise"


#: The names :meth:`_WorkFolder.path` gives frames: ``000012.png``, ``pass1_000012.png``.
_FRAME_NAME = re.compile(r"(pass\d+_)?\d{6}\.png")


def work_folder(output: str | os.PathLike, work_dir: str | os.PathLike | None = None) -> Path:
    """Where a run keeps its finished frames: ``work_dir``, or ``OUTPUT.work`` beside the output
    (beside a folder output given with a trailing slash too, not inside it; the name cut short
    if the whole would be too long, :func:`~restyle.files.name_beside`).

    Example:
        >>> work_folder("clips/out.mp4").as_posix(), work_folder("frames/").as_posix()
        ('clips/out.mp4.work', 'frames.work')
        >>> work_folder("out.mp4", "scratch").as_posix()
        'scratch'
    """
    out = Path(output)
    return Path(work_dir) if work_dir else name_beside(out, ".work", hidden=False)


def work_frames(folder: str | os.PathLike) -> int:
    """How many finished frames a work folder holds (0 if there is no such folder).

    Example:
        >>> work_frames("no/such/folder")
        0
    """
    path = Path(folder)
    return sum(1 for p in path.glob("*.png") if _FRAME_NAME.fullmatch(p.name)) if path.is_dir() else 0


class _SourceFrames(Sequence[torch.Tensor]):
    """The clip's frames as ``(1, 3, H, W)`` float images, decoded once into an unnamed
    temporary file (in ``folder``) and read back one at a time, so that memory does not grow
    with the clip's length: held as floats, 5 minutes at 640x360 would take 20 GB.

    Example:
        >>> frames = _SourceFrames([np.zeros((2, 3, 3), np.uint8), np.full((2, 3, 3), 255, np.uint8)], ".")
        >>> len(frames), tuple(frames[1].shape), float(frames[1].max())
        (2, (1, 3, 2, 3), 1.0)
        >>> frames.close()
    """

    def __init__(self, frames: Iterable[np.ndarray], folder: str | os.PathLike) -> None:
        self._file = tempfile.TemporaryFile(dir=folder)  # noqa: SIM115 (closed by close, or __exit__)
        self._count = 0
        first: np.ndarray | None = None
        try:
            for frame in frames:
                first = frame if first is None else first
                try:
                    self._file.write(np.ascontiguousarray(frame, dtype=first.dtype).tobytes())
                    self._file.flush()
                except OSError as exc:  # a full disk
                    raise RestyleError(
                        f"{folder}: cannot keep the clip's frames there: {exc.strerror or exc}"
                    ) from None
                self._count += 1
        except BaseException:  # that, a decoding error or Ctrl-C: the file goes now
            self._file.close()
            raise
        self._frames = (
            np.memmap(self._file, dtype=first.dtype, mode="r", shape=(self._count, *first.shape))
            if first is not None
            else None
        )

    def __len__(self) -> int:
        return self._count

    @overload
    def __getitem__(self, index: int) -> torch.Tensor: ...
    @overload
    def __getitem__(self, index: slice) -> Sequence[torch.Tensor]: ...
    def __getitem__(self, index: int | slice) -> torch.Tensor | Sequence[torch.Tensor]:
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(self._count))]
        if not -self._count <= index < self._count or self._frames is None:
            raise IndexError(f"frame {index} of {self._count}")
        return frame_to_tensor(np.array(self._frames[index]))

    def close(self) -> None:
        self._frames = None
        self._file.close()

    def __enter__(self) -> _SourceFrames:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()


class _WorkFolder:
    """Stylised frames on disk, named by frame number, plus the settings they were made with.

    A context manager: on an error it removes the folder if it made it and no frame was finished.
    A folder that holds no frames takes new settings. One run at a time works in a folder
    (:func:`~restyle.files.hold_folder`): a second run given it while the first is working,
    with the same output or ``--work-dir``, is refused at once. Unheld, the second took the
    first's settings over or its frames away, and one of them failed, or wrote a clip whose
    record named the other's style."""

    def __init__(self, folder: Path, settings: dict[str, Any]) -> None:
        self.folder = folder
        self.created = not folder.exists()
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise RestyleError(f"cannot create the work folder {folder}: {exc.strerror}") from None
        try:
            release = hold_folder(folder)
        except OSError as exc:
            raise RestyleError(f"cannot work in the work folder {folder}: {exc.strerror}") from None
        if release is None:
            raise RestyleError(
                f"the work folder {folder} is in use by another restyle run; let that run finish, "
                "or give this one another output or --work-dir"
            )
        self._release = release
        try:
            self._adopt(settings)
        except BaseException:
            self.release()
            raise

    def _adopt(self, settings: dict[str, Any]) -> None:
        """Record ``settings`` in the folder, unless it holds frames made with others."""
        folder = self.folder
        settings_path = folder / "settings.json"
        text = json.dumps(settings, sort_keys=True, default=str)
        if settings_path.exists() and settings_path.read_text() == text:
            return
        if settings_path.exists() and self._has_frames():
            raise RestyleError(
                f"the work folder {folder} holds frames made with other settings; remove it or give another --work-dir"
            )
        atomic_write(settings_path, lambda handle: handle.write(text.encode()))  # new, or held no frames

    def _has_frames(self) -> bool:
        return work_frames(self.folder) > 0

    def __enter__(self) -> _WorkFolder:
        return self

    def __exit__(self, kind: type[BaseException] | None, *_: object) -> None:
        """On an error, remove the folder if this run made it and finished no frame in it; let
        the folder go."""
        if kind is not None and self.created and not self._has_frames():
            shutil.rmtree(self.folder, ignore_errors=True)
        self.release()

    def release(self) -> None:
        """Let the folder go, for another run to work in (once; later calls do nothing)."""
        release, self._release = self._release, lambda: None
        release()

    def remove(self) -> None:
        """Delete the frames and the settings file, and the folder if nothing else is in it (a
        ``--work-dir`` may be a folder that holds other files: those stay). Lets the folder go."""
        for path in [self.folder / "settings.json", *self.folder.glob("*.png")]:
            if path.name == "settings.json" or _FRAME_NAME.fullmatch(path.name):
                path.unlink(missing_ok=True)
        self.release()  # its lock file goes too
        with contextlib.suppress(OSError):  # not empty: the user's own files stay
            self.folder.rmdir()

    def path(self, index: int, stage: int = 0) -> Path:
        return self.folder / (f"{index:06d}.png" if stage == 0 else f"pass{stage}_{index:06d}.png")

    def load(self, index: int, stage: int, shape: tuple[int, ...]) -> torch.Tensor | None:
        """The finished frame, or None if it is not there or is not ``(height, width)``. Frames
        are 16-bit PNGs (8-bit ones, left by an older restyle, are read too)."""
        import cv2  # the video extra's

        path = self.path(index, stage)
        try:
            data = np.fromfile(path, dtype=np.uint8)
        except OSError:
            return None  # not there
        arr = cv2.imdecode(data, cv2.IMREAD_UNCHANGED) if data.size else None
        if arr is None or arr.ndim != 3 or arr.shape[2] != 3:
            return None  # unreadable (should not happen: frames are written atomically): redo it
        if arr.shape[:2] != tuple(shape):
            return None  # another size (a folder left by a run of an older restyle): redo it
        return frame_to_tensor(arr[..., ::-1]).contiguous()  # OpenCV's BGR

    def save(self, index: int, image: torch.Tensor, stage: int = 0) -> None:
        # 16 bits, so that a later frame's temporal target and a 10- or 16-bit output lose nothing
        data = encode_png16(to_uint16(image))
        try:
            atomic_write(self.path(index, stage), lambda handle: handle.write(data))
        except RestyleError as exc:
            raise RestyleError(f"{exc}; the frames finished so far are kept in {self.folder}") from None


def _finished_frames(
    work: _WorkFolder,
    stage: int,
    contents: Sequence[torch.Tensor],
    info: VideoInfo,
    start: int,
    shape: tuple[int, int],
    *,
    bits: int = 8,
    dequantise: bool = False,
    max_pixels: int = DEFAULT_MAX_PIXELS,
) -> Iterator[np.ndarray]:
    """The stylised frames of the last stage as arrays of ``shape``: uint8 for ``bits=8``,
    uint16 for more. A larger shape is
    reached by guided upsampling of each frame, guided by its source frame decoded at that size
    (one frame at a time: a clip at its source size need not fit in memory). With
    ``dequantise``, the guide's steps are smoothed as the stylised frames' were, and followed
    where the frame it was stylised from is flat (:func:`restyle.dequantise.dequantise_from`,
    as a full-resolution photo's): a YUV video's as it is read, 8-bit RGB frames' here."""
    small = tuple(contents[0].shape[-2:])
    sources = (
        read_frames(
            info,
            shape=shape,
            start=start,
            end=start + len(contents),
            dequantise=dequantise,
            smooth_shape=small,
            max_pixels=max_pixels,
        )
        if shape != small
        else None
    )
    for index, content in enumerate(contents):
        frame = work.load(start + index, stage, content.shape[-2:])
        if frame is None:
            raise RestyleError(f"{work.path(start + index, stage)}: a finished frame has gone missing; run again")
        if sources is not None:
            source = frame_to_tensor(next(sources))
            if shape[0] * shape[1] > small[0] * small[1]:
                if dequantise and on_grid(content):
                    content = smooth_steps(content)
                    source = dequantise_from(source, content)
                frame = guided_upsample(frame, content, source)
            else:  # a source smaller than --size: back down to its own size
                frame = resize(frame, *shape)
        yield to_uint8(frame[0]).permute(1, 2, 0).numpy() if bits == 8 else to_uint16(frame)


def _stylise_passes(
    work: _WorkFolder,
    contents: Sequence[torch.Tensor],
    start: int,
    passes: int,
    run: Callable[[torch.Tensor, bool, tuple[torch.Tensor, Temporal] | None, int], torch.Tensor],
    flow: Callable[[int, int], torch.Tensor],
    *,
    long_term: bool,
    weight: float,
    callback: Callable[[FrameProgress], None] | None,
) -> None:
    """Stylise every frame, pass after pass (each pass in the other direction), into the work
    folder; frames already there are taken as they are (a resumed run). ``run(content, first,
    temporal, number)`` stylises frame ``number``; ``flow(a, b)`` is the flow between frames ``a``
    and ``b``."""
    total = len(contents)
    started = time.perf_counter()
    computed = 0
    # the finished frames a later one may warp: the last (or, long-term, the last 40) only, so
    # that memory does not grow with the clip; an earlier pass's frames are read back from the
    # work folder
    reach = max(LONG_TERM_OFFSETS) if long_term else 1
    UNDER_WAY.set()  # the loop looks at STOP before each frame
    for stage in range(passes):
        step = 1 if stage % 2 == 0 else -1
        order = range(total) if step == 1 else range(total - 1, -1, -1)
        results: dict[int, torch.Tensor] = {}

        def previous_pass(t: int, stage: int = stage) -> torch.Tensor:
            image = work.load(start + t, stage - 1, contents[t].shape[-2:])
            if image is None:
                raise RestyleError(f"{work.path(start + t, stage - 1)}: a finished frame has gone missing; run again")
            return image

        for position, t in enumerate(order):
            if STOP.is_set():  # Ctrl-C in the CLI: the frames done so far stay in the work folder
                raise KeyboardInterrupt
            frame_start = time.perf_counter()
            cached = work.load(start + t, stage, contents[t].shape[-2:])
            resumed = cached is not None
            if cached is not None:
                image = cached
            else:
                warped = (
                    _temporal_target(t, results, step, flow=flow, long_term=long_term, weight=weight)
                    if weight > 0
                    else None
                )
                if warped is None and stage == 0:
                    # the first frame, or the per-frame baseline: stylised in full, from scratch
                    image = run(contents[t], True, None, start + t)
                elif warped is None:
                    image = previous_pass(t)  # nothing behind it in this pass's direction
                else:
                    start_image, temporal = warped
                    if stage > 0:
                        # multi-pass: start from this frame's last result blended with its warped
                        # neighbour where that can be trusted (Ruder et al., section 3.4)
                        start_image = _blend(previous_pass(t), temporal.target, temporal.certainty, 1.0)
                    image = run(contents[t], False, (start_image, temporal), start + t)
                work.save(start + t, image, stage)
                computed += 1
            results[t] = image
            results.pop(t - step * reach, None)  # out of reach of the frames still to come
            elapsed = time.perf_counter() - started
            done_count = stage * total + position + 1
            remaining = passes * total - done_count
            per_frame = elapsed / max(computed, 1)
            if callback is not None:
                callback(
                    FrameProgress(
                        index=done_count - 1,
                        total=passes * total,
                        resumed=resumed,
                        seconds=time.perf_counter() - frame_start,
                        elapsed=elapsed,
                        eta=per_frame * remaining if computed else math.nan,
                        image=image,
                    )
                )


def _reported(
    frames: Iterable[np.ndarray], *, estimate: int, callback: Callable[[FrameProgress], None] | None
) -> Iterator[np.ndarray]:
    """``frames``, each reported to ``callback`` as it is read (``FrameProgress.stage`` "read"),
    then once more with the count read as the total."""
    started = time.perf_counter()
    last = started
    count = 0
    frame = None
    for frame in frames:
        yield frame
        count += 1
        if callback is not None:
            now = time.perf_counter()
            total = max(estimate, count + 1)  # not the end until it is
            eta = (now - started) / count * (total - count)
            callback(
                FrameProgress(count - 1, total, False, now - last, now - started, eta, frame_to_tensor(frame), "read")
            )
            last = now
    if callback is not None and frame is not None:
        elapsed = time.perf_counter() - started
        callback(FrameProgress(count - 1, count, False, 0.0, elapsed, 0.0, frame_to_tensor(frame), "read"))


def _blend(own: torch.Tensor, warped: torch.Tensor, c: torch.Tensor, weight: float) -> torch.Tensor:
    """Closed-form minimiser of ``|x - own|^2 + weight * c * |x - warped|^2`` per pixel."""
    return (own + weight * c * warped) / (1 + weight * c)


def _frame_options(
    *,
    mode: str,
    preset: str,
    first: bool,
    size: int,
    seed: int,
    device: str,
    iterations: int | None,
    frame_iterations: int,
    style_weight: float | None,
    content_weight: float | None,
    dequantise: bool,
) -> dict[str, Any]:
    """The image pipeline's options for one frame: the first frame of a pass is stylised in
    full; later ones take ``frame_iterations`` full-size steps from their warped start."""
    options: dict[str, Any] = {"size": size, "seed": seed, "device": device}
    if mode == "photo":  # art mode stylises the frames as read (read_frames smoothed them, if asked)
        options["dequantise"] = dequantise
    if mode == "photo" and preset == "fast":  # no optimisation: no weights or iterations to pass
        # Without masks the fast preset's colour transfer is one affine map of the content's
        # colours: already photorealistic, so the per-frame matting smoothing (seconds per
        # frame) is skipped; it changed pixels by 0.004 on average.
        return {**options, "preset": preset, "smoothing": "none"}
    if style_weight is not None:
        options["style_weight"] = style_weight
    if content_weight is not None:
        options["content_weight"] = content_weight
    if mode == "photo":
        options["preset"] = preset
    if first:
        if iterations is not None:
            options["iterations"] = iterations
    else:
        options["iterations"] = frame_iterations
        if mode == "art":
            options["pyramid"] = False
    return options


def _temporal_target(
    t: int,
    done: dict[int, torch.Tensor],
    step: int,
    *,
    flow: Callable[[int, int], torch.Tensor],
    long_term: bool,
    weight: float,
) -> tuple[torch.Tensor, Temporal] | None:
    """Start image and temporal term for frame t from the finished frames before it
    (``step`` = 1: earlier frames; -1: later ones, for backward passes), or None when the
    frame next to it in that direction is not done. ``flow(a, b)`` is the flow from frame a
    to frame b."""
    if t - step not in done:
        return None
    offsets = LONG_TERM_OFFSETS if long_term else (1,)
    target = torch.zeros_like(done[t - step])
    trust = torch.zeros_like(target[:, :1])
    nearest = None
    for offset in offsets:
        j = t - step * offset
        if j not in done:
            continue
        backward = flow(t, j)
        warped = warp(done[j], backward)
        nearest = warped if nearest is None else nearest
        # Ruder's long-term rule: each pixel trusts only the nearest frame it can
        c = certainty(flow(j, t), backward) * (1 - trust)
        target += c * warped
        trust += c
    # one term with the trusted warps pooled: equal, up to a constant, to their sum
    target = torch.where(trust > 0, target / trust.clamp_min(1e-8), nearest)
    return nearest, Temporal(target, trust, weight)


#: The frame rates a folder of frames may be given (``--fps``): ffmpeg writes a video's rate as a
#: fraction of whole numbers, and below about 1e-4 or far above 1e9 it has none (tried: 1e-5 and
#: 1e300 wrote no frame); these bounds hold every real clip, a time-lapse to a high-speed camera.
MIN_FPS, MAX_FPS = 0.001, 1_000_000.0


def _check_options(
    *,
    mode: str,
    preset: str,
    fast: bool,
    size: int,
    full_resolution: bool,
    passes: int,
    frame_iterations: int,
    temporal_weight: float | None,
    fps: float,
    unused_if_fast: dict[str, Any],
) -> float:
    """Check the options that need no file (one-line errors, before any work) and return the
    temporal weight: the given one, or the default for the mode (the fast photo preset, ``fast``,
    has its own, as its temporal term is a per-pixel ratio). Warns once of any of
    ``unused_if_fast`` (name: value) given for the fast preset, which runs no optimisation."""
    from restyle.photo import NO_OPTIMISATION, preset_settings, warn_no_effect

    preset_settings(preset)
    if full_resolution and mode != "photo":
        raise RestyleError(
            "--full-resolution is for --mode photo: a painted frame's brush strokes cannot be carried up by its photo"
        )
    if passes < 1 or frame_iterations < 1:
        raise RestyleError("--passes and --frame-iterations must be at least 1")
    check_positive(fps, "--fps")  # checked for video files too, though they keep their own
    if not MIN_FPS <= fps <= MAX_FPS:  # 1e-5 or 1e300 failed at the encoding, after all the work
        raise RestyleError(f"--fps must be between {MIN_FPS:g} and {MAX_FPS:,.0f}, not {fps:g}")
    check_long_side(size, minimum=MIN_TRANSFER_SIZE)
    unused = [name for name, value in unused_if_fast.items() if value is not None] if fast else []
    if unused:
        warn_no_effect(unused, preset, NO_OPTIMISATION)
    if temporal_weight is not None:
        return check_weight(temporal_weight, "--temporal-weight")
    return DEFAULT_TEMPORAL_WEIGHT["fast" if fast else mode]


def _output_is_folder(out: Path) -> bool:
    """Whether ``out`` names a folder of frames (no suffix, or an existing folder) rather than
    a video file; either way it is checked to be writable, before any work."""
    check_lookup(out)
    to_folder = out.suffix == "" or out.is_dir()
    if not to_folder:
        check_video_suffix(out, folder_allowed=True)
        check_replaceable(out)
    elif out.exists() and not out.is_dir():
        raise RestyleError(f"{out}: is a file, not a folder; give a folder or a video name")
    # An existing output folder must itself be writable; a new one is made in its parent.
    check_output_folder(out, is_folder=out.is_dir())
    return to_folder


def _style_identity(style: ImageLike, image: torch.Tensor) -> dict[str, Any]:
    """How a run's work folder (its resume check) and its output know the style: a sample by its
    name, a file by its absolute path, and an image given in memory (the Python API) by a digest
    of its pixels, with no name (:data:`~restyle.image.IN_MEMORY`: ``restyle info --command``
    leaves STYLE to fill)."""
    if isinstance(style, str) and style.startswith(SAMPLE_PREFIX):
        return {"style": style}
    if isinstance(style, (str, os.PathLike)):
        return {"style": str(Path(style).resolve())}
    pixels = to_uint8(image).numpy().tobytes()
    return {"style": IN_MEMORY, "style_pixels": hashlib.sha256(pixels).hexdigest()[:16]}


def stylize_video(
    video: str | os.PathLike,
    style: ImageLike,
    *,
    output: str | os.PathLike,
    mode: Literal["art", "photo"] = "art",
    preset: Literal["default", "dpst", "fast"] = "fast",
    size: int = 640,
    full_resolution: bool = False,
    frames: str | None = None,
    temporal_weight: float | None = None,
    long_term: bool = False,
    passes: int = 1,
    frame_iterations: int = 5,
    iterations: int | None = None,
    style_weight: float | None = None,
    content_weight: float | None = None,
    fps: float = 25.0,
    work_dir: str | os.PathLike | None = None,
    keep_frames: bool = False,
    bit_depth: Literal[8, 10, 16] = 8,
    dequantise: bool | None = None,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    seed: int = 0,
    device: str | torch.device = "auto",
    callback: Callable[[FrameProgress], None] | None = None,
    _record: Mapping[str, object] | None = None,
) -> Path:
    """Stylise a clip (a video file or a folder of frames) with temporal consistency.

    Args:
        video: the input video (anything ffmpeg reads) or a folder of frames.
        style: the style image: a path, ``sample:NAME``, or an image in memory (as
            :func:`~restyle.image.load_image` takes).
        output: the output video (.mp4, .m4v, .mov, .mkv or .avi: H.264; .webm: VP9) or a folder for
            PNG frames.
        mode: "art" (artistic) or "photo" (photorealistic).
        preset: photo mode's preset (see ``restyle photo``); ``fast`` runs in well under a
            second per frame.
        size: long side of the frames stylised, in pixels (the output's too, unless
            ``full_resolution``).
        full_resolution: photo mode: deliver the output at the source's own size; each
            stylised frame is carried up by guided upsampling, guided by its source frame
            (see :func:`restyle.smoothing.guided_upsample`).
        frames: the frames to stylise, as START:END (0-based, END exclusive).
        temporal_weight: weight of the temporal loss; 0 stylises every frame independently
            (the baseline); default: 1000 for optimised modes, 4 for the fast photo preset
            (there, the ratio of the temporal term to the frame's own result).
        long_term: also keep consistent with frames 10, 20 and 40 back (Ruder's long-term loss).
        passes: passes over the clip; more than 1 runs Ruder's multi-pass algorithm, each pass
            in the other direction, blending every frame with its warped neighbour.
        frame_iterations: L-BFGS iterations for every frame after the first.
        iterations: iterations of the first frame (default: the image pipeline's).
        style_weight: style weight (default: the image pipeline's).
        content_weight: content weight (default: the image pipeline's).
        fps: frame rate of a folder of frames, 0.001 to 1,000,000 (video files keep their own).
        work_dir: folder for finished frames, so that a stopped run continues (default: next
            to the output, OUTPUT.work).
        keep_frames: keep the work folder's frames once the output is written (to extend the
            clip with a later END, or re-encode, without redoing them); by default it is
            removed then.
        bit_depth: bits per colour channel of the output: 10 writes a video file in 10 bits
            (HEVC Main 10 in .mp4/.mkv, ProRes 422 HQ in .mov, VP9 profile 2 in .webm),
            16 a folder of 16-bit PNG frames; smooth gradients then survive grading.
        dequantise: smooth the steps of each frame's flat areas before stylising it
            (:mod:`restyle.dequantise`), so that a style that stretches a smooth gradient such
            as a clear sky does not turn each step into a band: a YUV video's in its YUV codes
            (8 bits or more), before they become RGB (:func:`restyle.clip.read_frames`), 8-bit
            RGB frames' in RGB; with ``full_resolution``, the source frames that guide the
            upsampling too. Deeper RGB frames are used as read. Default: on for the ``fast``
            photo preset, as for an image (:class:`restyle.photo.Preset`), off for the modes
            that optimise.
        max_pixels: refuse a style image, or a folder's frames, of more pixels than this
            (decompression bombs), unless ``size`` asks for smaller ones anyway: then up to 4
            times this is read, downscaled, with a warning, as a photo is. A video file's frames
            are decoded at any size. Also refuse a ``size`` (or ``full_resolution``) that makes
            frames larger than this.
        seed: random seed.
        device: "auto", "cpu", "cuda" (or "cuda:1", a GPU by number) or "mps".
        callback: called after every frame with a :class:`FrameProgress`.
        _record: more to record with the output's parameters (the web UI marks its results).

    Returns:
        The path of the output video or folder.
    """
    from restyle import __version__
    from restyle.artistic import stylize
    from restyle.device import resolve_device
    from restyle.photo import stylize_photo

    check_arguments(stylize_video, locals())
    fast = mode == "photo" and preset == "fast"
    dequantise = fast if dequantise is None else dequantise
    weight = _check_options(
        mode=mode,
        preset=preset,
        fast=fast,
        size=size,
        full_resolution=full_resolution,
        passes=passes,
        frame_iterations=frame_iterations,
        temporal_weight=temporal_weight,
        fps=fps,
        unused_if_fast={"--style-weight": style_weight, "--content-weight": content_weight, "--iterations": iterations},
    )
    check_video_extra()  # before any work: ffmpeg reads the clip, OpenCV follows its motion
    check_path_given(video, "video")
    check_path_given(output, "output")
    check_inputs({"style": style})  # before the clip's warnings (a 4K source is slow to decode)
    out = Path(output)
    check_not_an_input(out, [video, style])  # e.g. a folder of frames written into itself
    to_folder = _output_is_folder(out)
    if to_folder and bit_depth not in (8, 16):
        raise RestyleError(f"{out}: PNG frames hold 8 or 16 bits per channel, not {bit_depth}; use 16")
    if not to_folder:
        check_video_bits(out, bit_depth)
    start, end = parse_frame_range(frames)
    info = probe(video, fps=fps, max_pixels=max_pixels)
    shape = frame_shape(info, size)
    check_work_size(shape, max_pixels=max_pixels, what="the frames", value=size)
    if min(shape) < MIN_TRANSFER_SIZE:  # told here, where the frames' even sides are known
        larger = (n for n in range(size, 100 * size) if min(frame_shape(info, n)) >= MIN_TRANSFER_SIZE)
        check_size(*shape, ("relu5_1",), what=f"frame at --size {size}", option="--size", enough=next(larger, None))
    source_shape = frame_shape(info, max(info.size)) if full_resolution else None  # of the output
    # once for the clip (read_frames then takes a folder's frames of its size): the output's
    # frames at the source's size, or a folder's frames, over --max-pixels
    if source_shape is not None:
        check_pixels(f"--full-resolution: the frames of {video}", *info.size, max_pixels=max_pixels)
    elif info.is_folder:
        # its "over --max-pixels; downscaling while reading" tells nothing a video run does not
        # do anyway: every frame is brought to --size (and a slow decode is warned of below)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RestyleWarning)
            check_pixels(f"the frames of {video}", *info.size, max_pixels=max_pixels, size=max(shape))
    if not to_folder:
        cause = f"--full-resolution: the size of {video}" if source_shape is not None else f"--size {size}"
        check_video_side(out, source_shape or shape, bit_depth, cause=cause)
    # a folder of large JPEGs brought down is not slow: they are decoded at a reduced scale
    if info.size[0] * info.size[1] > LARGE_SOURCE_PIXELS and not (
        source_shape is None and decoded_smaller(info, shape)
    ):
        # "downscaled" only where it is: not to a --size as large, nor for the full-size output
        smaller = source_shape is None and max(shape) < max(info.size)
        warnings.warn(
            f"the video is {info.size[0]}x{info.size[1]}; decoding it is slow"
            + (f". It is downscaled to --size {size}" if smaller else ""),
            RestyleWarning,
            stacklevel=2,
        )
    expected = max(0, (info.frames if end is None else min(end, info.frames)) - start)  # from the header
    if not to_folder:
        check_gif_frames(out, expected, (source_shape or shape)[::-1], info.fps)  # the output's (W, H)
    style_image = load_style(style, long_side=size, max_pixels=max_pixels)
    resolve_device(device)  # an unknown device fails before any work
    settings = {
        "video": str(Path(video).resolve()),
        **_style_identity(style, style_image),
        "mode": mode,
        "preset": preset if mode == "photo" else None,
        "size": size,
        "start": start,
        "temporal_weight": weight,
        "long_term": long_term,
        "passes": passes,
        "frame_iterations": frame_iterations,
        "iterations": iterations,
        "style_weight": style_weight,
        "content_weight": content_weight,
        "dequantise": dequantise,
        "seed": seed,
    }
    folder = work_folder(out, work_dir)
    if folder.resolve() == out.resolve():  # the frames written out would be taken for work frames
        raise RestyleError(f"the work folder {folder} is the output itself; give another --work-dir")
    if mode == "art":  # once the checks are passed; photo mode takes its colours at the style's own size
        warn_if_enlarged(style_image.shape, size, "the style")
    # an error or Ctrl-C before the first frame is finished leaves no work folder behind
    with (
        _WorkFolder(folder, settings) as work,
        _SourceFrames(
            _reported(
                read_frames(info, shape=shape, start=start, end=end, dequantise=dequantise, max_pixels=max_pixels),
                estimate=expected,
                callback=callback,
            ),
            folder,
        ) as contents,
    ):
        if not contents:
            if not start:
                raise RestyleError(f"{info.path}: no frame could be read")
            length = f" (about {info.frames} frames long)" if info.frames else ""
            raise RestyleError(f"{info.path}: --frames {frames} starts after the clip's end{length}")
        total = len(contents)
        height, width = contents[0].shape[-2:]
        flows: dict[tuple[int, int], torch.Tensor] = {}
        targets: dict = {}  # style Grams, computed once for all frames
        # L-BFGS pairs carried from frame to frame: each frame's loss is nearly the
        # previous one's, so its few iterations all take curvature-scaled steps. Not for the
        # per-frame baseline (weight 0), whose frames stay independent.
        memory = LbfgsMemory() if weight > 0 else None

        def flow(a: int, b: int) -> torch.Tensor:
            if (a, b) not in flows:
                flows[(a, b)] = optical_flow(contents[a], contents[b])
                # a frame asks for two flows per frame it warps, and no later frame of its pass
                # asks for them again: only the newest are kept (a next pass computes its own)
                while len(flows) > 4 * len(LONG_TERM_OFFSETS):
                    flows.pop(next(iter(flows)))
            return flows[(a, b)]

        # the image pipeline's options: for a frame stylised in full (True) and for a later one
        frame_options = {
            first: _frame_options(
                mode=mode,
                preset=preset,
                first=first,
                size=max(height, width),  # the frames' own long side: --size rounded down to even
                seed=seed,
                device=device,
                iterations=iterations,
                frame_iterations=frame_iterations,
                style_weight=style_weight,
                content_weight=content_weight,
                dequantise=dequantise,
            )
            for first in (True, False)
        }

        def run(
            content: torch.Tensor, first: bool, temporal: tuple[torch.Tensor, Temporal] | None, number: int
        ) -> torch.Tensor:
            opts = frame_options[first]
            if mode == "art":
                result = stylize(content, style_image, _temporal=temporal, _cache=targets, _memory=memory, **opts)
            else:
                result = stylize_photo(
                    content, style_image, _temporal=None if fast else temporal, _memory=None if fast else memory, **opts
                )
            if result.status == "interrupted":
                raise KeyboardInterrupt
            if result.status == "nonfinite":  # as an image run says it, for the frame it happened to
                warnings.warn(f"frame {number}: {result.message}", RestyleWarning, stacklevel=2)
            if fast and temporal is not None:
                return _blend(result.image, temporal[1].target, temporal[1].certainty, temporal[1].weight)
            return result.image

        _stylise_passes(work, contents, start, passes, run, flow, long_term=long_term, weight=weight, callback=callback)

        out_height, out_width = source_shape or (height, width)
        frames = _finished_frames(
            work,
            passes - 1,
            contents,
            info,
            start,
            (out_height, out_width),
            bits=bit_depth,
            dequantise=dequantise,
            max_pixels=max_pixels,
        )
        recorded = {
            **settings,
            "frames": f"{start}:{start + total}",
            "full_resolution": full_resolution,
            "bit_depth": bit_depth,
            "max_pixels": max_pixels,
            "restyle_version": __version__,
            **(_record or {}),
        }
        if to_folder:
            write_frame_folder(frames, out, metadata=recorded)
        else:
            write_video(frames, out, info, start, total, (out_width, out_height), metadata=recorded, bits=bit_depth)
        if not keep_frames:
            work.remove()
        return out
