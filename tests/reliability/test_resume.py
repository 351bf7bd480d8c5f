"""Issue 10, cases 2 and 3: a rerun reuses an item only when its source and config are unchanged; ids from file
names stay stable when files are added; one writer per output folder; a second run never drops the first's items."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from tests.conftest import SHARED, run_cli


def portraits(folder, names: dict[str, str]):
    folder.mkdir(parents=True, exist_ok=True)
    for dst, src in names.items():
        shutil.copy(SHARED / "portraits" / src, folder / dst)
    return folder


def items(out) -> dict:
    m = json.loads((out / "manifest.json").read_text())
    return {it["id"]: it for it in m["items"]}


def summary(r) -> dict:
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)


@pytest.mark.slow
def test_same_names_from_another_folder_are_processed_not_reused(tmp_path):
    a = portraits(tmp_path / "A", {"face.png": "SadTalker_happy1.png", "face.jpg": "GeneFace_d3dr_000002.jpg"})
    c = portraits(tmp_path / "C", {"face.png": "SadTalker_sad1.png", "face.jpg": "LivePortrait_d30.jpg"})
    out = tmp_path / "out"
    assert summary(run_cli("extract-landmarks", a, "-o", out, "--json", "--no-progress"))["done"] == 2
    first = {k: np.load(out / v["outputs"]["landmarks"])["landmarks"] for k, v in items(out).items()}
    s = summary(run_cli("extract-landmarks", c, "-o", out, "--json", "--no-progress"))
    assert s["reused"] == 0 and s["done"] == 2
    now = items(out)
    assert {v["source"] for v in now.values()} == {"../C/face.png", "../C/face.jpg"}
    for k, v in now.items():
        assert not np.allclose(np.load(out / v["outputs"]["landmarks"])["landmarks"], first[k])
    # unchanged sources and config: reused
    assert summary(run_cli("extract-landmarks", c, "-o", out, "--json", "--no-progress"))["reused"] == 2
    # a changed setting: redone
    assert summary(run_cli("extract-landmarks", c, "-o", out, "--json", "--no-progress", "--no-preview"))[
        "reused"] == 0


@pytest.mark.slow
def test_ids_are_stable_when_a_same_named_file_is_added(tmp_path):
    d = portraits(tmp_path / "in", {"face.jpg": "GeneFace_d3dr_000002.jpg", "face.png": "SadTalker_happy1.png"})
    out = tmp_path / "out"
    summary(run_cli("extract-landmarks", d, "-o", out, "--json", "--no-progress"))
    before = items(out)
    assert set(before) == {"face.jpg", "face.png"}
    from PIL import Image

    Image.open(SHARED / "portraits" / "SadTalker_sad1.png").convert("RGB").save(d / "face.bmp")
    s = summary(run_cli("extract-landmarks", d, "-o", out, "--json", "--no-progress"))
    after = items(out)
    assert s["done"] == 3 and s["reused"] == 2
    assert set(after) == {"face.bmp", "face.jpg", "face.png"}
    for k in before:
        assert after[k]["source"] == before[k]["source"]
    sources = [v["source"] for v in after.values()]
    assert len(sources) == len(set(sources))  # every file listed once


def test_a_second_run_with_other_inputs_keeps_the_first_runs_items(tmp_path):
    out = tmp_path / "out"
    summary(run_cli("extract-landmarks", SHARED / "portraits" / "SadTalker_sad1.png", "-o", out, "--json",
                    "--no-progress"))
    r = run_cli("extract-landmarks", SHARED / "portraits" / "SadTalker_happy1.png", "-o", out, "--json",
                "--no-progress")
    assert summary(r)["done"] == 2
    assert set(items(out)) == {"SadTalker_sad1", "SadTalker_happy1"}
    assert "kept 1 finished item" in r.stderr


def test_one_writer_per_output_folder(tmp_path):
    import os

    from thead.manifest.io import FolderLock

    out = tmp_path / "out"
    out.mkdir()
    lock = FolderLock(out, "manifest.json")  # a run in progress
    try:
        r = run_cli("extract-landmarks", SHARED / "portraits" / "SadTalker_sad1.png", "-o", out, "--no-progress")
        assert r.returncode == 1
        assert f"another thead run (pid {os.getpid()})" in r.stderr and len(r.stderr.strip().splitlines()) == 1
        assert not (out / "manifest.json").exists()
        with pytest.raises(Exception, match="another thead run"):
            FolderLock(out, "manifest.json")
        FolderLock(out, "manifest.shard-0-of-2.json").release()  # shards of one folder run side by side
    finally:
        lock.release()
    assert not (out / ".manifest.json.lock").exists()
    r = run_cli("extract-landmarks", SHARED / "portraits" / "SadTalker_sad1.png", "-o", out, "--no-progress")
    assert r.returncode == 0, r.stderr
    assert sorted(p.name for p in out.iterdir() if p.name.startswith(".")) == []


def test_a_training_run_folder_has_one_writer(tmp_path):
    from thead.errors import TheadError
    from thead.manifest.io import FolderLock
    from thead.train.loop import prepare_run_dir

    lock = FolderLock(tmp_path, "run")
    try:
        with pytest.raises(TheadError, match="another thead run"):
            prepare_run_dir(tmp_path / ".", resume=False)
    finally:
        lock.release()


def test_fingerprint_follows_source_upstream_and_config(tmp_path):
    import os
    import time

    from thead.runner import WorkItem, fingerprint

    f = tmp_path / "a.png"
    f.write_bytes(b"1")
    up = tmp_path / "a.npz"
    up.write_bytes(b"1")
    w = WorkItem(id="a", source=f, upstream={"landmarks": up})
    fp = fingerprint(w, "s", {"size": 100, "_progress": object()})
    assert fp == fingerprint(w, "s", {"size": 100})  # private run objects do not count
    assert fp != fingerprint(w, "s", {"size": 64})
    assert fp != fingerprint(w, "t", {"size": 100})
    t = time.time() + 5
    os.utime(up, (t, t))
    assert fp != fingerprint(w, "s", {"size": 100})
