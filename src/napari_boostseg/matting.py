"""Soft edges: an anti-aliased alpha and clean rim colours along a hard outline.

A refined label image says, for each pixel, which object it belongs to; a
photo's real outline falls between pixels, so a cut-out whose alpha is the
hard mask shows stair-steps, and its rim pixels keep a share of the backdrop
(a light halo when a product shot on white is laid on a dark page).

:func:`edge_matte` estimates both near the outline only, in a band of
``width`` pixels either side of it:

* **alpha**: each band pixel's colour is taken as a mix of the object's local
  colour ``F`` (the mean of the sure object pixels nearby) and the
  background's ``B`` (the sure background nearby); alpha is where the pixel
  lies on the line from ``B`` to ``F``. Where ``F`` and ``B`` are too close
  to tell apart (white on white), the pixels of either side vary too much for
  a mix of two colours to show (a busy print or backdrop), or one side has no
  sure pixels nearby (a strap thinner than the band), the hard outline is
  only anti-aliased (blurred by about half a pixel).
* **colour**: the background's share is taken out of each rim pixel,
  ``(I - (1 - alpha) B) / alpha``; where alpha is small, that is too noisy and
  the object's local colour ``F`` is used.

Away from the outline, alpha is the hard mask's 0 or 1 and colours are the
photo's. Only the band's pixels are computed (in float32); the whole frame is
read once, to find the outline.

Examples
--------
>>> import numpy as np
>>> image = np.full((40, 40, 3), 250, np.uint8)
>>> image[10:30, 10:30] = 40
>>> image[10:30, 30] = 145            # a pixel column half product, half backdrop
>>> mask = np.zeros((40, 40), bool)
>>> mask[10:30, 10:31] = True
>>> alpha, rgb = edge_matte(image, mask)
>>> round(float(alpha[20, 30]), 2), int(rgb[20, 30, 0])
(0.5, 40)
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

__all__ = ["EDGE_WIDTH", "edge_matte"]

#: Pixels either side of the hard outline whose alpha is estimated.
EDGE_WIDTH = 2

# |F - B| (share of full scale) below which colour says nothing about alpha,
# and above which it is trusted fully; in between the two estimates are mixed.
_LOW_CONTRAST = 0.06
_HIGH_CONTRAST = 0.15
# The same for |F - B| over the spread of the sure pixels' colours about F and
# B (texture or noise): a pixel of a busy pattern is no mix of two colours.
_LOW_CLARITY = 2.0
_HIGH_CLARITY = 4.0
# Blur (pixels) that anti-aliases the hard outline where colour cannot be used.
_SHAPE_SIGMA = 0.6


def edge_matte(
    image: ArrayLike, mask: ArrayLike, *, width: int = EDGE_WIDTH, others: ArrayLike | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Soft alpha and background-free colours along the outline of a mask.

    Parameters
    ----------
    image : (H, W, 3) array_like of uint8 or uint16
        The photo (or the part of it around the object).
    mask : (H, W) array_like of bool
        The object's hard mask, e.g. one id of a refined label image.
    width : int, optional
        Pixels either side of the outline whose alpha and colour are
        re-estimated. Default :data:`EDGE_WIDTH` (2). 0 returns the hard mask.
    others : (H, W) array_like of bool, optional
        Pixels of other objects (the rest of a label image). Where the
        outline runs within ``width`` pixels of one of them, the edge stays
        hard, so the cut-outs of touching products laid back together leave
        no see-through seam; other objects are never taken for backdrop.

    Returns
    -------
    alpha : (H, W) ndarray of float32
        0 to 1; equal to ``mask`` more than ``width`` pixels from its outline.
    rgb : (H, W, 3) ndarray
        Same sample type as ``image``: the photo, with the rim's colours freed
        of the background's share. Only pixels with ``alpha > 0`` are
        meaningful.

    Examples
    --------
    See the module's docstring.
    """
    image = np.asarray(image)
    mask = np.asarray(mask)
    if image.ndim != 3 or image.shape[2] != 3:
        raise ValueError(f"expected an (H, W, 3) colour image, got shape {image.shape}")
    if image.dtype not in (np.uint8, np.uint16):
        raise ValueError(f"expected uint8 or uint16 samples, got {image.dtype}")
    if mask.shape != image.shape[:2]:
        raise ValueError(f"mask {mask.shape} and image {image.shape[:2]} differ in size")
    if width < 0:
        raise ValueError(f"width must be >= 0 pixels, got {width}")
    mask = mask.astype(bool, copy=False)
    if others is not None:
        others = np.asarray(others, dtype=bool)
        if others.shape != mask.shape:
            raise ValueError(f"others {others.shape} and mask {mask.shape} differ in size")
    alpha = mask.astype(np.float32)
    rgb = image.copy()
    rows, cols, soft, clean = _rim(image, mask, width, others)
    alpha[rows, cols] = soft
    rgb[rows, cols] = clean
    return alpha, rgb


def _rim(
    image: np.ndarray, mask: np.ndarray, width: int = EDGE_WIDTH, others: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The pixels whose alpha and colour :func:`edge_matte` changes, and their new values.

    Arguments as :func:`edge_matte`, already checked; ``mask`` and ``others``
    are boolean.
    Returns ``rows, cols, alpha, rgb``: the band's pixels, their alpha
    (float32, 0 to 1) and their colours (``image``'s sample type). Touches
    the whole frame only to find the outline, so callers that hold their own
    arrays (:func:`napari_boostseg.cutouts.cutout`) pay for the band alone.
    """
    nothing = (np.zeros(0, np.intp), np.zeros(0, np.intp), np.zeros(0, np.float32),
               np.zeros((0, 3), image.dtype))
    if width == 0 or not mask.any() or mask.all():
        return nothing

    # Everything below works on the band's pixels only (a few per cent of a
    # product's), through flat indices into the mask padded by the reach of the
    # local means.
    h = width + 1
    H, W = mask.shape
    m = np.pad(mask, h, mode="edge")  # the frame's edge is no outline
    Wp = W + 2 * h
    outline = np.zeros_like(m)
    across = m[1:] != m[:-1]
    outline[1:] |= across
    outline[:-1] |= across
    along = m[:, 1:] != m[:, :-1]
    outline[:, 1:] |= along
    outline[:, :-1] |= along
    core = np.zeros_like(m)
    core[h:-h, h:-h] = True
    seeds = np.flatnonzero(outline & core)
    if seeds.size == 0:
        return nothing
    # The band: within ``width - 1`` steps (4-connected) of a pixel on either side of the outline.
    ring = [(dy, dx) for dy in range(-h, h + 1) for dx in range(-h, h + 1)]
    near = [(dy, dx) for dy, dx in ring if abs(dy) + abs(dx) <= width - 1]
    band_flat = np.unique(np.concatenate([seeds + dy * Wp + dx for dy, dx in near]))
    in_band = np.zeros(m.size, bool)
    in_band[band_flat] = True
    rows, cols = np.divmod(band_flat, Wp)
    keep = (rows >= h) & (rows < H + h) & (cols >= h) & (cols < W + h)
    band_flat, rows, cols = band_flat[keep], rows[keep] - h, cols[keep] - h

    top = float(np.iinfo(image.dtype).max)
    flat_m = m.ravel()
    flat_o = (np.pad(others, h, mode="edge") if others is not None else np.zeros_like(m)).ravel()
    pixels = image.reshape(-1, 3)
    n = band_flat.size
    sum_f = np.zeros((n, 3), np.float32)
    sum_b = np.zeros((n, 3), np.float32)
    square_f = np.zeros(n, np.float32)
    square_b = np.zeros(n, np.float32)
    count_f = np.zeros(n, np.float32)
    count_b = np.zeros(n, np.float32)
    # The photo is read at clipped coordinates (as if padded by its edge).
    row_at = {dy: np.clip(rows + dy, 0, H - 1) * W for dy in range(-h, h + 1)}
    col_at = {dx: np.clip(cols + dx, 0, W - 1) for dx in range(-h, h + 1)}
    # The local means sample every other pixel of the (2h + 1)^2 square (a
    # checkerboard): as good a mean at half the work.
    for dy, dx in ring:
        if (dy + dx) % 2:
            continue
        idx = band_flat + dy * Wp + dx
        colour = np.take(pixels, row_at[dy] + col_at[dx], axis=0).astype(np.float32) / top
        power = np.einsum("ij,ij->i", colour, colour)
        inside = flat_m[idx]
        sure = ~in_band[idx]
        f = (inside & sure).astype(np.float32)
        b = (~inside & sure & ~flat_o[idx]).astype(np.float32)
        sum_f += colour * f[:, None]
        sum_b += colour * b[:, None]
        square_f += power * f
        square_b += power * b
        count_f += f
        count_b += b
    # The hard outline, anti-aliased over the 3x3 pixels around each (so it
    # reaches one pixel beyond the outline, no further).
    shape_sum = np.zeros(n, np.float32)
    shape_weight = 0.0
    for dy, dx in ring:
        if max(abs(dy), abs(dx)) > 1:
            continue
        g = float(np.exp(-(dy * dy + dx * dx) / (2 * _SHAPE_SIGMA**2)))
        shape_sum += g * flat_m[band_flat + dy * Wp + dx]
        shape_weight += g
    colour = image[rows, cols].astype(np.float32) / top
    has_f, has_b = count_f > 0, count_b > 0
    F = sum_f / np.maximum(count_f, 1)[:, None]
    B = sum_b / np.maximum(count_b, 1)[:, None]
    d = F - B
    contrast = np.sqrt((d * d).sum(axis=1))
    # Texture: how far the sure pixels of each side stray from their mean.
    spread_f = np.sqrt(np.maximum(square_f / np.maximum(count_f, 1) - (F * F).sum(axis=1), 0))
    spread_b = np.sqrt(np.maximum(square_b / np.maximum(count_b, 1) - (B * B).sum(axis=1), 0))
    clarity = contrast / (spread_f + spread_b + 1e-3)
    a_colour = np.clip(((colour - B) * d).sum(axis=1) / np.maximum(contrast, 1e-6) ** 2, 0, 1)
    # The anti-aliased outline: the only evidence where colour gives none.
    a_shape = shape_sum / shape_weight
    trust = np.minimum(
        np.clip((contrast - _LOW_CONTRAST) / (_HIGH_CONTRAST - _LOW_CONTRAST), 0, 1),
        np.clip((clarity - _LOW_CLARITY) / (_HIGH_CLARITY - _LOW_CLARITY), 0, 1),
    )
    trust[~(has_f & has_b)] = 0
    a = trust * a_colour + (1 - trust) * a_shape

    # Colours: the background's share taken out, the local object colour where alpha is small.
    unmixed = np.clip((colour - (1 - a)[:, None] * B) / np.maximum(a, 1e-3)[:, None], 0, 1)
    mix = (np.clip((a - 0.2) / 0.5, 0, 1) * trust)[:, None]
    clean = mix * unmixed + (1 - mix) * np.where(trust[:, None] > 0, F, colour)

    # Beside another object the outline is a seam, not an edge on the backdrop: kept hard.
    if others is not None:
        seam = np.zeros(n, bool)
        for dy, dx in ring:
            if max(abs(dy), abs(dx)) <= width:
                seam |= flat_o[band_flat + dy * Wp + dx]
        a = np.where(seam, flat_m[band_flat], a)
        clean = np.where(seam[:, None], colour, clean)
    return rows, cols, a.astype(np.float32), np.round(clean * top).astype(image.dtype)
