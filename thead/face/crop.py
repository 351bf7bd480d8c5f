"""Face crops without alignment (FLNet "Network Inputs" and "Dataset"): the face is centred and scaled, never rotated.

FLNet crops each frame so that the nose tip lies at the image centre (TCD-TIMIT), or the midpoint of the two outer
eye corners when the nose tip is unstable (FaceForensics), resizes to 224x224 and performs no further alignment, so
that the network sees (and learns to produce) the natural head motion of talking. The paper does not give the crop
size relative to the face; thead uses one side length per clip, ``scale`` x the clip's median outer-eye-corner
distance (2.8 puts the whole face, chin and forehead inside the crop with some background), so a clip never zooms.

Landmark indices are 0-based ibug-68 (dlib order): nose tip 30, outer eye corners 36 and 45, outer middle lip points
51 and 57 (the paper's 52 and 58, 1-based).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import numpy as np

NOSE_TIP = 30
OUTER_EYE_CORNERS = (36, 45)
OUTER_LIP_MIDDLE = (51, 57)  # FLNet: "index 52 & 58 for Dlib landmark starting from 1"
CENTERS = ("nose", "eyes")


def mouth_openness(landmarks: np.ndarray) -> np.ndarray:
    """Distance between the outer middle lip landmarks (FLNet's bank-selection criterion).

    Args:
        landmarks: (..., 68, 2) px.

    Returns:
        (...,) px, NaN where the landmarks are NaN.
    """
    a, b = OUTER_LIP_MIDDLE
    return np.linalg.norm(landmarks[..., a, :] - landmarks[..., b, :], axis=-1)


def eye_corner_distance(landmarks: np.ndarray) -> np.ndarray:
    """(..., 68, 2) -> (...,) distance between the outer eye corners, px."""
    a, b = OUTER_EYE_CORNERS
    return np.linalg.norm(landmarks[..., a, :] - landmarks[..., b, :], axis=-1)


def crop_center(landmarks: np.ndarray, center: str = "nose") -> np.ndarray:
    """(..., 68, 2) -> (..., 2) crop centre: the nose tip, or the midpoint of the outer eye corners."""
    if center == "nose":
        return landmarks[..., NOSE_TIP, :]
    if center == "eyes":
        a, b = OUTER_EYE_CORNERS
        return 0.5 * (landmarks[..., a, :] + landmarks[..., b, :])
    raise ValueError(f"crop centre must be one of {', '.join(CENTERS)}, got {center!r}")


@dataclass(frozen=True)
class Crop:
    """A square crop: source pixel ``p`` maps to crop pixel ``(p - center) * zoom + (size - 1) / 2``."""

    center: tuple[float, float]  # source px
    side: float  # source px covered by the crop
    size: int  # crop px

    @property
    def zoom(self) -> float:
        return self.size / self.side

    def matrix(self) -> np.ndarray:
        """2x3 affine matrix source -> crop (for cv2.warpAffine)."""
        z, c = self.zoom, (self.size - 1) / 2.0
        return np.array([[z, 0.0, c - z * self.center[0]], [0.0, z, c - z * self.center[1]]], np.float64)

    def points(self, pts: np.ndarray) -> np.ndarray:
        """Source px (..., 2) -> crop px (..., 2) (NaN stays NaN)."""
        c = (self.size - 1) / 2.0
        return ((pts - np.asarray(self.center)) * self.zoom + c).astype(np.float32)

    def image(self, rgb: np.ndarray) -> np.ndarray:
        """(H, W, 3) uint8 -> (size, size, 3) uint8; outside the frame the border pixels are repeated."""
        import cv2

        interp = cv2.INTER_AREA if self.zoom < 1 else cv2.INTER_LINEAR
        return cv2.warpAffine(rgb, self.matrix(), (self.size, self.size), flags=interp,
                              borderMode=cv2.BORDER_REPLICATE)


class CropPaste:
    """The inverse of ``Crop.image``: put a (size, size, 3) crop back into full frames of one size, blended in with a
    feathered border (alpha 1 inside, falling linearly to 0 over the outer ``feather`` fraction of the crop side), so
    a generated crop's edge does not show. Parts of the crop that fall outside the frame are dropped.

    Args:
        crop: the crop the patch came from.
        frame_shape: (H, W) of the frames pasted into.
        feather: fraction of the crop side, (0, 0.5].
    """

    def __init__(self, crop: Crop, frame_shape: tuple[int, int], feather: float = 0.08, grow: float = 0.0,
                 smoothing: float = 0.6):
        import cv2

        from thead.face.paste import FaceBlender

        if not 0 < feather <= 0.5:
            raise ValueError(f"feather must be in (0, 0.5], got {feather}")
        self.crop, (self.h, self.w) = crop, frame_shape
        self.inverse = cv2.invertAffineTransform(crop.matrix())
        r = np.arange(crop.size, dtype=np.float32)
        edge = np.minimum(r + 0.5, crop.size - 0.5 - r) / (feather * crop.size)
        ramp = np.clip(edge, 0, 1)
        self.alpha = self._warp(np.minimum(ramp[:, None], ramp[None, :]), cv2.BORDER_CONSTANT)[..., None]
        self.blender = FaceBlender(frame_shape, grow=grow, smoothing=smoothing)

    def _warp(self, img: np.ndarray, border: int) -> np.ndarray:
        import cv2

        return cv2.warpAffine(img, self.inverse, (self.w, self.h), flags=cv2.INTER_LINEAR, borderMode=border)

    def __call__(self, frame: np.ndarray, patch: np.ndarray, landmarks: Optional[np.ndarray] = None) -> np.ndarray:
        """(H, W, 3) uint8 frame + (size, size, 3) uint8 patch -> (H, W, 3) uint8.

        With ``landmarks`` ((68, 2) or (N, 68, 2) frame pixels) the patch is blended seamlessly along the face
        (``thead.face.paste.FaceBlender``: feathered face mask, colour matched, Laplacian pyramid, smoothed over
        frames); without, the whole crop goes in with its feathered border.
        """
        import cv2

        if frame.shape[:2] != (self.h, self.w) or patch.shape[:2] != (self.crop.size,) * 2:
            raise ValueError(f"paste: frame {frame.shape[:2]} / patch {patch.shape[:2]} do not match "
                             f"({self.h}, {self.w}) / {self.crop.size}")
        if landmarks is not None:
            up = self._warp(patch, cv2.BORDER_REPLICATE)
            return self.blender(frame, up, landmarks, self.alpha[..., 0] > 0.99)
        up = self._warp(patch.astype(np.float32), cv2.BORDER_REPLICATE)
        return np.clip(frame * (1 - self.alpha) + up * self.alpha + 0.5, 0, 255).astype(np.uint8)

    def to_frame(self, points: np.ndarray) -> np.ndarray:
        """(..., 2) crop pixels -> frame pixels (the inverse crop affine)."""
        p = np.asarray(points, np.float64)
        return p @ self.inverse[:, :2].T + self.inverse[:, 2]


def clip_side(landmarks: np.ndarray, scale: float = 2.8) -> float:
    """One crop side for a whole clip: ``scale`` x the median outer-eye-corner distance over frames with a face.

    Raises:
        ValueError: no frame has landmarks.
    """
    d = eye_corner_distance(landmarks)
    d = d[np.isfinite(d)]
    if d.size == 0:
        raise ValueError("no frame with landmarks")
    return float(scale * np.median(d))


def crops_for_clip(landmarks: np.ndarray, size: int, center: str = "nose", scale: float = 2.8) -> list:
    """Per-frame crops of a clip (T, 68, 2): one side length, centre per frame; None where there is no face."""
    side = clip_side(landmarks, scale)
    centers = crop_center(landmarks, center)
    return [Crop((float(c[0]), float(c[1])), side, size) if np.isfinite(c).all() else None for c in centers]
