"""Write the studio sample photos that ship in the package.

    python scripts/make_samples.py --ccp ../shared/data/ccp

renders :data:`SAMPLES` with :func:`napari_boostseg.synthetic.studio.render`
(products cut out of CCP training photos, Apache-2.0) and writes each photo as
JPEG and its true labels as PNG into ``src/napari_boostseg/sample_photos/``.
The same seeds give the same photos. It also copies the street photo
(:data:`STREET`, a CCP development photo, unchanged) and writes its person
mask as the true labels.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from napari_boostseg import files
from napari_boostseg.synthetic import studio

OUT = Path(__file__).resolve().parents[1] / "src" / "napari_boostseg" / "sample_photos"

#: name -> (layout, hard case, seed, backdrop, lighting)
SAMPLES = {
    "sweater": ("single", None, 33, "white", "gradient"),
    "outfit": ("set", None, 14, "light_grey", "vignette"),
    "man": ("person", None, 1, "white", "floor"),
    "white_top": ("single", "light_on_light", 7, "light_grey", "flat"),
}

#: The street photo: a CCP development photo (never trained on) with one person.
STREET = "0801"


def _street(ccp: Path, out: Path) -> None:
    import shutil

    import numpy as np

    shutil.copyfile(ccp / "images" / f"{STREET}.jpg", out / "street.jpg")
    person = files.read_labels(ccp / "masks_person" / f"{STREET}.png") > 0
    files.write_labels(out / "street_truth.png", person.astype(np.uint8), overwrite=True)
    print(f"street: CCP {STREET}, person")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--ccp", type=Path, default=Path("../shared/data/ccp"))
    parser.add_argument("--size", type=int, default=1500, help="long side in pixels (default 1500)")
    parser.add_argument("--out", type=Path, default=OUT)
    parser.add_argument("--only", nargs="*", help="names to write (default: all)")
    args = parser.parse_args(argv)
    cutouts = studio.ccp_cutouts(args.ccp, studio.TRAIN_CUTOUT_IDS)
    for name, (layout, hard, seed, backdrop, lighting) in SAMPLES.items():
        if args.only and name not in args.only:
            continue
        photo = studio.render(cutouts, seed, layout=layout, hard=hard, size=args.size,
                              backdrop=backdrop, lighting=lighting, jpeg=False)
        files.write_image(args.out / f"{name}.jpg", photo.image, quality=92, overwrite=True)
        files.write_labels(args.out / f"{name}_truth.png", photo.truth, overwrite=True)
        print(f"{name}: {photo.name}, {', '.join(photo.kinds)}")
    if not args.only or "street" in args.only:
        _street(args.ccp, args.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
