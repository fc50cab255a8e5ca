"""Atomic file writes: a file appears whole under its final name, or not at all.

Every writer of the package goes through :func:`atomic_write`: it writes a
temporary file in the destination folder (:func:`temporary_name`, matched by
:data:`TEMPORARY_NAME` so interrupted runs' leftovers can be found) and puts
it in place in one step. Nothing is replaced unless ``overwrite=True``.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from pathlib import Path

__all__ = ["atomic_write", "atomic_write_text", "temporary_name", "TEMPORARY_NAME"]

def atomic_write(
    path: str | os.PathLike,
    write: Callable[[Path], None],
    *,
    overwrite: bool = False,
) -> Path:
    """Call ``write(tmp_path)`` and rename the result to ``path`` atomically.

    The temporary file lies in the destination folder (a rename across file
    systems would not be atomic) and is removed if ``write`` fails.

    Parameters
    ----------
    path : str or os.PathLike
        Final file name. Its folder is created if needed.
    write : callable
        Writes the file at the path it is given. The temporary name keeps the
        final suffix, so writers that pick the format by suffix still work.
    overwrite : bool, optional
        Replace an existing file. Default False.

    Returns
    -------
    pathlib.Path
        ``path``.

    Raises
    ------
    FileExistsError
        If ``path`` exists and ``overwrite`` is False, also when another
        process creates it while ``write`` runs: without ``overwrite`` the
        file is put in place with a hard link, which fails rather than
        replaces (where the file system has no hard links, the check and the
        rename are two steps).
    """
    path = _as_path(path)
    if path.is_dir():
        raise IsADirectoryError(f"{path} is a folder; give a file name")
    if path.exists() and not overwrite:
        raise _exists(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    # A random name rather than mkstemp: the writer creates the file itself, so
    # it gets the usual permissions (mkstemp's are owner-only) and they carry
    # over to the final file.
    tmp = path.parent / temporary_name(path)
    try:
        try:
            write(tmp)
        except FileNotFoundError:
            if path.parent.is_dir():
                raise
            # The folder went in between (a batch removes output folders it left
            # empty, and another may be writing into the same output folder).
            path.parent.mkdir(parents=True, exist_ok=True)
            write(tmp)
        if overwrite:
            os.replace(tmp, path)
        else:
            _link_into_place(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path


def temporary_name(path: Path) -> str:
    """Name of a temporary file for ``path`` (hidden, random, same suffix).

    :data:`TEMPORARY_NAME` matches these names.
    """
    return f".{path.stem}.{os.urandom(6).hex()}.tmp{path.suffix}"


#: Matches the names :func:`temporary_name` makes; group 1 is the final stem.
TEMPORARY_NAME = re.compile(r"^\.(.+)\.[0-9a-f]{12}\.tmp(\.[^.]*)?$")


def _exists(path: Path) -> FileExistsError:
    return FileExistsError(
        f"{path} already exists; pass overwrite=True (--overwrite on the "
        "command line) to replace it, or choose another output folder"
    )


def _link_into_place(tmp: Path, path: Path) -> None:
    """Give ``tmp`` the name ``path`` unless that exists, in one step."""
    try:
        os.link(tmp, path)
    except FileExistsError:
        raise _exists(path) from None
    except OSError:
        # No hard links here (some network and FAT file systems).
        if path.exists():
            raise _exists(path) from None
        os.replace(tmp, path)
        return
    tmp.unlink()

def atomic_write_text(path: str | os.PathLike, text: str, *, overwrite: bool = False) -> Path:
    """Write ``text`` (UTF-8) to ``path`` atomically; see :func:`atomic_write`."""
    return atomic_write(path, lambda tmp: tmp.write_text(text, encoding="utf-8"), overwrite=overwrite)


def _as_path(path: str | os.PathLike) -> Path:
    return Path(os.fspath(path))
