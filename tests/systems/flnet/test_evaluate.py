import json

import numpy as np
import pytest
import torch

from thead.systems.flnet.evaluate import evaluate


@pytest.mark.slow
def test_evaluate_on_held_back_frames(flnet_ckpt, flnet_crops, tmp_path):
    from thead.metrics.inception import FIDInceptionV3

    torch.manual_seed(0)
    torch.save(FIDInceptionV3().state_dict(), tmp_path / "pt_inception.pth")
    res = evaluate([flnet_ckpt, flnet_ckpt], flnet_crops, tmp_path / "eval", max_targets=4,
                   inception_weights=tmp_path / "pt_inception.pth", progress=False)
    assert list(res["rows"]) == ["full-5B@2", "full-5B@2#2"]
    r = res["rows"]["full-5B@2"]
    assert r["n_targets"] == 3 * 4  # three clips (people), four held-back targets each
    assert 0 < r["l1"] < 255
    # the whole-crop L1 is the pixel-weighted mean of the face and background parts, so it lies between them
    assert 0 < r["l1_face"] < 255 and 0 < r["l1_background"] < 255 and r["l1_face"] != r["l1_background"]
    assert min(r["l1_face"], r["l1_background"]) - 1e-6 <= r["l1"] <= max(r["l1_face"], r["l1_background"]) + 1e-6
    assert np.isfinite(r["fid"]) and r["fid"] >= 0
    assert 0 <= r["landmarks_found"] <= 1 and 0 <= r["faces_embedded"] <= 1
    assert res["rows"]["full-5B@2#2"]["l1"] == r["l1"]  # deterministic
    assert "mouth_r" in r and r["target_mouth_std"] > 0  # the targets' mouths move
    # the same dlib measurements on the real crops: faces found, openings that follow the landmarks
    assert r["gt_landmarks_found"] == 1.0 and r["gt_faces_embedded"] == 1.0
    assert r["mouth_r_ceiling"] > 0.5
    # a two-step model's outputs rarely hold a face dlib embeds: the sd is there exactly when FD-dlib is
    assert np.isfinite(r["fd_dlib_sd"]) == np.isfinite(r["fd_dlib"])
    md = (tmp_path / "eval" / "metrics.md").read_text()
    assert "| full-5B@2 | 12 |" in md and "FD-dlib" in md and "mouth r ceiling" in md
    assert json.loads((tmp_path / "eval" / "metrics.json").read_text())["fid"] == "computed"
    assert (tmp_path / "eval" / "full-5B_at_2.compare.png").exists()


@pytest.mark.slow
def test_mouth_agreement_on_real_landmarks(clip_landmarks):
    from thead.systems.flnet.evaluate import mouth_agreement, mouth_opening

    lm = clip_landmarks.landmarks
    target = [mouth_opening(x) for x in lm]
    assert np.nanstd(target) > 0.01  # the bundled clip speaks
    same = mouth_agreement(target, target)
    assert same["mouth_r"] == pytest.approx(1.0) and same["mouth_std"] == pytest.approx(same["target_mouth_std"])
    half = mouth_agreement([0.5 * t for t in target], target)  # half the amplitude: r 1, std ratio 0.5
    assert half["mouth_r"] == pytest.approx(1.0) and half["mouth_std"] / half["target_mouth_std"] == pytest.approx(0.5)
    still = mouth_agreement([0.1] * len(target), target)
    assert np.isnan(still["mouth_r"])  # a still mouth has no correlation to report
    assert np.isnan(mouth_opening(np.full((68, 2), np.nan)))


def test_copy_baselines_on_the_evaluation_targets(flnet_crops):
    """Copying a real training frame, scored on evaluate's targets (each person's first held-back frames): the
    oracle (best frame) is never worse than the nearest-landmark frame; no tail, no baseline."""
    from thead.errors import InputError
    from thead.systems.flnet.bank import load_crop_clips
    from thead.systems.flnet.evaluate import copy_baselines

    r = copy_baselines(flnet_crops, 0.2, max_targets=5)
    tails = sum(min(5, len(c.split(0.2)[1])) for c in load_crop_clips(flnet_crops))
    assert r["n_targets"] == tails > 0
    assert 0 < r["l1_copy_best"] <= r["l1_copy_nearest"] < 255
    assert np.isnan(r["mouth_r_copy_nearest"]) or -1 <= r["mouth_r_copy_nearest"] <= 1
    with pytest.raises(InputError, match="no held-back frames"):
        copy_baselines(flnet_crops, 0.0)
