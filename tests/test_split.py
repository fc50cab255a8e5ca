"""Splitting a region of touching products into one region per product."""

from __future__ import annotations

import numpy as np
import pytest
from skimage.draw import disk, polygon

from napari_boostseg.split import SplitParams, split_by_detections, split_touching

BACKDROP = (0.95, 0.95, 0.94)


def _photo(shape=(240, 360)):
    rng = np.random.default_rng(0)
    image = np.empty(shape + (3,), np.float32)
    image[:] = BACKDROP
    return image, rng


def _paint(image, mask, colour, rng):
    texture = rng.normal(0, 0.02, (int(mask.sum()), 1)).astype(np.float32)
    image[mask] = np.clip(np.asarray(colour, np.float32) + texture, 0, 1)


def _shirt(shape, top, left, size):
    """A T-shirt outline: a body and two sleeves."""
    mask = np.zeros(shape, bool)
    s = size
    ys = np.array([0, 0, 0.1, 0.35, 0.5, 0.32, 1, 1, 0.32, 0.5, 0.35, 0.1]) * s + top
    xs = np.array([0.35, 0.65, 0.7, 1, 0.88, 0.78, 0.8, 0.2, 0.22, 0.12, 0, 0.3]) * s + left
    rr, cc = polygon(ys, xs, shape)
    mask[rr, cc] = True
    return mask


def test_two_touching_products_of_different_colours_become_two():
    image, rng = _photo()
    a = _shirt(image.shape[:2], 30, 20, 180)
    b = _shirt(image.shape[:2], 40, 190, 170)
    b &= ~a
    assert (a & np.roll(b, -1, axis=1)).any()  # they touch (sleeve on sleeve)
    _paint(image, a, (0.15, 0.25, 0.55), rng)
    _paint(image, b, (0.75, 0.2, 0.15), rng)
    labels = split_touching((a | b).astype(np.int32), image)
    assert labels.max() == 2
    for truth in (a, b):
        ids, counts = np.unique(labels[truth], return_counts=True)
        assert counts.max() > 0.95 * truth.sum()
    # Numbered by size, largest first, and nothing added outside the region.
    sizes = np.bincount(labels.ravel())[1:]
    assert sizes[0] >= sizes[1] and ((labels > 0) == (a | b)).all()


@pytest.mark.parametrize(
    "width, offset",
    [(60, 60), (80, 40)],  # long products (breadth 0.45); a shallow step at the contact (notch 0.25)
)
def test_two_long_products_side_by_side_become_two(width, offset):
    # Two pairs of trousers laid side by side, touching along their length,
    # one a little lower: a long, straight contact with shallow steps at its
    # ends. Both were once judged too narrow (breadth under 0.5) or too
    # shallowly notched (under 0.3) to be products, and stayed one object.
    image, rng = _photo((400, 260))
    yy, xx = np.mgrid[:400, :260]
    a = (xx >= 30) & (xx < 30 + width) & (yy >= 20) & (yy < 320)
    b = (xx >= 30 + width) & (xx < 30 + 2 * width) & (yy >= 20 + offset) & (yy < 320 + offset)
    _paint(image, a, (0.2, 0.3, 0.2), rng)
    _paint(image, b, (0.8, 0.75, 0.6), rng)
    labels = split_touching((a | b).astype(np.int32), image)
    assert labels.max() == 2
    for truth in (a, b):
        assert np.unique(labels[truth], return_counts=True)[1].max() > 0.95 * truth.sum()


def test_one_colour_garment_with_a_narrow_part_stays_one():
    # Sleeves, a strap joined by a narrow bridge, trousers: narrow parts, one colour.
    image, rng = _photo()
    shape = image.shape[:2]
    shirt = _shirt(shape, 30, 20, 180)
    bridge = np.zeros(shape, bool)
    bridge[100:106, 190:230] = True
    bag = np.zeros(shape, bool)
    bag[disk((110, 280), 60, shape=shape)] = True
    garment = shirt | bridge | bag
    _paint(image, garment, (0.3, 0.5, 0.3), rng)
    labels = split_touching(garment.astype(np.int32), image)
    assert labels.max() == 1 and ((labels > 0) == garment).all()


def test_two_colour_garment_with_no_notch_stays_one():
    # A skirt whose yoke is another colour: the colours meet along a straight
    # band across the garment, not between two notches of its outline.
    image, rng = _photo()
    skirt = np.zeros(image.shape[:2], bool)
    rr, cc = polygon([20, 20, 220, 220], [140, 220, 300, 60], skirt.shape)
    skirt[rr, cc] = True
    yoke = skirt.copy()
    yoke[90:] = False
    _paint(image, skirt & ~yoke, (0.2, 0.3, 0.6), rng)
    _paint(image, yoke, (0.8, 0.7, 0.2), rng)
    labels = split_touching(skirt.astype(np.int32), image)
    assert labels.max() == 1


def test_separate_regions_keep_one_id_each_and_empty_stays_empty():
    image, rng = _photo()
    labels = np.zeros(image.shape[:2], np.int32)
    labels[20:60, 20:60] = 1
    labels[100:200, 200:300] = 2
    _paint(image, labels > 0, (0.2, 0.2, 0.2), rng)
    out = split_touching(labels, image)
    assert out.max() == 2 and out[150, 250] == 1 and out[40, 40] == 2
    assert split_touching(np.zeros_like(labels), image).max() == 0


def test_sizes_must_match():
    image, _ = _photo()
    with pytest.raises(ValueError, match="differ in size"):
        split_touching(np.zeros((10, 10), np.int32), image)


def test_max_parts_limits_the_split():
    image, rng = _photo()
    a = _shirt(image.shape[:2], 30, 20, 180)
    b = _shirt(image.shape[:2], 40, 190, 170) & ~a
    _paint(image, a, (0.15, 0.25, 0.55), rng)
    _paint(image, b, (0.75, 0.2, 0.15), rng)
    labels = split_touching((a | b).astype(np.int32), image, SplitParams(max_parts=1))
    assert labels.max() == 1


# Splitting by a detector's masks (split_by_detections): the masks are drawn here,
# as a model trained on studio photos would give them.


def _pair(colour_b=(0.7, 0.1, 0.1)):
    """A blue and a second product touching along a straight line, on light paper, as one region."""
    image = np.full((300, 500, 3), 0.93, np.float32)
    truth = np.zeros((300, 500), np.int32)
    truth[60:240, 60:250] = 1
    truth[80:260, 250:440] = 2
    image[truth == 1] = (0.1, 0.2, 0.6)
    image[truth == 2] = colour_b
    return image, truth


def _detections(truth, shrink=6):
    """Each product's mask, a little off its true outline (a 28x28 head's masks are coarse)."""
    from scipy import ndimage as ndi

    masks = np.stack([ndi.binary_erosion(truth == k, iterations=shrink) for k in (1, 2)])
    return masks, np.array([0.8, 0.6], np.float32)


def test_detections_split_a_region_of_two_touching_products_at_their_edge():
    from napari_boostseg.metrics import match_instances

    image, truth = _pair()
    masks, scores = _detections(truth)
    out = split_by_detections((truth > 0).astype(np.int32), image, masks, scores, ["top", "bag"])
    assert int(out.max()) == 2
    assert min(score for score, _ in match_instances(out, truth)) > 0.97


@pytest.mark.parametrize("height", [1201, 1202, 1203])
def test_detections_split_a_region_cut_by_the_frame_at_any_height(height):
    """A photo reduced by 2 or more whose region ends at the frame's far edge, in a
    partial block: each block's seed is read inside the region (an odd height
    once failed with a broadcast error)."""
    from napari_boostseg.metrics import match_instances

    image = np.full((height, 900, 3), 0.93, np.float32)
    truth = np.zeros((height, 900), np.int32)
    truth[700:, 100:450] = 1
    truth[750:, 450:800] = 2
    image[truth == 1] = (0.1, 0.2, 0.6)
    image[truth == 2] = (0.7, 0.1, 0.1)
    masks, scores = _detections(truth)
    out = split_by_detections((truth > 0).astype(np.int32), image, masks, scores, ["top", "bag"])
    assert int(out.max()) == 2
    assert min(score for score, _ in match_instances(out, truth)) > 0.97


def _jacket_halves(shade: float, sharp: bool, contact_shadow: bool = False, params=None) -> int:
    """Objects found in a blue region seen by two detections, its upper and its lower half."""
    rng = np.random.default_rng(0)
    image = np.full((300, 500, 3), 0.93, np.float32)
    jacket = np.zeros((300, 500), bool)
    jacket[60:240, 60:440] = True
    _paint(image, jacket, (0.1, 0.2, 0.6), rng)
    if sharp:  # the lower half darker from row 150 on
        fall = (np.arange(300) >= 150).astype(np.float32)
    else:  # light falling off over 30 rows around row 150, as across a fold
        fall = np.clip((np.arange(300) - 135) / 30, 0, 1).astype(np.float32)
    image *= (1 - (1 - shade) * fall[:, None] * jacket)[..., None]
    if contact_shadow:  # the upper product lies over the lower one and shades it
        image[150:154, 60:440] *= 0.35
    masks = np.zeros((2, 300, 500), bool)
    masks[0, 66:145, 66:434], masks[1, 155:234, 66:434] = True, True
    out = split_by_detections(
        jacket.astype(np.int32), image, masks, np.array([0.8, 0.6]), ["outerwear", "top"], params
    )
    return int(out.max())


@pytest.mark.parametrize("shade", [1.0, 0.82])
def test_detections_on_the_halves_of_one_product_do_not_split_it(shade):
    """One blue jacket seen by its upper and its lower half: the halves share a long border,
    of one colour, or the lower one in shade (about 11 CIELAB units darker, the light
    falling off across a fold)."""
    assert _jacket_halves(shade, sharp=False) == 1


@pytest.mark.parametrize("contact_shadow", [False, True])
def test_two_products_of_one_colour_with_a_strong_edge_between_them_stay_two(contact_shadow):
    """The same blue region, but its halves meet at a sharp edge, many times as strong as
    the fabric's texture (``apart_edge``): one product laid over another of its colour,
    which it shades, and at times a thin contact shadow along the edge. Two objects;
    with ``apart_edge`` out of reach the halves are joined as one product's."""
    from napari_boostseg.split import DetectionSplitParams

    assert _jacket_halves(0.82, sharp=True, contact_shadow=contact_shadow) == 2
    no_edge_rule = DetectionSplitParams(apart_edge=1e9)
    assert _jacket_halves(0.82, sharp=True, contact_shadow=contact_shadow, params=no_edge_rule) == 1


def test_two_products_of_one_colour_that_meet_briefly_stay_apart():
    """Two blue products that touch at a corner: one colour, but two products."""
    from napari_boostseg.metrics import match_instances

    image = np.full((300, 500, 3), 0.93, np.float32)
    truth = np.zeros((300, 500), np.int32)
    truth[40:200, 60:250] = 1
    truth[180:290, 250:440] = 2  # they meet along 20 px
    image[truth > 0] = (0.1, 0.2, 0.6)
    masks, scores = _detections(truth)
    out = split_by_detections((truth > 0).astype(np.int32), image, masks, scores, ["top", "top"])
    assert int(out.max()) == 2
    assert min(score for score, _ in match_instances(out, truth)) > 0.97


def test_the_two_fronts_of_an_open_jacket_seen_by_two_detections_stay_one():
    """An open jacket: two fronts of one cloth, joined only across the collar, each
    detected as a product of its own. One shaded a little darker than the other,
    they still are one product (a jacket on studio photos was once cut in two so)."""
    from scipy import ndimage as ndi

    rng = np.random.default_rng(4)
    image = np.full((300, 500, 3), 0.93, np.float32)
    jacket = np.zeros((300, 500), bool)
    left, right = jacket.copy(), jacket.copy()
    left[40:270, 60:240], right[40:270, 260:440] = True, True
    jacket = left | right
    jacket[40:100, 240:260] = True  # the collar joins the fronts
    image[jacket] = (0.45, 0.1, 0.15)
    image[right] *= 0.96  # the right front a little in shade
    image += rng.normal(0, 0.01, image.shape).astype(np.float32)
    masks = np.stack([ndi.binary_erosion(m, iterations=6) for m in (left, right)])
    out = split_by_detections(
        jacket.astype(np.int32), image, masks, np.array([0.73, 0.67], np.float32), ["outerwear", "outerwear"]
    )
    assert int(out.max()) == 1


@pytest.mark.parametrize(("name", "score", "parts"), [("person", 0.6, 1), ("person", 0.35, 2), ("top", 0.6, 1)])
def test_a_sure_detection_of_the_whole_region_keeps_it_whole(name, score, parts):
    """A sure person or product over the whole region is one object; an unsure person does not decide."""
    image, truth = _pair()
    masks, scores = _detections(truth)
    whole = truth > 0
    out = split_by_detections(
        whole.astype(np.int32), image, np.concatenate([masks, whole[None]]),
        np.r_[scores, np.float32(score)], ["top", "bottom", name],
    )
    assert int(out.max()) == parts


@pytest.mark.parametrize("beside", [True, False])
def test_a_sure_detection_of_most_of_the_region_does_not_hide_a_product_beside_it(beside):
    """A large product seen whole by one sure detection, and a smaller one laid against
    it seen by another: two objects. A sure detection that lies within the large one
    (a print on it) does not split it."""
    from napari_boostseg.metrics import match_instances

    image = np.full((300, 500, 3), 0.93, np.float32)
    truth = np.zeros((300, 500), np.int32)
    truth[40:280, 40:340] = 1  # 72 000 px
    truth[90:250, 340:460] = 2  # 19 200 px, 21 % of the region
    image[truth == 1], image[truth == 2] = (0.9, 0.88, 0.8), (0.55, 0.35, 0.3)
    masks, _ = _detections(truth)
    if not beside:
        masks[1] = False
        masks[1, 100:260, 100:220] = True
        image[masks[1]] = (0.55, 0.35, 0.3)
    out = split_by_detections(
        (truth > 0).astype(np.int32), image, masks, np.array([0.84, 0.81], np.float32), ["bottom", "outerwear"]
    )
    if beside:
        assert int(out.max()) == 2
        assert min(score for score, _ in match_instances(out, truth)) > 0.97
    else:
        assert int(out.max()) == 1


@pytest.mark.parametrize(("second", "objects"), [((0.1, 0.1, 0.17), 2), ((0.08, 0.08, 0.1), 1)])
def test_two_detections_that_tile_a_region_of_alike_colours_split_it(second, objects):
    """A black pair of shorts seen whole by one sure detection (75 % of the region)
    and a navy sweater laid against it seen by another: their colours fall in the
    same bins, so the colour check alone keeps them one, but the two detections
    tile the region and their colours differ (about 8 CIELAB units): two objects.
    Two halves of one colour (an open jacket's fronts, seen apart) stay one."""
    from napari_boostseg.metrics import match_instances

    image = np.full((300, 500, 3), 0.93, np.float32)
    truth = np.zeros((300, 500), np.int32)
    truth[40:280, 40:340] = 1
    truth[60:260, 340:460] = 2
    rng = np.random.default_rng(1)
    _paint(image, truth == 1, (0.08, 0.08, 0.1), rng)
    _paint(image, truth == 2, second, rng)
    masks, _ = _detections(truth, shrink=3)
    out = split_by_detections(
        (truth > 0).astype(np.int32), image, masks, np.array([0.95, 0.7], np.float32), ["bottom", "outerwear"]
    )
    assert int(out.max()) == objects
    if objects == 2:
        assert min(score for score, _ in match_instances(out, truth)) > 0.97


def test_a_sure_detection_across_two_products_does_not_keep_out_the_detections_of_each():
    """A sure detection over the join of two touching products (35 % of the region)
    overlaps the detection of each: taken best first it kept them out and left the
    region whole. The two that cover most of the region together split it."""
    from napari_boostseg.metrics import match_instances

    image = np.full((300, 500, 3), 0.93, np.float32)
    truth = np.zeros((300, 500), np.int32)
    truth[60:240, 60:250] = 1
    truth[60:240, 250:440] = 2  # same height: no notch, so the colour split alone keeps them one
    rng = np.random.default_rng(2)
    _paint(image, truth == 1, (0.1, 0.2, 0.6), rng)
    _paint(image, truth == 2, (0.7, 0.1, 0.1), rng)
    masks, _ = _detections(truth)
    across = np.zeros((1, 300, 500), bool)
    across[0, 66:234, 185:315] = True
    masks = np.concatenate([across, masks])
    scores = np.array([0.9, 0.7, 0.6], np.float32)
    out = split_by_detections((truth > 0).astype(np.int32), image, masks, scores, ["outerwear", "top", "bottom"])
    assert int(out.max()) == 2
    assert min(score for score, _ in match_instances(out, truth)) > 0.97


@pytest.mark.parametrize(("score", "objects"), [(0.35, 2), (0.25, 1)])
def test_a_product_seen_only_by_a_detection_of_a_third_splits_off(score, objects):
    """A product beside a surely detected one is seen only by a detection of 0.35:
    every detection the product model is asked for (0.3 and up) counts, so the
    region is split; one of 0.25 (which the model does not give) does not."""
    from napari_boostseg.metrics import match_instances

    image, truth = _pair()
    masks, _ = _detections(truth)
    out = split_by_detections(
        (truth > 0).astype(np.int32), image, masks, np.array([0.8, score], np.float32), ["outerwear", "bottom"]
    )
    assert int(out.max()) == objects
    if objects == 2:
        assert min(iou for iou, _ in match_instances(out, truth)) > 0.97


@pytest.mark.parametrize("shared", [0.3, 1.01])
def test_a_sleeve_seen_apart_from_its_garment_does_not_split_it(shared):
    """A navy sweater with a grey bib, seen whole by one sure detection and its sleeve
    by another beside it: the sleeve is of the sweater's cloth, so the sweater stays
    one (the package's sample sweater is seen so). Without the colour check
    (``max_shared_colours`` above 1) the sleeve would be cut off."""
    from napari_boostseg.split import DetectionSplitParams

    image = np.full((300, 500, 3), 0.95, np.float32)
    body = np.zeros((300, 500), bool)
    body[40:280, 60:340] = True
    sleeve = np.zeros((300, 500), bool)
    sleeve[60:250, 340:420] = True
    image[body | sleeve] = (0.1, 0.12, 0.25)
    image[90:260, 130:270] = (0.55, 0.55, 0.52)  # the bib
    from scipy import ndimage as ndi

    masks = np.stack([ndi.binary_erosion(m, iterations=6) for m in (body, sleeve)])
    out = split_by_detections(
        (body | sleeve).astype(np.int32), image, masks, np.array([0.72, 0.84], np.float32), ["top", "outerwear"],
        DetectionSplitParams(max_shared_colours=shared),
    )
    assert int(out.max()) == (1 if shared < 1 else 2)


@pytest.mark.parametrize(("sleeve", "objects"), [(45, 1), (60, 2)])
def test_parts_that_share_a_very_long_border_are_one_product_whatever_their_colours(sleeve, objects):
    """A navy jacket with tan sleeves, each part seen by a detection of its own: the
    sleeves run along the body's whole height (2.3 times the square root of a 45 px
    sleeve's area), so the jacket stays one. Two products laid side by side along
    their whole length (trousers four times as long as wide, 2.0) stay two."""
    from scipy import ndimage as ndi

    image = np.full((300, 500, 3), 0.95, np.float32)
    parts = np.zeros((300, 500), np.int32)
    if objects == 1:
        parts[30:270, 190 - sleeve : 190] = 1
        parts[30:270, 190:310] = 2
        parts[30:270, 310 : 310 + sleeve] = 3
        image[parts == 2] = (0.1, 0.12, 0.3)
        image[(parts == 1) | (parts == 3)] = (0.75, 0.6, 0.45)
    else:
        parts[30:270, 190 - sleeve : 190] = 1
        parts[30:270, 190 : 190 + sleeve] = 2
        image[parts == 1], image[parts == 2] = (0.1, 0.12, 0.3), (0.75, 0.6, 0.45)
    n = int(parts.max())
    masks = np.stack([ndi.binary_erosion(parts == k, iterations=4) for k in range(1, n + 1)])
    scores = np.linspace(0.8, 0.6, n).astype(np.float32)
    out = split_by_detections((parts > 0).astype(np.int32), image, masks, scores, ["outerwear"] * n)
    assert int(out.max()) == objects


@pytest.mark.parametrize(("right", "objects"), [((0.15, 0.35, 0.4), 1), ((0.7, 0.1, 0.1), 2)])
def test_the_fronts_of_an_open_jacket_over_a_shirt_stay_one_with_it(right, objects):
    """An open jacket over a shirt, each front and the shirt seen by a detection. The
    shirt meets the left front along its whole height (2.4 times the square root of
    its area: one product) and the right front along less (2.0); the right front is
    of the left one's cloth, so it joins the two as well (it was cut off alone, the
    jacket in halves). A red product in its place is another product and stays apart."""
    from scipy import ndimage as ndi

    rng = np.random.default_rng(5)
    image = np.full((300, 500, 3), 0.95, np.float32)
    parts = np.zeros((300, 500), np.int32)
    parts[30:270, 130:220] = 1  # the left front
    parts[30:270, 220:260] = 2  # the shirt
    parts[70:270, 260:350] = 3  # the right front, or a red product against the shirt
    image[parts == 1], image[parts == 2], image[parts == 3] = (0.15, 0.35, 0.4), (0.85, 0.85, 0.8), right
    image = np.clip(image + rng.normal(0, 0.05, image.shape), 0, 1).astype(np.float32)  # textured cloth
    masks = np.stack([ndi.binary_erosion(parts == k, iterations=4) for k in (1, 2, 3)])
    scores = np.array([0.8, 0.7, 0.75], np.float32)
    out = split_by_detections((parts > 0).astype(np.int32), image, masks, scores, ["outerwear", "top", "outerwear"])
    assert int(out.max()) == objects


@pytest.mark.parametrize(("offset", "objects"), [(0, 1), (40, 2)])
def test_products_side_by_side_along_a_very_long_border_stay_two(offset, objects):
    """Two narrow products laid against each other along most of their length
    (2.3 times the square root of one's area), the second set lower: the line
    between them ends in notches of the outline and their hulls overlap
    little, so they are two products. Aligned end to end (no notch), their
    outline is that of one garment of two colours and they stay one."""
    from scipy import ndimage as ndi

    image = np.full((340, 300, 3), 0.95, np.float32)
    parts = np.zeros((340, 300), np.int32)
    parts[30 : 30 + 260, 80:115] = 1
    parts[30 + offset : 30 + offset + 260, 115:150] = 2
    image[parts == 1], image[parts == 2] = (0.1, 0.12, 0.3), (0.75, 0.6, 0.45)
    masks = np.stack([ndi.binary_erosion(parts == k, iterations=4) for k in (1, 2)])
    out = split_by_detections(
        (parts > 0).astype(np.int32), image, masks, np.array([0.8, 0.7], np.float32), ["bottom", "bottom"]
    )
    assert int(out.max()) == objects


def test_a_small_product_against_a_large_one_is_split_off():
    """A pair of socks (7 % of the region) laid against a coat, each seen by a sure
    detection: two objects."""
    from napari_boostseg.metrics import match_instances

    image = np.full((300, 500, 3), 0.93, np.float32)
    truth = np.zeros((300, 500), np.int32)
    truth[30:290, 40:340] = 1  # 78 000 px
    truth[130:230, 340:400] = 2  # 6 000 px, 7 % of the region
    image[truth == 1], image[truth == 2] = (0.2, 0.3, 0.5), (0.8, 0.3, 0.2)
    masks, _ = _detections(truth, shrink=3)
    out = split_by_detections(
        (truth > 0).astype(np.int32), image, masks, np.array([0.9, 0.7], np.float32), ["outerwear", "footwear"]
    )
    assert int(out.max()) == 2
    assert min(score for score, _ in match_instances(out, truth)) > 0.95


@pytest.mark.parametrize("beside", [True, False])
def test_a_product_seen_as_a_person_does_not_hide_a_product_beside_it(beside):
    """A dress that the model takes for a person (sure) and for a dress (unsure), and
    a jacket laid against it seen by a sure detection: two objects. Without the
    jacket's detection the person keeps the region whole."""
    from napari_boostseg.metrics import match_instances

    image = np.full((300, 500, 3), 0.93, np.float32)
    truth = np.zeros((300, 500), np.int32)
    truth[30:290, 40:300] = 1
    truth[70:250, 300:460] = 2
    image[truth == 1], image[truth == 2] = (0.85, 0.8, 0.7), (0.2, 0.25, 0.4)
    masks, _ = _detections(truth)
    masks = np.concatenate([masks[:1], masks])  # the dress twice: as a person and as a dress
    scores = np.array([0.79, 0.45, 0.8 if beside else 0.3], np.float32)
    out = split_by_detections((truth > 0).astype(np.int32), image, masks, scores, ["person", "dress", "outerwear"])
    if beside:
        assert int(out.max()) == 2
        assert min(score for score, _ in match_instances(out, truth)) > 0.95
    else:
        assert int(out.max()) == 1


@pytest.mark.parametrize(("score", "objects"), [(0.44, 1), (0.25, 2)])
def test_an_unsure_detection_of_the_whole_region_keeps_its_parts_together(score, objects):
    """One product of two colours meeting along a short line, each part seen by a
    sure detection, and the whole seen by an unsure one (0.3 or more) over 90 %
    of the region: one object. Under ``min_score`` the whole does not count."""
    from scipy import ndimage as ndi

    image = np.full((320, 480, 3), 0.6, np.float32)
    parts = np.zeros((320, 480), np.int32)
    parts[60:200, 60:200] = 1
    parts[200:260, 100:420] = 2
    image[parts == 1], image[parts == 2] = (0.85, 0.45, 0.6), (0.95, 0.7, 0.5)
    whole = ndi.binary_erosion(parts > 0, iterations=2)
    masks = np.stack([ndi.binary_erosion(parts == k, iterations=4) for k in (1, 2)] + [whole])
    scores = np.array([0.9, 0.55, score], np.float32)
    out = split_by_detections((parts > 0).astype(np.int32), image, masks, scores, ["bottom", "outerwear", "top"])
    assert int(out.max()) == objects


def test_parts_of_one_colour_are_joined_and_the_other_product_stays_apart():
    """Two detections on one blue product (its two halves) beside a red one: two objects, not three or one."""
    from napari_boostseg.metrics import match_instances

    image, truth = _pair()
    halves = np.zeros((3, *truth.shape), bool)
    halves[0, 65:145, 65:245] = True  # upper half of the blue product
    halves[1, 155:235, 65:245] = True  # lower half
    halves[2] = _detections(truth)[0][1]  # the red product
    out = split_by_detections(
        (truth > 0).astype(np.int32), image, halves, np.array([0.9, 0.8, 0.7], np.float32), ["top", "top", "bag"]
    )
    assert int(out.max()) == 2
    assert min(score for score, _ in match_instances(out, truth)) > 0.97


@pytest.mark.parametrize("case", ["weak", "unsure", "outside", "small", "overlapping"])
def test_detections_that_do_not_each_hold_a_product_do_not_split(case):
    image, truth = _pair()
    masks, scores = _detections(truth)
    if case == "weak":
        scores = np.array([0.8, 0.25], np.float32)  # under min_score
    elif case == "unsure":  # neither detection is sure of its product
        scores = np.array([0.45, 0.45], np.float32)
    elif case == "outside":  # the second detection lies mostly beside the region
        masks[1] = np.roll(masks[1], 120, axis=0)
    elif case == "small":  # a pocket: under 5 % of the region
        masks[1] = False
        masks[1, 100:140, 300:360] = True
    else:  # the same product seen twice
        masks[1] = masks[0]
    out = split_by_detections((truth > 0).astype(np.int32), image, masks, scores, ["top", "bag"])
    assert int(out.max()) == 1


def test_split_by_detections_keeps_other_regions_and_checks_shapes():
    image, truth = _pair()
    masks, scores = _detections(truth)
    labels = (truth > 0).astype(np.int32)
    labels[5:30, 5:30] = 2  # a separate product that no detection covers
    out = split_by_detections(labels, image, masks, scores, ["top", "bag"])
    assert int(out.max()) == 3 and (out[5:30, 5:30] == 2).all()
    assert np.array_equal(split_by_detections(labels, image, masks[:0], scores[:0], []), labels)
    with pytest.raises(ValueError, match="one score and class per mask"):
        split_by_detections(labels, image, masks, scores[:1], ["top"])
    with pytest.raises(ValueError, match="differ in size"):
        split_by_detections(labels, image[:100], masks, scores, ["top", "bag"])


@pytest.mark.parametrize(("name", "score", "objects"), [("top", 0.45, 2), ("top", 0.25, 1), ("person", 0.45, 1)])
def test_a_colour_cut_that_the_detections_confirm_splits_a_region_they_left_whole(name, score, objects):
    """Two shirts of different colours, sleeve on sleeve: a sure detection covers most of
    the region (the first shirt and a sleeve of the second), an unsure one (``min_score``
    or more) the second shirt. The detections alone keep the region whole; the colour cut between the
    shirts, each of its parts seen by a detection, splits it. A detection under
    ``min_score`` confirms nothing, and a sure person over much of the region keeps
    it whole (a person's garments differ in colour and meet at notches too)."""
    from napari_boostseg.metrics import match_instances

    image, rng = _photo()
    a = _shirt(image.shape[:2], 30, 20, 180)
    b = _shirt(image.shape[:2], 40, 190, 170) & ~a
    _paint(image, a, (0.15, 0.25, 0.55), rng)
    _paint(image, b, (0.75, 0.2, 0.15), rng)
    region = a | b
    seen_whole = region.copy()
    seen_whole[:, 250:] = False  # the first shirt and a sleeve of the second: the model's mistake
    assert seen_whole.sum() >= 0.6 * region.sum()  # a sure detection of most of the region
    masks = np.stack([seen_whole, b])
    out = split_by_detections(
        region.astype(np.int32), image, masks, np.array([0.9, score], np.float32), [name, "top"]
    )
    assert int(out.max()) == objects
    if objects == 2:
        truth = a.astype(np.int32) + 2 * b
        assert min(iou for iou, _ in match_instances(out, truth)) > 0.97


def test_a_colour_cut_also_splits_a_part_that_holds_two_products():
    """Three shirts in a row, sleeve on sleeve. The model sees the first alone and the
    other two as one (its detection covers the second and half the third); two more
    detections, lower and overlapping it, see the second and the third apart. The
    detections split the region in two; the colour cut, confirmed by those two, splits
    the second part too."""
    from napari_boostseg.metrics import match_instances

    image, rng = _photo((240, 540))
    a = _shirt(image.shape[:2], 30, 10, 180)
    b = _shirt(image.shape[:2], 40, 180, 170) & ~a
    c = _shirt(image.shape[:2], 30, 340, 180) & ~(a | b)
    for shirt, colour in ((a, (0.15, 0.25, 0.55)), (b, (0.75, 0.2, 0.15)), (c, (0.2, 0.55, 0.25))):
        _paint(image, shirt, colour, rng)
    two = b | (c & (np.arange(540) < 430))  # the second shirt and half the third
    masks = np.stack([a, two, b, c])
    out = split_by_detections(
        (a | b | c).astype(np.int32), image, masks, np.array([0.9, 0.8, 0.45, 0.6], np.float32), ["top"] * 4
    )
    assert int(out.max()) == 3
    truth = a.astype(np.int32) + 2 * b + 3 * c
    assert min(iou for iou, _ in match_instances(out, truth)) > 0.97
