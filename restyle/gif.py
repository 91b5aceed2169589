"""Animated GIFs: read as clips (each frame's timing, and the frames, decoded by Pillow), and
the comment block that carries a written GIF's parameters.

ffmpeg's GIF reader splits a GIF into frames at their graphic control extensions, the blocks
that carry a frame's delay. A GIF whose frames have none (Pillow writes none unless given a
duration) lost frames there: of 3 frames ffmpeg gave 1, of 8 it gave 7, mixed up; and its
frame rate was a guess (12.5 or 16.67 frames per second, or none). Pillow reads every frame
whatever its blocks, so restyle reads GIFs through it, timed as browsers show them.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np
from PIL import Image

from restyle.errors import RestyleError
from restyle.image import RestyleWarning

__all__ = [
    "DEFAULT_DELAY",
    "MIN_DELAY",
    "frame_delays",
    "gif_timing",
    "is_gif",
    "read_gif_frames",
    "shown_delays",
    "with_comment",
]

#: Browsers (Chrome, Firefox) show a frame whose delay is under ``MIN_DELAY`` hundredths of a
#: second, or that has none, for ``DEFAULT_DELAY``: 0.1 s. ffmpeg's GIF reader keeps the same rule.
MIN_DELAY = 2
DEFAULT_DELAY = 10
#: The first bytes of a GIF file, as its two versions write them.
_SIGNATURES = (b"GIF87a", b"GIF89a")


def is_gif(path: str | os.PathLike) -> bool:
    """Whether the file at ``path`` starts as a GIF does (its name aside)."""
    try:
        with open(path, "rb") as file:
            return file.read(6) in _SIGNATURES
    except OSError:
        return False


def _header_end(data: bytes) -> int | None:
    """Where a GIF's blocks start: after its header, screen descriptor and global colour table.
    None if ``data`` does not start as a GIF does."""
    if data[:6] not in _SIGNATURES or len(data) < 13:
        return None
    packed = data[10]
    return 13 + (3 << ((packed & 7) + 1) if packed & 0x80 else 0)


def with_comment(data: bytes, text: str) -> bytes:
    """A GIF file's bytes with a comment extension holding ``text`` (ASCII, as GIF's comments
    are) after its global colour table. ffmpeg's GIF writer stores no comment; its reader, and
    Pillow's, read one back (:func:`restyle.clip.read_video_metadata`).

    Example:
        >>> gif = b"GIF89a" + bytes([1, 0, 1, 0, 0x80, 0, 0]) + bytes(6) + b"rest"  # 2-colour table
        >>> with_comment(gif, "hi")[19:]
        b'!\\xfe\\x02hi\\x00rest'
    """
    end = _header_end(data)
    if end is None:
        raise RuntimeError("the written GIF has no GIF header")
    payload = text.encode("ascii")
    blocks = b"".join(bytes([len(payload[i : i + 255])]) + payload[i : i + 255] for i in range(0, len(payload), 255))
    return b"GIF89a" + data[6:end] + b"\x21\xfe" + blocks + b"\x00" + data[end:]


def _skip_sub_blocks(data: bytes, at: int) -> int:
    """The position after the data sub-blocks that start at ``at`` (each a length byte and that
    many bytes; a zero length ends them)."""
    while at < len(data) and data[at]:
        at += data[at] + 1
    return at + 1


def frame_delays(data: bytes) -> list[int | None]:
    """Each frame's delay in hundredths of a second, as its graphic control extension gives it;
    None for a frame that has no such block. A file cut short gives the frames it holds whole.

    Args:
        data: the bytes of a GIF file.

    Returns:
        One entry per frame, in order.

    Example:
        >>> head = b"GIF89a" + bytes([1, 0, 1, 0, 0, 0, 0])  # 1x1, no colour table
        >>> timed = b"\\x21\\xf9\\x04\\x00\\x05\\x00\\x00\\x00"  # a delay of 5
        >>> frame = b"\\x2c" + bytes([0, 0, 0, 0, 1, 0, 1, 0, 0]) + b"\\x02\\x02\\x44\\x01\\x00"
        >>> frame_delays(head + timed + frame + frame + b"\\x3b")
        [5, None]
    """
    return _frames(data)[0]


def _frames(data: bytes) -> tuple[list[int | None], bool]:
    """:func:`frame_delays`, and whether the file ends inside a block (cut short)."""
    at = _header_end(data)
    if at is None:
        raise RestyleError("not a GIF file")
    delays: list[int | None] = []
    delay: int | None = None
    while at < len(data):
        kind = data[at]
        if kind == 0x21:  # an extension: its label, then sub-blocks
            if data[at + 1 : at + 2] == b"\xf9" and at + 6 < len(data):  # graphic control: flags, delay (LE), ...
                delay = data[at + 4] | data[at + 5] << 8
            at = _skip_sub_blocks(data, at + 2)
        elif kind == 0x2C:  # an image: position, size, flags, [table], data
            if at + 10 >= len(data):
                return delays, True
            flags = data[at + 9]
            at += 10 + (3 << ((flags & 7) + 1) if flags & 0x80 else 0)
            end = _skip_sub_blocks(data, at + 1)  # after the LZW code size
            if end > len(data):
                return delays, True  # its data is cut short
            delays.append(delay)
            delay, at = None, end
        else:  # the trailer (0x3b), or bytes that are not a block
            return delays, False
    return delays, at > len(data)


def shown_delays(delays: Sequence[int | None]) -> list[int]:
    """The delays (hundredths of a second) as browsers show the frames: none, or under
    :data:`MIN_DELAY`, is :data:`DEFAULT_DELAY`.

    Example:
        >>> shown_delays([4, None, 0, 1, 2])
        [4, 10, 10, 10, 2]
    """
    return [DEFAULT_DELAY if d is None or d < MIN_DELAY else d for d in delays]


def gif_timing(path: str | os.PathLike) -> tuple[float, int, tuple[int, int]]:
    """The frame rate, the frame count and the ``(width, height)`` of the animated GIF at
    ``path`` as a clip.

    Frames of equal delays give their own rate, one clip frame each. Frames of different delays
    give their average rate, and :func:`read_gif_frames` shows each clip frame as the frame
    shown at its middle, so that the GIF's length is kept (as ffmpeg's ``fps`` filter keeps a
    variable-rate video's). Frames with no delay, or one under 0.02 s, are shown for 0.1 s, as
    browsers show them, with a warning (ffmpeg writes a 60-fps clip as delays of 0.01 and 0.02 s,
    which browsers play at about 21 frames per second). A GIF of one frame is a still image, not
    a clip, and is refused.
    """
    source = Path(path)
    data = source.read_bytes()
    delays, cut = _frames(data)
    if not delays:
        raise RestyleError(f"{source}: a GIF with no whole frame")
    if len(delays) == 1:  # a still image, told before any warning on its timing
        from restyle.clip import STILL_IMAGE  # here: restyle.clip imports this module

        raise RestyleError(f"{source}: a GIF of one frame is {STILL_IMAGE}")
    if cut:
        warnings.warn(
            f"{source}: the file ends inside its frame {len(delays) + 1} (cut short?); its {len(delays)} whole "
            "frames are read",
            RestyleWarning,
            stacklevel=2,
        )
    untimed = sum(d is None or d < MIN_DELAY for d in delays)
    if untimed:
        which = "its frames have" if untimed == len(delays) else f"{untimed} of its {len(delays)} frames have"
        warnings.warn(
            f"{source}: {which} no delay or one under 0.02 s; each is shown for 0.1 s, as browsers show it",
            RestyleWarning,
            stacklevel=2,
        )
    shown = shown_delays(delays)
    size = (data[6] | data[7] << 8, data[8] | data[9] << 8)  # the logical screen, which Pillow's frames fill
    return 100.0 * len(shown) / sum(shown), len(shown), size


def _clip_frames(delays: Sequence[int]) -> list[int]:
    """For each clip frame at the average rate, the GIF frame shown at its middle.

    Example:
        >>> _clip_frames([10, 10, 10]), _clip_frames([5, 20, 5])
        ([0, 1, 2], [1, 1, 2])
    """
    total, count = sum(delays), len(delays)
    starts, at = [], 0
    for d in delays:
        starts.append(at)
        at += d
    chosen, frame = [], 0
    for k in range(count):
        middle = (k + 0.5) * total / count
        while frame + 1 < count and starts[frame + 1] <= middle:
            frame += 1
        chosen.append(frame)
    return chosen


def read_gif_frames(path: str | os.PathLike, *, start: int = 0, end: int | None = None) -> Iterator[np.ndarray]:
    """Clip frames ``start`` to ``end`` (exclusive) of the animated GIF at ``path``, at the
    clip's rate (:func:`gif_timing`), as ``(H, W, 3)`` uint8 arrays: each frame as Pillow
    composes it on the ones before (as the GIF's disposal asks), transparency on white."""
    source = Path(path)
    chosen = _clip_frames(shown_delays(frame_delays(source.read_bytes())))[start:end]
    try:
        with Image.open(source) as gif:
            for frame in chosen:
                gif.seek(frame)  # forward from the last: each frame decoded once
                if gif.mode == "RGB":
                    yield np.array(gif)
                else:  # the first frame (palette), or frames with transparency
                    rgba = gif.convert("RGBA")
                    white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
                    yield np.array(Image.alpha_composite(white, rgba).convert("RGB"))
    except EOFError:
        raise RestyleError(f"{source}: decoding failed (Pillow found fewer frames than the file's blocks)") from None
    except Image.DecompressionBombError:
        raise RestyleError(f"{source}: refused as a decompression bomb (its frames are too large)") from None
    except (OSError, SyntaxError, ValueError) as exc:
        reason = str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__
        raise RestyleError(f"{source}: decoding failed ({reason})") from None
