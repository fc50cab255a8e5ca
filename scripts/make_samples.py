"""Write the sample photos that ship in the package.

    python scripts/make_samples.py --ccp ../shared/data/ccp

renders :data:`SAMPLES` with :func:`napari_boostseg.synthetic.studio.render`
(products cut out of CCP training photos, Apache-2.0), makes :data:`STREET`
with :func:`napari_boostseg.synthetic.street.street_photo` (a person of one
CCP training photo in the street of another), and writes each photo as JPEG
and its true labels as PNG into ``src/napari_boostseg/sample_photos/``. The
same seeds give the same photos.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from napari_boostseg import files
from napari_boostseg.synthetic import street, studio

OUT = Path(__file__).resolve().parents[1] / "src" / "napari_boostseg" / "sample_photos"

#: name -> (layout, hard case, seed, backdrop, lighting)
SAMPLES = {
    "sweater": ("single", None, 33, "white", "gradient"),
    "outfit": ("set", None, 14, "light_grey", "vignette"),
    "man": ("person", None, 1, "white", "floor"),
    "white_top": ("single", "light_on_light", 7, "light_grey", "flat"),
}

#: The street sample: (scene, person), CCP training photo ids.
STREET = (12, 40)

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
        photo = street.street_photo(args.ccp, *STREET)
        files.write_image(args.out / "street.jpg", photo.image, quality=92, overwrite=True)
        files.write_labels(args.out / "street_truth.png", photo.truth, overwrite=True)
        print(f"street: the person of CCP {STREET[1]:04d} in the street of CCP {STREET[0]:04d}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
