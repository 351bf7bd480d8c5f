"""How much of a real speaker's mouth motion each audio representation carries, with no training (issue 11).

    python bench/audio_mouth.py CLIP.mp4 [CLIP2.mp4 ...] [--json out.json]

For each clip (its own audio track, or a .wav of the same stem beside a silent clip; at most 30 s): the mouth
opening measured by dlib (inner-lip gap 62-66 / outer-eye-corner distance) per frame, against (a) the log RMS of the
audio in each frame and (b) the ``phones`` features (``thead.audio.features``) through a fixed table of jaw opening
per ARPAbet phone (open vowels 1, close vowels ~0.3, bilabials 0; the usual viseme grouping), blurred by a 40 ms
Gaussian for coarticulation. Prints the best Pearson r within +-4 frames of lag for each; no model is fitted, so
the figure says how speaker-independent the representation is, not how well a network will use it.

Then the same split as ``bench/quality_facial.py`` (first 80% to learn from, last 20% held out) with the simplest
per-person model there is: ridge regression from 13 frames of features (t-6 .. t+6) to the 20 dlib mouth points
(centred, / IOD), for ``mfcc``, ``phones`` and ``mfcc+phones``. ``mouth_lmd_ratio`` is the held-out mouth LMD over
that of the held-out part's own mean mouth held still (the bench's definition): below 1 the audio moves the mouth
better than any still mouth. It bounds from below what a model trained on the reference alone must beat, before
any rendering.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

OPEN = dict(SIL=0.0, AA=1.0, AE=0.9, AH=0.7, AO=0.9, AW=0.9, AY=0.9, EH=0.6, ER=0.4, EY=0.55, IH=0.4, IY=0.3, OW=0.6,
            OY=0.6, UH=0.35, UW=0.3, B=0.0, P=0.0, M=0.0, F=0.15, V=0.15, TH=0.25, DH=0.25, T=0.3, D=0.3, N=0.3,
            L=0.35, S=0.2, Z=0.2, SH=0.25, ZH=0.25, CH=0.25, JH=0.25, K=0.35, G=0.35, NG=0.3, HH=0.5, R=0.3, W=0.15,
            Y=0.3)


def best_r(x: np.ndarray, y: np.ndarray, max_lag: int = 4) -> float:
    best = float("nan")
    for lag in range(-max_lag, max_lag + 1):
        a, b = (x[lag:], y[:len(y) - lag]) if lag >= 0 else (x[:lag], y[-lag:])
        ok = np.isfinite(a) & np.isfinite(b)
        if ok.sum() > 10 and a[ok].std() > 0 and b[ok].std() > 0:
            r = float(np.corrcoef(a[ok], b[ok])[0, 1])
            best = r if not np.isfinite(best) else max(best, r)
    return best


def ridge_ratio(feat: np.ndarray, lm: np.ndarray, half: int = 6, align: bool = False) -> dict:
    """Held-out mouth LMD of a ridge regression (features t-half..t+half -> centred mouth / IOD), trained on the
    first 80% of the frames, over the LMD of the held-out part's own mean mouth held still (``ratio``); the same
    with the prediction moved to the held-out mean (``given_mean``: its motion alone); the reference's (first 80%)
    mean mouth held still (``still_reference``); the oracle still mouth's LMD (``still_pct_iod``, % IOD).
    ``align``: the in-plane head rotation removed first (outer eye corners made level)."""
    from thead.audio.features import windows
    from thead.face.landmarks import interocular

    n = len(lm)
    ok = np.isfinite(lm).all(axis=(1, 2))
    mouth = lm[:, 48:68] - lm[:, 48:68].mean(1, keepdims=True)
    if align:  # in-plane head rotation removed: the outer eye corners made level
        d = lm[:, 45] - lm[:, 36]
        ang = np.arctan2(d[:, 1], d[:, 0])
        c, s_ = np.cos(-ang)[:, None], np.sin(-ang)[:, None]
        mouth = np.stack([c * mouth[..., 0] - s_ * mouth[..., 1], s_ * mouth[..., 0] + c * mouth[..., 1]], -1)
    y = (mouth / interocular(lm)[:, None, None]).reshape(n, -1)
    x = windows(feat.astype(np.float64), 2 * half + 1).reshape(n, -1)
    cut = int(0.8 * n)
    tr, te = np.arange(n) < cut, np.arange(n) >= cut
    tr, te = tr & ok, te & ok
    if tr.sum() < 50 or te.sum() < 10:
        return float("nan")
    mu, sd = x[tr].mean(0), x[tr].std(0) + 1e-6
    xs = (x - mu) / sd

    def fit(rows, lam):
        ym = y[rows].mean(0)
        a = xs[rows]
        return np.linalg.solve(a.T @ a + lam * np.eye(a.shape[1]), a.T @ (y[rows] - ym)), ym

    # the ridge weight chosen on the training part alone: fit on its first 80%, score on its last 20%
    idx = np.flatnonzero(tr)
    inner, val = idx[:int(0.8 * len(idx))], idx[int(0.8 * len(idx)):]
    best = None
    for lam in (1.0, 10.0, 100.0, 1000.0, 10000.0):
        w, ym = fit(inner, lam)
        err = np.linalg.norm((xs[val] @ w + ym - y[val]).reshape(-1, 20, 2), axis=-1).mean()
        best = (err, lam) if best is None or err < best[0] else best
    w, ym = fit(tr, best[1])
    pred = xs[te] @ w + ym
    lmd = np.linalg.norm((pred - y[te]).reshape(-1, 20, 2), axis=-1).mean()
    still = np.linalg.norm((y[te].mean(0) - y[te]).reshape(-1, 20, 2), axis=-1).mean()
    still_train = np.linalg.norm((y[tr].mean(0) - y[te]).reshape(-1, 20, 2), axis=-1).mean()
    given = np.linalg.norm((pred - pred.mean(0) + y[te].mean(0) - y[te]).reshape(-1, 20, 2), axis=-1).mean()
    return dict(ratio=float(lmd / still), given_mean=float(given / still), still_reference=float(still_train / still),
                still_pct_iod=float(still * 100))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("clips", nargs="+", type=Path)
    ap.add_argument("--seconds", type=float, default=30.0)
    ap.add_argument("--json", type=Path, default=None)
    ap.add_argument("--align", action="store_true", help="level the eye line before comparing mouths")
    a = ap.parse_args()

    from scipy.ndimage import gaussian_filter1d

    from thead.audio.features import PHONES, SAMPLE_RATE, audio_features, phone_features
    from thead.face.landmarks import LandmarkExtractor, interocular
    from thead.media import FrameReader, load_audio
    from thead.stages.audio_features import speech_source

    rows = []
    for clip in a.clips:
        reader = FrameReader(clip)
        frames = []
        for f in reader:
            if f[1] > a.seconds:
                break
            frames.append(f)
        lm = LandmarkExtractor().video(iter(frames)).landmarks
        n, fps = len(lm), reader.fps
        opening = np.linalg.norm(lm[:, 66] - lm[:, 62], axis=-1) / interocular(lm)
        audio = load_audio(speech_source(clip), SAMPLE_RATE)[:int((a.seconds + 1) * SAMPLE_RATE)]
        hop = SAMPLE_RATE / fps
        rms = np.array([np.sqrt(np.mean(audio[int(t * hop):int((t + 1) * hop)] ** 2) + 1e-12) for t in range(n)])
        table = np.array([OPEN[p] for p in PHONES], np.float32)
        jaw = gaussian_filter1d(phone_features(audio, fps, n) @ table, 0.04 * fps)
        row = dict(clip=clip.name, frames=n, fps=round(fps, 2), r_log_rms=best_r(opening, np.log(rms)),
                   r_phone_table=best_r(opening, jaw))
        for kind in ("mfcc", "phones", "mfcc+phones"):
            r = ridge_ratio(audio_features(audio, fps, n, kind), lm, align=a.align)
            row[f"ridge_{kind}"], row[f"ridge_{kind}_given_mean"] = r["ratio"], r["given_mean"]
            row["still_reference_ratio"], row["still_pct_iod"] = r["still_reference"], r["still_pct_iod"]
        rows.append(row)
        print(f"{clip.name:<44} {n:>5} frames  r(log RMS) {row['r_log_rms']:5.2f}  r(phone table) "
              f"{row['r_phone_table']:5.2f}  mouth_lmd_ratio: reference mean held still "
              f"{row['still_reference_ratio']:.2f}; ridge mfcc {row['ridge_mfcc']:.2f} "
              f"({row['ridge_mfcc_given_mean']:.2f} given the held-out mean), phones {row['ridge_phones']:.2f} "
              f"({row['ridge_phones_given_mean']:.2f}), both {row['ridge_mfcc+phones']:.2f} "
              f"({row['ridge_mfcc+phones_given_mean']:.2f})", flush=True)
    print(f"mean mouth_lmd_ratio of the reference's mean mouth held still: "
          f"{np.nanmean([r['still_reference_ratio'] for r in rows]):.3f}")
    for kind in ("mfcc", "phones", "mfcc+phones"):
        print(f"mean ridge mouth_lmd_ratio, {kind}: {np.nanmean([r[f'ridge_{kind}'] for r in rows]):.3f} "
              f"({np.nanmean([r[f'ridge_{kind}_given_mean'] for r in rows]):.3f} given the held-out mean)")
    print(f"mean r: log RMS {np.nanmean([r['r_log_rms'] for r in rows]):.2f}, phone table "
          f"{np.nanmean([r['r_phone_table'] for r in rows]):.2f} ({len(rows)} clips, {os.cpu_count()} cores)")
    if a.json:
        a.json.write_text(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()
