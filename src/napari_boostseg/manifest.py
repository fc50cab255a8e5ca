"""What made a photo's outputs: one small record per photo, and a lock.

A batch writes, per photo ``NAME``, a JSON record ``OUT/manifests/NAME.json``
holding the *recipe* of its outputs (the photo, where the coarse masks came
from, the weights and their SHA-256, the refinement parameters, the output
options and the package version), the files it wrote and the number of
objects found. The record is written twice: marked incomplete just before
the first output is written, and complete after the last one. So:

* a complete record with the same recipe means the outputs are finished and
  belong together: a rerun skips the photo;
* a complete record with another recipe means the outputs were made with
  other options: :func:`differences` names them, and the batch refuses unless
  told to overwrite;
* an incomplete record means a run was interrupted while writing: the files
  are that run's and are replaced;
* outputs without a record were not made by a finished run of this version.

:func:`photo_lock` makes the check and the writing of one photo one step
between processes, so two runs into one folder never interleave.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import time
from collections.abc import Iterator, Mapping
from pathlib import Path

from . import files

try:  # POSIX
    import fcntl
except ImportError:  # pragma: no cover - Windows has no flock
    fcntl = None

__all__ = [
    "FOLDER",
    "manifest_path",
    "file_digest",
    "cached_digest",
    "package_version",
    "read_manifest",
    "write_manifest",
    "differences",
    "photo_lock",
    "remove_temporaries",
]

#: Sub-folder of the output folder that holds the records.
FOLDER = "manifests"

# Names of recipe entries as the command line spells them.
_OPTION_NAMES = {
    "photo_sha256": "the photo's content",
    "version": "the napari-boostseg version",
    "coarse.source": "the source of coarse masks (--masks or --weights)",
    "coarse.mask": "the coarse mask file (--masks)",
    "coarse.mask_sha256": "the coarse mask file's content",
    "coarse.weights": "--weights",
    "coarse.weights_sha256": "the weights file's content",
    "coarse.config": "--config",
    "coarse.config_sha256": "the config file's content",
    "coarse.classes": "--classes",
    "coarse.split_touching": "--split-touching",
    "coarse.split_model": "the product model that splits touching products",
    "coarse.split_model_sha256": "the product model's content",
    "outputs.label_format": "--labels-format",
    "outputs.jpeg": "--jpeg/--jpeg-quality",
    "outputs.cutouts": "--full-frame",
    "outputs.edges": "the cut-outs' edges, --hard-edges",
    "outputs.inspect": "--inspect",
}


# Entries that only follow another: when that one changed too, it says it all.
_FOLLOWS = {
    "coarse.split_model": "coarse.split_touching",
    "coarse.split_model_sha256": "coarse.split_touching",
}


def manifest_path(out_dir: str | os.PathLike, stem: str) -> Path:
    """Where the record of the photo named ``stem`` lies."""
    return Path(out_dir) / FOLDER / f"{stem}.json"


def file_digest(path: str | os.PathLike) -> str:
    """SHA-256 of a file's content, as hex."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


_DIGESTS: dict[tuple[str, int, int], str] = {}


def cached_digest(path: str | os.PathLike) -> str:
    """SHA-256 of a file (weights, a photo), computed once per process.

    Remembered by resolved path, size and modification time, so a batch
    hashes its weights once, not once per photo, and each photo once,
    though its record is checked before the batch and again before its work.
    """
    resolved = Path(path).resolve()
    stat = resolved.stat()
    key = (str(resolved), stat.st_size, stat.st_mtime_ns)
    if key not in _DIGESTS:
        _DIGESTS[key] = file_digest(resolved)
    return _DIGESTS[key]


def package_version() -> str:
    """The napari-boostseg version (``napari_boostseg.__version__``, its one source)."""
    from . import __version__

    return __version__


def read_manifest(path: str | os.PathLike) -> dict | None:
    """The record at ``path``; None when there is none or it is unreadable."""
    try:
        record = json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError):
        return None
    if not isinstance(record, dict) or not isinstance(record.get("recipe"), dict):
        return None
    return record


def write_manifest(path: str | os.PathLike, record: Mapping) -> Path:
    """Write a record atomically (replacing the previous one)."""
    text = json.dumps(record, indent=1, sort_keys=True) + "\n"
    return files.atomic_write_text(path, text, overwrite=True)


def _flat(recipe: Mapping, prefix: str = "") -> dict[str, object]:
    out: dict[str, object] = {}
    for key, value in recipe.items():
        if isinstance(value, Mapping):
            out.update(_flat(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = list(value) if isinstance(value, tuple) else value
    return out


def _shown(value: object, key: str = "") -> str:
    if key == "outputs.jpeg" and isinstance(value, int) and not isinstance(value, bool):
        return f"on, quality {value}"
    if key == "outputs.edges" and value is None:
        return "hard"  # recorded before cut-outs had soft edges
    if value is True:
        return "on"
    if value is False or value is None:
        return "off"
    if isinstance(value, list):
        return ",".join(map(str, value))
    return str(value)


def differences(before: Mapping, now: Mapping) -> list[str]:
    """How recipe ``now`` differs from ``before``, one phrase per entry.

    Examples
    --------
    >>> differences({"params": {"band": 1.0}}, {"params": {"band": 3.0}})
    ['--band (was 1.0, now 3.0)']
    >>> differences({"coarse": {}}, {"coarse": {"split_touching": True, "split_model": "p.h5"}})
    ['--split-touching (was off, now on)']
    """
    old, new = _flat(json.loads(json.dumps(before))), _flat(json.loads(json.dumps(now)))
    phrases = []
    for key in sorted(old.keys() | new.keys()):
        a, b = old.get(key), new.get(key)
        if a == b:
            continue
        leader = _FOLLOWS.get(key)
        if leader is not None and old.get(leader) != new.get(leader):
            continue
        if key.startswith("params."):
            name = "--" + key.split(".", 1)[1].replace("_", "-")
        else:
            name = _OPTION_NAMES.get(key, key)
        if key.endswith("sha256"):
            phrases.append(f"{name} (changed)")
        else:
            phrases.append(f"{name} (was {_shown(a, key)}, now {_shown(b, key)})")
    return phrases


@contextlib.contextmanager
def photo_lock(out_dir: str | os.PathLike, stem: str) -> Iterator[None]:
    """Hold the lock of one photo's outputs; waits while another process holds it.

    The lock is an exclusive ``flock`` on ``OUT/manifests/.NAME.lock``, which
    the system releases when its holder dies, so a killed run never leaves a
    photo locked. Where ``flock`` does not exist (Windows) this does nothing.
    """
    folder = Path(out_dir) / FOLDER
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f".{stem}.lock"
    if fcntl is None:  # pragma: no cover
        yield
        return
    while True:
        fd = os.open(path, os.O_CREAT | os.O_RDWR, 0o666)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            # The holder before us removes the file on release; a lock on a
            # removed file protects nothing, so try again on the new one.
            current = os.stat(path).st_ino
        except FileNotFoundError:
            current = None
        except BaseException:
            os.close(fd)
            raise
        if current == os.fstat(fd).st_ino:
            break
        os.close(fd)
    try:
        yield
    finally:
        with contextlib.suppress(OSError):
            path.unlink()
        os.close(fd)


def remove_temporaries(
    folder: str | os.PathLike,
    *,
    stems: set[str] | None = None,
    older_than: float | None = None,
) -> int:
    """Delete temporary files that interrupted writes left in ``folder``.

    Parameters
    ----------
    folder : str or os.PathLike
        One output sub-folder; nothing happens when it does not exist.
    stems : set of str, optional
        Only temporaries of these final names (without suffix). Default: all.
    older_than : float, optional
        Only temporaries last modified more than this many seconds ago, so
        that files a running process is writing are left alone. Default: any
        age (for a caller that holds the lock of these names).

    Returns
    -------
    int
        How many were deleted.
    """
    folder = Path(folder)
    if not folder.is_dir():
        return 0
    cutoff = None if older_than is None else time.time() - older_than
    removed = 0
    for entry in os.scandir(folder):
        match = files.TEMPORARY_NAME.match(entry.name)
        if not match or not entry.is_file(follow_symlinks=False):
            continue
        if stems is not None and match.group(1) not in stems:
            continue
        try:
            if cutoff is not None and entry.stat(follow_symlinks=False).st_mtime > cutoff:
                continue
            os.unlink(entry.path)
            removed += 1
        except FileNotFoundError:
            continue
    return removed
