import pytest
import json
import subprocess

import numpy as np

from tests.audio.test_features import tiny_wav2vec2
from tests.conftest import EXAMPLES, run_cli, shared


def _ffmpeg(*args):
    subprocess.run(["ffmpeg", "-v", "error", "-y", *map(str, args)], check=True)


def _items(folder):
    return {it["id"]: it for it in json.loads((folder / "manifest.json").read_text())["items"]}


@pytest.mark.slow
def test_one_row_per_video_frame_for_25_30_fps_and_vfr(tmp_path):
    from thead.media import FrameReader

    clip25 = EXAMPLES / "videos" / "LivePortrait_d20.mp4"
    vfr = EXAMPLES / "videos" / "video-retalking_face_1.mp4"
    r = run_cli("audio-features", clip25, vfr, "-o", tmp_path / "a", "--no-progress")
    assert r.returncode == 0, r.stderr
    r = run_cli("audio-features", clip25, "--fps", 30, "-o", tmp_path / "b", "--no-progress")
    assert r.returncode == 0, r.stderr
    for folder, src, fps in ((tmp_path / "a", clip25, None), (tmp_path / "a", vfr, None),
                             (tmp_path / "b", clip25, 30)):
        it = _items(folder)[src.stem]
        n = sum(1 for _ in FrameReader(src, fps))
        feat = np.load(folder / it["outputs"]["features"])
        assert feat.shape == (n, 39) and it["meta"]["n_frames"] == n and "windows" not in it["outputs"]
        assert (folder / it["outputs"]["plot"]).exists()
    assert abs(_items(tmp_path / "a")["video-retalking_face_1"]["meta"]["fps"] - 22.131) < 0.01  # VFR: average rate


@pytest.mark.slow
def test_frame_count_from_a_landmarks_manifest(tmp_path, short_clips):
    from thead.stages import landmarks

    lm = landmarks.run([short_clips / "b.mp4"], tmp_path / "lmk", preview=False, progress=False)
    r = run_cli("audio-features", lm.manifest_path, "-o", tmp_path / "a", "--no-progress")
    assert r.returncode == 0, r.stderr
    n = len(np.load(tmp_path / "lmk" / "b.landmarks.npz")["landmarks"])
    assert np.load(tmp_path / "a" / "b.mfcc.npy").shape == (n, 39)


@pytest.mark.slow
def test_awkward_audio_files(tmp_path):
    src = shared("audio/video-retalking_audio_1.wav")
    d = tmp_path / "in"
    d.mkdir()
    _ffmpeg("-i", src, "-ac", "2", "-ar", "44100", "-c:a", "pcm_u8", d / "u8_stereo_44k.wav")
    _ffmpeg("-i", src, "-ac", "2", "-ar", "48000", d / "stereo_48k.wav")
    _ffmpeg("-f", "lavfi", "-i", "anullsrc=r=22050:cl=mono", "-t", "2", d / "silent.wav")
    _ffmpeg("-i", src, "-t", "0.3", d / "short.wav")  # shorter than one 16-frame window
    _ffmpeg("-i", src, "-t", "0.01", d / "tiny.wav")  # shorter than one video frame
    r = run_cli("audio-features", d, "-o", tmp_path / "out", "--no-progress")
    assert r.returncode == 3  # tiny.wav fails, the rest are done
    items = _items(tmp_path / "out")
    assert items["tiny"]["status"] == "failed" and "shorter than one video frame" in items["tiny"]["error"]
    ref = np.load(tmp_path / "out" / items["stereo_48k"]["outputs"]["features"])
    u8 = np.load(tmp_path / "out" / items["u8_stereo_44k"]["outputs"]["features"])
    assert ref.shape == u8.shape == (round(5.02 * 25), 39)
    assert np.corrcoef(ref[:, 1], u8[:, 1])[0, 1] > 0.9  # same speech through 8-bit PCM and another rate
    assert np.isfinite(np.load(tmp_path / "out" / items["silent"]["outputs"]["features"])).all()
    assert np.load(tmp_path / "out" / items["short"]["outputs"]["features"]).shape == (8, 39)


@pytest.mark.slow
def test_deepspeech_cli_and_errors(tmp_path, short_clips):
    r = run_cli("audio-features", short_clips / "a.mp4", "--kind", "deepspeech", "-o", tmp_path / "x")
    assert r.returncode == 1 and "--model" in r.stderr
    model = tiny_wav2vec2(tmp_path / "w2v")
    r = run_cli("audio-features", short_clips / "a.mp4", short_clips / "c.mp4", "--kind", "deepspeech", "--model",
                model, "-o", tmp_path / "ds", "--no-progress")
    assert r.returncode == 3  # c.mp4 has no audio track
    items = _items(tmp_path / "ds")
    assert "no audio" in items["c"]["error"]
    f = np.load(tmp_path / "ds" / items["a"]["outputs"]["features"])
    assert f.shape == (items["a"]["meta"]["n_frames"], 29)
    np.testing.assert_allclose(np.exp(f).sum(1), 1.0, atol=1e-5)


@pytest.mark.slow
def test_silent_video_takes_the_wav_beside_it(tmp_path, clip25):
    from tests.conftest import cut

    d = tmp_path / "in"
    d.mkdir()
    cut(clip25, d / "talk.mp4", 1.2, audio=False)  # a StyleTalk-style silent clip ...
    _ffmpeg("-i", clip25, "-t", 1.2, "-vn", "-ac", "1", "-ar", 16000, d / "talk.wav")  # ... with its speech beside it
    cut(clip25, tmp_path / "with_sound.mp4", 1.2)
    r = run_cli("audio-features", d / "talk.mp4", tmp_path / "with_sound.mp4", "-o", tmp_path / "a", "--no-progress")
    assert r.returncode == 0, r.stderr
    it = _items(tmp_path / "a")["talk"]
    assert it["meta"]["audio_source"] == "talk.wav" and "no audio track" in it["meta"]["note"]
    side, own = np.load(tmp_path / "a" / "talk.mfcc.npy"), np.load(tmp_path / "a" / "with_sound.mfcc.npy")
    assert side.shape == own.shape and np.corrcoef(side[:, 1:13].ravel(), own[:, 1:13].ravel())[0, 1] > 0.9
    (d / "talk.wav").unlink()  # no speech anywhere: the item fails with the one-line reason
    r = run_cli("audio-features", d / "talk.mp4", "-o", tmp_path / "b", "--no-progress")
    assert r.returncode != 0 and "no audio track" in r.stderr


@pytest.mark.slow
def test_phones_kind_through_the_stage(tmp_path):
    """audio-features --kind mfcc+phones on a real clip: 79 columns per video frame, the manifest says so, and the
    file names carry no '+'."""
    clip = EXAMPLES / "videos" / "LivePortrait_d20.mp4"
    r = run_cli("audio-features", clip, "--kind", "mfcc+phones", "-o", tmp_path / "p", "--no-progress")
    assert r.returncode == 0, r.stderr
    it = _items(tmp_path / "p")[clip.stem]
    feat = np.load(tmp_path / "p" / it["outputs"]["features"])
    assert feat.shape[1] == 79 and it["meta"]["dim"] == 79 and it["meta"]["feature_kind"] == "mfcc+phones"
    assert it["outputs"]["features"].endswith(".mfcc-phones.npy") and (tmp_path / "p" / it["outputs"]["plot"]).exists()
    assert np.allclose(feat[:, 39:].sum(1), 1.0, atol=1e-5)
