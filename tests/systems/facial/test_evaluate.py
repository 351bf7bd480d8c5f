import json

import numpy as np

import pytest

from tests.conftest import run_cli
from thead.systems.facial.evaluate import envelope, lagged_correlation, mouth_lmd, mouth_shapes


def test_lmd_is_zero_for_identical_mouths_and_ignores_translation():
    rng = np.random.default_rng(0)
    lm = rng.uniform(0, 100, (5, 68, 2))
    lm[:, 36], lm[:, 45] = (20, 40), (80, 40)  # IOD 60
    assert mouth_lmd(lm, lm) == 0.0
    moved = lm.copy()
    moved[:, 48:68] += 7.0
    assert mouth_lmd(moved, lm) < 1e-9  # the mouth is centred first
    assert mouth_lmd(lm * 3.0 + 5.0, lm) < 1e-9  # and scaled by the video's own IOD (crop vs full frame)
    wide = lm.copy()
    wide[:, 48:68, 0] = lm[:, 48:68, 0].mean(1, keepdims=True) + 2 * (lm[:, 48:68, 0] - lm[:, 48:68, 0].mean(1,
                                                                                                        keepdims=True))
    assert mouth_lmd(wide, lm) > 1.0


def test_lmd_levels_the_mouth_with_the_eyes():
    rng = np.random.default_rng(1)
    lm = rng.uniform(0, 100, (4, 68, 2))
    lm[:, 36], lm[:, 45] = (20, 40), (80, 40)
    a = 0.3  # the whole face rolled by 0.3 rad, scaled and moved: the same mouth
    rolled = lm @ np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]]).T * 1.5 + 4.0
    assert mouth_lmd(rolled, lm) < 1e-9
    assert mouth_lmd(rolled, lm, aligned=False) > 5.0  # centred and scaled only, the roll counts
    shapes = mouth_shapes(rolled)
    assert shapes.shape == (4, 20, 2)
    np.testing.assert_allclose(shapes, mouth_shapes(lm), atol=1e-9)
    only_mouth = lm.copy()  # the mouth alone turned: a changed mouth, not a rolled head
    m = lm[:, 48:68] - lm[:, 48:68].mean(1, keepdims=True)
    only_mouth[:, 48:68] = lm[:, 48:68].mean(1, keepdims=True) + m @ np.array([[np.cos(a), -np.sin(a)],
                                                                             [np.sin(a), np.cos(a)]]).T
    assert mouth_lmd(only_mouth, lm) > 5.0


def test_envelope_and_lagged_correlation():
    sr, fps = 16000, 25.0
    loud = np.repeat(np.array([0.0, 1.0, 0.0, 0.5, 0.0, 1.0, 0.2, 0.0, 0.8, 0.0] * 3), sr // 25)
    rng = np.random.default_rng(0)
    audio = loud * rng.normal(0, 1, len(loud))
    env = envelope(audio, sr, fps, 30)
    assert np.corrcoef(env, loud[::sr // 25])[0, 1] > 0.95
    mouth = np.roll(env, 2)  # the mouth follows the sound by 2 frames
    c0, best, lag = lagged_correlation(mouth, env)
    assert lag == 2 and best > 0.99 and c0 < best


@pytest.mark.slow
def test_cli_on_a_real_clip(short_clips, tmp_path):
    import torch

    from thead.metrics.syncnet import SyncNet

    torch.manual_seed(0)
    torch.save(SyncNet().state_dict(), tmp_path / "syncnet.model")  # random weights: the plumbing, not the score
    r = run_cli("evaluate", "facial", "--video", short_clips / "a.mp4", "--ground-truth", short_clips / "a.mp4",
                "--max-frames", 5, "--syncnet-weights", tmp_path / "syncnet.model", "-o", tmp_path / "e", "--json")
    assert r.returncode == 0, r.stderr
    res = json.loads(r.stdout)
    row = res["rows"]["a"]
    assert row["lmd_mouth_pct_iod"] == 0.0 and 0 < row["cpbd"] <= 1 and row["face_fraction"] > 0.9
    assert len(row["pose_std_deg"]) == 3 and np.isfinite(row["mouth_audio_corr"])
    assert row["syncnet_windows"] == 25 and abs(row["syncnet_offset"]) <= 15 and row["syncnet_confidence"] >= 0
    assert row["syncnet_offset"] == res["rows"]["ground truth: a"]["syncnet_offset"]  # deterministic
    md = (tmp_path / "e" / "metrics.md").read_text()
    assert "FACIAL evaluation" in md and "LSE-C" in md and "syncnet.model" in md
    (tmp_path / "bad.model").write_bytes(b"\x00" * 10)
    r = run_cli("evaluate", "facial", "--video", short_clips / "a.mp4", "--syncnet-weights", tmp_path / "bad.model",
                "-o", tmp_path / "e2")
    assert r.returncode != 0 and "--syncnet-weights" in r.stderr and len(r.stderr.strip().splitlines()) == 1
