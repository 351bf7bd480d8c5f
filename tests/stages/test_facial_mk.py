import json
import shutil
import subprocess
import sys

import pytest

from tests.conftest import EXAMPLES, ROOT, cut

pytestmark = pytest.mark.slow  # whole Makefile chains (make test runs them; make test-fast does not)


def test_facial_makefile_end_to_end(tmp_path):
    """stages/facial.mk on tiny real media: features, renders, FACIAL-GAN (general + fine-tuned), rendering-to-video,
    a talking video with the speech, its evaluation and the report."""
    vids = tmp_path / "videos"
    vids.mkdir()
    cut(EXAMPLES / "videos" / "LivePortrait_d20.mp4", vids / "person.mp4", 1.2)
    ports = tmp_path / "portraits"
    ports.mkdir()
    shutil.copy(EXAMPLES / "portraits" / "SadTalker_happy1.png", ports)  # stills are left out of the FACIAL chain
    speech = tmp_path / "speech.wav"
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-i", str(EXAMPLES / "audio" / "SadTalker_RD_Radio34_002_5s.wav"),
                    "-t", "1", str(speech)], check=True)
    work = tmp_path / "work"
    args = ["make", "-s", "-f", str(ROOT / "stages" / "facial.mk"),
            f"PYTHON={sys.executable}", "facial", f"WORK={work}", f"VIDEOS={vids}",
            f"PORTRAITS={ports}", "FLAGS=--no-progress", "FC_PERSON=person", f"FC_AUDIO={speech}", "FC_SIZE=64",
            "FC_GAN_STEPS=1", "FC_TUNE_STEPS=1", "FC_R2V_STEPS=1", "FC_WIDTH=4", "FC_BATCH=2",
            "FC_GAN_PRETRAINED=", "FC_TRAIN_FLAGS=--no-progress"]
    r = subprocess.run(args, capture_output=True, text=True, cwd=ROOT)
    assert r.returncode == 0, r.stdout + r.stderr
    syn = json.loads((work / "facial" / "synth" / "manifest.json").read_text())
    (it,) = syn["items"]
    assert it["meta"]["reference"] == "person" and it["meta"]["n_frames"] == 25
    assert (work / "facial" / "synth" / it["outputs"]["pasted"]).is_file()  # FC_SYN_FLAGS' default --paste-back
    report = (work / "facial" / "report.md").read_text()
    assert "FACIAL evaluation" in report and "thead.synthesis" in report and ".mp4" in report
    assert (work / "facial" / "gan" / "last.pt").is_file()  # FC_GAN_PRETRAINED= : the general model trained here
    r = subprocess.run(args + ["-q"], cwd=ROOT)
    assert r.returncode == 0  # everything up to date


def test_cpu_hour_preset_fine_tunes_the_bundled_model_and_reports_step_times(tmp_path):
    """FC_PRESET=cpu-hour (sizes and steps made tiny from the command line, which overrides the preset): the bundled
    pretrained FACIAL-GAN is fine-tuned (no general training), both trainers get a --time-limit, every step's
    wall time is logged in timings.tsv and heads the report."""
    vids = tmp_path / "videos"
    vids.mkdir()
    cut(EXAMPLES / "videos" / "LivePortrait_d20.mp4", vids / "person.mp4", 1.2)
    speech = tmp_path / "speech.wav"
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-i", str(EXAMPLES / "audio" / "SadTalker_RD_Radio34_002_5s.wav"),
                    "-t", "1", str(speech)], check=True)
    work = tmp_path / "work"
    r = subprocess.run(["make", "-s", "-f", str(ROOT / "stages" / "facial.mk"), f"PYTHON={sys.executable}", "facial",
                        "FC_PRESET=cpu-hour", f"WORK={work}", f"VIDEOS={vids}",
                        "FLAGS=--no-progress", "FC_PERSON=person", f"FC_AUDIO={speech}", "FC_SIZE=64",
                        "FC_TUNE_STEPS=1", "FC_R2V_STEPS=1", "FC_WIDTH=4", "FC_BATCH=2",
                        "FC_TRAIN_FLAGS=--no-progress"], capture_output=True, text=True, cwd=ROOT)
    assert r.returncode == 0, r.stdout + r.stderr
    assert not (work / "facial" / "gan").exists()
    tuned = json.loads((work / "facial" / "gan-person" / "config.json").read_text())
    assert tuned["finetuned_from"].endswith("facial_gan_pretrained.pt") and tuned["time_limit_s"] == 300
    r2v = json.loads((work / "facial" / "r2v-person" / "config.json").read_text())
    assert 60 <= r2v["time_limit_s"] <= 3600 and r2v["arch"] == "unet-residual"
    steps = [ln.split("\t")[0] for ln in (work / "facial" / "timings.tsv").read_text().splitlines()]
    assert steps[:2] == ["extract-landmarks", "fit-3dmm"]
    assert {"extract-au", "audio-features", "render-face", "train facial-gan", "train render2video",
            "synthesize facial", "evaluate facial"} <= set(steps)
    report = (work / "facial" / "report.md").read_text()
    assert "## time per step" in report and "cpu-hour preset" in report
