"""Mask R-CNN detection in a separate process, for the Detect widget.

TensorFlow never enters the napari process: it is loaded in a child Python
process that the first detection starts and later detections reuse (so the
model is built once). This keeps napari light, lets Cancel stop a detection
at once (the child is ended), and avoids a known clash between TensorFlow's
bundled LLVM and the LLVM of Mesa's OpenGL drivers, which crashes a process
that has an OpenGL canvas open when TensorFlow loads.

The two processes exchange pickled messages over the child's stdin and stdout.
Requests are ``(photo, weights_path, min_score, nms_threshold, classes)``
(``classes`` None for all); the model comes from
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
from collections.abc import Iterator
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
        self, photo, weights: str, min_score: float, nms: float, classes: tuple[str, ...] | None = None
    ) -> Iterator[int]:
        """Yield step numbers (see ``STEPS``); return the result dict.

        The result holds ``labels`` ((H, W) int32, ids 1..N by descending
        score), ``class_names`` and ``scores`` (length N, in id order).

        Raises
        ------
        ValueError
            With the child process's message, if the detection failed there.
        DetectionStopped
            If the child process ended first (see :meth:`stop`).
        """
        proc = self._start()
        try:
            request = (photo, str(weights), float(min_score), float(nms), classes)
            pickle.dump(request, proc.stdin, protocol=5)
            proc.stdin.flush()
            return (yield from replies(proc.stdout, "step"))
        except (EOFError, OSError, pickle.UnpicklingError) as exc:
            raise DetectionStopped("the detection process stopped") from exc

    def stop(self) -> None:
        """End the child process now (a running detection is dropped)."""
        with self._lock:
            proc, self._proc = self._proc, None
        end(proc)


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

    photo, weights, min_score, nms, classes = request
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
    # Detections are sorted by score, so object k of the labels is row k - 1.
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
