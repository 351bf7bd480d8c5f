"""The Ray and SLURM (submitit) executors give the same manifest as the local pool, item by item, on real media;
a Ray task whose worker dies is retried, then its item is marked failed; SLURM's failures come with the rerun
line. Ray runs for real (a local Ray started by the test); SLURM through submitit's local executor."""

import json
import os
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import EXAMPLES, run_cli
from thead.errors import InputError, TheadError
from thead.executors import ExecutorSpec
from thead.runner import WorkItem, run_stage
from thead.stages import landmarks

PORTRAITS = sorted((EXAMPLES / "portraits").glob("*.png"))


def _items(manifest: Path) -> dict:
    m = json.loads(manifest.read_text())
    return {it["id"]: it for it in m["items"]}


def _same_results(a: Path, b: Path) -> None:
    """Two landmark manifests agree item by item: ids, statuses, output names, meta, and the arrays."""
    ia, ib = _items(a), _items(b)
    assert sorted(ia) == sorted(ib) and ia
    for k in ia:
        x, y = ia[k], ib[k]
        assert x["status"] == y["status"] == "done"
        assert x["outputs"].keys() == y["outputs"].keys()
        assert x["meta"] == y["meta"]
        with np.load(a.parent / x["outputs"]["landmarks"]) as za, np.load(b.parent / y["outputs"]["landmarks"]) as zb:
            assert sorted(za.files) == sorted(zb.files)
            for f in za.files:
                np.testing.assert_array_equal(za[f], zb[f])


@pytest.fixture(scope="module")
def local_run(tmp_path_factory):
    d = tmp_path_factory.mktemp("local")
    return landmarks.run(PORTRAITS, d, workers=2, preview=False, progress=False).manifest_path


@pytest.mark.slow
def test_ray_gives_the_local_pools_manifest(local_run, tmp_path):
    res = landmarks.run(PORTRAITS, tmp_path / "ray", workers=2, preview=False, progress=False,
                        executor=ExecutorSpec("ray"))
    assert res.n_done == len(PORTRAITS) and res.n_failed == 0
    _same_results(local_run, res.manifest_path)
    # a rerun is resumed from the journal like any other: nothing is sent to Ray again
    again = landmarks.run(PORTRAITS, tmp_path / "ray", workers=2, preview=False, progress=False,
                          executor=ExecutorSpec("ray"))
    assert again.n_reused == len(PORTRAITS)


@pytest.mark.slow
def test_slurm_array_gives_the_local_pools_manifest_and_merges_its_shards(local_run, tmp_path):
    out = tmp_path / "slurm"
    res = landmarks.run(PORTRAITS, out, preview=False, progress=False,
                        executor=ExecutorSpec("slurm", cluster="local", tasks=2))
    assert res.manifest_path == out / "manifest.json" and res.n_done == len(PORTRAITS)
    assert sorted(p.name for p in out.glob("manifest.shard-*.json")) == ["manifest.shard-0-of-2.json",
                                                                         "manifest.shard-1-of-2.json"]
    _same_results(local_run, res.manifest_path)


def _die_always(work, out_dir, cfg):
    os._exit(17)  # the worker process dies, as when it is killed or runs out of memory


def _die_once(work, out_dir, cfg):
    mark = Path(cfg["marks"]) / work.id
    if not mark.exists():
        mark.write_text("died here once")
        os._exit(17)
    out = out_dir / f"{work.id}.txt"
    out.write_text("ok")
    return {"text": out}, {"attempts": 2}


def _fail(work, out_dir, cfg):
    raise ValueError(f"{work.id}: not a face")


@pytest.mark.slow
def test_ray_retries_a_task_whose_worker_died_then_marks_the_item_failed(tmp_path):
    import ray

    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False,
             runtime_env={"env_vars": {"PYTHONPATH": os.pathsep.join([str(Path(__file__).parent.parent)]
                                                                     + os.environ.get("PYTHONPATH", "").split(
                                                                         os.pathsep))}})
    try:
        items = [WorkItem(id=p.stem, source=p) for p in PORTRAITS]
        (tmp_path / "marks").mkdir()
        ok = run_stage("test die once", "thead.synthesis", _die_once, items, tmp_path / "once",
                       {"marks": str(tmp_path / "marks")}, workers=2, progress=False,
                       executor=ExecutorSpec("ray", retries=1))
        assert ok.n_done == len(items) and ok.n_failed == 0
        assert all((tmp_path / "marks" / it.id).exists() for it in items)  # each died once, then was retried
        bad = run_stage("test die", "thead.synthesis", _die_always, items, tmp_path / "always", {}, workers=2,
                        progress=False, executor=ExecutorSpec("ray", retries=1))
        assert bad.n_failed == len(items) and bad.exit_code == 3
        errs = [it["error"] for it in _items(bad.manifest_path).values()]
        assert all("worker died 2 time(s)" in e for e in errs), errs
        # an exception inside process is an item failure at once, not a retry
        exc = run_stage("test fail", "thead.synthesis", _fail, items, tmp_path / "fail", {}, workers=2, progress=False,
                        executor=ExecutorSpec("ray", retries=3))
        assert exc.n_failed == len(items)
        assert all("not a face" in it["error"] for it in _items(exc.manifest_path).values())
    finally:
        ray.shutdown()


def test_slurm_lists_failed_items_with_the_rerun_line_and_refuses_shard(tmp_path, capsys):
    items = [WorkItem(id=p.stem, source=p) for p in PORTRAITS]
    argv = ["thead", "extract-landmarks", "in dir", "-o", str(tmp_path / "x")]
    res = run_stage("test fail", "thead.synthesis", _fail, items, tmp_path / "x", {}, progress=False, argv=argv,
                    executor=ExecutorSpec("slurm", cluster="debug", tasks=2))
    assert res.n_failed == len(items) and res.exit_code == 3
    err = capsys.readouterr().err
    assert f"{len(items)} item(s) failed" in err and "thead extract-landmarks 'in dir' -o" in err
    with pytest.raises(InputError, match="leave --shard out"):
        run_stage("test fail", "thead.synthesis", _fail, items, tmp_path / "y", {}, shard=(0, 2),
                  executor=ExecutorSpec("slurm", cluster="debug"))


def test_slurm_without_sbatch_and_bad_settings_are_one_line_errors(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))  # no sbatch here
    items = [WorkItem(id=p.stem, source=p) for p in PORTRAITS]
    with pytest.raises(TheadError, match="sbatch is not on PATH"):
        run_stage("test fail", "thead.synthesis", _fail, items, tmp_path / "z", {}, executor=ExecutorSpec("slurm"))
    with pytest.raises(InputError, match="--executor must be one of"):
        ExecutorSpec("dask")
    with pytest.raises(InputError, match="--tasks must be >= 1"):
        ExecutorSpec("slurm", tasks=0)


@pytest.mark.slow
def test_cli_executor_option(tmp_path):
    r = run_cli("--executor", "slurm", "--slurm-cluster", "local", "--slurm-tasks", "2", "extract-landmarks",
                *PORTRAITS, "-o", tmp_path / "cli", "--no-preview", "--no-progress")
    assert r.returncode == 0, r.stderr
    assert len(_items(tmp_path / "cli" / "manifest.json")) == len(PORTRAITS)
    r = run_cli("--executor", "spark", "extract-landmarks", *PORTRAITS, "-o", tmp_path / "bad")
    assert r.returncode == 2 and "--executor must be one of" in r.stderr
