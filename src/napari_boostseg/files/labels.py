"""Label images (0 background, 1..N objects) and the class sidecar beside them.

* :func:`read_labels` / :func:`write_labels` store instance label images as
  PNG (8 or 16 bit) or TIFF. They are the coarse masks the command line
  reads, the label images it writes, and the Mask R-CNN's training format.
* :func:`read_classes` / :func:`write_classes` handle the optional sidecar
  ``<stem>.json`` that names each object's class::

      {"classes": {"1": "garment", "2": "shoe"}}

* :func:`find_labels` finds the label file of a photo by its name.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
from numpy.typing import ArrayLike

from .atomic import atomic_write, atomic_write_text
from .photos import _TIFF_SUFFIXES, ImageReadError, _pil_to_array

__all__ = [
    "LABEL_SUFFIXES",
    "read_labels",
    "write_labels",
    "find_labels",
    "sidecar_path",
    "read_classes",
    "write_classes",
]

#: File name suffixes :func:`write_labels` and :func:`read_labels` understand.
LABEL_SUFFIXES = frozenset({".png", ".tif", ".tiff"})


def _as_path(path: str | os.PathLike) -> Path:
    return Path(os.fspath(path))


#: Most colours a colour-coded label image may hold (one per object): a file with
#: more is a photo given where a label image belongs (a photo has tens of thousands).
MAX_COLOURS = 4096


def read_labels(path: str | os.PathLike) -> np.ndarray:
    """Read a label image (0 background, 1..N objects) or a binary mask.

    Single-channel PNG or TIFF files are read as they are, so a 0/255 mask
    gives labels 0 and 255. Colour-coded label images (RGB or RGBA) get one
    id per distinct colour, black being background, in order of colour value;
    one with more than :data:`MAX_COLOURS` colours is refused as a photo.

    Parameters
    ----------
    path : str or os.PathLike
        PNG or TIFF file.

    Returns
    -------
    (H, W) ndarray of int32

    Raises
    ------
    FileNotFoundError, ImageReadError
        As :func:`read_image`; ImageReadError also for ids beyond int32.
    """
    path = _as_path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no such label file: {path}")
    try:
        if path.suffix.lower() in _TIFF_SUFFIXES:
            import tifffile

            a = tifffile.imread(path)
        else:
            from PIL import Image

            with Image.open(path) as im:
                im.load()
                # Palette images store the label id as the palette index.
                a = np.asarray(im) if im.mode in ("P", "L", "1") else _pil_to_array(im)
    except Exception as exc:
        raise ImageReadError(
            f"cannot read {path} as a label image ({type(exc).__name__}: {exc})"
        ) from exc
    if a.ndim == 3 and a.shape[2] == 1:
        a = a[..., 0]
    if a.ndim == 3:
        a = _colours_to_labels(a[..., :3])
        if int(a.max(initial=0)) > MAX_COLOURS:
            raise ImageReadError(
                f"{path} has {int(a.max())} colours: it looks like a photo, not a label image (one "
                "colour per object, black or 0 for the background); give a mask or label image instead"
            )
    if a.ndim != 2:
        raise ImageReadError(f"{path} is not a 2-D label image (shape {a.shape})")
    if np.issubdtype(a.dtype, np.floating) or a.dtype == bool:
        a = a.astype(np.int64)
    if a.size and (int(a.min()) < 0 or int(a.max()) > np.iinfo(np.int32).max):
        raise ImageReadError(f"{path} holds label ids outside 0..2**31-1")
    return a.astype(np.int32)


def _colours_to_labels(rgb: np.ndarray) -> np.ndarray:
    flat = rgb.reshape(-1, rgb.shape[-1]).astype(np.int64)
    packed = (flat[:, 0] << 32) | (flat[:, 1] << 16) | flat[:, 2]
    values, inverse = np.unique(packed, return_inverse=True)
    # Background (black) gets 0, every other colour the next free id.
    ids = np.arange(values.size) + (0 if values[0] == 0 else 1)
    return ids[inverse].reshape(rgb.shape[:2])


def write_labels(
    path: str | os.PathLike, labels: ArrayLike, *, overwrite: bool = False
) -> Path:
    """Save a label image (0 background, 1..N objects).

    The format follows the suffix: ``.png`` stores 8 bits when the largest id
    is below 256 and 16 bits otherwise; ``.tif``/``.tiff`` stores 8, 16 or 32
    bits (zlib-compressed). Booleans are saved as 0/1.

    Parameters
    ----------
    path : str or os.PathLike
        Destination, ``.png``, ``.tif`` or ``.tiff``.
    labels : (H, W) array_like of int or bool
        Non-negative ids.
    overwrite : bool, optional
        Replace an existing file. Default False.

    Returns
    -------
    pathlib.Path

    Raises
    ------
    ValueError
        For a wrong shape, negative or non-integer ids, ids over 65535 in a
        PNG, or an unknown suffix.
    FileExistsError
        If ``path`` exists and ``overwrite`` is False.
    """
    path = _as_path(path)
    suffix = path.suffix.lower()
    if suffix not in LABEL_SUFFIXES:
        raise ValueError(
            f"cannot tell the label format from {path.name!r}: use a .png, .tif or "
            ".tiff file name"
        )
    labels = np.asarray(labels)
    if labels.ndim != 2:
        raise ValueError(f"labels must be 2-D (height, width), got shape {labels.shape}")
    if labels.dtype == bool:
        labels = labels.astype(np.uint8)
    if not np.issubdtype(labels.dtype, np.integer):
        raise ValueError(f"labels must be integers or booleans, got {labels.dtype}")
    top = int(labels.max()) if labels.size else 0
    if labels.size and int(labels.min()) < 0:
        raise ValueError("labels must be >= 0 (0 is background)")
    if top < 256:
        stored = labels.astype(np.uint8)
    elif top < 65536:
        stored = labels.astype(np.uint16)
    elif suffix == ".png":
        raise ValueError(
            f"label id {top} does not fit a 16-bit PNG; save as .tif instead"
        )
    else:
        stored = labels.astype(np.uint32)

    if suffix == ".png":
        from PIL import Image

        def write(tmp: Path) -> None:
            Image.fromarray(stored).save(tmp, format="PNG", compress_level=3)

    else:
        import tifffile

        def write(tmp: Path) -> None:
            tifffile.imwrite(tmp, stored, compression="zlib")

    return atomic_write(path, write, overwrite=overwrite)


def find_labels(folder: str | os.PathLike, stem: str) -> Path | None:
    """The label file named ``stem`` in ``folder`` (any suffix of :data:`LABEL_SUFFIXES`,
    any case), or None.

    Parameters
    ----------
    folder : str or os.PathLike
        Folder of label images (coarse masks, training labels).
    stem : str
        The photo's file name without its suffix.

    Returns
    -------
    pathlib.Path or None
        ``.png`` is preferred over ``.tif`` and ``.tiff`` when several exist.
    """
    folder = _as_path(folder)
    for suffix in (".png", ".tif", ".tiff"):
        for candidate in (folder / f"{stem}{suffix}", folder / f"{stem}{suffix.upper()}"):
            if candidate.is_file():
                return candidate
    return None


def sidecar_path(labels_path: str | os.PathLike) -> Path:
    """Where the class sidecar of a label file lies: same name, ``.json``."""
    return _as_path(labels_path).with_suffix(".json")


def read_classes(labels_path: str | os.PathLike) -> dict[int, str | int] | None:
    """The class of each object of a label file, from its sidecar; None without one.

    Parameters
    ----------
    labels_path : str or os.PathLike
        The label image (the sidecar is found beside it, see :func:`sidecar_path`).

    Returns
    -------
    dict or None
        ``{object id: class name or class index}``.

    Raises
    ------
    ValueError
        If the sidecar is not JSON like ``{"classes": {"1": "garment"}}``.
    """
    sidecar = sidecar_path(labels_path)
    if not sidecar.is_file():
        return None
    try:
        mapping = json.loads(sidecar.read_text(encoding="utf-8"))["classes"]
        return {int(k): v for k, v in mapping.items()}
    except (json.JSONDecodeError, KeyError, TypeError, ValueError, AttributeError) as exc:
        raise ValueError(
            f"Sidecar {str(sidecar)!r} must be JSON like {{\"classes\": {{\"1\": \"garment\"}}}} ({exc})."
        ) from None


def write_classes(
    labels_path: str | os.PathLike, classes: dict[int, str], *, overwrite: bool = False
) -> Path:
    """Write the class sidecar of a label file, atomically.

    Parameters
    ----------
    labels_path : str or os.PathLike
        The label image the classes belong to.
    classes : dict
        ``{object id: class name}``.
    overwrite : bool, optional
        Replace an existing sidecar. Default False.

    Returns
    -------
    pathlib.Path
        The sidecar's path.
    """
    text = json.dumps({"classes": {str(int(k)): str(v) for k, v in sorted(classes.items())}}, indent=2)
    return atomic_write_text(sidecar_path(labels_path), text + "\n", overwrite=overwrite)
