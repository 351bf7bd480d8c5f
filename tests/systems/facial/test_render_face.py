import pytest
import json

import numpy as np

from tests.conftest import run_cli


@pytest.mark.slow
def test_render_face_pairs_real_crops_with_renders(facial_data, tmp_path):
    from thead.media import has_audio, read_image
    from PIL import Image

    r = run_cli("render-face", facial_data["au"], "--size", 64, "-o", tmp_path / "r", "--no-progress")
    assert r.returncode == 0, r.stderr
    m = json.loads((tmp_path / "r" / "manifest.json").read_text())
    for it in m["items"]:
        assert it["status"] == "done"
        frames = sorted((tmp_path / "r" / it["outputs"]["frames"]).glob("*.png"))
        renders = sorted((tmp_path / "r" / it["outputs"]["renders"]).glob("*.png"))
        assert len(frames) == len(renders) == it["meta"]["n_frames"] > 10
        rgba = np.asarray(Image.open(renders[5]))
        assert rgba.shape == (64, 64, 4)
        alpha = set(np.unique(rgba[..., 3]).tolist())
        assert 0 in alpha and all(a == 0 or a >= 32 for a in alpha) and len(alpha) >= 2  # eyes marked
        real = read_image(frames[5])
        face = rgba[..., :3].max(-1) > 0
        assert 0.1 < face.mean() < 0.9
        assert np.abs(rgba[..., :3].astype(int) - real.astype(int))[face].mean() < 30  # the render looks like it
        ref = np.load(tmp_path / "r" / it["outputs"]["reference"])
        assert ref["albedo"].shape[1] == 3 and ref["params"].shape[0] == len(frames)
        assert int(ref["crop_size"]) == 64
        assert has_audio(tmp_path / "r" / it["outputs"]["video"])


@pytest.mark.slow
def test_render_face_refuses_other_manifests(facial_data, tmp_path):
    r = run_cli("render-face", facial_data["audio"], "-o", tmp_path / "x")
    assert r.returncode == 1 and r.stderr.strip().startswith("error:")
    r = run_cli("render-face", facial_data["au"], "--size", 100, "-o", tmp_path / "x")
    assert r.returncode == 1 and "multiple of 16" in r.stderr
