"""Issue 10, case 1: paths from a manifest never lead a stage to write or delete outside -o."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import SHARED
from tests.reliability.conftest import hostile_copy, tree


def thead(*args, cwd=None, env=None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "thead", *map(str, args)], capture_output=True, text=True, cwd=cwd,
                          env=env, timeout=300)


def one_error_line(r: subprocess.CompletedProcess) -> str:
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error:"), r.stderr
    assert "Traceback" not in r.stderr
    return lines[0]


@pytest.mark.slow
@pytest.mark.parametrize("bad_id", ["../../ESCAPED", "ABSOLUTE", "a/b", ".hidden", "-opt", "x" * 201, ""])
def test_unsafe_item_ids_are_refused_and_nothing_outside_is_touched(tmp_path, landmarks_manifest, bad_id):
    if bad_id == "ABSOLUTE":
        bad_id = str(tmp_path / "ESCAPED")
    # What the old frontalize wrote (and, for a video item, deleted and replaced) outside -o:
    victim = tmp_path / "ESCAPED.png"
    victim.write_bytes(b"precious")
    (tmp_path / "ESCAPED.frames").mkdir()
    (tmp_path / "ESCAPED.frames" / "keep.txt").write_text("precious")
    m = hostile_copy(landmarks_manifest, tmp_path / "work" / "m", id=bad_id)
    before = tree(tmp_path)
    r = thead("frontalize", m, "-o", tmp_path / "work" / "out", "--no-progress")
    assert r.returncode == 1
    assert "not a safe name" in one_error_line(r)
    after = {k: v for k, v in tree(tmp_path).items() if not k.startswith("work/out")}
    assert after == before
    assert victim.read_bytes() == b"precious"
    v = thead("manifest", "validate", m)
    assert v.returncode != 0 and "not a safe name" in v.stderr


def test_output_path_helper_keeps_every_write_inside(tmp_path):
    from thead.manifest.paths import OutsideError, item_path, output_path

    out = tmp_path / "out"
    out.mkdir()
    assert output_path(out, "a.png") == out.resolve() / "a.png"
    assert item_path(out, "clip-1.x", ".frames") == out.resolve() / "clip-1.x.frames"
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    (out / "link").symlink_to(outside)  # a symlink planted inside -o
    for name in ["../x.png", "/etc/passwd", "link/x.png", "a/../../x"]:
        with pytest.raises(OutsideError):
            output_path(out, name)
    with pytest.raises(OutsideError):
        item_path(out, "../x", ".png")


@pytest.mark.slow
def test_outputs_listed_outside_the_manifest_folder_are_refused(tmp_path, landmarks_manifest):
    secret = tmp_path / "secret.npz"
    secret.write_bytes(b"not yours")
    m = hostile_copy(landmarks_manifest, tmp_path / "m", outputs={"landmarks": "../secret.npz"})
    cwd = tmp_path / "elsewhere"  # the user works in another folder
    cwd.mkdir()
    env = _env_without_opt_in()
    r = thead("frontalize", m, "-o", tmp_path / "out", "--no-progress", cwd=cwd, env=env)
    assert r.returncode == 1 and "points outside the manifest's folder" in one_error_line(r)
    v = thead("manifest", "validate", m, cwd=cwd, env=env)
    assert v.returncode == 1 and "points outside" in v.stderr
    m2 = hostile_copy(landmarks_manifest, tmp_path / "m2", outputs={"landmarks": str(secret)})
    assert thead("manifest", "validate", m2, cwd=cwd, env=env).returncode == 1
    assert thead("--allow-outside", "manifest", "validate", m2, cwd=cwd, env=env).returncode == 0


def _env_without_opt_in() -> dict:
    env = dict(os.environ)
    env.pop("THEAD_ALLOW_OUTSIDE", None)
    return env


@pytest.mark.slow
def test_sources_outside_need_an_opt_in(tmp_path, landmarks_manifest):
    """A source outside the manifest's folder and the working directory is followed only with --allow-outside or
    THEAD_ALLOW_OUTSIDE (the bundled sample lies in ../shared, outside both)."""
    src = (SHARED / "portraits" / "SadTalker_sad1.png").resolve()
    m = hostile_copy(landmarks_manifest, tmp_path / "m", source=os.path.relpath(src, tmp_path / "m"))
    env = _env_without_opt_in()
    r = thead("frontalize", m, "-o", tmp_path / "out", "--no-progress", cwd=tmp_path, env=env)
    assert r.returncode == 1 and "--allow-outside" in one_error_line(r)
    assert not (tmp_path / "out" / "manifest.json").exists()
    ok = thead("--allow-outside", "frontalize", m, "-o", tmp_path / "out", "--no-progress", cwd=tmp_path, env=env)
    assert ok.returncode == 0, ok.stderr
    env2 = dict(env, THEAD_ALLOW_OUTSIDE=str(src.parent))
    ok2 = thead("frontalize", m, "-o", tmp_path / "out2", "--no-progress", cwd=tmp_path, env=env2)
    assert ok2.returncode == 0, ok2.stderr


@pytest.mark.slow
def test_media_named_on_the_command_line_are_trusted_through_the_chain(tmp_path):
    """`thead frontalize FILE` runs landmarks first and reads back the manifest it wrote: the file the user named is
    trusted even though it lies outside the working directory."""
    src = SHARED / "portraits" / "SadTalker_sad1.png"
    r = thead("frontalize", src, "-o", tmp_path / "out", "--no-progress", cwd=tmp_path, env=_env_without_opt_in())
    assert r.returncode == 0, r.stderr
    m = json.loads((tmp_path / "out" / "manifest.json").read_text())
    assert [it["status"] for it in m["items"]] == ["done"]


def test_ids_from_odd_file_names_are_safe(tmp_path):
    from thead.runner import assign_ids, safe_id

    from thead.manifest.paths import is_safe_id

    names = ["-rf.png", "..png", "a b.png", "é.jpg", "[/x].png", "x" * 300 + ".png", ".png"]
    for n in names:
        assert is_safe_id(safe_id(Path(n).stem)), n
    files = [tmp_path / n for n in ["face.jpg", "face.png", "sub/face.png", "other.png"]]
    ids = assign_ids(files)
    assert len(set(ids)) == 4 and all(is_safe_id(i) for i in ids)
    assert ids[3] == "other"
