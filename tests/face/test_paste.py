"""Seamless paste-back (issue 11, part 5), on a real portrait and its dlib landmarks."""

from __future__ import annotations

import numpy as np
import pytest

from tests.conftest import EXAMPLES


@pytest.fixture(scope="module")
def portrait():
    from thead.face.landmarks import LandmarkExtractor
    from thead.media import read_image

    img = read_image(EXAMPLES / "portraits" / "SadTalker_sad1.png")
    res = LandmarkExtractor().image(img)
    return img, res.landmarks[0].astype(np.float64)


def tinted(img, shift=(35, -20, 10)):
    return np.clip(img.astype(int) + np.array(shift), 0, 255).astype(np.uint8)


@pytest.mark.slow
def test_colour_matched_and_untouched_outside(portrait):
    from thead.face.paste import FaceBlender, face_mask

    img, lm = portrait
    out = FaceBlender(img.shape[:2], smoothing=0)(img, tinted(img), lm)
    region = face_mask(img.shape[:2], lm) > 0
    far = ~__import__("cv2").dilate(region.astype(np.uint8), np.ones((61, 61), np.uint8)).astype(bool)
    assert np.abs(out[far].astype(int) - img[far]).max() <= 1  # the picture outside the face is kept
    inside = np.abs(out[region].astype(int) - img[region]).mean(0)
    naive = np.abs(tinted(img)[region].astype(int) - img[region]).mean(0)
    assert (inside < 6).all() and (naive > 9).all()  # the tint is matched away, a plain paste keeps it


@pytest.mark.slow
def test_no_seam_along_the_mask(portrait):
    """The change from the original fades smoothly: no step between neighbouring pixels at the region's edge,
    where a hard paste of the same patch has one of the tint's size."""
    import cv2

    from thead.face.paste import FaceBlender, face_mask

    img, lm = portrait
    patch = tinted(img)
    out = FaceBlender(img.shape[:2], smoothing=0, color_match=False)(img, patch, lm)
    mask = face_mask(img.shape[:2], lm) > 0
    hard = np.where(mask[..., None], patch, img)
    edge = cv2.morphologyEx(mask.astype(np.uint8), cv2.MORPH_GRADIENT, np.ones((3, 3), np.uint8)).astype(bool)

    def step(x):
        d = x.astype(float) - img
        g = np.abs(np.diff(d, axis=0))[:, :-1] + np.abs(np.diff(d, axis=1))[:-1]
        return g.sum(-1)[edge[:-1, :-1]].max()

    assert step(hard) > 100 and step(out) < 0.15 * step(hard)  # a ramp over the feather band, not a step


def test_mask_and_colour_are_stable_over_frames(portrait):
    from thead.face.paste import FaceBlender

    img, lm = portrait
    rng = np.random.default_rng(0)
    jitter = [lm + rng.normal(0, 2.0, lm.shape) for _ in range(6)]

    def flicker(smoothing):
        b = FaceBlender(img.shape[:2], smoothing=smoothing)
        outs = [b(img, tinted(img), j).astype(float) for j in jitter]
        return np.mean([np.abs(a - c).mean() for a, c in zip(outs[1:], outs[:-1])])

    assert flicker(0.6) < 0.8 * flicker(0.0)


def test_crop_paste_with_landmarks_leaves_no_rectangle(portrait):
    from thead.face.crop import Crop, CropPaste

    img, lm = portrait
    center = lm[30]
    crop = Crop((float(center[0]), float(center[1])), 2.2 * float(np.ptp(lm[:, 0])), 128)
    patch = tinted(crop.image(img))
    cp = CropPaste(crop, img.shape[:2], grow=0.1)
    out = cp(img, patch, lm)
    # the crop's rectangle border (in the frame) is unchanged: only the face region was blended
    corners = cp.to_frame(np.array([[2.0, 2.0], [125.0, 2.0], [2.0, 125.0], [125.0, 125.0]]))
    for x, y in np.round(corners).astype(int):
        if 0 <= y < img.shape[0] and 0 <= x < img.shape[1]:
            assert np.abs(out[y, x].astype(int) - img[y, x]).max() <= 2
    assert np.abs(cp.to_frame(crop.points(lm)) - lm).max() < 1e-3  # to_frame inverts the crop
    legacy = cp(img, patch)  # without landmarks: the feathered rectangle, as before
    assert legacy.shape == img.shape


def test_bad_arguments(portrait):
    from thead.face.paste import FaceBlender

    img, lm = portrait
    b = FaceBlender(img.shape[:2])
    with pytest.raises(ValueError, match="finite"):
        b(img, img, np.full((68, 2), np.nan))
    with pytest.raises(ValueError, match="expected"):
        b(img, img[:10], lm)
    with pytest.raises(ValueError):
        FaceBlender(img.shape[:2], feather=0)
