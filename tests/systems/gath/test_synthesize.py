import json

import numpy as np
import pytest

from tests.conftest import run_cli
from thead.errors import InputError
from thead.face.au import write_openface_csv
from thead.face.facemodel import load_face_model
from thead.media import probe_video, read_image
from thead.systems.gath.au_spec import blendshapes_from_aus, parse_au

NAMES = load_face_model().exp_names


def test_au_forms():
    assert parse_au("zeros", NAMES)[0].coeffs.shape == (1, 53) and parse_au("zeros", NAMES)[0].coeffs.max() == 0
    assert parse_au("ones", NAMES)[0].coeffs.min() == 1
    w = parse_au("AU12_r=3, AU26=2", NAMES)[0].coeffs[0]
    assert w[NAMES.index("mouthSmile_L")] == pytest.approx(0.6) == w[NAMES.index("mouthSmile_R")]
    assert w[NAMES.index("jawOpen")] == pytest.approx(0.4) and w.sum() == pytest.approx(1.6)
    v = parse_au(",".join(["0.5"] * 53), NAMES)[0]
    assert v.coeffs.shape == (1, 53) and not v.is_sequence


@pytest.mark.parametrize("spec,msg", [
    ("AU99_r=1", "unknown action unit"), ("AU12_r=7", "outside OpenFace's 0-5"), ("AU12_r=nan", "not a number"),
    ("AU12_r=x", "not a number"), ("0.1,0.2", "expected 53 coefficients"),
    (",".join(["nan"] * 53), "NaN"), (",".join(["1.5"] * 53), r"\[0, 1\]"), ("smile", "expected zeros"),
    ("missing.csv", "no such file")])
def test_au_errors(spec, msg):
    with pytest.raises(InputError, match=msg):
        parse_au(spec, NAMES)


def test_au_from_csv_and_npy(tmp_path):
    au = np.zeros((10, 2), np.float32)
    au[:, 0] = np.linspace(0, 5, 10)
    write_openface_csv(tmp_path / "d.csv", au, np.arange(10) / 25.0, np.ones(10, bool), ["AU12_r", "AU45_r"])
    seq = parse_au(str(tmp_path / "d.csv"), NAMES)[0]
    assert seq.is_sequence and seq.fps == pytest.approx(25.0) and seq.coeffs.shape == (10, 53)
    assert seq.coeffs[-1, NAMES.index("mouthSmile_L")] == pytest.approx(1.0)
    np.save(tmp_path / "bad.npy", np.zeros((4, 7)))
    with pytest.raises(InputError, match="expected 53"):
        parse_au(str(tmp_path / "bad.npy"), NAMES)
    assert blendshapes_from_aus({"AU27_r": 5}, NAMES)[NAMES.index("jawOpen")] == 1.0


@pytest.mark.slow
def test_neutralize_and_paste_back(gath_ckpt, happy, tmp_path):
    r = run_cli("synthesize", "gath", "--checkpoint", gath_ckpt, "--source", happy, "--au", "zeros", "--paste-back",
                "--postprocess", "clahe", "-o", tmp_path, "--no-progress")
    assert r.returncode == 0, r.stderr
    it = json.loads((tmp_path / "manifest.json").read_text())["items"][0]
    assert it["status"] == "done" and it["meta"]["checkpoint_step"] == 2
    out = read_image(tmp_path / it["outputs"]["image"])
    src = read_image(happy)
    pasted = read_image(tmp_path / it["outputs"]["pasted"])
    assert out.shape == (100, 100, 3) and read_image(tmp_path / it["outputs"]["compare"]).shape == (100, 300, 3)
    assert pasted.shape == src.shape
    changed = np.abs(pasted.astype(int) - src.astype(int)).sum(2) > 0
    h, w = changed.shape
    ys, xs = np.nonzero(changed)
    # only the face region changed: the changed area is a minority of the picture, centred in it
    assert 0.05 < changed.mean() < 0.6
    assert abs(xs.mean() - w / 2) < w / 4 and not changed[:5].any() and not changed[:, :5].any()


@pytest.mark.slow
def test_driving_manifest_gives_mp4_with_audio(gath_ckpt, gath_data, happy, tmp_path):
    r = run_cli("synthesize", "gath", "--checkpoint", gath_ckpt, "--source", happy, "--au", gath_data["au"],
                "-o", tmp_path, "--no-progress")
    assert r.returncode == 0, r.stderr
    it = json.loads((tmp_path / "manifest.json").read_text())["items"][0]
    for clip in ("a", "b"):
        info = probe_video(tmp_path / it["outputs"][f"video:{clip}"])
        n = len(np.load(gath_data["dir"] / "au" / f"{clip}.expression.npy"))
        assert info.has_audio and info.n_frames_nominal == n and (info.width, info.height) == (100, 100)
    # the manifest's still portraits give one picture each, under their own keys
    for still in ("SadTalker_happy1", "SadTalker_sad1"):
        assert read_image(tmp_path / it["outputs"][f"image:{still}"]).shape == (100, 100, 3)


@pytest.mark.slow
def test_bad_au_fails_before_any_work(gath_ckpt, happy, tmp_path):
    r = run_cli("synthesize", "gath", "--checkpoint", gath_ckpt, "--source", happy, "--au", "AU12_r=9",
                "-o", tmp_path / "o")
    assert r.returncode == 1 and "0-5" in r.stderr and not (tmp_path / "o").exists()
    r = run_cli("synthesize", "gath", "--checkpoint", tmp_path / "nope.pt", "--source", happy, "-o", tmp_path / "p")
    assert r.returncode == 1 and "checkpoint not found" in r.stderr


@pytest.mark.slow
def test_system_from_checkpoint_positional_portrait_and_sweep(gath_ckpt, happy, tmp_path):
    """The design card's form: `thead synthesize --checkpoint CKPT --au zeros PORTRAIT` (no system named), with an
    interpolation strip of AU12."""
    r = run_cli("synthesize", "--checkpoint", gath_ckpt, "--au", "zeros", "--au-sweep", "AU12_r=0:4:5", happy,
                "-o", tmp_path, "--no-progress")
    assert r.returncode == 0, r.stderr
    it = json.loads((tmp_path / "manifest.json").read_text())["items"][0]
    strip = read_image(tmp_path / it["outputs"]["sweep"])
    assert strip.shape == (100, 600, 3) and it["outputs"]["sweep"].endswith("AU12_r_sweep.png")
    tiles = strip.reshape(100, 6, 100, 3).transpose(1, 0, 2, 3).astype(int)
    assert np.array_equal(tiles[0], read_image(tmp_path / it["outputs"]["frontal"]))
    assert np.abs(tiles[1, 20:] - tiles[5, 20:]).mean() > 0  # the generator saw different vectors
    r = run_cli("synthesize", "--checkpoint", gath_ckpt, "--au-sweep", "AU12_r=0:4", happy, "-o", tmp_path / "b")
    assert r.returncode == 1 and "NAME=START:STOP:N" in r.stderr and not (tmp_path / "b").exists()
    r = run_cli("synthesize", "gath", "--checkpoint", gath_ckpt, "-o", tmp_path / "c")
    assert r.returncode == 2 and "give at least one input (positional or --source)" in r.stderr


def test_sweep_parsing():
    from thead.systems.gath.au_spec import parse_sweep

    label, c, v = parse_sweep("AU26_r=0:5:3", NAMES)
    assert label == "AU26_r_sweep" and c.shape == (3, 53) and list(v) == [0, 2.5, 5]
    assert list(c[:, NAMES.index("jawOpen")]) == pytest.approx([0, 0.5, 1]) and c.sum() == pytest.approx(1.5)
    for bad, msg in (("AU26_r=0:9:3", "0-5"), ("AU26_r=0:5:1", "2-16"), ("AU26_r=a:5:3", "numbers"),
                     ("AU99=0:1:2", "unknown")):
        with pytest.raises(InputError, match=msg):
            parse_sweep(bad, NAMES)


@pytest.mark.slow
def test_the_3dmm_flow_neutralizes_and_smiles_a_real_portrait(gath_ckpt, happy):
    """The flow a --warp 3dmm generator starts from, measured by thead's AU chain on a real expressive portrait:
    --au zeros closes the mouth and takes the smile down, AU12_r=3 on the neutralized face brings it back, and
    the closed-loop step goes further than the plain warp."""
    from thead.face.au import AU_COLUMNS
    from thead.face.frontalize import Frontalizer
    from thead.face.landmarks import LandmarkExtractor
    from thead.metrics.au import ImageAUs
    from thead.systems.gath.synthesize import GathGenerator, calibrated_source

    model = load_face_model()
    G = GathGenerator(gath_ckpt)
    assert G.warps
    ex = LandmarkExtractor()
    img = read_image(happy)
    face = Frontalizer(model, 100)(img, ex.image(img).landmarks[0])[0]
    aus = ImageAUs(ex)
    e_src = aus.expression(face)
    assert e_src.shape == (model.k_exp,) and np.isfinite(e_src).all()
    mouth = [AU_COLUMNS.index(c) for c in ("AU12_r", "AU25_r", "AU26_r")]
    zeros = np.zeros(model.k_exp, np.float32)
    before = aus(face)[mouth].sum()
    plain = aus(G.warp_only(face, zeros, e_src))[mouth].sum()
    looped = aus(G.warp_only(face, zeros, calibrated_source(G, face, e_src, zeros,
                                                              aus.expression)))[mouth].sum()
    assert before > 2.0 and plain < 0.8 * before and looped < plain
    with pytest.raises(ValueError, match="source"):
        G(face, zeros[None])
    out = G(face, np.stack([zeros, zeros]), e_src)
    assert out.shape == (2, 100, 100, 3) and out.dtype == np.uint8


@pytest.mark.slow
def test_input_bn_stats_normalize_each_target_alone(gath_ckpt, happy):
    """--bn-stats input (pix2pix's test-time BatchNorm): a target's output does not depend on the other targets of
    its call, differs from eval mode's running statistics, and leaves the running statistics as trained."""
    import torch

    from thead.face.frontalize import Frontalizer
    from thead.face.landmarks import LandmarkExtractor
    from thead.systems.gath.synthesize import GathGenerator

    model = load_face_model()
    img = read_image(happy)
    face = Frontalizer(model, 100)(img, LandmarkExtractor().image(img).landmarks[0])[0]
    G = GathGenerator(gath_ckpt, bn_stats="input")
    before = {k: v.clone() for k, v in G.G.state_dict().items() if "running" in k}
    assert before
    zeros, smile = np.zeros(model.k_exp, np.float32), np.full(model.k_exp, 0.3, np.float32)
    e_src = np.full(model.k_exp, 0.1, np.float32)
    alone = G(face, zeros[None], e_src)
    together = G(face, np.stack([smile, zeros, smile]), e_src)
    assert np.array_equal(alone[0], together[1])
    assert all(torch.equal(v, G.G.state_dict()[k]) for k, v in before.items())
    running = GathGenerator(gath_ckpt, bn_stats="running")(face, zeros[None], e_src)
    assert np.abs(running.astype(int) - alone.astype(int)).mean() > 0.5
    with pytest.raises(ValueError, match="bn_stats"):
        GathGenerator(gath_ckpt, bn_stats="batch")
