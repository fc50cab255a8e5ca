"""Generated photos of thin and holed objects on busy, textured backdrops.

Refinement is hardest where an object is thinner than its undecided band
(blades, straps, handles with holes, strings) and where the backdrop is full
of edges of its own (fruit on a table, a patterned cloth). These photos,
each with its true mask, reproduce such cases from a seed, for tests and for
``benchmarks/bench_quality.py --set-name thin``; choose parameters on one
seed range and report on another.

Examples
--------
>>> from napari_boostseg.synthetic.thin_objects import thin_object_photo
>>> image, truth = thin_object_photo(0)
>>> image.shape, image.dtype, truth.dtype
((480, 640, 3), dtype('uint8'), dtype('bool'))
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage as ndi
from skimage.draw import disk, ellipse, polygon

__all__ = ["KINDS", "thin_object_photo", "textured_backdrop"]

#: The kinds of object drawn; seed ``s`` draws ``KINDS[s % len(KINDS)]``.
KINDS = ("scissors", "ring", "fork", "string", "frame")


def textured_backdrop(shape: tuple[int, int], rng: np.random.Generator) -> np.ndarray:
    """A busy backdrop: shaded, overlapping coloured blobs on a grainy cloth, float32 RGB in [0, 1]."""
    h, w = shape
    base = rng.uniform(0.3, 0.8, 3).astype(np.float32)
    photo = np.broadcast_to(base, (h, w, 3)).copy()
    # Cloth: a fine weave plus grain.
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    period = rng.uniform(5, 12)
    weave = 0.06 * np.sin(2 * np.pi * xx / period) * np.sin(2 * np.pi * yy / period)
    photo += weave[..., None]
    for _ in range(int(rng.integers(12, 22))):
        cy, cx = rng.uniform(0, h), rng.uniform(0, w)
        ry, rx = rng.uniform(0.05, 0.2) * h, rng.uniform(0.05, 0.2) * w
        rr, cc = ellipse(cy, cx, ry, rx, shape=shape, rotation=rng.uniform(0, np.pi))
        colour = rng.uniform(0.05, 0.95, 3).astype(np.float32)
        # Shaded like a round fruit: lighter towards a highlight.
        shade = 1.0 - 0.35 * np.hypot((rr - cy) / ry, (cc - cx) / rx)
        photo[rr, cc] = colour * shade[:, None].astype(np.float32)
    photo += rng.normal(0, 0.03, photo.shape).astype(np.float32)
    return photo


def _thick_line(mask: np.ndarray, p: tuple, q: tuple, width: float) -> None:
    """Draw a segment ``width`` pixels thick from ``p`` to ``q`` (y, x) into ``mask``."""
    (y0, x0), (y1, x1) = p, q
    length = max(np.hypot(y1 - y0, x1 - x0), 1e-6)
    ny, nx = -(x1 - x0) / length * width / 2, (y1 - y0) / length * width / 2
    rr, cc = polygon([y0 + ny, y1 + ny, y1 - ny, y0 - ny], [x0 + nx, x1 + nx, x1 - nx, x0 - nx], mask.shape)
    mask[rr, cc] = True


def _ring(mask: np.ndarray, cy: float, cx: float, ry: float, rx: float, wall: float, angle: float) -> None:
    rr, cc = ellipse(cy, cx, ry, rx, shape=mask.shape, rotation=angle)
    mask[rr, cc] = True
    rr, cc = ellipse(cy, cx, max(ry - wall, 1), max(rx - wall, 1), shape=mask.shape, rotation=angle)
    mask[rr, cc] = False


def _object(kind: str, shape: tuple[int, int], rng: np.random.Generator) -> np.ndarray:
    h, w = shape
    mask = np.zeros(shape, bool)
    cy, cx = h * rng.uniform(0.4, 0.6), w * rng.uniform(0.4, 0.6)
    size = min(h, w) * rng.uniform(0.35, 0.5)
    angle = rng.uniform(0, np.pi)
    u = np.array([np.sin(angle), np.cos(angle)])  # along the object
    v = np.array([u[1], -u[0]])  # across
    c = np.array([cy, cx])
    cell = 1.3 * size / 28  # about one cell of the object's 28x28 grid, px

    def thickness(lo: float, hi: float) -> float:
        return cell * rng.uniform(lo, hi)

    if kind == "scissors":
        blade = thickness(1.5, 3.0)
        tip = c + u * size * 0.6
        for side in (-1, 1):
            start = c - u * size * 0.05 + v * side * blade * 0.3
            _thick_line(mask, tuple(start), tuple(tip + v * side * blade * 0.4), blade)
            hole = c - u * size * 0.3 + v * side * size * 0.16
            _ring(mask, *hole, size * 0.14, size * 0.1, thickness(1.2, 2.0), angle)
            _thick_line(mask, tuple(start), tuple(hole), blade * 0.9)
    elif kind == "ring":
        _ring(mask, cy, cx, size * 0.5, size * 0.4, thickness(1.5, 3.0), angle)
        _thick_line(mask, tuple(c + u * size * 0.45), tuple(c + u * size * 0.9), thickness(1.2, 2.0))
    elif kind == "fork":
        handle = thickness(1.5, 3.0)
        _thick_line(mask, tuple(c - u * size * 0.7), tuple(c + u * size * 0.1), handle)
        head = c + u * size * 0.1
        _thick_line(mask, tuple(head - v * size * 0.15), tuple(head + v * size * 0.15), handle * 1.3)
        for k in range(4):
            root = head + v * size * (-0.13 + 0.26 * k / 3)
            _thick_line(mask, tuple(root), tuple(root + u * size * 0.5), thickness(1.0, 1.6))
    elif kind == "string":
        width = thickness(1.0, 2.0)
        points = [c - u * size * 0.8]
        for k in range(1, 7):
            points.append(c - u * size * 0.8 + u * size * 1.6 * k / 6 + v * rng.uniform(-0.25, 0.25) * size)
        for p, q in zip(points[:-1], points[1:]):
            _thick_line(mask, tuple(p), tuple(q), width)
            rr, cc = disk(tuple(q), width / 2, shape=shape)
            mask[rr, cc] = True
    elif kind == "frame":
        wall = thickness(1.5, 3.0)
        corners = [c + a * u * size * 0.6 + b * v * size * 0.45 for a, b in ((-1, -1), (-1, 1), (1, 1), (1, -1))]
        for p, q in zip(corners, corners[1:] + corners[:1]):
            _thick_line(mask, tuple(p), tuple(q), wall)
        _thick_line(mask, tuple(corners[0]), tuple(corners[2]), wall * 0.7)
    else:
        raise ValueError(f"unknown kind {kind!r}; one of {KINDS}")
    return mask


def thin_object_photo(
    seed: int, shape: tuple[int, int] = (480, 640), kind: str | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """A thin or holed object on a busy backdrop, and its true mask.

    Parameters
    ----------
    seed : int
        Makes the photo; the object's kind is ``KINDS[seed % len(KINDS)]``
        unless ``kind`` is given.
    shape : tuple of int, optional
        Photo height and width in pixels. Default (480, 640).
    kind : str, optional
        One of :data:`KINDS`.

    Returns
    -------
    image : (H, W, 3) ndarray of uint8
        RGB photo: the object in one shaded colour with a thin dark rim,
        on a textured backdrop of coloured blobs.
    truth : (H, W) ndarray of bool
        The object's true mask.
    """
    rng = np.random.default_rng(seed)
    kind = KINDS[seed % len(KINDS)] if kind is None else kind
    photo = textured_backdrop(shape, rng)
    mask = _object(kind, shape, rng)
    colour = rng.uniform(0.0, 1.0, 3).astype(np.float32)
    if rng.random() < 0.5:
        colour *= 0.25  # a dark handle or a black string
    light = ndi.distance_transform_edt(mask).astype(np.float32)
    shade = 0.85 + 0.15 * np.minimum(light / 4, 1)
    photo[mask] = colour * shade[mask][:, None]
    # Slight blur at the edge, as a lens gives.
    photo = ndi.gaussian_filter(photo, (0.7, 0.7, 0), mode="nearest")
    photo += rng.normal(0, 0.015, photo.shape).astype(np.float32)
    image = (np.clip(photo, 0, 1) * 255 + 0.5).astype(np.uint8)
    return image, mask
