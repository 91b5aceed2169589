"""Command-line flags derived from a function's keyword-only parameters.

The library's signatures are the single source of truth: every keyword-only parameter of an
entry point such as :func:`restyle.stylize` becomes a flag with the same default, a type and
choices taken from its annotation, and the help text of its docstring's ``Args:`` entry. The
same annotations check the arguments a Python caller gives (:func:`check_arguments`), so that
``pyramid="no"`` is an error rather than a truthy string.
"""

from __future__ import annotations

import argparse
import functools
import inspect
import numbers
import re
import reprlib
import types
import typing
from collections.abc import Callable, Sequence
from typing import Any, Literal

import numpy as np

from restyle.errors import ArgumentTypeError, check_choice, flag

__all__ = [
    "add_signature_flags",
    "check_arguments",
    "docstring_args",
    "nonempty",
    "plain_help",
    "signature_kwargs",
    "split",
    "whole_number",
]


def whole_number(text: str) -> int:
    """A whole-number flag's value, also in float notation (``5e7``), as the README and the
    Python API write large ones (``max_pixels=5e7``).

    Example:
        >>> whole_number("512"), whole_number("100_000_000"), whole_number("5e7")
        (512, 100000000, 50000000)
        >>> whole_number("40.5")
        Traceback (most recent call last):
        ...
        argparse.ArgumentTypeError: '40.5' is not a whole number
    """
    try:
        return int(text)
    except ValueError:
        pass
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not value.is_integer():  # nan and inf are not either
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number")
    return int(value)


def nonempty(text: str) -> str:
    """A text flag's or argument's value, refused if empty: an unset shell variable
    (``"$PHOTO"``) gives one, and as a path it would name the current folder.

    Example:
        >>> nonempty("photo.jpg")
        'photo.jpg'
        >>> nonempty("")
        Traceback (most recent call last):
        ...
        argparse.ArgumentTypeError: empty (an unset shell variable?)
    """
    if not text.strip():
        raise argparse.ArgumentTypeError("empty (an unset shell variable?)")
    return text


def docstring_args(func: Callable[..., Any]) -> dict[str, str]:
    """The ``Args:`` entries of a Google-style docstring, as ``{name: one-line text}``."""
    doc = inspect.getdoc(func) or ""
    match = re.search(r"^Args:\n(.*?)(?:^\S|\Z)", doc, flags=re.S | re.M)
    if not match:
        return {}
    out: dict[str, str] = {}
    current = None
    for line in match.group(1).splitlines():
        entry = re.match(r"^    (\w+)(?: \(.*?\))?: (.*)$", line)
        if entry:
            current = entry.group(1)
            out[current] = entry.group(2).strip()
        elif current and line.strip():
            out[current] += " " + line.strip()
    return out


def plain_help(text: str, flags: Sequence[str] = ()) -> str:
    """Docstring markup as a terminal should show it: a role such as ``:mod:`restyle.automask```
    becomes ``restyle.automask`` (``:func:`~restyle.optim.optimize``` becomes ``optimize``), a
    literal ``x`` becomes x, and a literal that names one of ``flags`` becomes that flag
    (``auto_masks`` -> ``--auto-masks``)."""

    def role(match: re.Match[str]) -> str:
        target = match.group(2)
        return target.rsplit(".", 1)[-1] if match.group(1) else target

    text = re.sub(r":[\w:]+:`(~?)([^`]+)`", role, text)
    return re.sub(r"``([^`]+)``", lambda m: flag(m.group(1)) if m.group(1) in flags else m.group(1), text)


def split(kind: Callable[[str], Any]) -> Callable[[str], list[Any]]:
    def parse(text: str) -> list[Any]:
        return [kind(part.strip()) for part in text.split(",") if part.strip()]

    parse.__name__ = f"comma-separated {kind.__name__}"
    return parse


def _unwrap_optional(annotation: Any) -> tuple[Any, bool]:
    """``X | None`` -> ``(X, True)``. A union of several types is a flag of its first type; the
    others are what the Python API accepts besides (``bool | AutoMasks`` is a ``bool`` flag)."""
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        args = typing.get_args(annotation)
        return next(a for a in args if a is not type(None)), type(None) in args
    return annotation, False


def _flag_spec(annotation: Any) -> dict[str, Any] | None:
    """argparse keyword arguments for a parameter annotation, or None for a non-CLI parameter."""
    annotation, _optional = _unwrap_optional(annotation)
    origin = typing.get_origin(annotation)
    if annotation is bool:
        return {"action": argparse.BooleanOptionalAction}
    if origin is Literal:
        choices = typing.get_args(annotation)
        return {"choices": choices, "type": type(choices[0]), "metavar": "{" + ",".join(map(str, choices)) + "}"}
    parsers: dict[Any, Callable[[str], Any]] = {int: whole_number, float: float, str: nonempty}
    if annotation in parsers:
        return {"type": parsers[annotation]}
    if origin in (list, tuple, Sequence):
        args = typing.get_args(annotation)
        item = args[0] if args else str
        if item in parsers:
            return {"type": split(parsers[item]), "metavar": f"{item.__name__.upper()}[,...]"}
    return None


def add_signature_flags(
    parser: argparse.ArgumentParser,
    func: Callable[..., Any],
    *,
    skip: Sequence[str] = (),
    help_overrides: dict[str, str] | None = None,
) -> list[str]:
    """Add a flag for each keyword-only parameter of ``func``.

    Returns:
        The names of the parameters that became flags (to pass back with
        :func:`signature_kwargs`).
    """
    hints = typing.get_type_hints(func)
    helps = docstring_args(func)
    helps.update(help_overrides or {})
    specs = {
        p.name: (p, spec)
        for p in inspect.signature(func).parameters.values()
        if p.kind is inspect.Parameter.KEYWORD_ONLY and p.name not in skip and not p.name.startswith("_")
        if (spec := _flag_spec(hints.get(p.name, str))) is not None
    }
    names = []
    for param, spec in specs.values():
        default = param.default
        shown = ",".join(map(str, default)) if isinstance(default, (list, tuple)) else default
        text = plain_help(helps.get(param.name, ""), list(specs)).replace("%", "%%")
        if "default" in text or default is None:  # the text says it, or there is none to say
            spec["help"] = text
        else:
            spec["help"] = f"{text.rstrip('.')} (default: {shown})".strip()
        parser.add_argument(flag(param.name), dest=param.name, default=default, **spec)
        names.append(param.name)
    return names


def signature_kwargs(args: argparse.Namespace, names: Sequence[str]) -> dict[str, Any]:
    """The parsed values of the flags :func:`add_signature_flags` added."""
    return {name: getattr(args, name) for name in names}


def _is_callback(annotation: Any) -> bool:
    """Whether ``annotation`` is ``Callable[...]`` or ``Callable[...] | None``."""
    return typing.get_origin(_unwrap_optional(annotation)[0]) is Callable


@functools.cache
def _option_hints(func: Callable[..., Any]) -> dict[str, Any]:
    """The annotations of ``func``'s keyword-only parameters that are options (those that
    :func:`add_signature_flags` can make flags of) or callbacks."""
    hints = typing.get_type_hints(func)
    return {
        p.name: hints[p.name]
        for p in inspect.signature(func).parameters.values()
        if p.kind is inspect.Parameter.KEYWORD_ONLY and p.name in hints
        if _flag_spec(hints[p.name]) is not None or _is_callback(hints[p.name])
    }


def _is_bool(value: Any) -> bool:
    return isinstance(value, (bool, np.bool_))


def _fits(annotation: Any, value: Any) -> bool:
    """Whether ``value`` is of the type ``annotation`` names. A whole float fits ``int``
    (``max_pixels=1e8``); an annotation other than the ones options use is not checked."""
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        return any(_fits(arm, value) for arm in typing.get_args(annotation))
    if annotation is type(None):
        return value is None
    if annotation is bool:
        return _is_bool(value)
    if annotation is int:
        if _is_bool(value) or not isinstance(value, numbers.Real):
            return False
        return isinstance(value, numbers.Integral) or float(value).is_integer()
    if annotation is float:
        return isinstance(value, numbers.Real) and not _is_bool(value)
    if annotation is str:
        return isinstance(value, str)
    if origin is Literal:
        return isinstance(value, (str, numbers.Real)) and not _is_bool(value) and value in typing.get_args(annotation)
    if origin in (list, tuple, Sequence):
        item = (typing.get_args(annotation) or (Any,))[0]
        if isinstance(value, (str, bytes)) or not isinstance(value, (Sequence, np.ndarray)):
            return False
        return all(_fits(item, element) for element in value)
    if origin is Callable:
        return callable(value)
    if isinstance(annotation, type):
        return isinstance(value, annotation)
    return True


_PLURALS = {bool: "True or False values", int: "whole numbers", float: "numbers", str: "strings"}


#: The names of the types an image may be given as (:data:`restyle.image.ImageLike`), told as one.
_IMAGE_ARMS = frozenset({"str", "PathLike", "Image", "ndarray", "Tensor"})


def _describe(annotation: Any) -> str:
    """What :func:`_fits` asks of a value, in words: ``int | None`` -> "a whole number or None"."""
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        arms = typing.get_args(annotation)
        if {getattr(arm, "__name__", None) for arm in arms} >= _IMAGE_ARMS:  # restyle.image.ImageLike
            rest = [_describe(arm) for arm in arms if getattr(arm, "__name__", None) not in _IMAGE_ARMS]
            return " or ".join(["an image (a path, PIL image, numpy array or tensor)", *rest])
        return " or ".join(_describe(arm) for arm in arms)
    if origin is Literal:
        return "one of " + ", ".join(map(repr, typing.get_args(annotation)))
    if origin is Callable:
        return "a function"
    if origin in (list, tuple, Sequence):
        item = (typing.get_args(annotation) or (Any,))[0]
        return f"a list of {_PLURALS.get(item, 'values')}"
    words = {type(None): "None", bool: "True or False", int: "a whole number", float: "a number", str: "a string"}
    if annotation in words:
        return words[annotation]
    name = str(getattr(annotation, "__name__", annotation))
    return f"{'an' if name[:1] in 'AEIOUaeiou' else 'a'} {name}"


def check_arguments(func: Callable[..., Any], values: dict[str, Any]) -> None:
    """Check the options a Python caller gave ``func`` against its annotations.

    The CLI's flags are typed by argparse; this is the same check for a call from Python, where
    a wrong type would otherwise fail deep inside with an unrelated message, or be taken as
    something else (a string is true, and a sequence of characters).

    Args:
        func: an entry point such as :func:`restyle.stylize`.
        values: its arguments by name (``locals()`` at its top will do); names that are not
            option parameters of ``func`` are not looked at.

    Raises:
        ArgumentTypeError: naming the first option whose value is of a type it does not take.
        RestyleError: for a word (or number) that is not one of an option's choices, as
            :func:`~restyle.errors.check_choice` tells it.

    Example:
        >>> def f(*, size: int = 512, pyramid: bool = True) -> None: ...
        >>> check_arguments(f, {"size": 512.0, "pyramid": False})
        >>> check_arguments(f, {"pyramid": "no"})
        Traceback (most recent call last):
        ...
        restyle.errors.ArgumentTypeError: pyramid must be True or False, not 'no'
    """
    for name, annotation in _option_hints(func).items():
        value = values.get(name, inspect.Parameter.empty)
        if value is inspect.Parameter.empty or _fits(annotation, value):
            continue
        choices = _unwrap_optional(annotation)[0]
        if typing.get_origin(choices) is Literal and isinstance(value, (str, numbers.Real)) and not _is_bool(value):
            check_choice(value, typing.get_args(choices), flag(name))  # a wrong word, told as a wrong flag value is
        # a wrong type only a Python caller can give, told in Python's words: the keyword, not its flag
        raise ArgumentTypeError(f"{name} must be {_describe(annotation)}, not {reprlib.repr(value)}")
