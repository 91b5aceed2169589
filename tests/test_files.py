"""Working names beside an output, and paths the system refuses (restyle.files)."""

import os

import pytest

from restyle.errors import RestyleError
from restyle.files import NAME_MAX, atomic_write, check_lookup, name_beside

from .conftest import claim_in_another_process


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


def test_hold_folder_keeps_a_second_process_out_until_the_first_lets_go(tmp_path):
    from restyle.files import LOCK_NAME, hold_folder

    release = hold_folder(tmp_path)
    assert release is not None and (tmp_path / LOCK_NAME).exists()
    child, answer = claim_in_another_process(tmp_path)
    assert child.wait(30) == 0 and answer == "busy"
    assert hold_folder(tmp_path) is None  # a second claim in this process fails too
    release()
    assert not (tmp_path / LOCK_NAME).exists()  # nothing left behind
    child, answer = claim_in_another_process(tmp_path)
    assert child.wait(30) == 0 and answer == "held"


def test_hold_folder_is_refused_while_another_process_holds_it_and_free_once_it_is_gone(tmp_path):
    """A process that ends (here: killed) lets go; the lock file it leaves is taken over."""
    from restyle.files import LOCK_NAME, hold_folder

    child, answer = claim_in_another_process(tmp_path, hold_for=60)
    try:
        assert answer == "held"
        assert hold_folder(tmp_path) is None
    finally:
        child.kill()
        child.wait(30)
    assert (tmp_path / LOCK_NAME).exists()  # stale: the killed process could not remove it
    release = hold_folder(tmp_path)
    assert release is not None
    release()


def test_hold_folder_makes_a_missing_folder(tmp_path):
    from restyle.files import hold_folder

    release = hold_folder(tmp_path / "a" / "b")
    assert release is not None and (tmp_path / "a" / "b").is_dir()
    release()
