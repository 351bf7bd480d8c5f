import numpy as np
import pytest

from thead.face.crop import Crop, clip_side, crop_center, crops_for_clip, mouth_openness


def test_crop_maps_points_and_pixels_consistently(happy):
    from thead.face.landmarks import LandmarkExtractor
    from thead.media import read_image

    img = read_image(happy)
    lmk = LandmarkExtractor().image(img).landmarks[0]
    (c,) = crops_for_clip(lmk[None], 96)
    p = c.points(lmk)
    assert p[30] == pytest.approx([47.5, 47.5])  # nose tip at the centre
    out = c.image(img)
    assert out.shape == (96, 96, 3)
    # the pixel under a mapped landmark is the source pixel under the landmark
    for j in (8, 36, 45, 48):
        src = img[int(round(lmk[j, 1])), int(round(lmk[j, 0]))].astype(int)
        dst = out[int(round(p[j, 1])), int(round(p[j, 0]))].astype(int)
        assert np.abs(src - dst).max() < 40


def test_one_side_per_clip_and_centres_follow_the_face(clip_landmarks):
    lm = clip_landmarks.landmarks
    crops = crops_for_clip(lm, 128, "eyes", 3.0)
    sides = {c.side for c in crops if c is not None}
    assert len(sides) == 1  # no zooming within a clip
    assert sides.pop() == pytest.approx(clip_side(lm, 3.0))
    i = next(k for k, c in enumerate(crops) if c is not None)
    assert crops[i].center == pytest.approx(tuple(crop_center(lm[i], "eyes")))
    eyes = crops[i].points(lm[i])[[36, 45]].mean(0)
    assert eyes == pytest.approx([63.5, 63.5], abs=1e-3)


def test_mouth_openness_uses_outer_lip_middle_points():
    lm = np.zeros((2, 68, 2), np.float32)
    lm[0, 51] = (10, 20)
    lm[0, 57] = (10, 32)
    lm[1, 51] = (0, 0)
    lm[1, 57] = (3, 4)
    assert mouth_openness(lm).tolist() == [12.0, 5.0]


def test_bad_centre_and_empty_clip():
    with pytest.raises(ValueError, match="nose, eyes"):
        crop_center(np.zeros((68, 2)), "chin")
    with pytest.raises(ValueError, match="no frame"):
        clip_side(np.full((3, 68, 2), np.nan))
    assert Crop((10.0, 10.0), 20.0, 40).zoom == 2.0
