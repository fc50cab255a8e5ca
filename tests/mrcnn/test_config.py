import json

import pytest

from napari_boostseg.mrcnn import MaskRCNNConfig


def test_reference_defaults():
    cfg = MaskRCNNConfig()
    assert cfg.image_min_dim == 800 and cfg.image_max_dim == 1024
    assert cfg.mean_pixel == (123.7, 116.8, 103.9)
    assert cfg.rpn_anchor_scales == (32, 64, 128, 256, 512)
    assert cfg.backbone_strides == (4, 8, 16, 32, 64)
    assert cfg.pre_nms_limit == 6000 and cfg.post_nms_rois_inference == 1000
    assert cfg.detection_min_confidence == 0.7 and cfg.detection_nms_threshold == 0.3
    assert cfg.mask_shape == (28, 28) and cfg.pool_size == 7 and cfg.mask_pool_size == 14


def test_num_classes_and_meta_size():
    cfg = MaskRCNNConfig(class_names=("BG", "garment", "shoe"))
    assert cfg.num_classes == cfg.NUM_CLASSES == 3
    assert cfg.image_meta_size == 15
    assert cfg.stage4_blocks == 23
    assert MaskRCNNConfig(backbone="resnet50").stage4_blocks == 6


def test_frozen_and_hashable():
    cfg = MaskRCNNConfig(name="a")
    with pytest.raises(AttributeError):
        cfg.name = "b"
    assert hash(cfg) == hash(MaskRCNNConfig(name="a", mean_pixel=[123.7, 116.8, 103.9]))
    assert cfg.replace(image_min_dim=256, image_max_dim=512).image_max_dim == 512


@pytest.mark.parametrize(
    "changes, field",
    [
        (dict(class_names=("garment",)), "class_names"),
        (dict(class_names=("garment", "BG")), "class_names"),
        (dict(class_names=("BG", "a", "a")), "class_names"),
        (dict(backbone="resnet18"), "backbone"),
        (dict(image_max_dim=500), "image_max_dim"),
        (dict(image_min_dim=2048), "image_min_dim"),
        (dict(image_resize_mode="crop"), "image_resize_mode"),
        (dict(detection_min_confidence=1.5), "detection_min_confidence"),
        (dict(rpn_nms_threshold=0), "rpn_nms_threshold"),
        (dict(mean_pixel=(1, 2)), "mean_pixel"),
        (dict(rpn_anchor_scales=(32, 64)), "rpn_anchor_scales"),
        (dict(post_nms_rois_inference=0), "post_nms_rois_inference"),
        (dict(mask_shape=(56, 56)), "mask_shape"),
        (dict(learning_rate=-1.0), "learning_rate"),
        (dict(name="a/b"), "name"),
        (dict(backbone_width=0.0), "backbone_width"),
        (dict(backbone_width=1.5), "backbone_width"),
        (dict(top_down_pyramid_size=100), "top_down_pyramid_size"),
    ],
)
def test_invalid_values_name_the_field(changes, field):
    with pytest.raises(ValueError, match=f"MaskRCNNConfig.{field}="):
        MaskRCNNConfig(**changes)


def test_json_roundtrip(tmp_path):
    cfg = MaskRCNNConfig(name="garments", class_names=("BG", "garment"), backbone="resnet50",
                         image_min_dim=128, image_max_dim=512, detection_min_confidence=0.5)
    path = tmp_path / "model.json"
    cfg.to_json(path)
    data = json.loads(path.read_text())
    assert data["num_classes"] == 2 and data["class_names"] == ["BG", "garment"]
    assert MaskRCNNConfig.from_json(path) == cfg


def test_reference_upper_case_keys():
    cfg = MaskRCNNConfig.from_dict({"NAME": "coco", "CLASS_NAMES": ["BG", "person"], "NUM_CLASSES": 2,
                                    "IMAGE_MAX_DIM": 512, "IMAGE_MIN_DIM": 256})
    assert cfg.name == "coco" and cfg.image_max_dim == 512
    with pytest.raises(ValueError, match="NUM_CLASSES=81 disagrees"):
        MaskRCNNConfig.from_dict({"CLASS_NAMES": ["BG", "person"], "NUM_CLASSES": 81})
    with pytest.raises(ValueError, match="no class_names"):
        MaskRCNNConfig.from_dict({"NUM_CLASSES": 81})


def test_unknown_key_and_bad_file(tmp_path):
    with pytest.raises(ValueError, match="Unknown config field 'image_max_dimm'"):
        MaskRCNNConfig.from_dict({"image_max_dimm": 512})
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(ValueError, match="not valid JSON"):
        MaskRCNNConfig.from_json(bad)
    with pytest.raises(FileNotFoundError):
        MaskRCNNConfig.from_json(tmp_path / "missing.json")


def test_backbone_width_scales_channels():
    assert MaskRCNNConfig().channels(256) == 256
    half = MaskRCNNConfig(backbone_width=0.5)
    assert [half.channels(c) for c in (64, 256, 2048)] == [32, 128, 1024]
    assert MaskRCNNConfig(backbone_width=0.01).channels(64) == 8  # never below 8
