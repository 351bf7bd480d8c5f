"""Carry a ``crop-faces`` folder to a lent GPU inside the 64 MiB a call takes (bench/gpu_flnet_pretrain.sh).

    python bench/pack_crops.py pack CROPS DST     # every X.frames/ PNG folder -> DST/X.frames.mp4 + X.frames.txt
    python bench/pack_crops.py unpack DST         # back to PNG folders, in place (on the GPU machine)

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


def pack_one(args):
    d, dst = args
    names = sorted(p.name for p in d.glob("*.png"))
    (dst / (d.name + ".txt")).write_text("\n".join(names) + "\n")
    lst = dst / (d.name + ".ffconcat")
    lst.write_text("ffconcat version 1.0\n" + "".join(f"file '{d.resolve()}/{n}'\nduration 0.04\n" for n in names))
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-f", "concat", "-safe", "0", "-i", str(lst), "-fps_mode",
                    "passthrough", "-c:v", "libx264", "-preset", "veryfast", "-crf", os.environ.get("CRF", "8"),
                    "-pix_fmt", "yuv444p",
                    str(dst / (d.name + ".mp4"))], check=True)
    lst.unlink()


def unpack_one(mp4):
    import cv2
    names = (mp4.with_suffix(".txt")).read_text().split()
    out = mp4.with_suffix("")
    out.mkdir(exist_ok=True)
    cap = cv2.VideoCapture(str(mp4))
    for n in names:
        ok, f = cap.read()
        assert ok, (mp4, n)
        cv2.imwrite(str(out / n), f, [cv2.IMWRITE_PNG_COMPRESSION, 1])
    mp4.unlink()
    return len(names)


if __name__ == "__main__":
    if sys.argv[1] == "pack":
        src, dst = Path(sys.argv[2]), Path(sys.argv[3])
        shutil.copytree(src, dst, ignore=shutil.ignore_patterns("*.frames", "*.png", "*.jpg", "*.mp4"))
        with ProcessPoolExecutor(2) as ex:
            list(ex.map(pack_one, [(d, dst) for d in sorted(src.glob("*.frames"))]))
    else:
        with ProcessPoolExecutor(16) as ex:
            print("unpacked", sum(ex.map(unpack_one, sorted(Path(sys.argv[2]).rglob("*.frames.mp4")))), "frames")
