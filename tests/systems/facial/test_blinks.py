import numpy as np
import pytest

from thead.face.au import count_blinks
from thead.systems.facial.blinks import BlinkStyle, blink_style, runs_above, shape_blinks
from thead.systems.facial.params import EXP_START, EYE

FPS = 25.0


def _params(eye: np.ndarray, k_exp: int = 4) -> np.ndarray:
    p = np.zeros((len(eye), EXP_START + k_exp), np.float32)
    p[:, EYE] = eye
    p[:, EXP_START:] = 0.05
    return p


def _blinks(eye: np.ndarray):
    return count_blinks(eye * 5.0, FPS)  # thead's blink test on AU45_r (0-5)


@pytest.mark.slow
def test_blink_style_of_a_real_clip(blink_clip_landmarks):
    """The style read from a real clip's AU45 (thead's fit of video-retalking_face_4, which blinks) lies in a
    person's range."""
    from thead.face.au import AU_COLUMNS, au_from_blendshapes
    from thead.face.facemodel import load_face_model
    from thead.face.fit import fit_landmarks

    model = load_face_model()
    fit = fit_landmarks(model, blink_clip_landmarks.landmarks)
    eye = au_from_blendshapes(fit.expression, model.exp_names)[:, AU_COLUMNS.index("AU45_r")] / 5.0
    style = blink_style(eye, FPS)
    assert 0.2 <= style.rate <= 0.6 and 0.15 <= style.duration <= 0.4 and 0.5 <= style.peak <= 1.0
    assert blink_style(np.zeros(100), FPS) == BlinkStyle()  # no blinks: the defaults


def test_one_frame_peaks_become_blinks_of_a_person():
    n = int(60 * FPS)
    eye = np.zeros(n, np.float32)
    eye[[100, 700]] = 0.6  # what a short FACIAL-GAN run gives: rare one-frame peaks
    style = BlinkStyle(rate=0.35, duration=0.3, peak=0.8)
    out = shape_blinks(_params(eye), FPS, style, [1, 2], seed=3)
    k, runs = _blinks(out[:, EYE])
    assert 0.2 <= k / 60 <= 0.6
    durations = [(b - a) / FPS for a, b in runs]
    assert all(0.1 <= d <= 0.4 for d in durations)
    assert any(a <= 100 < b for a, b in runs) and any(a <= 700 < b for a, b in runs)  # predicted blinks are kept
    assert np.allclose(out[:, EXP_START + 1], np.maximum(0.05, out[:, EYE])) and np.allclose(out[:, EXP_START], 0.05)
    only = shape_blinks(_params(eye), FPS, style, [], fill=False)
    assert _blinks(only[:, EYE])[0] == 2
    again = shape_blinks(_params(eye), FPS, style, [1, 2], seed=3)
    assert np.array_equal(again, out)  # seeded
    assert not np.array_equal(shape_blinks(_params(eye), FPS, style, [1, 2], seed=4), out)


def test_a_gan_that_blinks_too_often_is_thinned_to_the_rate():
    """The cpu-hour bench's FACIAL-GAN put a blink peak every ~1.5 s; the output keeps the person's rate."""
    n = int(60 * FPS)
    eye = np.zeros(n, np.float32)
    eye[::int(1.5 * FPS)] = 0.5
    style = BlinkStyle(rate=0.4, duration=0.25, peak=0.8)
    for seed in range(5):
        k, _ = _blinks(shape_blinks(_params(eye), FPS, style, [], seed=seed)[:, EYE])
        assert 0.2 * 60 <= k <= 0.6 * 60, (seed, k)
    for seed in range(5):  # and the filled gaps reach it on their own, within a Poisson-like spread
        k, _ = _blinks(shape_blinks(_params(np.zeros(n, np.float32)), FPS, style, [], seed=seed)[:, EYE])
        assert 0.3 * 60 <= k <= 0.5 * 60, (seed, k)


def test_refuses_non_finite_and_bad_rate():
    p = _params(np.zeros(10, np.float32))
    p[3, EYE] = np.nan
    with pytest.raises(ValueError, match="finite"):
        shape_blinks(p, FPS, BlinkStyle(), [])
    with pytest.raises(ValueError, match="fps"):
        shape_blinks(_params(np.zeros(10, np.float32)), 0.0, BlinkStyle(), [])


def test_runs_above():
    assert runs_above(np.array([0, 0.3, 0.3, 0, 0.5])) == [(1, 3), (4, 5)]
