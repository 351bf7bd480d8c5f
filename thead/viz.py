"""Things a person can look at: landmark and mesh overlays, AU curves, contact sheets."""

from __future__ import annotations

from pathlib import Path
from typing import Optional, Sequence

import numpy as np

# ibug-68 contour groups, 0-based, end exclusive; closed groups loop back
_GROUPS = [(0, 17, False), (17, 22, False), (22, 27, False), (27, 31, False), (31, 36, False), (36, 42, True),
           (42, 48, True), (48, 60, True), (60, 68, True)]
PREVIEW_MAX_SIDE = 720  # px; previews of larger frames are downscaled


def preview_scale(width: int, height: int) -> float:
    return min(1.0, PREVIEW_MAX_SIDE / max(width, height))


def draw_landmarks(rgb: np.ndarray, pts: Optional[np.ndarray], box: Optional[np.ndarray] = None,
                   scale: float = 1.0, color=(0, 255, 0), label: Optional[str] = None) -> np.ndarray:
    """A copy of ``rgb`` (resized by ``scale``) with the 68 landmarks drawn as ibug contours (and the box)."""
    import cv2

    img = rgb if scale == 1.0 else cv2.resize(rgb, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    img = np.ascontiguousarray(img).copy()
    t = max(1, int(round(img.shape[1] / 400)))
    if pts is None or not np.isfinite(pts).all():
        cv2.putText(img, "no face", (10, 30 * t), cv2.FONT_HERSHEY_SIMPLEX, 0.8 * t, (255, 0, 0), 2 * t)
        return img
    p = np.round(np.asarray(pts) * scale).astype(np.int32)
    for a, b, closed in _GROUPS:
        cv2.polylines(img, [p[a:b]], closed, color, t, cv2.LINE_AA)
    for q in p:
        cv2.circle(img, (int(q[0]), int(q[1])), t + 1, (255, 255, 0), -1, cv2.LINE_AA)
    if box is not None and np.isfinite(box).all():
        b = np.round(np.asarray(box) * scale).astype(int)
        cv2.rectangle(img, (b[0], b[1]), (b[2], b[3]), (255, 128, 0), t)
    if label:
        cv2.putText(img, label, (10, img.shape[0] - 10), cv2.FONT_HERSHEY_SIMPLEX, 0.5 * t, (255, 255, 255), t)
    return img


class MeshOverlay:
    """Draw a fitted 3DMM mesh (Lambert-shaded, semi-transparent) over frames with the shared rasteriser."""

    def __init__(self, model, width: int, height: int, scale: float = 1.0, alpha: float = 0.55):
        from thead.face.render import Rasterizer

        self.model = model
        self.scale = scale
        self.w, self.h = int(round(width * scale)), int(round(height * scale))
        self.r = Rasterizer(self.w, self.h)
        self.alpha = alpha

    def __call__(self, rgb: np.ndarray, verts_px: np.ndarray) -> np.ndarray:
        """rgb: (H, W, 3) uint8; verts_px: (V, 3) x, y px, depth (from ``fit.project_vertices``)."""
        import cv2

        v = verts_px * self.scale
        img = rgb if self.scale == 1.0 else cv2.resize(rgb, (self.w, self.h), interpolation=cv2.INTER_AREA)
        # normals in image space: y is down, so flip it back before shading with a light from the camera
        vn = self.model.vertex_normals(v * np.array([1.0, -1.0, 1.0]))
        shade = 0.25 + 0.75 * np.clip(vn[:, 2:3], 0, 1)
        attr, mask = self.r.render(v, self.model.triangles, shade)
        mesh = np.concatenate([attr * 180, attr * 200, attr * 255], -1)
        out = img.astype(np.float32)
        m = mask[..., None] * self.alpha
        return np.clip(out * (1 - m) + mesh * m, 0, 255).astype(np.uint8)


def save_figure(fig, path: Path, dpi: int = 100) -> Path:
    """Save a matplotlib figure atomically (temporary name, then rename) and close it."""
    import matplotlib.pyplot as plt

    from thead.files import tmp_path

    path = Path(path)
    tmp = tmp_path(path)
    fig.savefig(tmp, dpi=dpi)
    plt.close(fig)
    tmp.replace(path)
    return path


def plot_au_curves(path: Path, au: np.ndarray, names: Sequence[str], timestamps_s: np.ndarray,
                   title: str = "", highlight: Sequence[str] = ("AU12_r", "AU25_r", "AU26_r", "AU45_r")) -> Path:
    """PNG of AU intensities over time: highlighted units on top, a heat map of all units below."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax1, ax2) = plt.subplots(2, 1, figsize=(10, 6), gridspec_kw={"height_ratios": [1, 1.3]}, sharex=True)
    for n in highlight:
        if n in names:
            ax1.plot(timestamps_s, au[:, list(names).index(n)], label=n, lw=1.2)
    ax1.set_ylabel("intensity (0-5)")
    ax1.set_ylim(0, 5)
    ax1.legend(loc="upper right", ncol=4, fontsize=8)
    ax1.set_title(title)
    t0, t1 = (float(timestamps_s[0]), float(timestamps_s[-1])) if len(timestamps_s) else (0, 1)
    ax2.imshow(au.T, aspect="auto", origin="lower", vmin=0, vmax=5, cmap="magma",
               extent=[t0, t1 if t1 > t0 else t0 + 1, -0.5, len(names) - 0.5], interpolation="nearest")
    ax2.set_yticks(range(len(names)))
    ax2.set_yticklabels(names, fontsize=6)
    ax2.set_xlabel("time (s)")
    fig.tight_layout()
    return save_figure(fig, path)


def contact_sheet(images: Sequence[np.ndarray], cols: int = 8, labels: Optional[Sequence[str]] = None) -> np.ndarray:
    """Tile equally sized (h, w, 3) uint8 images into one image, row-major, black padding."""
    import cv2

    if not images:
        raise ValueError("no images for a contact sheet")
    h, w = images[0].shape[:2]
    cols = min(cols, len(images))
    rows = (len(images) + cols - 1) // cols
    sheet = np.zeros((rows * h, cols * w, 3), np.uint8)
    for i, im in enumerate(images):
        r, c = divmod(i, cols)
        tile = im if im.shape[:2] == (h, w) else cv2.resize(im, (w, h))
        sheet[r * h:(r + 1) * h, c * w:(c + 1) * w] = tile
        if labels:
            cv2.putText(sheet, str(labels[i]), (c * w + 2, r * h + 12), cv2.FONT_HERSHEY_SIMPLEX, 0.35,
                        (255, 255, 255), 1, cv2.LINE_AA)
    return sheet


def sample_indices(n: int, k: int) -> list[int]:
    """k indices spread evenly over range(n)."""
    if n <= k:
        return list(range(n))
    return [int(round(x)) for x in np.linspace(0, n - 1, k)]
