"""The three `reproduce` targets (stages/{gath,flnet,facial}.mk) on a tiny real corpus: a VoxCeleb2-layout tree of
four 2.4 s clips cut from the sample media (two people in its dev part, two in its test part), prepared by
`thead prepare`, trained for two steps with the paper's settings overridden only where a smoke test must, evaluated on
the test people and compared with the paper's table. One REPRO folder for the three, as a user reproducing all three
papers would have: the shared stages (landmarks, AU) run once."""

import json
import subprocess
import sys

import pytest

from tests.conftest import ROOT, cut, shared
from thead.recipes import prepare

pytestmark = pytest.mark.slow  # whole Makefile chains (make test runs them; make test-fast does not)


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    d = tmp_path_factory.mktemp("repro")
    root = d / "VoxCeleb2"
    for part, ident, video, src in (("dev", "id00001", "vA", "LivePortrait_d20.mp4"),
                                    ("dev", "id00002", "vB", "video-retalking_face_3.mp4"),
                                    ("test", "id00003", "vC", "video-retalking_face_4.mp4"),
                                    ("test", "id00004", "vD", "LatentSync_demo1_video.mp4")):
        out = root / part / "mp4" / ident / video
        out.mkdir(parents=True)
        cut(shared(f"videos/{src}"), out / "00001.mp4", 2.4)
    path, _ = prepare("voxceleb2", root, d / "vox", progress=False)
    return dict(manifest=path, repro=d / "repro")


def _make(system, corpus, *extra, dry=False):
    args = ["make", "-s", "-f", str(ROOT / "stages" / f"{system}.mk"), f"PYTHON={sys.executable}", "reproduce",
            f"DATA={corpus['manifest'].parent}", f"REPRO={corpus['repro']}", "DEVICE=cpu", "FLAGS=--no-progress",
            *extra]
    if dry:
        args.insert(1, "-n")
    return subprocess.run(args, capture_output=True, text=True, cwd=ROOT)


def _config(run):
    return json.loads((run / "config.json").read_text())


def test_flnet_reproduce(corpus):
    r = _make("flnet", corpus, "REPRO_PREP_FLAGS=--size 64", "REPRO_TRAIN_FLAGS=--steps 2 --batch-size 2 --no-progress",
              "REPRO_FLNET_FLAGS=--width 4 --d-width 4 --d-steps 2", "REPRO_EVAL_FLAGS=--max-targets 3 --no-progress")
    assert r.returncode == 0, r.stdout + r.stderr
    out = corpus["repro"] / "flnet"
    cfg = _config(out / "run")
    # the paper's settings, but for what the smoke test overrides
    assert (cfg["lambda_rec"], cfg["lambda_tv"], cfg["prior"], cfg["ema"], cfg["holdout"], cfg["k_floor"]) == \
        (250.0, 1e-5, "none", 0.0, 0.0, 0.3)
    assert (cfg["steps"], cfg["d_steps"], cfg["amp"]) == (2, 2, False)
    assert cfg["identities"] == ["id00001", "id00002"]  # the dev (train) people only
    metrics = json.loads((out / "eval" / "metrics.json").read_text())
    assert metrics["people"] == ["id00003", "id00004"]  # evaluated on people never trained on
    table = (out / "paper.md").read_text()
    assert "7.990" in table and "no figures on voxceleb2" in table and "loader alone" in table
    assert "throughput:" in r.stderr and "loader alone" in r.stderr
    steps = [ln.split("\t")[0] for ln in (corpus["repro"] / "timings.tsv").read_text().splitlines()]
    assert "train flnet" in steps and "paper-figures flnet" in steps  # step times land in REPRO, not in the repo
    repo_log = ROOT / "work" / "facial" / "timings.tsv"  # where facial.mk's own chain logs
    assert not repo_log.exists() or str(corpus["repro"]) not in repo_log.read_text()


def test_gath_reproduce(corpus):
    r = _make("gath", corpus, "REPRO_TRAIN_FLAGS=--steps 2 --batch-size 2 --width 8 --no-progress",
              "REPRO_EVAL_FLAGS=--every 4 --max-targets 1 --no-progress")
    assert r.returncode == 0, r.stdout + r.stderr
    out = corpus["repro"] / "gath"
    cfg = _config(out / "gath")
    assert (cfg["upsample"], cfg["output"], cfg["au_norm"], cfg["warp"], cfg["beta1"], cfg["lambda_adv"],
            cfg["lambda_cls"], cfg["lambda_expr"], cfg["edit_fraction"]) == \
        ("transposed", "direct", "sum", "none", 0.9, 0.05, 0.05, 0.0, 0.0)
    assert _config(out / "aue")["aue_norm"] == "none"
    table = (out / "paper.md").read_text()
    assert "55.430" in table and "0.477" in table
    mae = [ln for ln in table.splitlines() if ln.startswith("| MAE, face mask, CLAHE")][0]
    assert float(mae.split("|")[3]) > 0  # the run's own figure, measured on the test people's frames


def test_facial_reproduce(corpus):
    r = _make("facial", corpus, "REPRO_AUDIO_KIND=mfcc", "REPRO_PREP_FLAGS=--size 64",
              "REPRO_TRAIN_FLAGS=--steps 2 --batch-size 2 --no-progress",
              "REPRO_GAN_FLAGS=--epochs 0 --window 16 --hop 4 --hidden 8",
              "REPRO_TUNE_FLAGS=--epochs 0 --window 16 --hop 4",
              "REPRO_R2V_FLAGS=--epochs 0 --width 4 --d-width 4 --arch unet-residual",
              "REPRO_EVAL_FLAGS=--max-frames 8")
    assert r.returncode == 0, r.stdout + r.stderr
    out = corpus["repro"] / "facial"
    gan, r2v = _config(out / "gan"), _config(out / "r2v")
    assert (gan["w_gan"], gan["audio_norm"], gan["w_mouth"], gan["clips"]) == \
        (0.1, "none", 0.0, ["dev_mp4_id00001_vA_00001", "dev_mp4_id00002_vB_00001"])
    assert (r2v["lr_decay"], r2v["lambda_id"], r2v["w_face"], r2v["lr"]) == (0.6, 0.0, 0.0, 1e-4)
    assert _config(out / "tuned")["finetuned_from"].endswith("gan/last.pt")
    split = json.loads((out / "ref" / "split.json").read_text())
    assert split["id"] == "test_mp4_id00003_vC_00001" and 0.79 < split["cut_s"] / split["duration_s"] < 0.81
    table = (out / "paper.md").read_text()
    assert "3.570" in table and "0.314" in table
    lmd = [ln for ln in table.splitlines() if ln.startswith("| LMD ")][0]
    assert float(lmd.split("|")[3]) > 0  # against the held-out real frames


def test_launch_and_precision_and_missing_data(corpus, tmp_path):
    """GPUS=N trains under torchrun, CUDA runs in bf16 mixed precision; no DATA is one line and a non-zero exit."""
    r = _make("flnet", dict(corpus, repro=tmp_path / "dry"), "GPUS=4", "DEVICE=cuda", dry=True)
    train = [ln for ln in r.stdout.splitlines() if "train flnet" in ln][0]
    assert "torch.distributed.run --standalone --nproc-per-node 4 -m thead train flnet" in train
    assert "--amp" in r.stdout and "$(" in train  # the paper's flags are read when the recipe runs
    r = subprocess.run(["make", "-s", "-f", str(ROOT / "stages" / "gath.mk"), f"PYTHON={sys.executable}",
                        "reproduce", f"REPRO={tmp_path / 'none'}"], capture_output=True, text=True, cwd=ROOT)
    assert r.returncode != 0 and "give DATA=" in r.stdout + r.stderr
