"""Screenshots of the napari workflow for the README, saved to docs/images/.

Run with a display (on a server: ``xvfb-run -a python scripts/screenshots.py``).
Uses the bundled samples only; no weights needed. ``--train`` adds the Train
widget after a short fine-tuning of the bundled model (TensorFlow, a few minutes).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

# The drawn sample photos live beside the benchmarks.
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))

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


def shoot_loop(viewer, args) -> None:
    """Screenshots of a whole shoot: Shoot review, a stroke, Accept, Train, Detect with the new weights."""
    import tempfile
    import time

    from PIL import Image
    from qtpy.QtWidgets import QApplication
    from scipy import ndimage as ndi

    from napari_boostseg._napari._shoot import ShootWidget
    from napari_boostseg._napari._widgets import DetectWidget
    from napari_boostseg.sample_photos import load_sample_photo

    folder = Path(tempfile.mkdtemp())
    (folder / "shoot").mkdir()
    names = ("man", "outfit", "sweater", "white_top")
    for name in names:
        Image.fromarray(load_sample_photo(name).image).save(folder / "shoot" / f"{name}.png", compress_level=1)
    review = ShootWidget(viewer)
    review.synchronous = True
    shoot_dock = viewer.window.add_dock_widget(review, name="Shoot review", area="right")
    review.photos.value = folder / "shoot"
    review.open()
    # Refine's dock (opened by the shoot) as a tab behind the shoot's, as a person would arrange them.
    refine_dock = viewer.window._dock_widgets["Refine"]
    viewer.window._qt_window.tabifyDockWidget(refine_dock, shoot_dock)
    shoot_dock.raise_()
    settle(viewer)
    viewer.reset_view()
    shoot(viewer, "napari-shoot.png", args.out)

    # The sweater (light on light): an object stroke over the largest part of a product that
    # the segmentation missed, the white strip of shirt under the sweater beside the white paper.
    review.show(names.index("sweater"))
    while review._workers:
        QApplication.processEvents()
        time.sleep(0.05)
    settle(viewer)
    segmentation = viewer.layers["sweater segmentation"]
    markers = viewer.layers["sweater markers"]
    truth = load_sample_photo("sweater").truth
    missed, n = ndi.label((truth > 0) & (segmentation.data == 0))
    biggest = 1 + int(np.argmax(np.bincount(missed.ravel())[1:])) if n else 0
    rows, cols = np.nonzero(missed == biggest)
    row, col = int(np.median(rows)), int(np.median(cols))
    product = truth == np.bincount(truth[missed == biggest]).argmax()
    owner = int(np.bincount(segmentation.data[product & (segmentation.data > 0)]).argmax())
    before = int(((segmentation.data > 0) != (truth > 0)).sum())
    markers.brush_size = 6
    with markers.block_history():  # a zigzag over that part, with the object's marker
        for r in range(int(rows.min()), int(rows.max()) + 1, 4):
            for c in np.flatnonzero(missed[r] == biggest)[::4]:
                markers.paint((r, int(c)), owner + 1, refresh=False)
    markers.refresh()
    review.refine.follow_markers()
    after = int(((segmentation.data > 0) != (truth > 0)).sum())
    print(f"sweater: {before} wrong pixels before the stroke on object {owner} at ({row}, {col}), {after} after")
    camera = getattr(getattr(viewer, "scene", None), "camera", None) or viewer.camera
    camera.center = (row, col)
    camera.zoom = camera.zoom * 2
    shoot(viewer, "napari-shoot-stroke.png", args.out)

    # Accept the photos of one product, with its class (the outfit's products differ, so it
    # is skipped): each written in a worker; the list says which are corrected.
    review.synchronous = False
    classes = {"man": "person", "sweater": "top", "white_top": "top"}
    for index, name in enumerate(names):
        review.show(index)
        while review._workers or review._accepting:
            QApplication.processEvents()
            time.sleep(0.05)
        if name not in classes:
            review.skip()
            continue
        review.class_name.value = classes[name]
        review.accept()
        while review._accepting:
            QApplication.processEvents()
            time.sleep(0.05)
    settle(viewer)
    viewer.reset_view()
    shoot(viewer, "napari-shoot-accepted.png", args.out)

    # Train (with --train; TensorFlow in a child process): a short fine-tuning of the
    # bundled model on the accepted photos; then Detect with the new weights.
    if not args.train:
        return
    from napari_boostseg._napari._train import TrainWidget

    viewer.window.remove_dock_widget("all")
    detect = DetectWidget(viewer)
    train = TrainWidget(viewer)
    viewer.window.add_dock_widget(train, name="Train", area="right")
    train.data.value = review.shoot.review
    train.epochs.value, train.steps.value = 1, args.train_steps
    train.run()
    while train.worker is not None:
        QApplication.processEvents()
        time.sleep(0.05)
    shoot(viewer, "napari-train.png", args.out)
    viewer.window.remove_dock_widget("all")
    viewer.window.add_dock_widget(detect, name="Detect", area="right")
    detect.synchronous = True
    detect.image.value = viewer.layers["white_top"]
    detect.source.value = "model"
    detect.run()
    coarse = viewer.layers["white_top coarse"]
    coarse.visible, coarse.opacity = True, 0.5
    for layer in viewer.layers:
        layer.visible = layer.name in ("white_top", "white_top coarse")
    viewer.reset_view()
    shoot(viewer, "napari-detect-new-weights.png", args.out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=OUT, help="folder for the PNGs")
    parser.add_argument(
        "--train", action="store_true", help="also fine-tune the bundled model briefly (TensorFlow)"
    )
    parser.add_argument("--train-steps", type=int, default=4, help="training steps for --train")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)

    import napari

    from napari_boostseg import cutouts
    from napari_boostseg._napari._widgets import DetectWidget, ExportWidget, RefineWidget

    def io_cutout(pixels, labels):
        return cutouts.cutout(pixels, labels, label=1)

    viewer = napari.Viewer(title="napari-boostseg")
    viewer.window.resize(1500, 950)
    from samples import load_sample

    drawn = load_sample("bag_and_scarf")
    viewer.add_image(drawn.image, name="bag_and_scarf")
    viewer.add_labels(drawn.coarse.copy(), name="bag_and_scarf coarse", opacity=0.4)
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
    export.folder.value = Path.home() / "shoot" / "cutouts"
    shoot(viewer, "napari-export.png", args.out)

    # 6. One stroke claims a part the coarse mask missed, up to the photo's edge:
    #    the dress with its hem cut off the coarse mask.
    from samples import load_sample

    cutout_rgba = io_cutout(photo.data, segmentation.data)
    viewer.window.remove_dock_widget("all")
    viewer.layers.clear()
    dress = load_sample("dress")
    coarse = dress.coarse.copy()
    coarse[1240:] = 0  # the hem missed
    claim = RefineWidget(viewer)
    viewer.window.add_dock_widget(claim, name="Refine", area="right")
    claim.synchronous = True
    viewer.add_image(dress.image, name="dress")
    viewer.add_labels(coarse, name="dress coarse", visible=False)
    claim.run()
    viewer.reset_view()
    shoot(viewer, "napari-claim-before.png", args.out)
    markers = viewer.layers["dress markers"]
    markers.brush_size = 14
    with markers.block_history():  # object 1 (marker 2): along the hem, there and back
        for col in range(440, 1100, 6):
            markers.paint((1330, col), 2, refresh=False)
        for col in range(1160, 380, -6):
            markers.paint((1420, col), 2, refresh=False)
    markers.refresh()
    claim.follow_markers()
    shoot(viewer, "napari-claim-after.png", args.out)

    # 7. The shoot loop on the studio sample photos: open, correct, accept, train, detect.
    viewer.window.remove_dock_widget("all")
    viewer.layers.clear()
    shoot_loop(viewer, args)

    # A cut-out, flattened on a checkerboard so the transparency shows.
    from PIL import Image

    rgba = cutout_rgba.astype(np.float32) / 255
    tile = ((np.indices(rgba.shape[:2]) // 24).sum(axis=0) % 2)[..., None] * 0.15 + 0.8
    flat = rgba[..., :3] * rgba[..., 3:] + tile * (1 - rgba[..., 3:])
    Image.fromarray((flat * 255 + 0.5).astype(np.uint8)).reduce(2).save(args.out / "cutout-bag.png")
    print(f"wrote {args.out / 'cutout-bag.png'}")
    viewer.close()


if __name__ == "__main__":
    main()
