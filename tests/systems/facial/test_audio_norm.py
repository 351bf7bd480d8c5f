"""Per-clip CMVN of FACIAL-GAN's audio features and the 3DMM mouth-shape loss (departures from FACIAL, issue 11)."""

import numpy as np
import pytest
import torch

from tests.conftest import shared
from thead.systems.facial.data import cmvn, normalize_audio


@pytest.fixture(scope="module")
def speech():
    from thead.audio.features import SAMPLE_RATE
    from thead.media import load_audio

    return load_audio(shared("audio/video-retalking_audio_1.wav"), SAMPLE_RATE)[:5 * SAMPLE_RATE]


def test_cmvn_makes_mfcc_independent_of_the_recording_level(speech):
    from thead.audio.features import mfcc_features

    loud, quiet = mfcc_features(speech, 25.0, 125), mfcc_features(speech * 0.2, 25.0, 125)
    assert np.abs(loud - quiet).max() > 1.0  # raw: log energy shifts with the gain
    a, b = cmvn(loud), cmvn(quiet)
    assert np.allclose(a.mean(0), 0, atol=1e-4) and np.allclose(a.std(0), 1, atol=1e-3)
    assert np.abs(a - b).mean() < 0.02  # normalised: the same speech gives the same features
    assert normalize_audio(loud, "none").dtype == np.float32 and np.array_equal(normalize_audio(loud, "none"), loud)
    with pytest.raises(ValueError, match="audio_norm"):
        normalize_audio(loud, "zscore")
    loud[3, 2] = np.nan
    with pytest.raises(ValueError, match="finite"):
        cmvn(loud)


def test_mouth_loss_sees_the_jaw_and_not_the_brows():
    from thead.face.facemodel import load_face_model
    from thead.systems.facial.losses import FacialWeights, mouth_basis, regression_losses
    from thead.systems.facial.params import EXP_START

    model = load_face_model()
    k = len(model.exp_names)
    basis = mouth_basis(model, k)
    norms = np.linalg.norm(basis, axis=1)
    assert basis.shape == (k, 60) and np.isclose(norms.max(), 1.0)
    assert model.exp_names[int(norms.argmax())] in ("jawOpen", "mouthClose")  # what moves the lips most
    true = torch.zeros(2, 16, EXP_START + k)
    jaw, brow = true.clone(), true.clone()
    jaw[..., EXP_START + model.exp_names.index("jawOpen")] = 0.5
    brow[..., EXP_START + model.exp_names.index("browDown_L")] = 0.5
    w = FacialWeights(mouth=10.0)
    b = torch.from_numpy(basis)
    lj, lb = regression_losses(jaw, true, w, b), regression_losses(brow, true, w, b)
    assert lj["mouth"] > 1.0 and lb["mouth"] < 1e-3 * lj["mouth"]
    assert torch.isclose(lj["exp"], lb["exp"])  # FACIAL's L_exp weighs both alike
    assert torch.isclose(lj["reg"] - lb["reg"], 10.0 * (lj["mouth"] - lb["mouth"]))
    assert "mouth" not in regression_losses(jaw, true, FacialWeights(), b)  # off by default
    from thead.errors import InputError

    with pytest.raises(InputError, match="expression coefficients"):
        mouth_basis(model, k - 1)
