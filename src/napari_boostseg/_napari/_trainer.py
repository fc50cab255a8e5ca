"""Mask R-CNN fine-tuning in a separate process, for the Train widget.

As for detection (:mod:`._detector`), TensorFlow never enters the napari
process: each training run starts a child Python process, which Cancel ends
at once. The checkpoint written at the end of each epoch (with its JSON config
beside it) stays when a run is cancelled.

The request is a pickled dict (``data``, ``weights``, ``out``, ``epochs``,
``layers``, ``learning_rate``, ``steps_per_epoch``, ``optimizer``); replies are
``("progress", dict)`` after every step and epoch, then ``("result", dict)``
or ``("error", message)``.

This module imports neither napari nor Qt.
"""

from __future__ import annotations

import os
import pickle
import subprocess
import sys
from collections.abc import Iterator

from ._detector import DetectionStopped, end, replies


class TrainingStopped(DetectionStopped):
    """The training process ended before it answered (cancelled or crashed)."""


class Trainer:
    """One training run in a child process."""

    def __init__(self) -> None:
        self._proc: subprocess.Popen | None = None

    def train(self, request: dict) -> Iterator[dict]:
        """Yield progress dicts; return the result dict (``checkpoint``, ``log_dir``).

        Progress dicts hold ``phase`` ("train", "val" or "epoch"), ``epoch``,
        ``epochs``, ``step``, ``steps``, ``loss`` and, at the end of an
        epoch, ``checkpoint``.
        """
        # The child imports TensorFlow quietly (_tensorflow.import_tensorflow),
        # unless the user set TF_CPP_MIN_LOG_LEVEL.
        self._proc = proc = subprocess.Popen(
            [sys.executable, "-m", __name__], stdin=subprocess.PIPE, stdout=subprocess.PIPE
        )
        try:
            pickle.dump(request, proc.stdin, protocol=5)
            proc.stdin.close()
            return (yield from replies(proc.stdout, "progress"))
        except (EOFError, OSError, pickle.UnpicklingError) as exc:
            raise TrainingStopped("the training process stopped") from exc

    def stop(self) -> None:
        """End the training process now; checkpoints written so far stay."""
        proc, self._proc = self._proc, None
        end(proc)


# --------------------------------------------------------------------------- #
# The child process


def _answer(request: dict, send) -> dict:
    from napari_boostseg._tensorflow import import_tensorflow

    import_tensorflow()
    from napari_boostseg.mrcnn import MaskRCNNConfig
    from napari_boostseg.mrcnn.model import config_path_for
    from napari_boostseg.mrcnn.training import train

    config = MaskRCNNConfig.from_json(config_path_for(request["weights"]))

    def progress(p) -> None:
        send(("progress", {
            "phase": p.phase, "epoch": p.epoch, "epochs": p.epochs, "step": p.step,
            "steps": p.steps, "loss": float(p.losses.get("loss", float("nan"))),
            "checkpoint": str(p.checkpoint) if p.checkpoint is not None else None,
        }))

    result = train(
        config,
        request["data"],
        request["out"],
        epochs=int(request["epochs"]),
        layers=request["layers"],
        init_weights=request["weights"],
        learning_rate=float(request["learning_rate"]),
        optimizer=request.get("optimizer", "adam"),
        steps_per_epoch=int(request["steps_per_epoch"]),
        validation_steps=int(request.get("validation_steps", 2)),
        progress=progress,
        verbose=False,
    )
    last = result.checkpoints[-1] if result.checkpoints else None
    return {"checkpoint": str(last) if last else None, "log_dir": str(result.log_dir)}


def _serve() -> None:
    out = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)
    sys.stdout = sys.stderr

    def send(message) -> None:
        pickle.dump(message, out, protocol=5)
        out.flush()

    request = pickle.load(sys.stdin.buffer)
    try:
        send(("result", _answer(request, send)))
    except Exception as exc:  # reported to napari as a notification
        send(("error", f"{type(exc).__name__}: {exc}"))


if __name__ == "__main__":
    _serve()
