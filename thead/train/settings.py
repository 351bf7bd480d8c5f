"""The settings every trainer has, declared once (``thead.declare.setting``): each system's training config
subclasses ``TrainSettings``, and ``thead train SYSTEM`` offers them as options with these defaults and help texts
(a system retunes a default with ``thead.declare.retuned``). No heavy import, so ``thead --help`` stays fast."""

from __future__ import annotations

from dataclasses import dataclass

from thead.declare import Config, setting


@dataclass
class TrainSettings(Config):
    steps: int = setting(10000, "Training steps.", low=1)
    batch_size: int = setting(16, "Batch size per process.", low=1)
    lr: float = setting(1e-4, "Adam learning rate.", low=0.0, low_open=True)
    width: int = setting(64, "Channels of the first conv layer (network width).", low=4)
    time_limit_s: float = setting(0.0, "Stop with a checkpoint after this many minutes of training (a job's time "
                                  "slot; continue with --resume). 0: no limit.", flag="--time-limit", low=0.0,
                                  scale=60.0)
    checkpoint_every: int = setting(500, "Steps between checkpoints (last.pt).", low=1)
    log_every: int = 10
    seed: int = setting(0, "Random seed (rank is added under torchrun).")
    device: str = setting("cpu", "cpu, cuda, cuda:N or auto.")
    amp: bool = setting(False, "Mixed precision: bf16 autocast of the forward passes (for GPUs; not in the papers).",
                        flag="--amp/--no-amp")
