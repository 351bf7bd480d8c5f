import json
from pathlib import Path

import pytest

from thead.errors import ManifestError
from thead.manifest import (Item, ManifestWriter, in_shard, load_manifest, make_producer, merge_manifests,
                            parse_shard, upgrade_manifest, validate_manifest)
from thead.manifest.models import SCHEMA_VERSION
from thead.manifest.io import remove_stale_tmp
from thead.manifest.schema import schema_for

ROOT = Path(__file__).resolve().parents[2]


def _write(tmp_path, items, kind="thead.landmarks", name="manifest.json", sub="m"):
    w = ManifestWriter(tmp_path / sub, kind, make_producer("test", {"a": 1}, ["thead", "x"]), name=name)
    for it in items:
        w.add(it)
    return w.finish(), w.path


def test_round_trip_and_relative_paths(tmp_path):
    (tmp_path / "m").mkdir()
    (tmp_path / "m" / "a.npz").write_bytes(b"x")
    item = Item(id="a", status="done", source="../video.mp4", outputs={"landmarks": "a.npz"}, meta={"fps": 25.0})
    m, path = _write(tmp_path, [item])
    data = json.loads(path.read_text())
    assert data["kind"] == "thead.landmarks" and data["schema_version"] == SCHEMA_VERSION
    assert data["producer"]["argv"] == ["thead", "x"] and data["producer"]["config"] == {"a": 1}
    assert "landmarks" in data["conventions"]
    lm = load_manifest(path, "thead.landmarks")
    assert lm.resolve(lm.items[0].source) == (tmp_path / "video.mp4").resolve()
    assert lm.output(lm.items[0], "landmarks").read_bytes() == b"x"
    assert validate_manifest(path) == []
    assert not path.with_name("manifest.json.journal.jsonl").exists()


def test_wrong_kind_newer_and_older_major(tmp_path):
    _, path = _write(tmp_path, [])
    with pytest.raises(ManifestError, match="expected thead.au"):
        load_manifest(path, "thead.au")
    data = json.loads(path.read_text())
    data["schema_version"] = "2.0"
    path.write_text(json.dumps(data))
    with pytest.raises(ManifestError, match="newer"):
        load_manifest(path)
    data["schema_version"] = "0.3"
    path.write_text(json.dumps(data))
    before = path.read_text()
    with pytest.raises(ManifestError, match="thead manifest upgrade"):
        load_manifest(path)
    assert path.read_text() == before  # reading never rewrites
    with pytest.raises(ManifestError, match="no migration"):
        upgrade_manifest(path)


def test_upgrade_older_minor(tmp_path):
    _, path = _write(tmp_path, [Item(id="a", status="failed", error="boom")])
    data = json.loads(path.read_text())
    data["schema_version"] = "1.0"
    del data["conventions"]  # an older minor version without the field
    path.write_text(json.dumps(data))
    assert load_manifest(path).items[0].id == "a"  # an older minor version reads as it is
    out = tmp_path / "up" / "m.json"
    upgrade_manifest(path, out)
    up = json.loads(out.read_text())
    assert up["schema_version"] == SCHEMA_VERSION and up["conventions"]


def test_invalid_manifest_message(tmp_path):
    p = tmp_path / "bad.json"
    p.write_text(json.dumps({"kind": "thead.landmarks", "schema_version": "1.0",
                             "producer": {"stage": "x", "thead_version": "0.1.0"},
                             "items": [{"id": "a", "status": "maybe"}]}))
    with pytest.raises(ManifestError, match="items.0.status"):
        load_manifest(p)
    p.write_text("{not json")
    with pytest.raises(ManifestError, match="not valid JSON"):
        load_manifest(p)


def test_validate_reports_missing_outputs(tmp_path):
    _, path = _write(tmp_path, [Item(id="a", status="done", outputs={"landmarks": "gone.npz"}),
                                Item(id="b", status="done")])
    problems = validate_manifest(path)
    assert any("missing: gone.npz" in p for p in problems)
    assert any("no 'landmarks' output" in p for p in problems)


def test_writer_resumes_from_journal(tmp_path):
    d = tmp_path / "out"
    w = ManifestWriter(d, "thead.landmarks", make_producer("t", {}))
    (d / "a.npz").write_bytes(b"1")
    w.add(Item(id="a", status="done", outputs={"landmarks": "a.npz"}))
    w.add(Item(id="b", status="done", outputs={"landmarks": "b.npz"}))  # its file never appeared
    with open(w.journal, "a") as f:
        f.write('{"id": "c", "stat')  # a line cut by a kill
    w.close()  # the killed process's lock goes with it
    w2 = ManifestWriter(d, "thead.landmarks", make_producer("t", {}))
    assert w2.is_done("a") and not w2.is_done("b") and not w2.is_done("c")


def test_shards_partition_and_merge(tmp_path):
    ids = [f"clip{i:03d}" for i in range(200)]
    parts = [[i for i in ids if in_shard(i, (k, 4))] for k in range(4)]
    assert sorted(sum(parts, [])) == ids and all(len(p) > 20 for p in parts)
    assert parse_shard("3/4") == (3, 4)
    for bad in ("4/4", "a/b", "1"):
        with pytest.raises(ValueError):
            parse_shard(bad)
    paths = []
    for k in range(2):
        sub = tmp_path / f"s{k}"
        sub.mkdir()
        items = []
        for i in parts[k][:3]:
            (sub / f"{i}.npz").write_bytes(b"x")
            items.append(Item(id=i, status="done", outputs={"landmarks": f"{i}.npz"}))
        paths.append(_write(tmp_path, items, sub=f"s{k}", name=f"manifest.shard-{k}-of-4.json")[1])
    merged = merge_manifests(paths, tmp_path / "merged" / "manifest.json")
    assert len(merged.items) == 6
    assert validate_manifest(tmp_path / "merged" / "manifest.json") == []
    with pytest.raises(ManifestError, match="different kinds"):
        other = _write(tmp_path, [], kind="thead.au", sub="au")[1]
        merge_manifests([paths[0], other], tmp_path / "x.json")


def test_committed_schemas_are_current():
    for f in (ROOT / "manifests").glob("*.schema.json"):
        kind = f.name[: -len(".schema.json")]
        assert json.loads(f.read_text()) == schema_for(kind), f"{f} is stale: run make schemas"


def test_example_manifests_validate():
    ex = sorted((ROOT / "manifests" / "examples").rglob("manifest.json"))
    assert ex, "no example manifests"
    for p in ex:
        assert validate_manifest(p) == [], p


def test_stale_tmp_removed_only_for_dead_writers(tmp_path):
    import os

    dead = tmp_path / ".x.999999999.tmp.npz"
    dead.write_bytes(b"half")
    live = tmp_path / f".y.{os.getpid()}.tmp.npz"
    live.write_bytes(b"in progress")
    d = tmp_path / ".z.999999998.tmp.frames"
    d.mkdir()
    removed = remove_stale_tmp(tmp_path)
    assert not dead.exists() and not d.exists() and live.exists() and len(removed) == 2
