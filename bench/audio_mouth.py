"""How much of a real speaker's mouth motion each audio representation carries, with no training (issue 11).

    python bench/audio_mouth.py CLIP.mp4 [CLIP2.mp4 ...] [--json out.json]

For each clip (its own audio track, or a .wav of the same stem beside a silent clip; at most 30 s): the mouth
opening measured by dlib (inner-lip gap 62-66 / outer-eye-corner distance) per frame, against (a) the log RMS of the
audio in each frame and (b) the ``phones`` features (``thead.audio.features``) through a fixed table of jaw opening
per ARPAbet phone (open vowels 1, close vowels ~0.3, bilabials 0; the usual viseme grouping), blurred by a 40 ms
Gaussian for coarticulation. Prints the best Pearson r within +-4 frames of lag for each; no model is fitted, so
the figure says how speaker-independent the representation is, not how well a network will use it.
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


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("clips", nargs="+", type=Path)
    ap.add_argument("--seconds", type=float, default=30.0)
    ap.add_argument("--json", type=Path, default=None)
    a = ap.parse_args()

    from scipy.ndimage import gaussian_filter1d

    from thead.audio.features import PHONES, SAMPLE_RATE, phone_features
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
        rows.append(row)
        print(f"{clip.name:<44} {n:>5} frames  r(log RMS) {row['r_log_rms']:5.2f}  r(phone table) "
              f"{row['r_phone_table']:5.2f}", flush=True)
    print(f"mean r: log RMS {np.nanmean([r['r_log_rms'] for r in rows]):.2f}, phone table "
          f"{np.nanmean([r['r_phone_table'] for r in rows]):.2f} ({len(rows)} clips, {os.cpu_count()} cores)")
    if a.json:
        a.json.write_text(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()
