"""Checks and conversions at the edge of the refinement core.

Images arrive as grayscale, RGB or RGBA, in 8 or 16 bit or floating point;
coarse masks as a boolean mask or an instance label image. These helpers turn
them into the few forms the core computes with, and reject anything else with
a message that says what was expected.
"""

from __future__ import annotations

import warnings

import numpy as np
from numpy.typing import ArrayLike

__all__ = ["check_image", "intensity_scale", "image_to_float", "as_label_image", "compact_ids", "check_detections"]

#: Largest label id used as it is; beyond it sparse ids are renumbered (see
#: :func:`compact_ids`), as per-object tables are sized by the largest id.
COMPACT_ABOVE = 4096


def check_image(image: ArrayLike) -> np.ndarray:
    """Validate a photo; see :func:`image_to_float` for what passes.

    Returns
    -------
    ndarray
        ``image`` as an array, unchanged (no copy), except that float16 is
        converted to float32: the compiled steps compute in float32.
    """
    image = np.asarray(image)
    if image.ndim not in (2, 3) or (image.ndim == 3 and image.shape[2] not in (1, 3, 4)):
        raise ValueError(
            "image must be (H, W) grayscale, (H, W, 3) RGB or (H, W, 4) RGBA; "
            f"got shape {image.shape}"
        )
    if image.shape[0] < 2 or image.shape[1] < 2:
        raise ValueError(f"image must be at least 2x2 pixels, got {image.shape[:2]}")
    if image.dtype == bool:
        raise ValueError(
            "image is boolean; pass the photo (uint8, uint16 or float in [0, 1]), "
            "not a mask"
        )
    if image.dtype in (np.uint8, np.uint16):
        return image
    if np.issubdtype(image.dtype, np.integer):
        if image.size and image.min() < 0:
            raise ValueError(
                f"signed integer image ({image.dtype}) has negative values; "
                "pass uint8, uint16 or float in [0, 1]"
            )
        top = int(image.max()) if image.size else 0
        if image.dtype.itemsize > 2 and top > 65535:
            # Wider integers are read as 16-bit data (full intensity 65535).
            raise ValueError(
                f"integer image ({image.dtype}) has values above 65535; "
                "pass uint8, uint16 or float in [0, 1]"
            )
        if image.dtype.itemsize > 1 and 0 < top <= 255:
            # 8-bit values in a wider type (a list, an astype(int)): almost black as 16-bit data.
            warnings.warn(
                f"{image.dtype} image with values 0-{top} is taken as 16-bit data (full intensity "
                "65535), nearly black; pass it as uint8 if it holds 8-bit values",
                UserWarning, stacklevel=3,
            )
        return image
    if np.issubdtype(image.dtype, np.floating):
        lo, hi = float(np.min(image)), float(np.max(image))
        if not (np.isfinite(lo) and np.isfinite(hi)):
            raise ValueError("image contains NaN or infinite values")
        if lo < 0 or hi > 1:
            raise ValueError(
                f"float image values must lie in [0, 1], got [{lo:.3g}, {hi:.3g}]; "
                "rescale it (e.g. image / image.max()) or pass uint8/uint16"
            )
        if image.dtype == np.float16:
            return image.astype(np.float32)
        return image
    raise ValueError(
        f"unsupported image dtype {image.dtype}; use uint8, uint16 or float in [0, 1]"
    )


def intensity_scale(dtype: np.dtype) -> float:
    """The value that stands for full intensity in an image of ``dtype``.

    255 for one-byte integers, 65535 for wider integers (16-bit data), 1 for
    floats.
    """
    dtype = np.dtype(dtype)
    if np.issubdtype(dtype, np.integer):
        return 255.0 if dtype.itemsize == 1 else 65535.0
    return 1.0


def image_to_float(image: ArrayLike) -> np.ndarray:
    """Colour channels of ``image`` as float32 in [0, 1], shape (H, W, C).

    Parameters
    ----------
    image : array_like
        (H, W) grayscale, (H, W, 1), (H, W, 3) RGB or (H, W, 4) RGBA. Integer
        images are scaled by 255 when their type has one byte and by 65535
        otherwise (16-bit data); float images must already lie in [0, 1].
        The alpha channel of RGBA is dropped: the photo's colours decide the
        edges.

    Returns
    -------
    (H, W, C) ndarray of float32
        C is 1 for grayscale input and 3 otherwise.

    Raises
    ------
    ValueError
        For other shapes, boolean, complex or object arrays, negative or
        above-16-bit integers, floats outside [0, 1] or non-finite values.
    """
    image = check_image(image)
    if image.ndim == 2:
        image = image[..., None]
    if image.shape[2] == 4:
        image = image[..., :3]
    if np.issubdtype(image.dtype, np.integer):
        scale = intensity_scale(image.dtype)
        return image.astype(np.float32) * np.float32(1 / scale)
    return image.astype(np.float32, copy=False)


def as_label_image(coarse: ArrayLike, shape: tuple[int, ...] | None = None) -> np.ndarray:
    """A coarse mask as an int32 label image (0 background, 1..N objects).

    Parameters
    ----------
    coarse : array_like
        (H, W) boolean mask (one object, id 1) or non-negative integer label image.
    shape : tuple of int, optional
        The image's shape; its first two entries must equal the mask's.

    Raises
    ------
    ValueError
        If the mask is not 2-D, does not match ``shape``, is float, or holds
        negative ids.
    """
    coarse = np.asarray(coarse)
    if coarse.ndim != 2:
        raise ValueError(
            f"coarse mask must be a 2-D (H, W) bool mask or label image, got shape {coarse.shape}"
        )
    if shape is not None and coarse.shape != tuple(shape[:2]):
        raise ValueError(
            f"coarse mask shape {coarse.shape} does not match the image's (H, W) "
            f"{tuple(shape[:2])}; resize the mask to the image first"
        )
    if coarse.dtype == bool:
        return coarse.astype(np.int32)
    if not np.issubdtype(coarse.dtype, np.integer):
        raise ValueError(
            f"coarse mask must be bool or an integer label image, got {coarse.dtype}; "
            "threshold probabilities first (e.g. probs > 0.5)"
        )
    if coarse.size and coarse.min() < 0:
        raise ValueError("coarse label image has negative ids; use 0 for background and 1..N")
    if coarse.size and coarse.max() > np.iinfo(np.int32).max - 2:
        raise ValueError("coarse label ids must be below 2**31 - 2")
    return coarse.astype(np.int32, copy=False)


def compact_ids(labels: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
    """Renumber a label image whose ids are large and sparse to 1..N.

    Per-object tables (boxes, bands) are indexed by id, so one object with
    id 10**7 would cost as much as ten million. Label images whose largest
    id is at most :data:`COMPACT_ABOVE`, or whose ids are already 1..N,
    are returned as they are.

    Parameters
    ----------
    labels : (H, W) ndarray of int32
        0 background, positive ids (as :func:`as_label_image` gives).

    Returns
    -------
    compact : (H, W) ndarray of int32
        ``labels`` itself, or a renumbered copy with ids 1..N in the order
        of the original ids.
    original : (N + 1,) ndarray of int32 or None
        ``original[k]`` is the id that ``k`` stands for (``original[0]`` is
        0), so ``original[compact]`` restores ``labels``; None when nothing
        was renumbered.

    Examples
    --------
    >>> labels = np.array([[0, 10**7], [5, 5]], np.int32)
    >>> compact, original = compact_ids(labels)
    >>> compact.tolist(), original.tolist()
    ([[0, 2], [1, 1]], [0, 5, 10000000])
    """
    top = int(labels.max()) if labels.size else 0
    if top <= COMPACT_ABOVE:
        return labels, None
    ids, inverse = np.unique(labels, return_inverse=True)
    if ids[0] != 0:
        ids = np.concatenate([[0], ids])
        inverse = inverse + 1
    if ids.size - 1 == top:
        return labels, None
    return inverse.reshape(labels.shape).astype(np.int32), ids.astype(np.int32)


def check_detections(shape: tuple[int, ...], masks: ArrayLike, scores: ArrayLike, class_names) -> tuple[
    np.ndarray, np.ndarray
]:
    """A detector's masks and scores, checked against a label image's ``shape``.

    Returns
    -------
    masks : (K, H, W) ndarray of bool
    scores : (K,) ndarray of float32

    Raises
    ------
    ValueError
        Unless there is one score and one class per mask and the masks have
        the label image's size.
    """
    masks = np.asarray(masks, bool)
    scores = np.asarray(scores, np.float32)
    if masks.ndim != 3 or masks.shape[1:] != tuple(shape) or not len(masks) == len(scores) == len(class_names):
        raise ValueError(
            f"need one score and class per mask and masks of the labels' size {tuple(shape)}; got masks "
            f"{masks.shape}, {len(scores)} scores, {len(class_names)} classes"
        )
    return masks, scores
