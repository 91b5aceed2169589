"""Command-line flags derived from a function's keyword-only parameters.

The library's signatures are the single source of truth: every keyword-only parameter of an
entry point such as :func:`restyle.stylize` becomes a flag with the same default, a type and
choices taken from its annotation, and the help text of its docstring's ``Args:`` entry.
"""

from __future__ import annotations

import argparse
import inspect
import re
import types
import typing
from collections.abc import Callable, Sequence
from typing import Any, Literal

__all__ = ["add_signature_flags", "docstring_args", "plain_help", "signature_kwargs", "split"]


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
    return re.sub(r"``([^`]+)``", lambda m: _flag(m.group(1)) if m.group(1) in flags else m.group(1), text)


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
    if annotation in (int, float, str):
        return {"type": annotation}
    if origin in (list, tuple, Sequence):
        args = typing.get_args(annotation)
        item = args[0] if args else str
        if item in (int, float, str):
            return {"type": split(item), "metavar": f"{item.__name__.upper()}[,...]"}
    return None


def _flag(name: str) -> str:
    return "--" + name.replace("_", "-")


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
        spec["help"] = text if "default" in text else f"{text} (default: {shown})".strip()
        parser.add_argument(_flag(param.name), dest=param.name, default=default, **spec)
        names.append(param.name)
    return names


def signature_kwargs(args: argparse.Namespace, names: Sequence[str]) -> dict[str, Any]:
    """The parsed values of the flags :func:`add_signature_flags` added."""
    return {name: getattr(args, name) for name in names}
