"""FACIAL training settings, declared once: ``thead train facial-gan`` and ``thead train render2video`` take their
option defaults from here (no torch import, so ``thead --help`` stays fast)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class FacialGANConfig:
    steps: int = 5000
    batch_size: int = 16  # per process (paper: 64 general, 16 fine-tuning)
    lr: float = 1e-4
    window: int = 128  # T
    hop: int = 5  # frames between training windows
    hidden: int = 128
    local_dim: int = 64
    width: int = 64  # G_loc channels
    w_exp: float = 2.0
    w_pose: float = 1.0
    w_eye: float = 5.0
    w_state: float = 10.0
    w_motion: float = 10.0
    w_gan: float = 0.1
    audio_norm: str = "cmvn"  # per-clip CMVN of the features (data.cmvn; not in FACIAL) or "none" (the paper)
    w_mouth: float = 0.0  # weight of L_mouth, the 3DMM mouth-shape loss (not in FACIAL; losses.py)
    epochs: float = 0.0  # > 0: train this many passes over the windows instead of ``steps`` (the paper counts epochs)
    time_limit_s: float = 0.0  # wall-clock budget of one invocation, s (0: none); stops early with a checkpoint
    checkpoint_every: int = 500
    log_every: int = 10
    seed: int = 0
    device: str = "cpu"
    amp: bool = False  # bf16 autocast of the forward passes (thead.train.amp); not in the papers


@dataclass
class Render2VideoConfig:
    steps: int = 20000
    batch_size: int = 4
    lr: float = 2e-4
    n_w: int = 2  # window of 2 N_w renders
    arch: str = "auto"  # render2video.ARCHS; auto: pix2pixhd on a GPU, unet-residual on a CPU
    width: int = 32  # generator; pix2pixHD: 64
    d_width: int = 32  # discriminator; pix2pixHD: 64
    lambda_fm: float = 2.0  # lambda_1
    lambda_p: float = 10.0  # lambda_2
    lambda_l1: float = 50.0  # lambda_3
    lambda_id: float = 1.0  # identity term (not in FACIAL): dlib descriptor distance of G^r's frame to the real one
    w_face: float = 4.0  # extra L1 weight inside the rendered face (not in FACIAL; 0: eq. 10's plain L1)
    epochs: float = 0.0  # > 0: train this many passes over the frames instead of ``steps`` (the paper counts epochs)
    lr_decay: float = 0.0  # fraction of the run, at its end, over which lr falls linearly to 0 (pix2pixHD; paper 0.6)
    time_limit_s: float = 0.0  # wall-clock budget of one invocation, s (0: none); stops early with a checkpoint
    checkpoint_every: int = 500
    log_every: int = 10
    seed: int = 0
    device: str = "cpu"
    amp: bool = False  # bf16 autocast of the forward passes (thead.train.amp); not in the papers
