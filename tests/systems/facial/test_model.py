import torch

from thead.systems.facial.model import FacialGenerator, LocalGenerator, ParamDiscriminator


def test_shapes_and_initial_state_matters():
    torch.manual_seed(0)
    G = FacialGenerator(29, 60, hidden=16, local_dim=8, width=4)
    a, w = torch.randn(2, 128, 29), torch.randn(2, 128, 16, 29)
    s = torch.randn(2, 60)
    y = G(a, w, s)
    assert y.shape == (2, 128, 60)
    assert not torch.allclose(y, G(a, w, s + 1))  # the window's initial state s conditions G_tem
    assert ParamDiscriminator(60, 8)(y).shape == (2, 16)


def test_local_generator_sees_only_its_window():
    torch.manual_seed(0)
    L = LocalGenerator(29, 8, 4)
    w = torch.randn(5, 16, 29)
    c = L(w)
    w2 = w.clone()
    w2[3] += 1
    c2 = L(w2)
    assert torch.allclose(c[[0, 1, 2, 4]], c2[[0, 1, 2, 4]]) and not torch.allclose(c[3], c2[3])
