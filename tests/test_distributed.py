"""Segmenting on a Dask cluster gives exactly the single-process outputs."""

from __future__ import annotations

import pytest

from napari_boostseg import batch
from napari_boostseg.cli import main

from _shoot import make_shoot, tree_bytes

pytest.importorskip("distributed")


@pytest.mark.slow
def test_local_cluster_matches_single_process(tmp_path, capsys):
    shoot = make_shoot(tmp_path / "shoot", corrupt=True, samples=1)
    common = [str(shoot["images"]), "--masks", str(shoot["masks"]), "--jpeg", "--inspect", "--no-progress"]
    assert main(["segment", *common, "--out", str(tmp_path / "single")]) == 1
    capsys.readouterr()
    assert main(["segment", *common, "--out", str(tmp_path / "dask"), "--workers", "2"]) == 1
    err = capsys.readouterr().err
    assert "1 failed" in err and "bad.jpg" in err
    single, dask = tree_bytes(tmp_path / "single"), tree_bytes(tmp_path / "dask")
    assert len(single) >= 3 * 5
    assert single.keys() == dask.keys()
    for name in single:
        assert single[name] == dask[name], name


@pytest.mark.slow
def test_iter_dask_resumes(tmp_path):
    from napari_boostseg.distributed import dask_client, iter_dask

    shoot = make_shoot(tmp_path / "shoot", samples=0)
    options = batch.SegmentOptions(out_dir=tmp_path / "out", masks_dir=shoot["masks"])
    photos = batch.collect_photos([shoot["images"]])
    with dask_client(workers=1) as client:
        first = sorted(r.status for r in iter_dask(photos, options, client))
        again = sorted(r.status for r in iter_dask(photos, options, client))
    assert first == ["done"] * 3 and again == ["skipped"] * 3


def test_client_arguments():
    from napari_boostseg.distributed import dask_client

    with pytest.raises(ValueError, match="either"):
        with dask_client():
            pass
    with pytest.raises(ValueError, match=">= 1"):
        with dask_client(workers=0):
            pass


@pytest.mark.slow
def test_existing_scheduler(tmp_path, capsys):
    from distributed import LocalCluster

    shoot = make_shoot(tmp_path / "shoot", samples=0)
    common = [str(shoot["images"]), "--masks", str(shoot["masks"]), "--no-progress"]
    assert main(["segment", *common, "--out", str(tmp_path / "single")]) == 0
    # An in-process cluster is enough to exercise --scheduler and is quick to start.
    with LocalCluster(n_workers=1, threads_per_worker=1, processes=False, dashboard_address=None) as cluster:
        remote = ["segment", *common, "--out", str(tmp_path / "remote"), "--scheduler", cluster.scheduler_address]
        assert main(remote) == 0
    assert "3 done" in capsys.readouterr().err
    assert tree_bytes(tmp_path / "single") == tree_bytes(tmp_path / "remote")
