"""``thead evaluate facial`` (FACIAL section 5.2.2, Table 1) on generated talking videos, next to the same figures
for real videos (the reference).

Per video (streamed once for landmarks; a 3DMM fit and FACS AUs from thead's own chain):
- LMD (lip sync, Chen et al. 2018), only against a ground-truth video of the same speech: the 20 mouth landmarks
  (ibug 48-67) of each frame centred on their mean, rotated level with the eyes and divided by the frame's own
  inter-ocular distance (``mouth_shapes``), mean point distance x 100 (% IOD). Frame t of one video is paired with
  frame t of the other.
- CPBD sharpness: mean over up to ``max_frames`` evenly spaced frames (``thead.metrics.sharpness``).
- Blinks: AU45 runs above 1.0 (``thead.face.au.count_blinks``): blinks per second and mean blink duration (s).
  FACIAL quotes 0.28-0.45 blinks/s and 0.41 s for people.
- Head pose: mean and standard deviation of pitch, yaw, roll (degrees) from the fit.
- Audio-visual agreement: Pearson correlation between mouth opening (inner-lip distance / IOD per frame) and the
  audio's RMS envelope at the frame rate, at lag 0 and at the best lag within +-5 frames (positive lag: the mouth
  follows the sound).
- SyncNet (``thead.metrics.syncnet``), when SyncNet weights are given (``syncnet_weights``: syncnet_python's
  ``syncnet_v2.model``): the audio-visual offset in 25 fps frames, the minimum mean embedding distance (LSE-D,
  lower is better) and the confidence (LSE-C, higher is better). FACIAL reports the confidence.

Writes ``metrics.json`` and ``metrics.md``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import numpy as np

from thead.metrics import fmt, write_metrics

MOUTH = slice(48, 68)
MIN_SIDE = 256  # px: frames smaller than this are upscaled before landmark detection (CPBD runs on the originals)
MAX_LAG = 5


def mouth_shapes(lm: np.ndarray, aligned: bool = True) -> np.ndarray:
    """Each frame's 20 mouth landmarks (ibug 48-67) in an eye-aligned frame: centred on their mean, rotated so the
    outer eye corners (ibug 36, 45) lie on a horizontal line, and divided by that frame's inter-ocular distance
    (``aligned=False``: centred and scaled only, not rotated: thead's figure before 2026-11-27).

    Args:
        lm: (T, 68, 2) landmarks in pixels (NaN where no face).
    Returns:
        (T, 20, 2) float, in IOD units (NaN rows where ``lm`` has none).

    Chen et al. 2018 (FACIAL's LMD, section 5.2.2) measure landmarks on face crops aligned to a template; thead
    aligns each frame by the similarity (translation, in-plane rotation, scale) the eye corners fix, so a head that
    rolls does not count as a mouth that changes shape (yaw and pitch still do).
    """
    from thead.face.landmarks import OUTER_EYE_CORNERS, interocular

    lm = np.asarray(lm, np.float64)
    m = lm[:, MOUTH] - lm[:, MOUTH].mean(1, keepdims=True)
    if aligned:
        d = lm[:, OUTER_EYE_CORNERS[1]] - lm[:, OUTER_EYE_CORNERS[0]]
        a = np.arctan2(d[:, 1], d[:, 0])
        c, s = np.cos(-a)[:, None], np.sin(-a)[:, None]
        m = np.stack([c * m[..., 0] - s * m[..., 1], s * m[..., 0] + c * m[..., 1]], -1)
    return m / interocular(lm)[:, None, None]


def mouth_lmd(found: np.ndarray, truth: np.ndarray, aligned: bool = True) -> float:
    """Mouth LMD (% IOD): mean distance between paired frames' 20 mouth landmarks, each video's shapes as
    ``mouth_shapes(aligned=aligned)`` gives them, x 100. found, truth: (T, 68, 2) px; frame t is paired with frame t
    (the shorter length); frames where either has no face are skipped; NaN when none is left."""
    n = min(len(found), len(truth))
    d = np.linalg.norm(mouth_shapes(found[:n], aligned) - mouth_shapes(truth[:n], aligned), axis=-1).mean(-1)
    return float(np.nanmean(d) * 100) if np.isfinite(d).any() else float("nan")


def envelope(audio: np.ndarray, sr: int, fps: float, n: int) -> np.ndarray:
    """RMS of the audio in each video frame's interval (n,)."""
    hop = sr / fps
    out = np.zeros(n)
    for t in range(n):
        seg = audio[int(t * hop):int((t + 1) * hop)]
        out[t] = np.sqrt(np.mean(seg ** 2)) if len(seg) else 0.0
    return out


def lagged_correlation(x: np.ndarray, y: np.ndarray, max_lag: int = MAX_LAG) -> tuple[float, float, int]:
    """(corr at lag 0, best corr, its lag) of x (mouth) against y (audio); lag > 0 means x follows y."""
    def corr(a, b):
        ok = np.isfinite(a) & np.isfinite(b)
        if ok.sum() < 3 or np.std(a[ok]) == 0 or np.std(b[ok]) == 0:
            return float("nan")
        return float(np.corrcoef(a[ok], b[ok])[0, 1])

    best, best_lag = float("-inf"), 0
    for lag in range(-max_lag, max_lag + 1):
        c = corr(x[lag:], y[:len(y) - lag]) if lag >= 0 else corr(x[:lag], y[-lag:])
        if np.isfinite(c) and c > best:
            best, best_lag = c, lag
    return corr(x, y), (best if np.isfinite(best) else float("nan")), best_lag


def analyse_video(path: Path, max_frames: int = 60, syncnet=None, device: str = "cpu") -> dict:
    """Landmarks, fit, AUs, CPBD, audio and (with a ``SyncNet``) SyncNet figures of one video -> figures and the
    per-frame landmarks."""
    from thead.face.au import AU_COLUMNS, au_from_blendshapes, count_blinks
    from thead.face.facemodel import load_face_model
    from thead.face.fit import fit_landmarks
    from thead.face.landmarks import LandmarkExtractor, interocular
    from thead.media import FrameReader, has_audio, load_audio
    from thead.media.image import upscale_min_side
    from thead.metrics.sharpness import cpbd
    from thead.viz import sample_indices

    reader = FrameReader(path)
    n_hint = reader.n_frames_expected
    zoom = max(1.0, MIN_SIDE / min(reader.info.width, reader.info.height))  # small crops: upscale for dlib
    keep = set(sample_indices(max(n_hint, 1), max_frames))
    sharp = []

    def frames():
        for i, ts, rgb in reader:
            if i in keep:
                sharp.append(cpbd(rgb))
            yield i, ts, (upscale_min_side(rgb, MIN_SIDE) if zoom > 1 else rgb)

    res = LandmarkExtractor().video(frames())
    lmk = (res.landmarks + 0.5) / zoom - 0.5
    n, fps = len(lmk), reader.fps
    ok = np.isfinite(lmk).all(axis=(1, 2))
    out = dict(video=str(path), n_frames=n, fps=fps, face_fraction=float(ok.mean()),
               cpbd=float(np.mean(sharp)) if sharp else float("nan"))
    if ok.sum() < 2:  # nothing to fit: the face-based figures are reported as missing, not made up
        nan = float("nan")
        out.update(blinks_per_s=nan, blink_duration_s=nan, pose_mean_deg=[nan] * 3, pose_std_deg=[nan] * 3,
                   note="a face in fewer than 2 frames")
        return out, lmk
    model = load_face_model()
    fit = fit_landmarks(model, lmk)
    au = au_from_blendshapes(fit.expression, model.exp_names)
    au45 = np.where(fit.valid, au[:, AU_COLUMNS.index("AU45_r")], np.nan)
    n_blinks, runs = count_blinks(au45, fps)
    deg = np.degrees(fit.rotation[fit.valid])
    out.update(blinks_per_s=n_blinks / (n / fps), blink_duration_s=float(np.mean([(b - a) / fps for a, b in runs]))
               if runs else float("nan"),
               pose_mean_deg=deg.mean(0).round(3).tolist(), pose_std_deg=deg.std(0).round(3).tolist())
    mouth = np.linalg.norm(lmk[:, 62] - lmk[:, 66], axis=-1) / interocular(lmk)
    if has_audio(path):
        wav = load_audio(path)  # 16 kHz, shared by the envelope and SyncNet
        env = envelope(wav, 16000, fps, n)
        c0, cb, lag = lagged_correlation(mouth, env)
        out.update(mouth_audio_corr=c0, mouth_audio_corr_best=cb, mouth_audio_best_lag=lag)
        if syncnet is not None:
            from thead.metrics.syncnet import score_video

            out.update(score_video(syncnet, path, lmk, fps, device=device, audio=wav).as_dict())
    return out, lmk


def evaluate(videos: list[Path], out_dir: Path, ground_truth: Optional[Path] = None,
             reference: Optional[Path] = None, max_frames: int = 60, syncnet_weights: Optional[Path] = None,
             device: str = "cpu") -> dict:
    """Evaluate generated ``videos`` (one row each) and, as comparison rows, the ``reference`` video and the
    ``ground_truth`` video (the real video of the same speech; also the LMD target). A video where no face is
    found gets its CPBD and a note; its face-based figures are NaN. With ``syncnet_weights`` every video with
    sound also gets the SyncNet offset, min distance and confidence.

    Raises:
        InputError: unreadable videos, a bad SyncNet weights file.
    """
    from thead.metrics.syncnet import SyncNet
    from thead.train.dist import pick_device

    from thead import zoo

    syncnet_weights = zoo.find("syncnet", syncnet_weights)
    syncnet = SyncNet.from_file(syncnet_weights) if syncnet_weights is not None else None
    device = pick_device(device)

    def analyse(path):
        return analyse_video(Path(path), max_frames, syncnet, device)

    rows: dict[str, dict] = {}
    gt_lmk = None
    if ground_truth is not None:
        rows["ground truth: " + Path(ground_truth).stem], gt_lmk = analyse(ground_truth)
    if reference is not None:
        rows["reference: " + Path(reference).stem] = analyse(reference)[0]
    for v in videos:
        r, lmk = analyse(v)
        if gt_lmk is not None:
            r["lmd_mouth_pct_iod"] = mouth_lmd(lmk, gt_lmk)
        rows[Path(v).stem] = r
    result = dict(rows=rows, syncnet=str(syncnet_weights) if syncnet is not None else
                  "not computed (give --syncnet-weights: syncnet_python's syncnet_v2.model)")
    write_metrics(out_dir, result, table(result))
    return result


def table(result: dict) -> str:
    f = fmt

    lines = ["# FACIAL evaluation", "",
             "LMD: mouth landmarks vs the ground truth, % IOD. CPBD: sharpness (higher is sharper). Blinks from AU45 "
             "> 1 (people: 0.28-0.45 /s, 0.41 s). Pose std in degrees (pitch, yaw, roll). Mouth-audio: Pearson r of "
             "mouth opening and audio RMS (lag 0 / best within +-5 frames). SyncNet: offset (25 fps frames), "
             f"LSE-D (min distance, lower is better), LSE-C (confidence, higher is better); weights: "
             f"{result['syncnet']}.", "",
             "| video | LMD | CPBD | blinks/s | blink s | pose std | mouth-audio r | best r (lag) | SyncNet offset | "
             "LSE-D | LSE-C |", "|---" * 11 + "|"]
    for name, r in result["rows"].items():
        lines.append(f"| {name} | {f(r.get('lmd_mouth_pct_iod'), 2)} | {f(r['cpbd'])} | {f(r['blinks_per_s'])} | "
                     f"{f(r['blink_duration_s'])} | {', '.join(f'{x:.2f}' for x in r['pose_std_deg'])} | "
                     f"{f(r.get('mouth_audio_corr'))} | {f(r.get('mouth_audio_corr_best'))} "
                     f"({r.get('mouth_audio_best_lag', 'n/a')}) | {r.get('syncnet_offset', 'n/a')} | "
                     f"{f(r.get('syncnet_min_dist'), 2)} | {f(r.get('syncnet_confidence'), 2)} |")
    return "\n".join(lines) + "\n"
