"""68-point facial landmarks with dlib: detect, then track.

Detector: dlib's HOG frontal face detector (default) or its CNN ``mmod`` detector; landmarks: dlib's ibug-68
shape predictor (Kazemi & Sullivan, CVPR 2014). Both come from ``face_recognition_models``.

On video the detector is run only to (re)acquire the subject: every ``redetect_every`` frames inside a window
around the tracked face (downscaled so the face is ~``TRACK_FACE_PX`` wide), and on the whole frame when tracking
fails or the face is lost. In between, the box for frame t is derived from the landmarks of frame t-1, using the
detector-box/landmark-box relation measured at the last detection (so the predictor sees boxes like the ones it
was trained on). Tracking fails when the new landmark box overlaps the previous one by IoU < ``TRACK_MIN_IOU``.
Cost per frame is then close to the shape predictor's.

One subject per clip: the first detection picks the largest, most central face; later detections keep the face
overlapping the tracked one (IoU >= 0.3); if none overlaps, the pick is made afresh (counted as a switch).
Frames without a face keep NaN landmarks and ``detected=False``; ``interpolate_gaps`` fills short gaps linearly and
marks them ``interpolated``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Iterable, Optional

import numpy as np

from thead.face.models_path import MMOD_DETECTOR, SHAPE_PREDICTOR_68, dlib_model

N_LANDMARKS = 68
TRACK_FACE_PX = 120  # face width (px) the ROI re-detection is scaled to; HOG finds faces from ~80 px
DETECT_MIN_SIDE = 640  # full-frame detection downsizes frames whose shorter side exceeds this (px)
TRACK_MIN_IOU = 0.5
KEEP_SUBJECT_IOU = 0.3
OUTER_EYE_CORNERS = (36, 45)  # 0-based ibug indices, for the inter-ocular distance


Box = np.ndarray  # (4,) float: x0, y0, x1, y1 pixels


def iou(a: Box, b: Box) -> float:
    """Intersection over union of two x0,y0,x1,y1 boxes."""
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return float(inter / union) if union > 0 else 0.0


def landmark_box(pts: np.ndarray) -> Box:
    return np.array([pts[:, 0].min(), pts[:, 1].min(), pts[:, 0].max(), pts[:, 1].max()], np.float64)


def interocular(pts: np.ndarray) -> np.ndarray:
    """Outer-eye-corner distance (ibug 36-45), pixels. pts: (..., 68, 2) -> (...)."""
    return np.linalg.norm(pts[..., OUTER_EYE_CORNERS[0], :] - pts[..., OUTER_EYE_CORNERS[1], :], axis=-1)


def eye_aspect_ratio(pts: np.ndarray) -> np.ndarray:
    """Eye aspect ratio (Soukupova & Cech 2016), both eyes averaged: (..., 68, 2) -> (...). Open eyes ~0.25-0.3;
    a blink drops it towards 0."""

    def one(a: int) -> np.ndarray:
        p = pts[..., a:a + 6, :]
        v = np.linalg.norm(p[..., 1, :] - p[..., 5, :], axis=-1) + np.linalg.norm(p[..., 2, :] - p[..., 4, :], axis=-1)
        return v / (2 * np.linalg.norm(p[..., 0, :] - p[..., 3, :], axis=-1))

    return (one(36) + one(42)) / 2


def pick_subject(boxes: list[Box], width: int, height: int) -> int:
    """Index of the largest, most central face: area times (1 - distance of its centre from the image centre,
    as a fraction of the half-diagonal, halved)."""
    c = np.array([width / 2, height / 2])
    half_diag = np.hypot(width, height) / 2
    best, best_score = 0, -1.0
    for i, b in enumerate(boxes):
        area = (b[2] - b[0]) * (b[3] - b[1])
        d = np.linalg.norm(np.array([(b[0] + b[2]) / 2, (b[1] + b[3]) / 2]) - c) / half_diag
        s = area * (1 - 0.5 * d)
        if s > best_score:
            best, best_score = i, s
    return best


@dataclass
class TrackResult:
    """Per-clip landmark arrays; T frames."""

    landmarks: np.ndarray  # (T, 68, 2) float32 px, NaN where no face
    boxes: np.ndarray  # (T, 4) float32 px, NaN where no face
    detected: np.ndarray  # (T,) bool: a face was found (by the detector or by tracking)
    tracked: np.ndarray  # (T,) bool: landmarks came from tracking, not a detection on this frame
    interpolated: np.ndarray  # (T,) bool
    score: np.ndarray  # (T,) float32: detector score of the detection this frame descends from
    timestamps_s: np.ndarray  # (T,) float64
    n_faces: int = 0  # faces on the first frame with a face
    n_redetections: int = 0
    n_switches: int = 0
    extra: dict = field(default_factory=dict)

    def arrays(self) -> dict[str, np.ndarray]:
        return dict(landmarks=self.landmarks, boxes=self.boxes, detected=self.detected, tracked=self.tracked,
                    interpolated=self.interpolated, score=self.score, timestamps_s=self.timestamps_s)


class LandmarkExtractor:
    """dlib face detector + 68-point shape predictor with detect-then-track for video.

    Args:
        detector: "hog" (dlib.get_frontal_face_detector) or "cnn" (mmod_human_face_detector.dat; ~10x slower on CPU,
            better on non-frontal and small faces).
        redetect_every: frames between ROI re-detections while tracking (1 = detect on every frame).
        upsample: detector upsampling for still images (video uses 0 and scales instead).
    """

    def __init__(self, detector: str = "hog", redetect_every: int = 10, upsample: int = 1):
        import dlib

        if detector not in ("hog", "cnn"):
            raise ValueError(f"detector must be 'hog' or 'cnn', got {detector!r}")
        self.detector_name = detector
        self._hog = dlib.get_frontal_face_detector() if detector == "hog" else None
        self._cnn = dlib.cnn_face_detection_model_v1(str(dlib_model(MMOD_DETECTOR))) if detector == "cnn" else None
        self.predictor = dlib.shape_predictor(str(dlib_model(SHAPE_PREDICTOR_68)))
        self.redetect_every = max(1, int(redetect_every))
        self.upsample = upsample
        self._dlib = dlib

    # -- primitives -------------------------------------------------------------------------------------------
    def detect(self, gray: np.ndarray, upsample: int = 0) -> tuple[list[Box], list[float]]:
        """All faces in a (H, W) uint8 image: boxes (x0, y0, x1, y1 px) and detector scores."""
        if self._hog is not None:
            rects, scores, _ = self._hog.run(gray, upsample, 0.0)
            boxes = [np.array([r.left(), r.top(), r.right(), r.bottom()], np.float64) for r in rects]
            return boxes, [float(s) for s in scores]
        dets = self._cnn(gray, upsample)
        boxes = [np.array([d.rect.left(), d.rect.top(), d.rect.right(), d.rect.bottom()], np.float64) for d in dets]
        return boxes, [float(d.confidence) for d in dets]

    def detect_scaled(self, gray: np.ndarray, scale: float, offset=(0, 0), upsample: int = 0):
        import cv2

        if scale != 1.0:
            gray = cv2.resize(gray, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
        boxes, scores = self.detect(gray, upsample)
        ox, oy = offset
        return [b / scale + np.array([ox, oy, ox, oy]) for b in boxes], scores

    def shape(self, gray: np.ndarray, box: Box) -> np.ndarray:
        """(68, 2) float32 landmarks (x, y px) inside ``box``."""
        d = self._dlib
        rect = d.rectangle(int(round(box[0])), int(round(box[1])), int(round(box[2])), int(round(box[3])))
        s = self.predictor(gray, rect)
        return np.array([(p.x, p.y) for p in s.parts()], np.float32)

    def full_detect(self, gray: np.ndarray) -> tuple[list[Box], list[float]]:
        h, w = gray.shape
        scale = min(1.0, DETECT_MIN_SIDE / min(h, w))
        boxes, scores = self.detect_scaled(gray, scale)
        if not boxes and scale < 1.0:
            boxes, scores = self.detect(gray, 0)
        return boxes, scores

    def roi_detect(self, gray: np.ndarray, around: Box) -> tuple[list[Box], list[float]]:
        h, w = gray.shape
        bw, bh = around[2] - around[0], around[3] - around[1]
        cx, cy = (around[0] + around[2]) / 2, (around[1] + around[3]) / 2
        x0, y0 = int(max(0, cx - bw)), int(max(0, cy - bh))
        x1, y1 = int(min(w, cx + bw)), int(min(h, cy + bh))
        if x1 - x0 < 16 or y1 - y0 < 16:
            return [], []
        scale = min(1.0, TRACK_FACE_PX / max(bw, 1.0))
        return self.detect_scaled(np.ascontiguousarray(gray[y0:y1, x0:x1]), scale, (x0, y0))

    # -- images ---------------------------------------------------------------------------------------------------
    def image(self, rgb: np.ndarray) -> TrackResult:
        """Landmarks of the main face of a still image (T = 1); ``n_faces`` counts every face seen."""
        import cv2

        gray = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
        # Stills are one-off: upsample (finds faces down to ~40 px, e.g. in group photos) unless the image is big.
        up = self.upsample if max(gray.shape) <= 1280 else 0
        boxes, scores = self.detect(gray, up)
        if not boxes and up == 0 and self.upsample > 0 and gray.size <= 2000 * 2000:
            boxes, scores = self.detect(gray, self.upsample)
        res = _empty(1)
        res.n_faces = len(boxes)
        res.extra["all_boxes"] = [b.tolist() for b in boxes]
        if boxes:
            k = pick_subject(boxes, gray.shape[1], gray.shape[0])
            res.landmarks[0] = self.shape(gray, boxes[k])
            res.boxes[0] = boxes[k]
            res.detected[0] = True
            res.score[0] = scores[k]
        return res

    # -- video ------------------------------------------------------------------------------------------------------
    def video(self, frames: Iterable[tuple[int, float, np.ndarray]], n_hint: int = 0,
              on_frame: Optional[Callable[[int, np.ndarray, Optional[np.ndarray], Optional[Box]], None]] = None
              ) -> TrackResult:
        """Detect-then-track over ``(index, timestamp_s, rgb)`` frames, streamed.

        ``on_frame(index, rgb, landmarks or None, box or None)`` is called per frame (overlays, progress).
        """
        import cv2

        lms, boxes, det, trk, score, ts = [], [], [], [], [], []
        prev: Optional[np.ndarray] = None  # landmarks of the previous frame
        ratios = None  # detector box relative to landmark box, from the last detection
        last_box: Optional[Box] = None
        last_score = np.nan
        since = 0
        n_faces, n_redet, n_switch = 0, 0, 0
        for _, t, rgb in frames:
            gray = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
            h, w = gray.shape
            pts = None
            box = None
            tracked = False
            if prev is not None and since < self.redetect_every:
                box = _box_from_landmarks(prev, ratios)
                cand = self.shape(gray, box)
                if iou(landmark_box(cand), landmark_box(prev)) >= TRACK_MIN_IOU:
                    pts, tracked = cand, True
                    since += 1
            if pts is None:
                cands, cscores = ([], [])
                if last_box is not None:
                    cands, cscores = self.roi_detect(gray, last_box)
                if not cands:
                    cands, cscores = self.full_detect(gray)
                n_redet += 1
                if cands:
                    k = None
                    if last_box is not None:
                        ious = [iou(b, last_box) for b in cands]
                        if max(ious) >= KEEP_SUBJECT_IOU:
                            k = int(np.argmax(ious))
                    if k is None:
                        k = pick_subject(cands, w, h)
                        if last_box is not None:
                            n_switch += 1
                    if n_faces == 0:
                        n_faces = len(cands)
                    box = cands[k]
                    pts = self.shape(gray, box)
                    ratios = _box_ratios(box, landmark_box(pts))
                    last_score = cscores[k]
                    since = 0
            if pts is not None:
                prev = pts
                last_box = box  # detector convention in both cases (tracked boxes come from the ratios)
                lms.append(pts)
                boxes.append(np.asarray(box, np.float32))
                det.append(True)
                score.append(last_score)
            else:
                prev = None
                lms.append(np.full((N_LANDMARKS, 2), np.nan, np.float32))
                boxes.append(np.full(4, np.nan, np.float32))
                det.append(False)
                score.append(np.nan)
            trk.append(tracked)
            ts.append(t)
            if on_frame is not None:
                on_frame(len(ts) - 1, rgb, pts, box)
        n = len(ts)
        res = TrackResult(
            landmarks=np.asarray(lms, np.float32).reshape(n, N_LANDMARKS, 2),
            boxes=np.asarray(boxes, np.float32).reshape(n, 4),
            detected=np.asarray(det, bool), tracked=np.asarray(trk, bool), interpolated=np.zeros(n, bool),
            score=np.asarray(score, np.float32), timestamps_s=np.asarray(ts, np.float64),
            n_faces=n_faces, n_redetections=n_redet, n_switches=n_switch,
        )
        return res


def _empty(n: int) -> TrackResult:
    return TrackResult(
        landmarks=np.full((n, N_LANDMARKS, 2), np.nan, np.float32), boxes=np.full((n, 4), np.nan, np.float32),
        detected=np.zeros(n, bool), tracked=np.zeros(n, bool), interpolated=np.zeros(n, bool),
        score=np.full(n, np.nan, np.float32), timestamps_s=np.zeros(n, np.float64),
    )


def _box_ratios(det_box: Box, lmk_box: Box) -> np.ndarray:
    lw, lh = max(lmk_box[2] - lmk_box[0], 1.0), max(lmk_box[3] - lmk_box[1], 1.0)
    return np.array([(det_box[0] - lmk_box[0]) / lw, (det_box[1] - lmk_box[1]) / lh,
                     (det_box[2] - lmk_box[2]) / lw, (det_box[3] - lmk_box[3]) / lh])


def _box_from_landmarks(pts: np.ndarray, ratios: np.ndarray) -> Box:
    lb = landmark_box(pts)
    lw, lh = lb[2] - lb[0], lb[3] - lb[1]
    return lb + ratios * np.array([lw, lh, lw, lh])


def interpolate_gaps(res: TrackResult, max_gap: int) -> int:
    """Fill interior runs of at most ``max_gap`` frames without a face by linear interpolation (in place).

    Leading and trailing runs are left empty. Returns the number of frames filled; they get ``interpolated=True``
    and keep ``detected=False``.
    """
    miss = ~res.detected
    n = len(miss)
    filled = 0
    i = 0
    while i < n:
        if not miss[i]:
            i += 1
            continue
        j = i
        while j < n and miss[j]:
            j += 1
        if i > 0 and j < n and (j - i) <= max_gap:
            for k in range(i, j):
                a = (k - i + 1) / (j - i + 1)
                res.landmarks[k] = (1 - a) * res.landmarks[i - 1] + a * res.landmarks[j]
                res.boxes[k] = (1 - a) * res.boxes[i - 1] + a * res.boxes[j]
                res.interpolated[k] = True
                filled += 1
        i = j
    return filled
