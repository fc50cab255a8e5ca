"""Sample data contribution: the bundled studio photos with their coarse masks, and a real photo."""

from __future__ import annotations


def _layers(name: str) -> list[tuple]:
    from napari_boostseg.samples import load_sample

    sample = load_sample(name)
    # The sample arrays are read-only; the coarse mask is copied so it can be painted.
    return [
        (sample.image, {"name": name}, "image"),
        (sample.coarse.copy(), {"name": f"{name} coarse", "opacity": 0.4}, "labels"),
    ]


def tshirt() -> list[tuple]:
    """A striped T-shirt on white paper."""
    return _layers("tshirt")


def dress() -> list[tuple]:
    """A red dress on grey paper (portrait)."""
    return _layers("dress")


def bag_and_scarf() -> list[tuple]:
    """A bag with a handle hole, and a striped scarf beside it: two objects."""
    return _layers("bag_and_scarf")


def astronaut() -> list[tuple]:
    """A real photo of a person (NASA, public domain; bundled with scikit-image), to try Detect on."""
    from skimage import data

    # Straight from scikit-image: the demo's list would also generate the studio samples.
    return [(data.astronaut(), {"name": "astronaut"}, "image")]
