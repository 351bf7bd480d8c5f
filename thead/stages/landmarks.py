"""extract-landmarks: dlib 68-point landmarks per frame (videos: detect then track) -> ``thead.landmarks``."""

from __future__ import annotations

import functools

from pathlib import Path
from typing import Any, Optional

import numpy as np

from thead.declare import defaults
from thead.errors import NoFaceError
from thead.manifest import atomic_save_npz
from thead.runner import FrameProgress, StageResult, WorkItem, discover, run_stage
from thead.manifest.paths import item_path
from thead.stages.config import LandmarksConfig

KIND = "thead.landmarks"


def _extractor(cfg: dict):
    return _extractor_for(cfg["detector"], cfg["redetect_every"])


@functools.cache  # one per worker process
def _extractor_for(detector: str, redetect_every: int):
    from thead.face.landmarks import LandmarkExtractor

    return LandmarkExtractor(detector, redetect_every)


def process(work: WorkItem, out_dir: Path, cfg: dict) -> tuple[dict[str, Path], dict[str, Any]]:
    """Landmarks of one video or image; see ``run`` for the outputs."""
    from thead.face.landmarks import interpolate_gaps
    from thead.media import FrameReader, VideoWriter, media_type, read_image, write_image
    from thead.viz import draw_landmarks, preview_scale

    src = work.source
    ex = _extractor(cfg)
    npz = item_path(out_dir, work.id, ".landmarks.npz")
    outputs: dict[str, Path] = {"landmarks": npz}
    if media_type(src) == "image":
        rgb = read_image(src)
        res = ex.image(rgb)
        if not res.detected.any():
            raise NoFaceError(f"{src.name}: no face found")
        meta = dict(media_type="image", width=rgb.shape[1], height=rgb.shape[0], n_frames=1, fps=None,
                    n_faces=res.n_faces, detected_fraction=1.0, detector=cfg["detector"])
        if res.n_faces > 1:
            meta["note"] = f"{res.n_faces} faces seen; kept the largest, most central one"
        if cfg["preview"]:
            s = preview_scale(rgb.shape[1], rgb.shape[0])
            import cv2

            img = draw_landmarks(rgb, res.landmarks[0], res.boxes[0], s, label=f"{res.n_faces} face(s)")
            for b in res.extra["all_boxes"]:
                bb = np.round(np.array(b) * s).astype(int)
                cv2.rectangle(img, (bb[0], bb[1]), (bb[2], bb[3]), (255, 0, 255), 1)
            outputs["preview"] = write_image(item_path(out_dir, work.id, ".landmarks.png"), img)
    else:
        reader = FrameReader(src, fps=cfg["fps"])
        info = reader.info
        bar = FrameProgress(cfg, reader.n_frames_expected)
        writer: Optional[VideoWriter] = None
        s = preview_scale(info.width, info.height)
        if cfg["preview"]:
            writer = VideoWriter(item_path(out_dir, work.id, ".landmarks.mp4"), reader.fps,
                                 audio_offset_s=reader.offset_s, audio_from=src if info.has_audio else None)

        def on_frame(i, rgb, pts, box):
            if writer is not None:
                writer.write(draw_landmarks(rgb, pts, box, s, label=f"{i}"))
            bar.tick()

        try:
            res = ex.video(reader, on_frame=on_frame)
            if not res.detected.any():
                raise NoFaceError(f"{src.name}: no face in any of {len(res.detected)} frames")
        except BaseException:
            if writer is not None:
                writer.abort()
            raise
        finally:
            bar.close()
        if writer is not None:
            writer.close()
            outputs["preview"] = writer.path
        filled = interpolate_gaps(res, int(round(reader.fps))) if cfg["interpolate_gaps"] else 0
        meta = dict(media_type="video", width=info.width, height=info.height, fps=reader.fps,
                    n_frames=len(res.detected), duration_s=info.duration_s, has_audio=info.has_audio,
                    vfr_input=info.is_vfr, n_faces=res.n_faces, detected_fraction=float(res.detected.mean()),
                    n_redetections=res.n_redetections, n_subject_switches=res.n_switches,
                    n_interpolated=filled, detector=cfg["detector"], redetect_every=cfg["redetect_every"])
        if res.n_faces > 1 or res.n_switches:
            meta["note"] = (f"{res.n_faces} face(s) on the first frame with a face, {res.n_switches} subject "
                            f"switch(es); kept the largest, most central face")
    atomic_save_npz(npz, **res.arrays())
    return outputs, meta


_D = defaults(LandmarksConfig)  # the declaration's defaults (thead.stages.config): the CLI's and run()'s


def run(inputs: list[Path], out_dir: Path, detector: str = _D["detector"], redetect_every: int = _D["redetect_every"],
        fps: Optional[float] = _D["fps"], interpolate_gaps: bool = _D["interpolate_gaps"],
        preview: bool = _D["preview"], workers: int = 1,
        shard=None, progress: bool = True, debug: bool = False, argv=None, executor=None) -> StageResult:
    """Extract ibug-68 landmarks from videos/images (or a manifest's sources) into ``out_dir``.

    Outputs per item: ``<id>.landmarks.npz`` (landmarks (T,68,2) float32 px, NaN without a face; boxes (T,4);
    detected/tracked/interpolated (T,) bool; score (T,); timestamps_s (T,)) and a preview (overlay MP4 with the
    source audio, or PNG for images). Items without any face fail (exit 3).

    Args:
        detector: "hog" or "cnn" (dlib mmod).
        redetect_every: frames between detector runs while tracking (1: detect on every other frame at most).
        fps: decode videos at this constant rate (default: each stream's average rate).
        interpolate_gaps: fill interior gaps of up to 1 s linearly (flagged ``interpolated``).
    """
    items, up = discover(inputs, accept_kinds=tuple())
    cfg = dict(detector=detector, redetect_every=redetect_every, fps=fps, interpolate_gaps=interpolate_gaps,
               preview=preview)
    return run_stage("extract-landmarks", KIND, process, items, out_dir, cfg, workers, shard, up, progress, debug,
                     argv, executor=executor)
