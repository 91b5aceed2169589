"""The package's public names."""

import importlib
import pkgutil

import pytest

import restyle

MODULES = ["restyle"] + [f"restyle.{m.name}" for m in pkgutil.iter_modules(restyle.__path__) if m.name != "__main__"]


@pytest.mark.parametrize("name", MODULES)
def test_every_exported_name_exists(name):
    module = importlib.import_module(name)
    missing = [n for n in getattr(module, "__all__", []) if not hasattr(module, n)]
    assert not missing, f"{name}.__all__ names what it does not define: {missing}"


def test_the_two_entry_points_are_at_the_top():
    from restyle.artistic import stylize
    from restyle.photo import stylize_photo

    assert restyle.stylize is stylize and restyle.stylize_photo is stylize_photo
