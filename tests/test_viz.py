"""thead.viz: overlays, AU curves and contact sheets on a real portrait and real landmarks."""

import numpy as np
import pytest

from tests.conftest import EXAMPLES
from thead.media import read_image
from thead.viz import contact_sheet, draw_landmarks, plot_au_curves, preview_scale, sample_indices


@pytest.fixture(scope="module")
def portrait_and_landmarks():
    from thead.face.landmarks import LandmarkExtractor

    img = read_image(EXAMPLES / "portraits" / "SadTalker_sad1.png")
    res = LandmarkExtractor().image(img)
    assert res.detected[0]
    return img, res.landmarks[0]


@pytest.mark.slow
def test_landmark_overlay_draws_on_the_face_only(portrait_and_landmarks):
    img, lm = portrait_and_landmarks
    out = draw_landmarks(img, lm, label="sad1")
    assert out.shape == img.shape and not np.shares_memory(out, img)
    changed = np.abs(out.astype(int) - img).sum(-1) > 0
    x0, y0 = lm.min(0).astype(int) - 5
    x1, y1 = lm.max(0).astype(int) + 5
    inside = changed[max(y0, 0):y1, max(x0, 0):x1].sum()
    assert inside > 0.8 * changed[:img.shape[0] - 30].sum()  # the drawing sits on the landmarks (label aside)
    half = draw_landmarks(img, lm, scale=0.5)
    assert half.shape[:2] == (round(img.shape[0] * 0.5), round(img.shape[1] * 0.5))
    none = draw_landmarks(img, np.full((68, 2), np.nan))
    assert (none != img).any()  # "no face" is written on the frame


def test_au_curves_plot_is_a_png(tmp_path):
    t = np.arange(50) / 25.0
    au = np.clip(np.stack([np.sin(t * 3) + 1, np.zeros_like(t)], 1) * 2, 0, 5)
    p = plot_au_curves(tmp_path / "au.png", au, ["AU12_r", "AU45_r"], t, title="test")
    img = read_image(p)
    assert img.shape[0] > 300 and img.shape[1] > 600 and img.std() > 10
    assert not list(tmp_path.glob("*.tmp*"))  # written through a temp name, nothing left behind


@pytest.mark.slow
def test_contact_sheet_tiles_in_order(portrait_and_landmarks):
    img = portrait_and_landmarks[0][:64, :80]
    other = 255 - img
    sheet = contact_sheet([img, other, img], cols=2)
    assert sheet.shape == (128, 160, 3)
    assert np.array_equal(sheet[:64, :80], img) and np.array_equal(sheet[:64, 80:], other)
    assert not sheet[64:, 80:].any()  # black padding
    with pytest.raises(ValueError):
        contact_sheet([])
    assert sample_indices(10, 3) == [0, 4, 9] and sample_indices(2, 5) == [0, 1]
    assert preview_scale(1440, 720) == 0.5 and preview_scale(300, 200) == 1.0
