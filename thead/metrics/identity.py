"""Identity similarity with dlib's face-recognition ResNet (``dlib_face_recognition_resnet_model_v1.dat``, a
ResNet-34-like network trained for 128-D face descriptors; two faces of one person lie within Euclidean distance 0.6,
dlib's documented threshold)."""

from __future__ import annotations

from typing import Optional

import numpy as np

from thead.face.models_path import FACE_RECOGNITION_RESNET, dlib_model

SAME_PERSON_DISTANCE = 0.6  # dlib's threshold on descriptor distance
MIN_FACE_PX = 200  # small crops (GATH's 100 px) are upscaled to this before detection


class FaceEmbedder:
    """128-D dlib descriptors of the main face in an image."""

    def __init__(self):
        import dlib

        from thead.face.landmarks import LandmarkExtractor

        self.net = dlib.face_recognition_model_v1(str(dlib_model(FACE_RECOGNITION_RESNET)))
        self.lmk = LandmarkExtractor()
        self._dlib = dlib

    def __call__(self, rgb: np.ndarray) -> Optional[np.ndarray]:
        """(H, W, 3) uint8 -> (128,) float32 descriptor, or None when no face is found."""
        import cv2

        from thead.media.image import upscale_min_side

        rgb = upscale_min_side(rgb, MIN_FACE_PX)
        res = self.lmk.image(rgb)
        if not res.detected[0]:
            return None
        b = res.boxes[0]
        gray = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
        rect = self._dlib.rectangle(int(b[0]), int(b[1]), int(b[2]), int(b[3]))
        shape = self.lmk.predictor(gray, rect)
        return np.asarray(self.net.compute_face_descriptor(np.ascontiguousarray(rgb), shape), np.float32)


def descriptor_distance(a: Optional[np.ndarray], b: Optional[np.ndarray]) -> float:
    """Euclidean distance of two descriptors (NaN when either face was not found)."""
    if a is None or b is None:
        return float("nan")
    return float(np.linalg.norm(a - b))
