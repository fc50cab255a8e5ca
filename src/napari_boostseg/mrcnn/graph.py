"""The Mask R-CNN network: ResNet-FPN backbone, RPN and the two heads.

Layer names are those of the matterport implementation, so that its ``.h5``
weight files map one to one onto our layers (see
:mod:`napari_boostseg.mrcnn.weights`). The per-ROI heads use ordinary
convolutions over a flattened (batch x ROI) axis; that holds the same weights
as the reference's ``TimeDistributed`` wrappers and runs faster.

This module imports TensorFlow; import it only when a model is needed.
"""

from __future__ import annotations

import functools

import tensorflow as tf
import tf_keras as keras

from . import ops
from .config import MaskRCNNConfig

__all__ = ["MaskRCNNNet", "reference_layer_order", "HEAD_LAYERS_REGEX", "LAYER_REGEX", "PRECISIONS"]

KL = keras.layers

#: Layers trained by ``layers="heads"`` etc. (regular expressions on layer names,
#: as the reference uses them).
HEAD_LAYERS_REGEX = r"(mrcnn\_.*)|(rpn\_.*)|(fpn\_.*)"
LAYER_REGEX: dict[str, str] = {
    "heads": HEAD_LAYERS_REGEX,
    "3+": r"(res3.*)|(bn3.*)|(res4.*)|(bn4.*)|(res5.*)|(bn5.*)|" + HEAD_LAYERS_REGEX,
    "4+": r"(res4.*)|(bn4.*)|(res5.*)|(bn5.*)|" + HEAD_LAYERS_REGEX,
    "5+": r"(res5.*)|(bn5.*)|" + HEAD_LAYERS_REGEX,
    "all": r".*",
}

_RPN_LAYERS = ("rpn_conv_shared", "rpn_class_raw", "rpn_bbox_pred")

#: Supported compute precisions. Variables stay float32 either way, so the
#: weight files are the same.
PRECISIONS = ("float32", "bfloat16")


class _Layers:
    """``keras.layers`` with a fixed dtype policy for every layer built."""

    def __init__(self, precision: str = "float32"):
        if precision not in PRECISIONS:
            raise ValueError(f"precision must be one of {PRECISIONS}, got {precision!r}.")
        self.policy = None if precision == "float32" else "mixed_bfloat16"

    def __getattr__(self, name):
        cls = getattr(KL, name)
        if self.policy is None:
            return cls
        return functools.partial(cls, dtype=self.policy)


def _stage_blocks(config: MaskRCNNConfig) -> list[tuple[int, list[str]]]:
    return [
        (2, ["a", "b", "c"]),
        (3, ["a", "b", "c", "d"]),
        (4, [chr(ord("a") + i) for i in range(config.stage4_blocks)]),
        (5, ["a", "b", "c"]),
    ]


def reference_layer_order(config: MaskRCNNConfig) -> list[str]:
    """Names of the weighted layer groups, in the order the reference writes them."""
    names = ["conv1", "bn_conv1"]
    for stage, blocks in _stage_blocks(config):
        for block in blocks:
            tag = f"{stage}{block}"
            names += [f"res{tag}_branch2a", f"bn{tag}_branch2a", f"res{tag}_branch2b", f"bn{tag}_branch2b"]
            if block == "a":
                names += [f"res{tag}_branch2c", f"res{tag}_branch1", f"bn{tag}_branch2c", f"bn{tag}_branch1"]
            else:
                names += [f"res{tag}_branch2c", f"bn{tag}_branch2c"]
    names += ["fpn_c5p5", "fpn_c4p4", "fpn_c3p3", "fpn_c2p2", "fpn_p5", "fpn_p2", "fpn_p3", "fpn_p4"]
    names += ["rpn_model"]
    names += ["mrcnn_class_conv1", "mrcnn_class_bn1", "mrcnn_class_conv2", "mrcnn_class_bn2"]
    names += ["mrcnn_class_logits", "mrcnn_bbox_fc"]
    for i in range(1, 5):
        names += [f"mrcnn_mask_conv{i}", f"mrcnn_mask_bn{i}"]
    names += ["mrcnn_mask_deconv", "mrcnn_mask"]
    return names


def _bn(name: str, L: _Layers):
    # The reference BatchNorm layers use Keras' default epsilon 1e-3.
    return L.BatchNormalization(name=name)


def _bn_training(config: MaskRCNNConfig):
    # Frozen BatchNorm runs in inference mode even while training (reference TRAIN_BN=False).
    return None if config.train_bn else False


def _res_block(x, filters, stage: int, block: str, strides: int, config: MaskRCNNConfig, shortcut: bool, L: _Layers):
    tag = f"{stage}{block}"
    nb1, nb2, nb3 = filters
    training = _bn_training(config)
    y = L.Conv2D(nb1, 1, strides=strides, name=f"res{tag}_branch2a")(x)
    y = _bn(f"bn{tag}_branch2a", L)(y, training=training)
    y = L.Activation("relu")(y)
    y = L.Conv2D(nb2, 3, padding="same", name=f"res{tag}_branch2b")(y)
    y = _bn(f"bn{tag}_branch2b", L)(y, training=training)
    y = L.Activation("relu")(y)
    y = L.Conv2D(nb3, 1, name=f"res{tag}_branch2c")(y)
    y = _bn(f"bn{tag}_branch2c", L)(y, training=training)
    if shortcut:
        s = L.Conv2D(nb3, 1, strides=strides, name=f"res{tag}_branch1")(x)
        s = _bn(f"bn{tag}_branch1", L)(s, training=training)
    else:
        s = x
    y = L.Add()([y, s])
    return L.Activation("relu", name=f"res{tag}_out")(y)


def build_backbone(config: MaskRCNNConfig, precision: str = "float32") -> keras.Model:
    """ResNet + FPN as a Keras model: molded image -> [P2, P3, P4, P5, P6]."""
    L = _Layers(precision)
    image = KL.Input(shape=(None, None, 3), name="input_image")
    x = L.ZeroPadding2D((3, 3))(image)
    # Inputs are mean-subtracted 0-255 pixels (std ~60), not unit-variance data:
    # scale the random initialisation so that an untrained network starts with
    # activations of order one. Loaded weights replace it.
    init = keras.initializers.VarianceScaling(scale=1.0 / 60.0**2, mode="fan_avg", distribution="uniform")
    x = L.Conv2D(config.channels(64), 7, strides=2, name="conv1", kernel_initializer=init)(x)
    x = _bn("bn_conv1", L)(x, training=_bn_training(config))
    x = L.Activation("relu")(x)
    x = L.MaxPooling2D(3, strides=2, padding="same")(x)
    stages = []
    widths = {2: (64, 64, 256), 3: (128, 128, 512), 4: (256, 256, 1024), 5: (512, 512, 2048)}
    for stage, blocks in _stage_blocks(config):
        for block in blocks:
            strides = (1 if stage == 2 else 2) if block == "a" else 1
            filters = tuple(config.channels(w) for w in widths[stage])
            x = _res_block(x, filters, stage, block, strides, config, shortcut=block == "a", L=L)
        stages.append(x)
    c2, c3, c4, c5 = stages
    size = config.top_down_pyramid_size
    p5 = L.Conv2D(size, 1, name="fpn_c5p5")(c5)
    # Top-down pathway: upsample the coarser map and add the lateral 1x1 projection.
    p4 = L.Add(name="fpn_p4add")(
        [L.UpSampling2D(2, name="fpn_p5upsampled")(p5), L.Conv2D(size, 1, name="fpn_c4p4")(c4)]
    )
    p3 = L.Add(name="fpn_p3add")(
        [L.UpSampling2D(2, name="fpn_p4upsampled")(p4), L.Conv2D(size, 1, name="fpn_c3p3")(c3)]
    )
    p2 = L.Add(name="fpn_p2add")(
        [L.UpSampling2D(2, name="fpn_p3upsampled")(p3), L.Conv2D(size, 1, name="fpn_c2p2")(c2)]
    )
    p5 = L.Conv2D(size, 3, padding="same", name="fpn_p5")(p5)
    p2 = L.Conv2D(size, 3, padding="same", name="fpn_p2")(p2)
    p3 = L.Conv2D(size, 3, padding="same", name="fpn_p3")(p3)
    p4 = L.Conv2D(size, 3, padding="same", name="fpn_p4")(p4)
    # P6 subsamples P5 (a 1x1 max-pool with stride 2, as the reference).
    p6 = L.MaxPooling2D(pool_size=1, strides=2, name="fpn_p6")(p5)
    return keras.Model(image, [p2, p3, p4, p5, p6], name="mask_rcnn_backbone")


def build_rpn(config: MaskRCNNConfig, precision: str = "float32") -> keras.Model:
    """Region proposal network shared by all pyramid levels (the ``rpn_model`` group)."""
    L = _Layers(precision)
    a = config.anchors_per_location
    fmap = KL.Input(shape=(None, None, config.top_down_pyramid_size), name="input_rpn_feature_map")
    shared = L.Conv2D(
        2 * config.top_down_pyramid_size, 3, padding="same", activation="relu",
        strides=config.rpn_anchor_stride, name="rpn_conv_shared",
    )(fmap)
    logits = L.Conv2D(2 * a, 1, name="rpn_class_raw")(shared)
    logits = L.Reshape((-1, 2))(logits)
    # Probabilities in float32 whatever the compute precision: they rank anchors.
    probs = KL.Activation("softmax", name="rpn_class_softmax", dtype="float32")(logits)
    deltas = L.Conv2D(4 * a, 1, name="rpn_bbox_pred")(shared)
    deltas = L.Reshape((-1, 4))(deltas)
    return keras.Model(fmap, [logits, probs, deltas], name="rpn_model")


class MaskRCNNNet:
    """All layers of Mask R-CNN and the functions that run them.

    Parameters
    ----------
    config : MaskRCNNConfig
    precision : {"float32", "bfloat16"}, default "float32"
        Compute precision of the layers. "bfloat16" keeps float32 variables
        (same weight files) and runs several times faster on CPUs with
        AMX/AVX-512 BF16 units, at the cost of slightly different scores and
        masks.

    Notes
    -----
    Weights are random (Keras default initialisers) until loaded with
    :func:`napari_boostseg.mrcnn.weights.load_weights`.
    """

    def __init__(self, config: MaskRCNNConfig, precision: str = "float32"):
        self.config = config
        self.precision = precision
        L = _Layers(precision)
        self.backbone = build_backbone(config, precision)
        self.rpn = build_rpn(config, precision)
        c = config.num_classes
        fc = config.fpn_classif_fc_layers_size
        self.class_conv1 = L.Conv2D(fc, config.pool_size, padding="valid", name="mrcnn_class_conv1")
        self.class_bn1 = L.BatchNormalization(name="mrcnn_class_bn1")
        self.class_conv2 = L.Conv2D(fc, 1, name="mrcnn_class_conv2")
        self.class_bn2 = L.BatchNormalization(name="mrcnn_class_bn2")
        self.class_logits = L.Dense(c, name="mrcnn_class_logits")
        self.bbox_fc = L.Dense(4 * c, name="mrcnn_bbox_fc")
        width = config.top_down_pyramid_size  # 256 in the reference
        self.mask_convs = [L.Conv2D(width, 3, padding="same", name=f"mrcnn_mask_conv{i}") for i in range(1, 5)]
        self.mask_bns = [L.BatchNormalization(name=f"mrcnn_mask_bn{i}") for i in range(1, 5)]
        self.mask_deconv = L.Conv2DTranspose(width, 2, strides=2, activation="relu", name="mrcnn_mask_deconv")
        self.mask_out = L.Conv2D(c, 1, activation="sigmoid", name="mrcnn_mask")
        self._build_heads()
        self._layers = self._collect_layers()
        self._infer_fn = None

    # ----------------------------------------------------------------- layers
    def _build_heads(self) -> None:
        size = self.config.top_down_pyramid_size
        fc = self.config.fpn_classif_fc_layers_size
        p, m = self.config.pool_size, self.config.mask_pool_size
        self.class_conv1.build((None, p, p, size))
        self.class_bn1.build((None, 1, 1, fc))
        self.class_conv2.build((None, 1, 1, fc))
        self.class_bn2.build((None, 1, 1, fc))
        self.class_logits.build((None, fc))
        self.bbox_fc.build((None, fc))
        for conv, bn in zip(self.mask_convs, self.mask_bns):
            conv.build((None, m, m, size))
            bn.build((None, m, m, size))
        self.mask_deconv.build((None, m, m, size))
        self.mask_out.build((None, 2 * m, 2 * m, size))

    def _collect_layers(self) -> dict[str, keras.layers.Layer]:
        layers = {layer.name: layer for layer in self.backbone.layers if layer.weights}
        for name in _RPN_LAYERS:
            layers[name] = self.rpn.get_layer(name)
        for layer in (
            self.class_conv1, self.class_bn1, self.class_conv2, self.class_bn2,
            self.class_logits, self.bbox_fc, *self.mask_convs, *self.mask_bns,
            self.mask_deconv, self.mask_out,
        ):
            layers[layer.name] = layer
        return layers

    def layer(self, name: str) -> keras.layers.Layer:
        """The weighted layer of that reference name (rpn layers by their inner name)."""
        try:
            return self._layers[name]
        except KeyError:
            raise KeyError(f"No layer named {name!r} in this model.") from None

    def weight_groups(self) -> list[tuple[str, list[tuple[str, tf.Variable]]]]:
        """Weights grouped as in a reference ``.h5`` file.

        Returns
        -------
        list of (group name, [(weight name, variable), ...])
            Groups in reference order; weight names as the reference writes
            them (``"conv1/kernel:0"``; the ``rpn_model`` group holds the three
            RPN layers).
        """
        groups = []
        for group in reference_layer_order(self.config):
            members = _RPN_LAYERS if group == "rpn_model" else (group,)
            entries = []
            for member in members:
                layer = self._layers[member]
                for suffix, var in zip(_weight_suffixes(layer), layer.weights):
                    entries.append((f"{member}/{suffix}:0", var))
            groups.append((group, entries))
        return groups

    @property
    def all_layers(self) -> list[keras.layers.Layer]:
        """Every weighted layer."""
        return list(self._layers.values())

    def set_trainable(self, regex: str) -> list[str]:
        """Make layers whose name fully matches ``regex`` trainable, freeze the rest.

        BatchNorm layers stay frozen unless ``config.train_bn``. Returns the
        names of the trainable layers.
        """
        import re

        pattern = re.compile(regex)
        names = []
        for name, layer in self._layers.items():
            on = bool(pattern.fullmatch(name))
            if isinstance(layer, KL.BatchNormalization) and not self.config.train_bn:
                on = False
            layer.trainable = on
            if on:
                names.append(name)
        return names

    def trainable_variables(self) -> list[tf.Variable]:
        """Trainable variables of the trainable layers, in a stable order."""
        out = []
        for layer in self._layers.values():
            if layer.trainable:
                out.extend(layer.trainable_weights)
        return out

    # ---------------------------------------------------------------- forward
    def features(self, images: tf.Tensor, training: bool = False):
        """Pyramid maps and RPN outputs.

        Returns
        -------
        pyramid : list of 5 tensors (P2..P6)
        rpn_logits, rpn_probs, rpn_deltas : (B, A, 2), (B, A, 2), (B, A, 4)
        """
        pyramid = self.backbone(images, training=training)
        outs = [self.rpn(p, training=training) for p in pyramid]
        rpn_logits = tf.concat([tf.cast(o[0], tf.float32) for o in outs], axis=1)
        rpn_probs = tf.concat([tf.cast(o[1], tf.float32) for o in outs], axis=1)
        rpn_deltas = tf.concat([tf.cast(o[2], tf.float32) for o in outs], axis=1)
        # ROIAlign (crop_and_resize) works in float32.
        pyramid = [tf.cast(p, tf.float32) for p in pyramid]
        return pyramid, rpn_logits, rpn_probs, rpn_deltas

    def _bn_call(self, layer, x, training):
        return layer(x, training=training if self.config.train_bn else False)

    def classifier(self, rois, pyramid, image_shape, training: bool = False):
        """Classifier head on ROIs.

        Returns
        -------
        logits, probs : (B, N, C)
        deltas : (B, N, C, 4)
        """
        cfg = self.config
        pooled = ops.pyramid_roi_align(rois, pyramid[:4], cfg.pool_size, image_shape)
        b, n = tf.shape(rois)[0], tf.shape(rois)[1]
        x = tf.reshape(pooled, [-1, cfg.pool_size, cfg.pool_size, cfg.top_down_pyramid_size])
        x = tf.nn.relu(self._bn_call(self.class_bn1, self.class_conv1(x), training))
        x = tf.nn.relu(self._bn_call(self.class_bn2, self.class_conv2(x), training))
        x = tf.reshape(x, [-1, cfg.fpn_classif_fc_layers_size])
        logits = tf.cast(self.class_logits(x), tf.float32)
        probs = tf.nn.softmax(logits)
        deltas = tf.cast(self.bbox_fc(x), tf.float32)
        c = cfg.num_classes
        return (
            tf.reshape(logits, [b, n, c]),
            tf.reshape(probs, [b, n, c]),
            tf.reshape(deltas, [b, n, c, 4]),
        )

    def mask_head(self, boxes, pyramid, image_shape, training: bool = False):
        """Mask head: (B, N, 4) boxes -> (B, N, 28, 28, C) mask probabilities."""
        cfg = self.config
        pooled = ops.pyramid_roi_align(boxes, pyramid[:4], cfg.mask_pool_size, image_shape)
        b, n = tf.shape(boxes)[0], tf.shape(boxes)[1]
        x = tf.reshape(pooled, [-1, cfg.mask_pool_size, cfg.mask_pool_size, cfg.top_down_pyramid_size])
        for conv, bn in zip(self.mask_convs, self.mask_bns):
            x = tf.nn.relu(self._bn_call(bn, conv(x), training))
        x = self.mask_deconv(x)
        x = tf.cast(self.mask_out(x), tf.float32)
        m = 2 * cfg.mask_pool_size
        return tf.reshape(x, [b, n, m, m, cfg.num_classes])

    def _infer(self, images, windows, anchors):
        cfg = self.config
        image_shape = tf.shape(images)[1:3]
        pyramid, _, rpn_probs, rpn_deltas = self.features(images, training=False)
        rois = ops.proposals(
            rpn_probs, rpn_deltas, anchors,
            count=cfg.post_nms_rois_inference,
            pre_nms_limit=cfg.pre_nms_limit,
            nms_threshold=cfg.rpn_nms_threshold,
            rpn_bbox_std_dev=cfg.rpn_bbox_std_dev,
        )
        _, probs, deltas = self.classifier(rois, pyramid, image_shape)
        detections = ops.refine_detections(
            rois, probs, deltas, windows,
            bbox_std_dev=cfg.bbox_std_dev,
            min_confidence=cfg.detection_min_confidence,
            nms_threshold=cfg.detection_nms_threshold,
            max_instances=cfg.detection_max_instances,
        )
        # Detections come first and zero padding after; the mask head (the
        # costliest head) only needs the rows that are detections in some image.
        class_ids = tf.cast(detections[..., 4], tf.int32)
        # At least one row, so that no convolution sees an empty batch.
        n = tf.maximum(tf.reduce_max(tf.reduce_sum(tf.cast(class_ids > 0, tf.int32), axis=1)), 1)
        masks = self.mask_head(detections[:, :n, :4], pyramid, image_shape)
        # Keep only the channel of each detection's class: (B, n, 28, 28).
        masks = tf.gather(tf.transpose(masks, [0, 1, 4, 2, 3]), class_ids[:, :n], axis=2, batch_dims=2)
        pad = cfg.detection_max_instances - n
        masks = tf.pad(masks, [[0, 0], [0, pad], [0, 0], [0, 0]])
        return detections, masks

    def infer(self, images, windows, anchors):
        """Run the compiled inference graph.

        Parameters
        ----------
        images : (B, H, W, 3) float32 array
            Molded images (same size within a batch).
        windows : (B, 4) float32 array
            Normalised windows.
        anchors : (A, 4) float32 array
            Normalised anchors for this size.

        Returns
        -------
        detections : (B, D, 6) tensor
        masks : (B, D, 28, 28) tensor, class-specific mask probabilities.
        """
        if self._infer_fn is None:
            self._infer_fn = tf.function(
                self._infer,
                input_signature=[
                    tf.TensorSpec([None, None, None, 3], tf.float32),
                    tf.TensorSpec([None, 4], tf.float32),
                    tf.TensorSpec([None, 4], tf.float32),
                ],
            )
        return self._infer_fn(images, windows, anchors)


def _weight_suffixes(layer) -> tuple[str, ...]:
    if isinstance(layer, KL.BatchNormalization):
        return ("gamma", "beta", "moving_mean", "moving_variance")
    return ("kernel", "bias")
