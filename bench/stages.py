"""Speed and memory of each preprocessing stage on a real talking-head clip, against naive baselines.

    python bench/stages.py [--clip PATH] [--size 512] [--long-minutes 10]

Each measurement runs in its own process (peak RSS is per measurement). Prints frames/s, peak memory and ratios:
  decode               ffmpeg decode only (the floor for every video stage)
  landmarks-naive      dlib HOG detection + shape predictor on every frame (the baseline)
  landmarks            thead's detect-then-track (extract-landmarks' core)
  landmarks-stage      extract-landmarks on the clip as the CLI runs it, without / with the overlay MP4
  fit-3dmm             the batched torch fit of the clip's landmarks (frames/s of fitting)
  frontalize           decode + Hassner frontalization to 100x100
  clahe-skimage        scikit-image equalize_adapthist per frame (the reference)
  clahe                OpenCV CLAHE as postprocess-clahe runs it, plus its difference from the reference
  clahe-stage          postprocess-clahe on the clip: decode, CLAHE, H.264 encode with audio
  landmarks-long       thead's landmarks on the clip looped to --long-minutes (memory flat in length?)
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_CLIP = ROOT.parent / "shared" / "data" / "videos" / "video-retalking_face_4.mp4"


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def measure(name: str, clip: str) -> dict:
    import numpy as np

    from thead.media import FrameReader

    t0 = time.perf_counter()
    t_end = None  # set where checks follow the timed work
    n = 0
    extra: dict = {}
    if name == "decode":
        for _ in FrameReader(clip):
            n += 1
    elif name in ("landmarks", "landmarks-long"):
        from thead.face.landmarks import LandmarkExtractor

        ex = LandmarkExtractor()  # model loading (~1 s) is not per-frame work
        t0 = time.perf_counter()
        res = ex.video(FrameReader(clip))
        n = len(res.detected)
        extra = dict(detected=float(res.detected.mean()), detector_runs=res.n_redetections)
        np.save(clip + ".lmk.npy", res.landmarks)
    elif name == "landmarks-naive":
        import cv2

        from thead.face.landmarks import LandmarkExtractor, interocular, pick_subject

        ex = LandmarkExtractor()
        pts = []
        t0 = time.perf_counter()
        for _, _, rgb in FrameReader(clip):
            g = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
            boxes, _ = ex.detect(g, 0)
            pts.append(ex.shape(g, boxes[pick_subject(boxes, g.shape[1], g.shape[0])]) if boxes
                       else np.full((68, 2), np.nan, np.float32))
            n += 1
        t_end = time.perf_counter()
        pts = np.array(pts)
        ref = clip + ".lmk.npy"
        if os.path.exists(ref):  # agreement of tracking with per-frame detection
            tr = np.load(ref)
            err = np.linalg.norm(tr - pts, axis=-1).mean(-1) / interocular(pts)
            extra = dict(tracking_vs_detection_median_iod=float(np.nanmedian(err)),
                         tracking_vs_detection_p95_iod=float(np.nanpercentile(err, 95)))
    elif name == "fit-3dmm":
        from thead.face.facemodel import load_face_model
        from thead.face.fit import fit_landmarks

        lm = np.load(clip + ".lmk.npy")
        model = load_face_model()
        fit_landmarks(model, lm[:5])  # torch import and first-call warm-up (~2.5 s once per process)
        t0 = time.perf_counter()
        fr = fit_landmarks(model, lm)
        n = len(lm)
        extra = dict(median_err_iod=float(np.nanmedian(fr.reproj_err_iod)))
    elif name == "frontalize":
        from thead.face.facemodel import load_face_model
        from thead.face.frontalize import Frontalizer

        lm = np.load(clip + ".lmk.npy")
        f = Frontalizer(load_face_model(), 100)
        t0 = time.perf_counter()
        for i, _, rgb in FrameReader(clip):
            f(rgb, lm[i])
            n += 1
    elif name in ("clahe", "clahe-skimage"):
        from thead.postprocess import clahe, clahe_skimage

        frames = [f for _, _, f in FrameReader(clip, max_frames=60)]
        op = clahe if name == "clahe" else clahe_skimage
        op(frames[0])  # library initialisation
        t0 = time.perf_counter()
        outs = [op(f) for f in frames]
        n = len(frames)
        t_end = time.perf_counter()
        if name == "clahe":
            ref = [clahe_skimage(f) for f in frames[:10]]
            d = np.concatenate([np.abs(a.astype(int) - b.astype(int)).ravel() for a, b in zip(outs, ref)])
            extra = dict(mean_abs_diff_vs_skimage=float(d.mean()), p99_abs_diff=float(np.percentile(d, 99)))
    elif name.endswith("-stage"):
        # a whole stage as the CLI runs it on one video: decode, work, write outputs (MP4 encode included)
        from thead.runner import WorkItem
        from thead.stages import clahe as clahe_stage
        from thead.stages import landmarks as lmk_stage

        out = Path(tempfile.mkdtemp(prefix="thead-stage-"))
        w = WorkItem(id="clip", source=Path(clip), meta={"media_type": "video"})
        if name.startswith("landmarks"):
            cfg = dict(detector="hog", redetect_every=10, fps=None, interpolate_gaps=False,
                       preview=name == "landmarks+preview-stage")
            lmk_stage._extractor(cfg)
            t0 = time.perf_counter()
            _, meta = lmk_stage.process(w, out, cfg)
        else:
            cfg = dict(mode="value", clip_limit=0.01, tiles=8, denoise=0.0, sharpen=0.0, preview=False)
            t0 = time.perf_counter()
            _, meta = clahe_stage.process(w, out, cfg)
        n = meta["n_frames"]
    dt = (t_end or time.perf_counter()) - t0
    return dict(stage=name, frames=n, seconds=dt, fps=n / dt, peak_mb=_peak_mb(), **extra)


def run(name: str, clip: str) -> dict:
    out = subprocess.run([sys.executable, __file__, "--measure", name, "--clip", clip], capture_output=True,
                         text=True, env=dict(os.environ, PYTHONPATH=str(ROOT)))
    if out.returncode != 0:
        raise RuntimeError(f"{name} failed: {out.stderr[-2000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--clip", default=str(DEFAULT_CLIP))
    ap.add_argument("--size", type=int, default=512, help="rescale the clip to size x size (0: as is)")
    ap.add_argument("--long-minutes", type=float, default=10.0)
    ap.add_argument("--measure", help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.measure:
        print(json.dumps(measure(a.measure, a.clip)))
        return
    tmp = Path(tempfile.mkdtemp(prefix="thead-bench-"))
    clip = tmp / "clip.mp4"
    vf = ["-vf", f"scale={a.size}:{a.size}"] if a.size else []
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-i", a.clip, *vf, "-c:v", "libx264", "-crf", "18", "-c:a",
                    "copy", str(clip)], check=True)
    from thead.media import probe_video

    info = probe_video(clip)
    print(f"clip: {Path(a.clip).name} -> {info.width}x{info.height}, {info.n_frames_nominal} frames at "
          f"{float(info.avg_fps):.2f} fps; machine: {os.cpu_count()} cores")
    rows = {}
    for name in ("decode", "landmarks", "landmarks-naive", "landmarks-stage", "landmarks+preview-stage", "fit-3dmm",
                 "frontalize", "clahe-skimage", "clahe", "clahe-stage"):
        rows[name] = run(name, str(clip))
    if a.long_minutes > 0:
        loops = int(a.long_minutes * 60 / info.duration_s) + 1
        long = tmp / "long.mp4"
        subprocess.run(["ffmpeg", "-v", "error", "-y", "-stream_loop", str(loops - 1), "-i", str(clip), "-c", "copy",
                        str(long)], check=True)
        rows["landmarks-long"] = run("landmarks-long", str(long))
    print(f"\n{'stage':<18}{'frames':>8}{'frames/s':>10}{'peak MB':>9}  notes")
    for name, r in rows.items():
        notes = {k: (round(v, 4) if isinstance(v, float) else v) for k, v in r.items()
                 if k not in ("stage", "frames", "seconds", "fps", "peak_mb")}
        print(f"{name:<18}{r['frames']:>8}{r['fps']:>10.1f}{r['peak_mb']:>9.0f}  {notes if notes else ''}")
    print("\nratios:")
    speedup = rows["landmarks"]["fps"] / rows["landmarks-naive"]["fps"]
    print(f"  landmarks / landmarks-naive (detect every frame): {speedup:.2f}x")
    print(f"  clahe (OpenCV) / clahe-skimage: {rows['clahe']['fps'] / rows['clahe-skimage']['fps']:.1f}x")
    print(f"  clahe-stage (decode+CLAHE+encode) / clahe-skimage: "
          f"{rows['clahe-stage']['fps'] / rows['clahe-skimage']['fps']:.1f}x")
    if "landmarks-long" in rows:
        r = rows["landmarks-long"]
        print(f"  long video: {r['frames']} frames ({r['frames'] / float(info.avg_fps) / 60:.1f} min), peak "
              f"{r['peak_mb']:.0f} MB vs {rows['landmarks']['peak_mb']:.0f} MB for the "
              f"{info.n_frames_nominal}-frame clip")


if __name__ == "__main__":
    main()
