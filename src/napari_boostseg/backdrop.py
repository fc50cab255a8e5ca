"""Coarse product masks from a studio photo's backdrop, with no model.

A studio photographs products on seamless paper: white, grey, black or a
colour, lit unevenly (a gradient, a vignette, the curve where the floor
meets the wall) but smoothly. :func:`backdrop_labels` models that backdrop
as a smooth colour surface and takes what departs from it for product:

1. **Backdrop surface.** On a copy reduced to about 600 px, a polynomial
   surface of degree 4 per colour channel is fitted to the pixels that look
   like the frame's border, by iterated reweighting, so that products (even
   ones that touch the frame) do not pull it; a Gaussian-weighted mean of the
   residuals (normalised convolution) then follows what a polynomial cannot,
   such as a sharp floor curve.
2. **Departure.** Each pixel's difference from the surface is split into a
   change of brightness and a change of colour, measured against the
   backdrop's own noise (estimated robustly from the fit).
3. **Shadows.** A contact or drop shadow darkens the backdrop without
   changing its colour and fades out softly. Pixels that only darken are left
   undecided; sure product seeds are pixels that change colour, brighten,
   darken beyond any shadow, or lie deep inside a departing region, and
   regions outlined by a sharp edge. A watershed on the reduced photo's
   gradient, seeded by sure product and sure backdrop, then gives the soft
   shadows to the backdrop: a product's outline is a sharp edge, a shadow's
   is not.
4. **Products.** Each separate region is one product; specks smaller than
   ``min_area`` of the frame (dust, crumbs) are dropped, pinholes are filled,
   real holes (a bag's handle) stay open.

The result is a coarse mask at the reduced scale, upsampled to the photo:
:func:`napari_boostseg.refine` then snaps it to the photo's edges at full
resolution. Touching products that differ in colour and meet between two
notches of the outline are split into one region each
(:mod:`napari_boostseg.split`); others come out as one region.

When the photo has no plain backdrop (a street or lifestyle photo: the frame's
border does not follow a smooth surface, or too little of the frame does),
the result says so (``plain`` False, with a ``reason``) instead of labelling
the scene.

Examples
--------
>>> import numpy as np
>>> photo = np.full((300, 200, 3), 250, np.uint8)
>>> photo[100:200, 60:140] = (30, 60, 160)
>>> found = backdrop_labels(photo)
>>> found.plain, int(found.labels.max()), int(found.labels[150, 100])
(True, 1, 1)
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike
from scipy import ndimage as ndi

from .flood import flood
from .inputs import check_image, intensity_scale
from .coarse import bilinear_matrix
from .resample import block_mean
from .split import split_touching

__all__ = ["BackdropResult", "backdrop_labels", "WORKING_SIZE"]

#: Long side, in pixels, of the reduced copy the backdrop is modelled on.
WORKING_SIZE = 600

_DEGREE = 4
_EIGHT = np.ones((3, 3), bool)


@dataclass(frozen=True)
class BackdropResult:
    """Products found on a photo's backdrop, and whether it has one.

    Attributes
    ----------
    labels : (H, W) ndarray of int32
        Coarse product labels at the photo's size: 0 backdrop, 1..N products,
        numbered by size (largest first). All 0 when ``plain`` is False.
    plain : bool
        The photo has a plain studio backdrop (the method applies).
    reason : str
        Why ``plain`` is False, or what was found.
    colour : (C,) ndarray of float32
        Median backdrop colour in [0, 1].
    noise : float
        Robust standard deviation of the backdrop around the fitted surface,
        in 8-bit levels at the reduced scale.
    backdrop_fraction : float
        Share of the frame that is backdrop.
    border_fit : float
        Share of the frame's border that follows the backdrop surface.
    scale : int
        Reduction factor of the working copy (the photo's side over its side).
    count : int
        Number of products (``labels.max()``).
    backdrop : str
        The backdrop in a few words, e.g. "light grey (238)".
    """

    labels: np.ndarray
    plain: bool
    reason: str
    colour: np.ndarray
    noise: float
    backdrop_fraction: float
    border_fit: float
    scale: int
    count: int = 0
    backdrop: str = ""


def _basis(h: int, w: int, degree: int) -> np.ndarray:
    """(h * w, terms) float64 monomials x**i * y**j, i + j <= degree, on [-1, 1]."""
    y = np.linspace(-1, 1, h)
    x = np.linspace(-1, 1, w)
    yy, xx = np.meshgrid(y, x, indexing="ij")
    terms = [xx**i * yy**j for i in range(degree + 1) for j in range(degree + 1 - i)]
    return np.stack([t.ravel() for t in terms], axis=1)


def _fit_surface(grid: np.ndarray, weight: np.ndarray, basis: np.ndarray, sigma: float) -> np.ndarray:
    """Smooth backdrop surface on the coarse grid, (gh, gw, C) float32.

    A weighted least-squares polynomial per channel (normal equations: the
    terms are few), plus the normalised convolution of what it leaves over.
    """
    gh, gw, c = grid.shape
    wv = weight.ravel().astype(np.float64)
    values = grid.reshape(-1, c).astype(np.float64)
    weighted = basis * wv[:, None]
    gram = basis.T @ weighted + 1e-9 * np.eye(basis.shape[1])
    coef = np.linalg.solve(gram, weighted.T @ values)
    surface = (basis @ coef).reshape(gh, gw, c).astype(np.float32)
    residual = (grid - surface) * weight[..., None]
    norm = ndi.gaussian_filter(weight, sigma, mode="nearest")
    for k in range(c):
        smooth = ndi.gaussian_filter(residual[..., k], sigma, mode="nearest")
        surface[..., k] += smooth / np.maximum(norm, 1e-6) * np.clip(norm / 0.3, 0, 1)
    return surface


def _to_working(grid: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Bilinear resize of a coarse-grid surface to the working copy's shape."""
    ry = bilinear_matrix(shape[0], grid.shape[0])
    rx = bilinear_matrix(shape[1], grid.shape[1])
    return np.stack([ry @ grid[..., k] @ rx.T for k in range(grid.shape[2])], axis=2)


def _reduce(image: np.ndarray) -> tuple[np.ndarray, int]:
    """The photo as float32 [0, 1] colour channels at about WORKING_SIZE px."""
    h, w = image.shape[:2]
    f = max(1, int(round(max(h, w) / WORKING_SIZE)))
    planes = image[..., None] if image.ndim == 2 else image
    if planes.shape[2] == 4:
        planes = planes[..., :3]
    if np.issubdtype(planes.dtype, np.integer) and planes.dtype not in (np.uint8, np.uint16):
        planes = planes.astype(np.float32) / intensity_scale(planes.dtype)
    small = block_mean(np.ascontiguousarray(planes), f)
    if np.issubdtype(planes.dtype, np.integer):
        small *= np.float32(1 / intensity_scale(planes.dtype))
    return small, f


def _upsample_labels(small: np.ndarray, f: int, shape: tuple[int, int]) -> np.ndarray:
    """Each working pixel repeated over the f x f block of the photo it stands for."""
    h, w = shape
    return np.ascontiguousarray(np.repeat(np.repeat(small, f, axis=0)[:h], f, axis=1)[:, :w])


def backdrop_labels(
    image: ArrayLike,
    *,
    min_area: float = 0.0008,
    sensitivity: float = 1.0,
    split: bool = True,
) -> BackdropResult:
    """Coarse labels of the products standing out from a plain studio backdrop.

    Parameters
    ----------
    image : (H, W), (H, W, 3) or (H, W, 4) array_like
        The photo: uint8, uint16 or float in [0, 1] (see
        :func:`napari_boostseg.inputs.image_to_float`).
    min_area : float, optional
        Smallest product, as a share of the frame's area; smaller specks
        (dust, crumbs, lint) are dropped. Default 0.0008 (about 3000 px at
        2400x1600).
    sensitivity : float, optional
        Scales how small a departure from the backdrop counts as product:
        above 1 finds fainter products (and more specks), below 1 fewer.
        Default 1.
    split : bool, optional
        Split a region of touching products into one per product where their
        contact shows (:func:`napari_boostseg.split.split_touching`). Default
        True.

    Returns
    -------
    BackdropResult
        ``labels`` at the photo's size; ``plain`` False, with all-zero labels
        and a ``reason``, when the photo has no plain backdrop.

    Raises
    ------
    ValueError
        For an image that :func:`napari_boostseg.inputs.check_image` rejects,
        or parameters out of range.
    """
    image = check_image(image)
    if not 0 <= min_area < 1:
        raise ValueError(f"min_area is a share of the frame in [0, 1), got {min_area}")
    if not sensitivity > 0:
        raise ValueError(f"sensitivity must be > 0, got {sensitivity}")
    H, W = image.shape[:2]
    small, f = _reduce(image)
    h, w, c = small.shape
    short = min(h, w)

    # 1. The backdrop surface, fitted to what looks like the frame's border.
    border = np.zeros((h, w), bool)
    b = max(2, int(0.03 * short))
    border[:b] = border[-b:] = True
    border[:, :b] = border[:, -b:] = True
    reference = np.median(small[border], axis=0)
    spread = np.abs(small - reference).max(axis=2)
    inliers = spread < 0.12
    # The surface is smooth: fit it on a grid four times coarser.
    g = 4
    basis = None
    surface = np.broadcast_to(reference, small.shape).astype(np.float32)
    noise = 0.02
    for _ in range(3):
        if inliers.sum() < 50:
            break
        # Each grid cell averages its backdrop pixels only: a product in the
        # cell must not pull the surface towards it.
        weight = block_mean(inliers, g)
        grid = block_mean(small * inliers[..., None], g) / np.maximum(weight, 1e-6)[..., None]
        if basis is None:
            basis = _basis(grid.shape[0], grid.shape[1], _DEGREE)
        surface = _to_working(_fit_surface(grid, weight, basis, 0.04 * short / g), (h, w))
        error = np.abs(small - surface).max(axis=2)
        noise = float(1.4826 * np.median(error[inliers])) + 1e-4
        inliers = error < max(4 * noise, 6 / 255)
    colour = np.median(small[inliers] if inliers.any() else small.reshape(-1, c), axis=0)
    noise_levels = noise * 255
    border_fit = float(inliers[border].mean())

    empty = np.zeros((H, W), np.int32)

    def verdict(plain: bool, reason: str, labels=empty, fraction: float = 0.0, count: int = 0) -> BackdropResult:
        return BackdropResult(labels, plain, reason, colour.astype(np.float32), noise_levels,
                              fraction, border_fit, f, count, _describe(colour))

    if border_fit < 0.5:
        return verdict(False, f"no plain backdrop: only {border_fit:.0%} of the frame's border "
                       "follows a smooth backdrop (a street or lifestyle photo?)")
    if noise_levels > 6:
        return verdict(False, f"no plain backdrop: the background varies by {noise_levels:.1f} "
                       "levels around a smooth surface (textured, not seamless paper)")

    # 2. Departure from the backdrop: brightness and colour, in noise units.
    diff = small - surface
    bright = diff.mean(axis=2)
    chroma = np.sqrt(((diff - bright[..., None]) ** 2).sum(axis=2)) if c > 1 else np.zeros_like(bright)
    level = max(4 * noise, 3 / 255) / sensitivity
    departs = np.maximum(np.abs(bright), 1.5 * chroma) > level
    departs = ndi.binary_opening(departs, _EIGHT)

    # 3. Seeds: what a shadow cannot be. A shadow darkens, keeps the colour,
    # keeps at least ~45 % of the light and is narrow beside its product.
    lum = small.mean(axis=2)
    base = surface.mean(axis=2)
    ratio = lum / np.maximum(base, 1e-3)
    dark_backdrop = float(colour.mean()) < 0.15
    shadow_like = (bright < 0) & (chroma < 0.3 * np.abs(bright) + 2 * level) & (ratio > 0.45)
    if dark_backdrop:
        shadow_like[:] = False
    seeds = ndi.binary_erosion(departs & ~shadow_like, _EIGHT)
    grey = ndi.gaussian_filter(lum, 0.7)
    gradient = np.hypot(ndi.sobel(grey, 0), ndi.sobel(grey, 1)).astype(np.float32)
    sharp = gradient > 8 * max(level, 2 / 255)
    # A departing region with no such seed (a grey product on white, all of it
    # shadow-like) still counts where it is deeper than any shadow is wide, or
    # when a sharp edge outlines it.
    parts, n = ndi.label(departs, _EIGHT)
    if n:
        has_seed = np.bincount(parts[seeds], minlength=n + 1) > 0
        rim = departs & ~ndi.binary_erosion(departs, _EIGHT)
        rim_sharp = np.bincount(parts[rim], weights=sharp[rim], minlength=n + 1)
        rim_all = np.maximum(np.bincount(parts[rim], minlength=n + 1), 1)
        seedless = ~has_seed
        seedless[0] = False
        if seedless.any():
            inner = ndi.binary_erosion(departs, _EIGHT)
            deep = ndi.distance_transform_edt(departs) > 0.08 * short
            outlined = seedless & (rim_sharp / rim_all > 0.6)
            seeds |= seedless[parts] & deep
            seeds |= outlined[parts] & inner
    # Sure backdrop: the backdrop-coloured region that reaches the frame's border,
    # and holes (a handle's): enclosed regions that look like the paper, at least
    # half of them unshadowed, outlined by a sharp edge all round and small beside
    # their product. A patch of fabric that happens to match the paper fades into
    # the fabric around it (a soft rim), or is most of its product.
    calm, m = ndi.label(~departs)
    reaches_border = np.zeros(m + 1, bool)
    reaches_border[np.unique(calm[border])] = True
    reaches_border[0] = False
    sure_backdrop = reaches_border[calm] & ~ndi.binary_dilation(departs, _EIGHT, iterations=2)
    quiet = ~departs | (shadow_like & ~sharp)
    holes, k = ndi.label(quiet)
    if k:
        area = np.bincount(holes.ravel(), minlength=k + 1)
        paperlike = np.bincount(holes.ravel(), weights=(~departs).ravel(), minlength=k + 1)
        ring = ndi.binary_dilation(quiet, _EIGHT) & ~quiet
        owner = ndi.grey_dilation(holes, footprint=_EIGHT)
        rim_sharp = np.bincount(owner[ring], weights=sharp[ring], minlength=k + 1)
        rim_all = np.maximum(np.bincount(owner[ring], minlength=k + 1), 1)
        solid, _ = ndi.label(ndi.binary_fill_holes(~reaches_border[calm] | departs), _EIGHT)
        solid_area = np.bincount(solid.ravel())
        host = np.zeros(k + 1, np.int64)
        host[holes.ravel()] = solid_area[solid.ravel()]
        hole = (
            (area >= 0.002 * h * w)
            & (rim_sharp / rim_all > 0.5)
            & (area < 0.35 * host)
            & (paperlike >= 0.5 * area)
        )
        hole[np.unique(holes[border])] = False
        hole[0] = False
        if hole.any():
            sure_backdrop |= ndi.binary_erosion(hole[holes], _EIGHT, iterations=2)
    markers = np.zeros((h, w), np.int32)
    markers[sure_backdrop] = 1
    markers[seeds] = 2
    product = flood(gradient, markers) > 0

    # 4. One id per separate product; specks out, pinholes in.
    parts, n = ndi.label(product, _EIGHT)
    sizes = np.bincount(parts.ravel(), minlength=n + 1)[1:]
    keep = np.flatnonzero(sizes >= max(min_area * h * w, 4)) + 1
    order = keep[np.argsort(-sizes[keep - 1], kind="stable")]
    relabel = np.zeros(n + 1, np.int32)
    relabel[order] = np.arange(1, order.size + 1)
    small_labels = relabel[parts]
    holes = ndi.binary_fill_holes(small_labels > 0) & (small_labels == 0)
    if holes.any():
        pin, m = ndi.label(holes)
        pin_sizes = np.bincount(pin.ravel(), minlength=m + 1)
        tiny = (pin_sizes < max(4, 0.00005 * h * w)) & (np.arange(m + 1) > 0)
        fill = tiny[pin]
        if fill.any():
            # Each pinhole takes the id of the product around it.
            _, (iy, ix) = ndi.distance_transform_edt(small_labels == 0, return_indices=True)
            small_labels[fill] = small_labels[iy[fill], ix[fill]]
    fraction = float((small_labels == 0).mean())
    if split and fraction >= 0.2:
        small_labels = split_touching(small_labels, small)
    if fraction < 0.2:
        return verdict(False, f"no plain backdrop: only {fraction:.0%} of the frame is backdrop")
    labels = _upsample_labels(small_labels, f, (H, W))
    count = int(small_labels.max())
    reason = f"{count} product(s) on a backdrop of {_describe(colour)}" if count else (
        "a plain backdrop with nothing on it")
    return verdict(True, reason, labels, fraction, count)


def _describe(colour: np.ndarray) -> str:
    """A few words for a backdrop colour, e.g. 'white (252)'."""
    level = float(colour.mean()) * 255
    if colour.size == 3 and float(np.ptp(colour)) * 255 > 20:
        r, g, b = (int(round(v * 255)) for v in colour)
        return f"colour ({r}, {g}, {b})"
    name = "white" if level > 245 else "light grey" if level > 200 else "grey" if level > 60 else "black"
    return f"{name} ({level:.0f})"
