"""AU intensities of single images with thead's own analysis chain (dlib landmarks -> ICT fit -> FACS table), the
stand-in for the OpenFace estimates GATH section 5 computes on syntheses."""

from __future__ import annotations

import numpy as np

from thead.face.au import AU_COLUMNS, au_from_blendshapes

MIN_SIDE_PX = 400  # 100 px crops are upscaled before landmark detection


class ImageAUs:
    """The chain: image upscaled to ``MIN_SIDE_PX``, dlib's 68 landmarks, ICT fit (80 rigid + 300 full
    iterations), FACS table. ``extractor``: a ``LandmarkExtractor`` to share (default: its own)."""

    def __init__(self, extractor=None):
        from thead.face.facemodel import load_face_model
        from thead.face.landmarks import LandmarkExtractor

        self.model = load_face_model()
        self.lmk = extractor if extractor is not None else LandmarkExtractor()

    def expression(self, rgb: np.ndarray) -> np.ndarray | None:
        """(H, W, 3) uint8 -> the ICT expression coefficients (K_exp,) float32 in [0, 1] the chain fits; None when
        no face is found."""
        from thead.face.fit import FitConfig, fit_landmarks
        from thead.media.image import upscale_min_side

        rgb = upscale_min_side(rgb, MIN_SIDE_PX)
        res = self.lmk.image(rgb)
        if not res.detected[0]:
            return None
        return fit_landmarks(self.model, res.landmarks[:1], FitConfig(iters=300, iters_rigid=80)).expression[0]

    def __call__(self, rgb: np.ndarray) -> np.ndarray:
        """(H, W, 3) uint8 -> (len(AU_COLUMNS),) float32 intensities 0-5, NaN when no face is found."""
        e = self.expression(rgb)
        if e is None:
            return np.full(len(AU_COLUMNS), np.nan, np.float32)
        return au_from_blendshapes(e[None], self.model.exp_names)[0]
