"""FACIAL-GAN inference over a whole audio track: T-frame windows with stride T - 1, each window's initial state
being the previous window's predicted last frame (the first window starts from a given state, e.g. the reference's
first frame), stitched so every frame is predicted exactly once (``windows``)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from thead.errors import InputError


class FacialGAN:
    """A trained FACIAL-GAN generator from a ``train facial-gan`` checkpoint (eval mode)."""

    def __init__(self, checkpoint: Path, device: str = "cpu"):
        from thead.systems.facial.model import FacialGenerator
        from thead.train.checkpoint import load_system_checkpoint

        blob, cfg, self.device = load_system_checkpoint(checkpoint, "facial-gan", device)
        self.audio_dim, self.param_dim, self.window = int(cfg["audio_dim"]), int(cfg["param_dim"]), int(cfg["window"])
        self.names = list(cfg["param_names"])
        self.feature_kind = cfg.get("feature_kind") or ("deepspeech" if self.audio_dim == 29 else "mfcc")
        self.step = int(blob["step"])
        self.audio_norm = str(cfg.get("audio_norm", "none"))  # checkpoints before it: raw features
        self.G = FacialGenerator(self.audio_dim, self.param_dim, int(cfg["hidden"]), int(cfg["local_dim"]),
                                 int(cfg["width"]))
        self.G.load_state_dict(blob["models"]["G"])
        self.G.eval().to(self.device)

    def __call__(self, audio: np.ndarray, state: np.ndarray) -> np.ndarray:
        """audio (N, D) features, state (P,) normalized initial parameters -> (N, P) normalized parameters.

        Raises:
            InputError: feature or parameter sizes that are not the model's.
        """
        import torch

        from thead.audio.features import windows
        from thead.systems.facial.windows import stitch, window_slice, window_starts

        if audio.ndim != 2 or audio.shape[1] != self.audio_dim:
            raise InputError(f"audio features are {audio.shape}; the model takes (N, {self.audio_dim})")
        if state.shape != (self.param_dim,):
            raise InputError(f"initial state has shape {state.shape}; the model takes ({self.param_dim},)")
        from thead.systems.facial.data import normalize_audio

        audio = normalize_audio(audio, self.audio_norm)
        wins = windows(audio)
        starts = window_starts(len(audio), self.window)
        pieces = []
        s = torch.from_numpy(state.astype(np.float32))[None].to(self.device)
        with torch.no_grad():
            for st in starts:
                a = torch.from_numpy(window_slice(audio, st, self.window))[None].to(self.device)
                w = torch.from_numpy(window_slice(wins, st, self.window))[None].to(self.device)
                y = self.G(a, w, s)[0]
                pieces.append(y.cpu().numpy())
                s = y[-1:]  # the window's last frame seeds the next window (which starts on that frame)
        return stitch(pieces, starts, len(audio))
