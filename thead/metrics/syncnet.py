"""SyncNet audio-visual offset and confidence (Chung & Zisserman, "Out of time: automated lip sync in the wild",
ACCV workshops 2016), the lip-sync figures FACIAL (Table 1) and later work report ("LSE-D" = min distance,
"LSE-C" = confidence).

The network is the released SyncNet ("syncnet_v2.model" of joonson/syncnet_python), laid out module for module so
that file's state dict loads key for key (``SyncNet.from_file``; weights are never downloaded):

- audio stream: (N, 1, 13, 20) MFCC windows (13 coefficients x 20 frames at 100 Hz = 0.2 s) -> 2-D conv net ->
  (N, 512) -> MLP -> (N, 1024);
- lip stream: (N, 3, 5, 224, 224) five consecutive 25 fps face crops (BGR, 0-255, not normalised) -> 3-D conv net ->
  (N, 512) -> MLP -> (N, 1024).

Evaluation follows syncnet_python: the video is taken at 25 fps and the audio at 16 kHz; MFCCs come from
python_speech_features on int16-scaled samples (its defaults: 25 ms windows, 10 ms hop, 26 filters, c0 replaced by
the log energy); lip window t (frames t..t+4) is paired with MFCC frames 4t..4t+19; for every frame the Euclidean
distances to the audio features at shifts -15..15 frames are taken (zero features past either end), averaged over
the video; the offset is the shift of the smallest mean distance, the confidence the median of the mean distances
minus that minimum.

The face crop differs in one respect: syncnet_python crops around S3FD face boxes; thead takes the box of the 68
dlib landmarks instead (centre and half of the longer side, median-filtered over 13 frames as syncnet_python does
with its boxes), then crops as syncnet_python does: ``1.4 x`` the half size either side horizontally, ``1.0 x``
above and ``1.8 x`` below the box centre, grey (110) outside the frame, resized to 224 x 224. Absolute distances can
therefore differ slightly from figures computed with S3FD crops; offsets and the ranking of methods should not.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Optional

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from thead.errors import InputError

FPS = 25.0  # SyncNet's video rate
SAMPLE_RATE = 16000
MFCC_PER_FRAME = 4  # 100 Hz MFCC frames per 25 fps video frame
WINDOW = 5  # video frames per lip clip (0.2 s) = 20 MFCC frames
CROP = 224
CROP_MARGIN = 0.4  # syncnet_python's "crop scale"
PAD_VALUE = 110
BOX_FILTER = 13  # frames of the median filter over face boxes
VSHIFT = 15  # frames of offset searched either way
EMBEDDING = 1024


def _stack(spec: Iterable[tuple]) -> nn.Sequential:
    """Build a Sequential from ("conv"/"conv3d", cin, cout, kernel, stride, padding), ("pool"/"pool3d", kernel,
    stride[, padding]) rows; every conv is followed by batch norm and ReLU (module indices as in syncnet_v2)."""
    layers: list[nn.Module] = []
    for kind, *a in spec:
        if kind in ("conv", "conv3d"):
            cin, cout, k, s, p = a
            conv, bn = (nn.Conv2d, nn.BatchNorm2d) if kind == "conv" else (nn.Conv3d, nn.BatchNorm3d)
            layers += [conv(cin, cout, kernel_size=k, stride=s, padding=p), bn(cout), nn.ReLU(inplace=True)]
        else:
            pool = nn.MaxPool2d if kind == "pool" else nn.MaxPool3d
            layers.append(pool(*a))
    return nn.Sequential(*layers)


def _head(embedding: int) -> nn.Sequential:
    return nn.Sequential(nn.Linear(512, 512), nn.BatchNorm1d(512), nn.ReLU(), nn.Linear(512, embedding))


class SyncNet(nn.Module):
    """SyncNet's two streams (module doc). ``audio`` and ``lip`` give (N, 1024) embeddings; in sync, the two
    embeddings of one 0.2 s window are close (Euclidean)."""

    def __init__(self, embedding: int = EMBEDDING):
        super().__init__()
        self.netcnnaud = _stack([
            ("conv", 1, 64, 3, 1, 1), ("pool", 1, 1),
            ("conv", 64, 192, 3, 1, 1), ("pool", 3, (1, 2)),
            ("conv", 192, 384, 3, 1, 1), ("conv", 384, 256, 3, 1, 1), ("conv", 256, 256, 3, 1, 1), ("pool", 3, 2),
            ("conv", 256, 512, (5, 4), 1, 0)])
        self.netfcaud = _head(embedding)
        self.netcnnlip = _stack([
            ("conv3d", 3, 96, (5, 7, 7), (1, 2, 2), 0), ("pool3d", (1, 3, 3), (1, 2, 2)),
            ("conv3d", 96, 256, (1, 5, 5), (1, 2, 2), (0, 1, 1)), ("pool3d", (1, 3, 3), (1, 2, 2), (0, 1, 1)),
            ("conv3d", 256, 256, (1, 3, 3), 1, (0, 1, 1)), ("conv3d", 256, 256, (1, 3, 3), 1, (0, 1, 1)),
            ("conv3d", 256, 256, (1, 3, 3), 1, (0, 1, 1)), ("pool3d", (1, 3, 3), (1, 2, 2)),
            ("conv3d", 256, 512, (1, 6, 6), 1, 0)])
        self.netfclip = _head(embedding)

    def audio(self, mfcc: torch.Tensor) -> torch.Tensor:
        """(N, 1, 13, 20) MFCC windows -> (N, 1024)."""
        return self.netfcaud(self.netcnnaud(mfcc).flatten(1))

    def lip(self, clips: torch.Tensor) -> torch.Tensor:
        """(N, 3, 5, 224, 224) BGR 0-255 face-crop clips -> (N, 1024)."""
        return self.netfclip(self.netcnnlip(clips).flatten(1))

    @classmethod
    def from_file(cls, path: Path) -> "SyncNet":
        """Load syncnet_python's ``syncnet_v2.model`` (a state dict; ``weights_only``), or a state dict saved from
        this class. Keys saved from syncnet_python's ``SyncNetInstance`` (prefixed ``__S__.``) are accepted too.

        Raises:
            InputError: missing file, not a state dict, or keys/shapes that do not match.
        """
        from thead.weights import load_weights_into

        return load_weights_into(cls(), path, "--syncnet-weights", "a SyncNet state dict",
                                 prepare=lambda sd: {k.removeprefix("__S__."): v for k, v in sd.items()})


def mfcc_windows(audio: np.ndarray, n_windows: int) -> np.ndarray:
    """SyncNet's audio input.

    Args:
        audio: (N,) float samples in [-1, 1] at 16 kHz (scaled to int16 range, as syncnet_python reads WAVs).
        n_windows: windows wanted; window t covers MFCC frames 4t..4t+19 (video frames t..t+4 at 25 fps).

    Returns:
        (n_windows, 1, 13, 20) float32.

    Raises:
        InputError: audio too short for ``n_windows`` windows.
    """
    from python_speech_features import mfcc

    cc = mfcc(np.asarray(audio, np.float64) * 32768.0, SAMPLE_RATE).T.astype(np.float32)  # (13, M)
    need = (n_windows - 1) * MFCC_PER_FRAME + WINDOW * MFCC_PER_FRAME
    if n_windows < 1 or cc.shape[1] < need:
        raise InputError(f"audio of {len(audio) / SAMPLE_RATE:.2f} s is too short for {n_windows} SyncNet windows")
    return np.stack([cc[None, :, t * MFCC_PER_FRAME:t * MFCC_PER_FRAME + WINDOW * MFCC_PER_FRAME]
                     for t in range(n_windows)])


def face_boxes(landmarks: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-frame face box of the 68 landmarks, gaps filled and median-filtered over 13 frames.

    Args:
        landmarks: (T, 68, 2) px, NaN where no face was found.

    Returns:
        centres (T, 2) px and half sizes (T,) px (half of the box's longer side).

    Raises:
        InputError: no face in any frame.
    """
    from scipy.signal import medfilt

    ok = np.isfinite(landmarks).all(axis=(1, 2))
    if not ok.any():
        raise InputError("no face found in any frame: SyncNet needs a face track")
    lo, hi = landmarks[ok].min(1), landmarks[ok].max(1)  # (K, 2)
    t, idx = np.arange(len(landmarks)), np.flatnonzero(ok)
    track = np.stack([np.interp(t, idx, v) for v in (*((lo + hi) / 2).T, (hi - lo).max(1) / 2)], 1)
    k = min(BOX_FILTER, len(t) - (1 - len(t) % 2))  # an odd kernel no longer than the track
    if k >= 3:
        track = np.stack([medfilt(track[:, j], k) for j in range(3)], 1)
    return track[:, :2], track[:, 2]


def lip_crop(rgb: np.ndarray, center: np.ndarray, half: float) -> np.ndarray:
    """syncnet_python's face crop (module doc): (H, W, 3) uint8 RGB -> (224, 224, 3) uint8 BGR."""
    import cv2

    side = 2 * half * (1 + CROP_MARGIN)
    x0, y0 = center[0] - half * (1 + CROP_MARGIN), center[1] - half
    z = CROP / side
    m = np.array([[z, 0, -z * x0], [0, z, -z * y0]], np.float64)
    out = cv2.warpAffine(np.ascontiguousarray(rgb[..., ::-1]), m, (CROP, CROP), flags=cv2.INTER_LINEAR,
                         borderMode=cv2.BORDER_CONSTANT, borderValue=(PAD_VALUE,) * 3)
    return out


@dataclass
class SyncResult:
    """SyncNet figures of one video.

    Attributes:
        offset: frames at 25 fps; > 0 means the mouth lags the sound (audio frame t - offset matches video frame t).
        min_dist: the smallest mean embedding distance over shifts ("LSE-D"; lower is better).
        confidence: median minus minimum of the mean distances ("LSE-C"; higher is better).
        mean_dists: (2 * vshift + 1,) mean distance per shift, shift -vshift first.
        n_windows: 0.2 s windows compared.
    """

    offset: int
    min_dist: float
    confidence: float
    mean_dists: list[float] = field(default_factory=list)
    n_windows: int = 0

    def as_dict(self) -> dict:
        return dict(syncnet_offset=self.offset, syncnet_min_dist=self.min_dist,
                    syncnet_confidence=self.confidence, syncnet_windows=self.n_windows)


def sync_offset(video: torch.Tensor, audio: torch.Tensor, vshift: int = VSHIFT, chunk: int = 256) -> SyncResult:
    """Offset and confidence from (N, D) lip and (N, D) audio embeddings of the same windows (module doc)."""
    n, win = len(video), 2 * vshift + 1
    padded = F.pad(audio, (0, 0, vshift, vshift))
    rows = []
    for i in range(0, n, chunk):
        idx = torch.arange(i, min(n, i + chunk))[:, None] + torch.arange(win)[None]  # (c, win)
        v = video[i:i + chunk, None].expand(-1, win, -1)
        rows.append(F.pairwise_distance(v.reshape(-1, v.shape[-1]), padded[idx].reshape(-1, v.shape[-1]))
                    .view(-1, win))
    mean = torch.cat(rows).mean(0)
    best = int(torch.argmin(mean))
    return SyncResult(offset=vshift - best, min_dist=float(mean[best]),
                      confidence=float(torch.median(mean) - mean[best]), mean_dists=mean.tolist(), n_windows=n)


def score_video(net: SyncNet, path: Path, landmarks: np.ndarray, landmark_fps: float, batch: int = 16,
                device: str = "cpu", vshift: int = VSHIFT, audio: Optional[np.ndarray] = None) -> SyncResult:
    """SyncNet offset/confidence of a talking video, streamed (memory flat in its length).

    Args:
        net: a loaded ``SyncNet``.
        path: a video with an audio track (any frame rate: frames are taken at 25 fps).
        landmarks: (T, 68, 2) px of the video's frames at ``landmark_fps`` (NaN where no face), e.g. from
            ``thead extract-landmarks``; the frame nearest in time gives each 25 fps frame its face box.
        audio: the video's audio as (N,) float samples at 16 kHz when the caller has already decoded it (else it is
            decoded here).

    Raises:
        InputError: no audio track, no face, or fewer than 6 frames of audio and video.
    """
    from collections import deque

    from thead.media import FrameReader, has_audio, load_audio

    if audio is None:
        if not has_audio(path):
            raise InputError(f"{path}: no audio track for SyncNet")
        audio = load_audio(path, SAMPLE_RATE)
    reader = FrameReader(path, fps=FPS)
    centres, halves = face_boxes(landmarks)
    net = net.to(device).eval()
    feats, pending, last = [], [], deque(maxlen=WINDOW)

    def flush():
        if pending:
            x = torch.from_numpy(np.stack(pending)).permute(0, 4, 1, 2, 3).float()  # (B, 3, 5, 224, 224)
            with torch.no_grad():
                feats.append(net.lip(x.to(device)).cpu())
            pending.clear()

    n_frames = 0
    for i, ts, rgb in reader:
        j = min(len(landmarks) - 1, int(round(ts * landmark_fps)))
        last.append(lip_crop(rgb, centres[j], float(halves[j])))
        n_frames = i + 1
        if len(last) == WINDOW:
            pending.append(np.stack(last))
            if len(pending) == batch:
                flush()
    flush()
    # syncnet_python compares min(video frames, audio / 640 samples) - 5 windows
    n = min(n_frames, len(audio) // int(SAMPLE_RATE / FPS)) - WINDOW
    if n < 1 or not feats:
        raise InputError(f"{path}: too short for SyncNet ({n_frames} frames at 25 fps; at least 6 needed)")
    video = torch.cat(feats)[:n]
    with torch.no_grad():
        aud = torch.cat([net.audio(torch.from_numpy(w).to(device)).cpu()
                         for w in np.array_split(mfcc_windows(audio, n), max(1, n // batch))])
    return sync_offset(video, aud, vshift)

