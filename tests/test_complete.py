"""Products the backdrop found only in part, made whole by a detector's masks."""

from __future__ import annotations

import numpy as np
import pytest

from napari_boostseg.complete import CompleteParams, complete_by_detections


def _shirt_in_fragments():
    # A white shirt on white paper: the backdrop found its collar and its hem
    # (ids 2 and 3); a dark bag beside it was found whole (id 1).
    labels = np.zeros((120, 200), np.int32)
    labels[30:90, 140:190] = 1
    labels[10:20, 30:90], labels[95:105, 20:100] = 2, 3
    shirt = np.zeros((120, 200), bool)
    shirt[8:108, 15:105] = True
    return labels, shirt


def test_fragments_inside_a_detection_become_one_whole_product():
    labels, shirt = _shirt_in_fragments()
    out, completed = complete_by_detections(labels, shirt[None], np.array([0.8]), ["top"])
    assert completed == 1
    assert int(out.max()) == 2
    assert (out[30:90, 140:190] == 1).all()  # the bag keeps its id and pixels
    assert (out[shirt] == 2).all()  # the shirt: fragments and the paper-coloured body between
    assert (out[(labels == 0) & ~shirt] == 0).all()


def test_a_detection_the_backdrop_found_whole_changes_nothing():
    labels, _ = _shirt_in_fragments()
    bag = np.zeros((1, 120, 200), bool)
    bag[0, 28:92, 138:192] = True  # a little larger than the bag, as a 28x28 mask is
    out, completed = complete_by_detections(labels, bag, np.array([0.95]), ["bag"])
    assert completed == 0
    np.testing.assert_array_equal(out, labels)


def test_a_garment_the_model_calls_a_person_is_completed_too():
    """A dress on a ghost mannequin, found in fragments, that the model sees as a person."""
    labels, shirt = _shirt_in_fragments()
    out, completed = complete_by_detections(labels, shirt[None], np.array([0.89]), ["person"])
    assert completed == 1
    assert out[shirt].min() > 0 and len(np.unique(out[shirt])) == 1


@pytest.mark.parametrize("why", ["bare paper", "low score"])
def test_what_may_not_complete_a_product_adds_nothing(why):
    labels, shirt = _shirt_in_fragments()
    mask, score, name = shirt, 0.8, "top"
    if why == "bare paper":
        mask = np.zeros_like(shirt)
        mask[30:100, 110:135] = True  # no region there: a detection of nothing
    else:
        score = CompleteParams().min_score - 0.1
    out, completed = complete_by_detections(labels, mask[None], np.array([score]), [name])
    assert completed == 0
    np.testing.assert_array_equal(out, labels)


@pytest.mark.parametrize("case", ["a sleeve", "reaching beyond"])
def test_a_detection_that_is_not_a_product_found_in_part_completes_nothing(case):
    labels = np.zeros((120, 200), np.int32)
    detection = np.zeros((1, 120, 200), bool)
    if case == "a sleeve":
        # A sleeve detected on its own, reaching beyond the product onto the paper.
        labels[20:100, 20:120] = 1
        detection[0, 40:70, 100:170] = True
    else:
        # The region sticks out of the detection by a third: the detection is not
        # that product seen whole, and the paper beside it stays paper.
        labels[60:110, 20:120] = 1
        detection[0, 10:95, 20:120] = True
    out, completed = complete_by_detections(labels, detection, np.array([0.9]), ["outerwear"])
    assert completed == 0
    np.testing.assert_array_equal(out, labels)


def test_a_product_seen_twice_is_completed_once():
    labels, shirt = _shirt_in_fragments()
    again = np.roll(shirt, 3, axis=1)
    out, completed = complete_by_detections(labels, np.stack([shirt, again]), np.array([0.8, 0.7]),
                                            ["top", "dress"])
    assert completed == 1 and int(out.max()) == 2


def test_bad_input_is_refused():
    labels, shirt = _shirt_in_fragments()
    with pytest.raises(ValueError, match="one score and class per mask"):
        complete_by_detections(labels, shirt[None], np.array([0.8, 0.7]), ["top"])
    with pytest.raises(ValueError, match="masks of the labels' size"):
        complete_by_detections(labels, shirt[None, :60], np.array([0.8]), ["top"])
    with pytest.raises(ValueError, match=">= 0"):
        complete_by_detections(-labels, shirt[None], np.array([0.8]), ["top"])


def test_pieces_along_a_completed_products_outline_join_it_and_a_product_apart_does_not():
    """A black coat on black paper: the backdrop found a few fragments of it; a piece of its
    outline lies mostly outside the model's coarse mask, a small product lies apart."""
    labels = np.zeros((400, 400), np.int32)
    labels[60:120, 80:300], labels[200:260, 80:300] = 1, 2  # fragments inside the detection
    labels[330:345, 150:190] = 3  # a piece at the hem, the coarse mask ends at row 335
    labels[330:350, 340:370] = 4  # a small product 40 px beside the coat
    coat = np.zeros((1, 400, 400), bool)
    coat[0, 50:335, 70:310] = True
    out, completed = complete_by_detections(labels, coat, np.array([0.8]), ["outerwear"])
    assert completed == 1
    assert out[335, 170] == out[100, 100] > 0  # the piece joined the coat
    assert out[340, 355] > 0 and out[340, 355] != out[100, 100]  # the product apart did not
    assert int(out.max()) == 2


def test_fragments_reaching_a_cell_beyond_the_coarse_mask_still_lie_inside_it():
    """A black coat on black paper found as fragments; the model's 28x28 mask ends a cell
    short of the collar and the hem, so those two fragments lay only two thirds inside it,
    and the fragments that did lie inside made up too little of what was found."""
    labels = np.zeros((400, 400), np.int32)
    labels[100:150, 100:300], labels[200:250, 100:300] = 1, 2  # inside the mask
    labels[40:70, 100:200] = 3  # the collar, 10 of its 30 rows above the mask
    labels[330:360, 150:300] = 4  # the hem, 10 rows below it
    coat = np.zeros((1, 400, 400), bool)
    coat[0, 50:350, 50:350] = True
    out, completed = complete_by_detections(labels, coat, np.array([0.77]), ["top"])
    assert completed == 1
    assert int(out.max()) == 1
    assert (out[labels > 0] == 1).all() and (out[coat[0]] == 1).all()
    # With no slack the collar and the hem do not lie inside: nothing is completed.
    _, completed = complete_by_detections(labels, coat, np.array([0.77]), ["top"], CompleteParams(slack=0))
    assert completed == 0


def _skirt_in_two():
    # A white skirt on white paper whose faint middle the backdrop left out:
    # its waistband and its hem are two backdrop regions (ids 1 and 2), which
    # the model sees whole, as it sees the bag beside them (id 3).
    labels = np.zeros((120, 200), np.int32)
    labels[10:45, 30:100], labels[70:110, 20:110] = 1, 2
    labels[30:90, 150:190] = 3
    skirt = np.zeros((120, 200), bool)
    skirt[8:112, 18:112] = True
    bag = np.zeros((120, 200), bool)
    bag[28:92, 148:192] = True
    return labels, skirt, bag


def test_separate_regions_that_one_detection_holds_become_one_product():
    labels, skirt, bag = _skirt_in_two()
    out, joined = complete_by_detections(labels, np.stack([skirt, bag]), np.array([0.9, 0.9]), ["bottom", "bag"])
    assert joined == 1
    assert int(out.max()) == 2
    assert (out[labels > 0][labels[labels > 0] < 3] == 1).all()  # waistband and hem: one product
    assert (out[labels == 3] == 2).all()
    assert (out[(labels == 0)] == 0).all()  # the faint middle stays for the refinement to decide


@pytest.mark.parametrize("why", ["parts of one region", "seen apart too", "not asked"])
def test_regions_the_model_sees_apart_stay_apart(why):
    labels, skirt, bag = _skirt_in_two()
    masks, scores, names = np.stack([skirt, bag]), np.array([0.9, 0.9]), ["bottom", "bag"]
    origin, params = None, CompleteParams()
    if why == "parts of one region":
        origin = np.where(labels == 2, 1, labels)  # a split cut one backdrop region in two
    elif why == "seen apart too":
        hem = np.zeros_like(skirt)
        hem[66:114, 16:114] = True
        masks, scores, names = np.stack([skirt, bag, hem]), np.array([0.9, 0.9, 0.35]), ["bottom", "bag", "bottom"]
    else:
        params = CompleteParams(join_apart=False)
    out, joined = complete_by_detections(labels, masks, scores, names, params, origin=origin)
    assert joined == 0
    np.testing.assert_array_equal(out, labels)


def test_a_product_the_backdrop_found_as_one_speck_is_completed():
    # A white coat on light grey paper in a small photo: the backdrop kept one
    # speck of it (1 % of the coat); the model sees the coat.
    labels = np.zeros((200, 160), np.int32)
    labels[100:110, 70:80] = 1
    coat = np.zeros((200, 160), bool)
    coat[20:180, 30:130] = True
    out, completed = complete_by_detections(labels, coat[None], np.array([0.69]), ["dress"])
    assert completed == 1
    assert (out[coat] == 1).all() and int(out.max()) == 1


@pytest.mark.parametrize("gap", [0, 6])
def test_a_speck_along_the_outside_of_a_detection_is_what_the_backdrop_found_of_it(gap):
    # White trousers on white paper: the backdrop kept one speck along the hem, just
    # outside the model's mask (which comes from a 28x28 grid). Within a cell of the mask,
    # the speck is the product's; a cell further off, the detection lies on bare paper.
    labels = np.zeros((200, 160), np.int32)
    labels[178 + gap : 181 + gap, 50:90] = 1
    trousers = np.zeros((200, 160), bool)
    trousers[20:178, 40:120] = True
    out, completed = complete_by_detections(labels, trousers[None], np.array([0.64]), ["dress"])
    if gap:
        assert completed == 0
        np.testing.assert_array_equal(out, labels)
    else:
        assert completed == 1
        assert (out[trousers] == 1).all() and (out[labels == 1] == 1).all() and int(out.max()) == 1


def _shirt_against_a_jacket(fragment_colour):
    """A white shirt on white paper touching a dark jacket: the backdrop found the jacket whole,
    the shirt's hem (id 2) and a sleeve fragment that runs into the jacket (both id 1)."""
    image = np.full((120, 200, 3), 250, np.uint8)
    labels = np.zeros((120, 200), np.int32)
    labels[20:100, 110:180] = 1
    image[20:100, 110:180] = (40, 40, 60)  # the jacket
    labels[40:60, 60:110] = 1
    image[40:60, 60:110] = fragment_colour
    labels[95:105, 20:90] = 2
    image[95:105, 20:90] = (236, 236, 240)  # the hem, a fold in shade
    shirt = np.zeros((120, 200), bool)
    shirt[10:108, 15:108] = True
    jacket = np.zeros((120, 200), bool)
    jacket[18:102, 108:182] = True
    return image, labels, np.stack([jacket, shirt]), np.array([0.9, 0.7]), ["outerwear", "top"]


def test_a_product_found_in_part_takes_back_its_fragment_from_the_product_it_touches():
    image, labels, masks, scores, names = _shirt_against_a_jacket((236, 236, 240))
    out, completed = complete_by_detections(labels, masks, scores, names, image=image)
    assert completed == 1
    assert int(out.max()) == 2
    assert (out[masks[1]] == out[100, 50]).all() and out[100, 50] != out[50, 150]  # the shirt, sleeve and all
    assert (out[20:100, 110:180] == out[50, 150]).all()  # the jacket keeps every pixel
    # Without the photo its colours are unknown, and the sleeve fragment found in the
    # jacket's region holds the shirt back, as before.
    out, completed = complete_by_detections(labels, masks, scores, names)
    assert completed == 0
    np.testing.assert_array_equal(out, labels)


def test_a_piece_of_the_neighbours_colour_is_not_taken():
    # The piece of region 1 inside the shirt's mask has the jacket's colours: it is the
    # jacket's (the model's mask reaches too far), and the region stays whole.
    image, labels, masks, scores, names = _shirt_against_a_jacket((44, 42, 62))
    out, completed = complete_by_detections(labels, masks, scores, names, image=image)
    assert completed == 0
    np.testing.assert_array_equal(out, labels)
    params = CompleteParams(min_colour=np.inf)
    image, labels, masks, scores, names = _shirt_against_a_jacket((236, 236, 240))
    out, completed = complete_by_detections(labels, masks, scores, names, params, image=image)
    assert completed == 0


def test_a_detection_that_completes_nothing_does_not_hold_back_one_that_sees_the_whole_product():
    labels, shirt = _shirt_in_fragments()
    part = np.zeros_like(shirt)
    part[5:60, 60:105] = True  # the better detection sees the shirt's right shoulder and half its collar
    out, completed = complete_by_detections(labels, np.stack([part, shirt]), np.array([0.8, 0.7]), ["top", "top"])
    assert completed == 1
    assert (out[shirt] == out[100, 50]).all() and out[100, 50] > 0
    assert int(out.max()) == 2


def test_a_detection_below_the_least_score_only_takes_back_its_fragments():
    image, labels, masks, _, names = _shirt_against_a_jacket((236, 236, 240))
    take = CompleteParams().take_score
    low = (take + CompleteParams().min_score) / 2  # the model is unsure of the shirt
    out, completed = complete_by_detections(labels, masks, np.array([0.9, low]), names, image=image)
    assert completed == 1
    assert (out[masks[1]] == out[100, 50]).all() and out[100, 50] != out[50, 150]
    assert (out[20:100, 110:180] == out[50, 150]).all()
    # Below take_score it does nothing.
    out, completed = complete_by_detections(labels, masks, np.array([0.9, take - 0.05]), names, image=image)
    assert completed == 0
    np.testing.assert_array_equal(out, labels)
    # With no neighbour to take from, the unsure detection does not join fragments as a sure one does.
    labels, shirt = _shirt_in_fragments()
    image = np.full((120, 200, 3), 250, np.uint8)
    image[labels > 0] = 230
    out, completed = complete_by_detections(labels, shirt[None], np.array([low]), ["top"], image=image)
    assert completed == 0
    np.testing.assert_array_equal(out, labels)


def test_where_the_backdrop_found_nothing_each_sure_detection_is_a_product():
    # A white shirt on white paper in a small photo: nothing departs from the paper. The model
    # sees the shirt, its sleeve apart (overlapping it), a bag beside it and, unsure, a fold.
    labels = np.zeros((120, 200), np.int32)
    shirt, sleeve, bag, fold = (np.zeros((120, 200), bool) for _ in range(4))
    shirt[10:110, 10:100] = True
    sleeve[20:60, 60:100] = True
    bag[40:90, 130:180] = True
    fold[5:20, 110:125] = True
    masks, scores = np.stack([sleeve, shirt, bag, fold]), np.array([0.8, 0.9, 0.7, 0.4])
    out, completed = complete_by_detections(labels, masks, scores, ["top", "top", "bag", "top"])
    assert completed == 2
    assert (out[shirt] == 1).all() and (out[bag] == 2).all()
    assert not out[~(shirt | bag)].any()


@pytest.mark.parametrize("hem_colour", [(200, 60, 60), (60, 60, 200)])
def test_regions_of_one_colour_join_even_where_the_model_sees_them_apart(hem_colour):
    # The waistband and hem of a red skirt, seen whole by a sure detection and the hem apart by
    # an unsure one: of one colour, they are one product's parts. A blue "hem" is a product of
    # its own, as the unsure detection says.
    labels, skirt, bag = _skirt_in_two()
    hem = np.zeros_like(skirt)
    hem[66:114, 16:114] = True
    image = np.full((120, 200, 3), 250, np.uint8)
    image[labels == 1], image[labels == 2], image[labels == 3] = (200, 60, 60), hem_colour, (30, 30, 30)
    masks, scores = np.stack([skirt, bag, hem]), np.array([0.9, 0.9, 0.35])
    out, joined = complete_by_detections(labels, masks, scores, ["bottom", "bag", "bottom"], image=image)
    if hem_colour == (200, 60, 60):
        assert joined == 1 and int(out.max()) == 2
        assert (out[(labels == 1) | (labels == 2)] == 1).all() and (out[labels == 3] == 2).all()
    else:
        assert joined == 0
        np.testing.assert_array_equal(out, labels)
