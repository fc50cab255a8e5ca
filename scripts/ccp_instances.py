"""Kept for old command lines: the CCP instances now live in the package."""

from napari_boostseg.synthetic.ccp import (  # noqa: F401
    CLASS_NAMES,
    DEV_IDS,
    GARMENT_GROUPS,
    MIN_REGION_PX,
    TRAIN_IDS,
    CCPInstances,
    group_lookup,
    instances,
    label_names,
)
