"""Sample data contribution: the bundled studio photos, and a street photo of a person."""

from __future__ import annotations

#: Key of a sample layer's metadata: the Mask R-CNN classes Detect keeps for it.
PHOTO_CLASSES = "boostseg_classes"


def _photo(name: str) -> list[tuple]:
    from napari_boostseg.sample_photos import load_sample_photo

    sample = load_sample_photo(name)
    meta: dict = {"name": name}
    if sample.classes:  # a photo without a backdrop: Detect keeps these model classes
        meta["metadata"] = {PHOTO_CLASSES: list(sample.classes)}
    return [(sample.image, meta, "image")]


def sweater() -> list[tuple]:
    """A dark sweater with a grey bib on white paper."""
    return _photo("sweater")


def outfit() -> list[tuple]:
    """Five products laid out on light grey paper."""
    return _photo("outfit")


def man() -> list[tuple]:
    """A man with a bag on a white seamless backdrop."""
    return _photo("man")


def white_top() -> list[tuple]:
    """A white top on light grey paper: faint edges."""
    return _photo("white_top")


def street() -> list[tuple]:
    """A woman in a street: no backdrop, so Detect runs the Mask R-CNN."""
    return _photo("street")
