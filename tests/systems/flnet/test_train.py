import json

import pytest
import torch

from tests.systems.flnet.conftest import small_config
from thead.errors import InputError, TheadError
from thead.systems.flnet.model import VARIANTS
from thead.systems.flnet.train import train_flnet
from thead.train.checkpoint import load_checkpoint


def _weights(path):
    return load_checkpoint(path)["models"]["G"]


@pytest.mark.slow
@pytest.mark.parametrize("variant,n", [(v, 5) for v in VARIANTS] + [("full", 1), ("full", 3)])
def test_two_cpu_steps_per_variant(flnet_crops, tmp_path, variant, n):
    said = []
    p = train_flnet(flnet_crops, tmp_path / "run", small_config(variant=variant, bank_size=n), progress=False,
                    say=said.append)
    blob = load_checkpoint(p)
    assert blob["step"] == 2 and blob["config"]["variant"] == variant and blob["config"]["bank_size"] == n
    assert "no --vgg-weights" in said[0]  # the substitute perceptual network is announced, not silent
    recs = [json.loads(x) for x in (tmp_path / "run" / "log.jsonl").read_text().splitlines()]
    assert [r["step"] for r in recs] == [1, 2]
    for r in recs:
        assert all(v == v and abs(v) < 1e9 for v in r.values())
        assert "perceptual" in r and "d" in r
        assert 0.0 < r["identity"] < 2.0  # dlib descriptor distance output -> target (unit-norm-ish, 0.6 threshold)
        assert ("sparsity_v" in r) == (variant == "full")
        assert ("rec_w" in r) == (variant == "full")
        assert "rec_a" not in r  # FLNetConfig.lambda_rec_a is off by default (eq. 17)
        assert ("tv_wm" in r) == (variant != "appearance-only")
    for f in ("loss.png", "samples.png", "manifest.json", "config.json"):
        assert (tmp_path / "run" / f).exists(), f


@pytest.mark.slow
def test_training_changes_the_weights(flnet_crops, tmp_path):
    from thead.systems.flnet.model import FLNetGenerator

    p = train_flnet(flnet_crops, tmp_path / "run", small_config(seed=3), progress=False, say=lambda m: None)
    torch.manual_seed(3)
    fresh = FLNetGenerator(5, 4, "full").state_dict()
    trained = _weights(p)
    assert any(not torch.equal(fresh[k], trained[k]) for k in fresh if k.endswith("original"))


@pytest.mark.slow
def test_dense_field_mask_entropy_and_appearance_rec_train_and_synthesize(flnet_crops, flnet_bank, tmp_path):
    from thead.systems.flnet.synthesize import FLNetModel

    cfg = small_config(field="dense", lambda_entropy=0.05, lambda_rec_a=250.0, rec_a_region="background")
    p = train_flnet(flnet_crops, tmp_path / "run", cfg, progress=False, say=lambda m: None)
    recs = [json.loads(x) for x in (tmp_path / "run" / "log.jsonl").read_text().splitlines()]
    assert all(0 < r["mask_entropy"] <= 1.61 for r in recs)  # ln 5 at most
    assert all(0 < r["rec_a"] < 10 for r in recs)  # the appearance stream's own reconstruction term is on
    model = FLNetModel(p)
    assert model.field == "dense" and load_checkpoint(p)["config"]["lambda_entropy"] == 0.05
    bank = model.bank(flnet_bank)
    (fr,) = list(model(bank, bank.landmarks[:1]))
    assert fr["output"].shape == (model.size, model.size, 3)
    with pytest.raises(InputError, match="--field"):
        train_flnet(flnet_crops, tmp_path / "bad", small_config(field="splat"), progress=False, say=lambda m: None)
    with pytest.raises(InputError, match="--rec-a-region"):
        train_flnet(flnet_crops, tmp_path / "bad2", small_config(rec_a_region="face"), progress=False,
                    say=lambda m: None)


@pytest.mark.slow
def test_resume_continues_exactly(flnet_crops, tmp_path):
    straight = train_flnet(flnet_crops, tmp_path / "a", small_config(steps=3), progress=False, say=lambda m: None)
    train_flnet(flnet_crops, tmp_path / "b", small_config(steps=1), progress=False, say=lambda m: None)
    with pytest.raises(TheadError, match="--resume"):
        train_flnet(flnet_crops, tmp_path / "b", small_config(steps=3), progress=False, say=lambda m: None)
    said = []
    resumed = train_flnet(flnet_crops, tmp_path / "b", small_config(steps=3), resume=True, progress=False,
                          say=said.append)
    assert "dlib's pretrained face-recognition ResNet" in said[0]  # the same perceptual network on resume
    for name in ("G", "G_ema"):  # the weights and their average continue exactly
        a, b = load_checkpoint(straight)["models"][name], load_checkpoint(resumed)["models"][name]
        assert all(torch.equal(a[k], b[k]) for k in a), name
    assert [json.loads(x)["step"] for x in (tmp_path / "b" / "log.jsonl").read_text().splitlines()] == [1, 2, 3]


def test_bad_config_and_data(flnet_crops, tmp_path, happy):
    from thead.stages import frontalize

    with pytest.raises(InputError, match="--variant"):
        train_flnet(flnet_crops, tmp_path / "x", small_config(variant="both"), progress=False)
    with pytest.raises(InputError, match="--bank-pool"):
        train_flnet(flnet_crops, tmp_path / "x", small_config(bank_size=5, bank_pool=3), progress=False)
    with pytest.raises(InputError, match="crop-faces"):  # frontalized frames are not FLNet crops
        fr = frontalize.run([happy], tmp_path / "front", size=64, progress=False)
        train_flnet(fr.manifest_path, tmp_path / "y", small_config(), progress=False)


@pytest.mark.slow
def test_vgg_weights_file_is_used(flnet_crops, tmp_path):
    from thead.systems.flnet.perceptual import VGG16Features

    torch.save({"features." + k: v for k, v in VGG16Features().features.state_dict().items()}
               | {"classifier.0.weight": torch.zeros(2, 2)}, tmp_path / "vgg16.pth")
    said = []
    p = train_flnet(flnet_crops, tmp_path / "run", small_config(steps=1), vgg_weights=tmp_path / "vgg16.pth",
                    progress=False, say=said.append)
    assert load_checkpoint(p)["config"]["perceptual"].startswith("vgg16:")
    assert not said
    rec = json.loads((tmp_path / "run" / "log.jsonl").read_text().splitlines()[-1])
    assert 0.0 < rec["identity"] < 2.0  # the identity term keeps dlib's ResNet beside VGG16
    p = train_flnet(flnet_crops, tmp_path / "run0", small_config(steps=1, lambda_id=0.0), progress=False,
                    say=said.append)
    assert "identity" not in json.loads((tmp_path / "run0" / "log.jsonl").read_text().splitlines()[-1])


@pytest.mark.slow
def test_one_to_one_schedule_and_weight_average(flnet_crops, tmp_path):
    from thead.systems.flnet.synthesize import FLNetModel

    p = train_flnet(flnet_crops, tmp_path / "run", small_config(steps=3, d_steps=1), progress=False,
                    say=lambda m: None)
    blob = load_checkpoint(p)
    recs = [json.loads(x) for x in (tmp_path / "run" / "log.jsonl").read_text().splitlines()]
    assert all("d" in r and r["d"] == r["d"] for r in recs)  # D trains on the step's own fakes
    g, ema = blob["models"]["G"], blob["models"]["G_ema"]
    assert blob["extra"]["ema_updates"] == 3
    moved = [k for k in g if g[k].is_floating_point() and not torch.equal(g[k], ema[k])]
    assert moved and all(torch.isfinite(ema[k]).all() for k in moved)
    model = FLNetModel(p)  # synthesis runs the average
    assert all(torch.equal(v, ema[k]) for k, v in model.G.state_dict().items())
    off = train_flnet(flnet_crops, tmp_path / "off", small_config(steps=1, ema=0.0), progress=False,
                      say=lambda m: None)
    assert "G_ema" not in load_checkpoint(off)["models"]


@pytest.mark.slow
def test_amp_runs_under_bf16_autocast_and_the_loader_is_timed_apart(flnet_crops, tmp_path, capfd):
    """--amp (bf16 autocast; torch's CPU autocast here, CUDA's on a GPU) trains finite steps; every log record holds
    the step time beside the loader's own rate, and the end of the run prints both."""
    p = train_flnet(flnet_crops, tmp_path / "run", small_config(amp=True, d_steps=1), progress=False,
                    say=lambda m: None)
    assert load_checkpoint(p)["config"]["amp"] is True
    recs = [json.loads(x) for x in (tmp_path / "run" / "log.jsonl").read_text().splitlines()]
    for r in recs:
        assert all(v == v and abs(v) < 1e9 for v in r.values())
        assert r["step_s"] > 0 and r["loader_samples_per_s"] > r["samples_per_s"] > 0
    assert "throughput:" in capfd.readouterr().err


@pytest.mark.slow
def test_finetune_starts_from_a_general_model_and_refuses_another(flnet_crops, tmp_path):
    from thead.train.export import export_weights

    base = train_flnet(flnet_crops, tmp_path / "base", small_config(steps=2, width=8, d_width=8), progress=False,
                       say=lambda m: None)
    general = export_weights(base, tmp_path / "general.pt")
    cfg = small_config(steps=1)  # width 4 asked: the general model's 8 is used
    p = train_flnet(flnet_crops, tmp_path / "tune", cfg, finetune=general, progress=False,
                    say=lambda m: None)
    blob = load_checkpoint(p)
    assert blob["step"] == 1 and blob["config"]["width"] == 8 and blob["config"]["finetuned_from"] == str(general)
    g0, g1 = load_checkpoint(general)["models"]["G"], blob["models"]["G"]
    assert g0.keys() == g1.keys()
    params = [k for k in g0 if k.endswith(("original", ".weight", ".bias"))]  # not spectral norm's u, v
    moved = [k for k in params if not torch.equal(g0[k], g1[k])]
    # one Adam step at lr 1e-4 from the general weights: every tensor stays within a few lr of where it was
    assert moved and max(float((g0[k] - g1[k]).abs().max()) for k in moved) < 1e-3
    for bad in (dict(variant="warp-only"), dict(bank_size=3), dict(prior="none")):
        with pytest.raises(InputError, match="trained with another"):
            train_flnet(flnet_crops, tmp_path / f"bad{len(bad)}{list(bad)[0]}", small_config(steps=1, **bad),
                        finetune=general, progress=False, say=lambda m: None)
    with pytest.raises(InputError, match="not an FLNet checkpoint"):
        facial_like = load_checkpoint(general)
        facial_like["config"]["system"] = "facial-gan"
        torch.save(facial_like, tmp_path / "other.pt")
        train_flnet(flnet_crops, tmp_path / "other", small_config(steps=1), finetune=tmp_path / "other.pt",
                    progress=False, say=lambda m: None)


def test_warped_input_and_zoom_finetune_a_general_model_and_synthesize(flnet_crops, flnet_bank, tmp_path):
    from thead.systems.flnet.synthesize import FLNetModel
    from thead.train.export import export_weights

    base = train_flnet(flnet_crops, tmp_path / "base", small_config(steps=1, fixed_bank=True), progress=False,
                       say=lambda m: None)
    general = export_weights(base, tmp_path / "general.pt")
    p = train_flnet(flnet_crops, tmp_path / "tune", small_config(steps=2, fixed_bank=True, warped_input=True,
                                                                 zoom=0.1), finetune=general, progress=False,
                    say=lambda m: None)
    blob = load_checkpoint(p)
    assert blob["config"]["warped_input"] and blob["config"]["zoom"] == 0.1
    first = "master.net.0.0.parametrizations.weight.original"
    w0, w1 = load_checkpoint(general)["models"]["G"][first], blob["models"]["G"][first]
    assert w1.shape[1] == w0.shape[1] + 15  # 3 x 5 channels: the bank warped by the prior
    assert w1[:, w0.shape[1]:].abs().max() > 0  # the new channels learn from zero
    model = FLNetModel(p)
    assert model.G.warped_input
    bank = model.bank(flnet_bank)
    (fr,) = list(model(bank, bank.landmarks[:1]))
    assert fr["output"].shape == (model.size, model.size, 3)
    with pytest.raises(InputError, match="trained with --warped-input"):  # and back is refused
        train_flnet(flnet_crops, tmp_path / "back", small_config(steps=1), finetune=export_weights(
            p, tmp_path / "w.pt"), progress=False, say=lambda m: None)
    with pytest.raises(InputError, match="needs a warp prior"):
        train_flnet(flnet_crops, tmp_path / "bad", small_config(warped_input=True, prior="none"), progress=False,
                    say=lambda m: None)
