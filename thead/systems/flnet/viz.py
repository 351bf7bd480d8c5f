"""Pictures of FLNet's internals (paper Fig. 5): the bank, its selection masks M_w, the merge mask V and the images
of both streams, one panel per frame."""

from __future__ import annotations

from typing import Optional

import numpy as np


def _label(img: np.ndarray, text: str) -> np.ndarray:
    import cv2

    img = np.ascontiguousarray(img).copy()
    s = max(0.3, img.shape[1] / 300)
    cv2.putText(img, text, (3, int(12 * s) + 2), cv2.FONT_HERSHEY_SIMPLEX, 0.4 * s, (0, 0, 0), 3, cv2.LINE_AA)
    cv2.putText(img, text, (3, int(12 * s) + 2), cv2.FONT_HERSHEY_SIMPLEX, 0.4 * s, (255, 255, 255), 1, cv2.LINE_AA)
    return img


def heat(mask: np.ndarray, under: Optional[np.ndarray] = None) -> np.ndarray:
    """(S, S) in [0, 1] -> (S, S, 3) uint8 jet colour map, half blended over ``under`` when given."""
    import cv2

    m = cv2.applyColorMap(np.clip(mask * 255 + 0.5, 0, 255).astype(np.uint8), cv2.COLORMAP_JET)[..., ::-1]
    return m if under is None else (0.5 * m + 0.5 * under).astype(np.uint8)


def mask_panel(bank: np.ndarray, parts: dict[str, np.ndarray], reference: Optional[np.ndarray] = None,
               reference_label: str = "target") -> np.ndarray:
    """One frame's panel, 2 rows x (N + 3) tiles.

    Row 1: the N bank images, the warped image I_w, the appearance image I_a, ``reference`` (ground truth or driving
    crop). Row 2: the selection mask of each bank image over it, the merge mask V (1 = taken from I_w), the output
    I_o, and I_o with the target landmarks.

    Args:
        bank: (N, S, S, 3) uint8.
        parts: per-frame arrays from ``FLNetModel``: ``output`` (S, S, 3) uint8 and, where the variant has them,
            ``warped``, ``appearance`` (S, S, 3) uint8, ``masks`` (N, S, S), ``merge`` (S, S) in [0, 1],
            ``target_lmk`` (68, 2).
    """
    from thead.viz import draw_landmarks

    n, s = bank.shape[0], bank.shape[1]
    blank = np.full((s, s, 3), 40, np.uint8)
    top = [_label(b, f"bank {k}") for k, b in enumerate(bank)]
    top += [_label(parts["warped"], "I_w") if "warped" in parts else _label(blank, "no I_w"),
            _label(parts["appearance"], "I_a") if "appearance" in parts else _label(blank, "no I_a"),
            _label(reference, reference_label) if reference is not None else blank]
    if "masks" in parts:
        bottom = [_label(heat(m, b), f"M_w {k}") for k, (m, b) in enumerate(zip(parts["masks"], bank))]
    else:
        bottom = [_label(blank, "no M_w") for _ in range(n)]
    bottom.append(_label(heat(parts["merge"]), "V") if "merge" in parts else _label(blank, "no V"))
    bottom.append(_label(parts["output"], "I_o"))
    lm = parts.get("target_lmk")
    bottom.append(_label(draw_landmarks(parts["output"], lm) if lm is not None else parts["output"], "I_o + target"))
    return np.concatenate([np.concatenate(top, 1), np.concatenate(bottom, 1)], 0)
