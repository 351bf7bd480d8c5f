"""Blinks for FACIAL synthesis: FACIAL-GAN's predicted eye channel (AU45_r / 5, ``params.EYE``) made into blinks of a
person's rate and duration, written back into the eye channel (which fills the eye attention map, FACIAL eq. 9) and
the ICT ``eyeBlink_L``/``eyeBlink_R`` coefficients (which close the rendered eyelids).

FACIAL predicts the blink value per frame and reports 0.28-0.45 blinks/s of 0.41 s for its results (Table 1 and
section 5.2). Departure, stated (issue 11): a FACIAL-GAN trained for minutes on a CPU predicts the eye channel
weakly and its peaks last one or two frames, which the Savitzky-Golay smoothing then flattens; people blink every
2-5 s for 0.1-0.4 s (Bentivoglio et al. 1997: 17 blinks/min at rest, 26 while talking). thead therefore keeps the
times FACIAL-GAN predicts a blink (runs of the channel above ``THRESHOLD``), gives each the reference video's blink
profile (its mean duration, clipped to ``DURATION_S``, and its peak), and when the predicted blinks are fewer than
the reference's rate (clipped to ``RATE_PER_S``) fills the longer gaps with blinks at gamma-distributed intervals
(shape 6: a coefficient of variation of 0.4; measured inter-blink intervals vary more, but a clip of a
few seconds must land near the person's rate), never closer than ``MIN_SPACING`` mean intervals, drawn from a
generator seeded by ``seed`` so that a synthesis is reproducible. ``shape_blinks(..., fill=False)`` keeps only
the predicted blinks.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from thead.systems.facial.params import EYE, EXP_START

THRESHOLD = 0.2  # eye channel (0-1): AU45_r > 1, thead's blink test (thead.face.au.count_blinks)
RATE_PER_S = (0.25, 0.4)  # blinks/s a person shows while talking (kept inside 0.2-0.6 with a margin: the measured
# rate of a synthesized video also counts a few eye-landmark flickers)
DURATION_S = (0.2, 0.35)  # one blink: time the eye channel stays above THRESHOLD (as count_blinks measures it)
MIN_SPACING = 0.75  # no two blinks closer than this fraction of the mean interval (predicted ones: the first is kept)
DEFAULT_RATE, DEFAULT_DURATION, DEFAULT_PEAK = 0.35, 0.25, 0.8
GAMMA_SHAPE = 6.0


@dataclass
class BlinkStyle:
    """A person's blinks: ``rate`` per second, ``duration`` in s, ``peak`` eye-channel value (0-1)."""

    rate: float = DEFAULT_RATE
    duration: float = DEFAULT_DURATION
    peak: float = DEFAULT_PEAK


def runs_above(x: np.ndarray, threshold: float = THRESHOLD) -> list[tuple[int, int]]:
    """(start, end) frame ranges (end exclusive) where ``x`` > ``threshold``."""
    above = np.concatenate([[False], np.nan_to_num(np.asarray(x, np.float64)) > threshold, [False]])
    edges = np.flatnonzero(np.diff(above.astype(np.int8)))
    return list(zip(edges[::2].tolist(), edges[1::2].tolist()))


def blink_style(eye: np.ndarray, fps: float) -> BlinkStyle:
    """The blinks of a reference video's eye channel (T,) in 0-1 at ``fps``: rate, mean duration above
    ``THRESHOLD`` and mean peak, each clipped to a person's range (``RATE_PER_S``, ``DURATION_S``, peak 0.5-1); a
    clip without blinks gets the defaults (0.35/s, 0.25 s, 0.8). A 3DMM fit of landmarks sees a blink for fewer
    frames than the eyelid is down, so short measured blinks are lengthened to ``DURATION_S[0]``."""
    eye = np.asarray(eye, np.float64)
    runs = [(a, b) for a, b in runs_above(eye) if b - a <= fps]  # longer: eyes shut or looking down, not a blink
    seconds = len(eye) / fps if fps > 0 else 0.0
    if not runs or seconds <= 0:
        return BlinkStyle()
    return BlinkStyle(rate=float(np.clip(len(runs) / seconds, *RATE_PER_S)),
                      duration=float(np.clip(np.mean([(b - a) / fps for a, b in runs]), *DURATION_S)),
                      peak=float(np.clip(np.mean([eye[a:b].max() for a, b in runs]), 0.5, 1.0)))


def blink_times(predicted: np.ndarray, fps: float, style: BlinkStyle, seed: int = 0, fill: bool = True) -> list[float]:
    """Blink centres in frames (sorted, each in [0, T)).

    FACIAL-GAN's predicted runs keep their peaks, thinned so that no two blinks are closer than ``MIN_SPACING`` mean
    intervals (1 / ``style.rate``); with ``fill``, gaps are filled with blinks at gamma-distributed intervals
    (shape ``GAMMA_SHAPE``), each at least ``MIN_SPACING`` mean intervals from its neighbours, so that the rate reaches
    ``style.rate`` and, whatever FACIAL-GAN predicts, never exceeds it by more than 1 / ``MIN_SPACING``."""
    predicted = np.asarray(predicted, np.float64)
    n = len(predicted)
    mean = fps / style.rate  # frames between blinks
    gap = MIN_SPACING * mean
    centres: list[float] = []
    for a, b in runs_above(predicted):
        c = a + float(np.argmax(predicted[a:b]))
        if not centres or c - centres[-1] >= gap:
            centres.append(c)
    if not fill or n == 0:
        return centres
    rng = np.random.default_rng(seed)
    out = list(centres)
    bounds = [-mean * rng.uniform(0.3, 1.0)] + centres + [n - 1 + gap]
    for lo, hi in zip(bounds[:-1], bounds[1:]):
        t = lo + max(gap, rng.gamma(GAMMA_SHAPE, mean / GAMMA_SHAPE))
        while t <= hi - gap:
            out.append(t)
            t += max(gap, rng.gamma(GAMMA_SHAPE, mean / GAMMA_SHAPE))
    return sorted(c for c in out if 0 <= c < n)


def blink_curve(centres: list[float], n: int, fps: float, style: BlinkStyle) -> np.ndarray:
    """(n,) eye channel: a raised-cosine blink of peak ``style.peak`` at each centre (frames), wide enough to stay
    above ``THRESHOLD`` for ``style.duration`` seconds."""
    t = np.arange(n, dtype=np.float64)
    peak = max(style.peak, 2 * THRESHOLD)
    above = np.arccos(np.clip(2 * THRESHOLD / peak - 1, -1, 1)) / np.pi  # fraction of the half-width above it
    half = max(style.duration * fps / 2.0 / max(above, 1e-3), 1.0)
    out = np.zeros(n)
    for c in centres:
        u = np.clip(np.abs(t - c) / half, 0, 1)
        out = np.maximum(out, peak * 0.5 * (1 + np.cos(np.pi * u)))
    return out.astype(np.float32)


def shape_blinks(params: np.ndarray, fps: float, style: BlinkStyle, blink_columns: list[int], seed: int = 0,
                 fill: bool = True) -> np.ndarray:
    """Parameters (T, P) (``params`` layout, de-normalised) with their eye channel and the expression columns
    ``blink_columns`` (indices into the expression part: ICT ``eyeBlink_L``, ``eyeBlink_R``) replaced by blinks
    (module doc). Between blinks both keep the prediction, capped below half the blink threshold.

    Raises:
        ValueError: non-finite parameters or a non-positive ``fps``.
    """
    params = np.asarray(params, np.float32)
    if not np.isfinite(params).all():
        raise ValueError("blinks: the predicted parameters are not all finite")
    if fps <= 0:
        raise ValueError(f"blinks: fps must be positive, got {fps}")
    out = params.copy()
    curve = blink_curve(blink_times(params[:, EYE], fps, style, seed, fill), len(params), fps, style)
    cap = 0.5 * THRESHOLD
    out[:, EYE] = np.maximum(np.minimum(params[:, EYE], cap), curve)
    for k in blink_columns:
        col = EXP_START + k
        out[:, col] = np.maximum(np.minimum(params[:, col], cap), curve)
    return out
