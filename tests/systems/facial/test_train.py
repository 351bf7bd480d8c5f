import json

import numpy as np
import pytest
import torch

from tests.systems.facial.conftest import small_gan_config
from thead.errors import InputError
from thead.systems.facial.train import train_facial_gan
from thead.train.checkpoint import load_checkpoint


@pytest.mark.slow
def test_two_cpu_steps_and_resume(facial_data, tmp_path):
    straight = train_facial_gan(facial_data["audio"], facial_data["au"], tmp_path / "a",
                                small_gan_config(steps=3), progress=False)
    recs = [json.loads(x) for x in (tmp_path / "a" / "log.jsonl").read_text().splitlines()]
    assert [r["step"] for r in recs] == [1, 2, 3]
    assert {"exp", "pose", "eye", "state", "reg", "gan", "d", "g"} <= set(recs[0])
    assert all(np.isfinite(v) for r in recs for v in r.values())
    assert (tmp_path / "a" / "reference.a.npz").exists() and (tmp_path / "a" / "loss.png").exists()
    train_facial_gan(facial_data["audio"], facial_data["au"], tmp_path / "b", small_gan_config(steps=1),
                     progress=False)
    resumed = train_facial_gan(facial_data["audio"], facial_data["au"], tmp_path / "b", small_gan_config(steps=3),
                               resume=True, progress=False)
    a, b = load_checkpoint(straight)["models"]["G"], load_checkpoint(resumed)["models"]["G"]
    assert all(torch.equal(a[k], b[k]) for k in a)


@pytest.mark.slow
def test_finetune_starts_from_the_general_model(facial_data, tmp_path):
    general = train_facial_gan(facial_data["audio"], facial_data["au"], tmp_path / "g", small_gan_config(),
                               progress=False)
    tuned = train_facial_gan(facial_data["audio"], facial_data["au"], tmp_path / "f",
                             small_gan_config(steps=1, hidden=32), finetune=general, progress=False)
    blob = load_checkpoint(tuned)
    assert blob["config"]["finetuned_from"] == str(general) and blob["config"]["hidden"] == 8  # sizes of the base
    g = load_checkpoint(general)["models"]["G"]
    moved = [k for k in g if not torch.equal(g[k], blob["models"]["G"][k])]
    assert moved  # fine-tuning changed the general model's weights
    bad = tmp_path / "other.pt"
    blob["config"]["system"] = "flnet"
    torch.save(blob, bad)
    with pytest.raises(InputError, match="not a FACIAL-GAN checkpoint"):
        train_facial_gan(facial_data["audio"], facial_data["au"], tmp_path / "h", small_gan_config(),
                         finetune=bad, progress=False)


@pytest.mark.slow
def test_exported_weights_fine_tune_like_the_full_checkpoint(facial_data, tmp_path):
    """A weights-only export (what thead bundles as examples/weights/facial_gan_pretrained.pt) drops optimizer state
    and local paths, loads weights-only, and fine-tunes to the same weights as the full checkpoint."""
    from thead.train.export import export_weights

    general = train_facial_gan(facial_data["audio"], facial_data["au"], tmp_path / "g", small_gan_config(),
                               progress=False)
    slim = export_weights(general, tmp_path / "w" / "slim.pt", note="test")
    blob = torch.load(slim, weights_only=True)
    assert blob["optimizers"] == {} and blob["extra"]["note"] == "test" and blob["step"] == 2
    assert "/" not in blob["config"]["audio_manifest"] and slim.stat().st_size < general.stat().st_size
    a = train_facial_gan(facial_data["audio"], facial_data["au"], tmp_path / "fa", small_gan_config(steps=1),
                         finetune=general, progress=False)
    b = train_facial_gan(facial_data["audio"], facial_data["au"], tmp_path / "fb", small_gan_config(steps=1),
                         finetune=slim, progress=False)
    ga, gb = load_checkpoint(a)["models"]["G"], load_checkpoint(b)["models"]["G"]
    assert all(torch.equal(ga[k], gb[k]) for k in ga)


@pytest.mark.slow
def test_time_limit_stops_with_a_checkpoint_and_resume_goes_on(facial_data, tmp_path):
    run = tmp_path / "t"
    last = train_facial_gan(facial_data["audio"], facial_data["au"], run,
                            small_gan_config(steps=50, time_limit_s=1e-6, checkpoint_every=100), progress=False)
    blob = load_checkpoint(last)
    assert blob["step"] == 1  # the budget was spent after the first step: checkpointed there, not at 50
    assert json.loads((run / "manifest.json").read_text())["items"][0]["meta"]["step"] == 1
    last = train_facial_gan(facial_data["audio"], facial_data["au"], run, small_gan_config(steps=3), resume=True,
                            progress=False)
    assert load_checkpoint(last)["step"] == 3


@pytest.mark.slow
def test_prediction_covers_long_and_short_audio(facial_data, tmp_path):
    from thead.systems.facial.data import load_clips
    from thead.systems.facial.predict import FacialGAN

    ck = train_facial_gan(facial_data["audio"], facial_data["au"], tmp_path / "g", small_gan_config(),
                          progress=False)
    model = FacialGAN(ck)
    clip = load_clips(facial_data["audio"], facial_data["au"])[0]
    long_audio = np.concatenate([clip.audio] * 3)  # several windows of 16
    out = model(long_audio, clip.params[0])
    assert out.shape == (len(long_audio), clip.params.shape[1]) and np.isfinite(out).all()
    short = model(clip.audio[:5], clip.params[0])  # shorter than one window
    assert short.shape == (5, clip.params.shape[1])
    assert np.array_equal(model(long_audio, clip.params[0]), out)  # deterministic
    with pytest.raises(InputError, match="audio features"):
        model(long_audio[:, :13], clip.params[0])


@pytest.mark.slow
def test_cli_train_facial_gan(facial_data, tmp_path):
    from tests.conftest import run_cli

    r = run_cli("train", "facial-gan", "--audio", facial_data["audio"], "--au", facial_data["au"], "--window", 16,
                "--hidden", 8, "--steps", 1, "--batch-size", 2, "-o", tmp_path / "run", "--no-progress")
    assert r.returncode == 0, r.stderr
    assert load_checkpoint(tmp_path / "run" / "last.pt")["step"] == 1
    r = run_cli("train", "facial-gan", "--audio", facial_data["au"], "--au", facial_data["au"], "-o", tmp_path / "x")
    assert r.returncode == 1 and r.stderr.strip().startswith("error:") and "thead.audio" in r.stderr


@pytest.mark.slow
def test_amp_trains_facial_gan_and_render2video_under_bf16_autocast(facial_data, facial_renders, tmp_path):
    from thead.systems.facial.train_render import Render2VideoConfig, train_render2video

    g = train_facial_gan(facial_data["audio"], facial_data["au"], tmp_path / "g", small_gan_config(amp=True),
                         progress=False)
    r = train_render2video(facial_renders, tmp_path / "r", Render2VideoConfig(
        steps=2, batch_size=2, width=4, d_width=4, n_w=1, log_every=1, checkpoint_every=1, amp=True),
        progress=False, say=lambda m: None)
    for run in (g, r):
        assert load_checkpoint(run)["config"]["amp"] is True
        recs = [json.loads(x) for x in (run.parent / "log.jsonl").read_text().splitlines()]
        assert [x["step"] for x in recs] == [1, 2]
        assert all(v == v and abs(v) < 1e9 for x in recs for v in x.values())
        assert all(x["step_s"] > 0 and x["loader_samples_per_s"] > 0 for x in recs)


@pytest.mark.slow
def test_epochs_replace_steps_as_the_paper_counts_them(facial_data, tmp_path):
    import math

    ck = train_facial_gan(facial_data["audio"], facial_data["au"], tmp_path / "e", small_gan_config(epochs=1.0),
                          progress=False)
    blob = load_checkpoint(ck)
    assert blob["step"] == blob["config"]["steps"] == math.ceil(blob["config"]["n_windows"] / 2)
