"""Importing TensorFlow without its C++ start-up chatter.

On a machine without a GPU, TensorFlow's C++ code writes lines such as
"Could not find cuda drivers" and "failed call to cuInit" to the process's
stderr, some of them before any log setting can silence them. They would
bury a progress bar and alarm users, so :func:`import_tensorflow` sets
stderr aside while TensorFlow loads (and shows it when the import fails) and
raises the C++ log threshold. Dask workers started afterwards inherit the
setting through the environment and import quietly too.
"""

from __future__ import annotations

import os
import sys
import tempfile

__all__ = ["import_tensorflow", "show_tensorflow_messages"]

_LEVEL = "TF_CPP_MIN_LOG_LEVEL"
_OURS = "BOOSTSEG_QUIET_TENSORFLOW"  # marks a threshold set here, not by the user


def show_tensorflow_messages() -> None:
    """Let TensorFlow print everything, here and in processes started later.

    A ``TF_CPP_MIN_LOG_LEVEL`` set by the user is kept.
    """
    if os.environ.get(_OURS) or _LEVEL not in os.environ:
        os.environ[_LEVEL] = "0"
    os.environ.pop(_OURS, None)


def import_tensorflow() -> None:
    """Import TensorFlow (and tf_keras) now, quietly unless told otherwise.

    Quiet unless the user set ``TF_CPP_MIN_LOG_LEVEL`` (or
    :func:`show_tensorflow_messages` was called): then TensorFlow prints what
    that level lets through. Does nothing when TensorFlow is imported
    already; an import that fails shows what TensorFlow printed and leaves
    the error to the caller's own import.
    """
    if "tensorflow" in sys.modules:
        return
    if _LEVEL in os.environ and not os.environ.get(_OURS):
        return  # the user's choice
    os.environ[_LEVEL] = "3"  # errors such as "failed call to cuInit" too
    os.environ[_OURS] = "1"
    with tempfile.TemporaryFile() as sink:
        sys.stderr.flush()
        saved = os.dup(2)
        os.dup2(sink.fileno(), 2)
        failed = False
        try:
            import tensorflow  # noqa: F401
            import tf_keras  # noqa: F401
        except ImportError:
            failed = True
        finally:
            os.dup2(saved, 2)
            os.close(saved)
        if failed:
            sink.seek(0)
            sys.stderr.write(sink.read().decode(errors="replace"))
