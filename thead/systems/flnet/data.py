"""FLNet training samples from crop manifests (paper "Dataset"): a target frame and a bank of N frames of the same
person, chosen by mouth openness from other frames.

Per sample: a person (uniform), one of their clips, a target frame from the clip's training part. The bank comes from
another clip of the person when there is one (TCD-TIMIT protocol), else from the same clip with the frames within
``gap`` of the target left out (FaceForensics protocol: "we make sure that the target images are different from
source images"). The paper does not say how banks vary between samples; thead draws a random half of the candidate
frames before sorting them by openness and taking the evenly spaced pool, so banks vary while keeping the spread of
mouth shapes. The last ``holdout`` fraction of every clip is never used (``evaluate flnet`` uses it).

With ``fixed_bank`` (thead's person-specific fine-tuning, not in the paper) every sample of a person uses the one
bank that ``make-bank`` / ``evaluate flnet`` choose from that person's training frames (``bank.bank_from_clips``),
and targets within ``gap`` of a bank frame are left out: the network learns to use exactly the five images it will
be given at synthesis, as few-shot talking-head models fine-tune on their shots (Zakharov et al. 2019).

With ``zoom`` (thead's, not in the paper) every target is zoomed in by a random factor in [1, 1 + zoom] and shifted
by a random amount the zoom leaves room for, its landmarks moved alike (``zoom_targets``): the held-back part of a
clip shows the head nearer the camera and elsewhere in the crop than the frames trained on (issue 12: L1 9.4 on
training frames, 13.6 on the tail), and the zoom shows the network such targets while every pixel it is scored on is
still a real one (a zoom out or a plain shift would leave border pixels the clip never showed). Off by default: at 12
minutes of fine-tuning, zoom 0.1 left held-back L1 as it was on video-retalking_face_4 (13.26 vs 13.16) and raised it
on TPSMM_driving, whose tail comes nearer the camera (12.40 vs 11.98), though it kept every output the same person
there (issue 12 note).

The crops are held in memory as uint8 (S x S x 3 bytes a frame: 49 KB at 128, 150 KB at 224).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from thead.errors import InputError
from thead.systems.flnet.bank import CropClip, select_bank
from thead.train.images import to_model_range


@dataclass
class _Loaded:
    clip: CropClip
    images: torch.Tensor  # (T, 3, S, S) uint8 (rows of invalid / held-back frames are zero)
    train_idx: np.ndarray


def zoom_targets(images: torch.Tensor, lmk: torch.Tensor, amount: float, gen: torch.Generator
                 ) -> tuple[torch.Tensor, torch.Tensor]:
    """Zoom each image in about its centre by s ~ U[1, 1 + amount] and shift it by t ~ U[-(1 - 1/s), 1 - 1/s] of
    half the side along each axis (bilinear resampling), so that every output pixel samples the image's own area.

    Args:
        images: (B, C, S, S) float.
        lmk: (B, 68, 2) px (x, y; pixel centres at integers).
        amount: the largest zoom minus 1, >= 0 (0: unchanged).

    Returns:
        the zoomed images (B, C, S, S) and landmarks (B, 68, 2), px in the new images.
    """
    import torch.nn.functional as F

    if amount <= 0:
        return images, lmk
    b, s_px = images.shape[0], images.shape[-1]
    zoom = 1.0 + amount * torch.rand(b, generator=gen)
    room = (1.0 - 1.0 / zoom)[:, None]
    shift = (2 * torch.rand(b, 2, generator=gen) - 1) * room  # normalized coordinates
    theta = torch.zeros(b, 2, 3)
    theta[:, 0, 0] = theta[:, 1, 1] = 1.0 / zoom
    theta[:, :, 2] = -shift
    theta = theta.to(images)
    grid = F.affine_grid(theta, list(images.shape), align_corners=False)
    out = F.grid_sample(images, grid, mode="bilinear", padding_mode="border", align_corners=False)
    c = (s_px - 1) / 2.0
    z, sh = zoom.to(lmk)[:, None, None], shift.to(lmk)[:, None]
    return out, c + z * (lmk - c) + z * sh * (s_px / 2.0)


class BankSampler:
    """Draws (bank, bank landmarks, target, target landmarks) batches with a torch.Generator (exactly resumable).

    Args:
        clips: crop clips (``bank.load_crop_clips``).
        bank_size, bank_pool: N and the evenly spaced pool it is the first N of (``bank.select_bank``).
        holdout: fraction of every clip's tail never sampled.
        gap: frames around the target excluded from a same-clip bank.
        fixed_bank: every sample of a person uses its synthesis bank (see the module docstring).
        zoom: largest random zoom of the targets minus 1 (``zoom_targets``; 0: off).

    Raises:
        InputError: no person has enough training frames.
    """

    def __init__(self, clips: list[CropClip], bank_size: int = 5, bank_pool: int = 5, holdout: float = 0.2,
                 gap: int = 3, progress=None, fixed_bank: bool = False, zoom: float = 0.0):
        if bank_pool < bank_size:
            raise InputError(f"--bank-pool ({bank_pool}) must be at least --bank-size ({bank_size})")
        self.n, self.pool, self.gap, self.zoom = bank_size, bank_pool, gap, float(zoom)
        self.size = clips[0].size
        self.people: dict[str, list[_Loaded]] = {}
        for c in clips:
            tr, _ = c.split(holdout)
            if len(tr) == 0:
                continue
            imgs = torch.zeros(len(c.files), 3, c.size, c.size, dtype=torch.uint8)
            imgs[torch.from_numpy(tr)] = torch.from_numpy(c.read(tr)).permute(0, 3, 1, 2)
            if progress is not None:
                progress(c.id, len(tr))
            self.people.setdefault(c.identity, []).append(_Loaded(c, imgs, tr))
        need = bank_pool + 2 * gap + 2
        self.people = {p: v for p, v in self.people.items()
                       if len(v) > 1 or len(v[0].train_idx) >= need}
        if not self.people:
            raise InputError(f"no person has enough training frames (a single clip needs at least {need} frames "
                             f"with a face before the held-back tail)")
        self.names = sorted(self.people)
        self.fixed: dict[str, tuple] = {}
        if fixed_bank:
            self._fix_banks(holdout)

    def _fix_banks(self, holdout: float) -> None:
        """Per person: the synthesis bank (images (N, 3, S, S) uint8, landmarks) and the training targets left once
        the frames within ``gap`` of a bank frame are taken out (list of (clip, frame indices))."""
        from thead.systems.flnet.bank import bank_frames

        for name in self.names:
            loaded = self.people[name]
            chosen = bank_frames([x.clip for x in loaded], self.pool, self.n, (0.0, 1.0 - holdout))
            targets = []
            for x in loaded:
                own = np.array([i for c, i in chosen if c is x.clip] or [-10**9])
                idx = x.train_idx[np.all(np.abs(x.train_idx[:, None] - own[None]) > self.gap, 1)]
                if len(idx):
                    targets.append((x, idx))
            if not targets:
                raise InputError(f"identity {name}: no training frame is more than {self.gap} frames from the bank")
            by_clip = {id(x.clip): x for x in loaded}  # the bank frames are training frames, already in memory
            images = torch.stack([by_clip[id(c)].images[i] for c, i in chosen])
            self.fixed[name] = (images, np.stack([c.landmarks[i] for c, i in chosen]), targets)

    @property
    def n_frames(self) -> int:
        return sum(len(x.train_idx) for v in self.people.values() for x in v)

    def all_training_frames(self) -> tuple[torch.Tensor, torch.Tensor]:
        """Every training crop (M, 3, S, S) uint8 with its landmarks (M, 68, 2) (for the face network)."""
        imgs = torch.cat([x.images[torch.from_numpy(x.train_idx)] for v in self.people.values() for x in v])
        lmk = np.concatenate([x.clip.landmarks[x.train_idx] for v in self.people.values() for x in v])
        return imgs, torch.from_numpy(lmk)

    def _one(self, gen: torch.Generator):
        def pick(k: int) -> int:
            return int(torch.randint(k, (), generator=gen))

        name = self.names[pick(len(self.names))]
        if name in self.fixed:
            bank, bank_lmk, targets = self.fixed[name]
            x, idx = targets[pick(len(targets))]
            t = int(idx[pick(len(idx))])
            return bank, bank_lmk, x.images[t], x.clip.landmarks[t]
        clips = self.people[name]
        tc = clips[pick(len(clips))]
        t = int(tc.train_idx[pick(len(tc.train_idx))])
        if len(clips) > 1:
            others = [c for c in clips if c is not tc]
            bc = others[pick(len(others))]
            cands = bc.train_idx
        else:
            bc = tc
            cands = tc.train_idx[np.abs(tc.train_idx - t) > self.gap]
        keep = (torch.rand(len(cands), generator=gen) < 0.5).numpy()
        if keep.sum() >= self.pool:
            cands = cands[keep]
        chosen = cands[select_bank(bc.clip.openness[cands], self.pool, self.n)]
        return (bc.images[torch.from_numpy(chosen)], bc.clip.landmarks[chosen], tc.images[t], tc.clip.landmarks[t])

    def sample(self, batch_size: int, gen: torch.Generator, device="cpu") -> dict[str, torch.Tensor]:
        """A batch: ``bank`` (B, N, 3, S, S) and ``target`` (B, 3, S, S) in [-1, 1]; ``bank_lmk`` (B, N, 68, 2),
        ``target_lmk`` (B, 68, 2) crop px."""
        rows = [self._one(gen) for _ in range(batch_size)]
        target = to_model_range(torch.stack([r[2] for r in rows]))
        target_lmk = torch.from_numpy(np.stack([r[3] for r in rows]))
        if self.zoom > 0:
            target, target_lmk = zoom_targets(target, target_lmk, self.zoom, gen)
        return dict(bank=to_model_range(torch.stack([r[0] for r in rows])).to(device),
                    bank_lmk=torch.from_numpy(np.stack([r[1] for r in rows])).to(device),
                    target=target.to(device), target_lmk=target_lmk.to(device))
