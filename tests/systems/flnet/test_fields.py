import math

import numpy as np
import pytest
import torch

from thead.systems.flnet.fields import (dense_difference_field, default_margin, difference_field, heatmap_weight,
                                        landmark_difference_field, warp)


def test_zero_warp_is_identity():
    x = torch.rand(3, 3, 16, 16)
    assert torch.allclose(warp(x, torch.zeros(3, 2, 16, 16)), x, atol=1e-5)


def test_warp_moves_by_whole_pixels():
    x = torch.rand(1, 3, 16, 16)
    flow = torch.zeros(1, 2, 16, 16)
    flow[:, 0] = 2.0  # output(p) = x(p + (2, 0))
    flow[:, 1] = -1.0
    y = warp(x, flow)
    assert torch.allclose(y[..., 1:, :14], x[..., :-1, 2:], atol=1e-5)
    assert torch.allclose(y[..., 0, :14], x[..., 0, 2:], atol=1e-5)  # border repeated above the top row


def test_heatmap_weight_matches_hand_computed_map():
    lmk = torch.full((1, 68, 2), float("nan"))
    lmk[0, 0] = torch.tensor([1.0, 2.0])
    lmk[0, 1] = torch.tensor([9.5, 3.0])
    k = heatmap_weight(lmk, 40)[0, 0].numpy()
    for y in range(40):
        for x in range(40):
            d = min(math.hypot(x - 1.0, y - 2.0), math.hypot(x - 9.5, y - 3.0))
            assert k[y, x] == pytest.approx(max(0.95 ** d, 0.3), rel=1e-5)
    assert k[2, 1] == pytest.approx(1.0)
    assert k.min() == pytest.approx(0.3)  # the far corner is floored


def test_landmark_difference_field_holds_offsets_at_source_landmarks():
    src = torch.zeros(1, 2, 68, 2)
    src[0, 0] = torch.tensor([3.0, 4.0])  # every landmark of image 0 at (3, 4) ...
    src[0, 0, 5] = torch.tensor([10.2, 6.7])  # ... but landmark 5 at (10, 7)
    src[0, 1] = torch.tensor([12.0, 12.0])
    src[0, 1, 7] = float("nan")
    tgt = torch.zeros(1, 68, 2)
    tgt[0, 5] = torch.tensor([14.2, 2.7])
    f = landmark_difference_field(src, tgt, 16, margin=2.0)
    assert f.shape == (1, 4, 16, 16)
    assert f[0, 0:2, 7, 10].tolist() == pytest.approx([2.0, -2.0])  # (14.2 - 10.2) / 2, (2.7 - 6.7) / 2
    assert f[0, 0:2, 4, 3].tolist() == pytest.approx([-1.5, -2.0])  # landmark 67 wins the shared pixel
    assert f[0, 2:4, 12, 12].tolist() == pytest.approx([-6.0, -6.0])
    nonzero = (f.abs().sum(1) > 0)[0]
    assert int(nonzero.sum()) == 3


def test_margin_scales_with_crop_size():
    assert default_margin(224) == 40.0
    assert default_margin(128) == pytest.approx(40 * 128 / 224)
    assert np.isclose(default_margin(112), 20.0)


def test_dense_field_spreads_the_offsets_over_the_face(clip_landmarks):
    """On real landmarks (the bundled clip's): a face moved by one offset gives that offset all over the face and
    ~0 far from it; a mouth-only motion shows at the mouth and not at the eyes; NaN landmarks are ignored."""
    lm = torch.from_numpy(clip_landmarks.landmarks[:2].astype(np.float32))  # (2, 68, 2), frame px
    lo, hi = lm[0].min(0).values, lm[0].max(0).values
    src = ((lm[0] - (lo + hi) / 2) * (56 / (hi - lo).max()) + 64)[None, None]  # a 56 px face in a 128 crop
    shift = torch.tensor([3.0, -2.0])
    f = dense_difference_field(src, src[:, 0] + shift, 128, margin=2.0)
    assert f.shape == (1, 2, 128, 128)
    c = src[0, 0].mean(0).round().long()
    assert f[0, :, c[1], c[0]].tolist() == pytest.approx([1.5, -1.0], abs=0.05)  # inside the face: offset / margin
    assert f[0, :, 2, 2].abs().max() < 0.01 and f[0, :, 125, 125].abs().max() < 0.01  # far away: nothing
    tgt = src[:, 0].clone()
    tgt[:, 57, 1] += 6.0  # lower lip down
    g = dense_difference_field(src, tgt, 128, margin=2.0)
    mouth, eye = src[0, 0, 57].round().long(), src[0, 0, 37].round().long()
    assert g[0, 1, mouth[1], mouth[0]] > 0.1 and g[0, 1, eye[1], eye[0]].abs() < 0.01
    nan_src = src.clone()
    nan_src[0, 0, 57] = float("nan")
    assert torch.isfinite(dense_difference_field(nan_src, tgt, 128, margin=2.0)).all()
    assert torch.equal(difference_field("sparse", src, tgt, 128, 2.0), landmark_difference_field(src, tgt, 128, 2.0))
    with pytest.raises(ValueError, match="unknown"):
        difference_field("splat", src, tgt, 128, 2.0)


def _face_landmarks():
    """Real ibug-68 landmarks of a bundled portrait, scaled into a 128 px crop."""
    from tests.conftest import EXAMPLES
    from thead.face.landmarks import LandmarkExtractor
    from thead.media import read_image

    lm = LandmarkExtractor().image(read_image(EXAMPLES / "portraits" / "SadTalker_sad1.png")).landmarks[0]
    lm = (lm - lm.min(0)) / (lm.max(0) - lm.min(0)).max() * 70 + 29
    return torch.from_numpy(lm.astype(np.float32))


@pytest.mark.slow
def test_tps_flow_takes_output_pixels_to_where_the_bank_image_has_them():
    from thead.systems.flnet.fields import tps_flow

    src = _face_landmarks()
    tgt = src.clone()
    tgt[48:, 1] += 6.0  # the mouth (ibug 48-67) moves 6 px down in the target
    flow = tps_flow(torch.stack([src, tgt])[None], tgt[None], 128)  # bank: [src face, the target face itself]
    assert flow.shape == (1, 2, 2, 128, 128)
    assert flow[0, 1].abs().max() < 1e-3  # a bank image already in the target's shape is not moved
    x, y = tgt[62].round().long()  # inner upper lip, where the target has it
    assert abs(float(flow[0, 0, 1, y, x]) + 6.0) < 1.5 and abs(float(flow[0, 0, 0, y, x])) < 1.0
    assert flow[0, 0, :, 0, 0].abs().max() < 0.1 and flow[0, 0, :, 127, 127].abs().max() < 0.1  # borders held
    # the warp carries a bank image's mouth pixel to the target's mouth position
    img = torch.zeros(1, 1, 128, 128)
    sx, sy = src[62].round().long()
    img[0, 0, sy - 1:sy + 2, sx - 1:sx + 2] = 1.0
    moved = warp(img, flow[0, :1])
    assert moved[0, 0, y, x] > 0.5 and moved[0, 0, sy - 4, sx] < 0.5
    bad = src.clone()
    bad[3] = float("nan")
    assert tps_flow(bad[None, None], tgt[None], 128).abs().max() == 0  # a missing landmark: no prior flow


@pytest.mark.slow
def test_similarity_fit_recovers_a_head_motion():
    from thead.systems.flnet.fields import similarity_fit

    src = _face_landmarks()
    ang = torch.tensor(0.2)
    A0 = 1.1 * torch.stack([torch.stack([ang.cos(), -ang.sin()]), torch.stack([ang.sin(), ang.cos()])])
    t0 = torch.tensor([5.0, -3.0])
    A, t = similarity_fit(src[None], (src @ A0.T + t0)[None])
    assert torch.allclose(A[0], A0, atol=1e-4) and torch.allclose(t[0], t0, atol=1e-2)


@pytest.mark.slow
def test_head_ring_moves_hair_with_the_face_and_keeps_the_borders():
    from thead.systems.flnet.fields import HEAD_RING, tps_flow

    tgt = _face_landmarks()
    src = tgt + torch.tensor([6.0, 0.0])  # in the bank image the whole head sits 6 px to the right
    plain = tps_flow(src[None, None], tgt[None], 128)
    ring = tps_flow(src[None, None], tgt[None], 128, ring=HEAD_RING)
    cen = tgt.mean(0)
    half = float((tgt - cen).abs().max())
    x, y = int(cen[0]), int(cen[1] - 1.2 * half)  # above the brows: hair, no landmark there
    assert abs(float(ring[0, 0, 0, y, x]) - 6.0) < 1.5  # the hair comes along with the face (the spline bends a little)
    assert float(plain[0, 0, 0, y, x]) < float(ring[0, 0, 0, y, x]) - 0.5  # without the ring it lags behind
    assert ring[0, 0, :, 0, 0].abs().max() < 0.1  # the corners (background) stay
    bad = src.clone()
    bad[3] = float("nan")
    assert tps_flow(bad[None, None], tgt[None], 128, ring=HEAD_RING).abs().max() == 0


def test_background_appearance_weight_is_the_heatmap_complement():
    from thead.systems.flnet.losses import appearance_weight

    lmk = torch.full((1, 68, 2), float("nan"))
    lmk[0, 0] = torch.tensor([5.0, 5.0])
    k, k_raw = heatmap_weight(lmk, 32), heatmap_weight(lmk, 32, floor=0.0)
    assert appearance_weight("all", k, k_raw) is k
    bg = appearance_weight("background", k, k_raw)[0, 0]
    assert bg[5, 5] == pytest.approx(0.0, abs=1e-6)  # on the landmark: the warps' alone
    assert bg[5, 19] == pytest.approx(1 - 0.95 ** 14, rel=1e-5)  # 14 px away: about half
    assert bg[31, 31] == pytest.approx(1 - 0.95 ** math.hypot(26, 26), rel=1e-5)  # the far corner: no floor
    assert bool((bg >= 0).all() and (bg <= 1).all())
    with pytest.raises(ValueError, match="region"):
        appearance_weight("face", k, k_raw)
