"""Seamless paste-back of a synthesized face into the original picture or video frame, shared by
``synthesize gath|flnet|facial --paste-back``.

A generated crop pasted as a rectangle (or a frontalization's polygon) shows its edge, and its colours rarely match
the surrounding skin exactly; users of talking-head tools notice seams first. ``FaceBlender`` therefore:

1. blends only inside the face: the convex hull of the ibug-68 jaw line and the eyebrows raised by a fraction of
   the face height (the forehead), intersected with where the patch has pixels, eroded and feathered (Gaussian);
2. matches colour: the patch's per-channel mean and standard deviation in CIE L*a*b* inside that region are moved to
   the frame's (Reinhard et al., "Color Transfer between Images", 2001), so the face has the picture's tone;
3. blends with a Laplacian pyramid (Burt & Adelson, "A Multiresolution Spline", 1983): low frequencies (shading,
   skin tone) mix over a wide band, high frequencies (texture, edges) over a narrow one, so no edge or halo shows;
4. for video, smooths the mask's landmarks and the colour statistics over time (exponential moving average), so the
   seam and the tone do not flicker from frame to frame.

Gradient-domain cloning (OpenCV's ``seamlessClone``) was tried as the field often does, but it re-solves a Poisson
problem per frame whose boundary follows the frame's content, which makes skin tone pump in video; the pyramid
blend with matched statistics is stable and needs no solver.
"""

from __future__ import annotations

from typing import Optional

import numpy as np

JAW = list(range(0, 17))  # ibug-68 indices, 0-based
BROWS = list(range(17, 27))


def face_mask(shape: tuple[int, int], landmarks: np.ndarray, forehead: float = 0.25, grow: float = 0.0
              ) -> np.ndarray:
    """(H, W) uint8 0/255: the convex hull of the jaw line and the eyebrows raised by ``forehead`` x the face height,
    for one face or the union over several, dilated by ``grow`` x the face height (hair, ears and neck).

    Args:
        landmarks: (68, 2) or (N, 68, 2) float pixels (x, y), ibug order.
    """
    import cv2

    sets = np.asarray(landmarks, np.float64).reshape(-1, 68, 2)
    mask = np.zeros(shape, np.uint8)
    height = 0.0
    for lm in sets:
        brows = lm[BROWS].copy()
        h = lm[JAW][:, 1].max() - lm[BROWS][:, 1].min()
        height = max(height, h)
        brows[:, 1] -= forehead * h
        hull = cv2.convexHull(np.round(np.concatenate([lm[JAW], brows])).astype(np.int32))
        cv2.fillConvexPoly(mask, hull, 255)
    k = int(round(grow * height))
    if k > 0:
        mask = cv2.dilate(mask, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * k + 1, 2 * k + 1)))
    return mask


def _pyramids(img: np.ndarray, levels: int) -> list[np.ndarray]:
    import cv2

    g = [img]
    for _ in range(levels):
        g.append(cv2.pyrDown(g[-1]))
    lap = []
    for i in range(levels):
        up = cv2.pyrUp(g[i + 1], dstsize=(g[i].shape[1], g[i].shape[0]))
        lap.append(g[i] - up)
    lap.append(g[-1])
    return lap


def laplacian_blend(a: np.ndarray, b: np.ndarray, alpha: np.ndarray, levels: int = 5) -> np.ndarray:
    """Multi-band blend of ``b`` over ``a``: (H, W, 3) float32 images, ``alpha`` (H, W) float32 in [0, 1] (1: b).

    Returns:
        (H, W, 3) float32.
    """
    import cv2

    h, w = alpha.shape
    levels = int(max(1, min(levels, np.floor(np.log2(max(2, min(h, w)))) - 2)))
    la, lb = _pyramids(a, levels), _pyramids(b, levels)
    ga = [alpha]
    for _ in range(levels):
        ga.append(cv2.pyrDown(ga[-1]))
    out = None
    for i in range(levels, -1, -1):
        m = ga[i][..., None]
        band = la[i] * (1 - m) + lb[i] * m
        out = band if out is None else cv2.pyrUp(out, dstsize=(band.shape[1], band.shape[0])) + band
    return out


class FaceBlender:
    """Seamless paste of a synthesized face into frames of one size (see the module docstring).

    Args:
        frame_shape: (H, W) of the frames.
        feather: width of the blend band as a fraction of the face's size (the mask is eroded by half of it, then
            blurred by it), in (0, 0.5].
        color_match: move the patch's L*a*b* statistics to the frame's inside the face.
        smoothing: weight of the previous frame's mask landmarks and colour statistics, [0, 1) (0: none; stills).
        levels: pyramid levels of the blend.
        grow: dilate the face region by this fraction of the face height (FACIAL pastes the whole generated head).
    """

    def __init__(self, frame_shape: tuple[int, int], feather: float = 0.12, color_match: bool = True,
                 smoothing: float = 0.6, levels: int = 5, grow: float = 0.0):
        if not 0 < feather <= 0.5:
            raise ValueError(f"feather must be in (0, 0.5], got {feather}")
        if not 0 <= smoothing < 1:
            raise ValueError(f"smoothing must be in [0, 1), got {smoothing}")
        self.h, self.w = frame_shape
        self.feather, self.color_match, self.smoothing, self.levels = feather, color_match, smoothing, levels
        self.grow = grow
        self._lm: Optional[np.ndarray] = None
        self._stats: Optional[tuple[np.ndarray, np.ndarray]] = None

    def alpha(self, landmarks: np.ndarray, valid: Optional[np.ndarray] = None) -> tuple[np.ndarray, float]:
        """(H, W) float32 blend weight: the feathered face region (inside ``valid`` (H, W) bool, if given), and the
        width of its feather band, pixels."""
        import cv2

        mask = face_mask((self.h, self.w), landmarks, grow=self.grow)
        if valid is not None:
            mask[~valid] = 0
        ys, xs = np.nonzero(mask)
        if len(xs) == 0:
            return np.zeros((self.h, self.w), np.float32), 1.0
        size = max(xs.max() - xs.min(), ys.max() - ys.min(), 8)
        band = max(1.0, self.feather * size)
        k = int(max(1, round(band / 2)))
        inner = cv2.erode(mask, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * k + 1, 2 * k + 1)))
        a = cv2.GaussianBlur(inner.astype(np.float32) / 255.0, (0, 0), band / 2.5)
        if valid is not None:
            a[~valid] = 0
        return np.clip(a, 0, 1), band

    def _match(self, frame: np.ndarray, patch: np.ndarray, region: np.ndarray) -> np.ndarray:
        import cv2

        if region.sum() < 16:
            return patch
        lf = cv2.cvtColor(frame, cv2.COLOR_RGB2LAB).astype(np.float32)
        lp = cv2.cvtColor(patch, cv2.COLOR_RGB2LAB).astype(np.float32)
        mf, sf = lf[region].mean(0), lf[region].std(0) + 1e-3
        mp, sp = lp[region].mean(0), lp[region].std(0) + 1e-3
        gain, shift = sf / sp, mf - mp * sf / sp
        gain = np.clip(gain, 0.5, 2.0)  # a partly occluded face must not be stretched wildly
        if self._stats is not None and self.smoothing:
            g0, s0 = self._stats
            gain, shift = self.smoothing * g0 + (1 - self.smoothing) * gain, \
                self.smoothing * s0 + (1 - self.smoothing) * shift
        self._stats = (gain, shift)
        out = np.clip(lp * gain + shift, 0, 255).astype(np.uint8)
        return cv2.cvtColor(out, cv2.COLOR_LAB2RGB)

    def __call__(self, frame: np.ndarray, patch: np.ndarray, landmarks: np.ndarray,
                 valid: Optional[np.ndarray] = None) -> np.ndarray:
        """Blend ``patch`` into ``frame``.

        Args:
            frame: (H, W, 3) uint8 RGB, the original picture.
            patch: (H, W, 3) uint8 RGB, the synthesized face already warped into the frame's coordinates.
            landmarks: (68, 2) float pixels of the face in the frame (ibug order), or (N, 68, 2) for the union of
                several faces (FACIAL: the generated head and the frame's own); must be finite.
            valid: (H, W) bool, where ``patch`` has pixels (default everywhere).

        Returns:
            (H, W, 3) uint8 RGB.

        Raises:
            ValueError: mismatched sizes or non-finite landmarks.
        """
        if frame.shape[:2] != (self.h, self.w) or patch.shape[:2] != (self.h, self.w):
            raise ValueError(f"paste: frame {frame.shape[:2]} / patch {patch.shape[:2]}, expected {(self.h, self.w)}")
        lm = np.asarray(landmarks, np.float64)
        if lm.shape[-2:] != (68, 2) or lm.ndim > 3 or not np.isfinite(lm).all():
            raise ValueError("paste: landmarks must be (68, 2) or (N, 68, 2) finite pixels")
        if self._lm is not None and self.smoothing and self._lm.shape == lm.shape:
            lm = self.smoothing * self._lm + (1 - self.smoothing) * lm
        self._lm = lm
        a, band = self.alpha(lm, valid)
        support = _support(a, band)
        ys, xs = np.nonzero(support)
        if len(xs) == 0:
            return frame.copy()
        # Everything below runs on the support's bounding box: the picture outside it is kept exactly anyway.
        roi = np.s_[ys.min():ys.max() + 1, xs.min():xs.max() + 1]
        fr, pa, aa = frame[roi], patch[roi], a[roi]
        if self.color_match:
            pa = self._match(fr, pa, aa > 0.5)
        if valid is not None:  # the pyramid must not pull in whatever lies outside the patch
            pa = np.where(valid[roi][..., None], pa, fr)
        # Pyramid depth from the feather band: the coarsest band mixes over a few band widths around the face,
        # and the picture farther away is kept exactly.
        levels = int(np.clip(np.ceil(np.log2(band)) + 1, 1, self.levels))
        blended = laplacian_blend(fr.astype(np.float32), pa.astype(np.float32), aa, levels)
        blended = np.clip(blended + 0.5, 0, 255).astype(np.uint8)
        out = frame.copy()
        out[roi] = np.where(support[roi][..., None], blended, fr)
        return out


def _support(a: np.ndarray, band: float) -> np.ndarray:
    """Where a blend may change the picture: within two feather bands of the blend weight's non-zero region."""
    import cv2

    outside = (a <= 0.002).astype(np.uint8)
    if outside.all():
        return np.zeros(a.shape, bool)
    # distance to the region (a disk dilation by 2 bands, in time independent of the band)
    return cv2.distanceTransform(outside, cv2.DIST_L2, cv2.DIST_MASK_PRECISE) <= np.ceil(2 * band)
