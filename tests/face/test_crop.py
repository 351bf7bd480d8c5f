import numpy as np
import pytest

from thead.face.crop import Crop, CropPaste, clip_side, crop_center, crops_for_clip, mouth_openness


@pytest.mark.slow
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


@pytest.mark.slow
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


def test_paste_is_the_inverse_of_the_crop(happy):
    from thead.media import read_image

    img = read_image(happy)
    h, w = img.shape[:2]
    crop = Crop((w * 0.5, h * 0.45), min(h, w) * 0.5, 128)  # downscaling crop
    paste = CropPaste(crop, (h, w))
    back = paste(img, crop.image(img))
    x0, y0 = int(crop.center[0] - crop.side / 4), int(crop.center[1] - crop.side / 4)
    inner = (slice(y0, y0 + int(crop.side / 2)), slice(x0, x0 + int(crop.side / 2)))
    # inside: the round trip loses only the resampling's detail; outside the crop the frame is untouched
    assert np.abs(back[inner].astype(int) - img[inner]).mean() < 6
    assert np.array_equal(back[:, :int(crop.center[0] - crop.side / 2) - 1], img[:, :int(crop.center[0] -
                                                                                       crop.side / 2) - 1])
    red = np.zeros((128, 128, 3), np.uint8)
    red[..., 0] = 255
    out = paste(img, red)
    cy, cx = int(crop.center[1]), int(crop.center[0])
    assert tuple(out[cy, cx]) == (255, 0, 0)
    # the border is feathered: half-way through the ramp the frame and the patch mix
    edge_x = int(round(crop.center[0] - crop.side / 2 + 0.04 * crop.side))
    assert 60 < out[cy, edge_x, 0] - 0.5 * img[cy, edge_x, 0] < 200 and out[cy, edge_x, 1] < img[cy, edge_x, 1]


def test_paste_of_a_crop_that_leaves_the_frame():
    frame = np.full((50, 80, 3), 7, np.uint8)
    crop = Crop((5.0, 5.0), 40.0, 32)  # three quarters outside
    out = CropPaste(crop, (50, 80))(frame, np.full((32, 32, 3), 200, np.uint8))
    assert out[8, 8, 0] == 200 and out[40, 70, 0] == 7
    with pytest.raises(ValueError, match="do not match"):
        CropPaste(crop, (50, 80))(frame[:10], np.zeros((32, 32, 3), np.uint8))
    with pytest.raises(ValueError, match="feather"):
        CropPaste(crop, (50, 80), feather=0.0)
