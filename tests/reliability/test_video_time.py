"""Issue 10, case 7: frame i's timestamp is the time of the frame actually decoded, also for a video stream that
starts after its file does (the edge-case clip's video starts at 0.852 s)."""

from __future__ import annotations

import pytest
import json
import subprocess

import numpy as np

from tests.conftest import run_cli, shared

CLIP = "edge_cases/face_recognition_short_hamilton_clip.mp4"


def packet_times(path) -> np.ndarray:
    out = subprocess.run(["ffprobe", "-v", "error", "-select_streams", "v:0", "-show_entries", "packet=pts_time",
                          "-of", "csv=p=0", str(path)], capture_output=True, text=True, check=True).stdout
    return np.sort(np.array([float(x) for x in out.split() if x.strip()]))


@pytest.mark.slow
def test_timestamps_match_ffprobe_packet_times():
    from thead.media import FrameReader, count_frames

    path = shared(CLIP)
    pkts = packet_times(path)
    r = FrameReader(path)
    ts = np.array([t for _, t, _ in r])
    assert len(ts) == len(pkts) == count_frames(path)  # no copies of the first frame padded in front
    assert np.abs(ts - pkts).max() < 0.5 / r.fps
    assert abs(ts[0] - 0.852) < 0.5 / r.fps


@pytest.mark.slow
def test_landmark_and_audio_rows_carry_the_late_start(tmp_path):
    path = shared(CLIP)
    r = run_cli("extract-landmarks", path, "-o", tmp_path / "lmk", "--no-progress", "--no-preview")
    assert r.returncode == 0, r.stderr
    m = json.loads((tmp_path / "lmk" / "manifest.json").read_text())
    d = np.load(tmp_path / "lmk" / m["items"][0]["outputs"]["landmarks"])
    pkts = packet_times(path)
    assert len(d["timestamps_s"]) == len(pkts)
    assert np.abs(d["timestamps_s"] - pkts).max() < 0.02
    a = run_cli("audio-features", tmp_path / "lmk" / "manifest.json", "-o", tmp_path / "audio", "--no-progress",
                "--no-preview")
    assert a.returncode == 0, a.stderr
    am = json.loads((tmp_path / "audio" / "manifest.json").read_text())
    meta = am["items"][0]["meta"]
    assert meta["n_frames"] == len(pkts)
    assert abs(meta["audio_offset_s"] - (d["timestamps_s"][0] - 0.008)) < 0.01  # audio stream starts at 0.008 s


def test_audio_rows_are_shifted_by_the_offset():
    from thead.audio.features import resample_rows

    feat = np.arange(10, dtype=np.float32)[:, None]  # value = time in 10 ms steps
    rows = resample_rows(feat, 100.0, 25.0, 3, start_s=0.05)
    assert np.allclose(rows[:, 0], [5, 9, 9])
