"""restyle: neural style transfer that people actually use.

Artistic transfer (Gatys et al. 2015) is :func:`stylize`, photorealistic transfer (Luan et al.
2017) is :func:`stylize_photo`; images are read and written with
:func:`load_image` and :func:`save_image`.
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("restyle")
except PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0.0.0+unknown"

from restyle.artistic import Result, stylize
from restyle.errors import RestyleError
from restyle.image import load_image, read_metadata, save_image
from restyle.optim import Iterate, Record
from restyle.photo import stylize_photo

__all__ = [
    "Iterate",
    "Record",
    "RestyleError",
    "Result",
    "__version__",
    "load_image",
    "read_metadata",
    "save_image",
    "stylize",
    "stylize_photo",
]
