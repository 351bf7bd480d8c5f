import numpy as np
import pytest

from thead.media import FrameReader
from thead.postprocess import clahe, clahe_skimage, denoise_nlm, postprocess, unsharp_mask


@pytest.fixture(scope="module")
def frame(clip25):
    return next(iter(FrameReader(clip25)))[2]


@pytest.mark.slow
@pytest.mark.parametrize("mode,tol", [("value", 6.0), ("lab", 4.0), ("rgb", 6.0)])
def test_opencv_clahe_matches_skimage(frame, mode, tol):
    a = clahe(frame, mode=mode)
    b = clahe_skimage(frame, mode=mode)
    assert np.abs(a.astype(int) - b.astype(int)).mean() < tol


def test_clahe_restores_contrast(frame):
    dull = (frame.astype(np.float32) * 0.4 + 80).astype(np.uint8)
    out = clahe(dull)
    assert out.std() > 1.3 * dull.std()
    v_in, v_out = dull.max(2), out.max(2)
    assert np.corrcoef(v_in.ravel(), v_out.ravel())[0, 1] > 0.8  # same picture, more contrast
    with pytest.raises(ValueError, match="mode"):
        clahe(frame, mode="hsv")


@pytest.mark.slow
def test_denoise_and_sharpen(frame):
    rng = np.random.default_rng(0)
    noisy = np.clip(frame + rng.normal(0, 12, frame.shape), 0, 255).astype(np.uint8)
    den = denoise_nlm(noisy, 10)
    assert np.abs(den.astype(int) - frame).mean() < np.abs(noisy.astype(int) - frame).mean()
    sharp = unsharp_mask(frame, 1.0, 1.0)
    lap = lambda x: np.abs(np.diff(x.astype(int), axis=1)).mean()  # noqa: E731
    assert lap(sharp) > lap(frame)
    assert postprocess(frame, "value", denoise=3, sharpen=0.5).shape == frame.shape
