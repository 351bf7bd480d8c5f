"""``--au`` for ``thead synthesize gath``: what expression to give the portrait.

Forms:
  ``zeros`` / ``ones``            every coefficient 0 (neutral, paper 5.4) / 1
  ``AU12_r=3,AU26_r=2``           named AUs on OpenFace's 0-5 scale, others 0
  ``0.1,0,0.5,...``               the raw coefficient vector (its length must be the model's)
  ``path.csv``                    an extract-au / OpenFace CSV: one vector per row (a sequence)
  ``path.au.npz``                 an extract-au AU array file (``thead.face.au.save_au_arrays``): the same
  ``path.npy``                    (K,) or (T, K) coefficients
  ``manifest.json``               a ``thead.au`` manifest: each done item's expression array (a sequence)

Named AUs become blendshape weights by inverting ICT's FACS table (``thead.face.au``): every blendshape listed for
an AU gets intensity / 5. For the units thead derives, AU26 sets jawOpen = v / 5, AU27 sets jawOpen =
(1 + v / 5) / 2 and AU25 sets mouthLowerDown_L/R and mouthUpperUp_L/R = v / 5 (thead's choice; later names win).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import numpy as np

from thead.errors import InputError

AU_SCALE = 5.0


@dataclass
class AUSequence:
    """Coefficient vectors to synthesize: (T, K) float32 in [0, 1]; a sequence has fps and maybe audio."""

    coeffs: np.ndarray
    label: str
    fps: Optional[float] = None
    audio_from: Optional[Path] = None

    @property
    def is_sequence(self) -> bool:
        return self.fps is not None


def blendshapes_from_aus(aus: dict[str, float], names: list[str]) -> np.ndarray:
    """Named AU intensities (0-5, ``AUxx`` or ``AUxx_r``) -> (K,) blendshape weights in [0, 1].

    Raises:
        InputError: unknown AU, NaN, or a value outside 0-5.
    """
    from thead.face.au import AU_NAMES, ICT_AU_TABLE

    idx = {n: i for i, n in enumerate(names)}
    w = np.zeros(len(names), np.float32)
    for raw, v in aus.items():
        au = raw.strip()
        au = au[:-2] if au.endswith("_r") else au
        if au not in AU_NAMES:
            raise InputError(f"--au: unknown action unit {raw!r} (known: {', '.join(a + '_r' for a in AU_NAMES)})")
        if not math.isfinite(v):
            raise InputError(f"--au: {raw} is not a number ({v})")
        if not 0.0 <= v <= AU_SCALE:
            raise InputError(f"--au: {raw}={v} is outside OpenFace's 0-5 intensity range")
        x = v / AU_SCALE
        if au in ICT_AU_TABLE:
            targets = {n: x for n in ICT_AU_TABLE[au]}
        elif au == "AU26":
            targets = {"jawOpen": x}
        elif au == "AU27":
            targets = {"jawOpen": (1 + x) / 2}
        else:  # AU25
            targets = {n: x for n in ("mouthLowerDown_L", "mouthLowerDown_R", "mouthUpperUp_L", "mouthUpperUp_R")}
        for n, val in targets.items():
            if n not in idx:
                raise InputError(f"--au: the model's coefficients have no {n!r} (not ICT blendshapes?)")
            w[idx[n]] = val
    return w


def _check(coeffs: np.ndarray, k: int, what: str) -> np.ndarray:
    c = np.asarray(coeffs, np.float64)
    if c.ndim == 1:
        c = c[None]
    if c.ndim != 2 or c.shape[1] != k:
        raise InputError(f"--au {what}: expected {k} coefficients per frame, got shape {tuple(c.shape)}")
    if not np.isfinite(c).all():
        raise InputError(f"--au {what}: contains NaN or infinite values")
    if c.min() < 0 or c.max() > 1:
        raise InputError(f"--au {what}: coefficients must lie in [0, 1] (got {c.min():.3g} .. {c.max():.3g})")
    if len(c) == 0:
        raise InputError(f"--au {what}: no frames")
    return c.astype(np.float32)


def parse_au(spec: str, names: list[str]) -> list[AUSequence]:
    """Parse ``--au`` against the model's coefficient names (length K). Returns one or more sequences.

    Raises:
        InputError: any malformed, unknown, NaN, out-of-range or wrong-length value, with the reason.
    """
    from thead.face.au import load_au_arrays, read_openface_csv

    k = len(names)
    s = spec.strip()
    if s == "zeros":
        return [AUSequence(np.zeros((1, k), np.float32), "zeros")]
    if s == "ones":
        return [AUSequence(np.ones((1, k), np.float32), "ones")]
    p = Path(s)
    if p.suffix.lower() in (".csv", ".npy", ".json", ".npz"):
        if not p.is_file():
            raise InputError(f"--au {s}: no such file")
        if p.suffix.lower() == ".npy":
            return [AUSequence(_check(np.load(p, allow_pickle=False), k, s), p.stem)]
        if p.suffix.lower() == ".json":
            return _from_manifest(p, k)
        au, cols, ts, _ = load_au_arrays(p) if p.suffix.lower() == ".npz" else read_openface_csv(p)
        coeffs = np.stack([blendshapes_from_aus(dict(zip(cols, map(float, row))), names) for row in au])
        fps = 1.0 / float(np.median(np.diff(ts))) if len(ts) > 1 and np.median(np.diff(ts)) > 0 else 25.0
        return [AUSequence(_check(coeffs, k, s), p.name.split(".")[0], fps, _audio_beside(p))]
    if "=" in s:
        pairs = {}
        for part in s.split(","):
            if "=" not in part:
                raise InputError(f"--au: {part!r} is not NAME=VALUE")
            name, val = part.split("=", 1)
            try:
                pairs[name.strip()] = float(val)
            except ValueError:
                raise InputError(f"--au: {name.strip()}={val!r} is not a number") from None
        return [AUSequence(blendshapes_from_aus(pairs, names)[None], s.replace(",", "_").replace("=", ""))]
    try:
        vec = [float(x) for x in s.split(",")]
    except ValueError:
        raise InputError(f"--au {s!r}: expected zeros, ones, AUxx_r=V pairs, {k} numbers, or a .csv/.npy/.json "
                         "file") from None
    return [AUSequence(_check(np.array(vec), k, "vector"), "vector")]


def parse_sweep(spec: str, names: list[str]) -> tuple[str, np.ndarray, np.ndarray]:
    """``--au-sweep NAME=START:STOP:N`` (e.g. ``AU12_r=0:4:5``): one AU at N evenly spaced intensities (0-5),
    every other coefficient 0 -- an interpolation strip.

    Returns:
        (label, coefficients (N, K) float32 in [0, 1], intensities (N,) on the 0-5 scale).

    Raises:
        InputError: malformed spec, N < 2 or > 16, an intensity outside 0-5, an unknown AU.
    """
    s = spec.strip()
    if "=" not in s or s.count(":") != 2:
        raise InputError(f"--au-sweep {s!r}: expected NAME=START:STOP:N, e.g. AU12_r=0:4:5")
    name, rng = s.split("=", 1)
    try:
        start, stop, n_raw = rng.split(":")
        lo, hi, n = float(start), float(stop), int(n_raw)
    except ValueError:
        raise InputError(f"--au-sweep {s!r}: START and STOP must be numbers and N an integer") from None
    if not 2 <= n <= 16:
        raise InputError(f"--au-sweep {s!r}: N must be 2-16, got {n}")
    values = np.linspace(lo, hi, n)
    coeffs = np.stack([blendshapes_from_aus({name.strip(): float(v)}, names) for v in values])
    return f"{name.strip()}_sweep", coeffs.astype(np.float32), values.astype(np.float32)


def _from_manifest(p: Path, k: int) -> list[AUSequence]:
    from thead.manifest import load_manifest

    lm = load_manifest(p, "thead.au")
    out = []
    for it in lm.done():
        src = lm.source(it)
        audio = src if src is not None and src.exists() and it.meta.get("has_audio") else None
        still = it.meta.get("media_type") == "image"  # a photo's AUs are one vector, not a clip
        out.append(AUSequence(_check(np.load(lm.output(it, "expression")), k, f"{p} item {it.id}"), it.id,
                              None if still else float(it.meta.get("fps") or 25.0), None if still else audio))
    if not out:
        raise InputError(f"--au {p}: no done items")
    return out


def _audio_beside(csv_path: Path) -> Optional[Path]:
    """The driving video of an extract-au CSV or AU array file, found through the manifest beside it (if any)."""
    m = csv_path.parent / "manifest.json"
    if not m.exists():
        return None
    from thead.manifest import load_manifest

    try:
        lm = load_manifest(m, "thead.au")
    except Exception:  # noqa: BLE001 - a foreign manifest beside the CSV just means no audio
        return None
    for it in lm.done():
        if any(lm.resolve(it.outputs[k]) == csv_path.resolve() for k in ("csv", "au") if k in it.outputs):
            src = lm.source(it)
            return src if src is not None and src.exists() and it.meta.get("has_audio") else None
    return None
