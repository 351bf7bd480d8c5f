"""FLNet source image banks (paper "Network Inputs"): N face crops of one person chosen by mouth openness.

"We sort all the frames in a sequence such that the first image has closed mouth and the last one has opened mouth.
Then we uniformly select N frames in order from them", mouth openness being the distance of the outer middle lip
landmarks (``thead.face.crop.mouth_openness``). For the ablation FLNet puts "the first 1, 3 or all 5 images" in the
bank: ``select_bank(openness, pool=5, n=3)`` picks 5 evenly spaced and keeps the first 3; ``pool=n`` gives n evenly
spaced instead.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Optional, Sequence

import numpy as np

from thead.declare import defaults
from thead.systems.flnet.config import MakeBankConfig
from thead.errors import InputError, NoFaceError


def select_bank(openness: np.ndarray, pool: int = 5, n: Optional[int] = None) -> np.ndarray:
    """Indices of the bank: sort by ``openness`` (ascending), take ``pool`` evenly spaced, keep the first ``n``.

    Args:
        openness: (M,) px; NaN entries are never chosen.

    Raises:
        InputError: fewer than ``pool`` usable entries.
    """
    n = pool if n is None else n
    ok = np.flatnonzero(np.isfinite(openness))
    if len(ok) < pool:
        raise InputError(f"need at least {pool} frames with a face for the bank, found {len(ok)}")
    order = ok[np.argsort(openness[ok], kind="stable")]
    picks = np.round(np.linspace(0, len(order) - 1, pool)).astype(int)
    return order[picks][:n]


@dataclass
class Bank:
    """One person's bank: images (N, S, S, 3) uint8, landmarks (N, 68, 2) crop px, openness (N,) px, source frame
    indices (N,) (-1 for still images)."""

    images: np.ndarray
    landmarks: np.ndarray
    openness: np.ndarray
    frames: np.ndarray
    identity: str = ""

    @property
    def size(self) -> int:
        return int(self.images.shape[1])

    def resized(self, size: int) -> "Bank":
        """The bank at another crop size (images resized, landmarks scaled about the pixel-centre convention)."""
        import cv2

        if size == self.size:
            return self
        z = size / self.size
        imgs = np.stack([cv2.resize(im, (size, size), interpolation=cv2.INTER_AREA if z < 1 else cv2.INTER_LINEAR)
                         for im in self.images])
        lmk = ((self.landmarks + 0.5) * z - 0.5).astype(np.float32)
        return Bank(imgs, lmk, self.openness * z, self.frames, self.identity)

    def take(self, idx: Sequence[int]) -> "Bank":
        idx = np.asarray(idx)
        return Bank(self.images[idx], self.landmarks[idx], self.openness[idx], self.frames[idx], self.identity)


@dataclass
class CropClip:
    """A ``thead.frames`` crop item (``thead crop-faces``): frame files and landmarks in crop coordinates."""

    id: str
    identity: str
    files: list[Path]
    landmarks: np.ndarray  # (T, 68, 2) crop px
    valid: np.ndarray  # (T,) bool
    openness: np.ndarray  # (T,) px, NaN where not valid
    size: int
    source: Optional[Path] = None
    is_video: bool = True
    center: str = "nose"  # crop convention (thead.face.crop)
    scale: float = 2.8

    def read(self, idx: Sequence[int]) -> np.ndarray:
        """(len(idx), S, S, 3) uint8."""
        from thead.media import read_image

        return np.stack([read_image(self.files[i]) for i in idx])

    def split(self, holdout: float) -> tuple[np.ndarray, np.ndarray]:
        """Valid frame indices before and after the held-back tail (the last ``holdout`` fraction of the clip)."""
        t = len(self.files)
        cut = t if not self.is_video else int(round(t * (1 - holdout)))
        idx = np.arange(t)
        return idx[(idx < cut) & self.valid], idx[(idx >= cut) & self.valid]


def load_crop_clips(manifest: Path) -> list[CropClip]:
    """Every done item of a ``crop-faces`` manifest.

    Raises:
        InputError: not a crop manifest (no landmarks output), mixed crop sizes, or no usable item.
    """
    from thead.face.crop import mouth_openness
    from thead.manifest import load_manifest
    from thead.manifest.roles import require_role

    lm = load_manifest(manifest, "thead.frames")
    clips, sizes = [], set()
    for it in lm.done():
        require_role(manifest, it, "face_crop")
        if "landmarks" not in it.outputs:
            raise InputError(f"{manifest}: item {it.id} has no crop landmarks; make the crops with 'thead crop-faces'")
        d = np.load(lm.output(it, "landmarks"))
        if "frames" in it.outputs:
            files = sorted(lm.output(it, "frames").glob("*.png"))
        else:
            files = [lm.output(it, "image")]
        lmk = d["landmarks"].astype(np.float32)
        if len(files) != len(lmk):
            raise InputError(f"{manifest}: item {it.id} has {len(files)} frames but {len(lmk)} landmark rows")
        valid = d["valid"].astype(bool) & np.isfinite(lmk).all(axis=(1, 2))
        size = int(it.meta.get("size") or it.meta.get("width"))
        sizes.add(size)
        clips.append(CropClip(it.id, str(it.meta.get("identity") or it.id), files, lmk, valid,
                              np.where(valid, mouth_openness(lmk), np.nan), size, lm.source(it),
                              "frames" in it.outputs, str(it.meta.get("center", "nose")),
                              float(it.meta.get("scale", 2.8))))
    if not clips:
        raise InputError(f"{manifest}: no done crop items")
    if len(sizes) > 1:
        raise InputError(f"{manifest}: crops of several sizes {sorted(sizes)}; crop every clip at one --size")
    return clips


def bank_frames(clips: list[CropClip], pool: int, n: int, frame_range: tuple[float, float] = (0.0, 1.0)
                ) -> list[tuple[CropClip, int]]:
    """The (clip, frame index) pairs ``bank_from_clips`` takes, in bank order.

    Raises:
        InputError: fewer than ``pool`` frames with a face in ``frame_range``.
    """
    cands = []
    for c in clips:
        t = len(c.files)
        lo, hi = (int(round(frame_range[0] * t)), int(round(frame_range[1] * t))) if c.is_video else (0, 1)
        for i in range(lo, max(hi, lo)):
            if c.valid[i]:
                cands.append((c, i))
    if len(cands) < pool:
        raise InputError(f"identity {clips[0].identity}: {len(cands)} frames with a face in range {frame_range}, "
                         f"the bank needs {pool}")
    pick = select_bank(np.array([c.openness[i] for c, i in cands]), pool, n)
    return [cands[k] for k in pick]


def bank_from_clips(clips: list[CropClip], pool: int, n: int, frame_range: tuple[float, float] = (0.0, 1.0)) -> Bank:
    """A bank from the frames of one person's clips within ``frame_range`` (fractions of each clip's length)."""
    chosen = bank_frames(clips, pool, n, frame_range)
    return Bank(np.stack([c.read([i])[0] for c, i in chosen]), np.stack([c.landmarks[i] for c, i in chosen]),
                np.array([c.openness[i] for c, i in chosen], np.float32),
                np.array([i if c.is_video else -1 for c, i in chosen]), clips[0].identity)


def save_bank(bank: Bank, out_dir: Path, bank_id: str) -> dict[str, Path]:
    """Write a bank's images, landmarks and preview into ``out_dir`` (atomically)."""
    from thead.manifest import atomic_folder, atomic_save_npz
    from thead.media import write_image
    from thead.viz import contact_sheet, draw_landmarks

    from thead.manifest.paths import item_path

    folder = item_path(out_dir, bank_id, ".bank")
    with atomic_folder(folder) as tmp:
        for k, im in enumerate(bank.images):
            write_image(tmp / f"{k}.png", im)
    npz = item_path(out_dir, bank_id, ".bank.npz")
    atomic_save_npz(npz, landmarks=bank.landmarks.astype(np.float32), mouth_openness=bank.openness.astype(np.float32),
                    frames=bank.frames.astype(np.int64))
    tiles = [draw_landmarks(im, lm) for im, lm in zip(bank.images, bank.landmarks)]
    labels = [f"#{f} open {o:.1f}px" for f, o in zip(bank.frames, bank.openness)]
    prev = write_image(item_path(out_dir, bank_id, ".bank.png"), contact_sheet(tiles, len(tiles), labels))
    return {"images": folder, "landmarks": npz, "preview": prev}


_D = defaults(MakeBankConfig)  # the declaration's defaults (thead.systems.flnet.config): the CLI's and run()'s
_FRAMES = MakeBankConfig().run_kwargs()["frame_range"]  # its "0:0.8" as fractions


def make_banks(manifest: Path, out_dir: Path, bank_size: int = _D["bank_size"],
               frame_range: tuple[float, float] = _FRAMES,
               identities: Optional[list[str]] = None, workers: int = 1, shard=None, progress: bool = True,
               debug: bool = False, argv=None, executor=None):
    """``thead make-bank``: one bank per identity of a crop manifest -> a ``thead.bank`` manifest, through the stage
    runner (one item per identity: resume, ``--workers``, ``--shard``, progress, exit 3 when a bank fails).

    Args:
        frame_range: the part of every clip the bank may come from, as fractions (default the first 80%, the
            frames ``train flnet --holdout 0.2`` trains on; the tail is left for targets).
        identities: only these identities (default: all).

    Returns:
        the runner's ``StageResult``.

    Raises:
        InputError: unknown identity, bad range, not a crop manifest.
    """
    from thead.runner import WorkItem, run_stage, safe_id

    if not (0.0 <= frame_range[0] < frame_range[1] <= 1.0):
        raise InputError(f"--frames must be START:END fractions with 0 <= START < END <= 1, got {frame_range}")
    if bank_size < 1:
        raise InputError("--bank-size must be at least 1")
    clips = load_crop_clips(manifest)
    by_id: dict[str, list[CropClip]] = {}
    for c in clips:
        by_id.setdefault(c.identity, []).append(c)
    wanted = identities or list(by_id)
    unknown = [i for i in wanted if i not in by_id]
    if unknown:
        raise InputError(f"unknown identity {unknown[0]!r} (known: {', '.join(by_id)})")
    # The crop manifest is the upstream file: a rerun of crop-faces rewrites it, and the banks are then redone.
    items = [WorkItem(id=safe_id(ident), source=None, upstream={"crops": Path(manifest).resolve()},
                      meta={"identity": ident}) for ident in wanted]
    cfg = dict(bank_size=bank_size, frame_range=list(frame_range), manifest=str(Path(manifest).resolve()))
    return run_stage("make-bank", "thead.bank", _bank_item, items, Path(out_dir), cfg, workers, shard,
                     Path(manifest), progress, debug, argv, executor=executor)


def _bank_item(work, out_dir: Path, cfg: dict) -> tuple[dict[str, Path], dict]:
    """One identity's bank (runs in a worker process)."""
    ident = work.meta["identity"]
    clips = [c for c in load_crop_clips(Path(cfg["manifest"])) if c.identity == ident]
    if not clips:
        raise InputError(f"{cfg['manifest']}: no crops of {ident!r}")
    bank = bank_from_clips(clips, cfg["bank_size"], cfg["bank_size"], tuple(cfg["frame_range"]))
    outs = save_bank(bank, out_dir, work.id)
    return outs, dict(bank_size=cfg["bank_size"], size=bank.size, identity=ident, frame_range=cfg["frame_range"],
                      source_items=[c.id for c in clips])


def _bank_from_images(files: list[Path]) -> Bank:
    """A bank from face crops given as image files (all one size, square, each with a face)."""
    from thead.face.crop import mouth_openness
    from thead.face.landmarks import LandmarkExtractor
    from thead.media import read_image

    imgs = [read_image(f) for f in files]
    shapes = {im.shape[:2] for im in imgs}
    if len(shapes) > 1:
        raise InputError(f"bank images have mismatched sizes {sorted(shapes)}; give face crops of one size "
                         "(thead crop-faces)")
    h, w_ = imgs[0].shape[:2]
    if h != w_:
        raise InputError(f"bank images must be square face crops, got {w_}x{h}")
    ex = LandmarkExtractor()
    lmks = []
    for f, im in zip(files, imgs):
        r = ex.image(im)
        if not r.detected[0]:
            raise NoFaceError(f"bank image {f.name}: no face found")
        lmks.append(r.landmarks[0])
    lmk = np.stack(lmks).astype(np.float32)
    return Bank(np.stack(imgs), lmk, mouth_openness(lmk).astype(np.float32), np.full(len(files), -1),
                files[0].parent.name)


def load_bank(spec: Path, n: int, pool: Optional[int] = None, size: Optional[int] = None,
              item: Optional[str] = None) -> Bank:
    """The bank a trained model needs: from a ``thead.bank`` manifest (``item`` picks one of several) or a folder of
    face crops, reduced to ``n`` images the way training chose them (``pool`` evenly spaced by openness, first ``n``)
    and resized to ``size``.

    Raises:
        InputError: fewer images than ``n``, mismatched sizes, several banks and no ``item``, a missing path.
        NoFaceError: a bank image without a face.
    """
    from thead.manifest import load_manifest
    from thead.media import media_type

    spec = Path(spec)
    pool = pool or n
    if spec.suffix == ".json":
        lm = load_manifest(spec, "thead.bank")
        done = lm.done()
        if item is not None:
            done = [it for it in done if it.id == item]
            if not done:
                raise InputError(f"{spec}: no bank {item!r} (have: {', '.join(it.id for it in lm.done())})")
        if len(done) != 1:
            raise InputError(f"{spec}: holds {len(done)} banks; choose one with --bank-item")
        it = done[0]
        d = np.load(lm.output(it, "landmarks"))
        files = [lm.output(it, "images") / f"{k}.png" for k in range(len(d["landmarks"]))]
        from thead.media import read_image

        imgs = [read_image(f) for f in files]
        if len({im.shape for im in imgs}) > 1:
            raise InputError(f"{spec}: bank images have mismatched sizes")
        bank = Bank(np.stack(imgs), d["landmarks"].astype(np.float32), d["mouth_openness"], d["frames"],
                    str(it.meta.get("identity", it.id)))
    elif spec.is_dir():
        files = sorted(p for p in spec.iterdir() if p.is_file() and media_type(p) == "image")
        if not files:
            raise InputError(f"{spec}: no images for the bank")
        if len(files) < n:
            raise InputError(f"{spec}: bank has {len(files)} images, the model needs {n} (--bank-size)")
        bank = _bank_from_images(files)
    else:
        raise InputError(f"{spec}: a bank is a thead.bank manifest (thead make-bank) or a folder of face crops")
    if len(bank.images) < n:
        raise InputError(f"{spec}: bank has {len(bank.images)} images, the model needs {n} (--bank-size)")
    if len(bank.images) > n or pool != n:
        bank = bank.take(select_bank(bank.openness, min(pool, len(bank.images)), n))
    return bank.resized(size) if size else bank
