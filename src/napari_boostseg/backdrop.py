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
   backdrop's own noise (estimated robustly from the fit). In a photo under
   about 2100 px each working pixel averages fewer photo pixels, so more
   noise: what departs is then measured on a copy blurred down to the noise
   of a larger photo's. Broad regions of fine texture depart too: a white
   knit on white paper matches the paper's brightness, not its smoothness.
3. **Shadows.** A contact or drop shadow darkens the backdrop without
   changing its colour and fades out softly. Pixels that only darken are left
   undecided; sure product seeds are pixels that change colour, brighten,
   darken beyond any shadow, or lie deep inside a departing region,
   regions outlined by a sharp edge, and the bands of striped fabric (white
   stripes look like the paper, but paper does not repeat); a region only
   brighter than the fitted backdrop, at the level of the paper around it, is
   the paper between a product's parts and seeds nothing. A watershed on
   the reduced photo's gradient, seeded by sure product and sure backdrop
   (the paper reached from the frame's border through passages wider than a
   gap in a product's outline), then gives the soft shadows to the backdrop:
   a product's outline is a sharp edge, a shadow's is not. A crisp dark drop
   shadow has a steep rim too; where the flood took one in through a weak
   stretch of the product's edge, a band of it that darkens steadily towards
   the product and meets the paper in a ramp goes back to the backdrop, and
   the flood runs again. A light product on
   paper of its colour departs only along its rim; the inside that rim
   encloses once its openings (a neckline) are sealed is seeded as product,
   not taken for paper, also when the product is so narrow that the seal
   fills its whole inside.
4. **Products.** Bands of light fabric a few working pixels wide (white
   stripes) are bridged, so a striped garment stays whole. Each
   separate region is one product; specks smaller than ``min_area`` of the
   frame (dust, crumbs) are dropped, pinholes are filled, real holes (a bag's
   handle) stay open: enclosed paper-like regions whose rim the product's
   contact shadow darkens (a print's light patch, as bright at its rim as in
   its middle, stays product), and paper in the product's shadow that
   lightens towards its middle (a gap between a person's legs). A small
   region close beside a far larger one (a collar cut off by a white
   neckline) is a piece of it and takes its id.

The result is a coarse mask at the reduced scale, upsampled to the photo:
:func:`napari_boostseg.refine` then snaps it to the photo's edges at full
resolution. Touching products come out as one region; with ``split=True``
those that differ in colour and meet between two notches of the outline are
split into one region each (:mod:`napari_boostseg.split`). The split is off by
default: on the studio benchmark's photos it also cut a bag with a handle, a
person and a product cut by the frame in two, and most studio photos show one
product.

When the photo has no plain backdrop (a street or lifestyle photo: the frame's
border does not follow a smooth surface, the background varies more than
paper does, too little of the frame is backdrop, or what stands out covers
much of the frame's border along more than one side), the result says so
(``plain`` False, with a ``reason``) instead of labelling the scene.

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

import numba
import numpy as np
from numpy.typing import ArrayLike
from scipy import ndimage as ndi

from . import _text
from .flood import flood
from .inputs import check_image, intensity_scale
from .resample import block_mean

__all__ = ["BackdropResult", "backdrop_labels", "WORKING_SIZE"]

#: Long side, in pixels, of the reduced copy the backdrop is modelled on.
WORKING_SIZE = 600

_DEGREE = 4
#: Narrowest passage, in working pixels (about 4 photo pixels each at
#: 2400 px), through which backdrop-coloured pixels still count as the
#: backdrop around the products. A gap in the outline of a dark product on
#: black lets the backdrop flood its inside; 9 was chosen on the studio
#: benchmark's training photos (dark on dark 0.861 -> 0.931 refined IoU, 88 %
#: -> 100 % found; 3, 5, 7 and 9 tried).
_PASSAGE = 9
#: Depth, as a share of the frame's short side, beyond which a departing
#: pixel is farther from the paper than any shadow is wide.
_DEEP = 0.08
#: Half-width, as a share of the short side, beyond which a shadow-like part
#: of a product deep inside it is seeded though the product has seeds of its
#: own. 0.04 was chosen on the studio benchmark's training photos (0.02, 0.03,
#: 0.04 and 0.06 tried; sets 0.950 -> 0.965 refined IoU, cut 0.959 -> 0.979,
#: no photo lower; 0.02 and 0.03 seeded the shadowed gap between a person's legs).
_BROAD = 0.04
#: Fine texture (see ``_textured``) this many times the paper's own, and at
#: least ``_TEXTURE_FLOOR``, in regions ``_TEXTURE_SIZE`` working pixels
#: across, is product: a white knit on white paper matches the paper's
#: brightness but not its smoothness. Chosen on the studio benchmark's
#: training photos (2, 3 and 5 times; 5, 7 and 9 pixels; floors 0.3, 0.5 and
#: 1 level tried): people 0.918 -> 0.953 refined IoU, sets 0.965 -> 0.979,
#: single products 0.973 -> 0.978.
_TEXTURE = 3.0
_TEXTURE_FLOOR = 1 / 255
_TEXTURE_SIZE = 9
#: Share of a region's rim on a sharp edge above which it is outlined like a
#: product, not faded like a shadow.
_OUTLINED = 0.6
#: Widest band, in working pixels, given to the backdrop inside a product
#: that is bridged (a closing by a square of this side). 5 was chosen
#: on the studio benchmark's training photos (3, 5 and 7 tried; single
#: products 0.966 -> 0.973 refined IoU, 15 -> 13 objects for 12 products).
_BRIDGE = 5
#: Widest opening, in working pixels, of a light product's rim that is
#: sealed to find its inside (a closing by a square of this side). 31 was
#: chosen on the studio benchmark's training photos (light on light 75 % ->
#: 100 % found, 0.698 -> 0.923 refined IoU; no other photo changed).
_SEAL = 31
#: Share of the area a sealed rim and its enclosure fill that an enclosed
#: region must reach to be the product's inside (below it, a hole).
_INSIDE = 0.35
#: The same for a narrow product's inside, which the closing by ``_SEAL``
#: fills whole and which is measured by its paper-like pixels: its rim (the
#: product's shading, a halo of shadow) is as wide as a broad product's and
#: weighs more. On the studio benchmark's training photos such regions filled
#: 0.14 and 0.20 of their shape where they were paper (inside a cord's loop),
#: 0.13, 0.16 and 0.26 where they were a product's inside; 0.25 was chosen.
_NARROW_INSIDE = 0.25
#: Largest share of such a region's rim that may face the paper outside the
#: sealed shape: a product's inside is ringed by the product (0 on every
#: training photo), the paper the closing takes in among scattered specks or a
#: cord's loop is not (0.05 and 0.43 on training photos).
_NARROW_OPEN = 0.025
#: Smallest share of the frame that a grey region lying in a shadow with no
#: paper beside it, outlined all round by a sharp edge, must cover to be a
#: product (a grey scarf in its own soft shadow; 1.9 % of the frame in the
#: development photo that showed it). On the studio benchmark's training
#: photos the only smaller one, 0.14 %, was the shadowed paper between a pair
#: of trousers' legs.
_ENCLOSED = 0.004
#: A hole that the product's own shadow darkens (the gap between a sleeve and
#: the body, a handle's hole, a hood's opening) is less than half paper-like,
#: yet it is paper: darkest along its rim, where the contact and drop shadows
#: lie, lighter towards its middle, and no darker than a soft shadow. An
#: enclosed region that fails the paper-like test is still a hole where its
#: brightness rises with the distance from its rim (correlation at least
#: ``_SHADOWED_RISE``) and its median lies within ``_SHADOWED_MEDIAN`` departure
#: levels of the surface. On the studio benchmark's training photos (2400, 1400
#: and 1000 px) 108 such regions were holes and 654 fabric: correlations of
#: 0.16-0.68 (10th to 90th percentile) against -0.20-0.33, and no fabric region
#: as light as the limits rose by more than 0.38. 0.4 kept every fabric region;
#: on the development photos it opened a white paper bag's face at 1000 and
#: 1400 px (0.42, 0.43) and a patch of a thin product at 1000 px (0.41), so 0.5
#: leaves a margin. A median limit of 6 levels and a limit of 10 on the darkest
#: 5 % turned away holes deep in a handle's or a body's shadow: on 630 training
#: photos of unseen seeds, of the 45 enclosed regions in shadow that were holes
#: they took 11 for holes, and 1 of the 417 that were fabric; a median limit of
#: 10 and no limit on the darkest took 15, and the same fabric region (two
#: photos' labels changed, foreground IoU +0.023 and +0.025).
_SHADOWED_RISE = 0.5
_SHADOWED_MEDIAN = 10.0
#: Smallest enclosed region, as a share of the working frame, that may be a
#: hole: one that looks like the paper (``_LIGHT_HOLE``), or one that bears a
#: shadow's mark (``_SHADED_HOLE``, see ``_SHADOWED_RISE``). The gap between a
#: person's legs or between an arm and the body is narrow and lies in the
#: person's shadow; under 0.2 % of the frame it stayed product whatever it
#: showed. On 600 training photos of unseen seeds (1400 and 2400 px, ten
#: layouts and hard cases) 1,569 enclosed regions of 0.03-0.2 % of the frame
#: failed the paper-like test, 131 of them holes: the shadow's mark took 60,
#: all holes. Paper-like regions of 0.05-0.2 % were mostly fabric (69 of 71:
#: light patches of prints, pale parts of products), so they keep the 0.2 %.
_LIGHT_HOLE = 0.002
_SHADED_HOLE = 0.0003
#: A paper-like enclosed region is a hole only where the product's contact
#: shadow shows along its rim: its pixels within 2 working pixels of the rim
#: are darker, on average, than those deeper than 3 by at least this many
#: departure levels. A light patch of a print or a paper-coloured part of a
#: light product is as bright at its rim as in its middle. On the studio
#: benchmark's training photos (2400, 1400 and 1000 px) 160 such regions were
#: taken for holes, 111 of them fabric: the holes' rims were darker by 0.86
#: levels or more (90 %), the fabric's by 0.35 (median); 0.5 kept 98 % of the
#: holes on light paper and gave 72 of the 109 fabric regions back. Not asked
#: on black paper, where a shadow does not show, nor of regions too thin to
#: have a middle.
_RIM_SHADE = 0.5
#: A pixel brighter than the fitted backdrop seeds a product only where it is
#: brighter by this many times the departure level: near products the fitted
#: surface dips a little below the paper (their shadows weigh on the fit), and
#: the paper left between a product's parts (between trouser legs, inside an
#: open jacket) rose above it in specks whose seeds took that paper into the
#: product. It still departs (a white sleeve on white paper keeps its place
#: in the flood). 1.5 was chosen on the studio benchmark's training photos
#: (1.25, 1.5 and 2 tried; sets 0.967 -> 0.969 refined IoU, thin 0.973 ->
#: 0.983, light on light 0.923 -> 0.934, 1 cut-by-frame photo of a white
#: knit lower, 0.813 -> 0.773).
_BRIGHTER = 1.5
#: A change of colour weighs this many times a change of brightness of the
#: same size (RGB distance and mean difference, 0-1 scale) in what departs
#: from the backdrop and in what marks a seed.
_COLOUR_WEIGHT = 1.5
#: Yet the fitted surface also sinks under a light product (its shading and
#: shadow weigh on the fit), so paper seen between a product's parts (between
#: trouser legs, inside an open coat) still rises above it by more than that,
#: in regions whose only mark is brightness. Such a region whose median
#: brightness is within this many levels (of 255) of the sure paper around it
#: (its box grown by its own size on each side) is paper and seeds nothing:
#: paper there reads at the paper's level, a light product's fabric spreads
#: (most of it a little darker than the paper beside it). On light paper
#: only. On the studio benchmark's training photos (770 photos, coarse masks)
#: the regions on paper sat at the nearby paper's level (median difference 0),
#: 1 and 2 levels were tried; 2 lifted light on light singles 0.925 -> 0.930
#: (1400 px) and 0.867 -> 0.882 (2400 px) coarse IoU and lost no product.
_PAPER_LEVEL = 2
#: Stripes (see ``_striped``): the widest band, in working pixels; the least
#: colour step between neighbouring bands (RGB distance on a 0-1 scale, about
#: 20 levels of 255); and how alike bands two apart are, as a share of that
#: step. Set by hand and checked on the studio benchmark's training photos at
#: 1000 and 1400 px (see ``_striped``).
_STRIPE = 12
_STRIPE_STEP = 0.08
_STRIPE_ALIKE = 0.35
#: The first fit takes the pixels within this distance (RGB, 0-1 scale) of
#: the border's median colour, leaving room for the paper's gradient or
#: vignette (10-25 levels of 255 on light paper), on paper at least
#: ``_LIGHT_PAPER`` bright; on darker paper in proportion to its brightness
#: (light falls off by a share, so a vignette on black paper spans a few
#: levels), but never below ``_FIRST_FLOOR``. With 0.12 on black paper a dark
#: garment 5-30 levels above the paper entered the first fit, the surface rose
#: into it and its smooth parts were taken for paper. The scaling and the floor
#: were chosen on the studio benchmark's training photos (floors 0.02 and 0.03
#: tried; 200 photos at 1000 and 200 at 1400 px: dark on dark coarse IoU 0.902
#: -> 0.966 and 0.900 -> 0.966, 25 photos up by 0.01-0.26, none lower; white
#: and light grey paper unchanged).
_FIRST_LIMIT = 0.12
_LIGHT_PAPER = 0.9
_FIRST_FLOOR = 0.02
#: Light changes the paper's brightness, not its hue: a pixel whose colour
#: departs from the border's colour scaled to its brightness by more than this
#: share of the first fit's limit (and at least ``_HUE_FLOOR``) stays out of the
#: first fit, however close in level (a bluish white top on light grey paper:
#: the fit took it in, the surface turned blue beside it, and the neutral
#: shadow there departed in colour and was seeded as product, 0.932 -> 0.978
#: coarse IoU on the package's white-top sample). On the studio benchmark's
#: training photos (1055 photos at 2400, 1400 and 1000 px) 0.5 moved 5 photos
#: by more than 0.005 coarse IoU; 0.25 split a white shirt on light grey paper
#: into fragments (0.985 -> 0.53) until ``_BRIGHTEST`` kept the shirt out of the
#: fit; with it, 0.25 lifted 17 photos by 0.013-0.097 (prints 0.966 -> 0.974
#: coarse IoU at 2400 px) and lowered 4 by 0.007-0.045 (one a hole at its
#: threshold, 0.972 -> 0.935), none losing a product.
_HUE = 0.25
_HUE_FLOOR = 4 / 255
#: Nor is light paper ever much brighter than the brightest of its border: a
#: gradient or a floor curve runs through the border, a vignette's centre rises
#: a few per cent above it. A pixel brighter than the border's 95th percentile by
#: more than this share of the paper's level stays out of the first fit, on paper
#: at least ``_BRIGHT_PAPER`` light (a white top on light grey paper, 20-25 levels
#: brighter, was taken into the fit, the surface rose into it, and its inside
#: went to the backdrop). Chosen on the studio benchmark's training photos
#: (1055 photos at 2400, 1400 and 1000 px; measured in the README). An open
#: white cardigan on light grey paper at 2400 px (median 244, the border's 237,
#: its 95th percentile 243.6) still went into the fit, and the backdrop kept
#: only its two sides (foreground IoU 0.68; 0.81 with 0.02, 0.95 with 0). On
#: 232 more training photos (1000 and 1400 px), 0 lowered five, a thin product
#: on a white vignette from 0.989 to 0.308 refined IoU at 1400 px (the
#: vignette's centre, left out of the fit, went to the product); 0.02 changed
#: one photo's coarse IoU by 0.007.
_BRIGHTEST = 0.04
_BRIGHT_PAPER = 0.8
_EIGHT = np.ones((3, 3), bool)
#: Gaussian blur, in working pixels, that brings the noise of a working pixel
#: averaging f x f photo pixels (f = 1, 2, 3) down to that of one averaging
#: 4 x 4, as in a photo of 2400 px, for which the thresholds were chosen
#: (white noise; not tuned). On the studio benchmark's training photos
#: rendered at 1400 px, light on light rose from 87.5 % to 100 % found
#: (refined IoU 0.830 -> 0.929), at 1000 px from 62.5 % to 75 % (0.577 ->
#: 0.687), and no other group fell by more than 0.002.
_NOISE_BLUR = {1: 1.13, 2: 0.6, 3: 0.45}
#: Most background variation, in levels of 255 around the fitted surface,
#: that seamless paper shows. The studio benchmark's training photos show at
#: most 1.8; street photos whose pavement or sky looked plain 1.7 to 6 (half
#: of them over 4.5).
_MAX_NOISE = 4.5
#: A studio backdrop surrounds its products: at most this share of the frame's
#: border may lie on products, and of a second side at most ``_SECOND_SIDE``
#: (a product cut by one side of the frame is a studio shot, and so is a model
#: cropped at the head and at the knees, who reaches the top and the bottom; a
#: person merged with the buildings or the horizon behind reaches the left or
#: the right side and another). On the studio benchmark's training photos
#: products cover at most 19 % of the border, on one side only; of 800
#: training street photos, 84 looked plain by surface and noise, and these two
#: rules with ``_MAX_NOISE`` leave 5.
_MAX_BORDER = 0.2
_SECOND_SIDE = 0.15
#: A product cut by one side of the frame alone (it reaches no other side by
#: as much as this share of it) is a studio shot however much of the border
#: it covers: ``_MAX_BORDER`` asks it nothing. On the studio benchmark's
#: training photos of products cut by the frame (seeds 1,930,000 on, 350 at
#: 1000 px) 17 covered 20-25 % of the border, each reaching one side only,
#: and went to the model as street photos; of the 800 training street
#: photos, the 32 that reached this test touched two sides or more.
_ONE_SIDE = 0.01
#: A region at most ``_PIECE`` the size of a product and within ``_PIECE_REACH``
#: of the frame's long side of it is a piece of that product, cut off where a
#: light part of it was taken for paper (a collar above a white neckline, a
#: shoe below a white sock): it takes the product's id. On the studio
#: benchmark's training photos (200 at 1000 and 200 at 1400 px; reaches of
#: 0.01, 0.02 and 0.03 tried) such pieces lay 11-17 px from their products
#: at 1000 and 1400 px; 0.03 made 10 single products, people and products
#: cut by the frame one object each instead of 2-3 (coarse IoU +0.01 to
#: +0.06), left every set as it was, and cost a region of three touching
#: white products in 8 fragments 0.027 (5 fragments).
_PIECE = 0.05
_PIECE_REACH = 0.03
#: A crisp dark drop shadow (a small or bare light) has a rim steep enough to
#: stop the flood from the paper; wherever the product's own edge beside it is
#: weak (a dark sleeve beside the dark shadow) the product's flood gets in
#: first and takes the shadow. After the flood, each region of shadow-like
#: pixels it gave to a product, beyond the product's sure seeds, is shadow
#: and goes back to the backdrop (the flood runs again) when it is
#:
#: * a band: no pixel deeper than ``_CAST_BAND`` of the frame's short side
#:   from its border (a drop shadow is as wide as its offset and blur; a
#:   product's face is wider);
#: * darker along the product than along the paper, by ``_CAST_FALL`` levels
#:   and by ``_CAST_RATIO`` times, and darker in its middle by at least
#:   ``_CAST_MIDDLE`` of that fall from the paper's side: a shadow darkens
#:   steadily towards the product (the lit face of a grey coat's shoulder,
#:   between its lapel's dark seam and its soft outline, is lighter in its
#:   middle: 0.35);
#: * outlined on the paper's side by a ramp, not a step: under
#:   ``_CAST_STEPS`` of that outline is a step (the gradient at the working
#:   scale more than ``_STEP`` times the one at sigma ``_STEP_SIGMA``: a
#:   blurred step of width s keeps sqrt(s**2 + 2**2) / sqrt(s**2 + 0.7**2)
#:   of its slope, 2.4 for a product's edge, 1.2 for a shadow's);
#: * grey: its mean colour change under ``_CAST_HUE`` of its mean darkening;
#: * smooth as paper is: where it would be given back, its brightness departs
#:   from its own 3x3 median by less than ``_CAST_ROUGH`` on average (a shadow
#:   on paper carries only the sensor's noise: 0.0000-0.0021 on the training
#:   photos at 1000-2400 px; the tip of a grey knit's collar beside its
#:   contact shadow, which passed every other test, carries its stitches'
#:   texture: 0.008-0.011).
#:
#: Given back are its pixels more than ``_CAST_MARGIN`` working pixels from
#: what is surely product, so that the second flood still finds the
#: product's edge. Chosen on training photos of the generator's crisp-shadow
#: hard case (seeds 1,900,000 on, 10 photos per layout and hard case at 2400,
#: 1400 and 1000 px): the crisp-shadow photos rose from 0.929 to 0.944 coarse
#: IoU at 2400 px (0.934 -> 0.941 at 1400, 0.920 -> 0.938 at 1000), and no
#: other photo changed by more than 0.001. Without the middle test a grey
#: coat lost its lit shoulder (0.984 -> 0.979). Checked again on seeds from
#: 1,950,000: only the crisp-shadow photos changed, all up (0.854 -> 0.876 at
#: 2400 px, 0.854 -> 0.875 at 1000). The smoothness test, added later, left
#: every single crisp-shadow photo as it was and gave 4 products of sets and
#: knits back what the rule had cast (all up, by 0.001-0.022). docs/studio.md
#: has the details.
_CAST_BAND = 0.03
_CAST_FALL = 10 / 255
_CAST_RATIO = 1.5
_CAST_MIDDLE = 0.45
_CAST_STEPS = 0.2
_CAST_HUE = 0.25
_CAST_MARGIN = 3
_CAST_ROUGH = 0.004
_STEP = 1.6
_STEP_SIGMA = 2.0


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


def _powers(n: int, degree: int) -> np.ndarray:
    """(n, degree + 1) float64: ``t**p`` for ``t`` evenly spaced on [-1, 1]."""
    return np.linspace(-1, 1, n)[:, None] ** np.arange(degree + 1)


def _fit_surface(grid: np.ndarray, weight: np.ndarray, sigma: float) -> np.ndarray:
    """Smooth backdrop surface on the coarse grid, (gh, gw, C) float32.

    A weighted least-squares polynomial of degree ``_DEGREE`` per channel,
    plus the normalised convolution of what it leaves over. The monomials
    ``x**i * y**j`` are separable on the grid, so the normal equations come
    from a few products of small matrices (weighted moments) rather than from
    the full design matrix.
    """
    gh, gw, c = grid.shape
    py = _powers(gh, 2 * _DEGREE)
    px = _powers(gw, 2 * _DEGREE)
    wt = weight.astype(np.float64)
    moments = py.T @ wt @ px  # moments[p, q] = sum of w * y**p * x**q
    ii, jj = (np.array(t) for t in zip(*[(i, j) for i in range(_DEGREE + 1) for j in range(_DEGREE + 1 - i)]))
    gram = moments[jj[:, None] + jj[None, :], ii[:, None] + ii[None, :]] + 1e-9 * np.eye(ii.size)
    ly, lx = py[:, : _DEGREE + 1], px[:, : _DEGREE + 1]
    rhs = np.stack([(ly.T @ (wt * grid[..., k]) @ lx)[jj, ii] for k in range(c)], axis=1)
    coef = np.linalg.solve(gram, rhs)
    table = np.zeros((_DEGREE + 1, _DEGREE + 1, c))
    table[jj, ii] = coef
    surface = np.stack([ly @ table[..., k] @ lx.T for k in range(c)], axis=2).astype(np.float32)
    # Residuals and weights blurred together, each plane on its own.
    planes = np.concatenate([(grid - surface) * weight[..., None], weight[..., None]], axis=2)
    smooth = ndi.gaussian_filter(planes, (sigma, sigma, 0), mode="nearest")
    norm = smooth[..., c:]
    surface += smooth[..., :c] / np.maximum(norm, 1e-6) * np.clip(norm / 0.3, 0, 1)
    return surface


# Per-pixel passes over the working copy. Each reads the coarse backdrop
# surface through bilinear taps (``_stretch_taps``) instead of an upsampled
# copy, and writes only what the next step needs.


def _stretch_taps(grid_shape: tuple[int, int], shape: tuple[int, int]) -> tuple[np.ndarray, ...]:
    """Rows and columns of the coarse grid that each working pixel blends, and
    their weights: the grid stretched over the working copy with pixel centres
    aligned (OpenCV's resize convention, as ``coarse.bilinear_matrix``).

    Returns ``y0, y1, wy, x0, x1, wx``: pixel row ``i`` blends grid rows
    ``y0[i]`` and ``y1[i]`` with weights ``1 - wy[i]`` and ``wy[i]``.
    """

    def taps(n_out: int, n_in: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        src = np.clip((np.arange(n_out) + 0.5) * (n_in / n_out) - 0.5, 0, n_in - 1)
        i0 = np.floor(src).astype(np.intp)
        return i0, np.minimum(i0 + 1, n_in - 1), (src - i0).astype(np.float32)

    return (*taps(shape[0], grid_shape[0]), *taps(shape[1], grid_shape[1]))


@numba.njit(cache=True, nogil=True)
def _surface_at(surf, y0, y1, wy, x0, x1, wx, i, j, k):  # pragma: no cover - compiled
    one = np.float32(1)
    top = surf[y0[i], x0[j], k] * (one - wx[j]) + surf[y0[i], x1[j], k] * wx[j]
    low = surf[y1[i], x0[j], k] * (one - wx[j]) + surf[y1[i], x1[j], k] * wx[j]
    return top * (one - wy[i]) + low * wy[i]


@numba.njit(cache=True, nogil=True)
def _errors(small, surf, y0, y1, wy, x0, x1, wx, counted, error, hist):  # pragma: no cover - compiled
    """error = largest channel difference from the surface; hist counts it where counted."""
    h, w, c = small.shape
    bins = hist.size
    for i in range(h):
        for j in range(w):
            e = np.float32(0)
            for k in range(c):
                d = abs(small[i, j, k] - _surface_at(surf, y0, y1, wy, x0, x1, wx, i, j, k))
                if d > e:
                    e = d
            error[i, j] = e
            if counted[i, j]:
                hist[min(int(e * bins), bins - 1)] += 1


@numba.njit(cache=True, nogil=True)
def _leave_out(small, reference, limit, ceiling, error):  # pragma: no cover - compiled
    """error = 1 (out of the first fit) where a pixel's colour departs by more than
    ``limit`` from ``reference`` scaled to the pixel's brightness (see ``_HUE``), or
    where its brightness (mean of the channels) exceeds ``ceiling`` (see ``_BRIGHTEST``)."""
    h, w, c = small.shape
    ref_mean = np.float32(0)
    for k in range(c):
        ref_mean += reference[k]
    ref_mean = max(ref_mean / c, np.float32(1e-3))
    for i in range(h):
        for j in range(w):
            level = np.float32(0)
            for k in range(c):
                level += small[i, j, k]
            level /= c
            if level > ceiling:
                error[i, j] = 1
                continue
            scale = level / ref_mean
            for k in range(c):
                if abs(small[i, j, k] - reference[k] * scale) > limit:
                    error[i, j] = 1
                    break


@numba.njit(cache=True, nogil=True)
def _inlier_grid(small, error, limit, g, inlier, sums, counts):  # pragma: no cover - compiled
    """inlier = error < limit; sums and counts of inlier pixels per g x g cell."""
    h, w, c = small.shape
    for i in range(h):
        for j in range(w):
            if error[i, j] < limit:
                inlier[i, j] = True
                counts[i // g, j // g] += 1
                for k in range(c):
                    sums[i // g, j // g, k] += small[i, j, k]
            else:
                inlier[i, j] = False


@numba.njit(cache=True, nogil=True)
def _departure(small, surf, y0, y1, wy, x0, x1, wx, level, brighter,  # pragma: no cover - compiled
               bright, chroma, departs, firm, shadow, lum):
    """Brightness and colour change from the surface, what departs (and firmly enough to seed), what may be shadow."""
    h, w, c = small.shape
    inv = np.float32(1 / c)
    at = np.empty(c, np.float32)  # the surface at the pixel, each channel
    for i in range(h):
        for j in range(w):
            mean_d = np.float32(0)
            mean_s = np.float32(0)
            mean_p = np.float32(0)
            for k in range(c):
                s = _surface_at(surf, y0, y1, wy, x0, x1, wx, i, j, k)
                at[k] = s
                mean_d += small[i, j, k] - s
                mean_s += s
                mean_p += small[i, j, k]
            mean_d *= inv
            mean_s *= inv
            mean_p *= inv
            # Colour change. Where the pixel is darker than the surface, after
            # scaling the surface down to the pixel's brightness: a shadow
            # scales the paper's colour, so on coloured paper it changes each
            # channel by a different amount but keeps the hue. Where it is
            # brighter, after shifting the surface up by the mean difference.
            spread = np.float32(0)
            if c > 1:
                ratio = min(mean_p / max(mean_s, np.float32(1e-3)), np.float32(1))
                shift = max(mean_d, np.float32(0))
                for k in range(c):
                    d = small[i, j, k] - at[k] * ratio - shift
                    spread += d * d
                spread = np.sqrt(spread)
            bright[i, j] = mean_d
            chroma[i, j] = spread
            lum[i, j] = mean_p
            departs[i, j] = max(abs(mean_d), np.float32(_COLOUR_WEIGHT) * spread) > level
            firm[i, j] = max(-mean_d, mean_d / brighter, np.float32(_COLOUR_WEIGHT) * spread) > level
            shadow[i, j] = (
                mean_d < 0
                and spread < np.float32(0.3) * abs(mean_d) + 2 * level
                and mean_p > np.float32(0.45) * max(mean_s, np.float32(1e-3))
            )


@numba.njit(cache=True, nogil=True)
def _channel_hist(small, inlier, hist):  # pragma: no cover - compiled
    h, w, c = small.shape
    bins = hist.shape[1]
    for i in range(h):
        for j in range(w):
            if inlier[i, j]:
                for k in range(c):
                    hist[k, min(max(int(small[i, j, k] * bins), 0), bins - 1)] += 1


def _robust_noise(hist: np.ndarray) -> float:
    """The backdrop's noise (a standard deviation, [0, 1] units) from a histogram of fit errors."""
    return 1.4826 * _hist_median(hist) + 1e-4


def _departure_level(noise: float, sensitivity: float) -> float:
    """Smallest change from the backdrop, [0, 1] units, that departs from it."""
    return max(4 * noise, 3 / 255) / sensitivity


def _hist_median(hist: np.ndarray) -> float:
    """Median of values binned on [0, 1) (linear within the median's bin)."""
    total = hist.sum()
    if total == 0:
        return 0.0
    cum = np.cumsum(hist)
    b = int(np.searchsorted(cum, total / 2))
    before = cum[b - 1] if b else 0
    return (b + (total / 2 - before) / max(hist[b], 1)) / hist.size


@numba.njit(cache=True, nogil=True)
def _square_pass(src, size, grow, whole, out):  # pragma: no cover - compiled
    """Both axes of a binary dilation (``grow``) or erosion of ``src`` (0/1 uint8) by a
    ``size`` x ``size`` square, written to ``out``: running counts of the set pixels in each
    window, so the cost does not grow with ``size``. The window of pixel ``i`` is ``i - size // 2``
    to ``i - size // 2 + size - 1`` on each axis, as in ``scipy.ndimage``. An erosion with
    ``whole`` needs the whole window set (outside the frame is empty); without it, the part
    of the window inside the frame (outside repeats the edge)."""
    h, w = src.shape
    half = size // 2
    down = np.empty((h, w), np.uint8)
    counts = np.zeros(w, np.int32)
    for y in range(min(size - half, h)):
        for x in range(w):
            counts[x] += src[y, x]
    for i in range(h):
        lo = i - half
        hi = lo + size - 1
        need = size if whole else min(hi, h - 1) - max(lo, 0) + 1
        for x in range(w):
            down[i, x] = (counts[x] > 0) if grow else (counts[x] == need)
        if lo >= 0:
            for x in range(w):
                counts[x] -= src[lo, x]
        if hi + 1 < h:
            for x in range(w):
                counts[x] += src[hi + 1, x]
    for y in range(h):
        count = 0
        for x in range(min(size - half, w)):
            count += down[y, x]
        for i in range(w):
            lo = i - half
            hi = lo + size - 1
            need = size if whole else min(hi, w - 1) - max(lo, 0) + 1
            out[y, i] = (count > 0) if grow else (count == need)
            if lo >= 0:
                count -= down[y, lo]
            if hi + 1 < w:
                count += down[y, hi + 1]


def _square(mask: np.ndarray, size: int, grow: bool, whole: bool) -> np.ndarray:
    """Binary dilation or erosion of ``mask`` by a ``size`` x ``size`` square (see
    :func:`_square_pass`); what ``scipy.ndimage``'s maximum and minimum filters give, faster."""
    out = np.empty(mask.shape, np.uint8)
    _square_pass(np.ascontiguousarray(mask).view(np.uint8), size, grow, whole, out)
    return out.view(bool)


def _erode(mask: np.ndarray, size: int = 3) -> np.ndarray:
    """Binary erosion by a size x size square; outside the frame counts as empty."""
    return _square(mask, size, grow=False, whole=True)


def _dilate(mask: np.ndarray, size: int = 3) -> np.ndarray:
    """Binary dilation by a size x size square."""
    return _square(mask, size, grow=True, whole=True)


def _close(mask: np.ndarray, size: int) -> np.ndarray:
    """Binary closing by a size x size square; the frame's edge is no border."""
    return _square(_square(mask, size, grow=True, whole=False), size, grow=False, whole=False)


def _reaching(calm: np.ndarray, n: int, where: np.ndarray | None = None) -> np.ndarray:
    """Which of the ``n`` labelled regions of ``calm`` touch ``where`` (default:
    the frame's sides), as a lookup table indexed by label (0 never)."""
    touch = np.zeros(n + 1, bool)
    if where is None:
        for side in (calm[0], calm[-1], calm[:, 0], calm[:, -1]):
            touch[side] = True
    else:
        touch[calm[where]] = True
    touch[0] = False
    return touch


def _ring_share(regions: np.ndarray, n: int, where: np.ndarray) -> np.ndarray:
    """For each of the ``n`` labelled regions of ``regions``, the share of the
    pixels just outside it (its 8-neighbour ring) where ``where`` holds, as a
    lookup table indexed by label."""
    owner = ndi.maximum_filter(regions, 3)
    ring = (regions == 0) & (owner > 0)
    held = np.bincount(owner[ring], weights=where[ring], minlength=n + 1)
    return held / np.maximum(np.bincount(owner[ring], minlength=n + 1), 1)


def _depths_and_values(regions: np.ndarray, ids: np.ndarray, values: np.ndarray):
    """For each of the regions ``ids`` of the labelled ``regions``: its label, each
    of its pixels' distance from its rim (px) and their ``values``."""
    boxes = ndi.find_objects(regions)
    for i in ids:
        box = tuple(slice(max(b.start - 1, 0), b.stop + 1) for b in boxes[i - 1])
        mask = regions[box] == i
        yield i, ndi.distance_transform_edt(mask)[mask], values[box][mask]


def _in_shadow(regions: np.ndarray, n: int, ids: np.ndarray, darkness: np.ndarray) -> np.ndarray:
    """Which of the regions ``ids`` of the ``n`` labelled ``regions`` look like paper
    in a product's shadow (see ``_SHADOWED_RISE``), as a lookup table indexed by label.

    ``darkness`` is each pixel's brightness change from the fitted surface in
    departure levels (negative: darker).
    """
    out = np.zeros(n + 1, bool)
    for i, depth, value in _depths_and_values(regions, ids, darkness):
        if np.ptp(depth) == 0 or np.ptp(value) == 0:
            continue
        out[i] = np.corrcoef(depth, value)[0, 1] >= _SHADOWED_RISE and np.median(value) >= -_SHADOWED_MEDIAN
    return out


def _shaded_rim(regions: np.ndarray, n: int, ids: np.ndarray, darkness: np.ndarray) -> np.ndarray:
    """Which of the regions ``ids`` of the ``n`` labelled ``regions`` are darker
    along their rim than in their middle (see ``_RIM_SHADE``), as a lookup table
    indexed by label; a region with no middle counts as shaded.

    ``darkness`` is each pixel's brightness change from the fitted surface in
    departure levels (negative: darker).
    """
    out = np.zeros(n + 1, bool)
    for i, depth, value in _depths_and_values(regions, ids, darkness):
        middle = depth > 3
        out[i] = not middle.any() or value[depth <= 2].mean() - value[middle].mean() <= -_RIM_SHADE
    return out


def _darker_or_coloured(bright: np.ndarray, chroma: np.ndarray, level: float) -> np.ndarray:
    """Pixels darker than the backdrop, or of another colour, by more than ``level``
    (see ``_departure``)."""
    return np.maximum(-bright, _COLOUR_WEIGHT * chroma) > level


def _at_paper_level(candidates: np.ndarray, lum: np.ndarray, paper: np.ndarray) -> np.ndarray:
    """The regions of ``candidates`` whose median ``lum`` is within
    ``_PAPER_LEVEL`` levels of the median of the ``paper`` pixels around them
    (in the region's box grown by its own size on each side), as a mask."""
    regions, n = ndi.label(candidates, _EIGHT)
    out = np.zeros_like(candidates)
    h, w = candidates.shape
    for i, (ys, xs) in enumerate(ndi.find_objects(regions), start=1):
        dy, dx = ys.stop - ys.start, xs.stop - xs.start
        near = (slice(max(ys.start - dy, 0), min(ys.stop + dy, h)), slice(max(xs.start - dx, 0), min(xs.stop + dx, w)))
        around = paper[near]
        if around.sum() <= 20:
            continue
        mine = regions[ys, xs] == i
        if abs(np.median(lum[ys, xs][mine]) - np.median(lum[near][around])) < _PAPER_LEVEL / 255:
            out[ys, xs] |= mine
    return out


def _sealed_inside(departs: np.ndarray) -> np.ndarray:
    """The product's inside that a light product's rim encloses once sealed.

    Regions that ``departs``, closed by ``_SEAL``, encloses and that are at
    least ``_INSIDE`` of the area they and their enclosure fill together; and
    paper-like regions of the sealed shape that the closing fills whole (the
    inside of a narrow product: a shirt hung from its shoulders) that are at
    least ``_NARROW_INSIDE`` of it, measured by their own pixels."""
    h, w = departs.shape
    closed = _close(departs, _SEAL)
    regions, n = ndi.label(~closed)
    if not n:
        return np.zeros_like(departs)
    enclosed = ~_reaching(regions, n)
    enclosed[0] = False
    shape = enclosed[regions] | closed
    filled, _ = ndi.label(shape, _EIGHT)
    filled_area = np.bincount(filled.ravel())
    area = np.bincount(regions.ravel(), minlength=n + 1)
    host = np.zeros(n + 1, np.int64)
    host[regions.ravel()] = filled_area[filled.ravel()]
    inside = (enclosed & (area >= _INSIDE * host) & (area >= 0.002 * h * w))[regions]
    # Narrow insides: paper-like pixels of the sealed shape, in regions that
    # the closing filled whole, so that no region above stands for them.
    # Its rim must depart all round: the paper among scattered specks, which
    # the closing also fills, meets the paper outside the sealed shape.
    calm, m = ndi.label(shape & ~departs)
    if m:
        calm_area = np.bincount(calm.ravel(), minlength=m + 1)
        open_left = np.bincount(calm[~closed], minlength=m + 1) > 0
        shape_area = np.zeros(m + 1, np.int64)
        shape_area[calm.ravel()] = filled_area[filled.ravel()]
        narrow = ~open_left & (calm_area >= _NARROW_INSIDE * shape_area) & (calm_area >= 0.002 * h * w)
        narrow &= (_ring_share(calm, m, ~shape) <= _NARROW_OPEN) & ~_reaching(calm, m)
        narrow[0] = False
        inside |= narrow[calm]
    return inside


@numba.njit(cache=True, nogil=True)
def _off_median(lum, out):  # pragma: no cover - compiled
    """out = |lum - its 3x3 median| (the frame's edge repeated outwards)."""
    h, w = lum.shape
    low = np.empty(w, np.float32)
    mid = np.empty(w, np.float32)
    high = np.empty(w, np.float32)
    for i in range(h):
        u, d = max(i - 1, 0), min(i + 1, h - 1)
        for j in range(w):  # each column of three, sorted
            a, b, c = lum[u, j], lum[i, j], lum[d, j]
            if a > b:
                a, b = b, a
            if b > c:
                b, c = c, b
            if a > b:
                a, b = b, a
            low[j], mid[j], high[j] = a, b, c
        for j in range(w):
            p, q = max(j - 1, 0), min(j + 1, w - 1)
            # The median of nine is the median of the largest of the lows,
            # the median of the middles and the least of the highs.
            x = max(low[p], low[j], low[q])
            z = min(high[p], high[j], high[q])
            m0, m1, m2 = mid[p], mid[j], mid[q]
            y = max(min(m0, m1), min(max(m0, m1), m2))
            out[i, j] = abs(lum[i, j] - max(min(x, y), min(max(x, y), z)))


@numba.njit(cache=True, nogil=True)
def _distance(a, b):  # pragma: no cover - compiled
    total = 0.0
    for k in range(a.shape[0]):
        total += (a[k] - b[k]) ** 2
    return np.sqrt(total)


@numba.njit(cache=True, nogil=True)
def _stripes_in_rows(sharp, image, widest, step, alike, out):  # pragma: no cover - compiled
    """Mark in ``out`` the bands of each row that repeat with a band of another
    colour between (see ``_striped``)."""
    h, w = sharp.shape
    c = image.shape[2]
    start = np.empty(w + 1, np.int64)
    end = np.empty(w + 1, np.int64)
    mean = np.empty((w + 1, c), np.float64)
    band = np.empty(w + 1, np.int64)  # the runs that are bands
    tone = np.empty((w + 1, c), np.float64)  # and their colours
    ref = np.empty(c, np.float64)
    for i in range(h):
        # Runs of sharp and of calm pixels, alternating.
        n = 0
        j = 0
        while j < w:
            start[n] = j
            edge = sharp[i, j]
            mean[n] = 0.0
            while j < w and sharp[i, j] == edge:
                for ch in range(c):
                    mean[n, ch] += image[i, j, ch]
                j += 1
            end[n] = j
            for ch in range(c):
                mean[n, ch] /= j - start[n]
            n += 1
        # Bands: every calm run, and a sharp run no wider than a band between
        # two calm runs of one colour that holds another colour (a thin stripe
        # blurred into its own edges).
        m = 0
        for r in range(n):
            if not sharp[i, start[r]]:
                band[m] = r
                tone[m] = mean[r]
                m += 1
            elif 0 < r < n - 1 and end[r] - start[r] <= widest and _distance(mean[r - 1], mean[r + 1]) < step:
                for ch in range(c):
                    ref[ch] = (mean[r - 1, ch] + mean[r + 1, ch]) / 2
                peak, at = -1.0, start[r]  # the pixel farthest from the runs' colour
                for x in range(start[r], end[r]):
                    gap = _distance(image[i, x], ref)
                    if gap > peak:
                        peak, at = gap, x
                if peak >= step:
                    band[m] = r
                    for ch in range(c):
                        tone[m, ch] = image[i, at, ch]
                    m += 1
        # A calm band is striped where, on both sides, a narrow band of another
        # colour follows it and then a narrow band of its own colour, with no
        # more than an edge's width between them.
        for q in range(2, m - 2):
            k = band[q]
            if end[k] - start[k] > widest:
                continue
            striped = True
            for side in (-1, 1):
                near, far = band[q + side], band[q + 2 * side]
                lo, mid, hi = (far, near, k) if side < 0 else (k, near, far)
                if (end[near] - start[near] > widest or end[far] - start[far] > widest
                        or start[mid] - end[lo] > 4 or start[hi] - end[mid] > 4):
                    striped = False
                    break
                contrast = _distance(tone[q], tone[q + side])
                if contrast < step or _distance(tone[q], tone[q + 2 * side]) > alike * contrast:
                    striped = False
                    break
            if striped:
                out[i, start[k] : end[k]] = True


def _striped(sharp: np.ndarray, image: np.ndarray) -> np.ndarray:
    """The bands of striped fabric, along the rows or the columns.

    A Breton shirt's white stripes on white paper look like the paper; where
    they reach the shirt's outline the paper floods them, cutting bites out
    of the shirt. What no paper does is repeat: a band, a narrow band of
    another colour, and a narrow band of its own colour again, on both sides
    (the paper between a pair of trousers' legs has the legs beside it and
    broad paper beyond). Such bands are seeded as product. The bands two
    apart must match within ``_STRIPE_ALIKE`` of the step to their
    neighbours, so that the paper between two printed parts (a print is not
    a repeat of the paper's colour) is not taken; a light stripe with a single
    dark one between it and the paper is not seeded. On the studio
    benchmark's 432 training photos at 1000 and 1400 px, end to end, refined
    IoU rose by more than 0.002 on 20 (striped tops at 1000 px 0.807 -> 0.951
    and 0.871 -> 0.946, single products 0.968 -> 0.977) and fell on 3 by
    0.004-0.007, and on one touching photo at 1000 px (0.636 -> 0.585, but
    3 objects for 3 products instead of 10).
    """
    image = np.asarray(image, np.float32)
    rows, cols = (np.zeros(shape, bool) for shape in (sharp.shape, sharp.shape[::-1]))
    for edges, colours, out in ((sharp, image, rows), (sharp.T, image.transpose(1, 0, 2), cols)):
        _stripes_in_rows(np.ascontiguousarray(edges), np.ascontiguousarray(colours), _STRIPE, _STRIPE_STEP,
                         _STRIPE_ALIKE, out)
    return rows | cols.T


def _slope(lum: np.ndarray, sigma: float) -> np.ndarray:
    """Gradient magnitude (Sobel) of ``lum`` smoothed by a Gaussian of ``sigma`` px."""
    grey = ndi.gaussian_filter(lum, sigma)
    return np.hypot(ndi.sobel(grey, 0), ndi.sobel(grey, 1))


def _depth(mask: np.ndarray) -> np.ndarray:
    """Euclidean distance of each pixel of ``mask`` to the nearest pixel outside
    it (as ``scipy.ndimage.distance_transform_edt``), computed over the mask's
    bounding box and a margin of one pixel only."""
    depth = np.zeros(mask.shape, np.float64)
    rows, cols = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
    if rows.size:
        ys = slice(max(rows[0] - 1, 0), rows[-1] + 2)
        xs = slice(max(cols[0] - 1, 0), cols[-1] + 2)
        depth[ys, xs] = ndi.distance_transform_edt(mask[ys, xs])
    return depth


def _textured(lum: np.ndarray, paper: np.ndarray, sensitivity: float = 1.0) -> np.ndarray:
    """Broad regions of fine texture.

    Where the mean absolute difference of the brightness ``lum`` from its 3x3
    median, over 5x5 working pixels, exceeds ``_TEXTURE`` times its 99th
    percentile on ``paper`` (and ``_TEXTURE_FLOOR``), divided by
    ``sensitivity``; opened by a ``_TEXTURE_SIZE`` square, so that the thin
    band along any sharp edge (a product's outline) is not taken.
    """
    off = np.empty_like(lum)
    _off_median(lum, off)
    fine = ndi.uniform_filter(off, 5)
    usual = float(np.percentile(fine[paper], 99)) if paper.any() else 0.0
    busy = fine > max(_TEXTURE * usual, _TEXTURE_FLOOR) / sensitivity
    return _dilate(_erode(busy, _TEXTURE_SIZE), _TEXTURE_SIZE)


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
    split: bool = False,
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
        contact shows (:func:`napari_boostseg.split.split_touching`); it may
        also cut a single product of two colours in two. Default False.

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
    reference = np.median(small[border], axis=0).astype(np.float32)
    # The surface is smooth: it is fitted, and kept, on a grid g times coarser
    # than the working copy; per-pixel passes read it through bilinear taps.
    g = 4
    gh, gw = -(-h // g), -(-w // g)
    taps = _stretch_taps((gh, gw), (h, w))
    surface = np.broadcast_to(reference, (gh, gw, c)).astype(np.float32)
    error = np.empty((h, w), np.float32)
    inliers = np.empty((h, w), bool)
    hist = np.zeros(1 << 16, np.int64)
    _errors(small, surface, *taps, border, error, hist)  # all pixels against the border's colour
    paper = float(reference.mean())
    limit = max(_FIRST_FLOOR, _FIRST_LIMIT * min(1.0, paper / _LIGHT_PAPER))
    ceiling = np.inf
    if paper >= _BRIGHT_PAPER:
        ceiling = float(np.percentile(small[border].mean(axis=1), 95)) + _BRIGHTEST * paper
    _leave_out(small, reference, np.float32(max(_HUE * limit, _HUE_FLOOR)), np.float32(ceiling), error)
    noise = 0.02
    cells = np.minimum(g, h - np.arange(0, h, g))[:, None] * np.minimum(g, w - np.arange(0, w, g))[None, :]
    for _ in range(3):
        sums = np.zeros((gh, gw, c), np.float32)
        counts = np.zeros((gh, gw), np.float32)
        _inlier_grid(small, error, np.float32(limit), g, inliers, sums, counts)
        if counts.sum() < 50:
            break
        # Each grid cell averages its backdrop pixels only: a product in the
        # cell must not pull the surface towards it.
        weight = (counts / cells).astype(np.float32)
        grid = sums / np.maximum(counts, 1)[..., None]
        surface = _fit_surface(grid, weight, 0.04 * short / g)
        hist[:] = 0
        _errors(small, surface, *taps, inliers, error, hist)
        noise = _robust_noise(hist)
        limit = max(4 * noise, 6 / 255)
    inliers = error < limit
    if inliers.any():
        counted = np.zeros((c, 4096), np.int64)
        _channel_hist(small, inliers, counted)
        colour = np.array([_hist_median(counted[k]) for k in range(c)], np.float32)
    else:
        colour = np.median(small.reshape(-1, c), axis=0)
    noise_levels = noise * 255
    border_fit = float(inliers[border].mean())

    def verdict(plain: bool, reason: str, labels=None, fraction: float = 0.0, count: int = 0) -> BackdropResult:
        labels = np.zeros((H, W), np.int32) if labels is None else labels
        return BackdropResult(labels, plain, reason, colour.astype(np.float32), noise_levels,
                              fraction, border_fit, f, count, _describe(colour))

    if border_fit < 0.5:
        return verdict(False, f"no plain backdrop: only {border_fit:.0%} of the frame's border "
                       "follows a smooth backdrop (a street or lifestyle photo?)")
    if noise_levels > _MAX_NOISE:
        return verdict(False, f"no plain backdrop: the background varies by {noise_levels:.1f} "
                       "levels around a smooth surface (textured, not seamless paper)")

    # 2. Departure from the backdrop: brightness and colour, in noise units;
    # 3. and what may be shadow: a shadow darkens, keeps the colour, keeps at
    # least ~45 % of the light and is narrow beside its product.
    level = _departure_level(noise, sensitivity)
    bright = np.empty((h, w), np.float32)
    chroma = np.empty((h, w), np.float32)
    departs = np.empty((h, w), bool)
    firm = np.empty((h, w), bool)
    shadow_like = np.empty((h, w), bool)
    lum = np.empty((h, w), np.float32)
    _departure(small, surface, *taps, np.float32(level), np.float32(_BRIGHTER), bright, chroma, departs, firm,
               shadow_like, lum)
    dark_backdrop = float(colour.mean()) < 0.15
    keeps_off = None
    firm_level = level  # the departure that marks a seed
    if f < 4 and not dark_backdrop:
        # Fewer than 4x4 photo pixels stand behind each working pixel (a photo
        # under about 2100 px), and their noise hides a faint product (white
        # on white) that departs in a larger photo of the same scene. What
        # departs is measured again on a copy blurred down to the noise of a
        # larger photo; edges and texture keep the sharper copy's brightness,
        # and its departures keep the paper's passages open (the faint ones
        # close a neckline's opening). (On black paper the noise is low, and
        # dark products depart only at their fine creases.)
        keeps_off = departs.copy()
        blurred = ndi.gaussian_filter(small, (_NOISE_BLUR[f],) * 2 + (0,))
        hist[:] = 0
        _errors(blurred, surface, *taps, inliers, error, hist)
        faint_level = firm_level = _departure_level(_robust_noise(hist), sensitivity)
        _departure(blurred, surface, *taps, np.float32(faint_level), np.float32(_BRIGHTER), bright, chroma,
                   departs, firm, shadow_like, np.empty_like(lum))
        # A seed brighter than the surface keeps the sharper copy's margin:
        # what lifts the paper there is the fit's dip near products, not noise.
        firm = _darker_or_coloured(bright, chroma, faint_level) | (bright > _BRIGHTER * level)
    departs = _dilate(_erode(departs))
    # Fabric has a fine texture (weave, knit, creases) that even a white
    # garment on white paper keeps; the paper has only the camera's noise.
    textured = _textured(lum, border & inliers, sensitivity)
    departs |= textured
    keeps_off = departs if keeps_off is None else _dilate(_erode(keeps_off)) | textured

    # 3. Seeds: what a shadow cannot be.
    if dark_backdrop:
        shadow_like[:] = False
    seeds = _erode(departs & firm & ~shadow_like) | _erode(textured)
    gradient = _slope(lum, 0.7)
    sharp = gradient > 8 * max(level, 2 / 255)
    seeds |= _striped(sharp, small)
    # A departing region with no such seed (a grey product on white, all of it
    # shadow-like) still counts where it is deeper than any shadow is wide, or
    # when a sharp edge outlines it. So does a broad shadow-like part of a
    # seeded region (a grey top around its dark print): the print's seed
    # alone lost the top to the paper in the flood. Narrow ones (the shadowed
    # paper between trouser legs) are left to the flood.
    parts, n = ndi.label(departs, _EIGHT)
    if n:
        has_seed = np.bincount(parts[seeds], minlength=n + 1) > 0
        inner = _erode(departs)
        rim = departs & ~inner
        rim_sharp = np.bincount(parts[rim], weights=sharp[rim], minlength=n + 1)
        rim_all = np.maximum(np.bincount(parts[rim], minlength=n + 1), 1)
        seedless = ~has_seed
        seedless[0] = False
        # Seeded where deep: the parts of seedless regions, and broad grey parts.
        wanted = seedless[parts] | (_depth(departs & shadow_like) > _BROAD * short)
        if wanted.any():
            seeds |= wanted & (_depth(departs) > _DEEP * short)
        if seedless.any():
            outlined = seedless & (rim_sharp / rim_all > _OUTLINED)
            seeds |= outlined[parts] & inner
    # A grey part of a product (a white skirt's folds on white paper) only
    # darkens, as a shadow does; but a shadow fades into the paper, and the
    # product's edge against the paper is sharp. Grey regions are taken apart at
    # sharp edges (a skirt from the drop shadow beside it), and those whose rim
    # against the paper is mostly sharp are seeded.
    greyish = departs & shadow_like
    greys, n_greys = ndi.label(greyish & ~sharp)
    if n_greys:
        owner = ndi.maximum_filter(greys, 5)
        facing = (owner > 0) & (greys == 0) & _dilate(~departs)
        facing_sharp = np.bincount(owner[facing], weights=sharp[facing], minlength=n_greys + 1)
        facing_all = np.bincount(owner[facing], minlength=n_greys + 1)
        edged = (facing_sharp > _OUTLINED * facing_all) & (facing_all >= 8)
        # A grey product in its own soft shadow (a scarf on white paper) faces
        # no paper at all: it lies in the shadow, outlined all round by a sharp
        # edge, which a shadow or the shadowed paper between a product's parts
        # (a gap between trouser legs) is not, or not at a product's size.
        around = (owner > 0) & (greys == 0)
        around_all = np.bincount(owner[around], minlength=n_greys + 1)
        around_sharp = np.bincount(owner[around], weights=sharp[around], minlength=n_greys + 1)
        around_grey = np.bincount(owner[around], weights=greyish[around], minlength=n_greys + 1)
        enclosed = (
            (facing_all < 8)
            & (around_sharp > _OUTLINED * around_all)
            & (around_grey > 0.5 * around_all)
            & (np.bincount(greys.ravel(), minlength=n_greys + 1) >= _ENCLOSED * h * w)
        )
        enclosed[np.unique(greys[border])] = False
        edged |= enclosed
        edged[0] = False
        seeds |= edged[greys] & _erode(greyish)
    # Sure backdrop: the backdrop-coloured region that reaches the frame's border
    # through passages at least _PASSAGE wide (a product that departs little
    # inside, dark on black, must not let the backdrop in through a gap in its
    # outline), and holes (a handle's): enclosed regions that look like the paper,
    # at least half of them unshadowed or paper in the product's shadow (see
    # _SHADOWED_RISE), outlined by a sharp edge all round and small beside their
    # product. A patch of fabric that happens to match the paper fades into the
    # fabric around it (a soft rim), or is most of its product.
    calm, m = ndi.label(~departs)
    opened, n_opened = ndi.label(~_dilate(keeps_off, _PASSAGE))
    sure_backdrop = _reaching(opened, n_opened, border)[opened] & ~_dilate(departs, 5)
    quiet = ~departs | (shadow_like & ~sharp)
    holes, k = ndi.label(quiet)
    if k:
        area = np.bincount(holes.ravel(), minlength=k + 1)
        paperlike = np.bincount(holes.ravel(), weights=(~departs).ravel(), minlength=k + 1)
        solid, _ = ndi.label(~_reaching(calm, m)[calm], _EIGHT)
        solid_area = np.bincount(solid.ravel())
        host = np.zeros(k + 1, np.int64)
        host[holes.ravel()] = solid_area[solid.ravel()]
        enclosed_hole = (area >= _SHADED_HOLE * h * w) & (_ring_share(holes, k, sharp) > 0.5) & (area < 0.35 * host)
        enclosed_hole[np.unique(holes[border])] = False
        enclosed_hole[0] = False
        mostly_paper = paperlike >= 0.5 * area
        light = enclosed_hole & mostly_paper & (area >= _LIGHT_HOLE * h * w)
        hole = light.copy()
        if hole.any() and not dark_backdrop:
            hole &= _shaded_rim(holes, k, np.flatnonzero(hole), bright / level)
        shaded = enclosed_hole & ~mostly_paper
        if shaded.any():
            hole |= _in_shadow(holes, k, np.flatnonzero(shaded), bright / level)
        if hole.any():
            sure_backdrop |= _erode(hole[holes], 5)
    # A light product on paper of its own colour departs only along its rim
    # (its shading, the shadow line): its inside looks like the paper, and
    # the paper reaches it through an opening of the rim (a neckline). A
    # closing by _SEAL seals such openings; a region it encloses that is
    # most of what the sealed rim encloses (unlike a handle's hole, small
    # beside its product) is the product's inside, not backdrop.
    inside = _sealed_inside(departs)
    sure_backdrop &= ~inside
    if paper >= _BRIGHT_PAPER:
        # Seeds marked by brightness alone, at the level of the paper beside
        # them, are paper between a product's parts (see _PAPER_LEVEL).
        marked = _darker_or_coloured(bright, chroma, firm_level) | textured
        seeds &= ~_at_paper_level(seeds & (bright > 0) & ~marked, lum, sure_backdrop)
    seeds |= _erode(inside, 5)
    markers = np.zeros((h, w), np.int32)
    markers[sure_backdrop] = 1
    markers[seeds] = 2
    landscape = gradient.astype(np.float32)
    product = flood(landscape, markers) > 0
    # A crisp drop shadow that the product's flood took through a weak stretch
    # of its edge goes back to the backdrop (see _CAST_BAND).
    cast = _cast_shadows(product, seeds | (departs & ~shadow_like), greyish, bright, chroma, lum, gradient,
                         sharp, _CAST_BAND * short)
    if cast.any():
        markers[cast] = 1
        product = flood(landscape, markers) > 0
    # Thin bands of light fabric (a Breton shirt's white stripes on light grey
    # paper) are too narrow to keep a seed, and the flood gives them to the
    # backdrop, cutting the product into strips: a closing bridges them.
    product = _close(product, _BRIDGE)

    # 4. One id per separate product; specks out, pinholes in, pieces joined.
    parts, n = ndi.label(product, _EIGHT)
    sizes = np.bincount(parts.ravel(), minlength=n + 1)[1:]
    keep = np.flatnonzero(sizes >= max(min_area * h * w, 4)) + 1
    order = keep[np.argsort(-sizes[keep - 1], kind="stable")]
    relabel = np.zeros(n + 1, np.int32)
    relabel[order] = np.arange(1, order.size + 1)
    small_labels = relabel[parts]
    # Pinholes: small gaps that reach no side of the frame.
    pin, m = ndi.label(small_labels == 0)
    if m:
        pin_sizes = np.bincount(pin.ravel(), minlength=m + 1)
        tiny = (pin_sizes < max(4, 0.00005 * h * w)) & ~_reaching(pin, m)
        tiny[0] = False
        # Each pinhole takes the id of the nearest product pixel: the product around it.
        boxes = ndi.find_objects(pin)
        for k in np.flatnonzero(tiny):
            ys, xs = boxes[k - 1]
            box = (slice(max(ys.start - 2, 0), ys.stop + 2), slice(max(xs.start - 2, 0), xs.stop + 2))
            view = small_labels[box]
            _, (iy, ix) = ndi.distance_transform_edt(view == 0, return_indices=True)
            hole = pin[box] == k
            view[hole] = view[iy[hole], ix[hole]]
    # Small pieces beside a product, cut off from it, are that product.
    small_labels = _join_pieces(small_labels, _PIECE_REACH * max(h, w), _PIECE)
    fraction = float((small_labels == 0).mean())
    if split and fraction >= 0.2:
        from .split import split_touching  # off by default: its imports only when asked

        small_labels = split_touching(small_labels, small)
    if fraction < 0.2:
        return verdict(False, f"no plain backdrop: only {fraction:.0%} of the frame is backdrop")
    covered, second, sides = _frame_contact(small_labels > 0)
    if (covered > _MAX_BORDER and sides > 1) or second > _SECOND_SIDE:
        where = f"{covered:.0%} of the frame's border" if covered > _MAX_BORDER else (
            f"{second:.0%} of a second side of the frame")
        return verdict(False, f"no plain backdrop: what stands out from it covers {where} "
                       "(a backdrop surrounds its products; a street or lifestyle photo?)", fraction=fraction)
    labels = _upsample_labels(small_labels, f, (H, W))
    count = int(small_labels.max())
    reason = f"{_text.counted(count, 'object')} on a {_describe(colour)}" if count else (
        "a plain backdrop with nothing on it")
    return verdict(True, reason, labels, fraction, count)


def _cast_shadows(
    product: np.ndarray,
    firm: np.ndarray,
    greyish: np.ndarray,
    bright: np.ndarray,
    chroma: np.ndarray,
    lum: np.ndarray,
    gradient: np.ndarray,
    sharp: np.ndarray,
    band: float,
) -> np.ndarray:
    """Pixels of the crisp drop shadows in ``product`` that are sure backdrop (see _CAST_BAND).

    ``firm`` is what is surely product (seeds, and what departs other than as
    a shadow does); ``greyish`` what departs as a shadow does; ``bright`` and
    ``chroma`` the brightness and colour change from the backdrop surface
    (0-1 scale); ``band`` the widest shadow, in working pixels.
    """
    cast = np.zeros_like(product)
    shade = product & greyish & ~firm
    regions, n = ndi.label(shade)
    if not n:
        return cast

    def mean(where: np.ndarray, values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        count = np.bincount(regions[where], minlength=n + 1)
        return np.bincount(regions[where], weights=values[where], minlength=n + 1) / np.maximum(count, 1), count

    dark = -bright
    near_product, near_paper = _dilate(firm), _dilate(~product)
    by_product, n_product = mean(shade & near_product, dark)
    by_paper, n_paper = mean(shade & near_paper, dark)
    middle, _ = mean(shade & ~near_product & ~near_paper, dark)
    colour, _ = mean(shade, chroma)
    darkening, _ = mean(shade, dark)
    fall = by_product - by_paper
    shadow = (
        (n_product >= 8)
        & (n_paper >= 8)
        & (fall > _CAST_FALL)
        & (by_product > _CAST_RATIO * by_paper)
        & (middle > by_paper + _CAST_MIDDLE * fall)
        & (colour < _CAST_HUE * darkening)
    )
    shadow[0] = False
    if not shadow.any():
        return cast
    # The few regions left are read in their bounding box, with a margin that
    # keeps the filters' results there as on the whole frame.
    kept = shadow[regions]
    rows, cols = np.flatnonzero(kept.any(axis=1)), np.flatnonzero(kept.any(axis=0))
    m = 12
    box = (slice(max(rows[0] - m, 0), rows[-1] + m + 1), slice(max(cols[0] - m, 0), cols[-1] + m + 1))
    regions, kept, product, firm, lum, gradient, sharp = (
        a[box] for a in (regions, kept, product, firm, lum, gradient, sharp))
    regions = np.where(kept, regions, 0)
    # Its outline on the paper's side: a ramp, not a step.
    step = sharp & (gradient > _STEP * _slope(lum, _STEP_SIGMA))
    outline = _dilate(kept & _dilate(~product)) & ~kept & _dilate(kept)
    owner = ndi.maximum_filter(regions, 3)
    steps = np.bincount(owner[outline], weights=step[outline], minlength=n + 1)
    n_outline = np.bincount(owner[outline], minlength=n + 1)
    shadow &= steps < _CAST_STEPS * n_outline
    # As smooth as a shadow on paper, not textured as a fabric is, where it would be given back.
    given = kept & ~_dilate(firm, 2 * _CAST_MARGIN + 1)
    ys, xs = np.nonzero(given)
    padded = np.pad(lum, 1, mode="edge")
    around = np.stack([padded[ys + dy, xs + dx] for dy in range(3) for dx in range(3)])
    rough = np.abs(lum[ys, xs] - np.median(around, axis=0))
    count = np.bincount(regions[ys, xs], minlength=n + 1)
    shadow &= np.bincount(regions[ys, xs], weights=rough, minlength=n + 1) < _CAST_ROUGH * np.maximum(count, 1)
    # A band, not a product's face.
    deepest = np.zeros(n + 1)
    np.maximum.at(deepest, regions[kept], _depth(kept)[kept])
    shadow &= deepest <= band
    cast[box] = shadow[regions] & given
    return cast


def _join_pieces(labels: np.ndarray, reach: float, share: float) -> np.ndarray:
    """``labels`` with each region within ``reach`` pixels of one ``1 / share`` times its
    size or more given to the largest such region, ids again 1..n by size."""
    n = int(labels.max())
    area = np.bincount(labels.ravel(), minlength=n + 1)
    if n < 2 or (area[1:] > share * area[1:].max()).all():  # no region small enough to be a piece
        return labels
    out = labels.copy()
    r = int(np.ceil(reach))
    joined = False
    for k, box in reversed(list(enumerate(ndi.find_objects(out), start=1))):  # smallest first
        if box is None or area[k] > share * area.max():
            continue
        box = tuple(slice(max(0, b.start - r), b.stop + r) for b in box)
        view = out[box]
        near = ndi.distance_transform_edt(view != k) <= reach
        hits = np.unique(view[near])
        hits = hits[(hits > 0) & (hits != k)]
        hits = hits[area[k] <= share * area[hits]]
        if hits.size:
            to = hits[np.argmax(area[hits])]
            out[out == k] = to
            area[to] += area[k]
            area[k] = 0
            joined = True
    if not joined:
        return labels
    order = np.argsort(-area[1:], kind="stable")
    order = order[area[1:][order] > 0] + 1
    relabel = np.zeros(n + 1, np.int32)
    relabel[order] = np.arange(1, order.size + 1)
    return relabel[out]


def _frame_contact(product: np.ndarray) -> tuple[float, float, int]:
    """Share of the frame's border on products, of the second side of the most
    covered pair of sides other than the top and the bottom, and the number of
    sides products reach (more than ``_ONE_SIDE`` of the side)."""
    sides = [product[0], product[-1], product[:, 0], product[:, -1]]
    covered = sum(int(s.sum()) for s in sides) / sum(s.size for s in sides)
    top, bottom, left, right = shares = [float(s.mean()) for s in sides]
    pairs = [(top, left), (top, right), (bottom, left), (bottom, right), (left, right)]
    reached = sum(share > _ONE_SIDE for share in shares)
    return float(covered), max(min(pair) for pair in pairs), reached


def _describe(colour: np.ndarray) -> str:
    """A few words for a backdrop colour, e.g. 'white backdrop (level 252 of 255)'."""
    level = float(colour.mean()) * 255
    if colour.size == 3 and float(np.ptp(colour)) * 255 > 20:
        r, g, b = (int(round(v * 255)) for v in colour)
        return f"coloured backdrop (RGB {r}, {g}, {b})"
    name = "white" if level > 245 else "light grey" if level > 200 else "grey" if level > 60 else "black"
    return f"{name} backdrop (level {level:.0f} of 255)"
