"""Refinement on real street photos with ground truth (skipped without ../shared/data)."""

import numpy as np
import pytest
from PIL import Image

from napari_boostseg import refine, refine_with_report
from napari_boostseg.coarse import jittered28, oracle28
from napari_boostseg.metrics import boundary_accuracy, iou

IDS = (801, 815, 830, 845, 860, 875, 890)


def _pair(root, image_id, kind):
    stem = f"{image_id:04d}"
    image = np.asarray(Image.open(root / "ccp" / "images" / f"{stem}.jpg").convert("RGB"))
    truth = np.asarray(Image.open(root / "ccp" / f"masks_{kind}" / f"{stem}.png")) > 127
    return image, truth


@pytest.mark.parametrize("kind", ["person", "clothing"])
@pytest.mark.parametrize(
    "make", [lambda t, i: oracle28(t), lambda t, i: jittered28(t, seed=i)], ids=["oracle", "jittered"]
)
def test_refinement_improves_real_coarse_masks(shared_data, kind, make):
    before, after = [], []
    for image_id in IDS:
        image, truth = _pair(shared_data, image_id, kind)
        coarse = make(truth, image_id)
        refined = refine(image, coarse) > 0
        before.append((iou(coarse, truth), boundary_accuracy(coarse, truth)))
        after.append((iou(refined, truth), boundary_accuracy(refined, truth)))
    (iou_before, mba_before), (iou_after, mba_after) = np.mean(before, 0), np.mean(after, 0)
    # Never worse in IoU on average, and clearly sharper edges.
    assert iou_after >= iou_before, (iou_before, iou_after)
    assert mba_after >= mba_before + 0.02, (mba_before, mba_after)


def test_an_accurate_mask_is_not_moved_off_the_clearer_edge(shared_data):
    # Training photo 0065: a man leaning on a sunlit wall, his shadow beside
    # him. Alignment moved the oracle-28 clothing mask towards the shadow; the
    # moved outline lay on weaker edges than the coarse one (about 0.73 times)
    # and the refined mask lost the trousers' side (IoU 0.957 -> 0.790).
    image, truth = _pair(shared_data, 65, "clothing")
    coarse = oracle28(truth)
    labels, objects = refine_with_report(image, coarse)
    assert iou(labels > 0, truth) >= iou(coarse, truth) - 0.01
    assert not objects[0].moved


def test_an_object_that_falls_back_takes_back_its_pixels_from_a_neighbour(shared_data):
    # Training photo 0657, garment instances with oracle-28 masks: the coat
    # (object 2) was moved, failed its checks and was refined unmoved; the
    # shirt beside it had meanwhile flooded the coat's lapel, which the
    # moved coat had left, and kept it (the shirt's IoU 0.954 -> 0.742).
    from napari_boostseg.synthetic.ccp import CLASS_NAMES, CCPInstances

    data = CCPInstances(shared_data / "ccp", [657])
    image, masks, classes = data.load(0)
    garments = np.flatnonzero(classes != CLASS_NAMES.index("person"))
    coarse = np.zeros(image.shape[:2], np.int32)
    for label, k in enumerate(garments, start=1):
        coarse[oracle28(masks[..., k]) & (coarse == 0)] = label
    labels, objects = refine_with_report(image, coarse)
    shirt = masks[..., garments[0]]
    assert iou(labels == 1, shirt) >= iou(coarse == 1, shirt) - 0.08


def test_a_move_onto_edges_no_stronger_than_the_unmoved_ones_is_undone(shared_data):
    """A light top with a large white print, on white paper: a training photo of the
    studio benchmark (seed 1900285), rendered from its one product. The white parts of
    the print meet the paper without an edge; alignment moved the accurate mask and the
    moved band's flood took them for paper (0.967 -> 0.714 IoU). The move lay on edges
    no stronger than the unmoved band's result, which is kept."""
    from napari_boostseg.synthetic import studio

    tops = [c for c in studio.ccp_cutouts(shared_data / "ccp", [646]) if c.kind == "top"]
    assert len(tops) == 1
    # The training products hold 1707 garments; listing this one as often draws it
    # with the random numbers of the benchmark's photo.
    photo = studio.render(tops * 1707, 1900285, layout="single", hard="light_on_light")
    truth = photo.truth == 1
    coarse = oracle28(truth)
    labels, objects = refine_with_report(photo.image, coarse)
    assert objects[0].fallback == "unmoved" and not objects[0].moved
    assert iou(labels > 0, truth) >= iou(coarse, truth)
