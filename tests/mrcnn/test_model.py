"""Building the network and running detection."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from mrcnn_testdata import tiny_config


@pytest.fixture(scope="module")
def tiny_model():
    """One seeded random-weight tiny model shared by read-only tests."""
    import tf_keras

    from napari_boostseg.mrcnn import build_model

    tf_keras.utils.set_random_seed(0)
    return build_model(tiny_config(detection_min_confidence=0.0))


def test_import_does_not_load_tensorflow():
    code = (
        "import sys, napari_boostseg, napari_boostseg.mrcnn as m\n"
        "from napari_boostseg.mrcnn import MaskRCNNConfig, Detections, load_model\n"
        "m.MaskRCNNConfig(); m.molding; m.detect\n"
        "bad = [k for k in ('tensorflow', 'tf_keras', 'keras') if k in sys.modules]\n"
        "assert not bad, bad\n"
        "m.build_model(m.MaskRCNNConfig(backbone='resnet50', image_min_dim=64, image_max_dim=64))\n"
        "assert 'tensorflow' in sys.modules\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-2000:]


def test_bad_arguments():
    from napari_boostseg.mrcnn import MaskRCNN

    with pytest.raises(ValueError, match="MaskRCNNConfig"):
        MaskRCNN({"backbone": "resnet50"})
    with pytest.raises(ValueError, match="mode"):
        MaskRCNN(tiny_config(), mode="train")


@pytest.mark.parametrize(
    "image",
    [
        np.random.default_rng(0).integers(0, 255, (50, 90), dtype=np.uint8),
        np.random.default_rng(1).integers(0, 255, (70, 40, 4), dtype=np.uint8),
        np.random.default_rng(2).integers(0, 65535, (33, 65, 3), dtype=np.uint16),
        np.random.default_rng(3).random((129, 64, 3)),
    ],
    ids=["gray", "rgba", "uint16", "float"],
)
def test_detect_output_contract(tiny_model, image):
    dets = tiny_model.detect([image])
    assert len(dets) == 1
    d = dets[0]
    h, w = image.shape[:2]
    n = len(d)
    # Seeded random weights with confidence 0 give a few detections.
    assert n > 0
    assert d.boxes.shape == (n, 4) and d.boxes.dtype == np.int32
    assert d.class_ids.shape == (n,) and d.class_ids.dtype == np.int32 and np.all(d.class_ids == 1)
    assert d.class_names == ("box",) * n
    assert d.scores.shape == (n,) and d.scores.dtype == np.float32 and np.all(np.diff(d.scores) <= 0)
    assert d.masks.shape == (n, h, w) and d.masks.dtype == bool
    assert d.mask_probs.shape == (n, 28, 28) and d.mask_probs.dtype == np.float32
    assert np.all((d.mask_probs >= 0) & (d.mask_probs <= 1))
    assert np.all(d.boxes[:, :2] >= 0) and np.all(d.boxes[:, 2] <= h) and np.all(d.boxes[:, 3] <= w)
    assert n <= tiny_model.config.detection_max_instances
    for box, mask in zip(d.boxes, d.masks):
        # A mask never leaves its box.
        outside = mask.copy()
        outside[box[0]:box[2], box[1]:box[3]] = False
        assert not outside.any()
    assert d.to_labels().shape == (h, w)


def test_detect_batch_of_different_sizes(tiny_model):
    images = [np.zeros((40, 64, 3), np.uint8), np.zeros((64, 30), np.uint8)]
    dets = tiny_model.detect(images)
    assert [d.image_shape for d in dets] == [(40, 64), (64, 30)]
    single = tiny_model.detect(images[1])
    assert len(single) == 1 and single[0].image_shape == (64, 30)


def test_detect_rejects_bad_images(tiny_model):
    with pytest.raises(ValueError, match="dtype"):
        tiny_model.detect([np.zeros((10, 10), np.int64)])
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        tiny_model.detect([np.full((10, 10), 3.0)])


def test_zero_detections():
    from napari_boostseg.mrcnn import build_model

    model = build_model(tiny_config())
    logits = model.net.layer("mrcnn_class_logits")
    # Every ROI is certainly background.
    logits.kernel.assign(np.zeros(logits.kernel.shape, np.float32))
    logits.bias.assign(np.array([20.0, -20.0], np.float32))
    d = model.detect([np.zeros((30, 50, 3), np.uint8)])[0]
    assert len(d) == 0
    assert d.boxes.shape == (0, 4) and d.masks.shape == (0, 30, 50) and d.mask_probs.shape == (0, 28, 28)


def test_pad64_mode_runs():
    from napari_boostseg.mrcnn import build_model

    model = build_model(tiny_config(image_resize_mode="pad64", detection_min_confidence=0.0))
    for shape in [(64, 100), (70, 64)]:
        d = model.detect([np.zeros(shape + (3,), np.uint8)])[0]
        assert d.masks.shape[1:] == shape


def test_roi_align_level_assignment():
    import tensorflow as tf

    from napari_boostseg.mrcnn.ops import pyramid_roi_align

    # Each level is a constant map equal to its level number.
    maps = [tf.fill([1, 256 // 2**i, 256 // 2**i, 1], float(i + 2)) for i in range(4)]
    side = np.array([8, 56, 112, 224, 448, 900]) / 1023.0
    boxes = tf.constant(np.stack([np.zeros(6), np.zeros(6), side, side], axis=1)[None], tf.float32)
    pooled = pyramid_roi_align(boxes, maps, 7, tf.constant([1024, 1024]))
    assert pooled.shape == (1, 6, 7, 7, 1)
    # 224 px boxes go to P4, each halving one level down, clipped to P2..P5.
    assert pooled.numpy()[0, :, 3, 3, 0].tolist() == [2, 2, 3, 4, 5, 5]


def test_refine_detections_per_class_nms():
    import tensorflow as tf

    from napari_boostseg.mrcnn.ops import refine_detections

    rois = np.array([[0.1, 0.1, 0.5, 0.5], [0.1, 0.1, 0.5, 0.52], [0.1, 0.1, 0.5, 0.5], [0.6, 0.6, 0.9, 0.9]])
    probs = np.array([[0.1, 0.9, 0.0], [0.2, 0.8, 0.0], [0.1, 0.0, 0.9], [0.95, 0.05, 0.0]])
    out = refine_detections(
        tf.constant(rois[None], tf.float32), tf.constant(probs[None], tf.float32),
        tf.zeros([1, 4, 3, 4]), tf.constant([[0.0, 0.0, 1.0, 1.0]]),
        bbox_std_dev=(0.1, 0.1, 0.2, 0.2), min_confidence=0.5, nms_threshold=0.3, max_instances=5,
    ).numpy()[0]
    # ROI 1 is suppressed by ROI 0 (same class); ROI 2 overlaps too but is another class; ROI 3 is background.
    assert out[:, 4].tolist() == [1, 2, 0, 0, 0]
    np.testing.assert_allclose(out[:2, 5], [0.9, 0.9])
    np.testing.assert_allclose(out[0, :4], rois[0], atol=1e-6)


def test_bfloat16_precision_matches_float32(tiny_model, tmp_path):
    from napari_boostseg.mrcnn import MaskRCNN

    path = tiny_model.save_weights(tmp_path / "w.h5")
    fast = MaskRCNN(tiny_model.config, precision="bfloat16")
    fast.load_weights(path)
    assert fast.net.layer("conv1").kernel.dtype == "float32"  # variables stay float32
    image = np.random.default_rng(4).integers(0, 255, (1, 64, 64, 3)).astype(np.float32) - 120
    _, _, p32, d32 = tiny_model.net.features(image)
    _, _, p16, d16 = fast.net.features(image)
    assert p16.dtype == "float32"
    # bfloat16 keeps 8 bits of mantissa: close, not equal.
    np.testing.assert_allclose(p16.numpy(), p32.numpy(), atol=0.05)
    assert 0 < np.abs(p16.numpy() - p32.numpy()).max()
    d = fast.detect([np.zeros((40, 50, 3), np.uint8)])[0]
    assert d.mask_probs.dtype == np.float32 and d.masks.shape[1:] == (40, 50)
    with pytest.raises(ValueError, match="precision"):
        MaskRCNN(tiny_model.config, precision="float16")
