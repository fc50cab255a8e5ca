"""Weights in the reference .h5 layout, written here directly with h5py."""

from __future__ import annotations

import json
import os
from pathlib import Path

import h5py
import numpy as np
import pytest

from napari_boostseg.mrcnn import CLASS_SPECIFIC_LAYERS, build_model, load_model
from napari_boostseg.mrcnn.weights import read_weight_file

from mrcnn_testdata import tiny_config

LAYOUT_JSON = Path(__file__).resolve().parents[3] / "shared" / "docs" / "mrcnn-layout-r50-c2.json"


def _conv(name, kh, kw, cin, cout):
    return (name, [(f"{name}/kernel:0", (kh, kw, cin, cout)), (f"{name}/bias:0", (cout,))])


def _bn(name, c):
    return (name, [(f"{name}/{w}:0", (c,)) for w in ("gamma", "beta", "moving_mean", "moving_variance")])


def r50_layout(num_classes: int, fc: int = 1024) -> list[tuple[str, list]]:
    """Weighted groups of a ResNet-50 Mask R-CNN file, in the reference order."""
    out = [_conv("conv1", 7, 7, 3, 64), _bn("bn_conv1", 64)]
    cin = 64
    for stage, n_blocks, width in ((2, 3, 64), (3, 4, 128), (4, 6, 256), (5, 3, 512)):
        for b in "abcdef"[:n_blocks]:
            t = f"{stage}{b}"
            out += [_conv(f"res{t}_branch2a", 1, 1, cin, width), _bn(f"bn{t}_branch2a", width),
                    _conv(f"res{t}_branch2b", 3, 3, width, width), _bn(f"bn{t}_branch2b", width),
                    _conv(f"res{t}_branch2c", 1, 1, width, 4 * width)]
            if b == "a":
                out += [_conv(f"res{t}_branch1", 1, 1, cin, 4 * width)]
            out += [_bn(f"bn{t}_branch2c", 4 * width)]
            if b == "a":
                out += [_bn(f"bn{t}_branch1", 4 * width)]
            cin = 4 * width
    out += [_conv("fpn_c5p5", 1, 1, 2048, 256), _conv("fpn_c4p4", 1, 1, 1024, 256),
            _conv("fpn_c3p3", 1, 1, 512, 256), _conv("fpn_c2p2", 1, 1, 256, 256)]
    out += [_conv(f"fpn_p{i}", 3, 3, 256, 256) for i in (5, 2, 3, 4)]
    rpn = _conv("rpn_conv_shared", 3, 3, 256, 512)[1] + _conv("rpn_class_raw", 1, 1, 512, 6)[1] \
        + _conv("rpn_bbox_pred", 1, 1, 512, 12)[1]
    out += [("rpn_model", rpn)]
    out += [_conv("mrcnn_class_conv1", 7, 7, 256, fc), _bn("mrcnn_class_bn1", fc),
            _conv("mrcnn_class_conv2", 1, 1, fc, fc), _bn("mrcnn_class_bn2", fc),
            ("mrcnn_class_logits", [("mrcnn_class_logits/kernel:0", (fc, num_classes)),
                                    ("mrcnn_class_logits/bias:0", (num_classes,))]),
            ("mrcnn_bbox_fc", [("mrcnn_bbox_fc/kernel:0", (fc, 4 * num_classes)),
                               ("mrcnn_bbox_fc/bias:0", (4 * num_classes,))])]
    for i in range(1, 5):
        out += [_conv(f"mrcnn_mask_conv{i}", 3, 3, 256, 256), _bn(f"mrcnn_mask_bn{i}", 256)]
    out += [_conv("mrcnn_mask_deconv", 2, 2, 256, 256), _conv("mrcnn_mask", 1, 1, 256, num_classes)]
    return out


def write_reference_file(path: Path, layout, seed: int = 0) -> dict[str, np.ndarray]:
    """Write ``layout`` the way Keras 2 save_weights does; return the values by weight name."""
    rng = np.random.default_rng(seed)
    values = {}
    # Weightless layers are listed too, with empty weight_names, as in real files.
    names = ["input_image", "zero_padding2d"] + [g for g, _ in layout[:3]] + ["activation"] \
        + [g for g, _ in layout[3:]] + ["mrcnn_detection"]
    weights = dict(layout)
    with h5py.File(path, "w") as f:
        f.attrs["layer_names"] = np.array([n.encode() for n in names])
        f.attrs["backend"] = b"tensorflow"
        f.attrs["keras_version"] = b"2.21.0"
        for name in names:
            g = f.create_group(name)
            entries = weights.get(name, [])
            g.attrs["weight_names"] = np.array([w.encode() for w, _ in entries], dtype="S")
            for wname, shape in entries:
                value = rng.standard_normal(shape).astype(np.float32)
                g.create_dataset(wname, data=value)
                values[wname] = value
    return values


@pytest.fixture(scope="module")
def model():
    return build_model(tiny_config(fpn_classif_fc_layers_size=1024))


@pytest.fixture(scope="module")
def reference_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("weights") / "mask_rcnn_ref.h5"
    values = write_reference_file(path, r50_layout(num_classes=2))
    return path, values


_ATTRS = {"kernel", "bias", "gamma", "beta", "moving_mean", "moving_variance"}


def test_every_weight_lands_in_its_layer(model, reference_file):
    path, values = reference_file
    loaded = model.load_weights(path)
    assert len(loaded) == 131
    checked = 0
    for wname, value in values.items():
        layer_name, attr = wname.rsplit("/", 1)
        attr = attr.split(":")[0]
        assert attr in _ATTRS
        # Look the variable up through the layer object, not through our file mapping.
        var = getattr(model.net.layer(layer_name), attr)
        np.testing.assert_array_equal(var.numpy(), value, err_msg=wname)
        checked += 1
    assert checked == len(values) == 384


def test_save_writes_reference_layout(model, reference_file, tmp_path):
    path, values = reference_file
    model.load_weights(path)
    out = model.save_weights(tmp_path / "mask_rcnn_copy_0001.h5")
    assert out.with_suffix(".json").is_file()
    with h5py.File(out, "r") as f:
        assert np.char.decode(np.bytes_(f.attrs["backend"])) == "tensorflow"
        assert "keras_version" in f.attrs
        names = [n.decode() for n in f.attrs["layer_names"]]
        assert names == [g for g, _ in r50_layout(2)]
        assert [n.decode() for n in f["rpn_model"].attrs["weight_names"]] == [
            "rpn_conv_shared/kernel:0", "rpn_conv_shared/bias:0", "rpn_class_raw/kernel:0",
            "rpn_class_raw/bias:0", "rpn_bbox_pred/kernel:0", "rpn_bbox_pred/bias:0"]
        # Nested datasets, as Keras writes them.
        np.testing.assert_array_equal(f["rpn_model/rpn_class_raw/kernel:0"][()], values["rpn_class_raw/kernel:0"])
        np.testing.assert_array_equal(f["bn3a_branch1/bn3a_branch1/moving_variance:0"][()],
                                      values["bn3a_branch1/moving_variance:0"])
    assert {k: v.shape for g in read_weight_file(out).values() for k, v in g} == \
        {k: v.shape for k, v in values.items()}


def test_roundtrip_detects_the_same(tmp_path, reference_file):
    cfg = tiny_config(fpn_classif_fc_layers_size=1024, detection_min_confidence=0.0)
    a = build_model(cfg)
    a.load_weights(reference_file[0])
    path = a.save_weights(tmp_path / "w.h5")
    b = build_model(cfg)
    b.load_weights(path)
    image = np.random.default_rng(3).integers(0, 255, (50, 70, 3), dtype=np.uint8)
    da, db = a.detect([image])[0], b.detect([image])[0]
    assert len(da) == len(db)
    np.testing.assert_array_equal(da.boxes, db.boxes)
    np.testing.assert_allclose(da.mask_probs, db.mask_probs, atol=1e-5)


def test_class_count_mismatch_names_layer_and_shapes(model, tmp_path):
    path = tmp_path / "coco_like.h5"
    values = write_reference_file(path, r50_layout(num_classes=81), seed=5)
    with pytest.raises(ValueError, match=r"mrcnn_class_logits.*\(1024, 81\).*\(1024, 2\).*81 classes"):
        model.load_weights(path)
    before = model.net.layer("mrcnn_mask").kernel.numpy().copy()
    loaded = model.load_weights(path, exclude=CLASS_SPECIFIC_LAYERS)
    assert "mrcnn_class_logits" not in loaded and "conv1" in loaded
    np.testing.assert_array_equal(model.net.layer("mrcnn_mask").kernel.numpy(), before)
    np.testing.assert_array_equal(model.net.layer("conv1").kernel.numpy(), values["conv1/kernel:0"])


def test_wrong_backbone(model, tmp_path):
    layout = r50_layout(2)
    # A ResNet-101 file has stage-4 blocks up to 'w'.
    layout.insert(-30, _conv("res4w_branch2a", 1, 1, 1024, 256))
    path = tmp_path / "r101.h5"
    write_reference_file(path, layout)
    with pytest.raises(ValueError, match=r"resnet101 backbone.*backbone='resnet50'"):
        model.load_weights(path)


def test_missing_layers_and_bad_exclude(model, tmp_path):
    layout = [g for g in r50_layout(2) if not g[0].startswith("mrcnn_mask")]
    path = tmp_path / "partial.h5"
    write_reference_file(path, layout)
    with pytest.raises(ValueError, match=r"10 layers of the model are not in .*mrcnn_mask_conv1"):
        model.load_weights(path)
    assert "mrcnn_mask" not in model.load_weights(path, strict=False)
    with pytest.raises(ValueError, match="unknown layers"):
        model.load_weights(path, exclude=["mrcnn_maks"])


def test_missing_and_corrupt_files(model, tmp_path):
    with pytest.raises(FileNotFoundError, match="not found"):
        model.load_weights(tmp_path / "nope.h5")
    junk = tmp_path / "junk.h5"
    junk.write_bytes(os.urandom(2048))
    with pytest.raises(ValueError, match="not a valid HDF5 file"):
        model.load_weights(junk)
    other = tmp_path / "other.h5"
    with h5py.File(other, "w") as f:
        f.create_dataset("x", data=np.zeros(3))
    with pytest.raises(ValueError, match="not Keras weights"):
        model.load_weights(other)
    truncated = tmp_path / "truncated.h5"
    full = tmp_path / "full.h5"
    write_reference_file(full, r50_layout(2)[:6])
    truncated.write_bytes(full.read_bytes()[:3000])
    with pytest.raises(ValueError, match="truncated|corrupt|not a valid HDF5"):
        model.load_weights(truncated)


def test_load_model_reads_config_and_caches(tmp_path, reference_file):
    from napari_boostseg.mrcnn import clear_model_cache

    clear_model_cache()
    cfg = tiny_config(fpn_classif_fc_layers_size=1024)
    path = tmp_path / "mask_rcnn_tiny_0001.h5"
    path.write_bytes(reference_file[0].read_bytes())
    with pytest.raises(FileNotFoundError, match="no config file beside"):
        load_model(path)
    cfg.to_json(path.with_suffix(".json"))
    m1 = load_model(path)
    assert m1.config == cfg
    assert load_model(path) is m1
    assert load_model(str(path), config=cfg) is m1
    os.utime(path, ns=(path.stat().st_atime_ns, path.stat().st_mtime_ns + 10**9))
    m2 = load_model(path)
    assert m2 is not m1
    with pytest.raises(FileNotFoundError):
        load_model(tmp_path / "missing.h5")


@pytest.mark.skipif(not LAYOUT_JSON.is_file(), reason="reference layout description not available")
def test_layout_matches_reference_description(model):
    ref = json.loads(LAYOUT_JSON.read_text())
    want = [(layer["layer"], [(w["weight"], tuple(w["shape"])) for w in layer["weights"]])
            for layer in ref["layers"] if layer["weights"]]
    assert [(g, [(w, tuple(s)) for w, s in e]) for g, e in r50_layout(2)] == want
    mine = [(g, [(w, tuple(v.shape)) for w, v in e]) for g, e in model.weight_groups()]
    assert mine == want


def test_keras_reads_our_file_by_name(model, reference_file, tmp_path):
    """tf_keras' own by-name HDF5 loader (what reference code calls) accepts our files."""
    model.load_weights(reference_file[0])
    out = model.save_weights(tmp_path / "ours.h5", write_config=False)
    backbone = model.net.backbone
    for var in backbone.weights:
        var.assign(np.zeros(var.shape, np.float32))
    backbone.load_weights(str(out), by_name=True)
    values = reference_file[1]
    np.testing.assert_array_equal(backbone.get_layer("res4f_branch2c").kernel.numpy(),
                                  values["res4f_branch2c/kernel:0"])
    np.testing.assert_array_equal(backbone.get_layer("fpn_p2").bias.numpy(), values["fpn_p2/bias:0"])


def test_compact_model_float16_storage(tmp_path):
    """A narrow model saves at half size in float16 and detects almost the same after reloading."""
    cfg = tiny_config(backbone_width=0.5, top_down_pyramid_size=64, detection_min_confidence=0.0)
    a = build_model(cfg)
    # Random weights may call every ROI background; bias the head so that there are detections.
    a.net.layer("mrcnn_class_logits").bias.assign(np.array([0.0, 8.0], np.float32))
    full = a.save_weights(tmp_path / "w32.h5")
    half = a.save_weights(tmp_path / "w16.h5", dtype="float16")
    assert os.path.getsize(half) < 0.6 * os.path.getsize(full)
    stored = read_weight_file(half)
    assert stored["conv1"][0][1].dtype == np.float16 and stored["conv1"][0][1].shape[-1] == 32
    assert stored["fpn_p2"][0][1].shape[-1] == 64 and stored["mrcnn_mask_conv1"][0][1].shape[-1] == 64
    b = build_model(cfg)
    b.load_weights(half)
    np.testing.assert_allclose(b.net.layer("conv1").kernel.numpy(), a.net.layer("conv1").kernel.numpy(),
                               rtol=1e-3, atol=1e-6)
    image = np.random.default_rng(4).integers(0, 255, (60, 50, 3), dtype=np.uint8)
    da, db = a.detect([image])[0], b.detect([image])[0]
    assert len(da) > 0
    np.testing.assert_allclose(db.scores[:5], da.scores[:5], atol=0.02)
    with pytest.raises(ValueError, match="dtype"):
        a.save_weights(tmp_path / "w8.h5", dtype="int8")
    # A file of another width does not load into the reference width, and says what to compare.
    with pytest.raises(ValueError, match="backbone_width"):
        build_model(tiny_config()).load_weights(full)


def test_float16_keeps_out_of_range_tensors_in_float32_and_files_are_readable(tmp_path):
    cfg = tiny_config(backbone_width=0.25, top_down_pyramid_size=32)
    model = build_model(cfg)
    # BatchNorm after conv1 sees 0-255 pixels: its variance can exceed float16's range.
    var = model.net.layer("bn_conv1").moving_variance
    var.assign(np.full(var.shape, 8.0e4, np.float32))
    path = model.save_weights(tmp_path / "w16.h5", dtype="float16")
    stored = dict(read_weight_file(path)["bn_conv1"])
    assert stored["bn_conv1/moving_variance:0"].dtype == np.float32
    assert stored["bn_conv1/gamma:0"].dtype == np.float16
    again = build_model(cfg)
    again.load_weights(path)
    np.testing.assert_array_equal(again.net.layer("bn_conv1").moving_variance.numpy(), 8.0e4)
    # Saved like any other file: readable by others where the umask allows it.
    umask = os.umask(0)
    os.umask(umask)
    assert (path.stat().st_mode & 0o777) == (0o666 & ~umask)
