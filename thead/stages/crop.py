"""crop-faces: FLNet face crops (nose tip or eye corners at the centre, no alignment) -> ``thead.frames`` with the
landmarks in crop coordinates (see ``thead.face.crop``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Optional

import numpy as np

from thead.declare import defaults
from thead.manifest.paths import item_path
from thead.runner import StageResult, WorkItem, discover, require, run_stage
from thead.stages import landmarks as lmk_stage
from thead.stages.common import ensure_upstream, write_face_frames
from thead.stages.config import CropConfig

KIND = "thead.frames"


def process(work: WorkItem, out_dir: Path, cfg: dict) -> tuple[dict[str, Path], dict[str, Any]]:
    from thead.errors import NoFaceError
    from thead.face.crop import crops_for_clip, mouth_openness
    from thead.manifest import atomic_save_npz
    from thead.media import read_image, write_image
    from thead.viz import draw_landmarks

    lm = np.load(require(work, "landmarks"))["landmarks"]
    ok = np.isfinite(lm).all(axis=(1, 2))
    if not ok.any():
        raise NoFaceError(f"{work.id}: no frame with landmarks")
    size = cfg["size"]
    crops = crops_for_clip(lm, size, cfg["center"], cfg["scale"])
    side = next(c.side for c in crops if c is not None)
    out_lmk = np.full(lm.shape, np.nan, np.float32)
    centers = np.full((len(lm), 2), np.nan, np.float32)
    for i, c in enumerate(crops):
        if c is not None:
            out_lmk[i] = c.points(lm[i])
            centers[i] = c.center
    meta = dict(operation="crop", role="face_crop", size=size, width=size, height=size, center=cfg["center"],
                scale=cfg["scale"], crop_side_px=round(side, 2), n_valid=int(ok.sum()))
    if cfg.get("identity"):
        meta["identity"] = cfg["identity"]
    npz = item_path(out_dir, work.id, ".landmarks.npz")

    def save_landmarks():
        atomic_save_npz(npz, landmarks=out_lmk, valid=ok, mouth_openness=mouth_openness(out_lmk).astype(np.float32),
                        crop_center=centers, crop_side=np.float32(side))

    if work.meta.get("media_type") == "image":
        out = crops[0].image(read_image(work.source))
        save_landmarks()
        png = write_image(item_path(out_dir, work.id, ".png"), out)
        return {"image": png, "landmarks": npz}, dict(meta, n_frames=1)
    folder, video, sheet = write_face_frames(
        work, out_dir, cfg, len(lm), size, lambda i, rgb: crops[i].image(rgb) if crops[i] is not None else None,
        ".crop.mp4", "crop", tile=lambda i, out: draw_landmarks(out, out_lmk[i] if ok[i] else None))
    save_landmarks()
    return ({"frames": folder, "video": video, "preview": sheet, "landmarks": npz},
            dict(meta, n_frames=int(len(lm)), n_blank=int((~ok).sum()), fps=work.meta.get("fps")))


_D = defaults(CropConfig)  # the declaration's defaults (thead.stages.config): the CLI's and run()'s


def run(inputs: list[Path], out_dir: Path, size: int = _D["size"], center: str = _D["center"],
        scale: float = _D["scale"], identity: Optional[str] = _D["identity"], workers: int = 1, shard=None,
        progress: bool = True, debug: bool = False, argv=None, executor=None, **landmark_opts) -> StageResult:
    """Crop faces for FLNet: ``size`` x ``size`` RGB, the nose tip (``center="nose"``) or the outer-eye-corner
    midpoint (``"eyes"``) at the centre, one zoom per clip (``scale`` x median outer-eye-corner distance), no rotation.

    Inputs: a ``thead.landmarks`` manifest or media (landmarks are then extracted into ``out_dir/landmarks``).
    Outputs per item: ``<id>.png`` (images) or ``<id>.frames/000000.png ...`` (videos; black where no face) with an
    MP4 (source audio) and a contact sheet; ``<id>.landmarks.npz`` with the landmarks in crop coordinates, a
    ``valid`` flag and the mouth openness per frame. ``identity`` tags every item as one person (for banks and
    training); without it each item is its own identity.

    Raises:
        InputError: bad ``center``/``size``/``scale``.
    """
    from thead.errors import InputError
    from thead.face.crop import CENTERS

    if center not in CENTERS:
        raise InputError(f"--center must be one of {', '.join(CENTERS)}, got {center!r}")
    if size < 16 or size % 16:
        raise InputError(f"--size must be a multiple of 16 (FLNet's discriminator halves it 4 times), got {size}")
    if not 1.0 <= scale <= 8.0:
        raise InputError(f"--scale must be within [1, 8] eye-corner distances, got {scale}")
    inputs, _ = ensure_upstream(
        inputs, lmk_stage.KIND, out_dir,
        lambda d: lmk_stage.run(inputs, d, workers=workers, shard=shard, progress=progress, debug=debug,
                                argv=argv, **landmark_opts, executor=executor), "landmarks")
    items, up = discover(inputs, accept_kinds=(lmk_stage.KIND,))
    cfg = dict(size=size, center=center, scale=scale, identity=identity)
    return run_stage("crop-faces", KIND, process, items, out_dir, cfg, workers, shard, up, progress, debug, argv,
                     executor=executor)
