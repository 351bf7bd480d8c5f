import json
import subprocess
import sys

import pytest
import torch

from tests.conftest import run_cli
from thead.errors import InputError, TheadError
from thead.systems.gath.train import TrainConfig, load_aue, train_gath
from thead.train.checkpoint import load_checkpoint


def _cfg(**kw):
    return TrainConfig(**dict(dict(steps=2, batch_size=4, width=8, log_every=1, checkpoint_every=1), **kw))


@pytest.mark.slow
def test_aue_checkpoint_is_weights_only_data(aue_ckpt):
    blob = torch.load(aue_ckpt, weights_only=True)
    assert blob["step"] == 2 and blob["config"]["system"] == "aue" and blob["config"]["n_au"] == 53
    E = load_aue(aue_ckpt)
    assert not any(p.requires_grad for p in E.parameters())
    assert E.norm == blob["config"]["aue_norm"] == "batch" and not E.training  # BN in eval: running statistics
    assert (aue_ckpt.parent / "loss.png").stat().st_size > 0
    m = json.loads((aue_ckpt.parent / "manifest.json").read_text())
    assert m["kind"] == "thead.checkpoint" and m["items"][0]["outputs"]["checkpoint"] == "last.pt"


@pytest.mark.slow
@pytest.mark.parametrize("variant", ["gath", "gath-c", "gath-dc"])
def test_two_training_steps_per_variant(gath_data, aue_ckpt, tmp_path, variant):
    p = train_gath(gath_data["frames"], gath_data["frames"], gath_data["au"], aue_ckpt, tmp_path / variant,
                   _cfg(variant=variant), progress=False)
    blob = load_checkpoint(p)
    assert blob["step"] == 2 and set(blob["models"]) == ({"G"} if variant == "gath-dc" else {"G", "D"})
    log = [json.loads(line) for line in (tmp_path / variant / "log.jsonl").read_text().splitlines()]
    assert [r["step"] for r in log] == [1, 2]
    assert ("cls_fake" in log[0]) == (variant == "gath") and ("adv_g" in log[0]) == (variant != "gath-dc")
    assert all(torch.isfinite(torch.tensor(r["g"])) for r in log)


@pytest.mark.slow
def test_training_moves_weights_and_lowers_reconstruction(gath_data, aue_ckpt, tmp_path):
    p = train_gath(gath_data["frames"], gath_data["frames"], gath_data["au"], aue_ckpt, tmp_path / "r",
                   _cfg(variant="gath-dc", steps=12, lr=1e-3, checkpoint_every=100), progress=False)
    log = [json.loads(line) for line in (tmp_path / "r" / "log.jsonl").read_text().splitlines()]
    first = sum(r["rec"] for r in log[:3]) / 3
    last = sum(r["rec"] for r in log[-3:]) / 3
    assert last < first, (first, last)
    assert load_checkpoint(p)["step"] == 12


@pytest.mark.slow
def test_resume_after_interruption_matches_uninterrupted(gath_data, aue_ckpt, tmp_path):
    args = (gath_data["frames"], gath_data["frames"], gath_data["au"], aue_ckpt)
    ref = load_checkpoint(train_gath(*args, tmp_path / "full", _cfg(steps=4, checkpoint_every=2), progress=False))

    def boom(step):
        if step == 3:
            raise KeyboardInterrupt  # killed after the step-2 checkpoint, mid step 3's bookkeeping

    with pytest.raises(KeyboardInterrupt):
        train_gath(*args, tmp_path / "cut", _cfg(steps=4, checkpoint_every=2), progress=False, on_step=boom)
    assert load_checkpoint(tmp_path / "cut" / "last.pt")["step"] == 2
    with pytest.raises(TheadError, match="--resume"):
        train_gath(*args, tmp_path / "cut", _cfg(steps=4, checkpoint_every=2), progress=False)
    res = load_checkpoint(train_gath(*args, tmp_path / "cut", _cfg(steps=4, checkpoint_every=2), resume=True,
                                     progress=False))
    for net in ("G", "D"):
        for k, v in ref["models"][net].items():
            assert torch.equal(v, res["models"][net][k]), (net, k)
    steps = [json.loads(line)["step"] for line in (tmp_path / "cut" / "log.jsonl").read_text().splitlines()]
    assert steps == [1, 2, 3, 4]


@pytest.mark.slow
def test_bad_checkpoints(tmp_path, aue_ckpt, gath_data):
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"not a checkpoint")
    with pytest.raises(InputError, match="not a loadable checkpoint: a text file"):
        load_checkpoint(bad)
    import pickle

    class Evil:
        def __reduce__(self):
            return (print, ("pwned",))

    (tmp_path / "evil.pt").write_bytes(pickle.dumps({"format": "thead.checkpoint/1", "x": Evil()}))
    with pytest.raises(InputError, match="a pickle file, not a torch checkpoint"):
        load_checkpoint(tmp_path / "evil.pt")
    gath_run = train_gath(gath_data["frames"], gath_data["frames"], gath_data["au"], aue_ckpt, tmp_path / "g",
                          _cfg(steps=1, variant="gath-dc"), progress=False)
    with pytest.raises(TheadError, match="not an AU-estimator"):
        load_aue(gath_run)


@pytest.mark.slow
def test_train_cli_and_torchrun(gath_data, aue_ckpt, tmp_path):
    common = ["--source", gath_data["frames"], "--target-frames", gath_data["frames"], "--target-au",
              gath_data["au"], "--aue", aue_ckpt, "--steps", "2", "--batch-size", "2", "--width", "8",
              "--no-progress"]
    r = run_cli("train", "gath", *common, "--variant", "nope", "-o", tmp_path / "x")
    assert r.returncode == 2 and "--variant" in r.stderr
    r = run_cli("train", "gath", *common, "--device", "cuda", "-o", tmp_path / "y")
    if not torch.cuda.is_available():
        assert r.returncode == 1 and "CUDA" in r.stderr
    r = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "-m", "thead",
                        "train", "gath", *map(str, common), "-o", str(tmp_path / "ddp")],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-2000:]
    assert r.stderr.count("checkpoint -> ") == 1  # rank 0 alone announces the run's checkpoint
    blob = load_checkpoint(tmp_path / "ddp" / "last.pt")
    assert blob["step"] == 2 and not any(k.startswith("module.") for k in blob["models"]["G"])


@pytest.mark.slow
def test_a_diverging_loss_stops_training_and_keeps_the_last_good_checkpoint(gath_data, tmp_path):
    """Issue 10, case 4: weights poisoned after step 2 make step 3's loss NaN; training stops with a one-line error
    and last.pt stays the finite step-2 state."""
    import pytest
    import torch

    from thead.errors import TheadError
    from thead.systems.gath.train import TrainConfig, train_aue
    from thead.train.checkpoint import load_checkpoint

    def poison(step):
        if step == 2:
            import gc

            from thead.systems.gath.model import AUEstimator

            for obj in gc.get_objects():
                if isinstance(obj, AUEstimator):
                    with torch.no_grad():
                        for p in obj.parameters():
                            p.fill_(float("nan"))

    with pytest.raises(TheadError, match=r"diverged at step 3: loss aue=nan is not finite; stopped, the last good "
                                         r"checkpoint is kept"):
        train_aue(gath_data["frames"], gath_data["au"], tmp_path / "run",
                  TrainConfig(steps=5, batch_size=2, width=8, log_every=1, checkpoint_every=1), progress=False,
                  on_step=poison)
    blob = load_checkpoint(tmp_path / "run" / "last.pt")
    assert blob["step"] == 2
    assert all(torch.isfinite(v).all() for v in blob["models"]["aue"].values() if v.is_floating_point())


def test_edited_targets_are_the_vectors_users_ask_for():
    """The edit basis holds one row per named AU (the --au AUxx_r=5 vector); samples are zeros or one scaled row."""
    from thead.face.facemodel import load_face_model
    from thead.systems.gath.au_spec import blendshapes_from_aus
    from thead.systems.gath.train import edit_basis, sample_edits

    names = load_face_model().exp_names
    basis = edit_basis(len(names))
    assert basis.shape[1] == 53 and len(basis) >= 20
    smile = torch.from_numpy(blendshapes_from_aus({"AU12_r": 5}, names))
    assert any(torch.allclose(r, smile) for r in basis)
    e = sample_edits(basis, 300, torch.Generator().manual_seed(0))
    zero = e.abs().sum(1) == 0
    assert 0.2 < zero.float().mean() < 0.5 and e.min() >= 0 and e.max() <= 1
    for v in e[~zero][:20]:  # every non-zero sample is a positive multiple of one basis row
        resid = [float((v - (v @ r) / (r @ r) * r).norm()) for r in basis]
        assert min(resid) < 1e-5
    assert len(edit_basis(7)) == 0  # coefficients that are not ICT blendshapes: no edits


@pytest.mark.slow
def test_expression_loss_and_edits_are_logged_and_off_gives_the_papers_objective(gath_data, aue_ckpt, tmp_path):
    train_gath(gath_data["frames"], gath_data["frames"], gath_data["au"], aue_ckpt, tmp_path / "new",
               _cfg(variant="gath-dc", steps=2, edit_fraction=1.0), progress=False)
    log = [json.loads(line) for line in (tmp_path / "new" / "log.jsonl").read_text().splitlines()]
    assert all("expr" in r and r["au"] == 0.0 for r in log)  # every target edited: eq. 4 has no y_tgt, so 0
    train_gath(gath_data["frames"], gath_data["frames"], gath_data["au"], aue_ckpt, tmp_path / "paper",
               _cfg(variant="gath-dc", steps=2, lambda_expr=0.0, edit_fraction=0.0, upsample="transposed",
                    output="direct", au_norm="sum", aue_norm="none"),
               progress=False)
    log = [json.loads(line) for line in (tmp_path / "paper" / "log.jsonl").read_text().splitlines()]
    assert all("expr" not in r and r["au"] > 0 for r in log)
    with pytest.raises(TheadError, match="upsample"):
        train_gath(gath_data["frames"], gath_data["frames"], gath_data["au"], aue_ckpt, tmp_path / "bad",
                   _cfg(upsample="pixelshuffle"), progress=False)


@pytest.mark.slow
def test_amp_trains_aue_and_gath_under_bf16_autocast(gath_data, aue_ckpt, tmp_path):
    from thead.systems.gath.train import train_aue

    a = train_aue(gath_data["frames"], gath_data["au"], tmp_path / "aue", _cfg(amp=True), progress=False)
    g = train_gath(gath_data["frames"], gath_data["frames"], gath_data["au"], aue_ckpt, tmp_path / "g",
                   _cfg(amp=True), progress=False)
    for run in (a, g):
        assert load_checkpoint(run)["config"]["amp"] is True
        recs = [json.loads(x) for x in (run.parent / "log.jsonl").read_text().splitlines()]
        assert [r["step"] for r in recs] == [1, 2]
        assert all(v == v and abs(v) < 1e9 for r in recs for v in r.values())
        assert all(r["loader_samples_per_s"] > 0 for r in recs)
