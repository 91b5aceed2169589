"""Working names beside an output, and paths the system refuses (restyle.files)."""

import os

import pytest

from restyle.errors import RestyleError
from restyle.files import NAME_MAX, atomic_write, check_lookup, name_beside


def test_name_beside_keeps_a_short_name_whole():
    assert name_beside("out/clip.mp4", ".part").as_posix() == "out/.clip.mp4.part"
    assert name_beside("out/clip.mp4", ".work", hidden=False).as_posix() == "out/clip.mp4.work"


@pytest.mark.parametrize("hidden", [True, False])
@pytest.mark.parametrize("name", ["b" * 251 + ".png", "é" * 125 + ".png", "日本" * 40 + ".tif"])
def test_name_beside_fits_a_long_name_in_the_limit_without_splitting_a_character(tmp_path, name, hidden):
    assert len(name.encode()) <= NAME_MAX
    beside = name_beside(tmp_path / name, ".0123456789abcdef.part", hidden=hidden)
    assert beside.parent == tmp_path
    assert len(beside.name.encode()) <= NAME_MAX and beside.name.endswith(".0123456789abcdef.part")
    kept = beside.name.removeprefix("." if hidden else "").removesuffix(".0123456789abcdef.part")
    assert name.startswith(kept)  # whole characters
    assert len(beside.name.encode()) >= NAME_MAX - 3  # all the room, less at most part of one character
    beside.write_bytes(b"")  # the system takes it
    assert beside.exists()


def test_atomic_write_writes_a_name_as_long_as_the_system_takes(tmp_path):
    """The temporary name added 23 bytes to the result's: a name of 233 to 255 bytes was
    refused ("File name too long") only when the result was written, after the work."""
    target = tmp_path / ("b" * (NAME_MAX - 4) + ".png")
    atomic_write(target, lambda handle: handle.write(b"done"))
    assert target.read_bytes() == b"done" and os.listdir(tmp_path) == [target.name]


def test_check_lookup_passes_a_missing_path_and_refuses_what_the_system_refuses(tmp_path):
    check_lookup(tmp_path / "missing.png")
    check_lookup(tmp_path / "no-folder" / "missing.png")
    long = tmp_path / ("a" * 300 + ".png")
    with pytest.raises(RestyleError) as caught:
        check_lookup(long)
    assert str(caught.value) == f"{long}: File name too long"
    loop = tmp_path / "loop.png"
    loop.symlink_to("loop.png")
    with pytest.raises(RestyleError) as caught:
        check_lookup(loop)
    assert str(caught.value) == f"{loop}: Too many levels of symbolic links"
