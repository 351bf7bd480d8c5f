"""FLNet synthesis (paper "Dataset", testing): a bank of one person plus a sequence of target landmarks -> that
person with the target face shapes, generated frame by frame and "simply accumulated" into a video.

Target landmarks come from a ``.npy`` (T, 68, 2) or (68, 2) in crop pixels of the model's crop size, or from a
driving video: its landmarks are tracked (dlib) and cropped with the training crops' convention (same centre, same
scale). FLNet drives a person with their own landmarks; for another person's video thead retargets (the paper is
silent; this is the "relative" mode of X2Face/FOMM-style reenactment): t = s_0 + (d - d_0) * e_s / e_d, where s_0 is
the bank's most closed-mouth image's landmarks, d_0 the driving frame with the most closed mouth, and e_s, e_d the
two faces' outer-eye-corner distances.
"""

from __future__ import annotations

import functools

from pathlib import Path
from typing import Any, Iterator, Optional

import numpy as np

from thead.declare import check_settings, defaults
from thead.errors import InputError
from thead.manifest.paths import item_path
from thead.systems.flnet.bank import Bank
from thead.systems.flnet.config import SynthesizeFLNetConfig

_D = defaults(SynthesizeFLNetConfig)


class FLNetModel:
    """A trained FLNet generator from a ``train flnet`` checkpoint (eval mode).

    Attributes:
        size, bank_size, bank_pool, margin, variant, step, holdout, crop_center, crop_scale: from the run's config.
    """

    def __init__(self, checkpoint: Path, device: str = "cpu"):
        from thead.systems.flnet.model import FLNetGenerator
        from thead.train.checkpoint import load_system_checkpoint

        blob, cfg, self.device = load_system_checkpoint(checkpoint, "flnet", device)
        self.size, self.bank_size, self.bank_pool = int(cfg["size"]), int(cfg["bank_size"]), int(cfg["bank_pool"])
        self.margin, self.variant = float(cfg["margin_px"]), str(cfg["variant"])
        self.field = str(cfg.get("field", "sparse"))  # checkpoints before the option: the paper's sparse field
        self.holdout = float(cfg.get("holdout", 0.0))
        self.crop_center, self.crop_scale = str(cfg.get("crop_center", "nose")), float(cfg.get("crop_scale", 2.8))
        self.step = int(blob["step"])
        # checkpoints from before the prior option: the paper's learned warps only
        self.G = FLNetGenerator(self.bank_size, int(cfg["width"]), self.variant, self.margin,
                                str(cfg.get("prior", "none")), bool(cfg.get("warped_input", False)))
        models = blob["models"]
        self.G.load_state_dict(models["G_ema"] if "G_ema" in models else models["G"])  # the average, if any
        self.G.eval().to(self.device)

    def bank(self, spec: Path, item: Optional[str] = None) -> Bank:
        """The bank this model takes, from a bank manifest or a folder of crops (``bank.load_bank``)."""
        from thead.systems.flnet.bank import load_bank

        return load_bank(spec, self.bank_size, self.bank_pool, self.size, item)

    def __call__(self, bank: Bank, target_lmk: np.ndarray, batch: int = 8) -> Iterator[dict[str, np.ndarray]]:
        """Generate one frame per target landmark set.

        Args:
            bank: N = ``bank_size`` crops at ``size``.
            target_lmk: (T, 68, 2) crop px.

        Yields:
            per frame: ``output`` (S, S, 3) uint8 and, by variant, ``warped``, ``appearance`` (S, S, 3) uint8,
            ``masks`` (N, S, S) float32 summing to 1 over N, ``merge`` (S, S) in [0, 1]; plus ``target_lmk``.
        """
        import torch

        from thead.train.images import to_model_range, to_uint8
        from thead.systems.flnet.fields import difference_field

        if len(bank.images) != self.bank_size or bank.size != self.size:
            raise InputError(f"bank of {len(bank.images)} images at {bank.size} px; the model takes {self.bank_size} "
                             f"at {self.size} px")
        b = to_model_range(torch.from_numpy(bank.images).permute(0, 3, 1, 2))[None].to(self.device)
        blm = torch.from_numpy(bank.landmarks.astype(np.float32))[None].to(self.device)
        with torch.no_grad():
            for i in range(0, len(target_lmk), batch):
                t = torch.from_numpy(np.asarray(target_lmk[i:i + batch], np.float32)).to(self.device)
                k = len(t)
                bl = blm.expand(k, -1, -1, -1)
                out = self.G(b.expand(k, -1, -1, -1, -1), difference_field(self.field, bl, t, self.size, self.margin),
                             self.G.prior_flow(bl, t, self.size))
                for j in range(k):
                    fr = {key: to_uint8(out[key][j]) for key in ("output", "warped", "appearance") if key in out}
                    if "masks" in out:
                        fr["masks"] = out["masks"][j].cpu().numpy()
                    if "merge" in out:
                        fr["merge"] = out["merge"][j, 0].cpu().numpy()
                    fr["target_lmk"] = target_lmk[i + j]
                    yield fr


def retarget(driving: np.ndarray, bank: Bank) -> np.ndarray:
    """Driving landmarks (T, 68, 2) crop px -> the bank person's face making the same motion (see module doc)."""
    from thead.face.crop import eye_corner_distance, mouth_openness

    d0 = driving[int(np.nanargmin(mouth_openness(driving)))]
    s0 = bank.landmarks[int(np.argmin(bank.openness))]
    z = float(eye_corner_distance(s0) / eye_corner_distance(d0))
    return (s0[None] + (driving - d0[None]) * z).astype(np.float32)


def _fill_missing(lmk: np.ndarray) -> np.ndarray:
    """Frames without a face take the nearest earlier (else later) face's landmarks."""
    ok = np.isfinite(lmk).all(axis=(1, 2))
    if not ok.any():
        raise InputError("no face in the driving video")
    out = lmk.copy()
    idx = np.where(ok, np.arange(len(lmk)), -1)
    idx = np.maximum.accumulate(idx)
    idx[idx < 0] = int(np.flatnonzero(ok)[0])
    return out[idx]


def driving_landmarks(video: Path, size: int, center: str, scale: float, fps: Optional[float] = None):
    """Track a driving video and express its landmarks in its own face crops (the training convention).

    Returns:
        (landmarks (T, 68, 2) crop px with gaps filled, crops (T,) ``Crop`` or None, fps, n frames without a face).
    """
    from thead.face.crop import crops_for_clip
    from thead.face.landmarks import LandmarkExtractor
    from thead.media import FrameReader

    reader = FrameReader(video, fps=fps)
    res = LandmarkExtractor().video(reader)
    lmk = res.landmarks
    ok = np.isfinite(lmk).all(axis=(1, 2))
    if not ok.any():
        raise InputError(f"{video.name}: no face in the driving video")
    crops = crops_for_clip(lmk, size, center, scale)
    out = np.stack([c.points(p) if c is not None else np.full((68, 2), np.nan, np.float32)
                    for c, p in zip(crops, lmk)])
    return _fill_missing(out), crops, reader.fps, int((~ok).sum())


@functools.cache  # one per worker process
def _model(checkpoint: str, device: str) -> "FLNetModel":
    return FLNetModel(Path(checkpoint), device)


@functools.cache
def _bank(checkpoint: str, device: str, bank: str, item):
    return _model(checkpoint, device).bank(Path(bank), item)


def process(work, out_dir: Path, cfg: dict) -> tuple[dict[str, Path], dict[str, Any]]:
    """One target sequence (a driving video or a landmark file) -> MP4 + masks MP4 + sheet (runner function)."""
    from thead.media import FrameReader, VideoWriter, has_audio, write_image
    from thead.runner import FrameProgress
    from thead.systems.flnet.viz import mask_panel
    from thead.viz import contact_sheet, sample_indices

    model = _model(str(cfg["checkpoint"]), cfg["device"])
    bank = _bank(str(cfg["checkpoint"]), cfg["device"], str(cfg["bank"]), cfg["bank_item"])
    src = Path(work.source)
    crops, audio, fps, n_noface = None, None, float(cfg["fps"]), 0
    if src.suffix == ".npy":
        lmk = np.load(src).astype(np.float32)
        lmk = lmk[None] if lmk.ndim == 2 else lmk
        if lmk.ndim != 3 or lmk.shape[1:] != (68, 2):
            raise InputError(f"{src.name}: target landmarks must be (T, 68, 2) or (68, 2), got {lmk.shape}")
        lmk = _fill_missing(lmk)
        do_retarget = cfg["retarget"] == "on"
    else:
        lmk, crops, fps, n_noface = driving_landmarks(src, model.size, model.crop_center, model.crop_scale,
                                                      cfg.get("video_fps"))
        audio = src if has_audio(src) else None
        do_retarget = cfg["retarget"] in ("on", "auto")
    if cfg["max_frames"]:
        lmk = lmk[:cfg["max_frames"]]
    target = retarget(lmk, bank) if do_retarget else lmk
    keep = set(sample_indices(len(target), 6))
    sheet = []
    frames = iter(FrameReader(src, fps=fps, max_frames=len(target))) if crops is not None else None
    bar = FrameProgress(cfg, len(target), "synthesize")
    off = FrameReader(src, fps=fps).offset_s if audio is not None and crops is not None else 0.0
    with VideoWriter(item_path(out_dir, work.id, ".mp4"), fps, audio_from=audio, audio_offset_s=off) as vw, \
            VideoWriter(item_path(out_dir, work.id, ".masks.mp4"), fps, audio_from=audio, audio_offset_s=off) as mw:
        for i, fr in enumerate(model(bank, target)):
            ref = None
            if frames is not None:
                _, _, rgb = next(frames)
                c = crops[i] if crops[i] is not None else next(x for x in crops if x is not None)
                ref = c.image(rgb)
            vw.write(fr["output"])
            panel = mask_panel(bank.images, fr, ref, "driving" if ref is not None else "target")
            mw.write(panel)
            if i in keep:
                sheet.append(panel)
            bar.tick()
    bar.close()
    prev = write_image(item_path(out_dir, work.id, ".sheet.png"),
                       contact_sheet(sheet, 1, [f"frame {k}" for k in sorted(keep)]))
    meta = dict(variant=model.variant, checkpoint_step=model.step, n_frames=len(target), fps=fps, width=model.size,
                height=model.size, retargeted=bool(do_retarget), bank_identity=bank.identity,
                frames_without_face=n_noface, audio=audio is not None)
    return {"video": vw.path, "masks": mw.path, "preview": prev}, meta


def run(targets: list[Path], out_dir: Path, checkpoint: Path, bank: Path, bank_item: Optional[str] = _D["bank_item"],
        retarget_mode: str = _D["retarget"], fps: float = _D["fps"], max_frames: int = _D["max_frames"],
        device: str = _D["device"], video_fps: Optional[float] = None, workers: int = 1, shard=None,
        progress: bool = True, debug: bool = False, argv=None, executor=None):
    """``thead synthesize flnet``: the bank's person driven by each target (driving video or landmark ``.npy``).

    Outputs per target: ``<id>.mp4`` (generated crops; the driving video's audio when it has one), ``<id>.masks.mp4``
    (per frame: bank, selection masks M_w, I_w, I_a, V, output, driving crop; paper Fig. 5) and ``<id>.sheet.png``.
    Manifest kind: ``thead.synthesis``.

    Raises:
        InputError: bad checkpoint, bank (checked once, before any target) or ``retarget_mode``.
    """
    from thead.runner import WorkItem, run_stage, safe_id

    check_settings(SynthesizeFLNetConfig, bank_item=bank_item, retarget_mode=retarget_mode, fps=fps,
                   max_frames=max_frames, device=device)  # the declared bounds and choices
    FLNetModel(checkpoint, device).bank(bank, bank_item)  # a bad checkpoint or bank is one error up front
    items = []
    for t in targets:
        t = Path(t)
        if not t.is_file():
            raise InputError(f"{t}: no such file")
        items.append(WorkItem(id=safe_id(t.stem), source=t.resolve()))
    cfg = dict(checkpoint=str(Path(checkpoint).resolve()), bank=str(Path(bank).resolve()), bank_item=bank_item,
               retarget=retarget_mode, fps=fps, video_fps=video_fps, max_frames=max_frames, device=device)
    return run_stage("synthesize flnet", "thead.synthesis", process, items, out_dir, cfg, workers, shard, None,
                     progress, debug, argv, executor=executor)
