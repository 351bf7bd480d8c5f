"""postprocess-clahe: CLAHE (+ optional NLM denoise, unsharp mask) on images and videos (GATH 4.2)
-> ``thead.frames``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from thead.declare import defaults
from thead.stages.config import ClaheConfig
from thead.runner import FrameProgress, StageResult, WorkItem, discover, run_stage
from thead.manifest.paths import item_path

KIND = "thead.frames"


def _op(cfg: dict):
    from thead.postprocess import postprocess

    return lambda rgb: postprocess(rgb, cfg["mode"], cfg["clip_limit"], cfg["tiles"], cfg["denoise"],
                                   cfg["sharpen"])


def process(work: WorkItem, out_dir: Path, cfg: dict) -> tuple[dict[str, Path], dict[str, Any]]:
    from thead.manifest import atomic_folder
    from thead.media import FrameReader, VideoWriter, media_type, read_image, write_image

    op = _op(cfg)
    meta: dict[str, Any] = dict(operation="clahe")
    src = work.source
    if "frames" in work.upstream:  # a thead.frames item holding a PNG folder
        files = sorted(work.upstream["frames"].glob("*.png"))
        folder = item_path(out_dir, work.id, ".frames")
        bar = FrameProgress(cfg, len(files))
        with atomic_folder(folder) as tmp_folder:
            for f in files:
                write_image(tmp_folder / f.name, op(read_image(f)))
                bar.tick()
        bar.close()
        return {"frames": folder}, dict(meta, n_frames=len(files))
    if "image" in work.upstream:
        src = work.upstream["image"]
    if media_type(src) == "image":
        rgb = read_image(src)
        out = op(rgb)
        outputs = {"image": write_image(item_path(out_dir, work.id, ".png"), out)}
        if cfg["preview"]:
            outputs["preview"] = write_image(item_path(out_dir, work.id, ".compare.png"), np.concatenate([rgb, out], 1))
        return outputs, dict(meta, media_type="image", width=rgb.shape[1], height=rgb.shape[0], n_frames=1)
    reader = FrameReader(src)
    bar = FrameProgress(cfg, reader.n_frames_expected)
    first = None
    with VideoWriter(item_path(out_dir, work.id, ".clahe.mp4"), reader.fps,
                     audio_offset_s=reader.offset_s, audio_from=src if reader.info.has_audio else None, crf=18) as vw:
        for i, _, rgb in reader:
            out = op(rgb)
            vw.write(out)
            if first is None:
                first = np.concatenate([rgb, out], 1)
            bar.tick()
    bar.close()
    outputs = {"video": vw.path}
    if cfg["preview"]:
        outputs["preview"] = write_image(item_path(out_dir, work.id, ".compare.png"), first)
    return outputs, dict(meta, media_type="video", width=reader.info.width, height=reader.info.height,
                         fps=reader.fps, n_frames=vw.n_frames, has_audio=reader.info.has_audio)


_D = defaults(ClaheConfig)  # the declaration's defaults (thead.stages.config): the CLI's and run()'s


def run(inputs: list[Path], out_dir: Path, mode: str = _D["mode"], clip_limit: float = _D["clip_limit"],
        tiles: int = _D["tiles"], denoise: float = _D["denoise"], sharpen: float = _D["sharpen"],
        preview: bool = _D["preview"], workers: int = 1, shard=None,
        progress: bool = True, debug: bool = False, argv=None, executor=None) -> StageResult:
    """CLAHE on images, videos, or a ``thead.frames`` manifest (its PNGs / PNG folders).

    Outputs: images -> ``<id>.png`` (+ ``<id>.compare.png`` before|after); videos -> ``<id>.clahe.mp4`` with the
    source audio; frame folders -> ``<id>.frames/``.
    """
    from thead.postprocess import CLAHE_MODES

    if mode not in CLAHE_MODES:
        raise ValueError(f"--mode must be one of {', '.join(CLAHE_MODES)}")
    items, up = discover(inputs, accept_kinds=(KIND,))
    cfg = dict(mode=mode, clip_limit=clip_limit, tiles=tiles, denoise=denoise, sharpen=sharpen, preview=preview)
    return run_stage("postprocess-clahe", KIND, process, items, out_dir, cfg, workers, shard, up, progress, debug,
                     argv, executor=executor)
