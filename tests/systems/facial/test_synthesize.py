import json
import subprocess

import numpy as np

import pytest

from tests.conftest import run_cli, shared
from tests.systems.facial.conftest import small_gan_config
from thead.systems.facial.synthesize import pingpong, reference_frames, smooth


def test_smoothing_keeps_lines_and_short_sequences():
    x = np.linspace(0, 1, 20, dtype=np.float32)[:, None] * np.ones((1, 3), np.float32)
    np.testing.assert_allclose(smooth(x), x, atol=1e-5)  # Savitzky-Golay (order 2) keeps a line
    noisy = x + np.random.default_rng(0).normal(0, 0.05, x.shape).astype(np.float32)
    assert np.abs(smooth(noisy) - x).mean() < np.abs(noisy - x).mean()
    assert np.array_equal(smooth(x[:3]), x[:3])


@pytest.mark.slow
def test_reference_frames_play_forward_then_backward(short_clips):
    from thead.media import FrameReader

    assert [pingpong(t, 4) for t in range(9)] == [0, 1, 2, 3, 2, 1, 0, 1, 2]
    assert [pingpong(t, 1) for t in range(3)] == [0, 0, 0]
    frames = [f for _, _, f in FrameReader(short_clips / "c.mp4", fps=25)]
    m = len(frames)
    out = list(reference_frames(short_clips / "c.mp4", 25, 2 * m + 3))
    assert len(out) == 2 * m + 3
    for t in (0, m - 1, m, 2 * m - 2, 2 * m + 2):
        assert np.array_equal(out[t], frames[pingpong(t, m)])  # exact: the backward passes read lossless PNGs
    assert len(list(reference_frames(short_clips / "c.mp4", 25, 5))) == 5


@pytest.mark.slow
def test_speech_to_talking_video(facial_data, facial_renders, tmp_path):
    from thead.media import has_audio, probe_video
    from thead.systems.facial.train import train_facial_gan
    from thead.systems.facial.train_render import Render2VideoConfig, train_render2video

    gan = train_facial_gan(facial_data["audio"], facial_data["au"], tmp_path / "fg", small_gan_config(steps=1),
                           progress=False)
    r2v = train_render2video(facial_renders, tmp_path / "r2v", Render2VideoConfig(
        steps=1, batch_size=1, width=4, d_width=4, n_w=1), progress=False, say=lambda m: None)
    speech = tmp_path / "speech.wav"
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-i", str(shared("audio/video-retalking_audio_1.wav")), "-t",
                    "1.5", str(speech)], check=True)
    r = run_cli("synthesize", "facial", "--audio", speech, "--reference", facial_renders, "--reference-item", "a",
                "--facial-gan", gan, "--render2video", r2v, "--paste-back", "-o", tmp_path / "out")
    assert r.returncode == 0, r.stderr
    (it,) = json.loads((tmp_path / "out" / "manifest.json").read_text())["items"]
    video = tmp_path / "out" / it["outputs"]["video"]
    info = probe_video(video)
    assert (info.width, info.height) == (64, 64) and has_audio(video)
    assert info.n_frames_nominal == it["meta"]["n_frames"] == round(1.5 * it["meta"]["fps"])
    # the reference clip is 1.2 s: the pasted video, at the reference's full size, plays it back and forth
    pasted = probe_video(tmp_path / "out" / it["outputs"]["pasted"])
    src = json.loads(facial_renders.read_text())
    ref_video = [facial_renders.parent / i["source"] for i in src["items"] if i["id"] == "a"][0]
    ref_info = probe_video(ref_video)
    assert (pasted.width, pasted.height) == (ref_info.width, ref_info.height)
    assert pasted.n_frames_nominal == info.n_frames_nominal and has_audio(tmp_path / "out" / it["outputs"]["pasted"])
    params = np.load(tmp_path / "out" / it["outputs"]["params"])
    assert params.shape == (it["meta"]["n_frames"], 60) and np.isfinite(params).all()
    r = run_cli("synthesize", "facial", "--audio", speech, "--reference", facial_renders, "--facial-gan", gan,
                "--render2video", r2v, "-o", tmp_path / "x")
    assert r.returncode == 1 and "--reference-item" in r.stderr


def test_match_expression_moves_the_mean_and_keeps_the_motion(facial_data):
    from thead.systems.facial.data import reference_params
    from thead.systems.facial.params import EXP_START
    from thead.systems.facial.synthesize import match_expression

    ref, _ = reference_params(facial_data["au"])["a"]  # a real clip's fitted parameters
    p = ref.params.astype(np.float32)
    drifted = p[::-1].copy()
    drifted[:, EXP_START:] += 0.2  # a prediction whose expressions drifted by a constant
    out = match_expression(drifted, p)
    assert np.allclose(out[:, EXP_START:].mean(0), p[:, EXP_START:].mean(0), atol=1e-5)
    assert np.allclose(np.diff(out[:, EXP_START:], axis=0), np.diff(drifted[:, EXP_START:], axis=0), atol=1e-5)
    assert np.array_equal(out[:, :EXP_START], drifted[:, :EXP_START])  # pose and blink untouched


def test_match_pose_moves_the_head_and_keeps_its_motion(facial_data):
    from thead.systems.facial.data import reference_params
    from thead.systems.facial.params import EXP_START, POSE
    from thead.systems.facial.synthesize import match_pose

    ref, _ = reference_params(facial_data["au"])["a"]  # a real clip's fitted parameters
    p = ref.params.astype(np.float32)
    drifted = p[::-1].copy()
    drifted[:, POSE] += np.array([0.0, 0.15, 0.0, 0.5, 12.0, -7.0], np.float32)  # yaw 0.15 rad, moved and scaled
    out = match_pose(drifted, p)
    assert np.allclose(out[:, POSE].mean(0), p[:, POSE].mean(0), atol=1e-3)
    assert np.allclose(np.diff(out[:, POSE], axis=0), np.diff(drifted[:, POSE], axis=0), atol=1e-3)
    assert np.array_equal(out[:, 6:], drifted[:, 6:])  # blink and expressions untouched
    assert EXP_START == 7
