"""Screenshots of the napari workflow for the README, saved to docs/images/.

Run with a display (on a server: ``xvfb-run -a python scripts/screenshots.py``).
Uses the bundled samples only; no weights needed.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

OUT = Path(__file__).resolve().parent.parent / "docs" / "images"


def settle(viewer, rounds: int = 5) -> None:
    from qtpy.QtWidgets import QApplication

    for _ in range(rounds):
        QApplication.processEvents()


def shoot(viewer, name: str, out: Path) -> None:
    settle(viewer)
    path = out / name
    viewer.screenshot(str(path), canvas_only=False, flash=False)
    print(f"wrote {path}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=OUT, help="folder for the PNGs")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)

    import napari

    from napari_boostseg._napari._widgets import DetectWidget, ExportWidget, RefineWidget

    viewer = napari.Viewer(title="napari-boostseg")
    viewer.window.resize(1500, 950)
    viewer.open_sample("napari-boostseg", "bag_and_scarf")
    settle(viewer)
    viewer.reset_view()
    photo, coarse = viewer.layers["bag_and_scarf"], viewer.layers["bag_and_scarf coarse"]

    # 1. Detect: the widget beside the photo and its coarse masks.
    detect = DetectWidget(viewer)
    detect_dock = viewer.window.add_dock_widget(detect, name="Detect", area="right")
    detect.image.value = photo
    shoot(viewer, "napari-detect.png", args.out)
    viewer.window.remove_dock_widget(detect_dock)

    # 2. Refine: every step as a layer; segmentation and markers shown.
    refine = RefineWidget(viewer)
    viewer.window.add_dock_widget(refine, name="Refine", area="right")
    refine.synchronous = True
    refine.image.value, refine.coarse.value = photo, coarse
    refine.run()
    coarse.visible = False
    viewer.layers["bag_and_scarf markers"].visible = False
    shoot(viewer, "napari-refine.png", args.out)

    # 3. Zoomed on the handle, whose hole the watershed filled: the
    #    segmentation before, the markers with a background stroke painted
    #    across the hole, and the segmentation after (it followed by itself).
    markers = viewer.layers["bag_and_scarf markers"]
    segmentation = viewer.layers["bag_and_scarf segmentation"]
    camera = getattr(getattr(viewer, "scene", None), "camera", None) or viewer.camera
    camera.center = (400, 560)
    camera.zoom = camera.zoom * 1.9
    shoot(viewer, "napari-before-stroke.png", args.out)
    markers.visible = True
    segmentation.visible = False
    with markers.block_history():  # a zigzag inside the hole (centre 458, 550)
        for row in range(327, 426, 24):
            half = 161 * np.sqrt(1 - ((row - 458) / 149) ** 2) - 18
            for col in range(int(550 - half), int(550 + half), 4):
                markers.paint((row, col), 1, refresh=False)
    markers.refresh()
    refine.follow_markers()
    shoot(viewer, "napari-markers.png", args.out)
    markers.visible = False
    segmentation.visible = True
    shoot(viewer, "napari-after-stroke.png", args.out)

    # 4. The edge map the watershed floods.
    viewer.reset_view()
    segmentation.visible = False
    viewer.layers["bag_and_scarf edges"].visible = True
    shoot(viewer, "napari-edges.png", args.out)
    viewer.layers["bag_and_scarf edges"].visible = False

    # 5. Export: the cut-out widget with the corrected result.
    segmentation.visible, segmentation.contour = True, 0
    export = ExportWidget(viewer)
    viewer.window.add_dock_widget(export, name="Export cut-outs", area="right")
    export.image.value, export.segmentation.value = photo, segmentation
    export.folder.value = "cutouts"
    shoot(viewer, "napari-export.png", args.out)

    # A cut-out, flattened on a checkerboard so the transparency shows.
    from napari_boostseg import io

    rgba = io.cutout(photo.data, segmentation.data, label=1).astype(np.float32) / 255
    tile = ((np.indices(rgba.shape[:2]) // 24).sum(axis=0) % 2)[..., None] * 0.15 + 0.8
    flat = rgba[..., :3] * rgba[..., 3:] + tile * (1 - rgba[..., 3:])
    from PIL import Image

    Image.fromarray((flat * 255 + 0.5).astype(np.uint8)).reduce(2).save(args.out / "cutout-bag.png")
    print(f"wrote {args.out / 'cutout-bag.png'}")
    viewer.close()


if __name__ == "__main__":
    main()
