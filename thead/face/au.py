"""Facial action units (FACS) from blendshape weights, and OpenFace CSV I/O.

Intensities use OpenFace's naming (``AU01_r``) and 0-5 scale. Each AU is the mean of the ICT blendshapes that the
ICT-FaceKit README lists for it (left + right averaged), times 5. Two mouth units OpenFace reports are not in ICT's
table, so thead derives them (its own choice, stated here):
  AU25_r (lips part)  = 5 * clip(jawOpen - mouthClose + (mouthLowerDown + mouthUpperUp) / 2, 0, 1)
  AU26_r (jaw drop)   = 5 * jawOpen
ICT's table maps jawOpen to AU27 (mouth stretch); thead reports AU27_r = 5 * clip(2 * jawOpen - 1, 0, 1), i.e.
only the wide opening beyond half of jawOpen's range, so AU26 and AU27 are not copies.
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

from thead.errors import InputError

AU_MAX = 5.0  # OpenFace intensity scale 0..5

# ICT-FaceKit's closest-FACS table (README of the model): AU -> blendshapes.
ICT_AU_TABLE: dict[str, tuple[str, ...]] = {
    "AU01": ("browInnerUp_L", "browInnerUp_R"),
    "AU02": ("browOuterUp_L", "browOuterUp_R"),
    "AU04": ("browDown_L", "browDown_R"),
    "AU05": ("eyeWide_L", "eyeWide_R"),
    "AU06": ("cheekSquint_L", "cheekSquint_R"),
    "AU07": ("eyeSquint_L", "eyeSquint_R"),
    "AU09": ("noseSneer_L", "noseSneer_R"),
    "AU10": ("mouthShrugUpper",),
    "AU11": ("mouthUpperUp_L", "mouthUpperUp_R"),
    "AU12": ("mouthSmile_L", "mouthSmile_R"),
    "AU14": ("mouthDimple_L", "mouthDimple_R"),
    "AU15": ("mouthFrown_L", "mouthFrown_R"),
    "AU16": ("mouthLowerDown_L", "mouthLowerDown_R"),
    "AU17": ("mouthShrugLower",),
    "AU18": ("mouthPucker",),
    "AU20": ("mouthStretch_L", "mouthStretch_R"),
    "AU22": ("mouthFunnel",),
    "AU24": ("mouthPress_L", "mouthPress_R"),
    "AU28": ("mouthRollLower", "mouthRollUpper"),
    "AU29": ("jawForward",),
    "AU33": ("cheekPuff_L", "cheekPuff_R"),
    "AU45": ("eyeBlink_L", "eyeBlink_R"),
}
AU_NAMES: list[str] = sorted(list(ICT_AU_TABLE) + ["AU25", "AU26", "AU27"])
AU_COLUMNS: list[str] = [f"{a}_r" for a in AU_NAMES]


def au_from_blendshapes(weights: np.ndarray, names: list[str]) -> np.ndarray:
    """AU intensities from blendshape weights.

    Args:
        weights: (T, K) float in [0, 1], ICT blendshape weights.
        names: the K blendshape names (ICT order).

    Returns:
        (T, len(AU_NAMES)) float32 in [0, 5], columns in ``AU_COLUMNS`` order.

    Raises:
        InputError: the names are not ICT's (e.g. a BFM fit, whose coefficients have no FACS meaning).
    """
    idx = {n: i for i, n in enumerate(names)}
    needed = {n for v in ICT_AU_TABLE.values() for n in v} | {"jawOpen", "mouthClose"}
    if not needed <= set(idx):
        raise InputError("AU intensities need ICT blendshape weights; this fit's expression coefficients "
                         "(e.g. BFM) have no FACS mapping")
    w = np.clip(np.asarray(weights, np.float64), 0.0, 1.0)

    def g(n):
        return w[:, idx[n]]

    out = {}
    for au, shapes in ICT_AU_TABLE.items():
        out[au] = np.mean([g(n) for n in shapes], axis=0)
    jaw = g("jawOpen")
    lips = jaw - g("mouthClose") + 0.5 * (0.5 * (g("mouthLowerDown_L") + g("mouthLowerDown_R"))
                                          + 0.5 * (g("mouthUpperUp_L") + g("mouthUpperUp_R")))
    out["AU25"] = np.clip(lips, 0, 1)
    out["AU26"] = jaw
    out["AU27"] = np.clip(2 * jaw - 1, 0, 1)
    return (AU_MAX * np.stack([out[a] for a in AU_NAMES], 1)).astype(np.float32)


def save_au_arrays(path: Path, au: np.ndarray, columns: list[str], timestamps_s: np.ndarray,
                   success: np.ndarray) -> Path:
    """Write per-frame AUs as arrays (the ``thead.au`` contract; the OpenFace CSV beside them is an export):
    ``au`` (T, A) float32 intensities 0-5 at full precision, ``names`` (A,) ``AUxx_r``, ``timestamps_s`` (T,)
    float64, ``success`` (T,) bool. Written atomically (``.npz``, no pickled objects).

    Raises:
        ValueError: mismatched lengths or non-finite intensities.
    """
    from thead.files import atomic_save_npz

    au = np.asarray(au, np.float32)
    if au.ndim != 2 or au.shape[1] != len(columns) or len(timestamps_s) != len(au) or len(success) != len(au):
        raise ValueError(f"AU arrays: au {au.shape}, {len(columns)} names, {len(timestamps_s)} timestamps, "
                         f"{len(success)} success flags do not match")
    if not np.isfinite(au).all():
        raise ValueError("AU arrays: non-finite intensities")
    atomic_save_npz(path, au=au, names=np.asarray(list(columns), dtype="U16"),
                    timestamps_s=np.asarray(timestamps_s, np.float64), success=np.asarray(success, bool))
    return Path(path)


def load_au_arrays(path: Path) -> tuple[np.ndarray, list[str], np.ndarray, np.ndarray]:
    """Read ``save_au_arrays``' file -> (au (T, A) float32 0-5, names, timestamps_s (T,), success (T,) bool).

    Raises:
        InputError: missing or malformed file, or non-finite intensities.
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: no such file")
    try:
        with np.load(path, allow_pickle=False) as d:
            au, names = d["au"].astype(np.float32), [str(n) for n in d["names"]]
            ts, ok = d["timestamps_s"].astype(np.float64), d["success"].astype(bool)
    except (KeyError, ValueError, OSError) as e:
        raise InputError(f"{path}: not a thead AU array file ({e})") from None
    if au.ndim != 2 or au.shape[1] != len(names) or len(ts) != len(au) or len(ok) != len(au):
        raise InputError(f"{path}: AU arrays of mismatched shapes")
    if not np.isfinite(au).all():
        raise InputError(f"{path}: non-finite AU intensities")
    return au, names, ts, ok


def read_au_item(manifest, item) -> tuple[np.ndarray, list[str], np.ndarray, np.ndarray]:
    """One item of a loaded ``thead.au`` manifest -> (au (T, A) 0-5, names, timestamps_s, success): its arrays
    (``au`` output), or for manifests written before the arrays existed, its OpenFace CSV (2-decimal intensities).

    Raises:
        InputError: as ``load_au_arrays`` / ``read_openface_csv``.
    """
    if "au" in item.outputs:
        return load_au_arrays(manifest.output(item, "au"))
    return read_openface_csv(manifest.output(item, "csv"))


def write_openface_csv(path: Path, au: np.ndarray, timestamps_s: np.ndarray, success: np.ndarray,
                       columns: list[str] = AU_COLUMNS) -> None:
    """Write an OpenFace-compatible CSV: ``frame, timestamp, success, AUxx_r ...`` (frame is 1-based, as OpenFace).

    Written atomically.
    """
    from thead.files import tmp_path

    path = Path(path)
    tmp = tmp_path(path)
    with open(tmp, "w", newline="") as f:
        wr = csv.writer(f)
        wr.writerow(["frame", "timestamp", "success"] + list(columns))
        for i in range(len(au)):
            wr.writerow([i + 1, f"{timestamps_s[i]:.3f}", int(bool(success[i]))] + [f"{v:.2f}" for v in au[i]])
    tmp.replace(path)


def read_openface_csv(path: Path) -> tuple[np.ndarray, list[str], np.ndarray, np.ndarray]:
    """Read an OpenFace FeatureExtraction CSV (column names may carry leading spaces, as OpenFace writes them).

    Returns:
        au (T, A) float32 intensities 0-5, column names (``AUxx_r``), timestamps_s (T,), success (T,) bool.

    Raises:
        InputError: missing file, no AU intensity columns, non-numeric or non-finite values (NaN, inf).
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: no such file")
    with open(path, newline="") as f:
        rows = list(csv.reader(f))
    if not rows:
        raise InputError(f"{path}: empty CSV")
    header = [h.strip() for h in rows[0]]
    au_cols = [i for i, h in enumerate(header) if h.startswith("AU") and h.endswith("_r")]
    if not au_cols:
        raise InputError(f"{path}: no AUxx_r columns (not an OpenFace CSV?)")
    try:
        data = np.array([[float(r[i]) for i in range(len(header))] for r in rows[1:] if r], np.float64)
    except (ValueError, IndexError) as e:
        raise InputError(f"{path}: malformed OpenFace CSV ({e})") from None
    if data.size == 0:
        raise InputError(f"{path}: no frames in CSV")
    bad = ~np.isfinite(data)
    if bad.any():
        r, c = np.argwhere(bad)[0]
        raise InputError(f"{path}: column {header[c]!r} holds a non-finite value ({rows[1:][r][c].strip()}) at data "
                         f"row {r + 1}; NaN and infinity are refused")

    def col(name, default):
        return data[:, header.index(name)] if name in header else default

    ts = col("timestamp", np.arange(len(data), dtype=np.float64))
    success = col("success", np.ones(len(data))) > 0.5
    return data[:, au_cols].astype(np.float32), [header[i] for i in au_cols], ts, success


def count_blinks(au45: np.ndarray, fps: float, threshold: float = 1.0) -> tuple[int, list[tuple[int, int]]]:
    """Blinks as runs of AU45_r above ``threshold`` (0-5 scale), each at most 1 s long.

    Returns:
        number of blinks and their (start, end) frame ranges (end exclusive).
    """
    above = np.nan_to_num(au45) > threshold
    runs = []
    i = 0
    while i < len(above):
        if above[i]:
            j = i
            while j < len(above) and above[j]:
                j += 1
            if j - i <= max(1, int(round(fps))):
                runs.append((i, j))
            i = j
        else:
            i += 1
    return len(runs), runs
