"""The error type for mistakes a user can make.

Anything raised as :class:`RestyleError` is reported by the CLI (and the web UI) as one line,
without a traceback; anything else is a bug and keeps its traceback.

A message names an option by its command-line flag (:func:`flag`: ``--style-scale``), from the
CLI and from Python alike, and the web UI turns a flag into its field's name. A keyword that
has no flag (``bits`` of :func:`restyle.image.save_image`) and a wrong type, which only a Python
caller can give (:class:`ArgumentTypeError`), are named by the keyword.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Iterable, Sequence
from typing import Any


class RestyleError(Exception):
    """A user-facing error: bad input, a missing file, an unwritable output.

    The message is a complete sentence that says what is wrong and, where there is one, the fix.
    """


class ArgumentTypeError(RestyleError, TypeError):
    """An argument of the Python API of a type its parameter does not take (``seed="7"``).

    It is a :class:`TypeError` too, as Python's own wrong-type errors are.
    """


def listing(names: Sequence[str], limit: int = 10) -> str:
    """Names for a message, at most ``limit`` of them.

    Example:
        >>> listing(["blue", "red"]), listing([]), listing([f"#{i:06x}" for i in range(30)], limit=2)
        ('blue, red', 'none', '#000000, #000001 and 28 more')
    """
    if not names:
        return "none"
    shown = ", ".join(names[:limit])
    return shown if len(names) <= limit else f"{shown} and {len(names) - limit} more"


#: What the CLI and the web UI say when memory runs out.
OUT_OF_MEMORY = "out of memory; try a smaller --size"


def flag(name: str) -> str:
    """An option as every message names it: by its command-line flag, which a Python caller
    reads as the keyword of that name and the web UI turns into its field's name.

    Example:
        >>> flag("style_scale")
        '--style-scale'
    """
    return "--" + name.replace("_", "-")


#: A web address as :class:`pathlib.Path` leaves it: ``https://a/b.jpg`` becomes ``https:/a/b.jpg``.
_URL = re.compile(r"^(https?|ftp|s3|gs):/+", re.IGNORECASE)


def no_such_file(path: str | os.PathLike, kind: str = "file") -> RestyleError:
    """The error for a path that does not exist. A web address is told apart: restyle reads
    local files only.

    Example:
        >>> no_such_file("photo.jpg")
        RestyleError('photo.jpg: no such file')
        >>> from pathlib import Path
        >>> no_such_file(Path("https://example.com/photo.jpg"))
        RestyleError('https://example.com/photo.jpg: a web address; restyle reads local files, so download it first')
    """
    text = os.fspath(path)
    if _URL.match(text):
        url = _URL.sub(lambda match: match.group(1) + "://", text, count=1)
        return RestyleError(f"{url}: a web address; restyle reads local files, so download it first")
    if os.path.islink(text):  # it is listed, but what it points to is gone
        return RestyleError(f"{text}: a symbolic link to {os.readlink(text)}, which does not exist")
    return RestyleError(f"{text}: no such {kind}{home_hint(text)}")


def home_hint(path: str | os.PathLike) -> str:
    """What to add to an error about ``path`` if it begins with a ``~`` that only a shell would
    have made the home folder (one in quotes, or given from Python), naming the path meant;
    else "".

    Example:
        >>> import os
        >>> home_hint("photo.jpg")
        ''
        >>> home_hint("~/photo.jpg") == (
        ...     "; ~ is the home folder only where a shell expands it (not in quotes, not from "
        ...     "Python): give " + os.path.expanduser("~/photo.jpg")
        ... )
        True
    """
    text = os.fspath(path)
    meant = os.path.expanduser(text)  # the path itself unless it begins with ~
    if meant == text:
        return ""
    return f"; ~ is the home folder only where a shell expands it (not in quotes, not from Python): give {meant}"


def refused_path(exc: OSError) -> RestyleError:
    """The error for a path the system refuses (a name too long, a folder it may not search, a
    loop of symbolic links), in the system's words.

    Example:
        >>> refused_path(OSError(36, "File name too long", "a.png"))
        RestyleError('a.png: File name too long')
    """
    return RestyleError(f"{exc.filename}: {exc.strerror or exc}")


def check_path_given(path: object, what: str) -> None:
    """Refuse an empty path: an unset shell variable (``"$PHOTO"``) gives one, and as a path it
    would name the current folder.

    Example:
        >>> check_path_given("photo.jpg", "content")
        >>> check_path_given(" ", "content")
        Traceback (most recent call last):
        ...
        restyle.errors.RestyleError: content: the path is empty (an unset shell variable?)
    """
    if isinstance(path, str) and not path.strip():
        raise RestyleError(f"{what}: the path is empty (an unset shell variable?)")


def is_out_of_memory(exc: BaseException) -> bool:
    """Whether ``exc`` reports memory running out: Python's ``MemoryError``, or PyTorch's
    failed allocation on the CPU or a GPU (a ``RuntimeError``).

    Example:
        >>> is_out_of_memory(RuntimeError("DefaultCPUAllocator: can't allocate memory: ..."))
        True
        >>> is_out_of_memory(RuntimeError("shape mismatch"))
        False
    """
    if isinstance(exc, MemoryError):
        return True
    text = str(exc).lower()
    return isinstance(exc, RuntimeError) and ("out of memory" in text or "can't allocate memory" in text)


def check_choice(value: Any, choices: Iterable[Any], what: str) -> Any:
    """``value`` if it is one of ``choices``; otherwise a :class:`RestyleError` naming them.

    Example:
        >>> check_choice("max", ("max", "avg"), "--pooling")
        'max'
        >>> check_choice("min", ("max", "avg"), "--pooling")
        Traceback (most recent call last):
        ...
        restyle.errors.RestyleError: unknown --pooling 'min': use one of max, avg
    """
    choices = tuple(choices)
    if value not in choices:
        raise RestyleError(f"unknown {what} {value!r}: use one of {', '.join(map(str, choices))}")
    return value


def check_tensor(value: Any, what: str, shape: str, *, image: bool = True) -> None:
    """A :class:`TypeError` naming ``what`` unless ``value`` is a tensor: the operators take
    tensors, as kornia's do (``image``: say how to read an image into one).

    Example:
        >>> check_tensor("photo.png", "guided_filter", "(1, C, H, W)")
        Traceback (most recent call last):
        ...
        TypeError: guided_filter: expected a tensor (1, C, H, W), not str; read an image with restyle.load_image
    """
    import torch  # here, so that the errors import nothing heavy

    if not isinstance(value, torch.Tensor):
        hint = "; read an image with restyle.load_image" if image else ""
        raise TypeError(f"{what}: expected a tensor {shape}, not {type(value).__name__}{hint}")


def check_weight(value: float, name: str) -> float:
    """``value`` as a float if it is finite and >= 0; otherwise a :class:`RestyleError`.

    Example:
        >>> check_weight(1e4, "--photo-weight")
        10000.0
        >>> check_weight(float("nan"), "--style-weight")
        Traceback (most recent call last):
        ...
        restyle.errors.RestyleError: --style-weight must be a finite number >= 0, not nan
    """
    value = float(value)
    if not (value >= 0 and value < float("inf")):
        raise RestyleError(f"{name} must be a finite number >= 0, not {value}")
    return value


def check_at_least(value: int, minimum: int, name: str) -> int:
    """``value`` if it is at least ``minimum`` (a count, a size, a radius); otherwise a
    :class:`RestyleError`.

    Example:
        >>> check_at_least(3, 1, "levels")
        3
        >>> check_at_least(0, 1, "--radius")
        Traceback (most recent call last):
        ...
        restyle.errors.RestyleError: --radius must be at least 1, not 0
    """
    if value < minimum:
        raise RestyleError(f"{name} must be at least {minimum}, not {value}")
    return value


def check_positive(value: float, name: str) -> float:
    """``value`` as a float if it is finite and > 0 (a step, a rate, a regulariser: 0 is
    degenerate); otherwise a :class:`RestyleError`.

    Example:
        >>> check_positive(0.02, "--learning-rate")
        0.02
        >>> check_positive(0, "--fps")
        Traceback (most recent call last):
        ...
        restyle.errors.RestyleError: --fps must be a positive number, not 0
    """
    if not (math.isfinite(value) and value > 0):
        raise RestyleError(f"{name} must be a positive number, not {value}")
    return float(value)
