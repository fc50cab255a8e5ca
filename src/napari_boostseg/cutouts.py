"""Cut-outs: each product of a photo as an RGBA image on a transparent background.

The one home of compositing, naming and writing cut-outs, used by the
command line (:mod:`napari_boostseg.batch`), the demo and the Export widget:

* :func:`cutout` composes an RGBA image from a photo and a mask (16-bit
  photos give 16-bit cut-outs), :func:`flatten_on_white` puts it on white
  for JPEG output, :func:`write_cutout` saves it as PNG with the photo's ICC
  profile.
* Edges are soft by default: along the outline the alpha is anti-aliased
  and the rim's colours are freed of the backdrop's share
  (:func:`napari_boostseg.matting.edge_matte`), so a product shot on white
  shows no stair-steps and no light halo on a dark page; ``soft_edge=False``
  keeps the label image's hard 0/1 alpha.
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
from .matting import EDGE_WIDTH, _rim

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
    image: ArrayLike,
    mask_or_labels: ArrayLike,
    label: int | None = None,
    *,
    soft_edge: bool = True,
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
    soft_edge : bool, optional
        Estimate an anti-aliased alpha and background-free colours within
        :data:`napari_boostseg.matting.EDGE_WIDTH` pixels of the outline
        (:func:`napari_boostseg.matting.edge_matte`), where it borders the
        backdrop; where it borders another object of the label image it stays
        hard, so cut-outs laid back together leave no seam. Default True; False
        gives alpha 0 or full exactly as the mask. A soft mask of floats is
        used as it is either way.

    Returns
    -------
    (H, W, 4) ndarray
        Same sample type as ``image`` (uint8 or uint16). Colour is zeroed
        where alpha is 0, so nothing of the background survives in the file.

    Examples
    --------
    >>> photo = np.full((20, 20, 3), 250, np.uint8)
    >>> photo[5:15, 5:15] = (200, 30, 30)
    >>> mask = np.zeros((20, 20), bool)
    >>> mask[5:15, 5:15] = True
    >>> rgba = cutout(photo, mask)
    >>> rgba.shape, rgba.dtype, int(rgba[10, 10, 3]), int(rgba[0, 0, 3])
    ((20, 20, 4), dtype('uint8'), 255, 0)
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
    product = alpha != 0
    if image.ndim == 2:
        rgb = image[..., None]
    else:
        rgb = image[..., :3]
    if image.ndim == 3 and image.shape[2] == 4:
        alpha = np.minimum(alpha, image[..., 3])
    out = np.zeros(image.shape[:2] + (4,), dtype=dtype)
    # copyto with a mask is several times faster than boolean-index assignment.
    np.copyto(out[..., :3], rgb, where=(alpha != 0)[..., None])
    out[..., 3] = alpha
    if soft_edge and not np.issubdtype(m.dtype, np.floating):
        colour = np.repeat(rgb, 3, axis=2) if rgb.shape[2] == 1 else rgb
        # The other objects of a label image: seams with them stay hard.
        others = (m != 0) & ~product if label is not None else None
        rows, cols, soft, clean = _rim(colour, product, EDGE_WIDTH, others)
        top = np.iinfo(dtype).max
        soft = np.round(soft * top).astype(dtype)
        if image.ndim == 3 and image.shape[2] == 4:
            soft = np.minimum(soft, image[rows, cols, 3])
        out[rows, cols, 3] = soft
        out[rows, cols, :3] = np.where((soft != 0)[:, None], clean, 0)
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
    box: tuple[slice, slice],
    shape: tuple[int, int],
    margin: float = CROP_MARGIN,
    *,
    at_least: int = EDGE_WIDTH,
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
    at_least : int, optional
        The smallest margin in pixels, so that a small product's soft edge
        fits. Default :data:`napari_boostseg.matting.EDGE_WIDTH`.

    Returns
    -------
    tuple of slice

    Examples
    --------
    >>> product_window((slice(100, 300), slice(50, 150)), (400, 400))
    (slice(90, 310, None), slice(40, 160, None))
    """
    if margin < 0 or at_least < 0:
        raise ValueError(f"margin must be >= 0, got {margin} (at least {at_least} pixels)")
    rows, cols = box
    pad = max(int(round(margin * max(rows.stop - rows.start, cols.stop - cols.start))), at_least)
    return _grown(box, pad, shape)


def _grown(box: tuple[slice, slice], pad: int, shape: tuple[int, ...]) -> tuple[slice, slice]:
    return tuple(slice(max(b.start - pad, 0), min(b.stop + pad, n)) for b, n in zip(box, shape))


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
    image: ArrayLike,
    labels: ArrayLike,
    *,
    crop: bool = True,
    margin: float = CROP_MARGIN,
    soft_edge: bool = True,
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
    soft_edge : bool, optional
        See :func:`cutout`. Default True.

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
        if crop:
            window = product_window(box, labels.shape, margin)
        else:
            window = (slice(0, labels.shape[0]), slice(0, labels.shape[1]))
        # The soft edge looks a few pixels beyond the window, as in the whole photo.
        context = _grown(window, EDGE_WIDTH + 1, labels.shape) if soft_edge else window
        inner = tuple(slice(w.start - c.start, w.stop - c.start) for w, c in zip(window, context))
        rgba = cutout(image[context], labels[context], label=index + 1, soft_edge=soft_edge)[inner]
        yield ProductCutout(index + 1, (window[0].start, window[1].start), rgba)


def write_product_cutouts(
    folder: str | os.PathLike,
    stem: str,
    image: ArrayLike,
    labels: ArrayLike,
    *,
    icc_profile: bytes | None = None,
    crop: bool = True,
    margin: float = CROP_MARGIN,
    soft_edge: bool = True,
    overwrite: bool = False,
) -> list[Path]:
    """Write ``folder/STEM-ID.png`` for each product; returns the files written.

    See :func:`product_cutouts` for ``crop``, ``margin`` and ``soft_edge`` and
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
    for product in product_cutouts(image, labels, crop=crop, margin=margin, soft_edge=soft_edge):
        path = folder / cutout_name(stem, product.label)
        written.append(write_cutout(path, product.rgba, icc_profile=icc_profile, overwrite=overwrite))
    return written
