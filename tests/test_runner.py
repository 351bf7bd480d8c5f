"""thead.runner directly (the per-item stages test it through their commands): ids, discovery, resume by
fingerprint, failures, shards and --debug, on the bundled portraits with a small real process function."""

import json
import shutil

import numpy as np
import pytest

from tests.conftest import EXAMPLES
from thead.errors import InputError
from thead.runner import assign_ids, discover, run_stage

PORTRAITS = EXAMPLES / "portraits"


def mean_colour(work, out_dir, cfg):
    """A real per-item process: the portrait's mean RGB (times ``gain``) saved beside the manifest."""
    from thead.manifest.paths import item_path
    from thead.media import read_image

    img = read_image(work.source)
    if cfg.get("fail_on") == work.id:
        raise ValueError(f"refusing {work.id}")
    p = item_path(out_dir, work.id, ".mean.npy")
    np.save(p, img.reshape(-1, 3).mean(0) * cfg["gain"])
    return {"mean": p}, {"height": img.shape[0], "width": img.shape[1]}


def test_ids_stay_stable_when_files_are_added(tmp_path):
    names = [tmp_path / "face.jpg", tmp_path / "face.png", tmp_path / "other.png"]
    assert assign_ids(names) == ["face.jpg", "face.png", "other"]
    assert assign_ids(names + [tmp_path / "face.bmp"])[:3] == ["face.jpg", "face.png", "other"]


def test_discover_folders_and_bad_inputs(tmp_path):
    items, up = discover([PORTRAITS], media=("image",))
    assert up is None and [w.id for w in items] == ["SadTalker_happy1", "SadTalker_sad1"]
    assert all(w.error is None and w.meta["media_type"] == "image" for w in items)
    (tmp_path / "notes.txt").write_text("x")
    items, _ = discover([tmp_path / "notes.txt"])
    assert "not an image, video or audio file" in items[0].error
    with pytest.raises(InputError, match="no such file"):
        discover([tmp_path / "missing.png"])
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputError, match="folder has no files"):
        discover([tmp_path / "empty"])


def test_run_resume_failure_and_debug(tmp_path):
    items, _ = discover([PORTRAITS], media=("image",))
    out = tmp_path / "out"
    res = run_stage("mean", "thead.frames", mean_colour, items, out, dict(gain=1.0), progress=False)
    assert (res.n_done, res.n_failed, res.n_reused, res.exit_code) == (2, 0, 0, 0)
    m = json.loads((out / "manifest.json").read_text())
    assert m["kind"] == "thead.frames" and m["producer"]["stage"] == "mean"
    it = {i["id"]: i for i in m["items"]}["SadTalker_sad1"]
    assert it["status"] == "done" and it["meta"]["width"] > 0 and not it["outputs"]["mean"].startswith("/")
    first = np.load(out / it["outputs"]["mean"])
    assert first.shape == (3,) and 0 < first.min() and first.max() < 255

    again = run_stage("mean", "thead.frames", mean_colour, items, out, dict(gain=1.0), progress=False)
    assert (again.n_done, again.n_reused) == (2, 2)  # same source and config: reused, not redone
    changed = run_stage("mean", "thead.frames", mean_colour, items, out, dict(gain=0.5), progress=False)
    assert changed.n_reused == 0  # another config: redone
    assert np.allclose(np.load(out / it["outputs"]["mean"]), first * 0.5)

    bad = run_stage("mean", "thead.frames", mean_colour, items, tmp_path / "bad",
                    dict(gain=1.0, fail_on="SadTalker_happy1"), progress=False, debug=True)
    assert (bad.n_done, bad.n_failed, bad.exit_code) == (1, 1, 3)
    err = {i["id"]: i for i in json.loads((tmp_path / "bad" / "manifest.json").read_text())["items"]}
    assert "refusing SadTalker_happy1" in err["SadTalker_happy1"]["error"]
    assert "Traceback" in err["SadTalker_happy1"]["error"]  # --debug keeps the traceback


def test_shards_partition_the_items(tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    for i in range(6):
        shutil.copy(PORTRAITS / "SadTalker_sad1.png", src / f"p{i}.png")
    items, _ = discover([src], media=("image",))
    seen = []
    for k in range(2):
        res = run_stage("mean", "thead.frames", mean_colour, items, tmp_path / "o", dict(gain=1.0), shard=(k, 2),
                        progress=False)
        m = json.loads(res.manifest_path.read_text())
        assert res.manifest_path.name == f"manifest.shard-{k}-of-2.json"
        seen += [i["id"] for i in m["items"]]
    assert sorted(seen) == sorted(w.id for w in items)  # every item in exactly one shard
    with pytest.raises(InputError, match="no items"):
        run_stage("mean", "thead.frames", mean_colour, [], tmp_path / "none", {}, progress=False)
