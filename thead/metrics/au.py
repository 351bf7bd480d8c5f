"""AU intensities of single images with thead's own analysis chain (dlib landmarks -> ICT fit -> FACS table), the
stand-in for the OpenFace estimates GATH section 5 computes on syntheses."""

from __future__ import annotations

import numpy as np

from thead.face.au import AU_COLUMNS, au_from_blendshapes

MIN_SIDE_PX = 400  # 100 px crops are upscaled before landmark detection


class ImageAUs:
    def __init__(self):
        from thead.face.facemodel import load_face_model
        from thead.face.landmarks import LandmarkExtractor

        self.model = load_face_model()
        self.lmk = LandmarkExtractor()

    def __call__(self, rgb: np.ndarray) -> np.ndarray:
        """(H, W, 3) uint8 -> (len(AU_COLUMNS),) float32 intensities 0-5, NaN when no face is found."""
        from thead.face.fit import FitConfig, fit_landmarks
        from thead.media.image import upscale_min_side

        rgb = upscale_min_side(rgb, MIN_SIDE_PX)
        res = self.lmk.image(rgb)
        if not res.detected[0]:
            return np.full(len(AU_COLUMNS), np.nan, np.float32)
        fr = fit_landmarks(self.model, res.landmarks, FitConfig(iters=300, iters_rigid=80))
        return au_from_blendshapes(fr.expression, self.model.exp_names)[0]
