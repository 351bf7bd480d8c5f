"""FLNet training settings, declared once: ``thead train flnet`` takes its option defaults from here (no torch
import, so ``thead --help`` stays fast)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class FLNetConfig:
    steps: int = 20000
    batch_size: int = 8  # per process
    lr: float = 1e-4
    beta1: float = 0.5
    beta2: float = 0.999
    width: int = 64  # generator E: 64 -> 256 channels in the paper
    d_width: int = 64
    variant: str = "full"
    bank_size: int = 5
    bank_pool: int = 5
    margin: float = 0.0  # warp margin M in px; 0: 40 px scaled from 224 to the crop size
    lambda_sv: float = 1.0
    lambda_tv: float = 1e-5
    lambda_rec: float = 250.0
    lambda_p: float = 1.0
    lambda_adv: float = 1.0
    k_floor: float = 0.3  # lower bound of the reconstruction heatmap K (eq. 12-13; paper 0.3): hair/background weight
    lambda_entropy: float = 0.0  # selection-mask entropy (not in FLNet; losses.mask_entropy)
    prior: str = "tps-head"  # warp prior: tps-head / tps (thead: a thin-plate flow from the landmarks, corrected) or
    # none (paper)
    field: str = "sparse"  # landmark difference field: sparse (the paper's) or dense (fields.dense_difference_field)
    d_steps: int = 5
    ema: float = 0.999  # decay of the generator's exponential moving average used for synthesis; 0: off
    history: int = 50
    holdout: float = 0.2
    gap: int = 3
    time_limit_s: float = 0.0  # stop (with a checkpoint) after this much training time; 0: no limit
    checkpoint_every: int = 500
    log_every: int = 10
    seed: int = 0
    device: str = "cpu"
    amp: bool = False  # bf16 autocast of the forward passes (thead.train.amp); not in the papers
