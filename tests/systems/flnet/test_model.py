import pytest
import torch

from thead.systems.flnet.model import VARIANTS, FLNetGenerator, ImageHistory, PatchDiscriminator

HEADS = {"full": {"output", "appearance", "masks", "fields", "warped_each", "warped", "merge"},
         "appearance-only": {"output", "appearance"},
         "warp-only": {"output", "masks", "fields", "warped_each", "warped"}}


@pytest.mark.slow
@pytest.mark.parametrize("variant", VARIANTS)
@pytest.mark.parametrize("n", [1, 3, 5])
def test_head_shapes(variant, n):
    G = FLNetGenerator(n, 4, variant, margin=10.0)
    bank = torch.rand(2, n, 3, 32, 32) * 2 - 1
    out = G(bank, torch.zeros(2, 2 * n, 32, 32))
    assert set(out) == HEADS[variant]
    shapes = {"output": (2, 3, 32, 32), "appearance": (2, 3, 32, 32), "masks": (2, n, 32, 32),
              "fields": (2, n, 2, 32, 32), "warped_each": (2, n, 3, 32, 32), "warped": (2, 3, 32, 32),
              "merge": (2, 1, 32, 32)}
    for k, t in out.items():
        assert tuple(t.shape) == shapes[k], k
    assert out["output"].abs().max() <= 1.0
    if "fields" in out:
        assert out["fields"].abs().max() <= 1.0
    if "merge" in out:
        assert 0.0 <= out["merge"].min() and out["merge"].max() <= 1.0
        mixed = (1 - out["merge"]) * out["appearance"] + out["merge"] * out["warped"]
        assert torch.allclose(out["output"], mixed, atol=1e-6)  # eq. 7


def test_selection_masks_sum_to_one_per_pixel():
    G = FLNetGenerator(5, 4, "full", margin=10.0)
    out = G(torch.rand(2, 5, 3, 32, 32) * 2 - 1, torch.randn(2, 10, 32, 32))
    assert torch.allclose(out["masks"].sum(1), torch.ones(2, 32, 32), atol=1e-5)
    assert out["masks"].min() >= 0
    warped = (out["masks"][:, :, None] * out["warped_each"]).sum(1)
    assert torch.allclose(out["warped"], warped, atol=1e-6)  # eq. 4


def test_wrong_bank_size_is_refused():
    with pytest.raises(ValueError, match="bank has 3 images"):
        FLNetGenerator(5, 4)(torch.zeros(1, 3, 3, 32, 32), torch.zeros(1, 6, 32, 32))


def test_discriminator_is_patchgan_at_one_sixteenth():
    D = PatchDiscriminator(8)
    assert D(torch.rand(3, 3, 64, 64)).shape == (3, 1, 4, 4)
    assert D(torch.rand(1, 3, 128, 128)).shape == (1, 1, 8, 8)
    n_sn = sum(1 for m in D.modules() if hasattr(m, "parametrizations"))
    assert n_sn == 4  # spectral norm on all four convs


def test_generator_has_spectral_norm_on_every_conv():
    G = FLNetGenerator(5, 4, "full")
    convs = [m for m in G.modules() if isinstance(m, (torch.nn.Conv2d, torch.nn.ConvTranspose2d))]
    assert convs and all(hasattr(m, "parametrizations") for m in convs)
    assert sum(isinstance(m, torch.nn.InstanceNorm2d) for m in G.modules()) == 5 + 12  # 5 blocks + 6 res x 2


def test_image_history_fills_then_mixes():
    gen = torch.Generator().manual_seed(0)
    h = ImageHistory(4)
    a = torch.full((4, 3, 2, 2), 1.0)
    assert torch.equal(h.query(a, gen), a)
    b = torch.full((64, 3, 2, 2), 2.0)
    out = h.query(b, gen)
    old = (out == 1.0).all(dim=(1, 2, 3)).sum()
    assert 1 <= old <= 4  # some stored images came back, at most the 4 stored
    assert len(h.images) == 4
    st = h.state()
    h2 = ImageHistory(4)
    h2.load(st, "cpu")
    assert all(torch.equal(x, y) for x, y in zip(h.images, h2.images))


def test_tps_prior_is_added_to_the_learned_warp():
    from thead.systems.flnet.fields import warp

    torch.manual_seed(0)
    G = FLNetGenerator(bank_size=2, width=8, variant="warp-only", margin=10.0, prior="tps").eval()
    bank = torch.rand(1, 2, 3, 32, 32) * 2 - 1
    delta = torch.zeros(1, 4, 32, 32)
    with pytest.raises(ValueError, match="prior_flow"):
        G(bank, delta)
    shift = torch.zeros(1, 2, 2, 32, 32)
    shift[:, :, 0] = 3.0  # the prior: sample every bank image 3 px to the right
    with torch.no_grad():
        out = G(bank, delta, shift)
        expected = warp(bank.reshape(2, 3, 32, 32), (out["fields"] * 10.0 + shift).reshape(2, 2, 32, 32))
    assert torch.allclose(out["warped_each"].reshape(2, 3, 32, 32), expected, atol=1e-5)
    with torch.no_grad():
        base = G(bank, delta, torch.zeros_like(shift))
    assert not torch.allclose(base["warped_each"], out["warped_each"], atol=1e-2)
    with pytest.raises(ValueError, match="prior"):
        FLNetGenerator(bank_size=2, width=8, prior="optical-flow")


def test_warped_input_starts_from_a_checkpoint_without_it_unchanged():
    from thead.systems.flnet.model import expand_for_warped_input

    torch.manual_seed(0)
    G = FLNetGenerator(5, 4, "full", 10.0, "tps-head").eval()
    H = FLNetGenerator(5, 4, "full", 10.0, "tps-head", warped_input=True).eval()
    assert H.master.net[0][0].weight.shape[1] == 8 * 5  # bank, difference field, bank warped by the prior
    H.load_state_dict(expand_for_warped_input(G.state_dict(), 5))
    bank = torch.rand(2, 5, 3, 32, 32) * 2 - 1
    lmk = torch.rand(2, 5, 68, 2) * 20 + 6
    tgt = lmk[:, 0] + torch.randn(2, 68, 2)
    df = torch.randn(2, 10, 32, 32)
    a = G(bank, df, G.prior_flow(lmk, tgt, 32))["output"]
    b = H(bank, df, H.prior_flow(lmk, tgt, 32))["output"]
    assert torch.allclose(a, b, atol=1e-6)  # zero weights on the new channels: the same network
    with torch.no_grad():  # and the new channels are live: weights on them change the output
        H.master.net[0][0].parametrizations.weight.original[:, 25:] += 0.1
    assert not torch.allclose(b, H(bank, df, H.prior_flow(lmk, tgt, 32))["output"], atol=1e-4)
    with pytest.raises(ValueError, match="needs prior_flow"):
        H(bank, df)
    with pytest.raises(ValueError, match="needs a warp prior"):
        FLNetGenerator(5, 4, "full", 10.0, "none", warped_input=True)
    with pytest.raises(ValueError, match="without warped input"):
        expand_for_warped_input(H.state_dict(), 5)
