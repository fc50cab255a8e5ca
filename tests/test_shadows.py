"""Soft shadows that an outline took in go back to the backdrop; products keep every pixel."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage as ndi

from napari_boostseg import UNDECIDED, RefineParams, refine, reflood
from napari_boostseg.shadows import MOST, trim_shadows


def _scene(product=(228, 228, 228), paper=246.0, darkest=30.0, width=10.0, seed=0, size=(760, 520)):
    """A rounded product on paper with a contact shadow around it, darkest at the product and
    fading over ``width`` px: the photo, the product's mask, and a coarse mask that takes in
    the shadow (8 px beyond the product)."""
    rng = np.random.default_rng(seed)
    h, w = size
    yy, xx = np.mgrid[:h, :w]
    inside = ((yy - h / 2) / (0.38 * h)) ** 4 + ((xx - w / 2) / (0.34 * w)) ** 4 <= 1
    distance = ndi.distance_transform_edt(~inside)
    shade = paper - darkest * np.clip(1 - (distance - 1) / width, 0, 1)
    photo = np.repeat(shade[..., None], 3, axis=2)
    photo[inside] = product
    photo += rng.normal(0, 1.2, photo.shape)
    photo = np.clip(np.round(photo), 0, 255).astype(np.uint8)
    coarse = (distance <= 8).astype(np.int32)
    return photo, inside, coarse


def _iou(a, b):
    return (a & b).sum() / (a | b).sum()


def test_a_light_products_contact_shadow_goes_back_to_the_paper():
    photo, product, coarse = _scene()
    trimmed = trim_shadows(photo, coarse, depth=1.0) > 0
    given = (coarse > 0) & ~trimmed
    assert given.sum() > 0.7 * ((coarse > 0) & ~product).sum()  # most of the shadow taken in
    assert not (given & product).any()  # and no pixel of the product
    assert _iou(trimmed, product) > 0.99 > _iou(coarse > 0, product)


def test_a_shallow_drop_shadow_goes_back_to_the_paper():
    # A wide soft shadow falls by about 1.5 levels a pixel (before: each step had to fall by 2,
    # and nothing of it went back).
    photo, product, coarse = _scene(darkest=24.0, width=16.0)
    trimmed = trim_shadows(photo, coarse, depth=1.0) > 0
    given = (coarse > 0) & ~trimmed
    assert given.sum() > 0.6 * ((coarse > 0) & ~product).sum()
    assert not (given & product).any()


def test_refine_keeps_the_halo_without_the_trim_and_gives_it_back_with_it():
    photo, product, coarse = _scene()
    before = refine(photo, coarse, RefineParams(shadow_depth=0)) > 0
    after = refine(photo, coarse) > 0
    assert _iou(before, product) < 0.985  # the watershed follows the shadow's rim
    assert _iou(after, product) > _iou(before, product) + 0.01
    assert (after & product).sum() >= 0.995 * product.sum()


@pytest.mark.parametrize("grow", range(16))
def test_every_side_gives_its_shadow_back_wherever_the_outline_falls(grow):
    # A square product growing by one pixel at a time: its bottom and right outlines cross
    # every position within a stretch of the profile (16 px here), including its border.
    yy, xx = np.mgrid[:320, :320]
    inside = (yy >= 80) & (yy < 232 + grow) & (xx >= 70) & (xx < 222 + grow)
    distance = ndi.distance_transform_edt(~inside)
    photo = np.repeat((246 - 30 * np.clip(1 - (distance - 1) / 10, 0, 1))[..., None], 3, axis=2)
    photo[inside] = 228
    rng = np.random.default_rng(grow)
    photo = np.clip(np.round(photo + rng.normal(0, 1.2, photo.shape)), 0, 255).astype(np.uint8)
    coarse = (distance <= 6).astype(np.int32)
    given = (coarse > 0) & ~(trim_shadows(photo, coarse, depth=1.5) > 0)
    assert not (given & inside).any()
    assert given.sum() > 0.85 * ((coarse > 0) & ~inside).sum()


def _halo_on_the_right():
    # A grey product on white paper with a 7 px shadow along its right side, all of it inside
    # the outline; depth 1.0 makes the stretches 14 px squares.
    photo = np.full((260, 260, 3), 240, np.uint8)
    photo[30:230, 30:230] = 200
    photo[30:230, 230:237] = np.arange(205, 240, 5, dtype=np.uint8)[None, :, None]
    labels = np.zeros(photo.shape[:2], np.int32)
    labels[30:230, 30:237] = 1
    return photo, labels


def test_a_stretch_that_finds_no_shadow_beside_ones_that_do_leaves_no_square_notch():
    # In the rows of one stretch the shadow's outermost column is as bright as the paper, so its
    # own profile does not fall at the first step. Before, those rows kept the whole halo: a
    # notch as long as the stretch (11 of its 14 rows gave nothing back). Now the depth is read
    # between the stretches' centres there, and the notch narrows to its middle.
    photo, labels = _halo_on_the_right()
    photo[98:112, 236] = 240
    trimmed = trim_shadows(photo, labels, depth=1.0)
    given = ((labels > 0) & (trimmed == 0))[30:230].sum(axis=1)
    assert (given[60:90] == 0).sum() <= 4
    assert (given[20:60] == 7).all() and (given[90:180] == 7).all()
    assert (trimmed[30:230, 30:230] == 1).all()


def test_the_depth_read_between_stretches_stops_at_a_products_edge():
    # The bottom side has no shadow: its profile falls from the paper to the product in one
    # step, an edge. Beside the corner, the right side's shadow must not lend it its depth.
    photo, labels = _halo_on_the_right()
    trimmed = trim_shadows(photo, labels, depth=1.0)
    assert (trimmed[30:230, 30:230] == 1).all()
    assert (trimmed[30:230, 230:237] == 0).mean() > 0.85


def test_a_halo_wider_than_most_of_an_object_is_given_back_in_part_from_the_outline():
    # A product whose coarse mask took in a shadow a quarter of its area: no more than MOST
    # of the object goes back, the pixels nearest the outline first, none of the product
    # (before: nothing went back).
    yy, xx = np.mgrid[:200, :200]
    inside = (yy >= 50) & (yy < 150) & (xx >= 50) & (xx < 150)
    distance = ndi.distance_transform_edt(~inside)
    photo = np.repeat((246 - 30 * np.clip(1 - (distance - 1) / 10, 0, 1))[..., None], 3, axis=2)
    photo[inside] = 228
    photo = np.clip(np.round(photo + np.random.default_rng(0).normal(0, 1.2, photo.shape)), 0, 255)
    coarse = (distance <= 8).astype(np.int32)
    assert 2 * MOST * coarse.sum() > ((coarse > 0) & ~inside).sum() > 1.5 * MOST * coarse.sum()
    given = (coarse > 0) & ~(trim_shadows(photo.astype(np.uint8), coarse, depth=3.0) > 0)
    assert not (given & inside).any()
    assert 0.5 * MOST * coarse.sum() < given.sum() <= MOST * coarse.sum()
    kept = (coarse > 0) & ~given & ~inside
    assert distance[given].min() >= distance[kept].max() - 1.5  # the outermost first


def test_a_refloods_markers_keep_the_shadow_with_the_backdrop():
    photo, _, coarse = _scene()
    refinement = refine(photo, coarse, return_intermediates=True)
    assert (refinement.labels > 0).sum() < (refine(photo, coarse, RefineParams(shadow_depth=0)) > 0).sum()
    np.testing.assert_array_equal(reflood(refinement, refinement.markers), refinement.labels)
    np.testing.assert_array_equal(refinement.labels, refine(photo, coarse))


def test_a_shadow_given_back_leaves_the_rest_of_the_band_open_to_a_reflood():
    photo, product, coarse = _scene()
    h = photo.shape[0]
    lit = (np.arange(h) < 0.8 * h)[:, None]  # the shadow falls under the product only
    paper = np.clip(np.round(246 + np.random.default_rng(1).normal(0, 1.2, photo.shape)), 0, 255).astype(np.uint8)
    photo[lit & ~product] = paper[lit & ~product]
    refinement = refine(photo, coarse, return_intermediates=True)
    untrimmed = refine(photo, coarse, RefineParams(shadow_depth=0), return_intermediates=True)
    given = (untrimmed.labels > 0) & (refinement.labels == 0)
    assert given.any()
    np.testing.assert_array_equal(reflood(refinement, refinement.markers), refinement.labels)
    # The band is decided near what was given back only (it was decided around the whole
    # object): elsewhere a painted marker still re-floods.
    open_band = untrimmed.markers == UNDECIDED
    still_open = refinement.markers == UNDECIDED
    assert not (still_open & given).any() and not (still_open & ~open_band).any()
    assert still_open.sum() > 0.3 * open_band.sum()


def test_a_dark_product_keeps_its_edge():
    # Paper to near-black is an edge, far steeper than a shadow falls.
    photo, product, coarse = _scene(product=(40, 40, 40))
    trimmed = trim_shadows(photo, coarse, depth=1.0) > 0
    assert (trimmed & product).sum() == product.sum()


@pytest.mark.parametrize("product", [(236, 214, 214), (214, 226, 240)])
def test_a_coloured_rim_is_not_shadow(product):
    # A pale pink or blue product whose edge fades into the paper, with no shadow: it falls
    # like a shadow but is not of the paper's colour.
    photo, mask, _ = _scene(product=product, darkest=0.0)
    depth = ndi.distance_transform_edt(mask)
    fade = np.clip(depth / 12.0, 0, 1)[..., None]
    soft = np.clip(np.round(fade * np.array(product, float) + (1 - fade) * 246.0), 0, 255)
    photo = np.where(mask[..., None], soft, photo).astype(np.uint8)
    lost = mask & (trim_shadows(photo, mask.astype(np.int32), depth=1.0) == 0)
    assert not (lost & (depth > 3)).any()


def test_nothing_deeper_than_depth_and_never_most_of_an_object():
    # A grey disc that darkens steadily from its rim inwards is "shadow" by its profile.
    yy, xx = np.mgrid[:200, :200]
    r = np.hypot(yy - 100, xx - 100)
    disc = r <= 60
    photo = np.repeat(np.where(disc, 240 - 3 * (60 - r), 246.0)[..., None], 3, axis=2).astype(np.uint8)
    labels = disc.astype(np.int32)
    # 3 cells (13 px) would give back 40 % of it: a shadow is a rim, not the object.
    np.testing.assert_array_equal(trim_shadows(photo, labels, depth=3.0), labels)
    lost = disc & (trim_shadows(photo, labels, depth=0.5) == 0)  # 0.5 cells: 2 px
    assert lost.any() and not (lost & (r < 60 - 2.5)).any()


def test_touching_objects_keep_their_shared_border():
    photo, product, coarse = _scene()
    labels = coarse.copy()
    labels[:, labels.shape[1] // 2:][labels[:, labels.shape[1] // 2:] > 0] = 2
    trimmed = trim_shadows(photo, labels, depth=1.0)
    middle = labels.shape[1] // 2
    np.testing.assert_array_equal(trimmed[:, middle - 1:middle + 1][product[:, middle - 1:middle + 1]],
                                  labels[:, middle - 1:middle + 1][product[:, middle - 1:middle + 1]])
    assert set(np.unique(trimmed)) == {0, 1, 2}
    assert _iou(trimmed > 0, product) > 0.99


def test_grey_and_16_bit_photos_and_bad_input():
    photo, product, coarse = _scene()
    grey = photo[..., 0]
    assert _iou(trim_shadows(grey, coarse, depth=1.0) > 0, product) > 0.99
    deep = photo.astype(np.uint16) * 257
    np.testing.assert_array_equal(trim_shadows(deep, coarse, depth=1.0), trim_shadows(photo, coarse, depth=1.0))
    np.testing.assert_array_equal(trim_shadows(photo, coarse, depth=0), coarse)
    assert not trim_shadows(photo, np.zeros_like(coarse)).any()
    with pytest.raises(ValueError, match="same size"):
        trim_shadows(photo, coarse[:-1])
    with pytest.raises(ValueError, match="depth"):
        trim_shadows(photo, coarse, depth=-1)


def test_studio_renders_light_products_lose_their_halo_and_others_keep_their_outline():
    # Generated studio photos (drawn products, no CCP needed) cut out by the backdrop source.
    from napari_boostseg.backdrop import backdrop_labels
    from napari_boostseg.metrics import match_instances
    from napari_boostseg.synthetic.studio import render

    from _studio import drawn_cutouts

    def scores(seed, hard):
        photo = render(drawn_cutouts(), seed, layout="single", hard=hard, size=1200)
        coarse = backdrop_labels(photo.image).labels
        return [
            np.mean([iou for iou, _ in match_instances(refine(photo.image, coarse, params), photo.truth)])
            for params in (RefineParams(shadow_depth=0), RefineParams())
        ]

    light = np.array([scores(seed, "light_on_light") for seed in range(4)])
    assert (light[:, 1] > light[:, 0]).all()
    assert light[:, 1].mean() > light[:, 0].mean() + 0.008
    for seed in (0, 1):
        before, after = scores(seed, None)
        assert abs(after - before) < 0.001
