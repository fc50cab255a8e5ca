"""Image conversion, molding (resize, pad, normalise) and unmolding of detections.

"Molding" turns an arbitrary image into the network input the reference
implementation uses; "unmolding" maps the network output back to the pixels
of the original image. Both follow the reference exactly so that trained
weights see the input they were trained on.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from skimage.transform import resize as _sk_resize

from .boxes import norm_boxes
from .config import MaskRCNNConfig

__all__ = [
    "MoldInfo",
    "to_rgb_uint8",
    "resize_image",
    "resize_mask",
    "mold_image",
    "unmold_boxes",
    "unmold_mask",
    "compose_image_meta",
]


@dataclass(frozen=True)
class MoldInfo:
    """How an image was molded.

    Attributes
    ----------
    original_shape : (int, int)
        Rows, cols of the original image.
    molded_shape : (int, int)
        Rows, cols of the network input.
    window : (int, int, int, int)
        ``(y1, x1, y2, x2)`` of the scaled image inside the molded input, in
        pixels; the rest is padding.
    scale : float
        Factor applied to the original image.
    """

    original_shape: tuple[int, int]
    molded_shape: tuple[int, int]
    window: tuple[int, int, int, int]
    scale: float

    @property
    def norm_window(self) -> np.ndarray:
        """Window in normalised molded coordinates (float32, shape (4,))."""
        return norm_boxes(np.array([self.window]), self.molded_shape)[0]


def to_rgb_uint8(image: np.ndarray) -> np.ndarray:
    """Convert an image to RGB ``uint8``.

    Parameters
    ----------
    image : ndarray
        (H, W) grayscale, (H, W, 1), (H, W, 3) RGB or (H, W, 4) RGBA.
        ``uint8`` is used as is, ``uint16`` is scaled by 1/257 (full range to
        full range), floats must lie in [0, 1] (scikit-image convention) and
        are scaled by 255. Alpha is dropped.

    Returns
    -------
    (H, W, 3) uint8 array

    Raises
    ------
    ValueError
        For another shape, dtype, a float image outside [0, 1] or non-finite
        values, and for images smaller than 2x2 pixels.
    """
    arr = np.asarray(image)
    if arr.ndim == 2:
        arr = arr[:, :, None]
    if arr.ndim != 3 or arr.shape[2] not in (1, 3, 4):
        raise ValueError(
            f"Expected an image of shape (H, W), (H, W, 1), (H, W, 3) or (H, W, 4); got {arr.shape}."
        )
    if arr.shape[0] < 2 or arr.shape[1] < 2:
        raise ValueError(f"Image must be at least 2x2 pixels, got {arr.shape[0]}x{arr.shape[1]}.")
    if arr.dtype == np.uint8:
        out = arr
    elif arr.dtype == np.uint16:
        # 65535 / 257 == 255 exactly, so the full range maps to the full range.
        out = (arr.astype(np.uint32) + 128) // 257
        out = out.astype(np.uint8)
    elif np.issubdtype(arr.dtype, np.floating):
        if not np.all(np.isfinite(arr)):
            raise ValueError("Image contains NaN or infinite values; replace them before detection.")
        lo, hi = float(arr.min()), float(arr.max())
        if lo < 0.0 or hi > 1.0:
            raise ValueError(
                f"Float images must lie in [0, 1]; this one spans [{lo:g}, {hi:g}]. "
                "Divide by 255 (8-bit data) or 65535 (16-bit data), or pass the integer array."
            )
        out = np.rint(arr * 255.0).astype(np.uint8)
    else:
        raise ValueError(
            f"Unsupported image dtype {arr.dtype}; use uint8, uint16 or float in [0, 1]."
        )
    if out.shape[2] == 1:
        out = np.repeat(out, 3, axis=2)
    elif out.shape[2] == 4:
        out = out[:, :, :3]
    return np.ascontiguousarray(out)


def _target_scale(h: int, w: int, config: MaskRCNNConfig) -> float:
    # Scale up (never down) to reach the minimum side, as the reference does.
    scale = max(1.0, config.image_min_dim / min(h, w))
    scale = max(scale, config.image_min_scale)
    if config.image_resize_mode == "square" and round(max(h, w) * scale) > config.image_max_dim:
        scale = config.image_max_dim / max(h, w)
    return scale


def resize_image(image: np.ndarray, config: MaskRCNNConfig) -> tuple[np.ndarray, MoldInfo]:
    """Resize and zero-pad an RGB image as the network expects.

    Parameters
    ----------
    image : (H, W, 3) uint8 array
    config : MaskRCNNConfig
        Uses ``image_min_dim``, ``image_max_dim``, ``image_min_scale`` and
        ``image_resize_mode``.

    Returns
    -------
    molded : uint8 array
        (image_max_dim, image_max_dim, 3) in "square" mode; each side padded
        to a multiple of 64 in "pad64" mode. The image is centred.
    info : MoldInfo
    """
    h, w = image.shape[:2]
    scale = _target_scale(h, w, config)
    if scale != 1.0:
        new_h, new_w = max(1, round(h * scale)), max(1, round(w * scale))
        resized = _sk_resize(
            image,
            (new_h, new_w),
            order=1,
            mode="constant",
            cval=0,
            clip=True,
            preserve_range=True,
            anti_aliasing=False,
        ).astype(image.dtype)  # truncation, as the reference
    else:
        resized = image
    rh, rw = resized.shape[:2]
    if config.image_resize_mode == "square":
        out_h = out_w = config.image_max_dim
    else:
        out_h, out_w = -(-rh // 64) * 64, -(-rw // 64) * 64
    top, left = (out_h - rh) // 2, (out_w - rw) // 2
    molded = np.zeros((out_h, out_w) + image.shape[2:], dtype=image.dtype)
    molded[top : top + rh, left : left + rw] = resized
    info = MoldInfo((h, w), (out_h, out_w), (top, left, top + rh, left + rw), float(scale))
    return molded, info


def resize_mask(masks: np.ndarray, info: MoldInfo) -> np.ndarray:
    """Apply the molding of :func:`resize_image` to (H, W, N) boolean masks.

    Nearest-neighbour resampling keeps masks binary.
    """
    h, w = info.original_shape
    if masks.shape[:2] != (h, w):
        raise ValueError(f"Masks of shape {masks.shape[:2]} do not match the image shape {(h, w)}.")
    y1, x1, y2, x2 = info.window
    out = np.zeros(info.molded_shape + masks.shape[2:], dtype=bool)
    if masks.ndim == 3 and masks.shape[2] == 0:
        return out  # an image without instances: nothing to resample
    if (y2 - y1, x2 - x1) == (h, w):
        out[y1:y2, x1:x2] = masks
    else:
        resized = _sk_resize(
            masks.astype(np.float32), (y2 - y1, x2 - x1), order=0, mode="constant",
            preserve_range=True, anti_aliasing=False,
        )
        out[y1:y2, x1:x2] = resized >= 0.5
    return out


def mold_image(image: np.ndarray, config: MaskRCNNConfig) -> tuple[np.ndarray, MoldInfo]:
    """Convert, resize, pad and mean-subtract one image.

    Parameters
    ----------
    image : ndarray
        Any image accepted by :func:`to_rgb_uint8`.
    config : MaskRCNNConfig

    Returns
    -------
    molded : (rows, cols, 3) float32 array
        Network input: RGB minus ``config.mean_pixel`` (padding becomes ``-mean``).
    info : MoldInfo
    """
    rgb = to_rgb_uint8(image)
    resized, info = resize_image(rgb, config)
    molded = resized.astype(np.float32) - np.asarray(config.mean_pixel, dtype=np.float32)
    return molded, info


def unmold_boxes(norm_boxes_molded: np.ndarray, info: MoldInfo) -> np.ndarray:
    """Map normalised boxes of the molded image to pixel boxes of the original.

    The exact inverse of molding: normalised coordinates go back to molded
    pixels (the inverse of :func:`~napari_boostseg.mrcnn.boxes.norm_boxes`),
    then through the window offset and the per-axis resize factor. (The
    reference re-normalises to the window instead, which is off by up to one
    molded pixel, i.e. ``1 / scale`` original pixels.)

    Parameters
    ----------
    norm_boxes_molded : (N, 4) array
        ``(y1, x1, y2, x2)`` normalised to the molded image.
    info : MoldInfo

    Returns
    -------
    (N, 4) int32 array of pixel boxes in the original image, clipped to it.
    """
    boxes = np.asarray(norm_boxes_molded, dtype=np.float64).reshape(-1, 4)
    mh, mw = info.molded_shape
    px = boxes * np.array([mh - 1, mw - 1, mh - 1, mw - 1]) + np.array([0, 0, 1, 1])
    y1, x1, y2, x2 = info.window
    h, w = info.original_shape
    # The resize maps the h original rows onto exactly (y2 - y1) molded rows.
    fy, fx = h / (y2 - y1), w / (x2 - x1)
    out = (px - np.array([y1, x1, y1, x1])) * np.array([fy, fx, fy, fx])
    out = np.around(out).astype(np.int32)
    out[:, [0, 2]] = np.clip(out[:, [0, 2]], 0, h)
    out[:, [1, 3]] = np.clip(out[:, [1, 3]], 0, w)
    return out


def unmold_mask(mask: np.ndarray, box: np.ndarray, shape: tuple[int, int], threshold: float = 0.5) -> np.ndarray:
    """Paste a small soft mask into a full-size boolean mask.

    Parameters
    ----------
    mask : (m, m) float array
        Mask probabilities for the box (28x28 from the mask head).
    box : (4,) int array
        ``(y1, x1, y2, x2)`` in pixels of the full image.
    shape : (rows, cols)
        Full image size.
    threshold : float, default 0.5
        Probability at or above which a pixel is foreground.

    Returns
    -------
    (rows, cols) bool array
    """
    y1, x1, y2, x2 = (int(v) for v in box)
    full = np.zeros(shape, dtype=bool)
    if y2 <= y1 or x2 <= x1:
        return full
    small = _sk_resize(
        np.asarray(mask, dtype=np.float32), (y2 - y1, x2 - x1), order=1,
        mode="constant", preserve_range=True, anti_aliasing=False,
    )
    full[y1:y2, x1:x2] = small >= threshold
    return full


def compose_image_meta(info: MoldInfo, num_classes: int, image_id: int = 0) -> np.ndarray:
    """Reference image meta vector (length 12 + ``num_classes``).

    ``[image_id, original (h, w, 3), molded (h, w, 3), window (4), scale,
    active class ids]``; all classes are active.
    """
    return np.array(
        [image_id, *info.original_shape, 3, *info.molded_shape, 3, *info.window, info.scale]
        + [1] * num_classes,
        dtype=np.float32,
    )
