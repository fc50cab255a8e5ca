"""Running the per-photo jobs on a Dask cluster.

Each photo is one task calling :func:`napari_boostseg.batch.segment_photo`,
the same function a single-process run calls, so the outputs are identical.
Workers are separate processes with one Dask thread each: the refinement is
mostly single-threaded NumPy and SciPy, and processes sidestep the GIL. Each
local worker gets its share of the cores for its own threads (the gradient
pool, OpenMP, TensorFlow; see :mod:`napari_boostseg.threads`). Needs the
``dask`` extra. A
Mask R-CNN is loaded once per worker process (the model cache lives in
:mod:`napari_boostseg.batch`) and reused for every later photo on it.

On an existing cluster (``scheduler=``) the photo paths and the output folder
must be reachable under the same names from every worker, e.g. on a shared
file system. Local workers are started as fresh interpreters, so a script
that calls :func:`dask_client` must guard its entry point with
``if __name__ == "__main__":``.
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Iterator, Sequence
from pathlib import Path

from ._extras import require
from .batch import PhotoResult, SegmentOptions, segment_photo
from .threads import worker_environment

__all__ = ["dask_client", "iter_dask"]


@contextlib.contextmanager
def dask_client(
    workers: int | None = None,
    scheduler: str | None = None,
    *,
    memory_limit: str | float | None = "auto",
) -> Iterator[object]:
    """A ``distributed.Client`` on a new local cluster or an existing scheduler.

    Parameters
    ----------
    workers : int, optional
        Start a local cluster of this many single-threaded worker processes,
        listening on the loopback interface only.
    scheduler : str, optional
        Address of a running scheduler, e.g. ``"tcp://10.0.0.5:8786"``.
    memory_limit : str or float or None, optional
        Per-worker memory limit of a local cluster, as Dask understands it.
        Default "auto" (the machine's memory shared evenly).

    Yields
    ------
    distributed.Client
        Closed again (with the local cluster) on leaving the block.
    """
    if (workers is None) == (scheduler is None):
        raise ValueError("give either workers (a local cluster) or scheduler (an address)")
    require("distributed", "dask", "running on a Dask cluster")
    from distributed import Client, LocalCluster
    if scheduler is not None:
        with Client(scheduler) as client:
            yield client
        return
    if int(workers) < 1:
        raise ValueError(f"workers must be >= 1, got {workers}")
    with LocalCluster(
        env=worker_environment(int(workers)),
        n_workers=int(workers),
        threads_per_worker=1,
        processes=True,
        host="127.0.0.1",
        dashboard_address=None,
        memory_limit=memory_limit,
        # The cluster's own log shows errors only: the progress bar and the
        # per-photo failure lines are what a user needs to see.
        silence_logs=logging.ERROR,
    ) as cluster, Client(cluster) as client:
        yield client


def iter_dask(
    photos: Sequence[str | os.PathLike], options: SegmentOptions, client
) -> Iterator[PhotoResult]:
    """Submit one task per photo and yield results as they complete.

    A task that fails outside :func:`~napari_boostseg.batch.segment_photo`'s
    own error handling (a worker killed for memory, a lost connection) gives
    a ``failed`` result; the batch goes on.

    Parameters
    ----------
    photos : sequence of str or os.PathLike
    options : SegmentOptions
    client : distributed.Client

    Yields
    ------
    PhotoResult
        In order of completion, not of submission.
    """
    from distributed import as_completed

    futures = {}
    for photo in photos:
        key = f"segment-{Path(photo).name}-{os.urandom(4).hex()}"
        # The options are a few hundred bytes; sending them with each task is
        # simpler and sturdier than scattering them once.
        future = client.submit(segment_photo, str(photo), options, key=key, pure=False)
        futures[future] = str(photo)
    for future in as_completed(futures):
        path = futures.pop(future)
        try:
            result = future.result()
        except Exception as exc:
            result = PhotoResult(path, "failed", f"task failed on the cluster: {type(exc).__name__}: {exc}")
        # Drop the reference so the cluster can forget the finished task.
        future.release()
        yield result
