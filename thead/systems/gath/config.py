"""GATH training settings, declared once: ``thead train aue`` / ``thead train gath`` take their option defaults
from here (no torch import, so ``thead --help`` stays fast). Field comments say where each departs from the paper."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class TrainConfig:
    steps: int = 10000
    batch_size: int = 64  # per process
    lr: float = 1e-4
    beta1: float = 0.9
    beta2: float = 0.999
    lambda_rec: float = 1.0
    lambda_tv: float = 1.0
    lambda_adv: float = 0.05
    lambda_cls: float = 0.05
    lambda_au: float = 1.0  # eq. 4
    au_norm: str = "relative"  # eq. 4's normalization: relative (thead), sum (paper), mean; see train_gath
    lambda_expr: float = 1.0  # GANimation's conditional expression loss on E's output (not in GATH; see train_gath)
    edit_fraction: float = 0.25  # share of each batch given an edited target vector (not in GATH; see train_gath)
    aue_norm: str = "batch"  # AU estimator normalization: batch (thead) or none (paper); see model.AUEstimator
    augment: bool = True  # AU estimator: random shifts and brightness/contrast (not in GATH; see train_aue)
    output: str = "attention"  # generator output: attention (GANimation; thead), residual, direct (paper); see
    # model.Generator
    lambda_att: float = 0.01  # attention-map regularizer (GANimation): mean A + TV of A; not with output=direct
    warp: str = "3dmm"  # generator input: 3dmm (thead: source warped by the 3DMM flow) or none (paper); model.Generator
    upsample: str = "resize"  # generator upsampling: resize (thead) or transposed (paper); see model.Generator
    g_norm: str = "batch"  # generator normalization: batch (paper; thead) or instance; see model.Generator
    width: int = 64
    time_limit_s: float = 0.0  # wall-clock budget of one invocation, s (0: none); stops early with a checkpoint
    checkpoint_every: int = 500
    log_every: int = 10
    seed: int = 0
    device: str = "cpu"
    amp: bool = False  # bf16 autocast of the forward passes (thead.train.amp); not in the papers
    variant: str = "gath"
    max_per_item: int = 0  # source frames kept per video item (0: all)
    extra: dict = field(default_factory=dict)


AUE_LR = 1e-3  # the AU estimator's learning rate (with BatchNorm; see model.AUEstimator)
