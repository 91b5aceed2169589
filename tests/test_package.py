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


def _readme_python() -> str:
    from pathlib import Path

    text = (Path(__file__).parents[1] / "README.md").read_text()
    start = text.index("```python\n") + len("```python\n")
    return text[start : text.index("```", start)]


def test_the_readme_python_example_runs(tmp_path, monkeypatch, capsys):
    """The README's Python block, run as written but small: its files made here, its sizes and
    its presets made fast. Each change must find its text, so a README that drifts from these
    names fails here rather than for a reader."""
    import numpy as np
    from PIL import Image

    from restyle.image import read_metadata, sample_path

    code = _readme_python()
    small = {
        "size=512,": "size=32, iterations=2, coarse_iterations=0,",
        'load_image("city.jpg", size=512)': 'load_image("city.jpg", size=48)',
        'load_image("dusk.jpg", size=512)': 'load_image("dusk.jpg", size=48)',
        'preset="default"': 'preset="fast", size=48',
        "auto_masks=found)": 'auto_masks=found, preset="fast", size=48)',
    }
    for old, new in small.items():
        assert old in code, f"the README's Python block no longer has {old!r}"
        code = code.replace(old, new)
    monkeypatch.chdir(tmp_path)
    for name, sample in (
        ("photo.jpg", "coffee"),
        ("starry.jpg", "chelsea"),
        ("city.jpg", "rocket"),
        ("dusk.jpg", "coffee"),
    ):
        Image.open(sample_path(sample)).convert("RGB").resize((96, 64)).save(name)
    for name in ("city_seg.png", "dusk_seg.png"):  # DPST's colours: blue above, green below
        mask = np.zeros((64, 96, 3), np.uint8)
        mask[:24, :, 2] = 255
        mask[24:, :, 1] = 255
        Image.fromarray(mask).save(name)
    exec(compile(code, "README.md", "exec"), {})
    assert read_metadata("out.png")["size"] == 32 and Image.open("out.jpg").size == (32, 21)
    assert "content region 0" in capsys.readouterr().out  # found.describe() was printed


def test_the_package_metadata_builds_without_deprecations():
    """pyproject.toml read as setuptools builds it, every warning an error: a form setuptools
    has deprecated (the licence as a TOML table was one, with a removal date) fails here rather
    than in a user's ``pip install`` once the removal lands."""
    import warnings
    from pathlib import Path

    from setuptools.config.pyprojecttoml import apply_configuration
    from setuptools.dist import Distribution

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        dist = apply_configuration(Distribution(), Path(__file__).parents[1] / "pyproject.toml")
    assert dist.get_name() == "restyle"
    assert dist.entry_points["console_scripts"] == ["restyle = restyle.cli:entry"]
