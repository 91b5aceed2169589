"""Local web UI: stylise in the browser, paint masks, watch it converge (Gradio).

``restyle serve`` starts it on 127.0.0.1. The request handlers (:func:`photo_job`,
:func:`art_job`, :func:`video_job`, :func:`auto_mask_layers`) are plain generators and
functions, testable without a browser; :func:`build_app` only lays them out.

- One job runs at a time per process (Gradio's queue shows each waiting user its place);
  a job runs in a worker thread and the handler yields previews while it optimises.
- Stop sets the session's stop flag; the optimiser then returns its best iterate, which is
  shown and offered for download like any result.
- Results are PNGs with their parameters embedded, written to this process's own temporary
  folder; Gradio serves nothing else (uploads are capped at ``max_upload_mb``).
- Masks are painted on a layer over each image in DPST's colours; unpainted pixels form one
  more region ("white"). The Auto-masks button fills those layers with automatic masks, which
  can then be edited. Left unedited, they run as automatic masks (``--auto-masks``: blended
  style targets); edited, as painted masks.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import inspect
import math
import os
import queue
import re
import shutil
import sys
import tempfile
import threading
import time
import traceback
import uuid
import warnings
from collections.abc import Callable, Generator, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import PIL.Image
import torch

from restyle.allocator import keep_freed_memory
from restyle.dequantise import on_grid
from restyle.errors import OUT_OF_MEMORY, RestyleError, check_at_least, is_out_of_memory
from restyle.files import file_stamp, name_beside
from restyle.image import (
    DEFAULT_MAX_PIXELS,
    RestyleWarning,
    camera_exif,
    check_pixels,
    heif_support,
    image_size,
    load_image,
    load_style,
    save_image,
    to_pil,
)
from restyle.masks import DPST_COLORS
from restyle.raw import RAW_SUFFIXES
from restyle.signature import check_arguments

if TYPE_CHECKING:
    from restyle.automask import AutoMasks

__all__ = [
    "VIDEO_DOWNLOADS",
    "Update",
    "art_job",
    "auto_mask_layers",
    "brush_radius",
    "build_app",
    "clip_upload",
    "editor_mask",
    "in_page_terms",
    "photo_job",
    "serve",
    "stop_jobs",
    "video_job",
    "viewable_upload",
]

#: The largest upload, in MB, by default: a RAW photo (25-80 MB), a 16-bit TIFF of 24 MP
#: (144 MB) or minutes of phone video pass; the server is on this machine, and an image's
#: decoded size is held to ``--max-pixels`` anyway.
DEFAULT_MAX_UPLOAD_MB = 500
#: The concurrency group of every event that runs the network (the tabs' jobs and the Auto-masks
#: button): one of them runs at a time, whichever tab it comes from, and the queue shows each
#: user's place. (Gradio's default is a group per event, which let a photo job and a video job
#: run at once on two cores, and each check its memory as if it ran alone.)
JOBS = "jobs"
#: Brush colours: DPST's palette; white is what is left unpainted.
BRUSH_COLORS = {name: rgb for name, rgb in DPST_COLORS.items() if name != "white"}
PREVIEW_SECONDS = 1.0  # at most one preview image per this many seconds
#: How a running job shows on the page: Gradio's runtime display only (and the queue place), not
#: its "full" animation, whose pulsing borders around the outputs kept the browser drawing: on 2
#: cores shared with the job, it took 11 s of CPU in a 43-s photo job and 3-4 s of its time
#: (``benchmarks/RESULTS.md``). The Progress box and the previews say how the job goes.
JOB_PROGRESS = "minimal"
MASK_LAYER_ALPHA = 140  # automatic masks are shown half-transparent over the photo
#: The largest working size the Photo and Artistic tabs offer (their size sliders' maximum).
MAX_SIZE = 1024
#: The mask editors' canvas (Gradio's ``canvas_size``), and the size of the layers the Auto-masks
#: button sends them. Gradio's editor centres a layer it is sent in the canvas it was built with,
#: not on the photo under it: a mask the photo's own size was shown shifted by half the
#: difference (144 x 229 pixels for a 512 x 342 photo in the default 800 x 800 canvas), and a
#: stroke painted over it came back with the whole mask shifted so and cut off. A layer the
#: canvas's size, holding the mask at its top-left corner, is shown on the photo.
EDITOR_CANVAS = MAX_SIZE
#: The mask brush's default width, as a fraction of the image's short side (Gradio's own default
#: is a 25-pixel radius on any image: 78% of a 64-px photo's width, 1.7% of a 3000-px one's).
BRUSH_WIDTH = 1 / 16
#: The largest brush radius the editor's size slider offers (Gradio 6: 1-100 pixels).
MAX_BRUSH_RADIUS = 100
# Pixels this close to a border of the automatic masks may come back from the browser's editor
# in a blended colour; a mask that differs only there counts as unedited.
EDGE_TOLERANCE = 2


#: An uploaded image as the handlers receive it: the uploaded file's path from the UI (read by
#: restyle as the CLI reads it), or a PIL image or an array from Python.
Upload = str | os.PathLike | np.ndarray | PIL.Image.Image | None


@dataclass
class Update:
    """What a running job shows: a preview image, a status line and, at the end, a file."""

    image: np.ndarray | str | None = None  # an array (a preview), or the path of a PNG (a result)
    status: str = ""
    file: str | None = None
    fraction: float | None = None  # share of the work done, for the progress bar
    notes: tuple[str, ...] = ()  # warnings raised by the work since the last update (shown as toasts)


_STOPS: dict[str, threading.Event] = {}
_STOPS_LOCK = threading.Lock()


def stop_flag(session: str) -> threading.Event:
    """The stop flag of a browser session (one job per session at a time)."""
    with _STOPS_LOCK:
        return _STOPS.setdefault(session, threading.Event())


def request_stop(session: str) -> str:
    stop_flag(session).set()
    return "stopping: the best result so far follows"


def stop_jobs() -> None:
    """Stop every job for good, as a stopping server must: the running one at its next step
    (its stop flag set), those waiting not at all; and wait for that. A job's thread still
    inside PyTorch when the interpreter exits aborted the process ("terminate called without an
    active exception", exit status 134)."""
    _WORKER.close()
    with _STOPS_LOCK:
        flags = list(_STOPS.values())
    for flag in flags:
        flag.set()
    _WORKER.wait_idle()


def _to_array(image: torch.Tensor) -> np.ndarray:
    """An image tensor as the (H, W, 3) uint8 array the UI shows."""
    return np.asarray(to_pil(image))


#: Uploads browsers cannot show, or Pillow would misread, by file name: HEIF photos (iPhones'),
#: TIFFs (only Safari shows them), and camera RAW files (a DNG would show as its small preview).
_DEVELOPED_UPLOADS = (".heic", ".heif", ".tif", ".tiff", *RAW_SUFFIXES)


def viewable_upload(upload: Mapping[str, Any] | None, *, folder: Path, max_pixels: int = DEFAULT_MAX_PIXELS) -> Any:
    """What an image field holds once a file is uploaded. Called with the upload's file
    description as Gradio received it (``path`` in Gradio's upload folder, ``orig_name``), before
    anything opens it.

    - A HEIF, TIFF or camera RAW photo is replaced by a PNG in ``folder`` of the sRGB image
      restyle reads or develops from the file, with the photo's EXIF (shown, and used from then
      on), at 16 bits where the photo has more than 8 (a RAW, a 16-bit TIFF, a 10-bit HEIF), so
      that a job reads what the CLI would.
    - A file restyle cannot read (not an image), or an image over ``max_pixels`` (the server's
      ``--max-pixels``), is taken out of the field, with a one-line warning on the page: left
      in, it would fail every job that reads it.
    - Any other upload is left as it is (``gr.skip()``); its header has been read.

    Returns:
        The PNG's path, None (the field emptied), or ``gr.skip()``.
    """
    import gradio as gr

    path = _uploaded_path(upload)
    name = Path(str((upload or {}).get("orig_name") or path))
    if not path:
        return gr.skip()
    try:
        if name.suffix.lower() not in _DEVELOPED_UPLOADS:
            width, height = image_size(path, max_pixels=max_pixels)  # a readable header
            check_pixels(path, width, height, max_pixels=max_pixels)  # as a job would refuse it, at once
            return gr.skip()
        image = load_image(path, max_pixels=max_pixels, what=name.name)
        shown = name_beside(folder / name.stem, f"-{uuid.uuid4().hex[:8]}.png", hidden=False)  # cut to fit
        bits = 8 if on_grid(image) else 16
        return str(save_image(image, shown, exif=camera_exif(path), bits=bits))
    except RestyleError as exc:
        gr.Warning(str(exc).replace(str(path), name.name))
        return None


def _mask_brush(gr: Any, radius: int | Literal["auto"] = "auto") -> Any:
    """The mask editors' brush: DPST's colours only, ``radius`` pixels (see :func:`brush_radius`)."""
    return gr.Brush(
        colors=["#{:02x}{:02x}{:02x}".format(*(round(c * 255) for c in rgb)) for rgb in BRUSH_COLORS.values()],
        color_mode="fixed",
        default_size=radius,
    )


def _mask_editor(gr: Any, value: Any, size: tuple[int, int] | None) -> Any:
    """A mask editor's update: its ``value``, and a brush fitted to an image ``size``
    ``(width, height)`` (None: the brush as it is)."""
    if size is None:
        return gr.ImageEditor(value=value)
    return gr.ImageEditor(value=value, brush=_mask_brush(gr, brush_radius(*size)))


def _editor_for_upload(upload: Mapping[str, Any] | None, *, max_pixels: int) -> Any:
    """A mask editor's update when its image field changes: the uploaded file, shown as uploaded,
    with a brush fitted to its size (the size read from the file's header; an unreadable upload
    is taken out of its field by :func:`viewable_upload`, and the editor follows)."""
    import gradio as gr

    path = _uploaded_path(upload)
    try:
        size = image_size(path, max_pixels=max_pixels) if path else None
    except RestyleError:
        size = None
    return _mask_editor(gr, path, size)


def _uploaded_path(upload: Mapping[str, Any] | None) -> str | None:
    """The file an image field holds, from its value as Gradio sends it (not preprocessed)."""
    return upload.get("path") if isinstance(upload, Mapping) else None


def _image_input(gr: Any, label: str, *, on_upload: Callable[..., Any], **options: Any) -> Any:
    """An image upload field: the uploaded file's path for the handlers (``image_mode=None``
    makes Gradio hand over the file itself, not an image it decoded and re-encoded), so that
    restyle reads its JPEG codes, 16 bits and colour profile as the CLI does; a HEIF, TIFF or
    RAW upload is shown, and used, as the PNG restyle reads from it (:func:`viewable_upload`)."""
    field = gr.Image(label=label, type="filepath", image_mode=None, format="png", **options)
    # queued (so that a warning reaches the page), outside the jobs' limit of one at a time
    field.upload(on_upload, field, field, preprocess=False, concurrency_limit=None)
    return field


def _check_image(image: Upload, what: str, max_pixels: int) -> str | np.ndarray:
    """An upload as restyle's functions take it, after the checks: a file's path as it is (read
    later as the CLI reads the file: a JPEG's codes, 16 bits, its colour profile), else an RGB
    uint8 array. A file is checked from its header; an upload over ``max_pixels`` is refused."""
    if image is None:
        raise RestyleError(f"upload a {what} image first")
    if isinstance(image, (str, os.PathLike)):
        try:
            width, height = image_size(image, max_pixels=max_pixels)
        except RestyleError as exc:  # named by the upload's name, not by Gradio's folder
            raise RestyleError(_by_name((image,))(str(exc))) from None
    elif isinstance(image, PIL.Image.Image):
        width, height = image.size
    elif image.ndim in (2, 3):
        height, width = image.shape[:2]
    else:
        height = width = 0
    if height < 1 or width < 1:
        raise RestyleError(f"the {what} image is empty")
    check_pixels(f"the {what} image", width, height, max_pixels=max_pixels)
    if isinstance(image, (str, os.PathLike)):
        return str(image)
    # uploads may be grey or RGBA: restyle.image converts them (RGBA composited on white)
    return _to_array(load_image(image, what=f"the {what} image"))


def _shape(image: str | np.ndarray, max_pixels: int) -> tuple[int, int]:
    """The upright ``(H, W)`` of a checked upload (:func:`_check_image`)."""
    if isinstance(image, str):
        width, height = image_size(image, max_pixels=max_pixels)
        return height, width
    return image.shape[:2]


def brush_radius(width: int, height: int) -> int:
    """The mask brush's default radius in image pixels for an image ``width`` x ``height``:
    :data:`BRUSH_WIDTH` of its short side across, within the editor's 1-:data:`MAX_BRUSH_RADIUS`.

    Example:
        >>> brush_radius(512, 384), brush_radius(64, 48), brush_radius(4032, 3024)
        (12, 2, 94)
    """
    if width < 1 or height < 1:
        raise ValueError(f"an image has at least one pixel on a side, not {width} x {height}")
    return min(MAX_BRUSH_RADIUS, max(1, round(min(width, height) * BRUSH_WIDTH / 2)))


def editor_mask(value: dict | None, shape: tuple[int, int]) -> np.ndarray | None:
    """The DPST-colour mask painted in an ImageEditor value, at ``shape`` ``(H, W)``.

    Painted pixels (alpha > 0 in any layer, later layers on top) take the nearest brush colour;
    unpainted pixels are white. None when nothing is painted. A layer larger than the
    background (the Auto-masks button's, :data:`EDITOR_CANVAS` square, when the editor is
    left untouched) holds the photo's mask at its top-left corner, and is cut to it.
    """
    if not value or not value.get("layers"):
        return None
    from PIL import Image

    palette = np.array(list(DPST_COLORS.values())) * 255
    background = value.get("background")
    background = np.asarray(background) if background is not None else None
    mask = np.full((*shape, 3), 255, dtype=np.uint8)
    painted = False
    for layer in value["layers"]:
        if layer is None:
            continue
        layer = np.asarray(layer)
        if layer.ndim != 3 or layer.shape[2] != 4:
            continue
        if background is not None and (layer.shape[0] > background.shape[0] or layer.shape[1] > background.shape[1]):
            layer = layer[: background.shape[0], : background.shape[1]]
        if layer.shape[:2] != shape:
            layer = np.asarray(Image.fromarray(layer).resize((shape[1], shape[0]), Image.NEAREST))
        where = layer[..., 3] > 0
        if not where.any():
            continue
        painted = True
        rgb = layer[where][:, :3].astype(np.float64)
        nearest = ((rgb[:, None, :] - palette[None]) ** 2).sum(axis=2).argmin(axis=1)
        mask[where] = palette[nearest].astype(np.uint8)
    return mask if painted else None


def _number(value: Any, field: str) -> float:
    """A number field's value. The page's sliders always send a number; a request made by hand
    can send none, or NaN (which a browser sends as null), and that was an internal error from
    inside the job.

    Example:
        >>> _number(0.5, "blend weight 1")
        0.5
        >>> _number(None, "size")
        Traceback (most recent call last):
        restyle.errors.RestyleError: size must be a number, not None
    """
    try:
        number = float(value)
    except (TypeError, ValueError):
        number = math.nan
    if not math.isfinite(number):
        raise RestyleError(f"{field} must be a number, not {value!r}")
    return number


def _whole(value: Any, field: str) -> int:
    """A number field's value as the whole number the library takes (:func:`_number`)."""
    return int(_number(value, field))


def auto_mask_layers(
    content: Upload,
    style: Upload,
    *,
    substyles: int | None = None,
    size: int = 512,
    max_pixels: int = DEFAULT_MAX_PIXELS,
):
    """Editor values for the Auto-masks button: each image with its automatic mask as a layer,
    a line describing the matching, and the :class:`~restyle.automask.AutoMasks` found (kept in
    the session, so that a run with these masks unedited uses them as automatic masks).
    ``substyles`` is the number of sub-styles (None: chosen automatically).

    The masks are found at ``size`` (the Photo tab's size), from the images as ``restyle photo
    --auto-masks`` reads them there, and shown at that size: a job uses masks at its working
    size, and a phone photo's 12-48 MP took minutes to feather and to send to the browser."""
    from restyle.automask import auto_masks

    size = _whole(size, "size")
    if size > EDITOR_CANVAS:  # the masks' long side is the size
        raise RestyleError(f"masks are shown at most {EDITOR_CANVAS} px on a side; choose a smaller size")
    content_image = load_image(
        _check_image(content, "content", max_pixels), size=size, max_pixels=max_pixels, what="the content image"
    )
    style_image = load_style(_check_image(style, "style", max_pixels), long_side=size, max_pixels=max_pixels)
    found = auto_masks(content_image, style_image, substyles=substyles)
    layers = []
    for rgb in found.colour_masks():
        height, width = rgb.shape[:2]
        layer = np.zeros((EDITOR_CANVAS, EDITOR_CANVAS, 4), dtype=np.uint8)  # see EDITOR_CANVAS
        layer[:height, :width, :3] = rgb
        layer[:height, :width, 3] = MASK_LAYER_ALPHA
        layers.append(layer)
    return (
        {"background": _to_array(content_image), "layers": [layers[0]], "composite": None},
        {"background": _to_array(style_image), "layers": [layers[1]], "composite": None},
        found.describe().replace("\n", " "),
        found,
    )


def _same_away_from_borders(expected: np.ndarray, painted: np.ndarray) -> bool:
    """Whether two colour masks ``(H, W, 3)`` agree on every pixel more than ``EDGE_TOLERANCE``
    pixels (city-block) from a pixel of another colour in ``expected`` (the browser's editor
    blends colours along edges)."""
    from scipy.ndimage import binary_dilation

    if expected.shape != painted.shape:
        return False
    down = (expected[1:] != expected[:-1]).any(axis=2)
    across = (expected[:, 1:] != expected[:, :-1]).any(axis=2)
    near = np.zeros(expected.shape[:2], dtype=bool)  # first: the pixels next to another colour
    near[1:] |= down
    near[:-1] |= down
    near[:, 1:] |= across
    near[:, :-1] |= across
    if EDGE_TOLERANCE > 1:
        near = binary_dilation(near, iterations=EDGE_TOLERANCE - 1)
    return bool(((expected == painted).all(axis=2) | near).all())


def _unedited(found: AutoMasks | None, content_editor: dict | None, style_editor: dict | None) -> bool:
    """Whether the masks painted in the editors are still the automatic masks ``found`` (or
    None), at the size they were found, up to the editor's blending along their borders."""
    if found is None:
        return False
    content_rgb, style_rgb = found.colour_masks()
    content_mask = editor_mask(content_editor, content_rgb.shape[:2])
    style_mask = editor_mask(style_editor, style_rgb.shape[:2])
    if content_mask is None or style_mask is None:
        return False
    return _same_away_from_borders(content_rgb, content_mask) and _same_away_from_borders(style_rgb, style_mask)


#: The update queues of the running jobs, by the identity of their worker threads.
_JOB_QUEUES: dict[int, queue.Queue] = {}


def _route_warnings() -> None:
    """Have a :class:`RestyleWarning` raised in a job's worker thread reach that job too (its page
    shows it), besides being shown as before; every one is shown, not once per process. Installed
    once, before the first job starts."""
    shown = warnings.showwarning
    if getattr(shown, "routes_restyle_warnings", False):
        return

    def show(message: Warning | str, category: type[Warning], *args: Any, **kwargs: Any) -> None:
        updates = _JOB_QUEUES.get(threading.get_ident())
        if updates is not None and issubclass(category, RestyleWarning):
            updates.put(("warning", str(message)))
        shown(message, category, *args, **kwargs)

    show.routes_restyle_warnings = True  # type: ignore[attr-defined]
    warnings.showwarning = show
    warnings.filterwarnings("always", category=RestyleWarning)


class _Worker:
    """The one thread that runs all of the web UI's network work (the jobs and the Auto-masks
    button), one task after another, for as long as the server runs.

    Why not a thread per job: each thread that runs PyTorch's CPU kernels gets its own OpenMP
    team, and the Auto-masks button ran in yet another (Gradio's). With one thread, and the one
    ``malloc`` arena :mod:`restyle.allocator` asks for, a photo job on a phone photo after the
    button faulted 21-45 thousand pages against 110-960 thousand (``benchmarks/RESULTS.md``).
    A daemon thread, but a stopped server waits for its task (:func:`stop_jobs`): a thread still
    inside PyTorch when the interpreter exits aborts the process.
    """

    def __init__(self) -> None:
        self._tasks: queue.Queue[Callable[[], None]] = queue.Queue()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._idle = threading.Condition()
        self._pending = 0  # tasks submitted and not yet finished
        self._closed = False

    def submit(self, task: Callable[[], None]) -> None:
        """Run ``task()`` after the tasks before it (it handles its own errors)."""
        with self._lock:
            if self._thread is None or not self._thread.is_alive():
                keep_freed_memory()  # before the thread starts: it then shares the main heap
                self._thread = threading.Thread(target=self._loop, name="restyle-work", daemon=True)
                self._thread.start()
        with self._idle:
            self._pending += 1
        self._tasks.put(task)

    def busy(self) -> bool:
        """Whether a task runs or waits."""
        with self._idle:
            return self._pending > 0

    def close(self) -> None:
        """Run no more tasks: those waiting are dropped (the server is stopping)."""
        with self._idle:
            self._closed = True

    def wait_idle(self, poll: float = 0.25) -> None:
        """Wait until no task runs or waits (in short waits, so that Ctrl-C is seen)."""
        with self._idle:
            while self._pending:
                self._idle.wait(poll)

    def call(self, function: Callable[[], Any]) -> Any:
        """``function()``'s result (or exception), computed in the worker; waits for it."""
        done: queue.Queue[tuple[bool, Any]] = queue.Queue()

        def task() -> None:
            try:
                done.put((True, function()))
            except BaseException as exc:  # handed back to the caller, raised there
                done.put((False, exc))

        self.submit(task)
        ok, value = done.get()
        if not ok:
            raise value
        return value

    def _loop(self) -> None:
        while True:
            task = self._tasks.get()
            try:
                if not self._closed:
                    task()
            finally:
                with self._idle:
                    self._pending -= 1
                    self._idle.notify_all()


_WORKER = _Worker()


def _run(work: Callable[[Callable[[Any], None]], Any], stop: threading.Event) -> Iterator[tuple[str, Any]]:
    """Run ``work(callback)`` in the worker thread (:class:`_Worker`); yield ("iterate", it) for
    callbacks and ("warning", message) for each :class:`RestyleWarning` it raises, then ("done",
    result) or ("error", message). A set stop flag makes the next callback interrupt the work;
    so does closing this generator (the page that ran the job went away), so that the next job
    does not wait for one nobody will see."""
    updates: queue.Queue = queue.Queue()
    abandoned = threading.Event()
    _route_warnings()

    def callback(item: Any) -> None:
        if stop.is_set() or abandoned.is_set():
            raise KeyboardInterrupt
        updates.put(("iterate", item))

    def target() -> None:
        _JOB_QUEUES[threading.get_ident()] = updates
        try:
            updates.put(("done", work(callback)))
        except RestyleError as exc:
            updates.put(("error", str(exc)))
        except KeyboardInterrupt:
            updates.put(("error", "stopped"))
        except Exception as exc:  # a bug, not a user error: log it, show one line
            if is_out_of_memory(exc):
                updates.put(("error", in_page_terms(OUT_OF_MEMORY)))
                return
            traceback.print_exc()
            updates.put(("error", f"internal error: {type(exc).__name__}: {exc}"))
        finally:
            _JOB_QUEUES.pop(threading.get_ident(), None)

    _WORKER.submit(target)
    ended = False
    try:
        while not ended:
            kind, value = updates.get()
            ended = kind in ("done", "error")
            yield kind, value
    finally:
        if not ended:
            abandoned.set()


def _eta(it: Any) -> str:
    left = it.seconds_left  # from the work done, not the iterations (restyle.optim.Schedule)
    return "" if left is None else f", about {left:.0f} s left"


#: The download formats offered: label -> (suffix, bits per channel).
DOWNLOADS = {"PNG": (".png", 8), "PNG, 16 bits": (".png", 16), "TIFF, 16 bits": (".tif", 16)}


#: The Video tab's choice for an animated GIF.
GIF_DOWNLOAD = "GIF (loops, no sound)"
#: The Video tab's download formats: label -> (suffix, bits per channel); see
#: :func:`restyle.video.stylize_video`'s ``bit_depth``.
VIDEO_DOWNLOADS = {
    "MP4 (H.264)": (".mp4", 8),
    "MP4, 10 bits (HEVC)": (".mp4", 10),
    "MOV, 10 bits (ProRes 422 HQ)": (".mov", 10),
    GIF_DOWNLOAD: (".gif", 8),
}


def _download_format(download: str, choices: Mapping[str, tuple[str, int]] = DOWNLOADS) -> tuple[str, int]:
    if download not in choices:
        raise RestyleError(f"unknown download format {download!r}: choose from {', '.join(choices)}")
    return choices[download]


def _previews(
    work: Callable[[Callable[[Any], None]], Any],
    stop: threading.Event,
    show: Callable[[Any], Update],
    *,
    note: Callable[[str], str] = str,
) -> Generator[Update, None, tuple[str, Any, tuple[str, ...]]]:
    """Run ``work`` (see :func:`_run`), yielding ``show(iterate)`` at most once per
    :data:`PREVIEW_SECONDS`, with the warnings raised since the last update (each passed through
    ``note``). Returns how it ended, ``("done", result)`` or ``("error", message)``, with the
    warnings not yet shown."""
    last = -math.inf  # not 0.0: perf_counter's zero is arbitrary (Linux: boot), so the first could wait
    notes: list[str] = []
    for kind, value in _run(work, stop):
        if kind == "warning":
            notes.append(note(value))
        elif kind == "iterate":
            now = time.perf_counter()
            if now - last >= PREVIEW_SECONDS:
                last = now
                yield dataclasses.replace(show(value), notes=tuple(notes))
                notes.clear()
        else:
            return kind, value, tuple(notes)
    return "error", "the job ended without a result", tuple(notes)  # _run always ends with one of them


#: The command line's options in messages, as the page names their fields.
PAGE_TERMS = {
    "--size": "size",
    "--style-scale": "style scale",
    "--style-weight": "style weight",
    "--photo-weight": "photorealism weight",
    "--content-weight": "content weight",
    "--iterations": "iterations",
    "--substyles": "sub-styles",
    "--preset": "preset",
    "--preserve-color": "preserve colour",
    "--mode": "mode",
    "--frames": "frames",
    "--full-resolution": "full resolution",
}
_OPTION = re.compile(r"--[a-z][a-z-]*[a-z]")


def in_page_terms(message: str) -> str:
    """A library message in the page's words: an option that is a field on the page is named
    as the field (``try a smaller --size`` becomes ``try a smaller size``).

    Example:
        >>> in_page_terms("enlarged 3.0 times: its detail comes out soft (--size 32 keeps its own size)")
        'enlarged 3.0 times: its detail comes out soft (size 32 keeps its own size)'
    """
    return _OPTION.sub(lambda option: PAGE_TERMS.get(option.group(), option.group()), message)


def _by_name(uploads: Sequence[object]) -> Callable[[str], str]:
    """A function that puts a message in the page's words: each uploaded file named by its
    name, not by the path of the server's copy (Gradio's folder, which means nothing to the
    user), and options by their fields (:func:`in_page_terms`)."""
    paths = sorted({str(u) for u in uploads if isinstance(u, (str, os.PathLike))}, key=len, reverse=True)

    def named(message: str) -> str:
        for path in paths:
            message = message.replace(path, Path(path).name)
        return in_page_terms(message)

    return named


#: The inputs a result records by name, which in the web UI are temporary uploads.
UPLOAD_KEYS = ("content", "style", "styles")


def _image_job(
    work: Callable[[Callable[[Any], None]], Any],
    stop: threading.Event,
    folder: Path,
    name: str,
    *,
    uploads: Sequence[object] = (),
    exif: bytes | None = None,
    output_format: tuple[str, int] = DOWNLOADS["PNG"],
) -> Iterator[Update]:
    """A photo or art job's stream of :class:`Update`; its errors and warnings name the
    ``uploads`` it reads by their names."""
    suffix, bits = output_format
    stop.clear()
    started = time.perf_counter()

    def show(it: Any) -> Update:
        status = f"scale {it.scale + 1}/{it.scales}, iteration {it.step}/{it.steps}{_eta(it)}"
        return Update(_to_array(it.image), status, fraction=it.work / it.total_work if it.total_work else None)

    named = _by_name(uploads)
    kind, value, notes = yield from _previews(work, stop, show, note=named)
    if kind == "error":
        raise RestyleError(named(value))
    result = value
    if result.stopped_at_start:  # Stop before the first step: the content photo is no result
        raise RestyleError("stopped before any result")
    path = folder / f"{name}-{time.strftime('%Y%m%d-%H%M%S')}-{uuid.uuid4().hex[:6]}{suffix}"
    # the uploads' paths were the server's temporary copies: not recorded (the styles' count is)
    recorded = {"restyle_web": name, **{k: v for k, v in result.metadata().items() if k not in UPLOAD_KEYS}}
    if "styles" in result.params:
        recorded["styles"] = [None] * len(result.params["styles"])
    save_image(result.image, path, metadata=recorded, exif=exif, bits=bits)
    # The result is shown losslessly: as the download itself when that is an 8-bit PNG, else as an
    # 8-bit PNG of it. Gradio would encode an array as a lossy WebP (quality 80, colours at half
    # resolution), 3-4 levels off on average at 512 px: not what a photographer should judge.
    shown = (
        path if (suffix, bits) == (".png", 8) else save_image(result.image, path.with_name(f"{path.stem}-shown.png"))
    )
    seconds = time.perf_counter() - started
    ended = "stopped early: best result so far" if result.status == "interrupted" else "done"
    yield Update(str(shown), f"{ended} in {seconds:.0f} s; {_command_line(recorded, path)}", str(path), notes=notes)


def _command_line(recorded: dict[str, Any], path: Path) -> str:
    """The status line's pointer to the CLI: the command that makes a web result again, for a
    folder of photos say (:func:`restyle.cli.result_command`; the files' places named)."""
    import shlex

    from restyle.cli import result_command

    words, _ = result_command(recorded, path, output=Path(f"result{path.suffix}"))
    return "the same from the command line: " + shlex.join(words)


#: The photo tab's weight sliders, in the order they appear, as ``stylize_photo`` names them.
PHOTO_WEIGHTS = ("style_weight", "photo_weight", "content_weight")


def preset_sliders(preset: str) -> tuple[float, float, float]:
    """The photo tab's weight sliders (base-10 logarithms, as they show them) set to a preset's
    own weights, so that a user starts from what the CLI and the API run."""
    from restyle.photo import PRESETS

    chosen = PRESETS[preset]
    return tuple(round(math.log10(getattr(chosen, name)), 3) for name in PHOTO_WEIGHTS)  # type: ignore[return-value]


def slider_weights(preset: str, *values: float) -> dict[str, float | None]:
    """``stylize_photo``'s weights from the photo tab's sliders: None (the preset's own weight,
    exactly, where the slider's rounded logarithm would miss it: 10^1.301 is not 20) for a
    slider left at the preset's value, ``10^value`` otherwise.

    Example:
        >>> slider_weights("default", 2.0, 4.0, 2.0)
        {'style_weight': None, 'photo_weight': None, 'content_weight': 100.0}
    """
    defaults = preset_sliders(preset)
    values = tuple(_number(value, name.replace("_", " ")) for name, value in zip(PHOTO_WEIGHTS, values, strict=True))
    return {
        name: None if abs(value - default) < 1e-9 else 10.0**value
        for name, value, default in zip(PHOTO_WEIGHTS, values, defaults, strict=True)
    }


def art_default(name: str) -> Any:
    """The default of one of :func:`restyle.artistic.stylize`'s options (the art tab starts there)."""
    from restyle.artistic import stylize

    return inspect.signature(stylize).parameters[name].default


def photo_job(
    content: Upload,
    style: Upload,
    content_editor: dict | None,
    style_editor: dict | None,
    *,
    preset: str = "default",
    size: int = 512,
    full_resolution: bool = False,
    style_weight: float | None = None,
    photo_weight: float | None = None,
    content_weight: float | None = None,
    auto: AutoMasks | None = None,
    download: str = "PNG",
    stop: threading.Event,
    folder: Path,
    max_pixels: int = DEFAULT_MAX_PIXELS,
) -> Iterator[Update]:
    """Photorealistic transfer with painted (or no) masks, as a stream of :class:`Update`; the
    result is offered as ``download`` (one of :data:`DOWNLOADS`).

    ``auto`` is what the Auto-masks button found (:func:`auto_mask_layers`). While the painted
    masks are still those (up to the editor's blending along borders), the run treats them as
    automatic masks, as ``restyle photo --auto-masks`` does (each region's style target blended
    with its side of the style); once edited, they are painted masks like any other (DPST's
    region-to-region loss).
    """
    from restyle.photo import stylize_photo

    output_format = _download_format(download)  # before any work
    size = _whole(size, "size")
    exif = camera_exif(content)  # the upload's camera and date, for the download
    content = _check_image(content, "content", max_pixels)
    style = _check_image(style, "style", max_pixels)
    mask_options: dict[str, Any] = {}
    if _unedited(auto, content_editor, style_editor):
        # the masks the user saw, not a new segmentation
        mask_options = {"auto_masks": auto}
    c_mask = None if mask_options else editor_mask(content_editor, _shape(content, max_pixels))
    s_mask = None if mask_options else editor_mask(style_editor, _shape(style, max_pixels))
    if (c_mask is None) != (s_mask is None):
        raise RestyleError("paint masks on both images, or on neither")
    if c_mask is not None:
        for key, mask in (("content_mask", c_mask), ("style_mask", s_mask)):
            path = folder / f"{key}-{uuid.uuid4().hex[:8]}.png"
            save_image(load_image(mask), path)
            mask_options[key] = str(path)
        mask_options["mask_palette"] = "dpst"  # painted in the brush's colours

    def work(callback: Callable[[Any], None]) -> Any:
        return stylize_photo(
            content,
            style,
            preset=preset,
            size=size,
            full_resolution=bool(full_resolution),
            style_weight=style_weight,
            photo_weight=photo_weight,
            content_weight=content_weight,
            max_pixels=max_pixels,
            callback=callback,
            **mask_options,
        )

    yield from _image_job(work, stop, folder, "photo", uploads=(content, style), exif=exif, output_format=output_format)


def art_job(
    content: Upload,
    styles: list[Upload],
    blend: list[float],
    *,
    preserve_color: str = "none",
    size: int = 512,
    style_weight: float | None = None,
    style_scale: float | None = None,
    iterations: int | None = None,
    download: str = "PNG",
    stop: threading.Event,
    folder: Path,
    max_pixels: int = DEFAULT_MAX_PIXELS,
) -> Iterator[Update]:
    """Artistic transfer with one or more styles, as a stream of :class:`Update`; the result
    is offered as ``download`` (one of :data:`DOWNLOADS`). Options left None are
    :func:`restyle.artistic.stylize`'s defaults."""
    from restyle.artistic import stylize

    output_format = _download_format(download)  # before any work
    size = _whole(size, "size")
    exif = camera_exif(content)
    content = _check_image(content, "content", max_pixels)
    chosen = [(i, s, w) for i, (s, w) in enumerate(zip(styles, blend)) if s is not None]
    if not chosen:
        raise RestyleError("upload at least one style image")
    images = [_check_image(s, "style", max_pixels) for _, s, _ in chosen]
    weights = [_number(w, f"blend weight {i + 1}") for i, _, w in chosen]

    chosen_options = {
        "style_weight": style_weight,
        "style_scale": None if style_scale is None else _number(style_scale, "style scale"),
        "iterations": None if iterations is None else _whole(iterations, "iterations"),
    }

    def work(callback: Callable[[Any], None]) -> Any:
        return stylize(
            content,
            images,
            style_blend=weights,
            preserve_color=preserve_color,
            size=size,
            max_pixels=max_pixels,
            callback=callback,
            **{name: value for name, value in chosen_options.items() if value is not None},
        )

    yield from _image_job(work, stop, folder, "art", uploads=(content, *images), exif=exif, output_format=output_format)


def clip_upload(clip: str | None, gif: str | None) -> str | None:
    """The Video tab's source: the uploaded clip, or the animated GIF uploaded beside it
    (Gradio's video field takes no GIF). Both at once is an error: which was meant is unclear."""
    if clip and gif:
        raise RestyleError("both a clip and a GIF are uploaded: remove the one not meant")
    return clip or gif


def video_job(
    video: str | None,
    style: Upload,
    *,
    mode: str = "photo",
    preset: str = "fast",
    size: int = 480,
    full_resolution: bool = False,
    max_frames: int = 60,
    download: str = "MP4 (H.264)",
    stop: threading.Event,
    folder: Path,
    max_pixels: int = DEFAULT_MAX_PIXELS,
) -> Iterator[Update]:
    """Video transfer: yields the latest frame and progress, then the video file, written as
    ``download`` (one of :data:`VIDEO_DOWNLOADS`)."""
    from restyle.video import stylize_video, work_folder, work_frames

    suffix, bits = _download_format(download, VIDEO_DOWNLOADS)  # before any work
    size, max_frames = _whole(size, "size"), _whole(max_frames, "frames")
    if not video:
        raise RestyleError("upload a clip or an animated GIF first")
    style = _check_image(style, "style", max_pixels)
    style_image = load_image(style, max_pixels=max_pixels, what="the style image")
    # files named by what they are made from: the same clip, style and settings run again after
    # a stop find their finished frames in the output's work folder, and continue from there
    style_path = folder / f"style-{hashlib.sha256(style_image.numpy().tobytes()).hexdigest()[:16]}.png"
    if not style_path.exists():
        save_image(style_image, style_path)
    recipe = [file_stamp(video), style_path.name, mode, preset, size, bool(full_resolution), max_frames, bits]
    output = folder / f"video-{hashlib.sha256(repr(recipe).encode()).hexdigest()[:16]}{suffix}"
    stop.clear()
    if output.exists():  # finished before, from the same clip, style and settings
        yield Update(None, "done (made earlier with these settings)", str(output))
        return
    kept = work_frames(work_folder(output))
    yield Update(None, f"continuing after {kept} finished frames" if kept else "reading the clip")
    latest: list[Any] = []  # the last frame finished, shown when the job ends (previews skip some)

    def work(callback: Callable[[Any], None]) -> Any:
        def keep(progress: Any) -> None:
            if progress.stage == "stylise":
                latest[:] = [progress.image]
            callback(progress)

        return stylize_video(
            video,
            style_path,
            output=output,
            mode=mode,
            preset=preset,
            size=size,
            full_resolution=bool(full_resolution),
            frames=f"0:{max_frames}",
            bit_depth=bits,
            max_pixels=max_pixels,
            callback=keep,
            _record={"restyle_web": "video"},
        )

    def show(progress: Any) -> Update:
        if progress.stage == "read":  # the source frame itself, as the clip is read
            if progress.index + 1 == progress.total:
                return Update(_to_array(progress.image), "stylising the first frame in full")
            status = f"reading frame {progress.index + 1} of about {progress.total}"
            return Update(_to_array(progress.image), status, fraction=(progress.index + 1) / progress.total)
        status = f"frame {progress.index + 1}/{progress.total}, {progress.seconds:.1f} s/frame"
        if progress.eta == progress.eta:  # not NaN
            status += f", about {progress.eta:.0f} s left"
        return Update(_to_array(progress.image), status, fraction=(progress.index + 1) / progress.total)

    named = _by_name((video,))  # warnings and errors name the clip as the user does
    kind, value, notes = yield from _previews(work, stop, show, note=named)
    if kind == "error" and value != "stopped":
        raise RestyleError(named(value))
    last = _to_array(latest[0]) if latest else None  # stays on screen, not cleared
    if kind == "error":
        done = work_frames(work_folder(output))
        stopped = (
            f"stopped after {done} frame{'s' * (done != 1)}; Stylise video with the same settings continues from there"
            if done
            else "stopped before the first frame was finished"
        )
        yield Update(last, stopped, notes=notes)
    else:
        yield Update(last, "done", str(value), notes=notes)


def build_app(*, max_pixels: int = DEFAULT_MAX_PIXELS, folder: Path | None = None) -> Any:
    """The Gradio Blocks app (not launched)."""
    import gradio as gr

    heif_support()  # HEIC uploads (iPhone photos) open like any other, when pillow-heif is installed
    folder = Path(folder or tempfile.mkdtemp(prefix="restyle-web-"))
    brush = _mask_brush(gr)

    def errors_as_messages(job: Callable[..., Iterator[Update]]) -> Callable[..., Iterator[tuple]]:
        def handler(request: gr.Request, progress: Any = gr.Progress(), *args: Any) -> Iterator[tuple]:  # noqa: B008
            stop = stop_flag(request.session_hash or "local")
            try:
                for update in job(*args, stop=stop):
                    for note in update.notes:
                        gr.Warning(note)
                    if update.fraction is not None:
                        progress(update.fraction, desc=update.status)
                    yield update.image, update.status, update.file
            except RestyleError as exc:
                raise gr.Error(str(exc), print_exception=False) from None

        # Gradio finds the request parameter by its annotation, which must be the class itself
        # (this module's annotations are strings: ``from __future__ import annotations``).
        handler.__annotations__["request"] = gr.Request
        # named as its job, so that the page's API names the endpoints /photo, /art and /video
        # (Gradio names them by their function: they were /handler, /handler_1 and /handler_2)
        handler.__name__ = handler.__qualname__ = job.__name__
        return handler

    def photo(content, style, c_edit, s_edit, found, preset, size, full, sw, pw, cw, download, *, stop):
        return photo_job(
            content, style, c_edit, s_edit, preset=preset, size=size, full_resolution=full,
            **slider_weights(preset, sw, pw, cw), auto=found, download=download, stop=stop, folder=folder,
            max_pixels=max_pixels,
        )  # fmt: skip

    def art(content, s1, s2, s3, w1, w2, w3, preserve, size, sw, scale, iterations, download, *, stop):
        return art_job(
            content, [s1, s2, s3], [w1, w2, w3], preserve_color=preserve, size=size,
            style_weight=10.0 ** _number(sw, "style weight"),
            style_scale=scale, iterations=iterations, download=download, stop=stop, folder=folder,
            max_pixels=max_pixels,
        )  # fmt: skip

    def video(clip, gif, style, mode, preset, size, full, frames, download, *, stop):
        return video_job(
            clip_upload(clip, gif), style, mode=mode, preset=preset, size=size, full_resolution=full, max_frames=frames,
            download=download, stop=stop, folder=folder, max_pixels=max_pixels,
        )  # fmt: skip

    def auto(content, style, substyles, size):
        try:
            count = None if substyles == "auto" else int(substyles)
            c_edit, s_edit, info, found = _WORKER.call(
                lambda: auto_mask_layers(content, style, substyles=count, size=size, max_pixels=max_pixels)
            )
        except RestyleError as exc:
            raise gr.Error(str(exc), print_exception=False) from None
        # each editor's brush fitted to the image it now shows (the masks' size, not the upload's)
        editors = [_mask_editor(gr, v, v["background"].shape[1::-1]) for v in (c_edit, s_edit)]
        return *editors, info, found

    def stop(request: gr.Request) -> str:
        return request_stop(request.session_hash or "local")

    stop.__annotations__["request"] = gr.Request
    on_upload = functools.partial(viewable_upload, folder=folder, max_pixels=max_pixels)
    editor_for_upload = functools.partial(_editor_for_upload, max_pixels=max_pixels)

    with gr.Blocks(title="restyle", analytics_enabled=False) as app:
        gr.Markdown("# restyle\nNeural style transfer on your own machine: photorealistic, artistic and video.")
        with gr.Tab("Photo"):
            _photo_tab(
                gr, run=errors_as_messages(photo), auto=auto, stop=stop, brush=brush, on_upload=on_upload,
                editor_for_upload=editor_for_upload,
            )  # fmt: skip
        with gr.Tab("Artistic"):
            _art_tab(gr, run=errors_as_messages(art), stop=stop, on_upload=on_upload)
        with gr.Tab("Video"):
            _video_tab(gr, run=errors_as_messages(video), stop=stop, on_upload=on_upload)
    app.queue(default_concurrency_limit=1, max_size=20)
    app.restyle_folder = folder  # type: ignore[attr-defined]
    return app


def _photo_tab(
    gr: Any,
    *,
    run: Callable[..., Any],
    auto: Callable[..., Any],
    stop: Callable[..., Any],
    brush: Any,
    on_upload: Callable[..., Any],
    editor_for_upload: Callable[..., Any],
) -> None:
    """The Photo tab's layout and events, inside the current ``gr.Tab``."""
    with gr.Row():
        p_content = _image_input(gr, "Content photo", on_upload=on_upload, elem_id="photo-content")
        p_style = _image_input(gr, "Style photo", on_upload=on_upload, elem_id="photo-style")
    with gr.Accordion("Masks (optional): paint regions in the same colours on both images", open=False):
        with gr.Row():
            # format: the editors send their layers back as PNG; as WebP (Gradio's default, lossy)
            # a mask's green (0, 255, 0) at alpha 140 came back as (0, 2-36, 0) and read as black
            canvas = {"canvas_size": (EDITOR_CANVAS, EDITOR_CANVAS), "format": "png"}
            p_cmask = gr.ImageEditor(label="Content mask", type="numpy", brush=brush, elem_id="photo-cmask", **canvas)
            p_smask = gr.ImageEditor(label="Style mask", type="numpy", brush=brush, elem_id="photo-smask", **canvas)
        with gr.Row():
            p_auto = gr.Button("Auto masks", elem_id="photo-auto")
            p_substyles = gr.Dropdown(
                ["auto", *map(str, range(1, len(DPST_COLORS) + 1))], value="auto", label="Sub-styles", min_width=80
            )
            p_auto_info = gr.Markdown(elem_id="photo-auto-info")
            p_auto_found = gr.State(None)  # what the button found, for a run with its masks unedited
    with gr.Row():
        p_preset = gr.Dropdown(["default", "fast", "dpst"], value="default", label="Preset")
        p_size = gr.Slider(64, MAX_SIZE, value=512, step=16, label="Size (long side)", elem_id="photo-size")
        p_full = gr.Checkbox(False, label="Full resolution (the result carried up to the photo's size)")
    with gr.Row():
        # the weights span orders of magnitude: the sliders set their base-10 logarithm
        # (they start at the preset's own weights and follow the preset's choice)
        sw0, pw0, cw0 = preset_sliders("default")
        p_sw = gr.Slider(0, 6, value=sw0, step=0.25, label="Style weight (10^x)")
        p_pw = gr.Slider(0, 8, value=pw0, step=0.25, label="Photorealism weight (10^x)")
        p_cw = gr.Slider(-1, 3, value=cw0, step=0.1, label="Content weight (10^x)")
    p_preset.change(preset_sliders, p_preset, [p_sw, p_pw, p_cw], queue=False)
    with gr.Row():
        p_run = gr.Button("Stylise", variant="primary", elem_id="photo-run")
        p_stop = gr.Button("Stop", elem_id="photo-stop")
    p_status = gr.Textbox(label="Progress", interactive=False, elem_id="photo-status")
    p_out = gr.Image(label="Result", type="numpy", interactive=False, elem_id="photo-result")
    p_download = _download_choice(gr)
    p_file = gr.File(label="Download (with its parameters)", elem_id="photo-file")
    # each mask editor shows its image as uploaded, with a brush fitted to its size
    p_content.change(editor_for_upload, p_content, p_cmask, queue=False, preprocess=False)
    p_style.change(editor_for_upload, p_style, p_smask, queue=False, preprocess=False)
    p_auto.click(
        auto,
        [p_content, p_style, p_substyles, p_size],
        [p_cmask, p_smask, p_auto_info, p_auto_found],
        concurrency_id=JOBS,
    )
    p_run.click(
        run,
        [p_content, p_style, p_cmask, p_smask, p_auto_found, p_preset, p_size, p_full, p_sw, p_pw, p_cw, p_download],
        [p_out, p_status, p_file],
        concurrency_id=JOBS,
        show_progress=JOB_PROGRESS,
    )
    p_stop.click(stop, None, p_status, queue=False)


def _download_choice(gr: Any) -> Any:
    """The result's file format; 16 bits keep smooth gradients for editing."""
    return gr.Radio(list(DOWNLOADS), value="PNG", label="Download as (16 bits: for further editing)")


def _art_tab(gr: Any, *, run: Callable[..., Any], stop: Callable[..., Any], on_upload: Callable[..., Any]) -> None:
    """The Artistic tab's layout and events, inside the current ``gr.Tab``."""
    with gr.Row():
        a_content = _image_input(gr, "Content", on_upload=on_upload)
        a_styles = [_image_input(gr, f"Style {i + 1}", on_upload=on_upload) for i in range(3)]
    with gr.Row():
        a_weights = [gr.Slider(0, 1, value=1.0, step=0.05, label=f"Blend weight {i + 1}") for i in range(3)]
    with gr.Row():
        a_preserve = gr.Radio(["none", "luminance", "histogram"], value="none", label="Preserve colour")
        a_size = gr.Slider(64, MAX_SIZE, value=512, step=16, label="Size (long side)")
        a_sw = gr.Slider(0, 6, value=math.log10(art_default("style_weight")), step=0.25, label="Style weight (10^x)")
        # the style image's size against the content's: larger brush strokes and motifs above 1
        a_scale = gr.Slider(0.25, 2, value=art_default("style_scale"), step=0.05, label="Style scale (stroke size)")
        a_iter = gr.Slider(1, 500, value=art_default("iterations"), step=1, label="Iterations at full size")
    with gr.Row():
        a_run = gr.Button("Stylise", variant="primary")
        a_stop = gr.Button("Stop")
    a_status = gr.Textbox(label="Progress", interactive=False)
    a_out = gr.Image(label="Result", type="numpy", interactive=False)
    a_download = _download_choice(gr)
    a_file = gr.File(label="Download (with its parameters)")
    a_run.click(
        run,
        [a_content, *a_styles, *a_weights, a_preserve, a_size, a_sw, a_scale, a_iter, a_download],
        [a_out, a_status, a_file],
        concurrency_id=JOBS,
        show_progress=JOB_PROGRESS,
    )
    a_stop.click(stop, None, a_status, queue=False)


def _video_tab(gr: Any, *, run: Callable[..., Any], stop: Callable[..., Any], on_upload: Callable[..., Any]) -> None:
    """The Video tab's layout and events, inside the current ``gr.Tab``."""
    with gr.Row():
        with gr.Column():
            v_clip = gr.Video(label="Clip", sources=["upload"], elem_id="video-clip")
            # Gradio's video field takes video/* files only; an animated GIF comes in here
            v_gif = gr.File(label="... or an animated GIF", file_types=[".gif"], height=120, elem_id="video-gif")
        v_style = _image_input(gr, "Style", on_upload=on_upload, elem_id="video-style")
    with gr.Row():
        v_mode = gr.Radio(["photo", "art"], value="photo", label="Mode")
        v_preset = gr.Dropdown(["fast", "default"], value="fast", label="Photo preset")
        v_size = gr.Slider(64, 1280, value=480, step=16, label="Size (long side)", elem_id="video-size")
        v_full = gr.Checkbox(False, label="Full resolution (photo mode: the clip's own size)")
        v_frames = gr.Slider(1, 2000, value=60, step=1, label="Frames (from the start)", elem_id="video-frames")
    v_download = gr.Radio(
        list(VIDEO_DOWNLOADS), value="MP4 (H.264)", label="Download as (10 bits: for grading)", elem_id="video-download"
    )
    with gr.Row():
        v_run = gr.Button("Stylise video", variant="primary", elem_id="video-run")
        v_stop = gr.Button("Stop", elem_id="video-stop")
    v_status = gr.Textbox(label="Progress", interactive=False, elem_id="video-status")
    v_preview = gr.Image(label="Latest frame", interactive=False)
    v_file = gr.File(label="Download video", elem_id="video-file")
    v_run.click(
        run,
        [v_clip, v_gif, v_style, v_mode, v_preset, v_size, v_full, v_frames, v_download],
        [v_preview, v_status, v_file],
        concurrency_id=JOBS,
        show_progress=JOB_PROGRESS,
    )
    v_stop.click(stop, None, v_status, queue=False)
    # a GIF in: a GIF out, unless the user then chooses otherwise
    v_gif.upload(lambda: GIF_DOWNLOAD, None, v_download, concurrency_limit=None)


def serve(
    *,
    host: str = "127.0.0.1",
    port: int = 7860,
    max_upload_mb: int = DEFAULT_MAX_UPLOAD_MB,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    block: bool = True,
) -> Any:
    """Start the web UI. Returns the app (when ``block`` is False, the server runs in a thread).
    A blocking server runs until Ctrl-C (or SIGTERM); then it stops a running job at its next
    step (:func:`stop_jobs`) and deletes its temporary folder: the uploads and the results,
    which the page offered for download.

    Args:
        host: the address to bind: 127.0.0.1 (the default) is this machine only; an IPv6
            address may be given bare or in brackets (::1, [::1]).
        port: the port to serve on.
        max_upload_mb: the largest upload in MB: room for a camera's RAW photo, a 16-bit TIFF
            or minutes of phone video; images are also held to ``max_pixels``.
        max_pixels: the largest image, in pixels, that a job reads.
        block: run until stopped (the CLI), or return with the server running in a thread.
    """
    check_arguments(serve, locals())
    if not 0 < port < 65536:
        raise RestyleError(f"--port must be between 1 and 65535, not {port}")
    check_at_least(max_upload_mb, 1, "--max-upload-mb")
    check_at_least(max_pixels, 1, "--max-pixels")  # not only once an upload is refused by it
    host = host.removeprefix("[").removesuffix("]")  # an IPv6 address as a URL writes it: [::1]
    _check_address(host, port)
    if host not in ("127.0.0.1", "localhost", "::1"):
        warnings.warn(f"serving on {host}: other machines can reach this UI", RestyleWarning, stacklevel=2)
    folder = Path(tempfile.mkdtemp(prefix="restyle-web-"))
    try:
        return _launch(folder, host=host, port=port, max_upload_mb=max_upload_mb, max_pixels=max_pixels, block=block)
    except BaseException:  # not started (the port in use, say): nothing of it is left behind
        shutil.rmtree(folder, ignore_errors=True)
        raise


def _url_host(host: str) -> str:
    """``host`` as a URL writes it: an IPv6 address in brackets (``[::1]``).

    Example:
        >>> _url_host("127.0.0.1"), _url_host("::1")
        ('127.0.0.1', '[::1]')
    """
    return f"[{host}]" if ":" in host else host


def _check_address(host: str, port: int) -> None:
    """A one-line :class:`RestyleError` now if the server cannot listen on ``host:port``, naming
    why. Gradio tries and reports every failure as a port in use: an address of another machine
    (``--host 10.1.2.3``) or an unknown name were said to be "in use"."""
    import errno
    import socket

    try:
        family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
    except (socket.gaierror, UnicodeError):
        raise RestyleError(f"--host {host}: not an address, nor a name this machine knows") from None
    with socket.socket(family, kind, proto) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the server binds: TIME_WAIT is free
        try:
            probe.bind(address)
        except OSError as exc:
            reasons = {
                errno.EADDRINUSE: "the port is in use; give another --port",
                errno.EADDRNOTAVAIL: f"{host} is not an address of this machine "
                "(127.0.0.1: this machine only; 0.0.0.0: all its networks)",
                errno.EACCES: "permission denied (ports under 1024 need administrator rights); give another --port",
            }
            reason = reasons.get(exc.errno, exc.strerror or str(exc))
            raise RestyleError(f"cannot start the server on {_url_host(host)}:{port}: {reason}") from None


def _warm_up() -> None:
    """What a first job would otherwise wait for, done while the page is being opened:
    scikit-learn's import (0.7-1 s here), which the first Auto-masks click paid
    (:mod:`restyle.automask` fits its mixtures with it). The worker's first task: a thread of
    its own, started before the worker, would leave glibc an arena of its own that the worker
    then took, and with it the page faults :mod:`restyle.allocator` prevents."""
    import sklearn.mixture  # noqa: F401  (a dependency of restyle's)


def _launch(folder: Path, *, host: str, port: int, max_upload_mb: int, max_pixels: int, block: bool) -> Any:
    """:func:`serve`'s work, with its temporary folder made."""
    # Gradio keeps uploads and results under GRADIO_TEMP_DIR and serves only from there.
    os.environ["GRADIO_TEMP_DIR"] = str(folder / "gradio")
    os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    try:
        import gradio  # noqa: F401
    except ImportError:
        raise RestyleError("the web UI needs Gradio: pip install 'restyle[web]'") from None
    app = build_app(max_pixels=max_pixels, folder=folder)
    _WORKER.submit(_warm_up)
    try:
        app.launch(
            server_name=_url_host(host),  # Gradio makes its URL from it: http://[::1]:7860
            server_port=port,
            max_file_size=f"{max_upload_mb}mb",
            prevent_thread_lock=not block,
            quiet=not block,
            show_error=False,
            ssr_mode=False,
            mcp_server=False,
            footer_links=[],
        )
    except OSError as exc:
        if "Cannot find empty port" in str(exc):  # Gradio's words, with advice for its own API
            raise RestyleError(
                f"cannot start the server on {_url_host(host)}:{port}: the port is in use; give another --port"
            ) from None
        raise RestyleError(f"cannot start the server on {_url_host(host)}:{port}: {exc}") from None
    except KeyboardInterrupt:  # stopped while it was starting, before Gradio waits for Ctrl-C itself
        app.close()
    if block:  # stopped (Ctrl-C): its uploads and results, people's photos, are not left behind
        try:
            if _WORKER.busy():
                print("restyle: stopping the running job at its next step (Ctrl-C again to quit now)", file=sys.stderr)
            stop_jobs()
        finally:
            shutil.rmtree(folder, ignore_errors=True)
            print("restyle: server stopped; its uploads and results are deleted", file=sys.stderr)
    return app
