"""A shoot under review: a folder of photos, each with a status, kept on disk.

A studio reviews a shoot photo by photo: it looks at each segmentation,
corrects it with a few strokes, and accepts it, or skips the photo. Accepted
photos become training data for the Mask R-CNN, so the next shoot is
segmented better. :class:`Shoot` holds that state in a review folder::

    review/
        review.json                 status of each photo (written atomically)
        edits/<stem>-coarse.png     the coarse masks a person worked from
        edits/<stem>-coarse.json    and the class of each, where a model named it
        edits/<stem>-strokes.png    the person's strokes on the markers
        images/<stem>.<ext>         accepted photos (byte copies) } training
        labels/<stem>.png           their label images           } layout of
        labels/<stem>.json          and each object's class      } mrcnn.dataset
        cutouts/<stem>-<id>.png     one RGBA cut-out per accepted object

Statuses:

* ``new``: no segmentation yet (none from ``boostseg segment``, none saved);
* ``automatic``: segmented by the model, not yet accepted by a person;
* ``corrected``: accepted by a person (with or without strokes); its
  training data and cut-outs are written;
* ``skipped``: set aside; nothing is written for it.

Every file is written atomically, so closing napari or a crash loses at most
the edit being written. The methods may be called from several threads (a
photo prepared or accepted in the background while another is edited): the
statuses change under a lock. This module imports neither napari nor Qt.
"""

from __future__ import annotations

import json
import os
import shutil
import threading
from pathlib import Path

import numpy as np

from . import files
from .cutouts import cutout_files, write_product_cutouts

__all__ = ["STATUSES", "Shoot"]

STATUSES = ("new", "automatic", "corrected", "skipped")
STATE_FILE = "review.json"
#: Photo suffixes the Mask R-CNN training reads (see :mod:`napari_boostseg.mrcnn.dataset`).


class Shoot:
    """The photos of a shoot and their review state.

    Parameters
    ----------
    photos : path-like
        Folder of photos (any suffix in :data:`napari_boostseg.files.IMAGE_SUFFIXES`;
        not searched recursively).
    review : path-like
        Folder for the review state, training data and cut-outs (created).
        Must not be ``photos`` itself.
    segmented : path-like, optional
        The ``--out`` folder of ``boostseg segment`` over the same photos:
        its ``labels/<stem>.*`` serve as the photos' coarse masks.

    Raises
    ------
    FileNotFoundError
        If ``photos`` (or a given ``segmented``) is not a folder, or holds no photo.
    ValueError
        If ``review`` is the photo folder, or ``review.json`` is not a review state.

    Examples
    --------
    >>> shoot = Shoot("shoot/", "shoot-review/", segmented="out/")   # doctest: +SKIP
    >>> shoot.summary()                                              # doctest: +SKIP
    '12 photos: 0 new, 12 automatic, 0 corrected, 0 skipped'
    """

    def __init__(self, photos, review, segmented=None):
        self.photos = Path(photos)
        self.review = Path(review)
        self.segmented = Path(segmented) if segmented not in (None, "", ".") else None
        if not self.photos.is_dir():
            raise FileNotFoundError(f"Photo folder not found: {self.photos}. Choose a folder of photos.")
        if self.segmented is not None and not (self.segmented / "labels").is_dir():
            raise FileNotFoundError(
                f"{self.segmented} holds no 'labels' folder: choose the --out folder of "
                "'boostseg segment', or leave it empty."
            )
        if self.review.resolve() == self.photos.resolve():
            raise ValueError("Choose a review folder other than the photo folder.")
        self.paths = sorted(
            p for p in self.photos.iterdir() if p.is_file() and p.suffix.lower() in files.IMAGE_SUFFIXES
        )
        if not self.paths:
            raise FileNotFoundError(
                f"No photo in {self.photos} (looked for {', '.join(sorted(files.IMAGE_SUFFIXES))})."
            )
        stems = [p.stem for p in self.paths]
        twins = sorted({s for s in stems if stems.count(s) > 1})
        if twins:
            raise ValueError(
                f"Photos share a name but not a suffix ({', '.join(twins)}): their labels "
                "would collide; keep one of each."
            )
        self.names = stems
        self._lock = threading.RLock()
        self._status = self._load_state()
        for name in self.names:
            if self._status.get(name) not in STATUSES:
                self._status[name] = "automatic" if self._segmented_labels(name) else "new"

    # -- state -------------------------------------------------------------- #

    def _load_state(self) -> dict[str, str]:
        path = self.review / STATE_FILE
        if not path.is_file():
            return {}
        try:
            state = json.loads(path.read_text(encoding="utf-8"))
            return {str(k): str(v) for k, v in state["status"].items()}
        except (json.JSONDecodeError, KeyError, TypeError, AttributeError) as exc:
            raise ValueError(
                f"{path} is not a review state ({exc}); choose another review folder or move it away."
            ) from None

    def _set_status(self, name: str, status: str, *, only_from: str | None = None) -> None:
        """Set a photo's status and save the state (only if its status is ``only_from``, if given)."""
        with self._lock:
            if only_from is not None and self._status[name] != only_from:
                return
            self._status[name] = status
            text = json.dumps({"status": {n: self._status[n] for n in self.names}}, indent=1) + "\n"
            files.atomic_write(self.review / STATE_FILE, lambda p: p.write_text(text), overwrite=True)

    def status(self, name: str) -> str:
        """The status of photo ``name`` (its file stem)."""
        return self._status[self._known(name)]

    def counts(self) -> dict[str, int]:
        """How many photos have each status, in :data:`STATUSES` order."""
        values = [self._status[n] for n in self.names]
        return {s: values.count(s) for s in STATUSES}

    def summary(self) -> str:
        """E.g. ``'12 photos: 3 new, 5 automatic, 3 corrected, 1 skipped'``."""
        parts = ", ".join(f"{n} {s}" for s, n in self.counts().items())
        return f"{len(self.names)} photo{'s' if len(self.names) != 1 else ''}: {parts}"

    def skip(self, name: str) -> None:
        """Set photo ``name`` aside (what was accepted for it before stays)."""
        self._set_status(self._known(name), "skipped")

    def _known(self, name: str) -> str:
        if name not in self._status:
            raise KeyError(f"{name!r} is not a photo of {self.photos}")
        return name

    # -- per-photo data ------------------------------------------------------ #

    def path(self, name: str) -> Path:
        return self.paths[self.names.index(self._known(name))]

    def read_photo(self, name: str) -> files.Photo:
        return files.read_image(self.path(name))

    def _segmented_labels(self, name: str) -> Path | None:
        if self.segmented is None:
            return None
        for suffix in sorted(files.LABEL_SUFFIXES):
            path = self.segmented / "labels" / f"{name}{suffix}"
            if path.is_file():
                return path
        return None

    def _edit_path(self, name: str, kind: str) -> Path:
        return self.review / "edits" / f"{self._known(name)}-{kind}.png"

    def coarse(self, name: str) -> np.ndarray | None:
        """The coarse masks to refine: as last saved for the photo, else from ``segmented``."""
        saved = self._edit_path(name, "coarse")
        if saved.is_file():
            return files.read_labels(saved)
        found = self._segmented_labels(name)
        return files.read_labels(found) if found is not None else None

    def coarse_classes(self, name: str) -> dict[int, str]:
        """The class of each coarse mask, where a model named it (see :meth:`save_edits`)."""
        classes = files.read_classes(self._edit_path(name, "coarse"))
        return {k: str(v) for k, v in (classes or {}).items()}

    def strokes(self, name: str) -> np.ndarray | None:
        """The strokes last saved for the photo (see :meth:`save_edits`), or None."""
        saved = self._edit_path(name, "strokes")
        return files.read_labels(saved) if saved.is_file() else None

    def save_edits(self, name: str, *, coarse=None, strokes=None, classes=None) -> None:
        """Keep a photo's coarse masks and strokes (atomically; each replaces the last).

        Parameters
        ----------
        name : str
            The photo's file stem.
        coarse : (H, W) array_like of int, optional
            The coarse masks the photo is refined from.
        strokes : (H, W) array_like of int, optional
            What the person painted on the markers: 0 where they did not
            paint, ``m + 1`` where they painted marker ``m`` (so the strokes
            stay valid when the automatic markers change with the parameters).
        classes : dict of int to str, optional
            With ``coarse``: the class of each mask, where a model named it.
        """
        for kind, data in (("coarse", coarse), ("strokes", strokes)):
            if data is not None:
                files.write_labels(self._edit_path(name, kind), np.asarray(data), overwrite=True)
        if coarse is not None and classes is not None:
            named = {k: v for k, v in classes.items() if v}
            files.write_classes(self._edit_path(name, "coarse"), named, overwrite=True)
        if coarse is not None:
            self._set_status(name, "automatic", only_from="new")

    def accept(self, name: str, labels, classes: dict[int, str], pixels=None) -> list[Path]:
        """Accept photo ``name`` with these labels: write its training data and cut-outs.

        Parameters
        ----------
        name : str
            The photo's file stem.
        labels : (H, W) array_like of int
            The accepted segmentation, 0 background, 1..N objects, the photo's size.
        classes : dict of int to str
            The class name of every object in ``labels``.
        pixels : ndarray, optional
            The photo's pixels, if already read (saves reading it again).

        Returns
        -------
        list of pathlib.Path
            The files written: the photo copy, the label image, the class
            sidecar and one cut-out per object. Cut-outs of an earlier
            acceptance that no longer exist as objects are removed.

        Raises
        ------
        ValueError
            If ``labels`` does not fit the photo, has no object, or an object
            has no class; nothing is written then.
        """
        labels = np.asarray(labels)
        photo = files.read_image(self.path(name)) if pixels is None else None
        pixels = photo.pixels if photo is not None else np.asarray(pixels)
        if labels.ndim != 2 or labels.shape != pixels.shape[:2]:
            raise ValueError(
                f"The labels ({labels.shape}) do not fit photo {name!r} ({pixels.shape[:2]})."
            )
        ids = [int(i) for i in np.unique(labels) if i > 0]
        if not ids:
            raise ValueError(f"{name!r} has no object to accept; skip it instead.")
        missing = [k for k in ids if not str(classes.get(k, "")).strip()]
        if missing:
            raise ValueError(f"Objects {missing} of {name!r} have no class name.")
        source = self.path(name)
        if source.suffix.lower() in files.IMAGE_SUFFIXES:
            image = files.atomic_write(
                self.review / "images" / source.name, lambda p: shutil.copyfile(source, p), overwrite=True
            )
        else:  # a format the training does not read: stored as PNG
            image = files.write_image(self.review / "images" / f"{name}.png", pixels, overwrite=True)
        written = [
            image,
            files.write_labels(self.review / "labels" / f"{name}.png", labels, overwrite=True),
        ]
        written.append(files.write_classes(written[-1], {k: classes[k] for k in ids}, overwrite=True))
        icc = photo.icc_profile if photo is not None else None
        cutouts = self.review / "cutouts"
        written += write_product_cutouts(cutouts, name, pixels, labels, icc_profile=icc, overwrite=True)
        kept = set(written)
        for old in cutout_files(cutouts, name):
            if old not in kept:
                os.remove(old)
        self._set_status(name, "corrected")
        return written
