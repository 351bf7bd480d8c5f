"""fit-3dmm: one identity per clip, per-frame expression and pose from landmarks -> ``thead.3dmm``."""

from __future__ import annotations

import functools

from pathlib import Path
from typing import Any, Optional

import numpy as np

from thead.declare import defaults
from thead.stages.config import Fit3DMMConfig
from thead.manifest import atomic_save_npz
from thead.runner import FrameProgress, StageResult, WorkItem, discover, require, run_stage
from thead.stages import landmarks as lmk_stage
from thead.stages.common import ensure_upstream
from thead.manifest.paths import item_path

KIND = "thead.3dmm"


def _model(cfg: dict):
    from thead.face.facemodel import load_face_model

    return load_face_model(cfg["model"])


@functools.cache  # one per worker process and frame size
def _overlay(face_model, w: int, h: int):
    from thead.viz import MeshOverlay, preview_scale

    return MeshOverlay(_model({"model": face_model}), w, h, preview_scale(w, h))


def process(work: WorkItem, out_dir: Path, cfg: dict) -> tuple[dict[str, Path], dict[str, Any]]:
    from thead.errors import NoFaceError
    from thead.face.fit import FitConfig, fit_landmarks, project_vertices
    from thead.media import FrameReader, VideoWriter, read_image, write_image

    d = np.load(require(work, "landmarks"))
    lm = d["landmarks"]
    if not np.isfinite(lm).all(axis=(1, 2)).any():
        raise NoFaceError(f"{work.id}: no frame with landmarks")
    model = _model(cfg)
    fcfg = FitConfig(**{k: v for k, v in cfg.get("fit", {}).items()})
    fr = fit_landmarks(model, lm, fcfg)
    npz = item_path(out_dir, work.id, ".3dmm.npz")
    outputs: dict[str, Path] = {"params": npz}
    iod = fr.reproj_err_iod[np.isfinite(fr.reproj_err_iod)]
    meta = dict(face_model=model.name, k_id=int(fr.identity.shape[0]), k_exp=model.k_exp,
                exp_names=list(model.exp_names), reproj_err_px_median=float(np.nanmedian(fr.reproj_err_px)),
                reproj_err_iod_median=float(np.median(iod)), reproj_err_iod_p95=float(np.percentile(iod, 95)))
    if cfg["preview"] and work.source is not None and work.source.exists():
        w, h = int(work.meta["width"]), int(work.meta["height"])
        ov = _overlay(cfg["model"], w, h)

        def draw(rgb, t):
            if not fr.valid[t]:
                return rgb
            verts = model.shape(fr.identity, fr.expression[t])
            return ov(rgb, project_vertices(verts, fr.rotation[t], fr.translation[t], float(fr.scale[t])))

        if work.meta.get("media_type") == "image":
            outputs["preview"] = write_image(item_path(out_dir, work.id, ".3dmm.png"), draw(read_image(work.source), 0))
        else:
            reader = FrameReader(work.source, fps=work.meta.get("fps"), max_frames=len(lm))
            bar = FrameProgress(cfg, len(lm), "mesh overlay")
            with VideoWriter(item_path(out_dir, work.id, ".3dmm.mp4"), reader.fps,
                             audio_offset_s=reader.offset_s,
                             audio_from=work.source if work.meta.get("has_audio") else None) as vw:
                for i, _, rgb in reader:
                    vw.write(draw(rgb, i))
                    bar.tick()
            bar.close()
            outputs["preview"] = vw.path
    atomic_save_npz(npz, **fr.arrays(), timestamps_s=d["timestamps_s"], exp_names=np.array(model.exp_names))
    return outputs, meta


_D = defaults(Fit3DMMConfig)  # the declaration's defaults (thead.stages.config): the CLI's and run()'s


def run(inputs: list[Path], out_dir: Path, model: Optional[str] = _D["model"], preview: bool = _D["preview"],
        workers: int = 1,
        shard=None, progress: bool = True, debug: bool = False, argv=None, fit: Optional[dict] = None,
        executor=None, **landmark_opts) -> StageResult:
    """Fit a 3DMM (ICT Face Model Light by default, or a BFM ``.mat`` given as ``model``) to each clip.

    Inputs: a ``thead.landmarks`` manifest, or media (landmarks are then extracted first into
    ``out_dir/landmarks``). Outputs per item: ``<id>.3dmm.npz`` (identity (K_id,), expression (T,K_exp),
    rotation (T,3) rad, translation (T,2) px, scale (T,), reproj_err_px (T,), reproj_err_iod (T,), valid (T,),
    timestamps_s (T,), exp_names) and a mesh overlay (MP4/PNG). Medians of the reprojection error go to the manifest.
    """
    from thead.face.facemodel import load_face_model

    load_face_model(str(model) if model else None)  # a bad --model is one error up front, not a failure per item
    inputs, _ = ensure_upstream(
        inputs, lmk_stage.KIND, out_dir,
        lambda d: lmk_stage.run(inputs, d, workers=workers, shard=shard, progress=progress, debug=debug,
                                argv=argv, preview=preview, **landmark_opts, executor=executor), "landmarks")
    items, up = discover(inputs, accept_kinds=(lmk_stage.KIND,))
    cfg = dict(model=str(model) if model else None, preview=preview, fit=fit or {})
    return run_stage("fit-3dmm", KIND, process, items, out_dir, cfg, workers, shard, up, progress, debug, argv,
                     executor=executor)
