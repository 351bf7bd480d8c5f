"""Issue 10, cases 5 and 9: user and library text is printed as is, every error is one line, and the stages say
what they did (items failed before processing, empty manifests, truncated audio, row counts)."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from tests.conftest import EXAMPLES, SHARED, cut, run_cli


def failed_lines(stderr: str) -> list[str]:
    return [ln for ln in stderr.splitlines() if ln.startswith("failed ")]


@pytest.mark.slow
def test_markup_in_file_names_and_ffmpeg_messages_is_printed_verbatim(tmp_path):
    d = tmp_path / "in"
    (d / "clip[").mkdir(parents=True)
    bad = d / "clip[" / "x].mp4"  # the path holds "[/x]", rich's closing tag
    bad.write_text("not a video")
    # a real clip cut short: ffmpeg's message starts with its own "[mov,mp4,... @ 0x...]" prefix
    (d / "[bold]b[red].mp4").write_bytes((EXAMPLES / "videos" / "LivePortrait_d20.mp4").read_bytes()[:300000])
    shutil.copy(EXAMPLES / "portraits" / "SadTalker_sad1.png", d / "ok.png")
    r = run_cli("extract-landmarks", bad, d / "[bold]b[red].mp4", d / "ok.png", "-o", tmp_path / "out",
                "--no-progress", "--json")
    assert r.returncode == 3 and "MarkupError" not in r.stderr, r.stderr
    lines = failed_lines(r.stderr)
    assert len(lines) == 2, r.stderr
    assert any("clip[/x].mp4" in ln for ln in lines) and any("[bold]b[red].mp4" in ln for ln in lines)
    assert any("[mov,mp4" in ln for ln in lines)  # ffmpeg's own prefix survives
    m = json.loads((tmp_path / "out" / "manifest.json").read_text())
    assert sorted(it["status"] for it in m["items"]) == ["done", "failed", "failed"]


@pytest.mark.slow
def test_long_error_lines_are_not_wrapped(tmp_path):
    d = tmp_path / "in"
    d.mkdir()
    name = "a_rather_long_file_name_" * 5 + "END.mp4"
    (d / name).write_bytes(b"\x00" * 100)
    r = run_cli("extract-landmarks", d, "-o", tmp_path / "out", "--no-progress")
    assert r.returncode == 3
    lines = failed_lines(r.stderr)
    assert len(lines) == 1 and "END.mp4" in lines[0] and len(lines[0]) > 120


@pytest.mark.slow
def test_items_failing_before_processing_are_printed(tmp_path):
    d = tmp_path / "in"
    d.mkdir()
    (d / "notes.txt").write_text("hello")
    shutil.copy(EXAMPLES / "portraits" / "SadTalker_sad1.png", d / "ok.png")
    r = run_cli("extract-landmarks", d, "-o", tmp_path / "out", "--no-progress")
    assert r.returncode == 3
    assert failed_lines(r.stderr) == ["failed notes: notes.txt: not an image, video or audio file (unsupported "
                                      "suffix .txt)"]


def test_an_empty_manifest_is_an_error(tmp_path, landmarks_manifest):
    m = json.loads(landmarks_manifest.read_text())
    m["items"] = []
    p = tmp_path / "m.json"
    p.write_text(json.dumps(m))
    r = run_cli("frontalize", p, "-o", tmp_path / "out", "--no-progress")
    assert r.returncode == 1 and "lists no items" in r.stderr and len(r.stderr.strip().splitlines()) == 1


def test_checkpoint_errors_never_suggest_unsafe_loading(tmp_path):
    import torch

    notes = tmp_path / "notes.txt"
    notes.write_text("my notes\n")
    marker = tmp_path / "PWNED"

    class Evil:
        def __reduce__(self):
            import os

            return (os.system, (f"touch {marker}",))

    torch.save({"x": Evil()}, tmp_path / "evil.pt")
    cases = {notes: "a text file, not a torch checkpoint",
             tmp_path / "evil.pt": "pickled Python objects besides tensors, which a weights-only load refuses"}
    for path, expected in cases.items():
        r = run_cli("synthesize", "gath", "--checkpoint", path, "--source", EXAMPLES / "portraits" /
                    "SadTalker_sad1.png", "--au", "zeros", "-o", tmp_path / "s")
        assert r.returncode == 1 and expected in r.stderr, r.stderr
        assert "weights_only=False" not in r.stderr and "pickled data" not in r.stderr
        assert len(r.stderr.strip().splitlines()) == 1
    assert not marker.exists()


def test_an_output_folder_that_is_a_file(tmp_path):
    f = tmp_path / "notes.txt"
    f.write_text("keep me")
    r = run_cli("extract-landmarks", EXAMPLES / "portraits" / "SadTalker_sad1.png", "-o", f, "--no-progress")
    assert r.returncode == 1 and "exists and is not a folder" in r.stderr
    assert f.read_text() == "keep me"


@pytest.mark.slow
def test_mp3_rows_follow_the_decoded_audio(tmp_path):
    import subprocess

    mp3 = tmp_path / "short.mp3"
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-i", EXAMPLES / "audio" / "SadTalker_RD_Radio34_002_5s.wav",
                    "-t", "1.5", "-ar", "44100", mp3], check=True)
    r = run_cli("audio-features", mp3, "-o", tmp_path / "a", "--no-progress", "--no-preview")
    assert r.returncode == 0, r.stderr
    m = json.loads((tmp_path / "a" / "manifest.json").read_text())
    assert m["items"][0]["meta"]["n_frames"] == 38  # 1.5 s at 25 fps (the container's estimate gave 40)
    assert np.load(tmp_path / "a" / m["items"][0]["outputs"]["features"]).shape == (38, 39)


@pytest.mark.slow
def test_a_wav_shorter_than_its_header_says_is_reported(tmp_path):
    import subprocess

    full = tmp_path / "full.wav"
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-i", EXAMPLES / "audio" / "SadTalker_RD_Radio34_002_5s.wav",
                    "-t", "3", "-ar", "16000", "-ac", "1", full], check=True)
    cut_wav = tmp_path / "cut.wav"
    cut_wav.write_bytes(full.read_bytes()[:60000])  # header still promises 3 s
    r = run_cli("audio-features", cut_wav, "-o", tmp_path / "a", "--no-progress", "--no-preview")
    assert r.returncode == 0
    assert "header promises 3.00 s of audio but only 1.87 s" in r.stderr
    m = json.loads((tmp_path / "a" / "manifest.json").read_text())
    assert "truncated" in m["items"][0]["meta"]["note"]


@pytest.mark.slow
def test_make_bank_is_a_stage_like_the_others(tmp_path):
    help_text = run_cli("make-bank", "--help").stdout
    for opt in ("--workers", "--shard", "--json", "--progress"):
        assert opt in help_text
    clip = cut(SHARED / "videos" / "video-retalking_face_4.mp4", tmp_path / "p.mp4", 1.5, audio=False)
    assert run_cli("crop-faces", clip, "-o", tmp_path / "crops", "--no-progress").returncode == 0
    args = ["make-bank", tmp_path / "crops" / "manifest.json", "-o", tmp_path / "bank", "--json", "--no-progress"]
    first = run_cli(*args)
    assert first.returncode == 0, first.stderr
    assert json.loads(first.stdout)["done"] == 1
    again = json.loads(run_cli(*args).stdout)
    assert again["reused"] == 1
    shard = run_cli(*args[:2], "-o", tmp_path / "bank2", "--shard", "0/1", "--json", "--no-progress")
    assert shard.returncode == 0 and (tmp_path / "bank2" / "manifest.shard-0-of-1.json").exists()


@pytest.mark.parametrize("args", [["manifest", "validate", "missing.json"], ["extract-landmarks", "missing.mp4"]])
def test_errors_are_one_line(args):
    r = run_cli(*args)
    assert r.returncode == 1 and len(r.stderr.strip().splitlines()) == 1 and r.stderr.startswith("error:")
