"""One thread knob for the package's own parallel work.

:func:`thread_count` is how many threads a process of napari-boostseg may
keep busy: the ``BOOSTSEG_THREADS`` environment variable when set, else the
machine's cores (at most 8). The edge map's gradient pool
(:mod:`napari_boostseg.edges`) follows it, and a local Dask cluster
(:mod:`napari_boostseg.distributed`) gives each worker process its share of
the cores through :func:`worker_environment`, together with the limits of
OpenMP and TensorFlow, so N workers never run N times the machine's threads.
"""

from __future__ import annotations

import os

__all__ = ["THREADS_VARIABLE", "thread_count", "worker_environment"]

#: The environment variable that sets :func:`thread_count`.
THREADS_VARIABLE = "BOOSTSEG_THREADS"

#: Most threads used without the variable: more rarely pay on one photo.
_MOST = 8


def thread_count() -> int:
    """Threads this process may use for its own parallel work (1 or more).

    ``BOOSTSEG_THREADS`` when it holds a positive integer, otherwise the
    number of cores, at most 8. Read on each call, so a worker whose
    environment sets it follows it.

    Raises
    ------
    ValueError
        If ``BOOSTSEG_THREADS`` is set but not a positive integer.
    """
    value = os.environ.get(THREADS_VARIABLE, "").strip()
    if not value:
        return max(1, min(os.cpu_count() or 1, _MOST))
    try:
        count = int(value)
    except ValueError:
        count = 0
    if count < 1:
        raise ValueError(f"{THREADS_VARIABLE} must be a positive integer, got {value!r}")
    return count


def worker_environment(workers: int) -> dict[str, str]:
    """Environment that shares the cores among ``workers`` worker processes.

    Each gets ``cores // workers`` (at least 1) for napari-boostseg's own
    threads, OpenMP and TensorFlow's pools; without it every worker sizes its
    pools to the whole machine. Values already set in the environment are
    kept.

    Examples
    --------
    >>> env = worker_environment(2)
    >>> sorted(env)
    ['BOOSTSEG_THREADS', 'OMP_NUM_THREADS', 'TF_NUM_INTEROP_THREADS', 'TF_NUM_INTRAOP_THREADS']
    """
    if workers < 1:
        raise ValueError(f"workers must be >= 1, got {workers}")
    per_worker = str(max(1, (os.cpu_count() or 1) // workers))
    names = (THREADS_VARIABLE, "OMP_NUM_THREADS", "TF_NUM_INTRAOP_THREADS", "TF_NUM_INTEROP_THREADS")
    return {name: os.environ.get(name, per_worker) for name in names}
