"""Wall-clock budgets of a Make recipe (stages/facial.mk, ``FC_BUDGET``):
``python -m thead.budget --budget 60 --timings WORK/facial/timings.tsv --speech speech.wav`` prints the minutes a
training step may still take: the budget, less the minutes the steps logged in the ``THEAD_TIMINGS`` file took,
less a reserve for synthesising the speech (``SYNTH_S_PER_FRAME`` per frame at 30 fps, measured on 2 CPU cores
with paste-back into a 1080p video) and for evaluation and the report (``TAIL_MINUTES``). At least ``MIN_MINUTES``.
"""

from __future__ import annotations

import argparse
from pathlib import Path

SYNTH_S_PER_FRAME = 0.5  # measured 0.44 s (cpu-hour bench, 240 frames pasted into 1080x1920), with a margin
TAIL_MINUTES = 2.0
MIN_MINUTES = 1.0


def read_timings(timings: Path) -> list[tuple[str, float, str, str]]:
    """The rows of a ``THEAD_TIMINGS`` file (written by ``thead.cli._log_time``): (command, wall seconds, exit code,
    command line) per invocation, in order; none when the file is missing; lines that do not parse are skipped."""
    p = Path(timings)
    if not p.is_file():
        return []
    rows = []
    for ln in p.read_text(encoding="utf-8", errors="replace").splitlines():
        parts = ln.split("\t")
        try:
            rows.append((parts[0], float(parts[1]), parts[2], parts[3] if len(parts) > 3 else ""))
        except (IndexError, ValueError):
            continue
    return rows


def spent_minutes(timings: Path) -> float:
    """Minutes logged in a ``THEAD_TIMINGS`` file (0 when it is missing)."""
    return sum(r[1] for r in read_timings(timings)) / 60


def minutes_left(budget: float, timings: Path, speech_s: float, fps: float = 30.0) -> float:
    reserve = speech_s * fps * SYNTH_S_PER_FRAME / 60 + TAIL_MINUTES
    return max(MIN_MINUTES, budget - spent_minutes(timings) - reserve)


def main(argv=None) -> None:
    from thead.audio.features import SAMPLE_RATE
    from thead.media import load_audio

    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--budget", type=float, required=True, help="Minutes for the whole recipe.")
    ap.add_argument("--timings", type=Path, required=True)
    ap.add_argument("--speech", type=Path, required=True)
    a = ap.parse_args(argv)
    speech_s = len(load_audio(a.speech, SAMPLE_RATE)) / SAMPLE_RATE
    print(f"{minutes_left(a.budget, a.timings, speech_s):.2f}")


if __name__ == "__main__":
    main()
