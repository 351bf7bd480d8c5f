import pytest
import torch

from thead.errors import InputError
from thead.systems.flnet.perceptual import FaceNetFeatures, VGG16Features, train_face_net


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


def test_face_net_learns_landmarks_and_reloads(tmp_path, flnet_crops):
    from thead.systems.flnet.data import BankSampler
    from thead.systems.flnet.bank import load_crop_clips

    imgs, lmk = BankSampler(load_crop_clips(flnet_crops)).all_training_frames()
    losses = []
    p = train_face_net(imgs, lmk, tmp_path / "fn.pt", steps=40, batch_size=8, width=8,
                       on_step=lambda s, v: losses.append(v))
    assert sum(losses[-5:]) < sum(losses[:5])
    feats = FaceNetFeatures.from_checkpoint(p)(torch.rand(2, 3, 64, 64) * 2 - 1)
    assert [f.shape[1] for f in feats] == [8, 16, 32, 32]
    assert not any(p_.requires_grad for p_ in FaceNetFeatures.from_checkpoint(p).parameters())


def test_face_net_rejects_other_checkpoints(flnet_ckpt):
    with pytest.raises(InputError, match="not a face-network checkpoint"):
        FaceNetFeatures.from_checkpoint(flnet_ckpt)
