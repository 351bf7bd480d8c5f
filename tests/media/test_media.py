import subprocess
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tests.conftest import cut
from thead.errors import InputError
from thead.media import (FrameReader, VideoWriter, count_frames, extract_audio, load_audio, probe_video, read_image,
                         split_at, write_image)


@pytest.mark.slow
def test_vfr_clip_is_resampled_to_its_average_rate(vfr_clip):
    info = probe_video(vfr_clip)
    assert info.is_vfr and abs(float(info.avg_fps) - 22.13) < 0.05 and float(info.r_fps) == 30
    r = FrameReader(vfr_clip)
    frames = list(r)
    # its video stream starts at 0.045 s: 134 decoded frames, none padded in front
    assert len(frames) == 134 == count_frames(vfr_clip) and abs(r.n_frames_expected - 134) <= 1
    ts = np.array([t for _, t, _ in frames])
    # constant spacing at the average rate from the first frame's time: the last frame sits at the clip's end
    assert np.allclose(np.diff(ts), 1 / r.fps) and abs(ts[0] - info.start_s) < 0.5 / r.fps
    assert abs(ts[-1] + 1 / r.fps - (info.start_s + info.duration_s)) < 0.1
    assert frames[0][2].shape == (700, 700, 3) and frames[0][2].dtype == np.uint8


@pytest.mark.slow
def test_fps_option_resamples(clip25):
    n = sum(1 for _ in FrameReader(clip25, fps=10))
    assert n == round(probe_video(clip25).duration_s * 10)


@pytest.mark.slow
def test_split_at_cuts_and_resamples(tmp_path, vfr_clip):
    # a 30 fps-nominal clip (22.1 fps average) cut at 2 s and resampled to 25 fps: both parts at 25 fps, the cut
    # where it was asked, the tail's sound beside it
    head, tail, wav = tmp_path / "h.mp4", tmp_path / "t.mp4", tmp_path / "t.wav"
    split_at(vfr_clip, 2.0, head, tail, wav, fps=25)
    h, t = probe_video(head), probe_video(tail)
    assert float(h.avg_fps) == 25 == float(t.avg_fps)
    assert abs(count_frames(head) - 50) <= 1
    total = probe_video(vfr_clip).duration_s
    assert abs(h.duration_s + t.duration_s - total) < 0.15
    assert abs(len(load_audio(wav, 16000)) / 16000 - t.duration_s) < 0.1
    assert not list(tmp_path.glob("*.part*"))


@pytest.mark.slow
def test_writer_muxes_audio_and_keeps_frames(tmp_path, clip25):
    out = tmp_path / "o.mp4"
    with VideoWriter(out, 25, audio_from=clip25) as w:
        for i, _, f in FrameReader(clip25, max_frames=50):
            w.write(f[:-1, :-1])  # odd size: padded to even for yuv420p
    info = probe_video(out)
    assert info.has_audio and info.n_frames_nominal == 50 and (info.width, info.height) == (480, 480)
    assert not list(tmp_path.glob(".*tmp*"))


def test_writer_leaves_nothing_on_error(tmp_path):
    out = tmp_path / "o.mp4"
    with pytest.raises(RuntimeError):
        with VideoWriter(out, 25) as w:
            w.write(np.zeros((64, 64, 3), np.uint8))
            raise RuntimeError("stop")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.slow
def test_audio_extraction(tmp_path, clip25):
    wav = extract_audio(clip25, tmp_path / "a.wav")
    x = load_audio(wav)
    assert abs(len(x) / 16000 - probe_video(clip25).duration_s) < 0.1 and np.abs(x).max() > 0.05


@pytest.mark.slow
def test_bad_media(tmp_path, clip25):
    with pytest.raises(InputError, match="no such file"):
        probe_video(tmp_path / "missing.mp4")
    (tmp_path / "empty.mp4").write_bytes(b"")
    with pytest.raises(InputError, match="empty file"):
        probe_video(tmp_path / "empty.mp4")
    data = Path(clip25).read_bytes()
    (tmp_path / "trunc.mp4").write_bytes(data[: len(data) // 3])
    with pytest.raises(InputError):
        list(FrameReader(tmp_path / "trunc.mp4"))
    silent = cut(clip25, tmp_path / "silent.mp4", 0.5, audio=False)
    with pytest.raises(InputError, match="no audio track"):
        extract_audio(silent, tmp_path / "x.wav")
    assert not (tmp_path / "x.wav").exists()


def test_image_modes_become_rgb_uint8(tmp_path, happy):
    rgb = read_image(happy)
    assert rgb.dtype == np.uint8 and rgb.ndim == 3 and rgb.shape[2] == 3
    gray = Image.fromarray(rgb).convert("L")
    gray.save(tmp_path / "g.png")
    g = read_image(tmp_path / "g.png")
    assert g.shape == rgb.shape and (g[..., 0] == g[..., 2]).all()
    Image.fromarray((np.asarray(gray).astype(np.uint16) * 257)).save(tmp_path / "g16.png")
    g16 = read_image(tmp_path / "g16.png")
    assert np.abs(g16.astype(int) - g.astype(int)).max() <= 1
    rgba = np.dstack([rgb, np.full(rgb.shape[:2], 255, np.uint8)])
    rgba[:10, :10, 3] = 0
    Image.fromarray(rgba).save(tmp_path / "a.png")
    a = read_image(tmp_path / "a.png")
    assert (a[:10, :10] == 255).all() and (a[20:, 20:] == rgb[20:, 20:]).all()
    Image.fromarray(rgb).convert("P").save(tmp_path / "p.png")
    assert read_image(tmp_path / "p.png").shape == rgb.shape
    (tmp_path / "bad.jpg").write_bytes(b"not an image")
    with pytest.raises(InputError, match="unreadable image"):
        read_image(tmp_path / "bad.jpg")
    write_image(tmp_path / "w.png", rgb)
    assert (read_image(tmp_path / "w.png") == rgb).all()


@pytest.mark.slow
def test_decoding_memory_is_flat(tmp_path, clip25):
    """Peak RSS while decoding a 3x looped clip stays within a few frames of decoding the clip once."""
    import resource
    import sys

    code = ("import sys,resource; from thead.media import FrameReader\n"
            "n=sum(1 for _ in FrameReader(sys.argv[1]))\n"
            "print(n, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)")
    loop = tmp_path / "loop.mp4"
    subprocess.run(["ffmpeg", "-v", "error", "-stream_loop", "5", "-i", str(clip25), "-c", "copy", str(loop)],
                   check=True)
    one = subprocess.run([sys.executable, "-c", code, str(clip25)], capture_output=True, text=True, check=True)
    six = subprocess.run([sys.executable, "-c", code, str(loop)], capture_output=True, text=True, check=True)
    (n1, m1), (n6, m6) = [tuple(map(int, r.stdout.split())) for r in (one, six)]
    assert n6 >= 5 * n1
    assert m6 - m1 < 20 * 480 * 480 * 3 / 1024  # KiB: less than 20 frames' worth more
    _ = resource
