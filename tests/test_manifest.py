"""Records of what made a photo's outputs, and the per-photo lock."""

from __future__ import annotations

import os
import threading
import time

from napari_boostseg import manifest


def test_weights_are_hashed_once_per_process_until_they_change(tmp_path, monkeypatch):
    weights = tmp_path / "w.h5"
    weights.write_bytes(b"first")
    calls = []
    real = manifest.file_digest
    monkeypatch.setattr(manifest, "file_digest", lambda p: calls.append(p) or real(p))
    monkeypatch.setattr(manifest, "_DIGESTS", {})
    first = manifest.cached_digest(weights)
    assert manifest.cached_digest(tmp_path / "." / "w.h5") == first
    assert len(calls) == 1
    weights.write_bytes(b"second!")
    os.utime(weights, ns=(time.time_ns() + 10**9, time.time_ns() + 10**9))
    assert manifest.cached_digest(weights) != first and len(calls) == 2


def test_differences_name_the_options():
    before = {"params": {"band": 1.0, "prior": 0.6}, "outputs": {"jpeg": 90, "inspect": False},
              "coarse": {"weights_sha256": "aa", "classes": ["top"]}}
    now = {"params": {"band": 3.0, "prior": 0.6}, "outputs": {"jpeg": False, "inspect": False},
           "coarse": {"weights_sha256": "bb", "classes": ["top", "bag"]}}
    assert manifest.differences(before, now) == [
        "--classes (was top, now top,bag)",
        "the weights file's content (changed)",
        "--jpeg/--jpeg-quality (was on, quality 90, now off)",
        "--band (was 1.0, now 3.0)",
    ]
    assert manifest.differences(now, now) == []


def test_records_round_trip_and_unreadable_ones_count_as_none(tmp_path):
    path = manifest.manifest_path(tmp_path, "a")
    assert manifest.read_manifest(path) is None
    manifest.write_manifest(path, {"recipe": {"x": 1}, "complete": True})
    assert manifest.read_manifest(path) == {"recipe": {"x": 1}, "complete": True}
    path.write_text("{not json")
    assert manifest.read_manifest(path) is None


def test_photo_lock_lets_one_holder_in_at_a_time(tmp_path):
    inside, overlaps = [], []

    def work():
        with manifest.photo_lock(tmp_path, "a"):
            inside.append(1)
            overlaps.append(len(inside))
            time.sleep(0.05)
            inside.pop()

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert overlaps == [1, 1, 1, 1]
    assert not list((tmp_path / "manifests").iterdir())  # the lock file goes with its holder
