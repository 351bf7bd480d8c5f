"""frontalize: Hassner-style frontal crops (GATH: 100x100) of images and video frames -> ``thead.frames``."""

from __future__ import annotations

import functools

from pathlib import Path
from typing import Any, Optional

import numpy as np

from thead.declare import defaults
from thead.manifest.paths import item_path
from thead.runner import StageResult, WorkItem, discover, require, run_stage
from thead.stages import landmarks as lmk_stage
from thead.stages.common import ensure_upstream, write_face_frames
from thead.stages.config import FrontalizeConfig

KIND = "thead.frames"


def _frontalizer(cfg: dict):
    return _frontalizer_for(cfg["size"], cfg["model"])


@functools.cache  # one per worker process
def _frontalizer_for(size: int, model):
    from thead.face.facemodel import load_face_model
    from thead.face.frontalize import Frontalizer

    return Frontalizer(load_face_model(model), size)


def process(work: WorkItem, out_dir: Path, cfg: dict) -> tuple[dict[str, Path], dict[str, Any]]:
    from thead.errors import NoFaceError
    from thead.media import read_image, write_image

    d = np.load(require(work, "landmarks"))
    lm = d["landmarks"]
    ok = np.isfinite(lm).all(axis=(1, 2))
    if not ok.any():
        raise NoFaceError(f"{work.id}: no frame with landmarks")
    front = _frontalizer(cfg)
    size = cfg["size"]
    meta = dict(operation="frontalize", role="frontal", size=size, width=size, height=size)
    if work.meta.get("media_type") == "image":
        out, _ = front(read_image(work.source), lm[0])
        return {"image": write_image(item_path(out_dir, work.id, ".png"), out)}, dict(meta, n_frames=1)
    folder, video, sheet = write_face_frames(work, out_dir, cfg, len(lm), size,
                                             lambda i, rgb: front(rgb, lm[i])[0] if ok[i] else None,
                                             ".frontal.mp4", "frontalize")
    return ({"frames": folder, "video": video, "preview": sheet},
            dict(meta, n_frames=int(len(lm)), n_blank=int((~ok).sum()), fps=work.meta.get("fps")))


_D = defaults(FrontalizeConfig)  # the declaration's defaults (thead.stages.config): the CLI's and run()'s


def run(inputs: list[Path], out_dir: Path, size: int = _D["size"], model: Optional[str] = _D["model"], workers: int = 1,
        shard=None, progress: bool = True, debug: bool = False, argv=None, executor=None,
        **landmark_opts) -> StageResult:
    """Frontalize faces (Hassner et al. 2015) to ``size`` x ``size`` RGB crops.

    Inputs: a ``thead.landmarks`` manifest or media (landmarks are then extracted into ``out_dir/landmarks``).
    Outputs: images -> ``<id>.png``; videos -> ``<id>.frames/000000.png ...`` (black where no face), an MP4 with the
    source audio and a contact sheet; plus ``contact_sheet.png`` over all items.
    """
    from thead.face.facemodel import load_face_model
    from thead.manifest import load_manifest

    load_face_model(model)  # a bad --model is one error up front
    inputs, _ = ensure_upstream(
        inputs, lmk_stage.KIND, out_dir,
        lambda d: lmk_stage.run(inputs, d, workers=workers, shard=shard, progress=progress, debug=debug,
                                argv=argv, **landmark_opts, executor=executor), "landmarks")
    items, up = discover(inputs, accept_kinds=(lmk_stage.KIND,))
    res = run_stage("frontalize", KIND, process, items, out_dir, dict(size=size, model=model), workers, shard, up,
                    progress, debug, argv, executor=executor)
    _sheet(load_manifest(res.manifest_path), Path(out_dir) / "contact_sheet.png")
    return res


def _sheet(lm, path: Path) -> None:
    """One tile per image item, a few frames per video item."""
    from thead.media import read_image, write_image
    from thead.viz import contact_sheet, sample_indices

    tiles, labels = [], []
    for it in lm.done():
        if "image" in it.outputs:
            tiles.append(read_image(lm.output(it, "image")))
            labels.append(it.id[:14])
        elif "frames" in it.outputs:
            files = sorted(lm.output(it, "frames").glob("*.png"))
            for k in sample_indices(len(files), 4):
                tiles.append(read_image(files[k]))
                labels.append(f"{it.id[:10]}#{k}")
    if tiles:
        write_image(path, contact_sheet(tiles, 8, labels))
