"""Training logs: one JSON object per line (``log.jsonl``: step, losses, steps/s) and a loss plot PNG."""

from __future__ import annotations

import json
from pathlib import Path


class JsonlLog:
    """Append-only JSONL log; on resume, lines after the resumed step are dropped so the log stays consistent."""

    def __init__(self, path: Path, resume_step: int = 0):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        if self.path.exists():
            keep = [ln for ln in self.path.read_text().splitlines() if ln.strip()
                    and json.loads(ln).get("step", 0) <= resume_step]
            self.path.write_text("".join(k + "\n" for k in keep))

    def write(self, record: dict) -> None:
        with open(self.path, "a") as f:
            f.write(json.dumps(record) + "\n")

    def read(self) -> list[dict]:
        return [json.loads(ln) for ln in self.path.read_text().splitlines() if ln.strip()] if self.path.exists() else []


def plot_losses(log: Path, out: Path, title: str = "") -> Path:
    """PNG of every numeric loss in ``log`` against the step (log scale where all values are positive)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from thead.viz import save_figure

    recs = JsonlLog(log, resume_step=10**12).read()
    keys = sorted({k for r in recs for k, v in r.items() if isinstance(v, (int, float)) and k not in
                   ("step", "steps_per_s", "epoch", "time_s")})
    fig, ax = plt.subplots(figsize=(8, 4.5))
    for k in keys:
        pts = [(r["step"], r[k]) for r in recs if k in r]
        if pts:
            ax.plot(*zip(*pts), label=k, lw=1)
    if keys and all(r[k] > 0 for r in recs for k in keys if k in r):
        ax.set_yscale("log")
    ax.set_xlabel("step")
    ax.set_ylabel("loss")
    ax.set_title(title)
    if keys:
        ax.legend(fontsize=7, ncol=3)
    else:  # a run stopped before its first logged step: say so instead of an empty legend (and matplotlib's warning)
        ax.text(0.5, 0.5, "no step logged yet", ha="center", va="center", transform=ax.transAxes)
    fig.tight_layout()
    return save_figure(fig, out)
