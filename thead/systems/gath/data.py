"""GATH's source and target sets from thead manifests (paper section 4.2), as in-memory uint8 tensors.

Source set: frontalized face crops (``thead.frames``: PNG images and PNG folders) with an identity label per item:
``meta.identity`` when the manifest sets it, else the item id (one video = one person). Target set: frontalized
frames of videos paired, frame by frame, with their AU coefficient vectors (``thead.au`` expression arrays, values
in [0, 1]); frames without a face (all black after frontalize, or ``success == 0``) are left out.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from thead.errors import InputError

IMAGE_SIZE = 100


@dataclass
class FaceSet:
    images: "object"  # torch.uint8 (N, 3, S, S)
    labels: "object"  # torch.int64 (N,)
    classes: list[str]
    au: "object" = None  # torch.float32 (N, A) for target sets


def _load_png(path: Path, size: int) -> np.ndarray:
    import cv2

    from thead.media import read_image

    img = read_image(path)
    if img.shape[:2] != (size, size):
        img = cv2.resize(img, (size, size), interpolation=cv2.INTER_AREA)
    return img


def _item_frames(lm, it) -> list[Path]:
    if "image" in it.outputs:
        return [lm.output(it, "image")]
    if "frames" in it.outputs:
        return sorted(lm.output(it, "frames").glob("*.png"))
    return []


def load_source_set(manifest: Path, size: int = IMAGE_SIZE, max_per_item: int = 0) -> FaceSet:
    """Source set: every face crop of a ``thead.frames`` manifest with its identity label.

    Args:
        max_per_item: keep at most this many frames per video item, evenly spaced (0: all).

    Raises:
        InputError: no usable image.
    """
    import torch

    from thead.manifest import load_manifest
    from thead.manifest.roles import require_role
    from thead.viz import sample_indices

    lm = load_manifest(manifest, "thead.frames")
    imgs, labels, classes = [], [], []
    for it in lm.done():
        require_role(manifest, it, "frontal")
        files = _item_frames(lm, it)
        if max_per_item:
            files = [files[k] for k in sample_indices(len(files), max_per_item)]
        ident = str(it.meta.get("identity", it.id))
        if ident not in classes:
            classes.append(ident)
        for f in files:
            img = _load_png(f, size)
            if img.max() == 0:
                continue
            imgs.append(img)
            labels.append(classes.index(ident))
    if not imgs:
        raise InputError(f"{manifest}: no face images for the source set")
    x = torch.from_numpy(np.stack(imgs)).permute(0, 3, 1, 2).contiguous()
    return FaceSet(x, torch.tensor(labels, dtype=torch.int64), classes)


def paired_videos(frames_manifest: Path, au_manifest: Path):
    """Video items present in both manifests, matched by id.

    Yields:
        (id, frame PNG paths, expression (T, K) float in [0, 1], per-frame success flags from the AU arrays).
    """
    from thead.face.au import read_au_item
    from thead.manifest import load_manifest
    from thead.manifest.roles import require_role
    from thead.manifest.arrays import load_array

    fm = load_manifest(frames_manifest, "thead.frames")
    am = load_manifest(au_manifest, "thead.au")
    au_items = {it.id: it for it in am.done()}
    for it in fm.done():
        require_role(frames_manifest, it, "frontal")
        if "frames" not in it.outputs or it.id not in au_items:
            continue
        expr = load_array(am.output(au_items[it.id], "expression"))
        ok = [bool(v) for v in read_au_item(am, au_items[it.id])[3]]
        yield it.id, _item_frames(fm, it), expr, ok


def load_target_set(frames_manifest: Path, au_manifest: Path, size: int = IMAGE_SIZE) -> FaceSet:
    """Target set: frontalized video frames with the AU coefficient vector of the same frame.

    Items are matched by id; a frame count mismatch between the two manifests is an error.

    Raises:
        InputError: no matching items, mismatched frame counts, or no usable frame.
    """
    import torch

    imgs, aus, labels, classes = [], [], [], []
    for vid, files, expr, ok in paired_videos(frames_manifest, au_manifest):
        if len(files) != len(expr):
            raise InputError(f"{vid}: {len(files)} frames but {len(expr)} AU vectors")
        classes.append(vid)
        for f, e, good in zip(files, expr, ok):
            img = _load_png(f, size)
            if not good or img.max() == 0:
                continue
            imgs.append(img)
            aus.append(e)
            labels.append(len(classes) - 1)
    if not imgs:
        raise InputError(f"{frames_manifest} + {au_manifest}: no frames with AU vectors for the target set")
    x = torch.from_numpy(np.stack(imgs)).permute(0, 3, 1, 2).contiguous()
    return FaceSet(x, torch.tensor(labels), classes, torch.from_numpy(np.stack(aus).astype(np.float32)))
