"""render-face: FACIAL's training pairs from a reference video (section 3.3-3.4): per frame, the real face crop and
the 3DMM render of its own fitted expression and pose with the eye attention map (``thead.systems.facial.render``),
in one fixed square crop per clip (centred on the clip's median nose tip, ``scale`` x the median outer-eye-corner
distance: the head moves inside it, as FACIAL's videos do).

Outputs per clip: ``<id>.frames/`` real crops (RGB PNG), ``<id>.renders/`` renders as RGBA PNG (RGB render + the
attention map in the alpha channel: the (H, W, 4) frames the rendering-to-video network reads), ``<id>.render.mp4``
(real | render | attention, with the source audio) and ``<id>.reference.npz`` (identity, albedo (V, 3), crop centre
/ side / size, per-frame pose translation/scale and the fitted 68 landmarks in crop pixels, and the FACIAL
parameters with their normalisation) for rendering new parameters later.
"""

from __future__ import annotations

import functools

from pathlib import Path
from typing import Any

import numpy as np

from thead.declare import defaults
from thead.systems.facial.config import RenderFaceConfig
from thead.runner import FrameProgress, StageResult, WorkItem, discover, run_stage
from thead.manifest.paths import item_path

KIND = "thead.frames"
ALBEDO_FRAMES = 12


@functools.cache  # once per worker process
def _refs(au_manifest: str):
    from thead.systems.facial.data import reference_params

    return reference_params(Path(au_manifest))


@functools.cache  # once per worker process
def _fits(au_manifest: str) -> dict[str, Path]:
    from thead.errors import InputError
    from thead.manifest import load_manifest

    am = load_manifest(Path(au_manifest), "thead.au")
    if not am.manifest.upstream:
        raise InputError(f"{au_manifest}: not made from a fit-3dmm manifest")
    fm = load_manifest(am.resolve(am.manifest.upstream), "thead.3dmm")
    return {it.id: fm.output(it, "params") for it in fm.done()}


def crop_poses(fit: dict, crop) -> tuple[np.ndarray, np.ndarray]:
    """Fitted translations (T, 2) and scales (T,) in source px -> the crop's pixels."""
    c = (crop.size - 1) / 2.0
    return ((fit["translation"] - np.asarray(crop.center)) * crop.zoom + c).astype(np.float32), \
        (fit["scale"] * crop.zoom).astype(np.float32)


def process(work: WorkItem, out_dir: Path, cfg: dict) -> tuple[dict[str, Path], dict[str, Any]]:
    from thead.errors import InputError
    from thead.face.crop import Crop, eye_corner_distance
    from thead.face.facemodel import load_face_model
    from thead.manifest import atomic_folder, atomic_save_npz
    from thead.media import FrameReader, VideoWriter, write_image
    from thead.systems.facial.render import FaceRenderer, Pose, estimate_albedo, landmarks_px
    from thead.viz import sample_indices

    fits = _fits(cfg["au_manifest"])
    refs = _refs(cfg["au_manifest"])
    if work.meta.get("media_type") == "image":
        raise InputError(f"{work.id}: a FACIAL reference is a video, not a still image")
    if work.id not in fits or work.id not in refs:
        raise InputError(f"{work.id}: no 3DMM fit for this item")
    fit = dict(np.load(fits[work.id]))
    ref, _ = refs[work.id]
    model = load_face_model()
    ok = fit["valid"].astype(bool)
    valid = np.flatnonzero(ok)
    lmk = landmarks_px(model, fit["identity"], fit["expression"][valid],
                       [Pose(fit["rotation"][i], fit["translation"][i], float(fit["scale"][i])) for i in valid])
    size = cfg["size"]
    crop = Crop(tuple(np.median(lmk[:, 30], 0).tolist()), float(cfg["scale"] * np.median(eye_corner_distance(lmk))),
                size)
    trans, scale = crop_poses(fit, crop)
    params = ref.params  # gaps filled; expression columns from 7 on, AU45 at 6
    n = len(params)
    pick = set(np.flatnonzero(ok)[sample_indices(int(ok.sum()), ALBEDO_FRAMES)].tolist())
    sample_frames, sample_idx = [], []
    for i, _, rgb in FrameReader(work.source, fps=work.meta.get("fps"), max_frames=n):
        if i in pick:
            sample_frames.append(crop.image(rgb))
            sample_idx.append(i)
    poses = [Pose(params[i, 0:3], trans[i], float(scale[i])) for i in range(n)]
    albedo = estimate_albedo(model, fit["identity"], sample_frames, params[sample_idx, 7:],
                             [poses[i] for i in sample_idx])
    renderer = FaceRenderer(model, fit["identity"], albedo, size, size)
    audio = work.source if work.meta.get("has_audio") else None
    bar = FrameProgress(cfg, n, "render")
    reader = FrameReader(work.source, fps=work.meta.get("fps"), max_frames=n)
    frames_dir, renders_dir = item_path(out_dir, work.id, ".frames"), item_path(out_dir, work.id, ".renders")
    with atomic_folder(frames_dir) as fdir, atomic_folder(renders_dir) as rdir, \
            VideoWriter(item_path(out_dir, work.id, ".render.mp4"), float(work.meta.get("fps") or 25.0),
                        audio_from=audio, audio_offset_s=reader.offset_s) as vw:
        for i, _, rgb in reader:
            real = crop.image(rgb)
            r = renderer(params[i, 7:], poses[i], float(params[i, 6]))
            write_image(fdir / f"{i:06d}.png", real)
            write_image(rdir / f"{i:06d}.png", r)
            vw.write(np.concatenate([real, r[..., :3], np.repeat(r[..., 3:], 3, 2)], 1))
            bar.tick()
    bar.close()
    npz = item_path(out_dir, work.id, ".reference.npz")
    atomic_save_npz(npz, identity=fit["identity"].astype(np.float32), albedo=albedo,
                    crop_center=np.array(crop.center, np.float32), crop_side=np.float32(crop.side),
                    crop_size=np.int64(size), pose_translation=trans, pose_scale=scale,
                    landmarks=landmarks_px(model, fit["identity"], params[:, 7:], poses), **ref.arrays())
    return ({"frames": frames_dir, "renders": renders_dir, "video": vw.path,
             "reference": npz},
            dict(operation="render-face", role="render", size=size, width=size, height=size, n_frames=n,
                 n_filled=ref.n_filled))


_D = defaults(RenderFaceConfig)  # the declaration's defaults (thead.systems.facial.config): the CLI's and run()'s


def run(au_manifest: Path, out_dir: Path, size: int = _D["size"], scale: float = _D["scale"], workers: int = 1,
        shard=None,
        progress: bool = True, debug: bool = False, argv=None, executor=None) -> StageResult:
    """Render every clip of an ``extract-au`` manifest (made from a ``fit-3dmm`` manifest) for FACIAL.

    Raises:
        InputError: a manifest not made from a 3DMM fit, a bad size.
    """
    from thead.errors import InputError

    if size < 32 or size % 16:
        raise InputError(f"--size must be a multiple of 16, at least 32, got {size}")
    _fits(str(Path(au_manifest).resolve()))
    items, up = discover([Path(au_manifest)], accept_kinds=("thead.au",))
    items = [w for w in items if w.meta.get("media_type") != "image"]  # a reference is a video; stills are left out
    cfg = dict(au_manifest=str(Path(au_manifest).resolve()), size=size, scale=scale)
    return run_stage("render-face", KIND, process, items, out_dir, cfg, workers, shard, up, progress, debug, argv,
                     executor=executor)
