import json

import numpy as np
import pytest

from tests.conftest import run_cli
from tests.systems.flnet.conftest import SIZE
from thead.systems.flnet.bank import load_bank
from thead.systems.flnet.synthesize import FLNetModel, retarget


def test_model_generates_one_frame_per_target(flnet_ckpt, flnet_bank):
    m = FLNetModel(flnet_ckpt)
    bank = m.bank(flnet_bank)
    frames = list(m(bank, np.repeat(bank.landmarks[2:3], 3, 0)))
    assert len(frames) == 3
    f = frames[0]
    assert f["output"].shape == (SIZE, SIZE, 3) and f["output"].dtype == np.uint8
    assert f["masks"].shape == (5, SIZE, SIZE)
    np.testing.assert_allclose(f["masks"].sum(0), 1.0, atol=1e-4)
    assert 0 <= f["merge"].min() and f["merge"].max() <= 1


def test_retarget_moves_driving_motion_onto_the_bank_face(flnet_bank):
    bank = load_bank(flnet_bank, 5)
    rng = np.random.default_rng(0)
    driving = (bank.landmarks[[3, 0, 4]] * 1.5 + 7 + rng.normal(0, 0.3, (3, 68, 2))).astype(np.float32)
    out = retarget(driving, bank)
    d0 = int(np.argmin(np.linalg.norm(driving[:, 51] - driving[:, 57], axis=-1)))
    np.testing.assert_allclose(out[d0], bank.landmarks[0], atol=1e-4)  # the closed-mouth frames correspond
    scale = np.linalg.norm(out[2] - out[d0]) / np.linalg.norm(driving[2] - driving[d0])
    assert scale == pytest.approx(1 / 1.5, rel=0.05)  # motion rescaled to the bank face's size


@pytest.mark.slow
def test_cli_synthesize_from_a_driving_video_keeps_audio(flnet_ckpt, flnet_bank, short_clips, tmp_path):
    from thead.media import has_audio, probe_video

    r = run_cli("synthesize", "flnet", "--checkpoint", flnet_ckpt, "--bank", flnet_bank, "--landmarks",
                short_clips / "b.mp4", "--max-frames", 8, "-o", tmp_path / "out", "--no-progress")
    assert r.returncode == 0, r.stderr
    m = json.loads((tmp_path / "out" / "manifest.json").read_text())
    (it,) = m["items"]
    assert it["meta"]["retargeted"] is True and it["meta"]["n_frames"] == 8
    video = tmp_path / "out" / it["outputs"]["video"]
    info = probe_video(video)
    assert (info.width, info.height) == (SIZE, SIZE) and info.n_frames_nominal == 8
    assert has_audio(video)
    masks = probe_video(tmp_path / "out" / it["outputs"]["masks"])
    assert (masks.width, masks.height) == (SIZE * 8, SIZE * 2)  # 5 bank + I_w, I_a, driving over masks, V, I_o
    assert (tmp_path / "out" / it["outputs"]["preview"]).exists()


@pytest.mark.slow
def test_cli_synthesize_from_landmark_file(flnet_ckpt, flnet_bank, tmp_path):
    from thead.media import has_audio, probe_video

    bank = load_bank(flnet_bank, 5)
    np.save(tmp_path / "t.npy", bank.landmarks[[0, 4, 2, 1]])
    r = run_cli("synthesize", "flnet", "--checkpoint", flnet_ckpt, "--bank", flnet_bank, "--landmarks",
                tmp_path / "t.npy", "--fps", 10, "-o", tmp_path / "out", "--no-progress")
    assert r.returncode == 0, r.stderr
    info = probe_video(tmp_path / "out" / "t.mp4")
    assert info.n_frames_nominal == 4 and abs(float(info.avg_fps) - 10) < 0.01
    assert not has_audio(tmp_path / "out" / "t.mp4")


def test_cli_bad_bank_is_one_line_error(flnet_ckpt, tmp_path, short_clips):
    (tmp_path / "empty").mkdir()
    r = run_cli("synthesize", "flnet", "--checkpoint", flnet_ckpt, "--bank", tmp_path / "empty", "--landmarks",
                short_clips / "a.mp4", "-o", tmp_path / "out")
    assert r.returncode == 1
    assert r.stderr.strip().splitlines()[-1].startswith("error: ") and "no images" in r.stderr
    assert not (tmp_path / "out").exists()
    np.save(tmp_path / "bad.npy", np.zeros((3, 5, 2)))
    r = run_cli("synthesize", "flnet", "--checkpoint", flnet_ckpt, "--bank", tmp_path / "empty", "--landmarks",
                tmp_path / "bad.npy", "--retarget", "sideways", "-o", tmp_path / "out")
    assert r.returncode == 2 and "--retarget: must be one of auto, on, off" in r.stderr  # a usage error, at parse


@pytest.mark.slow
def test_bundled_general_model_rebuilds_a_person_it_never_saw(tmp_path):
    """examples/weights/flnet_pretrained.pt (trained without TPSMM_driving's person) loads weights-only and, driven
    by held-back frames' own landmarks with a bank of the clip's first second, gives that same person (dlib, where
    its detector finds the face) and frames nearer the real ones than the same network untrained (its thin-plate
    prior alone still warps the bank)."""
    import torch

    from tests.conftest import EXAMPLES, ROOT, cut
    from thead.metrics.identity import SAME_PERSON_DISTANCE, FaceEmbedder
    from thead.stages import crop
    from thead.systems.flnet.bank import Bank, load_crop_clips, select_bank
    from thead.systems.flnet.model import FLNetGenerator

    cut(EXAMPLES / "videos" / "TPSMM_driving.mp4", tmp_path / "clip.mp4", 1.6)
    model = FLNetModel(ROOT / "examples" / "weights" / "flnet_pretrained.pt")
    assert (model.size, model.bank_size, model.variant) == (128, 5, "full")
    res = crop.run([tmp_path / "clip.mp4"], tmp_path / "crops", size=model.size, progress=False)
    (clip,) = load_crop_clips(res.manifest_path)
    train, held = clip.split(0.3)
    pick = train[select_bank(clip.openness[train], 5)]
    bank = Bank(clip.read(pick), clip.landmarks[pick], clip.openness[pick], pick)
    targets = held[::3]
    real = clip.read(targets)

    def l1(m):
        out = np.stack([o["output"] for o in m(bank, clip.landmarks[targets])])
        return out, float(np.abs(out.astype(np.float32) - real.astype(np.float32)).mean())

    out, trained = l1(model)
    emb = FaceEmbedder()
    pairs = [(emb(o), emb(r)) for o, r in zip(out, real)]
    dist = [np.linalg.norm(a - b) for a, b in pairs if a is not None and b is not None]  # HOG misses soft faces
    assert dist and max(dist) < SAME_PERSON_DISTANCE, dist
    torch.manual_seed(0)
    model.G = FLNetGenerator(5, 16, "full", model.margin, "tps-head").eval()
    _, untrained = l1(model)
    assert np.isfinite(trained) and trained < untrained, (trained, untrained)
