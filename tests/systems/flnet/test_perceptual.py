import pytest
import torch

from thead.errors import InputError
from thead.systems.flnet.perceptual import DlibFaceFeatures, FaceNetFeatures, VGG16Features, identity_loss


def test_vgg16_loads_torchvision_layout_and_taps_four_relus(tmp_path):
    src = VGG16Features()
    sd = {"features." + k: torch.randn_like(v) for k, v in src.features.state_dict().items()}
    torch.save(sd, tmp_path / "vgg.pth")
    net = VGG16Features(tmp_path / "vgg.pth")
    assert torch.equal(net.features[0].weight, sd["features.0.weight"])
    feats = net(torch.rand(1, 3, 64, 64) * 2 - 1)
    assert [f.shape[1] for f in feats] == [64, 128, 256, 512]
    assert [f.shape[-1] for f in feats] == [64, 32, 16, 8]
    assert all((f >= 0).all() for f in feats)  # relu outputs


def test_vgg16_bad_files(tmp_path):
    with pytest.raises(InputError, match="file not found"):
        VGG16Features(tmp_path / "none.pth")
    torch.save({"features.0.weight": torch.zeros(3)}, tmp_path / "bad.pth")
    with pytest.raises(InputError, match="missing"):
        VGG16Features(tmp_path / "bad.pth")
    (tmp_path / "junk.pth").write_bytes(b"not a torch file")
    with pytest.raises(InputError, match="not a loadable state dict: a text file"):
        VGG16Features(tmp_path / "junk.pth")


def test_dlib_face_features_on_real_crops(flnet_crops):
    """The default perceptual network: dlib's pretrained ResNet on real face crops in [-1, 1]; its descriptor tells
    the same face (small distance) from another person (large)."""
    from thead.systems.flnet.bank import load_crop_clips
    from thead.systems.flnet.data import BankSampler
    from thead.train.images import to_model_range

    imgs, _ = BankSampler(load_crop_clips(flnet_crops)).all_training_frames()
    x = to_model_range(imgs[:2])
    net = DlibFaceFeatures()
    feats, emb = net.features_and_embedding(x)
    assert [f.shape[1] for f in feats] == [32, 32, 64, 128] and emb.shape == (2, 128)
    assert not any(p.requires_grad for p in net.parameters())
    assert identity_loss(emb, emb) < 1e-3
    other = torch.flip(x, dims=[2])  # the same crops upside down: not a face dlib knows
    assert identity_loss(net.embed(other), emb) > 0.3
    y = x.clone().requires_grad_(True)
    identity_loss(net.embed(y), emb.detach() + 0.1).backward()
    assert y.grad is not None and torch.isfinite(y.grad).all()


def test_a_train_aue_checkpoint_is_a_perceptual_network(tmp_path):
    from thead.systems.gath.model import AUEstimator
    from thead.train.checkpoint import save_checkpoint

    p = save_checkpoint(tmp_path / "aue.pt", models={"aue": AUEstimator(17, 8)}, optimizers={}, step=1,
                        config={"system": "aue", "n_au": 17, "width": 8})
    feats = FaceNetFeatures.from_checkpoint(p)(torch.rand(2, 3, 64, 64) * 2 - 1)
    assert [f.shape[1] for f in feats] == [8, 16, 32, 32]
    assert not any(p_.requires_grad for p_ in FaceNetFeatures.from_checkpoint(p).parameters())


@pytest.mark.slow
def test_face_net_rejects_other_checkpoints(flnet_ckpt):
    with pytest.raises(InputError, match="not a face-network checkpoint"):
        FaceNetFeatures.from_checkpoint(flnet_ckpt)
