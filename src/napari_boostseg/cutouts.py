"""Cut-outs: each product of a photo as an RGBA image on a transparent background.

The one home of compositing, naming and writing cut-outs, used by the
command line (:mod:`napari_boostseg.batch`), the demo and the Export widget:

* :func:`cutout` composes an RGBA image from a photo and a mask (16-bit
  photos give 16-bit cut-outs), :func:`flatten_on_white` puts it on white
  for JPEG output, :func:`write_cutout` saves it as PNG with the photo's ICC
  profile.
* One file per product, named ``NAME-ID.png`` (:func:`cutout_name`), ``ID``
  being the object's id in the label image, so ``cutouts/shirt-2.png`` is
  object 2 of ``labels/shirt.png``.
* A product's cut-out is cropped to its bounding box plus a margin of
  :data:`CROP_MARGIN` of the box's longer side (clipped to the photo), so the
  soft edge and a little air stay around it (:func:`product_window`); the
  whole frame is kept on request (``crop=False``), for laying cut-outs back
  over the photo.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.typing import ArrayLike

from .files.photos import _to_storable, write_image

__all__ = [
    "CROP_MARGIN",
    "ProductCutout",
    "cutout",
    "flatten_on_white",
    "write_cutout",
    "cutout_name",
    "cutout_files",
    "product_window",
    "product_cutouts",
    "write_product_cutouts",
]

#: Margin around a cropped product, as a fraction of its box's longer side.
CROP_MARGIN = 0.05



def _alpha_from(mask_or_labels: np.ndarray, label: int | None, dtype: np.dtype) -> np.ndarray:
    top = 65535 if dtype == np.uint16 else 255
    m = mask_or_labels
    if np.issubdtype(m.dtype, np.floating):
        if label is not None:
            raise ValueError("label= selects an object in a label image, not in a soft mask")
        return np.round(np.clip(m, 0.0, 1.0) * top).astype(dtype)
    if m.dtype == bool:
        if label is not None:
            raise ValueError("label= selects an object in a label image, not in a boolean mask")
        sel = m
    elif label is None:
        sel = m != 0
    else:
        if label <= 0:
            raise ValueError(f"label must be a positive object id, got {label}")
        sel = m == label
    return sel.astype(dtype) * np.array(top, dtype=dtype)


def cutout(
    image: ArrayLike, mask_or_labels: ArrayLike, label: int | None = None
) -> np.ndarray:
    """Cut an object out of a photo as a full-resolution RGBA image.

    Parameters
    ----------
    image : (H, W), (H, W, 3) or (H, W, 4) array_like
        uint8 or uint16 photo (grey is repeated to RGB; an existing alpha
        channel is combined with the mask by taking the smaller value).
        Floats in [0, 1] are converted to uint16.
    mask_or_labels : (H, W) array_like
        A boolean mask, a label image (all objects unless ``label`` is given)
        or a soft mask of floats in [0, 1] used as alpha directly.
    label : int, optional
        Object id to cut out of a label image. Default: every non-zero id.

    Returns
    -------
    (H, W, 4) ndarray
        Same sample type as ``image`` (uint8 or uint16). Colour is zeroed
        where alpha is 0, so nothing of the background survives in the file.
    """
    image = np.asarray(image)
    m = np.asarray(mask_or_labels)
    if image.ndim not in (2, 3) or (image.ndim == 3 and image.shape[2] not in (3, 4)):
        raise ValueError(
            f"expected a (H, W), (H, W, 3) or (H, W, 4) image, got shape {image.shape}"
        )
    if m.shape != image.shape[:2]:
        raise ValueError(
            f"mask {m.shape} and image {image.shape[:2]} differ in size; they must "
            "cover the same pixels"
        )
    if image.dtype not in (np.uint8, np.uint16):
        image = _to_storable(image)
    dtype = image.dtype
    alpha = _alpha_from(m, label, dtype)
    if image.ndim == 2:
        rgb = image[..., None]
    else:
        rgb = image[..., :3]
        if image.shape[2] == 4:
            alpha = np.minimum(alpha, image[..., 3])
    out = np.zeros(image.shape[:2] + (4,), dtype=dtype)
    # copyto with a mask is several times faster than boolean-index assignment.
    np.copyto(out[..., :3], rgb, where=(alpha != 0)[..., None])
    out[..., 3] = alpha
    return out


def write_cutout(
    path: str | os.PathLike,
    rgba: ArrayLike,
    *,
    icc_profile: bytes | None = None,
    overwrite: bool = False,
    compress_level: int = 3,
) -> Path:
    """Save an RGBA cut-out as PNG (8 or 16 bit, as given), atomically.

    Parameters
    ----------
    path : str or os.PathLike
        Destination; must end in ``.png``.
    rgba : (H, W, 4) array_like of uint8 or uint16
        From :func:`cutout`.
    icc_profile : bytes, optional
        The photo's ICC profile, so colours look the same as in the photo.
    overwrite : bool, optional
        Replace an existing file. Default False.
    compress_level : int, optional
        PNG zlib level 0-9. Default 3.

    Returns
    -------
    pathlib.Path
    """
    path = Path(os.fspath(path))
    if path.suffix.lower() != ".png":
        raise ValueError(f"cut-outs are saved as PNG; got {path.name!r}")
    rgba = np.asarray(rgba)
    if rgba.ndim != 3 or rgba.shape[2] != 4:
        raise ValueError(f"expected an (H, W, 4) RGBA image, got shape {rgba.shape}")
    return write_image(
        path, rgba, icc_profile=icc_profile, overwrite=overwrite, compress_level=compress_level
    )


def flatten_on_white(rgba: ArrayLike) -> np.ndarray:
    """Compose an RGBA image on a white background.

    Parameters
    ----------
    rgba : (H, W, 4) array_like of uint8 or uint16

    Returns
    -------
    (H, W, 3) ndarray
        Same sample type, ``rgb * a + white * (1 - a)`` rounded to nearest.
    """
    rgba = np.asarray(rgba)
    if rgba.ndim != 3 or rgba.shape[2] != 4:
        raise ValueError(f"expected an (H, W, 4) RGBA image, got shape {rgba.shape}")
    if rgba.dtype not in (np.uint8, np.uint16):
        raise ValueError(f"expected uint8 or uint16 samples, got {rgba.dtype}")
    top = np.iinfo(rgba.dtype).max
    alpha = rgba[..., 3]
    out = np.full(rgba.shape[:2] + (3,), top, dtype=rgba.dtype)
    np.copyto(out, rgba[..., :3], where=(alpha == top)[..., None])
    # Only partly transparent pixels need arithmetic; cut-outs of hard masks
    # have none, and soft edges are a thin rim.
    partial = (alpha != 0) & (alpha != top)
    if partial.any():
        # (c*a + top*(top-a) + top/2) // top rounds to nearest; the sum stays
        # below 2**32 even for 16-bit input.
        rgb = rgba[partial, :3].astype(np.uint32)
        a = alpha[partial].astype(np.uint32)[:, None]
        out[partial] = ((rgb * a + top * (top - a) + top // 2) // top).astype(rgba.dtype)
    return out

# --------------------------------------------------------------------------- #
# One file per product


def cutout_name(stem: str, label: int, suffix: str = ".png") -> str:
    """File name of object ``label``'s cut-out from the photo named ``stem``.

    >>> cutout_name("shirt", 2)
    'shirt-2.png'
    """
    return f"{stem}-{int(label)}{suffix}"


def cutout_files(folder: str | os.PathLike, stem: str, suffix: str = ".png") -> list[Path]:
    """The cut-outs of the photo ``stem`` that lie in ``folder`` (any object id).

    Only names :func:`cutout_name` makes for this very stem match: the
    cut-outs of a photo named ``shirt-1`` (``shirt-1-1.png``, ...) are not
    taken for those of ``shirt``.
    """
    folder = Path(folder)
    if not folder.is_dir():
        return []
    pattern = re.compile(re.escape(stem) + r"-[0-9]+" + re.escape(suffix) + r"\Z")
    return sorted(p for p in folder.iterdir() if pattern.match(p.name))


def product_window(
    box: tuple[slice, slice], shape: tuple[int, int], margin: float = CROP_MARGIN
) -> tuple[slice, slice]:
    """A product's bounding box grown by ``margin`` of its longer side, within the photo.

    Parameters
    ----------
    box : tuple of slice
        ``(rows, columns)`` of the product, as :func:`scipy.ndimage.find_objects`
        gives them.
    shape : tuple of int
        ``(height, width)`` of the photo in pixels.
    margin : float, optional
        Fraction of the box's longer side added on every side. Default
        :data:`CROP_MARGIN`.

    Returns
    -------
    tuple of slice

    Examples
    --------
    >>> product_window((slice(100, 300), slice(50, 150)), (400, 400))
    (slice(90, 310, None), slice(40, 160, None))
    """
    if margin < 0:
        raise ValueError(f"margin must be >= 0, got {margin}")
    rows, cols = box
    pad = int(round(margin * max(rows.stop - rows.start, cols.stop - cols.start)))
    return (
        slice(max(rows.start - pad, 0), min(rows.stop + pad, shape[0])),
        slice(max(cols.start - pad, 0), min(cols.stop + pad, shape[1])),
    )


@dataclass(frozen=True, eq=False)
class ProductCutout:
    """One product's cut-out.

    Attributes
    ----------
    label : int
        The object's id in the label image.
    offset : tuple of int
        ``(row, column)`` of the cut-out's top-left pixel in the photo
        (``(0, 0)`` for a whole-frame cut-out).
    rgba : ndarray
        ``(h, w, 4)`` cut-out, uint8 or uint16 as the photo.
    """

    label: int
    offset: tuple[int, int]
    rgba: np.ndarray


def product_cutouts(
    image: ArrayLike, labels: ArrayLike, *, crop: bool = True, margin: float = CROP_MARGIN
) -> Iterator[ProductCutout]:
    """Each object of a label image as its own cut-out, in order of id.

    Parameters
    ----------
    image : (H, W), (H, W, 3) or (H, W, 4) array_like
        The photo (see :func:`cutout`).
    labels : (H, W) array_like of int
        0 background, one id per product.
    crop : bool, optional
        Crop each cut-out to its product plus ``margin`` (:func:`product_window`).
        Default True; False keeps the whole frame.
    margin : float, optional
        See :func:`product_window`. Default :data:`CROP_MARGIN`.

    Yields
    ------
    ProductCutout
    """
    from scipy import ndimage as ndi

    image = np.asarray(image)
    labels = np.asarray(labels)
    if labels.ndim != 2 or not np.issubdtype(labels.dtype, np.integer):
        raise ValueError(f"expected an (H, W) integer label image, got {labels.dtype} {labels.shape}")
    if labels.shape != image.shape[:2]:
        raise ValueError(
            f"labels {labels.shape} and image {image.shape[:2]} differ in size; they must "
            "cover the same pixels"
        )
    if labels.size == 0 or int(labels.max()) <= 0:
        return
    if int(labels.min()) < 0:
        raise ValueError("labels must be >= 0 (0 is background)")
    boxes = ndi.find_objects(labels)
    for index, box in enumerate(boxes):
        if box is None:
            continue
        window = product_window(box, labels.shape, margin) if crop else (slice(None), slice(None))
        offset = (window[0].start or 0, window[1].start or 0)
        yield ProductCutout(index + 1, offset, cutout(image[window], labels[window], label=index + 1))


def write_product_cutouts(
    folder: str | os.PathLike,
    stem: str,
    image: ArrayLike,
    labels: ArrayLike,
    *,
    icc_profile: bytes | None = None,
    crop: bool = True,
    margin: float = CROP_MARGIN,
    overwrite: bool = False,
) -> list[Path]:
    """Write ``folder/STEM-ID.png`` for each product; returns the files written.

    See :func:`product_cutouts` for ``crop`` and ``margin`` and
    :func:`write_cutout` for ``icc_profile`` and ``overwrite``. Without
    ``overwrite``, nothing is written when any of the files exists.
    """
    folder = Path(folder)
    labels = np.asarray(labels)
    ids = [int(k) for k in np.unique(labels) if k > 0]
    targets = [folder / cutout_name(stem, k) for k in ids]
    if not overwrite:
        existing = [p for p in targets if p.exists()]
        if existing:
            raise FileExistsError(
                f"{existing[0]} already exists; pass overwrite=True (--overwrite on the "
                "command line) to replace it, or choose another output folder"
            )
    written = []
    for product in product_cutouts(image, labels, crop=crop, margin=margin):
        path = folder / cutout_name(stem, product.label)
        written.append(write_cutout(path, product.rgba, icc_profile=icc_profile, overwrite=overwrite))
    return written
