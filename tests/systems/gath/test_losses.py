import pytest
import torch

from thead.systems.gath import losses as L


def test_au_loss_hand_computed():
    a = torch.zeros(1, 2, 1, 2)
    b = torch.tensor([[[[1.0, 2.0]], [[0.0, -1.0]]]])
    assert L.au_loss(a, b).item() == pytest.approx((1 + 4 + 0 + 1) / 4)


def test_reconstruction_loss_hand_computed():
    x = torch.tensor([[[[0.5, -0.5], [1.0, 0.0]]]])
    y = torch.tensor([[[[0.0, 0.0], [0.0, 0.0]]]])
    assert L.reconstruction_loss(x, y).item() == pytest.approx((0.5 + 0.5 + 1.0 + 0.0) / 4)


def test_lsgan_losses_hand_computed():
    d_real = torch.tensor([1.0, 0.5])
    d_fake = torch.tensor([0.0, 0.5])
    assert L.d_adversarial_loss(d_real, d_fake).item() == pytest.approx((0 + 0.25) / 2 + (0 + 0.25) / 2)
    assert L.g_adversarial_loss(d_fake).item() == pytest.approx((1 + 0.25) / 2)


def test_classification_loss_hand_computed():
    logits = torch.tensor([[0.0, 0.0], [2.0, 0.0]])
    labels = torch.tensor([0, 1])
    import math

    expected = (math.log(2) + (math.log(math.exp(2) + 1) - 0.0)) / 2
    assert L.classification_loss(logits, labels).item() == pytest.approx(expected)


def test_tv_loss_hand_computed():
    x = torch.tensor([[[[0.0, 1.0], [2.0, 4.0]]]])
    # horizontal: (1-0)^2, (4-2)^2 -> mean 2.5 ; vertical: (2-0)^2, (4-1)^2 -> mean 6.5
    assert L.tv_loss(x).item() == pytest.approx(2.5 + 6.5)
    assert L.tv_loss(torch.ones(2, 3, 5, 5)).item() == 0


def test_aue_loss_hand_computed():
    pred = torch.tensor([[0.5, 0.0], [1.0, 1.0]])
    tgt = torch.tensor([[0.0, 0.0], [0.0, 1.0]])
    assert L.aue_loss(pred, tgt).item() == pytest.approx((0.25 + 1.0) / 2)


def test_expression_loss_hand_computed():
    from thead.systems.gath.losses import expression_loss

    pred = torch.tensor([[0.5, 0.0], [1.0, 1.0]])
    target = torch.tensor([[0.0, 0.0], [1.0, 0.0]])
    assert float(expression_loss(pred, target)) == pytest.approx((0.25 + 1.0) / 2)


def test_au_loss_normalizations_hand_computed():
    ft = torch.tensor([[[[1.0, 2.0]]], [[[0.0, 3.0]]]])  # (2, 1, 1, 2)
    ff = torch.tensor([[[[0.0, 2.0]]], [[[0.0, 0.0]]]])
    assert L.au_loss_per_sample(ft, ff, "sum").tolist() == [1.0, 9.0]
    assert L.au_loss_per_sample(ft, ff, "mean").tolist() == [0.5, 4.5]
    assert L.au_loss_per_sample(ft, ff, "relative").tolist() == pytest.approx([1 / 5, 1.0])
    # relative: invariant to the features' scale
    assert L.au_loss_per_sample(100 * ft, 100 * ff, "relative").tolist() == pytest.approx([1 / 5, 1.0])
    with pytest.raises(ValueError, match="normalization"):
        L.au_loss_per_sample(ft, ff, "l2")
