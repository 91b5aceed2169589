"""The Python API's arguments are checked against the same annotations the CLI's flags come from."""

from __future__ import annotations

import inspect
from collections.abc import Callable, Sequence
from typing import Literal

import numpy as np
import pytest
import torch

from restyle import load_image, save_image, stylize, stylize_photo, web
from restyle.automask import AutoMasks, auto_masks
from restyle.errors import ArgumentTypeError, RestyleError
from restyle.image import ImageLike
from restyle.signature import _flag_spec, check_arguments
from restyle.video import stylize_video

ENTRY_POINTS = [stylize, stylize_photo, stylize_video, auto_masks, web.serve, load_image, save_image]


def toy(
    *,
    size: int = 512,
    weight: float = 1.0,
    seed: int | None = None,
    pyramid: bool = True,
    layers: Sequence[str] = ("relu4_2",),
    blend: Sequence[float] | None = None,
    pooling: Literal["max", "avg"] = "max",
    bits: Literal[8, 10, 16] = 8,
    auto: bool | AutoMasks = False,
    device: str | torch.device = "auto",
    callback: Callable[[int], None] | None = None,
    mask: ImageLike | None = None,
) -> None:
    """A stand-in entry point with one option of each kind."""


@pytest.mark.parametrize(
    "values",
    [
        {"size": 64, "weight": 3, "seed": 7, "pyramid": False},
        {"size": 64.0, "weight": 2.5, "seed": None},  # a whole float is a whole number (max_pixels=1e8)
        {"size": np.int64(64), "weight": np.float32(0.5), "seed": np.uint8(3), "pyramid": np.bool_(True)},
        {"layers": ["relu1_1", "relu2_1"], "blend": (2, 1.5)},
        {"layers": (), "blend": np.array([1.0, 2.0])},
        {"pooling": "avg", "bits": 10, "auto": True, "device": torch.device("cpu")},
        {"callback": print, "seed": 0},
        {"callback": lambda iterate: None},
        {"mask": "mask.png"},
        {"mask": np.zeros((2, 2))},
        {"mask": None},
    ],
)
def test_values_of_the_annotated_types_pass(values):
    check_arguments(toy, values)


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"size": "64"}, "size must be a whole number, not '64'"),
        ({"size": 64.5}, "size must be a whole number, not 64.5"),
        ({"size": float("nan")}, "size must be a whole number, not nan"),
        ({"size": True}, "size must be a whole number, not True"),
        ({"weight": "1e3"}, "weight must be a number, not '1e3'"),
        ({"weight": None}, "weight must be a number, not None"),
        ({"seed": "x"}, "seed must be a whole number or None, not 'x'"),
        ({"pyramid": "no"}, "pyramid must be True or False, not 'no'"),
        ({"pyramid": 0}, "pyramid must be True or False, not 0"),
        ({"layers": "relu4_2"}, "layers must be a list of strings, not 'relu4_2'"),
        ({"layers": ["relu4_2", 3]}, "layers must be a list of strings, not ['relu4_2', 3]"),
        ({"blend": 2}, "blend must be a list of numbers or None, not 2"),
        ({"pooling": ["max"]}, "pooling must be one of 'max', 'avg', not ['max']"),
        ({"auto": "yes"}, "auto must be True or False or an AutoMasks, not 'yes'"),
        ({"device": 0.5}, "device must be a string or a device, not 0.5"),
        ({"callback": "print"}, "callback must be a function or None, not 'print'"),
        ({"mask": b"x"}, "mask must be an image (a path, PIL image, numpy array or tensor) or None, not b'x'"),
        # a word (or number) that is not a choice: told as the CLI tells it, by the flag, not a TypeError
        ({"pooling": "min"}, "unknown --pooling 'min': use one of max, avg"),
        ({"bits": 12}, "unknown --bits 12: use one of 8, 10, 16"),
        ({"bits": "10"}, "unknown --bits '10': use one of 8, 10, 16"),
    ],
)
def test_a_value_of_another_type_or_not_a_choice_is_one_clear_error(values, message):
    with pytest.raises(RestyleError) as caught:
        check_arguments(toy, values)
    assert str(caught.value) == message
    wrong_type = not message.startswith("unknown ")
    assert isinstance(caught.value, TypeError) is wrong_type is isinstance(caught.value, ArgumentTypeError)


def test_names_that_are_not_options_are_not_looked_at():
    check_arguments(toy, {"content": object(), "on_step": "not callable", "_cache": 3})


def _options(func):
    return [
        p
        for p in inspect.signature(func).parameters.values()
        if p.kind is inspect.Parameter.KEYWORD_ONLY and not p.name.startswith("_")
        if _flag_spec(inspect.get_annotations(func, eval_str=True)[p.name]) is not None
    ]


@pytest.mark.parametrize("func", ENTRY_POINTS, ids=lambda f: f.__name__)
def test_every_option_of_every_entry_point_is_checked_and_its_default_passes(func):
    options = _options(func)
    assert options
    check_arguments(func, {p.name: p.default for p in options})
    for param in options:
        with pytest.raises(ArgumentTypeError, match=f"^{param.name} must be "):
            check_arguments(func, {param.name: object()})


def test_each_entry_point_checks_before_it_reads_a_file(tmp_path):
    missing = str(tmp_path / "missing.png")
    calls = [
        lambda: stylize(missing, missing, pyramid="no"),
        lambda: stylize_photo(missing, missing, full_resolution="yes"),
        lambda: stylize_video(missing, missing, output=str(tmp_path / "o.mp4"), fps="25"),
        lambda: auto_masks(torch.rand(1, 3, 32, 32), torch.rand(1, 3, 32, 32), sky="no"),
        lambda: web.serve(port="80", block=False),
        lambda: load_image(missing, size=True),  # was read as a 1 px image
        lambda: save_image(torch.rand(1, 3, 8, 8), tmp_path / "out.png", bits="16"),
    ]
    names = ["pyramid", "full_resolution", "fps", "sky", "port", "size", "bits"]
    for call, name in zip(calls, names, strict=True):
        with pytest.raises(ArgumentTypeError, match=f"^{name} must be "):
            call()
    assert not list(tmp_path.iterdir())


@pytest.mark.parametrize("func", [stylize, stylize_photo, stylize_video], ids=lambda f: f.__name__)
def test_a_callback_that_cannot_be_called_is_refused_before_any_work(func, tmp_path):
    """It failed at the first iteration, after the images were read and the styles encoded."""
    missing = str(tmp_path / "missing.png")
    extra = {"output": str(tmp_path / "o.mp4")} if func is stylize_video else {}
    with pytest.raises(ArgumentTypeError, match="^callback must be a function or None, not 5$"):
        func(missing, missing, callback=5, **extra)


def test_a_truthy_string_no_longer_turns_an_option_on():
    rng = np.random.default_rng(0)
    image = rng.random((32, 32, 3))
    with pytest.raises(ArgumentTypeError, match="channels_last must be True or False, not 'False'"):
        stylize(image, image, size=32, iterations=1, pyramid=False, device="cpu", channels_last="False")
