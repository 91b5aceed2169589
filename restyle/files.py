"""Writing files safely: a result appears complete or not at all; one process at a time works in
a folder; and telling whether an input is still the file an earlier result was made from."""

from __future__ import annotations

import contextlib
import io
import os
import secrets
import stat
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import BinaryIO

from restyle.errors import RestyleError, refused_path

__all__ = [
    "atomic_write",
    "check_lookup",
    "check_not_an_input",
    "check_replaceable",
    "file_stamp",
    "hold_folder",
    "name_beside",
    "replace_keeping_mode",
    "replaceable_target",
    "written_path",
]


#: The longest file name, in bytes, that common file systems take (ext4, XFS, APFS, NTFS).
NAME_MAX = 255


def name_beside(path: str | os.PathLike, tag: str, *, hidden: bool = True) -> Path:
    """A working file's or folder's path beside ``path``: its name, after a dot if ``hidden``,
    then ``tag``, with the name cut short so that the whole fits in :data:`NAME_MAX` bytes. A
    result's name may be up to that long, and a working name made longer would be refused only
    when the result is written, after the work.

    Example:
        >>> name_beside("out/clip.mp4", ".part").as_posix()
        'out/.clip.mp4.part'
        >>> len(name_beside("x" * 255 + ".png", ".part").name)
        255
    """
    path = Path(path)
    lead = "." if hidden else ""
    room = NAME_MAX - len(lead.encode()) - len(tag.encode())
    name = path.name.encode()[:room].decode("utf-8", "ignore")  # never half a character
    return path.with_name(lead + name + tag)


def check_lookup(path: str | os.PathLike) -> None:
    """A one-line :class:`RestyleError` in the system's words if the system refuses to look
    ``path`` up at all: a name too long, a folder it may not search, a loop of symbolic links.
    A path that does not exist passes (an output's does not yet).

    Example:
        >>> check_lookup("no-such-photo.jpg")
        >>> check_lookup("x" * 300 + ".png")
        Traceback (most recent call last):
        ...
        restyle.errors.RestyleError: xxx...xxx.png: File name too long
    """
    try:
        os.stat(path)
    except (FileNotFoundError, NotADirectoryError):
        return
    except OSError as exc:
        raise refused_path(exc) from None


#: The file a process holds locked in a folder it works in (:func:`hold_folder`).
LOCK_NAME = ".restyle.lock"


def hold_folder(folder: str | os.PathLike) -> Callable[[], None] | None:
    """Claim ``folder`` for this process, so that two restyle processes never work in it at once.

    The claim is an exclusive lock on the file :data:`LOCK_NAME` in the folder, which the system
    lets go of when the process ends, however it ends (a run killed leaves a stale file, which
    the next claim takes over). The folder is made if it is missing.

    Returns:
        The function that lets the folder go (and removes the lock file), or None if another
        process holds it. Where the system has no ``fcntl`` locks (Windows), every claim succeeds.

    Raises:
        OSError: if the lock file cannot be made (a read-only folder, say).

    Example:
        >>> import tempfile
        >>> folder = tempfile.mkdtemp()
        >>> release = hold_folder(folder)
        >>> hold_folder(folder) is None  # held: a second claim fails, even from this process
        True
        >>> release()
        >>> hold_folder(folder)()  # let go: it can be claimed again
    """
    try:
        import fcntl
    except ImportError:  # not POSIX
        return lambda: None
    path = Path(folder) / LOCK_NAME
    while True:
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        except FileNotFoundError:  # the folder was removed (by the run that held it, at its end)
            Path(folder).mkdir(parents=True, exist_ok=True)
            continue
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return None
        try:
            current = os.stat(path).st_ino == os.fstat(fd).st_ino
        except FileNotFoundError:
            current = False
        if current:
            break
        os.close(fd)  # the holder let go and removed the file between our open and our lock

    def release() -> None:
        with contextlib.suppress(OSError):
            path.unlink()
        os.close(fd)

    return release


def atomic_write(path: str | os.PathLike, write: Callable[[BinaryIO], None]) -> Path:
    """Call ``write`` on a temporary file beside ``path``, then rename it onto ``path``.

    A failure or Ctrl-C inside ``write`` removes the temporary file and leaves any old
    ``path`` untouched. An OSError becomes a one-line :class:`RestyleError`.

    ``write`` writes to memory, and the bytes go to the file in one checked write, then to the
    disk (``fsync``) before the rename. Pillow writes some formats straight to a file's
    descriptor and takes a short write for a whole one: on a full disk it left a truncated
    JPEG behind, reported as saved.

    An existing ``path`` that is read-only is refused (:func:`check_replaceable`); one that is
    replaced keeps its permissions (:func:`replace_keeping_mode`). A symbolic link stays, and
    the file it points to is written (:func:`written_path`).

    Example:
        >>> import tempfile, pathlib
        >>> target = pathlib.Path(tempfile.mkdtemp()) / "a.txt"
        >>> atomic_write(target, lambda f: f.write(b"hi")).read_text()
        'hi'
    """
    path = Path(path)
    target = replaceable_target(path)
    # Our own temp file rather than mkstemp's, which is always 0600 (a result other users could
    # not read): created with 0666, the umask applies as to any new file.
    tmp = name_beside(target, f".{secrets.token_hex(8)}.part")
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
    try:
        fd = os.open(tmp, flags, 0o666)
    except OSError as exc:
        raise RestyleError(f"{path}: cannot write: {exc.strerror or exc}") from None
    try:
        with os.fdopen(fd, "wb") as handle:
            buffer = io.BytesIO()
            write(buffer)
            handle.write(buffer.getbuffer())  # a buffered write: short writes retried, errors raised
            handle.flush()
            os.fsync(handle.fileno())
        replace_keeping_mode(tmp, target)
    except BaseException as exc:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        if isinstance(exc, OSError):
            raise RestyleError(f"{path}: cannot write: {exc.strerror or exc}") from None
        raise
    return path


def written_path(path: str | os.PathLike) -> Path:
    """The file that writing ``path`` replaces: ``path`` itself, or, when it is a symbolic link,
    the file the link points to (through any chain of links). A result written to a link lands
    where the link points and the link stays, as with any program that opens the path to write;
    a rename onto the link itself would replace the link with a file.

    Example:
        >>> import tempfile, pathlib
        >>> folder = pathlib.Path(tempfile.mkdtemp()).resolve()
        >>> (folder / "latest.png").symlink_to("run7.png")
        >>> written_path(folder / "latest.png") == folder / "run7.png"
        True
    """
    path = Path(path)
    return Path(os.path.realpath(path)) if path.is_symlink() else path


def replaceable_target(path: str | os.PathLike) -> Path:
    """The file a write to ``path`` lands on (:func:`written_path`), refused if it is read-only
    (:func:`check_replaceable`): what every writer here checks before it makes its temporary
    file beside it and renames that onto it (:func:`replace_keeping_mode`)."""
    target = written_path(path)
    check_replaceable(target)
    return target


def check_replaceable(path: str | os.PathLike) -> None:
    """Refuse an output that exists and is read-only: without write permission for us, or with
    every write bit cleared (``chmod a-w``, as one keeps a result from being overwritten, which
    root could otherwise replace). A rename onto it would succeed all the same, since it needs
    only the folder to be writable.

    Example:
        >>> import tempfile, pathlib
        >>> kept = pathlib.Path(tempfile.mkdtemp()) / "kept.png"
        >>> _ = kept.write_bytes(b"...")
        >>> check_replaceable(kept.with_name("new.png")); check_replaceable(kept)
        >>> kept.chmod(0o444); check_replaceable(kept)
        Traceback (most recent call last):
        restyle.errors.RestyleError: ...kept.png: the file is read-only; give another output, or make it writable to replace it
    """
    try:
        mode = os.stat(path).st_mode
    except OSError:  # missing (to be made), or an error the write itself will report
        return
    if stat.S_ISREG(mode) and (not mode & 0o222 or not os.access(path, os.W_OK)):
        raise RestyleError(f"{path}: the file is read-only; give another output, or make it writable to replace it")


def replace_keeping_mode(new: str | os.PathLike, path: str | os.PathLike) -> None:
    """Rename the finished file ``new`` onto ``path``; an existing ``path``'s permissions pass
    to the new file (a private result stays private, a group's stays the group's), where a
    rename alone would give it those of a new file."""
    with contextlib.suppress(OSError):
        os.chmod(new, stat.S_IMODE(os.stat(path).st_mode))
    os.replace(new, path)


def check_not_an_input(output: str | os.PathLike, inputs: Sequence[object]) -> None:
    """Refuse an output that is one of the run's inputs (the same file or folder): a swapped
    argument would replace the user's photo or clip. Inputs that are not existing paths
    (``sample:`` names, tensors, None) are skipped.

    Example:
        >>> import tempfile, pathlib
        >>> photo = pathlib.Path(tempfile.mkdtemp()) / "photo.png"
        >>> _ = photo.write_bytes(b"...")
        >>> check_not_an_input(photo.with_name("out.png"), [photo, None, "sample:coffee"])
        >>> check_not_an_input(photo, [photo])
        Traceback (most recent call last):
        restyle.errors.RestyleError: ...photo.png: is an input of this run; give another output, so that it is not replaced
    """
    output = Path(output)
    for source in inputs:
        readable = isinstance(source, (str, os.PathLike)) and Path(source).exists()
        if readable and output.exists() and os.path.samefile(output, source):
            raise RestyleError(f"{output}: is an input of this run; give another output, so that it is not replaced")


def file_stamp(path: str | os.PathLike) -> list[object]:
    """A file's resolved path, size and time modified: it is the same file while these are
    (results made from it are then still its results).

    Example:
        >>> import tempfile, pathlib
        >>> photo = pathlib.Path(tempfile.mkdtemp()) / "photo.png"
        >>> _ = photo.write_bytes(b"...")
        >>> file_stamp(photo)[1:2]
        [3]
    """
    stat = Path(path).stat()
    return [str(Path(path).resolve()), stat.st_size, stat.st_mtime_ns]
