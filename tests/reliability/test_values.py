"""Issue 10, cases 4 and 6: non-finite numbers are refused where they enter (CSV, arrays, manifests); numeric
options are checked when the command line is parsed (exit 2, one line)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from tests.conftest import EXAMPLES, run_cli
from tests.reliability.conftest import write_openface_csv


@pytest.mark.parametrize("bad", ["nan", "inf", "-Infinity"])
def test_openface_csv_with_non_finite_values_is_refused(tmp_path, bad):
    csv = write_openface_csv(tmp_path / "clip.csv", [["1", "0.0", "1", "0.5", "1.0", "0.0"],
                                                     ["2", "0.04", "1", "0.5", bad, "0.0"]])
    r = run_cli("extract-au", "--from-openface", csv, "-o", tmp_path / "au", "--no-progress", "--json")
    assert r.returncode == 3
    line = [ln for ln in r.stderr.splitlines() if ln.startswith("failed")][0]
    assert "clip.csv" in line and "'AU12_r'" in line and "non-finite" in line
    m = json.loads((tmp_path / "au" / "manifest.json").read_text())
    assert m["items"][0]["status"] == "failed" and not m["items"][0]["outputs"]


def test_manifest_with_nan_is_refused(tmp_path, landmarks_manifest):
    m = json.loads(landmarks_manifest.read_text())
    text = json.dumps(m).replace('"detected_fraction": 1.0', '"detected_fraction": NaN')
    assert "NaN" in text
    p = tmp_path / "manifest.json"
    p.write_text(text)
    r = run_cli("manifest", "validate", p)
    assert r.returncode == 1 and "non-finite number NaN" in r.stderr and len(r.stderr.strip().splitlines()) == 1


def test_arrays_with_non_finite_values_are_refused(tmp_path):
    from thead.errors import InputError
    from thead.manifest.arrays import load_array

    good = np.zeros((3, 4), np.float32)
    np.save(tmp_path / "good.npy", good)
    assert load_array(tmp_path / "good.npy").shape == (3, 4)
    bad = good.copy()
    bad[1, 2] = np.inf
    np.save(tmp_path / "bad.npy", bad)
    with pytest.raises(InputError, match=r"bad.npy: non-finite value inf at index \(1, 2\)"):
        load_array(tmp_path / "bad.npy")
    lm = np.full((2, 68, 2), np.nan, np.float32)  # landmarks: NaN is the documented "no face"
    np.savez(tmp_path / "l.npz", landmarks=lm)
    assert np.isnan(load_array(tmp_path / "l.npz", "landmarks", allow_nan=True)).all()
    with pytest.raises(InputError, match="non-finite"):
        load_array(tmp_path / "l.npz", "landmarks")
    np.save(tmp_path / "obj.npy", np.array([{"a": 1}], dtype=object), allow_pickle=True)
    with pytest.raises(InputError, match="not a readable numpy array"):
        load_array(tmp_path / "obj.npy")


@pytest.mark.parametrize("args", [
    ["extract-landmarks", "x.mp4", "--fps", "-1"],
    ["extract-landmarks", "x.mp4", "--fps", "0"],
    ["extract-landmarks", "x.mp4", "--fps", "nan"],
    ["extract-landmarks", "x.mp4", "--fps", "inf"],
    ["audio-features", "x.wav", "--fps", "-1"],
    ["audio-features", "x.wav", "--fps", "nan"],
    ["crop-faces", "x.mp4", "--scale", "0"],
    ["postprocess-clahe", "x.png", "--clip-limit", "2"],
    ["train", "aue", "--target-frames", "f.json", "--target-au", "a.json", "--lr", "nan"],
    ["train", "flnet", "--manifest", "m.json", "--holdout", "1.5"],
    ["train", "flnet", "--manifest", "m.json", "--lambda-rec", "-1"],
    ["evaluate", "flnet", "--checkpoint", "c.pt", "--manifest", "m.json", "--holdout", "0"],
    ["extract-landmarks", "x.mp4", "--workers", "0"],
    ["extract-landmarks", "x.mp4", "--shard", "3/2"],
])
def test_bad_numbers_are_usage_errors(args):
    r = run_cli(*args)
    assert r.returncode == 2, r.stderr
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error:") and "Traceback" not in r.stderr, r.stderr


@pytest.mark.slow
def test_good_fps_still_works(tmp_path):
    r = run_cli("audio-features", EXAMPLES / "audio" / "SadTalker_RD_Radio34_002_5s.wav", "--fps", "30", "-o",
                tmp_path / "a", "--no-progress", "--no-preview", "--json")
    assert r.returncode == 0, r.stderr
    m = json.loads((tmp_path / "a" / "manifest.json").read_text())
    assert m["items"][0]["meta"]["fps"] == 30 and m["items"][0]["meta"]["n_frames"] == 150
