"""Reading and writing clips: video files through ffmpeg (``imageio-ffmpeg``'s binary), or
folders of numbered frames; animated GIFs are read through Pillow (:mod:`restyle.gif`).

Output is atomic as everywhere in restyle: a video is encoded to a temporary file and renamed,
and each frame of a folder is written to a temporary file and renamed.
"""

from __future__ import annotations

import contextlib
import functools
import importlib.util
import itertools
import json
import logging
import math
import os
import re
import secrets
import shutil
import subprocess
import tempfile
import warnings
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import NamedTuple

import numpy as np
import torch
from PIL import Image

from restyle.bitdepth import to_uint16
from restyle.dequantise import dequantise as smooth_steps
from restyle.dequantise import dequantise_from
from restyle.errors import RestyleError, listing, no_such_file
from restyle.files import check_lookup, name_beside, replace_keeping_mode, replaceable_target
from restyle.gif import MIN_DELAY, gif_timing, is_gif, read_gif_frames, with_comment
from restyle.hdr import HDR_CURVES, hdr_to_sdr
from restyle.image import (
    DEFAULT_MAX_PIXELS,
    SAMPLE_PREFIX,
    RestyleWarning,
    holds_deep_colour,
    image_files,
    image_size,
    jpeg_scale,
    load_image,
    save_image,
    scaled_shape,
    to_uint8,
    warn_if_stretched,
)
from restyle.raw import is_raw, without_raw_twins
from restyle.yuv import YUV_MATRICES, rgb_to_yuv, yuv_to_rgb

__all__ = [
    "H264_MAX_SIDE",
    "VIDEO_BIT_DEPTHS",
    "VIDEO_SUFFIXES",
    "VideoInfo",
    "YuvCoding",
    "check_gif_frames",
    "check_video_bits",
    "check_video_side",
    "check_video_suffix",
    "decoded_smaller",
    "frame_shape",
    "frame_to_tensor",
    "parse_frame_range",
    "probe",
    "read_frames",
    "read_video_metadata",
    "write_frame_folder",
    "write_video",
]

logging.getLogger("imageio_ffmpeg").setLevel(logging.ERROR)  # it reports every rescale we ask for
#: The video types written (ffmpeg picks the container from the suffix).
VIDEO_SUFFIXES = (".mp4", ".mkv", ".mov", ".webm", ".avi", ".m4v", ".gif")


class YuvCoding(NamedTuple):
    """How a YUV video's codes become RGB (:func:`yuv_to_rgb`)."""

    #: The matrix, one of :data:`YUV_MATRICES`.
    matrix: str
    #: Codes span the whole range (JPEG's ``pc``); else video range (``tv``: Y 16..235 at 8 bits).
    full_range: bool
    #: Bits per code: 8, or 10 and more for a deep clip.
    bits: int = 8


@dataclass
class VideoInfo:
    """What a clip holds: frame rate, source size, frame count (estimated for video files)."""

    path: Path
    fps: float
    size: tuple[int, int]  # (width, height)
    frames: int
    audio: bool
    is_folder: bool
    #: The YUV matrix to read an untagged clip with, as players assume it (``bt709`` for HD);
    #: None: the clip's own tags (or RGB frames).
    matrix: str | None = None
    #: The HDR transfer curve of an HDR clip (``"hlg"`` or ``"pq"``; see :mod:`restyle.hdr`), or None.
    hdr: str | None = None
    #: Whether the frames store more than 8 bits per channel (10-bit video, 16-bit PNG frames):
    #: then :func:`read_frames` gives them at 16 bits.
    deep: bool = False
    #: For a YUV video whose matrix is known, how its codes become RGB, so that
    #: :func:`read_frames` can smooth their steps before the conversion, where they are steps of
    #: one code. None: RGB frames.
    yuv: YuvCoding | None = None
    #: Whether it is an animated GIF, read through Pillow (:mod:`restyle.gif`).
    gif: bool = False
    #: Whether its frames are interlaced (two fields, a moment apart): then :func:`read_frames`
    #: deinterlaces them, as players do.
    interlaced: bool = False
    #: A folder's frames, in order, as :func:`probe` found them (a RAW file beside a JPEG of its
    #: name left out): what :func:`read_frames` reads.
    frame_files: tuple[Path, ...] = ()


#: What a still image given as a clip is told (a file, or a built-in ``sample:`` photo).
STILL_IMAGE = (
    "a still image, not a clip; restyle art or restyle photo stylises one image, and "
    "restyle video takes a folder of frames"
)


#: Picture formats ffmpeg decodes and Pillow does not (Pillow's are told apart before ffmpeg
#: runs): each is one still image, which ffmpeg would hand over as a clip of one frame, with no
#: duration. Codecs of both stills and streams (MJPEG) are not here: a raw stream has no
#: duration either.
_STILL_CODECS = frozenset({"svg", "exr", "dpx", "hdr", "jpegxl", "jpeg2000", "qoi", "psd", "dds", "fits", "xpm"})


def check_video_extra(*, flow: bool = True) -> None:
    """Raise a one-line :class:`RestyleError` naming the install unless the ``video`` extra is
    there: ffmpeg (``imageio-ffmpeg``) reads and writes clips, OpenCV measures the flow between
    frames (``flow=False``: only ffmpeg is needed, as to read a clip's tag). Without it,
    ``restyle video`` was a ``ModuleNotFoundError`` traceback. Then the ffmpeg it found is
    checked (:func:`_check_ffmpeg`)."""
    packages = {"imageio_ffmpeg": "imageio-ffmpeg"} | ({"cv2": "opencv-python-headless"} if flow else {})
    missing = [package for module, package in packages.items() if importlib.util.find_spec(module) is None]
    if missing:
        raise RestyleError(f"video needs {' and '.join(missing)}: pip install 'restyle[video]'")
    _check_ffmpeg()


#: The oldest ffmpeg major version ``restyle video`` is checked with: imageio-ffmpeg 0.8's own
#: (9.0.2). With 7.0.2 (imageio-ffmpeg 0.6 and 0.7) a raw stream's frames were not counted, a
#: variable-rate clip's frames were spaced wrongly and an SVG was not told from a clip.
OLDEST_FFMPEG = 9


@functools.lru_cache(maxsize=1)
def _check_ffmpeg() -> None:
    """Raise a one-line :class:`RestyleError` if the ffmpeg imageio-ffmpeg chose cannot run, and
    warn (once a process) if it is older than :data:`OLDEST_FFMPEG`. It is imageio-ffmpeg's own
    unless ``$IMAGEIO_FFMPEG_EXE`` names another; a missing one was reported as the clip being
    unreadable."""
    import imageio_ffmpeg

    chosen = (
        "; set by $IMAGEIO_FFMPEG_EXE, unset it to use imageio-ffmpeg's own"
        if os.environ.get("IMAGEIO_FFMPEG_EXE")
        else ""
    )
    try:
        exe = imageio_ffmpeg.get_ffmpeg_exe()
    except RuntimeError:  # no binary of its own for this platform, and none installed
        raise RestyleError("video needs ffmpeg, and imageio-ffmpeg found none: install ffmpeg") from None
    try:
        version = imageio_ffmpeg.get_ffmpeg_version()
    except (OSError, subprocess.SubprocessError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else _first_line(exc)
        raise RestyleError(f"ffmpeg {exe} cannot run: {reason}{chosen}") from None
    major = re.match(r"n?(\d+)\.", version)  # "9.0.2-static", "n9.0.2-17-g2a57"; a git build's "N-1234-g..." has none
    if major and int(major.group(1)) < OLDEST_FFMPEG:
        warnings.warn(
            f"ffmpeg {version} ({exe}{chosen}) is older than {OLDEST_FFMPEG}, the oldest restyle video "
            "is checked with: raw streams and variable-rate clips may be timed wrongly",
            RestyleWarning,
            stacklevel=3,
        )


def probe(path: str | os.PathLike, *, fps: float = 25.0, max_pixels: int = DEFAULT_MAX_PIXELS) -> VideoInfo:
    """Read a clip's frame rate, size, frame count and whether it has audio.

    A video file's size is as players show it: upright, and in square pixels (an anamorphic
    clip's width stretched by its pixel aspect). A raw stream without a container is timed by
    its frames' own timestamps (:func:`_stream_timing`).

    A folder of images is a clip at ``fps`` frames per second, in the order of the numbers in
    the frames' names, at the first frame's size (upright, as :func:`~restyle.image.load_image`
    reads it). Frames of another size are resized to it; a warning names the first that is
    stretched to another aspect ratio. Of a RAW+JPEG pair, the JPEG is the frame (with a
    warning). Their headers are read with ``max_pixels`` as
    :func:`~restyle.image.image_size` reads them: one far larger is refused as a decompression
    bomb. An animated GIF is timed as browsers show it (:func:`restyle.gif.gif_timing`).
    """
    source = Path(path)
    check_lookup(source)
    if not source.exists():
        if str(path).startswith(SAMPLE_PREFIX):
            raise RestyleError(f"{path}: {STILL_IMAGE}")
        raise no_such_file(source, "file or folder")
    if source.is_file() and is_gif(source):
        rate, count, size = gif_timing(source)
        return VideoInfo(source, rate, size, count, False, False, gif=True)
    if source.is_dir():
        files, twins = without_raw_twins(image_files(source))
        if not files:
            raise RestyleError(f"{source}: the folder holds no images")
        if twins:
            warnings.warn(
                "RAW+JPEG pairs: the frames are the images the camera developed, not the RAW files "
                f"({listing([twin.name for twin in twins], limit=3)})",
                RestyleWarning,
                stacklevel=2,
            )
        size = image_size(files[0], max_pixels=max_pixels)
        for file in files[1:]:
            other = image_size(file, max_pixels=max_pixels)
            if other != size and warn_if_stretched(other[::-1], size[::-1], f"the frame {file}", "the first frame"):
                break
        deep = holds_deep_colour(files[0])
        return VideoInfo(source, fps, size, len(files), False, True, deep=deep, frame_files=tuple(files))
    if source.is_fifo():  # a named pipe, or a shell's <(...): ffmpeg runs apart
        raise RestyleError(
            f"{source}: a pipe, not a file; restyle video reads a clip several times (and in ffmpeg, "
            "which cannot see this one), so save it to a file first"
        )
    if _is_still_image(source):
        raise RestyleError(f"{source}: {STILL_IMAGE}")
    import imageio_ffmpeg

    try:
        reader = imageio_ffmpeg.read_frames(str(source))
        meta = next(reader)
        with warnings.catch_warnings():
            # imageio-ffmpeg closes ffmpeg's pipes only if ffmpeg is still running; on a clip so
            # short that it has ended, the pipes' finalisers close them here, with a warning
            warnings.simplefilter("ignore", ResourceWarning)
            reader.close()
    except (OSError, RuntimeError, StopIteration) as exc:
        text = str(exc)
        streams = text.partition("Input #0")[2].partition("Output #0")[0]  # what ffmpeg found in the file
        if "Stream #" in streams and ": Video:" not in streams:
            raise RestyleError(f"{source}: holds no video stream (only audio or data)") from None
        first = text.strip().splitlines()[-1] if text.strip() else type(exc).__name__
        raise RestyleError(f"{source}: not a readable video ({first[:200]})") from None
    if meta.get("size") and not meta.get("fps"):  # an animated WebP, say
        raise RestyleError(
            f"{source}: its frames have no timing (no frame rate); save it as a video or its frames in a "
            "folder (restyle video takes a folder at --fps)"
        )
    if not meta.get("fps") or not meta.get("size"):
        raise RestyleError(f"{source}: no video stream")
    codec = str(meta.get("codec", "")).split(" ")[0].rstrip(",")
    if codec in _STILL_CODECS and not meta.get("duration"):  # a picture ffmpeg reads as one frame
        raise RestyleError(f"{source}: {STILL_IMAGE}")
    duration = float(meta.get("duration") or 0.0)
    rate = float(meta["fps"])
    frames = max(0, round(duration * rate))
    if not duration:  # a raw stream (.h264, .hevc): no container, no duration, and a made-up rate
        frames, rate = _stream_timing(source, rate)
    size = _square_pixels(tuple(meta["size"]), rotated=tuple(meta["size"]) != tuple(meta["source_size"]), path=source)
    pix_fmt = str(meta.get("pix_fmt", ""))
    matrix = _untagged_matrix(pix_fmt, size)
    hdr = next((name for curve, name in HDR_CURVES.items() if curve in pix_fmt), None)
    if hdr:
        warnings.warn(
            f"{source}: an HDR clip ({hdr.upper()}); it is read as an SDR screen shows it (restyle.hdr), "
            "and the result is SDR",
            RestyleWarning,
            stacklevel=2,
        )
    deep = hdr is not None or _is_deep(pix_fmt)
    yuv = _yuv_coding(pix_fmt, matrix)
    interlaced = re.search(r"\b(top|bottom) (coded )?first\b", pix_fmt) is not None  # the field order ffmpeg names
    audio = bool(meta.get("audio_codec"))
    return VideoInfo(source, rate, size, frames, audio, False, matrix, hdr, deep, yuv, interlaced=interlaced)


def decoded_smaller(info: VideoInfo, shape: tuple[int, int]) -> bool:
    """Whether :func:`read_frames` decodes a folder's frames at a reduced scale for frames of
    ``shape``: JPEGs (as the first frame is) that libjpeg decodes at 1/2, 1/4 or 1/8 of their
    size, fast (:func:`~restyle.image.jpeg_scale`)."""
    if not info.is_folder or jpeg_scale(*info.size, at_least=max(shape)) == 1:
        return False
    return info.frame_files[0].suffix.lower() in (".jpg", ".jpeg")


def _ffmpeg_log(path: Path, *args: str) -> str:
    """What ffmpeg says reading ``path`` (its stderr): the file's streams, and with ``args`` (an
    output) the frames it went through. Without an output it only describes the file."""
    import imageio_ffmpeg

    command = [imageio_ffmpeg.get_ffmpeg_exe(), "-nostdin", "-hide_banner", "-i", str(path), *args]
    return subprocess.run(command, capture_output=True, encoding="utf-8", errors="replace", check=False).stderr


def _square_pixels(size: tuple[int, int], *, rotated: bool, path: Path) -> tuple[int, int]:
    """A video's ``(width, height)`` as players show it: an anamorphic clip's pixels are not
    square (a DVD's 720 x 480 at a pixel aspect of 32:27 shows 16:9; HDV's 1440 x 1080 at 4:3
    shows 1920 x 1080). Read at its coded size, such a clip came out squeezed, written with
    square pixels. ``size`` is ffmpeg's, turned upright (``rotated``: the clip's pixels turned
    a quarter, so their aspect stretches its height)."""
    header = _ffmpeg_log(path)  # the streams, as ffmpeg describes them
    video = (line for line in header.splitlines() if ": Video:" in line and "(attached pic)" not in line)
    found = re.search(r"\[SAR (\d+):(\d+) DAR", next(video, ""))
    if not found or not int(found.group(1)) or not int(found.group(2)):  # none, or 0:1 (unknown)
        return size
    aspect = Fraction(int(found.group(1)), int(found.group(2)))
    width, height = size
    return (width, round(height * aspect)) if rotated else (round(width * aspect), height)


#: How many frames :func:`_stream_timing` decodes to measure a raw stream's frame rate.
_TIMED_FRAMES = 61


def _stream_timing(path: Path, rate: float) -> tuple[int, float]:
    """The frame count and frame rate of a video stream without a container's duration: a raw
    H.264, HEVC or MPEG-4 stream, as security cameras and some recorders export them.

    ffmpeg's header for such a stream says 25 fps whatever the stream is, while its decoder
    stamps the frames at the rate the stream itself gives (a 30-fps stream's timestamps are
    1/30 s apart). Read at the header's 25 fps, a 30-fps stream lost one frame in six, and its
    frame count was unknown (0). The count is from a stream copy (nothing decoded, so fast on a
    long file); the rate is from the timestamps of the first :data:`_TIMED_FRAMES` frames
    decoded, or ``rate`` where they tell nothing (one frame, or no timing in the stream either:
    then the decoder's timestamps are at 25 fps too).
    """
    counts = re.findall(r"frame=\s*(\d+)", _ffmpeg_log(path, "-map", "0:v:0", "-c", "copy", "-f", "null", "-"))
    frames = int(counts[-1]) if counts else 0
    shown = _ffmpeg_log(path, "-map", "0:v:0", "-frames:v", str(_TIMED_FRAMES), "-vf", "showinfo", "-f", "null", "-")
    base = re.search(r"config in time_base: (\d+)/(\d+)", shown)
    stamps = [int(t) for t in re.findall(r" pts:\s*(-?\d+)", shown)]
    if base and int(base.group(1)) and len(stamps) > 1 and stamps[-1] > stamps[0]:
        seconds = Fraction((stamps[-1] - stamps[0]) * int(base.group(1)), int(base.group(2)))
        rate = float((Fraction(len(stamps) - 1) / seconds).limit_denominator(1001))  # 30, 30000/1001
    return frames, rate


def _is_still_image(path: Path) -> bool:
    """Whether a file is one photo, which ffmpeg would read as a clip of one frame (a PNG, a JPEG
    without its EXIF orientation or colour profile, a camera RAW file). Animated images (APNG,
    WebP) are clips; so is an MPEG file, which Pillow identifies but does not decode."""
    if is_raw(path):
        return True
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # Pillow's complaints about a file it reads: not ours to make
        try:
            with Image.open(path) as img:
                return img.format != "MPEG" and getattr(img, "n_frames", 1) == 1
        except Image.DecompressionBombError:
            return True  # a huge photo is still a photo
        except (OSError, SyntaxError, ValueError):
            return False


#: ffmpeg's pixel formats of more than 8 bits per sample end in their depth (or, packed RGB,
#: the pixel's) and byte order: ``yuv420p10le``, ``p010le``, ``gbrp12le``, ``rgb48le``.
_DEEP_PIX_FMT = re.compile(r"(9|10|12|14|16|48|64)(?:le|be)$")
#: The beginnings of ffmpeg's names of YUV pixel formats (planar, semi-planar and packed).
_YUV_PIX_FMTS = ("yuv", "nv", "p0", "p2", "p4", "yuyv", "uyvy", "yvyu")


def _is_deep(pix_fmt: str) -> bool:
    """Whether a stream's pixel format, as ffmpeg describes it (``yuv420p10le(tv, bt709)``),
    stores more than 8 bits per sample."""
    return _DEEP_PIX_FMT.search(pix_fmt.partition("(")[0].strip()) is not None


#: ffmpeg's names of YUV matrices, as its stream description gives them.
_MATRICES = {"bt709", "smpte170m", "bt470bg", "bt2020nc", "bt2020c", "smpte240m", "fcc", "ycgco", "ictcp", "gbr"}


def _untagged_matrix(pix_fmt: str, size: tuple[int, int]) -> str | None:
    """``bt709`` for a YUV clip of HD size whose stream names no matrix, else None.

    ffmpeg reads an untagged clip by BT.601 whatever its size, while players take untagged HD
    as BT.709 (mpv's rule, used here: 1280 or more wide, or taller than 576). Read as ffmpeg
    reads it, such a clip's colours differed from what the user saw (a green of 180 read as 203).

    Example:
        >>> _untagged_matrix("yuv420p(progressive)", (1280, 720)), _untagged_matrix("yuv420p", (640, 360))
        ('bt709', None)
        >>> _untagged_matrix("yuv420p(tv, bt709, progressive)", (1920, 1080)) is None
        True
    """
    name, _, details = pix_fmt.partition("(")
    tokens = {part.strip().split("/")[0] for part in details.rstrip(")").split(",")}
    if not name.startswith(_YUV_PIX_FMTS) or tokens & _MATRICES:
        return None
    width, height = size
    return "bt709" if width >= 1280 or height > 576 else None


def _yuv_coding(pix_fmt: str, untagged: str | None) -> YuvCoding | None:
    """How a YUV stream's codes become RGB, from ffmpeg's description; None for RGB, palette or
    grey streams and for matrices :func:`yuv_to_rgb` does not convert.

    ``untagged`` is the matrix an untagged clip is read with (:func:`_untagged_matrix`); without
    it ffmpeg reads one by BT.601.

    Example:
        >>> _yuv_coding("yuv420p(tv, bt709, progressive)", None), _yuv_coding("yuvj420p(pc)", None)
        (YuvCoding(matrix='bt709', full_range=False, bits=8), YuvCoding(matrix='smpte170m', full_range=True, bits=8))
        >>> _yuv_coding("yuv420p10le(tv, bt2020nc/bt2020/arib-std-b67)", None)
        YuvCoding(matrix='bt2020nc', full_range=False, bits=10)
        >>> _yuv_coding("yuv420p(progressive)", "bt709").matrix, _yuv_coding("rgb24", None)
        ('bt709', None)
    """
    name, _, details = pix_fmt.partition("(")
    name = name.strip()
    if not name.startswith(_YUV_PIX_FMTS) or name.startswith("yuva"):
        return None
    tokens = [part.strip().split("/")[0] for part in details.rstrip(")").split(",")]
    tagged = next((t for t in tokens if t in _MATRICES), None)
    matrix = tagged or untagged or "smpte170m"
    if matrix not in YUV_MATRICES:
        return None
    depth = _DEEP_PIX_FMT.search(name)
    return YuvCoding(matrix, name.startswith("yuvj") or "pc" in tokens, int(depth.group(1)) if depth else 8)


def parse_frame_range(text: str | None) -> tuple[int, int | None]:
    """``--frames START:END`` as ``(start, end)``; either side may be empty (``end`` None: to the end).

    Example:
        >>> parse_frame_range("10:"), parse_frame_range(":60"), parse_frame_range(None)
        ((10, None), (0, 60), (0, None))
    """
    if not text:
        return 0, None
    if ":" not in text:  # "60" is read as "the first 60" or "from frame 60" alike: ask which
        raise RestyleError(
            f"--frames {text}: give START:END, such as :{text} for the first {text} frames or {text}: to start at frame {text}"
        )
    try:
        start_text, _, end_text = text.partition(":")
        start = int(start_text) if start_text else 0
        end = int(end_text) if end_text else None
    except ValueError:
        raise RestyleError(f"--frames takes START:END (frame numbers), not {text!r}") from None
    if start < 0 or (end is not None and end <= start):
        raise RestyleError(f"--frames {text}: need 0 <= START < END")
    return start, end


def frame_shape(info: VideoInfo, size: int) -> tuple[int, int]:
    """``(height, width)`` of the stylised frames: long side ``size``, both even (as H.264 needs)."""
    height, width = scaled_shape(info.size[1], info.size[0], size)
    return max(2, height - height % 2), max(2, width - width % 2)


def read_frames(
    info: VideoInfo,
    *,
    shape: tuple[int, int],
    start: int = 0,
    end: int | None = None,
    dequantise: bool = False,
    smooth_shape: tuple[int, int] | None = None,
    max_pixels: int = DEFAULT_MAX_PIXELS,
) -> Iterator[np.ndarray]:
    """Frames ``start`` to ``end`` (exclusive) as ``(H, W, 3)`` arrays of ``shape``: uint8, or
    uint16 for a clip of more than 8 bits (``info.deep``: 10-bit video, an HDR clip once
    converted, 16-bit frames), so that its smooth gradients are not banded before stylisation.

    A YUV video whose matrix is known (``info.yuv``: nearly every clip) is decoded by ffmpeg as
    YUV 4:4:4 codes of ``shape`` and converted to RGB here (:func:`yuv_to_rgb`). ffmpeg's own
    conversion is off when it scales 4:2:0 video or reads more than 8 bits: mid-grey (luma 126)
    came out as 126 of 255, not 128, and a 10-bit clip 0.4% dark.

    ``dequantise``: the codes' steps are smoothed (:func:`restyle.dequantise.dequantise`, in
    steps of one code: 8 bits or deeper) before the conversion, and the frames given at 16 bits.
    Converted first, a step of one code became a step of up to 4 levels in RGB, and the RGB steps
    of its three codes no longer fit an interval that smoothing could bridge. RGB frames are
    given as read. With ``smooth_shape`` smaller than ``shape`` (the work size, for frames read
    to guide an upsampling), the codes are smoothed at that shape and followed at theirs
    (:func:`restyle.dequantise.dequantise_from`), as a full-size photo follows its work-size
    copy: on synthetic 1280x720 skies 3 times faster than smoothing at full size, 6-12 times at
    1920x1080, with the same or smaller errors but on the steepest (``benchmarks/RESULTS.md``).

    Video files are decoded and scaled by ffmpeg at a constant frame rate: variable-rate clips
    are resampled to their average rate (frames duplicated across gaps, dropped where the clip
    runs faster), so the frame count is ``probe``'s and the duration is kept. Animated GIFs are
    decoded by Pillow and resampled the same way (:func:`restyle.gif.read_gif_frames`).

    A folder's frames are read as :func:`~restyle.image.load_image` reads an image, refused
    over ``max_pixels``; but frames of the clip's own size (``info.size``) are read whatever it
    is, as a video file's are: that size is checked once, before any work
    (:func:`restyle.video.stylize_video`), not at every frame.
    """
    height, width = shape
    if info.is_folder:
        limit = max(max_pixels, info.size[0] * info.size[1])
        for path in info.frame_files[start:end]:
            image = load_image(path, max_pixels=limit, what="frame", at_least=max(height, width))
            image = _fitted(image, (height, width))
            yield to_uint16(image) if info.deep else to_uint8(image[0]).permute(1, 2, 0).numpy()
        return
    if info.gif:  # 8-bit frames, converted to floats only when they must be resized
        for frame in read_gif_frames(info.path, start=start, end=end):
            if frame.shape[:2] != (height, width):
                frame = to_uint8(_fitted(frame_to_tensor(frame), (height, width))[0]).permute(1, 2, 0).numpy()
            yield frame
        return
    as_yuv = info.yuv is not None
    with contextlib.closing(_decoded(info, width=width, height=height, as_yuv=as_yuv)) as decoded:
        for index, data in enumerate(decoded):
            if end is not None and index >= end:
                break
            if index < start:
                continue
            if as_yuv:
                assert info.yuv is not None
                matrix, full_range, bits = info.yuv
                top = 2**bits - 1
                dtype = np.uint8 if bits == 8 else np.dtype("<u2")
                codes = torch.from_numpy(np.frombuffer(data, dtype=dtype).reshape(3, height, width).astype(np.float32))
                if dequantise:
                    codes = _smoothed(codes[None] / top, levels=top, shape=smooth_shape)[0] * top
                rgb = yuv_to_rgb(codes, matrix, full_range=full_range, bits=bits)
                if info.hdr:
                    rgb = hdr_to_sdr(rgb.permute(0, 2, 3, 1), info.hdr).permute(0, 3, 1, 2)
                yield to_uint16(rgb) if info.deep or dequantise else to_uint8(rgb[0]).permute(1, 2, 0).numpy()
            elif info.hdr:  # 16-bit HDR signal: shown as an SDR screen shows it
                signal = torch.from_numpy(np.frombuffer(data, dtype="<u2").reshape(height, width, 3).astype(np.float32))
                yield (hdr_to_sdr(signal / 65535.0, info.hdr) * 65535.0).round().numpy().astype(np.uint16)
            elif info.deep:
                yield np.frombuffer(data, dtype="<u2").reshape(height, width, 3).astype(np.uint16)
            else:
                yield np.frombuffer(data, dtype=np.uint8).reshape(height, width, 3).copy()


def _fitted(image: torch.Tensor, shape: tuple[int, int]) -> torch.Tensor:
    """A ``(1, 3, H, W)`` frame resized to ``shape`` (antialiased bilinear), if it is not that size."""
    if tuple(image.shape[-2:]) == shape:
        return image
    return torch.nn.functional.interpolate(image, size=shape, mode="bilinear", antialias=True)


def _smoothed(image: torch.Tensor, *, levels: int, shape: tuple[int, int] | None) -> torch.Tensor:
    """:func:`restyle.dequantise.dequantise` of ``(1, C, H, W)`` values, run at ``shape`` and
    followed at the image's own size when ``shape`` is smaller."""
    if shape is None or shape[0] * shape[1] >= image.shape[-2] * image.shape[-1]:
        return smooth_steps(image, levels=levels)
    smaller = smooth_steps(torch.nn.functional.interpolate(image, size=shape, mode="area"), levels=levels)
    return dequantise_from(image, smaller, levels=levels)


def _decoded(info: VideoInfo, *, width: int, height: int, as_yuv: bool = False) -> Iterator[bytes]:
    """The raw RGB frames of a video file, scaled to ``width`` x ``height``, from an ffmpeg
    process of our own; with ``as_yuv``, its planar YUV 4:4:4 codes in its own range and depth.

    Not imageio-ffmpeg's ``read_frames``: that one leaves ffmpeg's pipes open (ResourceWarnings)
    when ffmpeg ends by itself at the end of the clip. ffmpeg runs in a session of its own, so a
    Ctrl-C at the terminal reaches only restyle, which stops at its next step and still reads.
    """
    import imageio_ffmpeg

    command = [imageio_ffmpeg.get_ffmpeg_exe(), "-nostdin", "-loglevel", "error", "-i", str(info.path)]
    # the fps filter resamples on timestamps, so a variable-rate clip keeps its duration (and its
    # audio stays in sync); ``-r`` alone let ffmpeg emit extra frames
    if as_yuv:  # codes kept in the clip's range and depth (no matrix applies: nothing is converted)
        assert info.yuv is not None
        colour = f":out_range={'pc' if info.yuv.full_range else 'tv'}"
        pix_fmt, sample_bytes = ("yuv444p", 1) if info.yuv.bits == 8 else (f"yuv444p{info.yuv.bits}le", 2)
    else:
        colour = f":in_color_matrix={info.matrix}" if info.matrix else ""  # else the clip's tags
        pix_fmt, sample_bytes = ("rgb48le", 2) if info.deep else ("rgb24", 1)
    # an interlaced clip's two fields are a moment apart: scaled as they are, a moving edge came
    # out doubled (combed at full size); bwdif keeps the first field and fills the other's lines
    # from it and its neighbours in time, as players show such a clip, one frame per frame
    deinterlace = "bwdif=mode=send_frame:deint=interlaced," if info.interlaced else ""
    command += ["-vf", f"{deinterlace}scale={width}:{height}:flags=area{colour},fps={info.fps}"]
    command += ["-pix_fmt", pix_fmt, "-f", "rawvideo", "-"]
    own_session = (
        {"creationflags": subprocess.CREATE_NEW_PROCESS_GROUP} if os.name == "nt" else {"start_new_session": True}
    )
    frame_bytes = width * height * 3 * sample_bytes
    with tempfile.TemporaryFile() as log:
        process = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=log, **own_session)
        assert process.stdout is not None
        try:
            while data := process.stdout.read(frame_bytes):
                if len(data) < frame_bytes:
                    raise RestyleError(f"{info.path}: decoding failed (the last frame ended early)")
                yield data
        finally:  # also when the reader stops early: then ffmpeg is still running
            if process.poll() is None:
                process.kill()
            process.stdout.close()
            process.wait()
        if process.returncode != 0:
            log.seek(0)
            lines = log.read().decode(errors="replace").strip().splitlines()
            reason = lines[-1][:200] if lines else f"ffmpeg's exit status {process.returncode}"
            raise RestyleError(f"{info.path}: decoding failed ({reason})")


def frame_to_tensor(frame: np.ndarray) -> torch.Tensor:
    """A uint8 or uint16 ``(H, W, 3)`` frame as a float ``(1, 3, H, W)`` image in [0, 1]."""
    scale = 65535.0 if frame.dtype == np.uint16 else 255.0
    return torch.from_numpy(frame.astype(np.float32)).permute(2, 0, 1)[None] / scale


def check_video_suffix(output: Path, *, folder_allowed: bool = False) -> None:
    """A one-line :class:`RestyleError` unless ``output`` ends in one of :data:`VIDEO_SUFFIXES`
    (``folder_allowed``: the message says that a folder is the other choice)."""
    if output.suffix.lower() not in VIDEO_SUFFIXES:
        choices = ", ".join(VIDEO_SUFFIXES) + (", or a folder" if folder_allowed else "")
        raise RestyleError(f"{output}: unsupported video type {output.suffix or '(none)'}; use {choices}")


#: RGB to YUV by BT.709 into a pixel format, tagged as such. ffmpeg's default converts by BT.601
#: and tags nothing, and players take an untagged HD video as BT.709: a green of 180 was shown as
#: 158.
_BT709 = (
    "scale=out_color_matrix=bt709:out_range=tv,format={},"  # converted here, not by a scaler ffmpeg adds
    "setparams=color_primaries=bt709:color_trc=bt709:colorspace=bt709:range=tv"
)
#: For 10-bit video, whose YUV codes restyle computes (:func:`rgb_to_yuv`): ffmpeg only
#: subsamples their chroma, in the matrix and range they are in.
_BT709_CODES = "scale=in_color_matrix=bt709:in_range=tv:" + _BT709.removeprefix("scale=")


#: Each video type's encoder, its options and the audio codec: H.264 (constant quality 10, as
#: imageio-ffmpeg's quality 8 gave) and AAC; WebM holds only VP8/VP9/AV1 and Opus/Vorbis (with
#: H.264 it wrote nothing), so VP9 at constant quality; AVI cannot order B-frames' timestamps
#: (a clip read back had two frames too many at its start), so none there.
_ENCODERS = {
    ".webm": ("libvpx-vp9", ["-crf", "30", "-b:v", "0", "-row-mt", "1", "-cpu-used", "4"], "libopus"),
    ".avi": ("libx264", ["-crf", "10", "-bf", "0"], "aac"),
    ".mp4": ("libx264", ["-crf", "10"], "aac"),
}
_HEVC10 = ("libx265", "yuv420p10le", ["-crf", "12", "-x265-params", "log-level=none"])
#: 10-bit encoders (``bits=10``), with their pixel formats: HEVC Main 10, which phones, Macs and
#: editors play (tagged ``hvc1`` in MP4, as Apple's players need); ProRes 422 HQ in QuickTime,
#: an editor's intermediate; VP9 profile 2 in WebM. AVI has no 10-bit codec that players take, and
#: ffmpeg writes M4V (Apple's iPod format) with H.264 only.
_ENCODERS_10 = {
    ".mp4": (*_HEVC10[:2], [*_HEVC10[2], "-tag:v", "hvc1"]),
    ".mkv": _HEVC10,
    ".mov": ("prores_ks", "yuv422p10le", ["-profile:v", "3"]),
    ".webm": ("libvpx-vp9", "yuv420p10le", [*_ENCODERS[".webm"][1], "-profile:v", "2"]),
}
#: Bits per channel a video file is written with.
VIDEO_BIT_DEPTHS = (8, 10)
#: An animated GIF's 256 colours: one palette for the whole clip (its colours are alike from
#: frame to frame), and ordered (Bayer) dithering, which puts the same pattern on the same
#: colour in every frame; error diffusion's pattern changes with any change upstream, and
#: flickers on still areas (``benchmarks/RESULTS.md``, "Animated GIF output"). Only the changed
#: rectangle of each frame is stored.
_GIF_FILTER = "split[a][b];[a]palettegen[p];[b][p]paletteuse=dither=bayer:bayer_scale=4:diff_mode=rectangle"


#: The fastest rate browsers play a GIF at: they show a frame for at least 0.02 s
#: (:data:`restyle.gif.MIN_DELAY`; a shorter delay is shown as 0.1 s).
GIF_MAX_FPS = 100 / MIN_DELAY


def gif_frame_step(fps: float) -> int:
    """Every how many frames a clip of ``fps`` keeps one in a GIF, so that browsers play it at
    its speed: 1 up to :data:`GIF_MAX_FPS`, 2 for 60 fps (a GIF at 30), 3 for 120 (at 40).

    Example:
        >>> [gif_frame_step(fps) for fps in (25, 50, 59.94, 60, 100, 120)]
        [1, 1, 2, 2, 2, 3]
    """
    return max(1, math.ceil(fps / GIF_MAX_FPS - 1e-9))


#: The most a GIF's frames may take (as RGB) while ffmpeg makes their palette, which holds them
#: all until the last one is in: ffmpeg's peak is about 1.7 times that, plus 40 MB
#: (``benchmarks/RESULTS.md``). 1 GiB is 388 frames at 1280 x 720, 2762 at 480 x 270.
GIF_MAX_BYTES = 2**30


def check_gif_frames(output: Path, frames: int, size: tuple[int, int], fps: float) -> None:
    """A one-line :class:`RestyleError` if ``output`` is a GIF whose frames (those of ``frames``
    at ``fps`` that it keeps: :func:`gif_frame_step`) of ``size`` ``(W, H)`` are larger than
    :data:`GIF_MAX_BYTES`."""
    width, height = size
    step = gif_frame_step(fps)
    kept = -(-frames // step)
    need = kept * width * height * 3
    if output.suffix.lower() == ".gif" and need > GIF_MAX_BYTES:
        most = GIF_MAX_BYTES // (width * height * 3) * step
        raise RestyleError(
            f"{output}: a GIF's frames are held in memory while its palette is made: {kept} frames at "
            f"{width}x{height} would take {need / 2**30:.1f} GiB; give at most {most} frames (--frames), "
            "a smaller --size, or a video type"
        )


def check_video_bits(output: Path, bits: int) -> None:
    """A one-line :class:`RestyleError` unless a video ``output`` can be written with ``bits``
    per channel: 8 in every type, 10 in all but AVI, M4V and GIF."""
    if bits != 8 and output.suffix.lower() not in _ENCODERS_10:
        choices = ", ".join(_ENCODERS_10)
        deeper = "for 10" if bits == 10 else "for 10, or a folder for 16-bit PNG frames"
        raise RestyleError(f"{output}: a {output.suffix} video holds 8 bits per channel here; use {choices} {deeper}")
    if bits not in VIDEO_BIT_DEPTHS:
        raise RestyleError(
            f"{output}: a video file holds 8 or 10 bits per channel here, not {bits}; "
            "use 10, or a folder for 16-bit PNG frames"
        )


def _video_encoder(output: Path, bits: int) -> tuple[str, str, list[str]]:
    """The encoder of a video file ``output`` written with ``bits`` per channel (8 or 10, as
    :func:`check_video_bits` allows), its pixel format and its options (a GIF is written by
    :func:`write_video` with its own)."""
    if bits == 10:
        return _ENCODERS_10[output.suffix.lower()]
    codec, params, _ = _ENCODERS.get(output.suffix.lower(), _ENCODERS[".mp4"])
    return codec, "yuv420p", params


#: The longest side libx264 encodes (H.264: 8-bit MP4, M4V, MOV, MKV and AVI): a side of 16,386
#: pixels failed with "Invalid argument", after every frame had been stylised. HEVC, ProRes, VP9
#: and GIF take longer sides.
H264_MAX_SIDE = 16_384


def check_video_side(output: Path, shape: tuple[int, int], bits: int, *, cause: str) -> None:
    """A one-line :class:`RestyleError` if ``output`` is written with H.264 and frames of
    ``shape`` ``(H, W)`` are larger than it encodes (:data:`H264_MAX_SIDE`); ``cause`` says what
    makes them that large (``"--size 20000"``).

    Example:
        >>> check_video_side(Path("out.webm"), (1080, 20_000), 8, cause="--size 20000")
        >>> check_video_side(Path("out.mp4"), (1080, 20_000), 8, cause="--size 20000")
        Traceback (most recent call last):
        ...
        restyle.errors.RestyleError: out.mp4: H.264 holds at most 16384 pixels a side, and these frames have 20000 (--size 20000); write .webm, or a folder of PNG frames
    """
    if output.suffix.lower() == ".gif":
        return
    if _video_encoder(output, bits)[0] == "libx264" and max(shape) > H264_MAX_SIDE:
        raise RestyleError(
            f"{output}: H.264 holds at most {H264_MAX_SIDE} pixels a side, and these frames have {max(shape)} "
            f"({cause}); write .webm, or a folder of PNG frames"
        )


def write_video(
    images: Iterable[np.ndarray],
    output: Path,
    info: VideoInfo,
    start: int,
    frames: int,
    size: tuple[int, int],
    *,
    metadata: Mapping[str, object] | None = None,
    bits: int = 8,
) -> None:
    """Encode ``(H, W, 3)`` frames of ``size`` ``(W, H)`` to ``output`` (atomically) at the
    source's frame rate, copying the source's audio for the same span (frames ``start`` to
    ``start + frames``). ``metadata`` is stored as JSON in the container's ``comment`` tag
    (:func:`read_video_metadata` reads it back).

    With ``bits=8`` the frames are uint8 and the video H.264 (VP9 in WebM); with ``bits=10``
    they are uint16 and the video 10-bit (:data:`_ENCODERS_10`), so that smooth gradients
    survive grading. 10-bit frames are converted to BT.709 YUV codes here (:func:`rgb_to_yuv`),
    not by ffmpeg, whose codes from 16-bit RGB are 0.4% high."""
    import imageio_ffmpeg

    check_video_suffix(output)
    check_video_bits(output, bits)
    target = replaceable_target(output)  # a link stays; the file it points to is written
    comment = json.dumps(dict(metadata), sort_keys=True, default=str) if metadata else None
    tag = ["-metadata", "comment=" + comment] if comment else []
    tmp_video = name_beside(target, f".video{target.suffix}")
    tmp_final = name_beside(target, f".part{target.suffix}")
    width, height = size
    codec, pix_fmt, params = _video_encoder(output, bits)  # a GIF's: below
    audio_codec = _ENCODERS.get(output.suffix.lower(), _ENCODERS[".mp4"])[2]
    video_filter = (_BT709_CODES if bits == 10 else _BT709).format(pix_fmt)
    gif = output.suffix.lower() == ".gif"
    fps = info.fps
    if gif:  # RGB, in a palette; it loops; the parameters go in a comment block (gif.with_comment)
        codec, pix_fmt, params, video_filter, tag = "gif", "pal8", ["-loop", "0"], _GIF_FILTER, []
        if info.audio:
            warnings.warn(f"{output}: a GIF holds no sound; the clip's audio is left out", RestyleWarning, stacklevel=2)
        step = gif_frame_step(fps)
        if step > 1:  # ffmpeg would write delays of 0.01 s, which browsers show as 0.1 s
            fps /= step
            images = itertools.islice(images, 0, None, step)  # every frame is still made: each leads to the next
            warnings.warn(
                f"{output}: browsers play a GIF at up to {GIF_MAX_FPS:g} frames per second; one frame in {step} "
                f"of the {info.fps:g}-fps clip is kept ({fps:.4g} fps)",
                RestyleWarning,
                stacklevel=2,
            )
    dtype = np.uint16 if bits == 10 else np.uint8
    writer = None
    try:
        writer = imageio_ffmpeg.write_frames(
            str(tmp_video),
            (width, height),
            pix_fmt_in="yuv444p10le" if bits == 10 else "rgb24",
            pix_fmt_out=pix_fmt,
            fps=fps,
            codec=codec,
            quality=None,  # set by the encoder's own options (params)
            macro_block_size=2,
            ffmpeg_log_level="quiet",  # a failed write is found by _check_encoded and said in one line
            input_params=["-colorspace", "bt709", "-color_range", "tv"] if bits == 10 else [],
            output_params=["-vf", video_filter, *params, *tag],
        )
        writer.send(None)
        sent = 0
        for image in images:
            if image.dtype != dtype:
                raise ValueError(f"write_video: {bits}-bit frames must be {np.dtype(dtype).name}, not {image.dtype}")
            writer.send(_ten_bit_codes(image) if bits == 10 else np.ascontiguousarray(image))
            sent += 1
        writer.close()
        _check_encoded(tmp_video, sent, exact=True)
        if gif and comment:
            tmp_video.write_bytes(with_comment(tmp_video.read_bytes(), comment))
        if info.audio and not gif:
            exe = imageio_ffmpeg.get_ffmpeg_exe()
            command = [exe, "-y", "-loglevel", "error", "-i", str(tmp_video)]
            command += ["-ss", f"{start / info.fps:.6f}", "-t", f"{frames / info.fps:.6f}", "-i", str(info.path)]
            command += ["-map", "0:v", "-map", "1:a?", "-c:v", "copy", "-c:a", audio_codec, "-shortest", *tag]
            command.append(str(tmp_final))
            done = subprocess.run(command, capture_output=True, encoding="utf-8", errors="replace", check=False)
            if done.returncode == 0:
                _check_encoded(tmp_final, sent, exact=False)  # -shortest may trim a frame to the audio
            else:
                warnings.warn(
                    f"could not copy the audio track ({done.stderr.strip()[:200]}); writing the video without it",
                    RestyleWarning,
                    stacklevel=3,
                )
                os.replace(tmp_video, tmp_final)
        else:
            os.replace(tmp_video, tmp_final)  # checked above
        replace_keeping_mode(tmp_final, target)
    except OSError as exc:
        if exc.strerror:  # the disk's error
            raise RestyleError(f"{output}: cannot write the video: {exc.strerror}") from None
        # imageio-ffmpeg's, when ffmpeg stopped taking frames: the pipe's error, then the command
        raise RestyleError(f"{output}: encoding failed ({_first_line(exc)}: ffmpeg stopped)") from None
    except RuntimeError as exc:
        raise RestyleError(f"{output}: encoding failed ({_first_line(exc)})") from None
    finally:
        if writer is not None:  # stop ffmpeg first (a no-op once closed): it may not have made the file yet
            with contextlib.suppress(Exception):
                writer.close()
        for tmp in (tmp_video, tmp_final):
            with contextlib.suppress(OSError):
                tmp.unlink()


def _first_line(exc: BaseException) -> str:
    """An exception's message cut to its first line, and to 200 characters."""
    text = str(exc).strip()
    return text.splitlines()[0][:200] if text else type(exc).__name__


def _ten_bit_codes(image: np.ndarray) -> np.ndarray:
    """A uint16 ``(H, W, 3)`` RGB frame as planar 10-bit BT.709 video-range YUV codes."""
    rgb = torch.from_numpy(image.astype(np.float32) / 65535.0).permute(2, 0, 1)
    return rgb_to_yuv(rgb, "bt709", bits=10).round().clamp(0, 1023).numpy().astype("<u2")


def _check_encoded(path: Path, frames: int, *, exact: bool) -> None:
    """Raise RuntimeError unless ffmpeg decodes ``path`` to ``frames`` frames (``exact``) or to
    at least one. ffmpeg can fail to write a file and still exit cleanly: on a full disk it left
    an empty MP4, which the audio step then reported as a missing audio track."""
    import imageio_ffmpeg

    try:
        found, _ = imageio_ffmpeg.count_frames_and_secs(str(path))
    except RuntimeError:
        found = 0
    if (found != frames) if exact else (found < 1 <= frames):
        free = shutil.disk_usage(path.parent).free / 2**20
        raise RuntimeError(f"the written video has {found} of {frames} frames; {free:.1f} MB free on its disk")


def write_frame_folder(
    images: Iterable[np.ndarray], output: Path, *, metadata: Mapping[str, object] | None = None
) -> None:
    """Write ``(H, W, 3)`` frames into ``output`` (made if missing) as ``000000.png``,
    ``000001.png``, ..., each carrying ``metadata`` as :func:`~restyle.image.save_image` does:
    8-bit PNGs of uint8 frames, 16-bit PNGs of uint16 frames.

    The frames go to a hidden folder beside ``output`` and are moved in once all are written, so
    an error or Ctrl-C on the way leaves ``output`` as it was, as a video file is left."""
    staging = name_beside(output, f".part-{secrets.token_hex(4)}")
    try:
        staging.mkdir(parents=True)
        for index, image in enumerate(images):
            path = staging / f"{index:06d}.png"
            if image.dtype == np.uint16:
                frame = torch.from_numpy(image.astype(np.float32) / 65535.0).permute(2, 0, 1)[None]
                save_image(frame, path, metadata=metadata, bits=16)
            else:
                save_image(Image.fromarray(image), path, metadata=metadata)
        if output.is_dir():  # an existing folder (it may hold other files): the frames move in
            for frame in sorted(staging.iterdir()):
                os.replace(frame, output / frame.name)
        else:
            os.replace(staging, output)
    except OSError as exc:
        raise RestyleError(f"{output}: cannot write frames: {exc.strerror or exc}") from None
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def read_video_metadata(path: str | os.PathLike) -> dict[str, object]:
    """The parameters :func:`write_video` stored in a video's ``comment`` tag, or ``{}``."""
    check_video_extra(flow=False)  # ffmpeg reads the tag; OpenCV is not needed
    import imageio_ffmpeg

    command = [imageio_ffmpeg.get_ffmpeg_exe(), "-loglevel", "error", "-i", str(path), "-f", "ffmetadata", "-"]
    done = subprocess.run(command, capture_output=True, encoding="utf-8", errors="replace", check=False)
    for line in done.stdout.splitlines():
        if line.lower().startswith("comment="):  # Matroska stores it as COMMENT
            text = re.sub(r"\\(.)", r"\1", line[len("comment=") :])  # ffmetadata escapes =;#\ with a backslash
            try:
                value = json.loads(text)
            except json.JSONDecodeError:
                return {}
            return value if isinstance(value, dict) else {}
    return {}
