"""Mask R-CNN detection in a separate process, for the Detect widget.

TensorFlow never enters the napari process: it is loaded in a child Python
process that the first detection starts and later detections reuse (so the
model is built once). This keeps napari light, lets Cancel stop a detection
at once (the child is ended), and avoids a known clash between TensorFlow's
bundled LLVM and the LLVM of Mesa's OpenGL drivers, which crashes a process
that has an OpenGL canvas open when TensorFlow loads.

The two processes exchange pickled messages over the child's stdin and stdout.
Requests are ``(photo, weights_path, min_score, nms_threshold, classes, masks)``
(``classes`` None for all; ``masks`` True for each detection's own mask
instead of one label image); the model comes from
:func:`napari_boostseg.coarse_masks.load_detector`, which keeps it for later
requests. Replies are
``("step", i)`` as work progresses, then ``("result", dict)`` or
``("error", message)``.

This module imports neither napari nor Qt.
"""

from __future__ import annotations

import os
import pickle
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from typing import Any

#: Steps reported while a request runs.
STEPS = ("starting TensorFlow", "loading the model", "detecting", "making labels")


class DetectionStopped(Exception):
    """The detection process ended before it answered (cancelled or crashed)."""


def replies(stream, progress: str) -> Iterator[Any]:
    """Read a child process's pickled replies: yield each ``(progress, value)``'s value,
    return the final result's, raise ValueError with an ``("error", message)``'s message.

    Raises EOFError, OSError or pickle.UnpicklingError when the child ended first.
    """
    while True:
        kind, value = pickle.load(stream)
        if kind == progress:
            yield value
        elif kind == "error":
            raise ValueError(value)
        else:
            return value


def end(proc: subprocess.Popen | None) -> None:
    """Kill a child process that is still running, and reap it."""
    if proc is not None and proc.poll() is None:
        proc.kill()
        proc.wait()


class Detector:
    """A reusable child process that runs Mask R-CNN detections."""

    def __init__(self) -> None:
        self._proc: subprocess.Popen | None = None
        self._lock = threading.Lock()
        self._asking = threading.Lock()  # one request at a time on the pipes

    def alive(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def _start(self) -> subprocess.Popen:
        with self._lock:
            if not self.alive():
                # The child imports TensorFlow quietly (_tensorflow.import_tensorflow),
                # unless the user set TF_CPP_MIN_LOG_LEVEL.
                self._proc = subprocess.Popen(
                    [sys.executable, "-m", __name__],
                    stdin=subprocess.PIPE,
                    stdout=subprocess.PIPE,
                )
            return self._proc

    def detect(
        self, photo, weights: str, min_score: float, nms: float, classes: tuple[str, ...] | None = None,
        *, masks: bool = False,
    ) -> Iterator[int]:
        """Yield step numbers (see ``STEPS``); return the result dict.

        The result holds ``labels`` ((H, W) int32, ids 1..N by descending
        score), ``class_names`` and ``scores`` (length N, in id order); with
        ``masks=True`` it holds ``masks`` ((H, W, N) bool, one per detection,
        overlaps kept) instead of ``labels``.

        Raises
        ------
        ValueError
            With the child process's message, if the detection failed there.
        DetectionStopped
            If the child process ended first (see :meth:`stop`).
        """
        turn = self._take_turn()
        try:
            proc = self._start()
            request = (photo, str(weights), float(min_score), float(nms), classes, bool(masks))
            pickle.dump(request, proc.stdin, protocol=5)
            proc.stdin.flush()
            return (yield from replies(proc.stdout, "step"))
        except (EOFError, OSError, pickle.UnpicklingError) as exc:
            raise DetectionStopped("the detection process stopped") from exc
        finally:
            turn.release()

    def _take_turn(self) -> threading.Lock:
        """Wait until no other request uses the pipes (a stopped process's request never blocks)."""
        while True:
            turn = self._asking
            if turn.acquire(timeout=0.2):
                return turn

    def stop(self) -> None:
        """End the child process now (a running detection is dropped)."""
        with self._lock:
            proc, self._proc = self._proc, None
            self._asking = threading.Lock()  # a request left waiting on the old pipes holds the old one
        end(proc)


def _outcome(steps: Iterator[int], on_step: Callable[[int], object] | None = None) -> dict[str, Any]:
    """Run a :meth:`Detector.detect` to its end, passing each step to ``on_step``; its result."""
    while True:
        try:
            step = next(steps)
        except StopIteration as done:
            return done.value
        if on_step is not None:
            on_step(step)


class ChildModel:
    """A Mask R-CNN that detects in the shared child process.

    Stands in for a loaded model where :func:`napari_boostseg.coarse_masks.coarse_masks`
    takes one (``model=``): it has the model's ``config`` and ``weights_path``,
    and ``detect([photo])[0].select(classes)`` asks the child process for
    those classes' detections. TensorFlow stays out of this process.

    Parameters
    ----------
    weights : path-like
        ``.h5`` weights with their JSON config beside them; the config's
        detection thresholds are used.
    """

    def __init__(self, weights) -> None:
        from napari_boostseg.mrcnn import MaskRCNNConfig
        from napari_boostseg.mrcnn.model import config_path_for

        self.weights_path = str(weights)
        self.config = MaskRCNNConfig.from_json(config_path_for(weights))

    def detect(self, images) -> list[_Asked]:
        return [_Asked(self, image) for image in images]


class ChildSplitter:
    """The product model, detecting in the shared child process, for splitting touching products.

    Stands in for a loaded model where :func:`napari_boostseg.coarse_masks.try_backdrop`
    takes one (``splitter=``): ``detect([photo])[0]`` has each detection's
    ``masks``, ``scores`` and ``class_names``. TensorFlow stays out of this process.

    Parameters
    ----------
    weights : path-like
        The product model's ``.h5`` weights, config beside them.
    min_score : float
        Detections kept down to this score.
    on_step : callable, optional
        Called with each step number (see ``STEPS``) as the child reports it.
    """

    def __init__(self, weights, min_score: float, on_step: Callable[[int], object] | None = None) -> None:
        from napari_boostseg.mrcnn import MaskRCNNConfig
        from napari_boostseg.mrcnn.model import config_path_for

        self.weights_path, self.min_score, self.on_step = str(weights), float(min_score), on_step
        self.nms = MaskRCNNConfig.from_json(config_path_for(weights)).detection_nms_threshold

    def detect(self, images) -> list[_Detections]:
        asked = (shared_detector().detect(image, self.weights_path, self.min_score, self.nms, masks=True)
                 for image in images)
        return [_Detections(**_outcome(steps, self.on_step)) for steps in asked]


class _Detections:
    """One photo's detections from the child process, each with its own mask."""

    def __init__(self, masks, class_names, scores) -> None:
        self.masks, self.class_names, self.scores = masks, list(class_names), scores


class _Asked:
    """One photo for a :class:`ChildModel`; detected when its classes are chosen."""

    def __init__(self, model: ChildModel, image) -> None:
        self.model, self.image = model, image

    def select(self, classes) -> _Found:
        config = self.model.config
        steps = shared_detector().detect(
            self.image, self.model.weights_path, config.detection_min_confidence,
            config.detection_nms_threshold, tuple(classes),
        )
        return _Found(**_outcome(steps))


class _Found:
    """The child process's detections, as :func:`~napari_boostseg.coarse_masks.from_model` reads them."""

    def __init__(self, labels, class_names, scores) -> None:
        self.labels, self.class_names, self.scores = labels, list(class_names), scores

    def __len__(self) -> int:
        return len(self.scores)

    def without_fragments(self, min_kept: float = 0.5) -> _Found:
        """Itself: the child process left out the fragments (at the default share) already."""
        return self

    def to_labels(self):
        return self.labels


def child_product_splitter(on_step: Callable[[int], object] | None = None) -> ChildSplitter | None:
    """The shipped product model in the child process, or None where the installation lacks it."""
    from napari_boostseg.coarse_masks import _SPLIT_MIN_SCORE, product_splitter_weights

    weights = product_splitter_weights()[0]
    return None if weights is None else ChildSplitter(weights, _SPLIT_MIN_SCORE, on_step)


_shared: Detector | None = None


def shared_detector() -> Detector:
    """The detection process shared by every Detect widget of this napari instance."""
    global _shared
    if _shared is None:
        import atexit

        _shared = Detector()
        atexit.register(_shared.stop)
    return _shared


# --------------------------------------------------------------------------- #
# The child process


def _answer(request: tuple, send) -> dict[str, Any]:
    import numpy as np

    photo, weights, min_score, nms, classes, masks = request
    send(("step", 0))
    from napari_boostseg._tensorflow import import_tensorflow
    from napari_boostseg.coarse_masks import load_detector

    import_tensorflow()
    send(("step", 1))
    model = load_detector(weights, min_score=min_score, nms=nms)
    send(("step", 2))
    detections = model.detect([photo])[0]
    if classes is not None:
        detections = detections.select(classes)  # the others would cover or be covered by them
    send(("step", 3))
    if masks:
        return {
            "masks": np.asarray(detections.masks, bool),
            "class_names": list(detections.class_names),
            "scores": np.asarray(detections.scores, np.float32),
        }
    # Detections are sorted by score, so object k of the labels is row k - 1; as in
    # coarse_masks.from_model, detections left in pieces by better ones are left out.
    detections = detections.without_fragments()
    return {
        "labels": detections.to_labels(),
        "class_names": list(detections.class_names),
        "scores": np.asarray(detections.scores, np.float32),
    }


def _serve() -> None:
    # Keep the protocol on the real stdout; anything else printed goes to stderr.
    out = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    requests = sys.stdin.buffer

    def send(message) -> None:
        pickle.dump(message, out, protocol=5)
        out.flush()

    while True:
        try:
            request = pickle.load(requests)
        except EOFError:  # napari closed
            return
        try:
            send(("result", _answer(request, send)))
        except Exception as exc:  # reported to napari as a notification
            send(("error", f"{type(exc).__name__}: {exc}"))


if __name__ == "__main__":
    _serve()
