import pytest
import torch

from thead.systems.gath.model import AUEstimator, DiscriminatorClassifier, Generator


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)


def test_generator_shapes_and_range():
    G = Generator(n_au=53, width=16)
    x = torch.rand(3, 3, 100, 100) * 2 - 1
    a = torch.rand(3, 53)
    y = G(x, a)
    assert y.shape == (3, 3, 100, 100) and y.min() >= -1 and y.max() <= 1
    assert G.encode(x).shape == (3, 64, 25, 25)


def test_generator_uses_the_au_vector():
    G = Generator(n_au=5, width=8).eval()
    x = torch.rand(1, 3, 100, 100) * 2 - 1
    y0 = G(x, torch.zeros(1, 5))
    y1 = G(x, torch.ones(1, 5))
    assert (y0 - y1).abs().mean() > 1e-4


def test_encoder_output_is_added_at_the_end_of_the_bottleneck():
    """With the residual blocks and fuse block zeroed, the bottleneck returns the encoder output (the paper's
    residual connection)."""
    G = Generator(n_au=3, width=8).eval()
    for p in list(G.res.parameters()) + list(G.fuse.parameters()):
        torch.nn.init.zeros_(p)
    code = torch.randn(2, 32, 25, 25)
    a = torch.rand(2, 3)
    h_expected = code  # fuse gives LeakyReLU(BN(0)) = 0, res(0) = 0
    h = G.res(G.fuse(torch.cat([code, a[:, :, None, None].expand(-1, -1, 25, 25)], 1))) + code
    assert torch.allclose(h, h_expected)


def test_discriminator_classifier_heads():
    D = DiscriminatorClassifier(n_classes=7, width=8)
    d, c = D(torch.rand(4, 3, 100, 100))
    assert d.shape == (4, 1, 6, 6) and c.shape == (4, 7)
    D0 = DiscriminatorClassifier(n_classes=0, width=8)
    d, c = D0(torch.rand(2, 3, 100, 100))
    assert c.shape == (2, 0) and D0.c_head is None
    shared = {n for n, _ in D.named_parameters() if n.startswith("trunk")}
    assert shared and all(not n.startswith("trunk") for n, _ in D.named_parameters() if "head" in n)


def test_au_estimator_shapes():
    E = AUEstimator(n_au=53, width=8)
    x = torch.rand(2, 3, 100, 100)
    e = E(x)
    assert e.shape == (2, 53) and e.min() >= 0 and e.max() <= 1
    assert E.features(x).shape == (2, 32, 25, 25)


def test_resize_upsampling_has_no_checkerboard():
    """On a constant input, transposed convs (random weights) print a periodic pattern, each output phase having
    its own taps (Odena et al. 2016); the resize-convolution upsampler gives a flat image away from the border."""
    def pattern(up: str) -> float:
        G = Generator(n_au=3, width=8, upsample=up).eval()
        h = G.up(torch.ones(1, 32, 25, 25))[0, :, 8:-8, 8:-8]
        return float(h.std(dim=(1, 2)).mean() / h.abs().mean())

    assert pattern("transposed") > 0.05 and pattern("resize") < 1e-4
    G = Generator(n_au=53, width=8, upsample="resize")
    assert G(torch.rand(2, 3, 100, 100) * 2 - 1, torch.rand(2, 53)).shape == (2, 3, 100, 100)
    with pytest.raises(ValueError, match="upsample"):
        Generator(n_au=3, width=8, upsample="bilinear")


def test_au_estimator_head_from_features_is_forward():
    E = AUEstimator(n_au=5, width=8).eval()
    x = torch.rand(2, 3, 100, 100)
    assert torch.allclose(E.head_from_features(E.features(x)), E(x))


def test_attention_output_passes_the_input_through_where_the_map_is_one():
    G = Generator(n_au=3, width=8, upsample="resize", output="attention").eval()
    x = torch.rand(2, 3, 100, 100) * 2 - 1
    a = torch.rand(2, 3)
    torch.nn.init.zeros_(G.att.weight)
    torch.nn.init.constant_(G.att.bias, 30.0)  # sigmoid(30) = 1: copy
    assert torch.allclose(G(x, a), x, atol=1e-6)
    torch.nn.init.constant_(G.att.bias, -30.0)  # 0: the colour image alone
    y = G(x, a)
    assert G.last_attention.shape == (2, 1, 100, 100) and float(G.last_attention.max()) < 1e-6
    code = G.encode(x)
    h = G.res(G.fuse(torch.cat([code, a[:, :, None, None].expand(-1, -1, 25, 25)], 1))) + code
    assert torch.allclose(y, torch.tanh(G.out(G.up(h))), atol=1e-5)
    with pytest.raises(ValueError, match="source image"):
        G.decode(code, a)
    with pytest.raises(ValueError, match="output"):
        Generator(n_au=3, width=8, output="mask")


def test_au_estimator_with_batchnorm_keeps_f_au_raw_and_refuses_unknown_norms():
    E = AUEstimator(n_au=5, width=8, norm="batch").eval()
    x = torch.rand(2, 3, 100, 100)
    f = E.features(x)
    assert f.shape == (2, 32, 25, 25) and E(x).shape == (2, 5)
    assert isinstance(E.head[0], torch.nn.BatchNorm2d) and (f < 0).any()  # conv3_2's raw output, before BN/ReLU
    assert sum(isinstance(m, torch.nn.BatchNorm2d) for m in E.modules()) == 6
    assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in AUEstimator(n_au=5, width=8).modules())
    with pytest.raises(ValueError, match="norm"):
        AUEstimator(n_au=5, width=8, norm="layer")


def _basis(n_au=53, shift=None):
    b = torch.zeros(n_au, 2, 100, 100)
    if shift is not None:
        b[0, 0] = shift  # coefficient 0 moves every pixel by `shift` px in x per unit
    return b


def test_warping_generator_needs_the_source_coefficients_and_warps_by_the_flow():
    torch.manual_seed(0)
    G = Generator(53, width=8, output="attention", flow_basis=_basis(shift=3.0)).eval()
    x = torch.rand(2, 3, 100, 100) * 2 - 1
    e = torch.zeros(2, 53)
    with pytest.raises(ValueError, match="au_src"):
        G(x, e)
    # no expression change: the warp is the identity (grid on pixel centres, align_corners)
    assert torch.allclose(G.warp(x, e, e), x, atol=1e-5)
    # e_src - e_tgt = 1 on coefficient 0: output pixel q samples the input at q + 3 px
    src = e.clone()
    src[:, 0] = 1.0
    w = G.warp(x, e, src)
    assert torch.allclose(w[..., :, 10:90], x[..., :, 13:93], atol=1e-5)
    y = G(x, e, src)
    assert y.shape == x.shape and G.last_warped is not None
    # the attention starts near 1 on the warped input: G begins as the 3DMM warp
    assert float(G.last_attention.mean()) > 0.8
    with pytest.raises(ValueError, match="flow_basis"):
        Generator(53, width=8, flow_basis=torch.zeros(53, 100, 100))


def test_residual_output_starts_as_the_input_and_corrects_its_colours():
    torch.manual_seed(0)
    G = Generator(n_au=3, width=8, upsample="resize", output="residual").eval()
    x = torch.rand(2, 3, 100, 100) * 1.8 - 0.9
    a = torch.rand(2, 3)
    y = G(x, a)
    # untrained: a small correction of the input, not GANimation's mid-grey colour image
    assert float((y - x).abs().mean()) < 0.05 and float(G.out.bias.abs().max()) == 0.0
    torch.nn.init.constant_(G.att.bias, -30.0)  # A = 0: the corrected colour image alone
    torch.nn.init.zeros_(G.out.weight)
    torch.nn.init.constant_(G.out.bias, 0.5)
    assert torch.allclose(G(x, a), torch.clamp(x + 0.5, -1, 1), atol=1e-6)


def test_instance_norm_generator_decodes_alike_in_training_and_eval_mode():
    torch.manual_seed(0)
    G = Generator(n_au=3, width=8, upsample="resize", output="residual", norm="instance")
    assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in G.modules())
    x = torch.rand(1, 3, 100, 100) * 2 - 1
    a = torch.rand(1, 3)
    with torch.no_grad():
        y_train = G.train()(x, a)
        y_eval = G.eval()(x, a)
    assert torch.allclose(y_train, y_eval, atol=1e-6)  # no running statistics to drift from
    with pytest.raises(ValueError, match="norm"):
        Generator(n_au=3, width=8, norm="layer")
