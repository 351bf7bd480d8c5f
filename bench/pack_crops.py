"""Carry a ``crop-faces`` or ``render-face`` folder to a lent GPU inside the 64 MiB a call takes
(bench/gpu_flnet_pretrain.sh, bench/gpu_facial_paper.sh).

    python bench/pack_crops.py pack CROPS DST     # every X.frames/ or X.renders/ PNG folder -> DST/X.<kind>.mp4 + .txt
    python bench/pack_crops.py unpack DST         # back to PNG folders, in place (on the GPU machine)

RGBA folders (render-face's renders: the render with the eye attention map as alpha) travel as two videos, the RGB
one and ``X.renders.alpha.mp4`` (the alpha channel as grey), and come back as RGBA PNGs.

x264 4:4:4 at CRF ``$CRF`` (default 8; 15 fitted 17 820 crops of 128 px in 18 MB, mean error 1.9 / 255); ffmpeg
encodes, OpenCV decodes (no ffmpeg binary needed on the GPU machine). Manifests and landmark files are copied as
they are.
"""
import os
import shutil
import subprocess
import sys
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np


def pack_one(args):
    d, dst = args
    names = sorted(p.name for p in d.glob("*.png"))
    (dst / (d.name + ".txt")).write_text("\n".join(names) + "\n")
    lst = dst / (d.name + ".ffconcat")
    lst.write_text("ffconcat version 1.0\n" + "".join(f"file '{d.resolve()}/{n}'\nduration 0.04\n" for n in names))
    enc = ["-fps_mode", "passthrough", "-c:v", "libx264", "-preset", "veryfast", "-crf", os.environ.get("CRF", "8"),
           "-pix_fmt", "yuv444p"]
    src = ["ffmpeg", "-v", "error", "-y", "-f", "concat", "-safe", "0", "-i", str(lst)]
    subprocess.run(src + enc + [str(dst / (d.name + ".mp4"))], check=True)
    if names and _has_alpha(d / names[0]):
        subprocess.run(src + ["-vf", "alphaextract,format=gray"] + enc + [str(dst / (d.name + ".alpha.mp4"))],
                       check=True)
    lst.unlink()


def _has_alpha(png) -> bool:
    from PIL import Image

    with Image.open(png) as im:
        return im.mode in ("RGBA", "LA")


def unpack_one(mp4):
    import cv2
    names = (mp4.with_suffix(".txt")).read_text().split()
    out = mp4.with_suffix("")
    out.mkdir(exist_ok=True)
    alpha = mp4.with_name(out.name + ".alpha.mp4")
    cap = cv2.VideoCapture(str(mp4))
    cap_a = cv2.VideoCapture(str(alpha)) if alpha.is_file() else None
    for n in names:
        ok, f = cap.read()
        assert ok, (mp4, n)
        if cap_a is not None:
            ok, a = cap_a.read()
            assert ok, (alpha, n)
            f = np.concatenate([f, a[..., :1]], 2)  # BGRA
        cv2.imwrite(str(out / n), f, [cv2.IMWRITE_PNG_COMPRESSION, 1])
    mp4.unlink()
    if cap_a is not None:
        alpha.unlink()
    return len(names)


if __name__ == "__main__":
    if sys.argv[1] == "pack":
        src, dst = Path(sys.argv[2]), Path(sys.argv[3])
        shutil.copytree(src, dst, ignore=shutil.ignore_patterns("*.frames", "*.renders", "*.png", "*.jpg", "*.mp4"))
        folders = sorted(src.glob("*.frames")) + sorted(src.glob("*.renders"))
        with ProcessPoolExecutor(2) as ex:
            list(ex.map(pack_one, [(d, dst) for d in folders]))
    else:
        with ProcessPoolExecutor(16) as ex:
            print("unpacked", sum(ex.map(unpack_one, sorted(Path(sys.argv[2]).rglob("*.frames.mp4"))
                                                       + sorted(Path(sys.argv[2]).rglob("*.renders.mp4")))), "frames")
