"""Still-image I/O (Pillow): any mode read as RGB uint8; PNG written atomically."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from thead.errors import InputError

IMAGE_EXTENSIONS = {".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp"}


def read_image(path: Path) -> np.ndarray:
    """Read an image as (H, W, 3) uint8 RGB.

    EXIF orientation is applied. Grayscale is replicated to three channels, 16-bit images are scaled to 8 bits,
    palette images are expanded, and alpha is composited over white (transparent portrait backgrounds become white
    rather than black).

    Raises:
        InputError: missing, empty or undecodable file.
    """
    from PIL import Image, ImageOps, UnidentifiedImageError

    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: no such file")
    if path.stat().st_size == 0:
        raise InputError(f"{path}: empty file (0 bytes)")
    try:
        with Image.open(path) as im:
            im.load()
            im = ImageOps.exif_transpose(im)
    except (UnidentifiedImageError, OSError, SyntaxError) as e:
        raise InputError(f"{path}: unreadable image ({e})") from None
    if im.mode in ("I;16", "I;16B", "I;16L", "I"):
        a = np.asarray(im).astype(np.float64)
        peak = 65535.0 if im.mode.startswith("I;16") or a.max() > 255 else 255.0
        a = np.clip(a / peak * 255.0 + 0.5, 0, 255).astype(np.uint8)
        return np.repeat(a[..., None], 3, axis=2)
    if im.mode == "F":
        a = np.asarray(im, np.float64)
        a = (a - a.min()) / max(a.max() - a.min(), 1e-12)
        return np.repeat((a * 255 + 0.5).astype(np.uint8)[..., None], 3, axis=2)
    if im.mode in ("RGBA", "LA", "PA") or (im.mode == "P" and "transparency" in im.info):
        im = im.convert("RGBA")
        bg = Image.new("RGBA", im.size, (255, 255, 255, 255))
        im = Image.alpha_composite(bg, im)
    return np.asarray(im.convert("RGB"), dtype=np.uint8).copy()


def write_image(path: Path, image: np.ndarray) -> Path:
    """Write an (H, W, 3) or (H, W) uint8 image (format from the suffix), atomically."""
    from PIL import Image

    from thead.files import tmp_path

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = tmp_path(path)
    Image.fromarray(np.ascontiguousarray(image, dtype=np.uint8)).save(tmp)
    os.replace(tmp, path)
    return path


def upscale_min_side(rgb: np.ndarray, min_side: int) -> np.ndarray:
    """Bicubic upscale so the shorter side is at least ``min_side`` px (small crops before face detection)."""
    import cv2

    h, w = rgb.shape[:2]
    if min(h, w) >= min_side:
        return rgb
    s = min_side / min(h, w)
    return cv2.resize(rgb, (int(round(w * s)), int(round(h * s))), interpolation=cv2.INTER_CUBIC)
