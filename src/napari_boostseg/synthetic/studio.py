"""Studio product photos rendered around real garment cut-outs, with their true masks.

Real studio photos with pixel-exact masks cannot be downloaded here, so this
module makes them: garments and people are cut out of the Clothing Co-Parsing
photos with their ground-truth masks (:func:`ccp_cutouts`) and laid on a
rendered studio scene (:func:`render`) the way a product photographer shoots
them (``docs/studio-photos.md`` of the data folder describes the real thing):

* backdrops: pure white (blown out), light grey, mid grey, black or a colour;
  flat, with a light gradient, a vignette or a seamless floor curve, and a
  slight colour cast;
* lighting: a soft contact shadow under each product and a drop shadow to one
  side (backdrop, not product), a little colour spill, lens blur, sensor noise
  and JPEG compression at quality 85-95;
* edges: each product is blended with an anti-aliased alpha (its mask is
  resampled at twice the output size, averaged down, then feathered by 1-2 px),
  so outlines are as soft as in a photo and never a hard binary cut;
* layouts (:data:`LAYOUTS`): one product centred, 2-6 laid out apart, products
  touching or overlapping a little, a person on a seamless backdrop, a product
  cut by the frame;
* hard cases (:data:`HARD_CASES`): light products on white or light grey, dark
  on black, thin cords and a hanging tag, a handle with a hole, printed logos
  with strong inner edges, a crisp dark drop shadow (a small or bare light),
  a knit in muted colours (rows of stitches, loose fibres standing out of its
  outline).

The true label image gives product ``k`` every pixel where its visible alpha
is at least 0.5; soft shadows and the holes of a handle are backdrop.

Photos are reproducible: the same cut-outs, seed and options give the same
pixels. Cut-outs come from the CCP training photos only (ids 0001-0800):
:data:`TRAIN_CUTOUT_IDS` for photos that train or tune anything,
:data:`DEV_CUTOUT_IDS` for development figures.

Examples
--------
>>> cutouts = ccp_cutouts("../shared/data/ccp", DEV_CUTOUT_IDS)   # doctest: +SKIP
>>> photo = render(cutouts, seed=3, layout="single", size=1200)    # doctest: +SKIP
>>> photo.image.shape, photo.truth.max()                           # doctest: +SKIP
((1200, 800, 3), 1)
"""

from __future__ import annotations

import io as _bytes_io
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
from PIL import Image
from scipy import ndimage as ndi

from . import ccp

__all__ = [
    "Cutout",
    "StudioPhoto",
    "LAYOUTS",
    "HARD_CASES",
    "FIRST_HARD_CASES",
    "BACKDROPS",
    "LIGHTING",
    "TRAIN_CUTOUT_IDS",
    "DEV_CUTOUT_IDS",
    "ccp_cutouts",
    "render",
    "studio_photos",
]

#: How products are arranged in the frame.
LAYOUTS = ("single", "set", "touching", "person", "cut")
#: What makes a photo hard; None is an ordinary photo.
HARD_CASES = ("light_on_light", "dark_on_dark", "thin", "holes", "prints", "hard_shadow", "knit")
#: The hard cases before ``hard_shadow``: those the bundled product model was
#: trained on and the README's bench_quality and bench_edges figures measured.
FIRST_HARD_CASES = HARD_CASES[:5]
#: Backdrop colours.
BACKDROPS = ("white", "light_grey", "mid_grey", "black", "colour")
#: How the backdrop is lit.
LIGHTING = ("flat", "gradient", "vignette", "floor")

#: CCP photos whose instances make photos for training and choosing parameters.
TRAIN_CUTOUT_IDS = range(1, 701)
#: CCP photos (still of CCP's training split) whose instances make development photos.
DEV_CUTOUT_IDS = range(701, 801)

_GARMENTS = ("top", "outerwear", "bottom", "dress")
_SET_KINDS = ("top", "outerwear", "bottom", "dress", "footwear", "bag")


@dataclass(frozen=True)
class Cutout:
    """A product or person cut out of a photo.

    Attributes
    ----------
    rgb : (h, w, 3) ndarray of uint8
        The crop around the instance; pixels outside the mask repeat the
        nearest pixel inside it, so resampling never pulls in the old
        background.
    mask : (h, w) ndarray of bool
        The instance.
    kind : str
        ``"person"`` or a garment group of :data:`napari_boostseg.synthetic.ccp.GARMENT_GROUPS`.
    source : str
        Where it comes from, e.g. ``"ccp 0012"``.
    """

    rgb: np.ndarray
    mask: np.ndarray
    kind: str
    source: str


@dataclass(frozen=True)
class StudioPhoto:
    """A rendered studio photo and its true objects.

    Attributes
    ----------
    image : (H, W, 3) ndarray of uint8
        The photo, after JPEG compression.
    truth : (H, W) ndarray of int32
        True instance labels: 0 backdrop, 1..N products.
    kinds : tuple of str
        The kind of product ``k`` at index ``k - 1``.
    layout : str
        One of :data:`LAYOUTS`.
    hard : str or None
        One of :data:`HARD_CASES`, or None.
    backdrop : str
        One of :data:`BACKDROPS`.
    lighting : str
        One of :data:`LIGHTING`.
    name : str
        A file-name stem that says all of the above and the seed.
    matte : (H, W) ndarray of float32
        The true alpha matte: the share of each pixel that is product, 0 to 1
        (the products' feathered alphas, through the same lens blur as the
        photo, before noise and JPEG).
    premultiplied : (H, W, 3) ndarray of float32
        The products' colours times ``matte``, 0 to 1: a perfect cut-out laid
        on a background ``G`` looks like ``premultiplied + (1 - matte) * G``.
    """

    image: np.ndarray
    truth: np.ndarray
    kinds: tuple[str, ...]
    layout: str
    hard: str | None
    backdrop: str
    lighting: str
    name: str
    matte: np.ndarray
    premultiplied: np.ndarray


# --------------------------------------------------------------------------- #
# Cut-outs


def _cut(image: np.ndarray, mask: np.ndarray, kind: str, source: str) -> Cutout | None:
    rows = np.flatnonzero(mask.any(axis=1))
    cols = np.flatnonzero(mask.any(axis=0))
    y1, y2, x1, x2 = rows[0], rows[-1] + 1, cols[0], cols[-1] + 1
    h, w = mask.shape
    # A garment cut by the street photo's frame would show a straight cut edge.
    if y1 == 0 or x1 == 0 or x2 == w or (y2 == h and kind != "footwear"):
        return None
    m = mask[y1:y2, x1:x2]
    rgb = image[y1:y2, x1:x2]
    _, (iy, ix) = ndi.distance_transform_edt(~m, return_indices=True)
    return Cutout(np.ascontiguousarray(rgb[iy, ix]), m.copy(), kind, source)


@lru_cache(maxsize=4)
def _cutouts_cached(root: str, ids: tuple[int, ...], min_area: int) -> tuple[Cutout, ...]:
    lookup = ccp.group_lookup(Path(root))
    out: list[Cutout] = []
    for i in ids:
        stem = f"{i:04d}"
        image = np.asarray(Image.open(Path(root) / "images" / f"{stem}.jpg").convert("RGB"))
        labels = np.asarray(Image.open(Path(root) / "labels" / f"{stem}.png"))
        masks, classes = ccp.instances(labels, lookup)
        for k in range(masks.shape[2]):
            kind = ccp.CLASS_NAMES[classes[k]]
            mask = masks[..., k]
            if kind == "person":
                parts, n = ndi.label(mask)
                if n == 0:
                    continue
                mask = parts == 1 + int(np.argmax(np.bincount(parts.ravel())[1:]))
                if mask.sum() < 6 * min_area:
                    continue
            else:
                need = min_area // 4 if kind in ("footwear", "bag") else min_area
                if mask.sum() < need:
                    continue
            cut = _cut(image, mask, kind, f"ccp {stem}")
            if cut is not None:
                out.append(cut)
    return tuple(out)


def ccp_cutouts(
    ccp_dir: str | os.PathLike, ids: Sequence[int] = DEV_CUTOUT_IDS, *, min_area: int = 6000
) -> tuple[Cutout, ...]:
    """Garment and person instances of CCP photos, cut out with their true masks.

    Parameters
    ----------
    ccp_dir : str or os.PathLike
        The CCP folder (``images/``, ``labels/``, ``labels.txt``).
    ids : sequence of int, optional
        Photo ids. Default :data:`DEV_CUTOUT_IDS`. Never use CCP's
        development ids (0801-0900) for photos that train or tune anything.
    min_area : int, optional
        Smallest garment, in pixels at CCP's resolution (550 px wide); shoes
        and bags may be a quarter of it, a person must be six times it.
        Default 6000: smaller ones look blurred once enlarged to a studio frame.

    Returns
    -------
    tuple of Cutout
        Instances cut by the street photo's frame are left out. Cached per
        process.
    """
    root = Path(ccp_dir)
    if not (root / "labels.txt").is_file():
        raise FileNotFoundError(f"{root} is not a CCP folder (no labels.txt)")
    return _cutouts_cached(str(root.resolve()), tuple(int(i) for i in ids), int(min_area))


# --------------------------------------------------------------------------- #
# The scene


def _backdrop_colour(kind: str, rng: np.random.Generator) -> np.ndarray:
    if kind == "white":
        return np.full(3, rng.uniform(1.0, 1.08), np.float32)
    if kind == "light_grey":
        return np.full(3, rng.uniform(230, 250) / 255, np.float32)
    if kind == "mid_grey":
        return np.full(3, rng.uniform(110, 170) / 255, np.float32)
    if kind == "black":
        return np.full(3, rng.uniform(8, 35) / 255, np.float32)
    hue = rng.uniform(0, 1)
    sat, val = rng.uniform(0.25, 0.6), rng.uniform(0.5, 0.9)
    rgb = np.clip(np.abs(np.mod(hue * 6 + np.array([0, 4, 2]), 6) - 3) - 1, 0, 1)
    return (val * (1 - sat + sat * rgb)).astype(np.float32)


def _light(shape: tuple[int, int], kind: str, rng: np.random.Generator) -> np.ndarray:
    """Multiplicative light field of the backdrop, about 1."""
    h, w = shape
    y = np.linspace(-1, 1, h, dtype=np.float32)[:, None]
    x = np.linspace(-1, 1, w, dtype=np.float32)[None, :]
    amp = rng.uniform(0.04, 0.10)
    if kind == "flat":
        return np.full(shape, 1 - rng.uniform(0, 0.01), np.float32)
    if kind == "gradient":
        angle = rng.uniform(0, 2 * np.pi)
        return 1 - amp * 0.5 * (1 + np.cos(angle) * x + np.sin(angle) * y)
    if kind == "vignette":
        cy, cx = rng.uniform(-0.3, 0.3, 2)
        return 1 - amp * ((x - cx) ** 2 + (y - cy) ** 2) / 2
    # A seamless paper: wall above, floor below, a soft curve between them.
    where = rng.uniform(0.1, 0.6)
    width = rng.uniform(0.08, 0.22)
    step = rng.uniform(0.03, 0.08) * rng.choice([-1, 1])
    curve = 1 / (1 + np.exp(-(y - where) / width))
    return 1 - amp * 0.3 * (y + 1) / 2 + step * (curve - 0.5) - amp * 0.3 * x * x


def _recolour(rgb: np.ndarray, mean: float, contrast: float, saturation: float) -> np.ndarray:
    grey = rgb @ np.array([0.299, 0.587, 0.114], np.float32)
    new = mean + contrast * (grey - grey.mean())
    return np.clip(new[..., None] + saturation * (rgb - grey[..., None]), 0, 1)


def _resize(array: np.ndarray, size: tuple[int, int], resample) -> np.ndarray:
    """PIL resize of a float32 (h, w) or (h, w, 3) array to (height, width)."""
    h, w = size
    if array.ndim == 2:
        return np.asarray(Image.fromarray(array).resize((w, h), resample), np.float32)
    planes = [np.asarray(Image.fromarray(array[..., c]).resize((w, h), resample)) for c in range(3)]
    return np.stack(planes, axis=2).astype(np.float32)


def _thick_curve(canvas: np.ndarray, points: np.ndarray, radius: float) -> None:
    """Paint a curve of the given radius through ``points`` (n, 2) on a bool canvas."""
    h, w = canvas.shape
    steps = np.linalg.norm(np.diff(points, axis=0), axis=1)
    n = max(2, int(steps.sum() / max(radius * 0.5, 0.5)))
    t = np.linspace(0, 1, len(points))
    tt = np.linspace(0, 1, n)
    ys = np.interp(tt, t, points[:, 0])
    xs = np.interp(tt, t, points[:, 1])
    r = int(np.ceil(radius))
    yy, xx = np.mgrid[-r : r + 1, -r : r + 1]
    disk = yy**2 + xx**2 <= radius**2
    for y, x in zip(ys.astype(int), xs.astype(int)):
        y0, y1, x0, x1 = y - r, y + r + 1, x - r, x + r + 1
        if y1 <= 0 or x1 <= 0 or y0 >= h or x0 >= w:
            continue
        sy, sx = slice(max(y0, 0), min(y1, h)), slice(max(x0, 0), min(x1, w))
        canvas[sy, sx] |= disk[sy.start - y0 : sy.stop - y0, sx.start - x0 : sx.stop - x0]


@dataclass
class _Product:
    """One product at output scale: where it goes and what it looks like."""

    top: int
    left: int
    rgb: np.ndarray  # (h, w, 3) float32
    alpha: np.ndarray  # (h, w) float32
    kind: str


def _prepare(
    cut: Cutout,
    height: int,
    hard: str | None,
    rng: np.random.Generator,
) -> _Product:
    """Scale a cut-out to ``height`` px, add the hard case's parts, and make its alpha."""
    h0, w0 = cut.mask.shape
    scale = height / h0
    th, tw = max(2, int(round(h0 * scale))), max(2, int(round(w0 * scale)))
    # Room around the product for cords and handles.
    pad = int(0.35 * max(th, tw)) if hard in ("thin", "holes") else 2
    H, W = th + 2 * pad, tw + 2 * pad
    # The mask at twice the output size, thresholded: a smooth outline to anti-alias.
    fine = np.zeros((2 * H, 2 * W), bool)
    big = _resize(cut.mask.astype(np.float32), (2 * th, 2 * tw), Image.BILINEAR) >= 0.5
    fine[2 * pad : 2 * pad + 2 * th, 2 * pad : 2 * pad + 2 * tw] = big
    rgb = np.zeros((H, W, 3), np.float32)
    rgb[pad : pad + th, pad : pad + tw] = _resize(cut.rgb.astype(np.float32) / 255, (th, tw), Image.BICUBIC)
    inside = fine.reshape(H, 2, W, 2).mean(axis=(1, 3)) > 0
    if not inside.any():
        inside[pad : pad + th, pad : pad + tw] = True
    mean_colour = rgb[inside].mean(axis=0)

    if hard == "light_on_light":
        rgb = _recolour(rgb, rng.uniform(0.80, 0.95), rng.uniform(0.3, 0.5), rng.uniform(0.1, 0.4))
    elif hard == "dark_on_dark":
        rgb = _recolour(rgb, rng.uniform(0.08, 0.18), rng.uniform(0.3, 0.5), rng.uniform(0.2, 0.6))
    elif hard == "prints":
        _add_prints(rgb, inside, rng)
    elif hard == "knit":
        rgb = _recolour(rgb, rng.uniform(0.3, 0.75), rng.uniform(0.3, 0.6), rng.uniform(0.0, 0.7))
        _add_stitches(rgb, th, rng)
    extra = np.zeros_like(fine)
    if hard == "thin":
        _add_cords(extra, fine, rng)
    elif hard == "holes":
        _add_handle(extra, fine, rng)
    if extra.any():
        cover = extra.reshape(H, 2, W, 2).mean(axis=(1, 3))[..., None]
        colour = np.clip(mean_colour * rng.uniform(0.5, 0.8), 0, 1)
        rgb = rgb * (1 - cover) + colour * cover
        fine |= extra
    alpha = fine.reshape(H, 2, W, 2).mean(axis=(1, 3)).astype(np.float32)
    if hard == "knit":
        np.maximum(alpha, _fibres(fine, rng), out=alpha)
    alpha = ndi.gaussian_filter(alpha, rng.uniform(0.35, 0.8))
    # Outside the product, repeat its nearest colour so blending never mixes in black.
    _, (iy, ix) = ndi.distance_transform_edt(alpha < 0.02, return_indices=True)
    rgb = rgb[iy, ix]
    return _Product(0, 0, rgb, alpha, cut.kind)


def _add_prints(rgb: np.ndarray, inside: np.ndarray, rng: np.random.Generator) -> None:
    """Paint 2-5 logos and stripes of a contrasting colour inside the product (in place)."""
    core = ndi.binary_erosion(inside, iterations=max(2, inside.shape[0] // 25))
    ys, xs = np.nonzero(core)
    if ys.size == 0:
        return
    h = inside.shape[0]
    for _ in range(rng.integers(2, 6)):
        k = rng.integers(ys.size)
        cy, cx = ys[k], xs[k]
        colour = np.clip(1 - rgb[cy, cx] + rng.uniform(-0.1, 0.1, 3), 0, 1).astype(np.float32)
        sy, sx = int(rng.uniform(0.04, 0.12) * h), int(rng.uniform(0.04, 0.2) * h)
        yy, xx = np.ogrid[: rgb.shape[0], : rgb.shape[1]]
        if rng.random() < 0.5:
            shape = (np.abs(yy - cy) < sy) & (np.abs(xx - cx) < sx)
            if rng.random() < 0.5:  # stripes
                shape &= (yy // max(2, sy // 3)) % 2 == 0
        else:
            shape = ((yy - cy) / max(sy, 1)) ** 2 + ((xx - cx) / max(sx, 1)) ** 2 <= 1
        shape &= core
        rgb[shape] = colour


def _add_stitches(rgb: np.ndarray, height: int, rng: np.random.Generator) -> None:
    """A knit's stitches: rows of loops a few pixels apart, and the yarn's own grain (in place)."""
    h, w = rgb.shape[:2]
    period = max(2.5, rng.uniform(0.004, 0.008) * height)  # about 3-5 mm on a sweater
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    phase = rng.uniform(0, 2 * np.pi, 2)
    loops = np.sin(2 * np.pi * xx / period + phase[0]) * np.sin(2 * np.pi * yy / (0.8 * period) + phase[1])
    grain = ndi.gaussian_filter(rng.standard_normal((h, w)).astype(np.float32), 0.7)
    rgb *= (1 + rng.uniform(0.08, 0.16) * (0.6 * loops + 0.8 * grain))[..., None]
    np.clip(rgb, 0, 1, out=rgb)


def _fibres(fine: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Loose fibres standing out of the outline of ``fine`` (the 2x grid), as cover at output scale.

    A fibre is half an output pixel wide and 1.5-6 px long, so alone it covers a
    pixel by half at most and stays out of the true mask (alpha < 0.5) once blurred
    (where fibres cross, a pixel or two may pass one half).
    """
    outline = fine & ~ndi.binary_erosion(fine)
    ys, xs = np.nonzero(outline)
    cover = np.zeros(fine.shape, np.float32)
    if ys.size:
        gy, gx = np.gradient(ndi.gaussian_filter(fine.astype(np.float32), 3))
        pick = rng.choice(ys.size, size=ys.size // 5, replace=False)
        ys, xs = ys[pick], xs[pick]
        angle = np.arctan2(-gy[ys, xs], -gx[ys, xs]) + rng.uniform(-0.9, 0.9, ys.size)
        length = rng.uniform(3, 12, ys.size)  # 1.5-6 output px
        steps = np.arange(-2, 12, 0.7, dtype=np.float32)
        inside = steps[None, :] <= length[:, None]
        py = np.rint(ys[:, None] + steps[None, :] * np.sin(angle)[:, None]).astype(int)[inside]
        px = np.rint(xs[:, None] + steps[None, :] * np.cos(angle)[:, None]).astype(int)[inside]
        keep = (py >= 0) & (py < fine.shape[0]) & (px >= 0) & (px < fine.shape[1])
        cover[py[keep], px[keep]] = 1
    return cover.reshape(fine.shape[0] // 2, 2, fine.shape[1] // 2, 2).mean(axis=(1, 3))


def _add_cords(extra: np.ndarray, fine: np.ndarray, rng: np.random.Generator) -> None:
    """1-3 cords hanging from the product's lower outline, one with a tag (on the 2x grid)."""
    ys, xs = np.nonzero(fine)
    y_top, y_bot = ys.min(), ys.max()
    size = y_bot - y_top
    low = ys > y_top + 0.6 * size
    for i in range(rng.integers(1, 4)):
        k = rng.choice(np.flatnonzero(low))
        start = np.array([ys[k], xs[k]], float)
        length = rng.uniform(0.12, 0.3) * size
        direction = np.array([1.0, rng.uniform(-0.8, 0.8)])
        direction /= np.linalg.norm(direction)
        bend = rng.uniform(-0.25, 0.25) * length
        t = np.linspace(0, 1, 12)[:, None]
        normal = np.array([-direction[1], direction[0]])
        points = start + t * length * direction + np.sin(np.pi * t) * bend * normal
        radius = rng.uniform(3.0, 7.0)  # on the 2x grid: 3-7 px wide at output scale
        _thick_curve(extra, points, radius)
        if i == 0:
            ty, tx = points[-1].astype(int)
            th, tw = int(0.05 * size), int(0.035 * size)
            extra[max(ty, 0) : ty + th, max(tx - tw // 2, 0) : tx + tw // 2] = True
    extra &= ~fine


def _add_handle(extra: np.ndarray, fine: np.ndarray, rng: np.random.Generator) -> None:
    """A handle above the product: a ring whose hole shows the backdrop (on the 2x grid)."""
    ys, xs = np.nonzero(fine)
    y_top = ys.min()
    top_row = xs[ys < y_top + 6]
    cx = float(np.median(top_row))
    width = xs.max() - xs.min()
    outer = rng.uniform(0.15, 0.25) * width
    thick = rng.uniform(0.04, 0.08) * width
    cy = y_top + 0.2 * outer
    yy, xx = np.ogrid[: fine.shape[0], : fine.shape[1]]
    r2 = ((yy - cy) / 1.1) ** 2 + (xx - cx) ** 2
    ring = (r2 <= outer**2) & (r2 >= (outer - thick) ** 2)
    extra |= ring & ~fine


# --------------------------------------------------------------------------- #
# Layouts


def _pick(cutouts: Sequence[Cutout], kinds: Sequence[str], rng: np.random.Generator) -> Cutout:
    pool = [c for c in cutouts if c.kind in kinds]
    if not pool:
        raise ValueError(f"no cut-out of kind {', '.join(kinds)} among {len(cutouts)}")
    return pool[rng.integers(len(pool))]


def _fit_height(cut: Cutout, box_h: float, box_w: float) -> int:
    h, w = cut.mask.shape
    return int(max(8, min(box_h, box_w * h / w)))


def _place(
    cutouts: Sequence[Cutout],
    frame: tuple[int, int],
    layout: str,
    hard: str | None,
    rng: np.random.Generator,
) -> list[_Product]:
    H, W = frame
    if layout in ("single", "cut"):
        cut = _pick(cutouts, _GARMENTS, rng)
        frac = rng.uniform(0.55, 0.85)
        p = _prepare(cut, _fit_height(cut, frac * H, 0.85 * W), hard, rng)
        ph, pw = p.alpha.shape
        p.top = int((H - ph) / 2 + rng.uniform(-0.04, 0.04) * H)
        p.left = int((W - pw) / 2 + rng.uniform(-0.04, 0.04) * W)
        if layout == "cut":
            side = rng.integers(4)
            share = rng.uniform(0.08, 0.25)
            if side == 0:
                p.top = -int(share * ph)
            elif side == 1:
                p.top = H - int((1 - share) * ph)
            elif side == 2:
                p.left = -int(share * pw)
            else:
                p.left = W - int((1 - share) * pw)
        return [p]
    if layout == "person":
        cut = _pick(cutouts, ("person",), rng)
        p = _prepare(cut, _fit_height(cut, rng.uniform(0.75, 0.9) * H, 0.9 * W), hard, rng)
        ph, pw = p.alpha.shape
        p.top = int(H * rng.uniform(0.93, 0.97)) - ph
        p.left = int((W - pw) / 2 + rng.uniform(-0.1, 0.1) * W)
        return [p]
    if layout == "set":
        n = int(rng.integers(2, 7))
        cols = int(np.ceil(np.sqrt(n * W / H)))
        rows = int(np.ceil(n / cols))
        ch, cw = H / rows, W / cols
        cells = rng.permutation(rows * cols)[:n]
        products = []
        for cell in cells:
            r, c = divmod(int(cell), cols)
            cut = _pick(cutouts, _SET_KINDS, rng)
            p = _prepare(cut, _fit_height(cut, rng.uniform(0.55, 0.72) * ch, 0.72 * cw), hard, rng)
            ph, pw = p.alpha.shape
            p.top = int(r * ch + (ch - ph) / 2 + rng.uniform(-0.08, 0.08) * (ch - ph))
            p.left = int(c * cw + (cw - pw) / 2 + rng.uniform(-0.08, 0.08) * (cw - pw))
            products.append(p)
        return products
    if layout == "touching":
        n = int(rng.integers(2, 4))
        products = []
        for _ in range(n):
            cut = _pick(cutouts, _GARMENTS, rng)
            products.append(_prepare(cut, _fit_height(cut, rng.uniform(0.5, 0.7) * H, 0.8 * W / n), hard, rng))
        total = sum(p.alpha.shape[1] for p in products)
        x = (W - total) / 2
        for p in products:
            ph, pw = p.alpha.shape
            p.top = int((H - ph) / 2 + rng.uniform(-0.05, 0.05) * H)
            p.left = int(x)
            x += pw
        for a, b in zip(products, products[1:]):
            _slide_until_touching(a, b, rng)
        return products
    raise ValueError(f"unknown layout {layout!r}; choose one of {', '.join(LAYOUTS)}")


def _slide_until_touching(a: _Product, b: _Product, rng: np.random.Generator) -> None:
    """Move ``b`` (right of ``a``) left until it touches ``a``, then a little into it."""
    am, bm = a.alpha >= 0.5, b.alpha >= 0.5
    overlap_px = int(rng.uniform(0.0, 0.04) * min(am.shape[1], bm.shape[1]))

    def touching(shift: int) -> bool:
        top = min(a.top, b.top)
        bottom = max(a.top + am.shape[0], b.top + bm.shape[0])
        left = a.left
        right = max(a.left + am.shape[1], b.left - shift + bm.shape[1])
        canvas = np.zeros((bottom - top, right - left), np.uint8)
        canvas[a.top - top : a.top - top + am.shape[0], : am.shape[1]] += am
        y0, x0 = b.top - top, b.left - shift - left
        if x0 < 0:
            return True
        canvas[y0 : y0 + bm.shape[0], x0 : x0 + bm.shape[1]] += bm
        return bool((canvas > 1).any())

    lo, hi = 0, b.left - a.left
    while hi - lo > 1:  # the smallest shift that makes them meet
        mid = (lo + hi) // 2
        if touching(mid):
            hi = mid
        else:
            lo = mid
    b.left -= hi + overlap_px


# --------------------------------------------------------------------------- #
# Rendering


def _paste_window(p: _Product, frame: tuple[int, int]):
    H, W = frame
    ph, pw = p.alpha.shape
    y0, x0 = max(p.top, 0), max(p.left, 0)
    y1, x1 = min(p.top + ph, H), min(p.left + pw, W)
    if y1 <= y0 or x1 <= x0:
        return None
    return (slice(y0, y1), slice(x0, x1)), (slice(y0 - p.top, y1 - p.top), slice(x0 - p.left, x1 - p.left))


def render(
    cutouts: Sequence[Cutout],
    seed: int,
    *,
    layout: str = "single",
    hard: str | None = None,
    size: int = 2400,
    orientation: str | None = None,
    backdrop: str | None = None,
    lighting: str | None = None,
    jpeg: bool = True,
) -> StudioPhoto:
    """One studio photo of products drawn from ``cutouts``.

    Parameters
    ----------
    cutouts : sequence of Cutout
        Products and people to choose from (:func:`ccp_cutouts`).
    seed : int
        Everything random follows from it.
    layout : str, optional
        One of :data:`LAYOUTS`. Default "single".
    hard : str or None, optional
        One of :data:`HARD_CASES`. Default None. ``light_on_light`` picks a
        white or light grey backdrop and ``dark_on_dark`` a black one.
    size : int, optional
        Long side of the photo, in pixels; the short side is two thirds of it.
        Default 2400.
    orientation : {"portrait", "landscape"} or None, optional
        Default: portrait for one product or a person, landscape for sets and
        touching products, in four photos of five.
    backdrop, lighting : str or None, optional
        One of :data:`BACKDROPS` and :data:`LIGHTING`; default drawn at random
        (white most often, as in real shoots).
    jpeg : bool, optional
        Compress at a JPEG quality of 85-95 and decode again. Default True.

    Returns
    -------
    StudioPhoto
    """
    if hard is not None and hard not in HARD_CASES:
        raise ValueError(f"unknown hard case {hard!r}; choose one of {', '.join(HARD_CASES)}")
    rng = np.random.default_rng(seed)
    if hard == "light_on_light":
        backdrop = backdrop or str(rng.choice(["white", "light_grey"]))
    elif hard == "dark_on_dark":
        backdrop = backdrop or "black"
    backdrop = backdrop or str(rng.choice(BACKDROPS, p=[0.4, 0.25, 0.12, 0.1, 0.13]))
    lighting = lighting or str(rng.choice(LIGHTING))
    if lighting == "flat" and layout == "person":
        lighting = "floor"
    if orientation is None:
        wide = layout in ("set", "touching")
        orientation = "landscape" if (rng.random() < 0.8) == wide else "portrait"
    short = int(round(size * 2 / 3))
    frame = (short, size) if orientation == "landscape" else (size, short)
    H, W = frame

    products = _place(cutouts, frame, layout, hard, rng)
    base = _backdrop_colour(backdrop, rng) * (1 + rng.uniform(-0.015, 0.015, 3)).astype(np.float32)
    light = _light(frame, lighting, rng)
    photo = light[..., None] * base

    union = np.zeros(frame, np.float32)
    for p in products:
        win = _paste_window(p, frame)
        if win is not None:
            np.maximum(union[win[0]], p.alpha[win[1]], out=union[win[0]])
    diag = float(np.hypot(H, W))
    shadow = _soft(union, 0.004 * diag) * rng.uniform(0.15, 0.35)
    dy, dx = (rng.uniform(0.004, 0.015, 2) * diag * rng.choice([-1, 1], 2)).astype(int)
    dy = abs(dy) if layout == "person" else dy
    spread, strength = 0.012, rng.uniform(0.1, 0.3)
    if hard == "hard_shadow":
        # A small or bare light: the drop shadow is crisp and dark.
        spread, strength = rng.uniform(0.003, 0.006), rng.uniform(0.3, 0.5)
        dy, dx = (np.sign([dy, dx]) * np.maximum(np.abs([dy, dx]), 0.008 * diag)).astype(int)
    shadow += _soft(np.roll(union, (dy, dx), axis=(0, 1)), spread * diag) * strength
    photo *= (1 - np.clip(shadow, 0, 0.6))[..., None]
    # Light bounced off the products tints the backdrop near them.
    spill = _soft(union, 0.01 * diag)[..., None] * rng.uniform(0.02, 0.06)
    colours = [p.rgb[p.alpha > 0.5].mean(axis=0) for p in products if (p.alpha > 0.5).any()]
    if colours:
        photo += spill * (np.mean(colours, axis=0) - photo)

    truth = np.zeros(frame, np.int32)
    matte = np.zeros(frame + (1,), np.float32)
    premultiplied = np.zeros(frame + (3,), np.float32)
    lit = np.clip(light, 0.85, 1.05)[..., None]
    for k, p in enumerate(products, start=1):
        win = _paste_window(p, frame)
        if win is None:
            continue
        out, src = win
        a = p.alpha[src][..., None]
        colour = p.rgb[src] * lit[out]
        photo[out] = photo[out] * (1 - a) + colour * a
        matte[out] = matte[out] * (1 - a) + a
        premultiplied[out] = premultiplied[out] * (1 - a) + colour * a
        truth[out][p.alpha[src] >= 0.5] = k
    photo = ndi.gaussian_filter(photo, (0.5, 0.5, 0))
    matte = ndi.gaussian_filter(matte[..., 0], 0.5)
    premultiplied = ndi.gaussian_filter(premultiplied, (0.5, 0.5, 0))
    noise = rng.standard_normal(frame, dtype=np.float32)[..., None] * rng.uniform(0.5, 2.0) / 255
    photo += noise * (0.5 + np.sqrt(np.clip(photo, 0, 1)))
    image = (np.clip(photo, 0, 1) * 255 + 0.5).astype(np.uint8)
    if jpeg:
        buffer = _bytes_io.BytesIO()
        Image.fromarray(image).save(buffer, "JPEG", quality=int(rng.integers(85, 96)))
        image = np.asarray(Image.open(buffer).convert("RGB"))
    # Renumber: a product pushed out of the frame or hidden has no id.
    present = [k for k in range(1, len(products) + 1) if (truth == k).any()]
    relabel = np.zeros(len(products) + 1, np.int32)
    relabel[present] = np.arange(1, len(present) + 1)
    truth = relabel[truth]
    kinds = tuple(products[k - 1].kind for k in present)
    name = f"{layout}-{hard or 'plain'}-{backdrop}-{lighting}-{seed}"
    return StudioPhoto(image, truth, kinds, layout, hard, backdrop, lighting, name, matte, premultiplied)


def _soft(mask: np.ndarray, sigma: float) -> np.ndarray:
    """A wide Gaussian blur, computed at reduced scale."""
    from ..softmask import blur_mask

    return blur_mask(mask, max(sigma, 0.5))


def studio_photos(
    cutouts: Sequence[Cutout],
    seed: int,
    count: int,
    *,
    layouts: Sequence[str] = LAYOUTS,
    hard: Sequence[str | None] = (None,),
    size: int = 2400,
) -> Iterator[StudioPhoto]:
    """``count`` photos cycling through ``layouts`` and ``hard`` cases, seeds ``seed``, ``seed + 1``, ...

    Examples
    --------
    >>> for photo in studio_photos(cutouts, 1000, 10, size=1200):   # doctest: +SKIP
    ...     print(photo.name, photo.truth.max())
    """
    combos = [(layout, h) for h in hard for layout in layouts]
    for i in range(count):
        layout, h = combos[i % len(combos)]
        yield render(cutouts, seed + i, layout=layout, hard=h, size=size)
