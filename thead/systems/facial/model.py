"""FACIAL-GAN networks (FACIAL section 3.2, eq. 3, Fig. 3). The paper draws the blocks but not their layers; thead's
choices are stated per class.

Shapes: audio features a (B, T, D) for a window of T frames and their 16-frame windows (B, T, 16, D); the initial
state s (B, P) = the parameters of the window's first frame; output parameters (B, T, P) (``params.LAYOUT``).
"""

from __future__ import annotations

import torch
from torch import nn


class TemporalGenerator(nn.Module):
    """G_tem: the whole window's audio -> temporal features z_t (B, T, 2H), given the initial state s.

    Two 1-D convs (kernel 3) over time, then a 2-layer bidirectional GRU whose initial hidden states are a linear map
    of s, so every z_t sees the whole window and the state the window starts from (FACIAL: "each unit of latent
    feature z is able to incorporate the information from other frames"; "the initial state s is introduced to
    ensure the temporal continuity between generated sequences").
    """

    def __init__(self, audio_dim: int, param_dim: int, hidden: int = 128):
        super().__init__()
        self.conv = nn.Sequential(nn.Conv1d(audio_dim, hidden, 3, 1, 1), nn.LeakyReLU(0.2),
                                  nn.Conv1d(hidden, hidden, 3, 1, 1), nn.LeakyReLU(0.2))
        self.init = nn.Linear(param_dim, 4 * hidden)  # 2 layers x 2 directions
        self.gru = nn.GRU(hidden, hidden, num_layers=2, batch_first=True, bidirectional=True)
        self.hidden = hidden

    def forward(self, audio: torch.Tensor, state: torch.Tensor) -> torch.Tensor:
        h = self.conv(audio.transpose(1, 2)).transpose(1, 2)
        h0 = torch.tanh(self.init(state)).view(len(state), 4, self.hidden).transpose(0, 1).contiguous()
        z, _ = self.gru(h, h0)
        return z


class LocalGenerator(nn.Module):
    """G_loc: one frame's 16-frame audio window (16, D) -> local phonetic feature c_t (C,).

    Four 1-D convs (kernel 3, stride 2) along the window's 16 frames with the D features as channels (16 -> 8 -> 4
    -> 2 -> 1 frames), LeakyReLU(0.2), then a linear layer, in the spirit of the time-convolution audio encoders of
    NVIDIA's audio2face that FACIAL's local network resembles. All frames of a batch run as one batch of B x T
    windows (the official code loops over the T frames in Python). (A first version convolved each feature column
    separately with 2-D (3 x 1) kernels, VOCA-style; it cost 20x more for no stated benefit.)
    """

    def __init__(self, audio_dim: int, out_dim: int = 64, width: int = 64):
        super().__init__()
        w = width
        self.conv = nn.Sequential(
            nn.Conv1d(audio_dim, w, 3, 2, 1), nn.LeakyReLU(0.2),
            nn.Conv1d(w, w, 3, 2, 1), nn.LeakyReLU(0.2),
            nn.Conv1d(w, w, 3, 2, 1), nn.LeakyReLU(0.2),
            nn.Conv1d(w, w, 3, 2, 1), nn.LeakyReLU(0.2))
        self.fc = nn.Sequential(nn.Linear(w, out_dim), nn.LeakyReLU(0.2))

    def forward(self, windows: torch.Tensor) -> torch.Tensor:
        """(N, 16, D) -> (N, out_dim)."""
        return self.fc(self.conv(windows.transpose(1, 2)).flatten(1))


class FacialGenerator(nn.Module):
    """G^f = FC(G_tem(a | s)_t (+) G_loc(a[t-8 : t+8])) (FACIAL eq. 3).

    Args:
        audio_dim: D (29 for deepspeech, 39 for mfcc).
        param_dim: P (``params.param_dim``).
    """

    def __init__(self, audio_dim: int, param_dim: int, hidden: int = 128, local_dim: int = 64, width: int = 64):
        super().__init__()
        self.tem = TemporalGenerator(audio_dim, param_dim, hidden)
        self.loc = LocalGenerator(audio_dim, local_dim, width)
        self.fc = nn.Linear(2 * hidden + local_dim, param_dim)
        self.audio_dim, self.param_dim = audio_dim, param_dim

    def forward(self, audio: torch.Tensor, windows: torch.Tensor, state: torch.Tensor) -> torch.Tensor:
        """audio (B, T, D), windows (B, T, 16, D), state (B, P) -> parameters (B, T, P)."""
        b, t = audio.shape[:2]
        z = self.tem(audio, state)
        c = self.loc(windows.reshape(b * t, *windows.shape[2:])).view(b, t, -1)
        return self.fc(torch.cat([z, c], -1))


class ParamDiscriminator(nn.Module):
    """D^f: a parameter sequence (B, T, P) -> per-segment real/fake logits (B, T/8) (eq. 7).

    Three stride-2 1-D convs over time with LeakyReLU(0.2) and a 1-channel output conv: it judges the motion of
    windows of frames (a temporal PatchGAN), which is where real and generated pose/blink dynamics differ.
    """

    def __init__(self, param_dim: int, width: int = 64):
        super().__init__()
        w = width
        self.net = nn.Sequential(
            nn.Conv1d(param_dim, w, 4, 2, 1), nn.LeakyReLU(0.2),
            nn.Conv1d(w, 2 * w, 4, 2, 1), nn.LeakyReLU(0.2),
            nn.Conv1d(2 * w, 2 * w, 4, 2, 1), nn.LeakyReLU(0.2),
            nn.Conv1d(2 * w, 1, 3, 1, 1))

    def forward(self, params: torch.Tensor) -> torch.Tensor:
        return self.net(params.transpose(1, 2)).flatten(1)
