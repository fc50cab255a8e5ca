"""One thread knob: BOOSTSEG_THREADS for the gradient pool and the Dask workers."""

from __future__ import annotations

import os

import numpy as np
import pytest

from napari_boostseg import edges
from napari_boostseg.threads import THREADS_VARIABLE, thread_count, worker_environment


def test_thread_count_follows_the_variable(monkeypatch):
    monkeypatch.delenv(THREADS_VARIABLE, raising=False)
    assert thread_count() == max(1, min(os.cpu_count() or 1, 8))
    monkeypatch.setenv(THREADS_VARIABLE, "3")
    assert thread_count() == 3
    for bad in ("0", "-2", "many"):
        monkeypatch.setenv(THREADS_VARIABLE, bad)
        with pytest.raises(ValueError, match=THREADS_VARIABLE):
            thread_count()


def test_workers_share_the_cores_and_keep_what_the_user_set(monkeypatch):
    for name in (THREADS_VARIABLE, "OMP_NUM_THREADS", "TF_NUM_INTRAOP_THREADS", "TF_NUM_INTEROP_THREADS"):
        monkeypatch.delenv(name, raising=False)
    share = str(max(1, (os.cpu_count() or 1) // 2))
    env = worker_environment(2)
    assert env == dict.fromkeys(
        (THREADS_VARIABLE, "OMP_NUM_THREADS", "TF_NUM_INTRAOP_THREADS", "TF_NUM_INTEROP_THREADS"), share
    )
    monkeypatch.setenv(THREADS_VARIABLE, "5")
    assert worker_environment(2)[THREADS_VARIABLE] == "5"
    with pytest.raises(ValueError):
        worker_environment(0)


def _band_photo():
    rng = np.random.default_rng(0)
    photo = rng.integers(0, 256, (512, 512, 3), dtype=np.uint8)
    band = np.zeros((512, 512), bool)
    band[::3] = True  # touches every 64x64 tile: 64 tiles
    return photo, band


def test_the_gradient_pool_follows_the_knob(monkeypatch):
    photo, band = _band_photo()
    expected = edges.gradient_in_band(photo, band, 1.0)
    # One thread: the work stays in the calling thread, no pool at all.
    monkeypatch.setenv(THREADS_VARIABLE, "1")

    def no_pool(threads):
        raise AssertionError("the pool was used with one thread allowed")

    with monkeypatch.context() as m:
        m.setattr(edges, "_pool", no_pool)
        np.testing.assert_array_equal(edges.gradient_in_band(photo, band, 1.0), expected)
    # Four threads: the caller and three pool threads, each with a share of the tiles.
    monkeypatch.setenv(THREADS_VARIABLE, "4")
    asked = []
    real = edges._pool

    def counting_pool(threads):
        asked.append(threads)
        return real(threads)

    monkeypatch.setattr(edges, "_pool", counting_pool)
    np.testing.assert_array_equal(edges.gradient_in_band(photo, band, 1.0), expected)
    assert asked == [4, 4, 4]
    assert real(4)._max_workers == 3
