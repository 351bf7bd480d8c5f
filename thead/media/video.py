"""Streamed video decoding and MP4 writing through ffmpeg (``ffmpeg-python`` builds the command lines).

Decoding pipes raw RGB frames from an ffmpeg subprocess, one frame in memory at a time (memory flat in video
length), always at a constant rate: ffmpeg's ``fps`` filter resamples variable-frame-rate input onto a regular
grid (default: the stream's average rate, ``avg_frame_rate``), so frame ``i`` is at ``start_s + i / fps`` and stays
aligned with the audio. Decoding runs in ffmpeg's own process, so it overlaps with the Python work on the frames.
"""

from __future__ import annotations

import os
import subprocess
import tempfile
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Iterator, Optional

import numpy as np

from thead.errors import InputError

# The fps filter already makes the rate constant; the muxer must not pad a late-starting stream from time 0.
PASSTHROUGH = {"fps_mode": "passthrough"}
VIDEO_EXTENSIONS = {".mp4", ".mov", ".avi", ".mkv", ".webm", ".m4v", ".mpg", ".mpeg", ".flv", ".wmv"}


@dataclass
class VideoInfo:
    """What ffprobe says of a video file (after rotation metadata is applied)."""

    path: Path
    width: int  # pixels, as decoded (rotation applied)
    height: int
    avg_fps: Fraction  # frames/s, nb_frames / duration: right for VFR files
    r_fps: Fraction  # the container's nominal rate (wrong for VFR files)
    duration_s: float
    start_s: float  # the video stream's first presentation time, s (ffprobe start_time)
    n_frames_nominal: int  # frames stored in the file
    has_audio: bool
    codec: str
    file_start_s: float = 0.0  # the container's start_time, s: ffmpeg's time 0 when it decodes the file
    audio_start_s: float = 0.0  # the first audio stream's start_time, s (its first decoded sample)

    @property
    def is_vfr(self) -> bool:
        return abs(float(self.avg_fps) - float(self.r_fps)) > 0.01 * float(self.r_fps)

    def n_frames_at(self, fps: float) -> int:
        """Expected frame count after resampling to ``fps`` (ffmpeg's fps filter may differ by one)."""
        return int(round(self.duration_s * fps))


def _check_file(path: Path) -> Path:
    path = Path(path)
    if not path.exists():
        raise InputError(f"{path}: no such file")
    if path.is_dir():
        raise InputError(f"{path}: is a folder, expected a file")
    if path.stat().st_size == 0:
        raise InputError(f"{path}: empty file (0 bytes)")
    return path


def _ffmpeg_error_line(stderr: bytes | str) -> str:
    text = stderr.decode("utf-8", "replace") if isinstance(stderr, bytes) else stderr
    lines = [ln.strip() for ln in text.strip().splitlines() if ln.strip()]
    return lines[-1] if lines else "ffmpeg failed"


def probe(path: Path) -> dict:
    """ffprobe's JSON for ``path``. Raises InputError if the file is missing, empty or unreadable."""
    import ffmpeg

    path = _check_file(path)
    try:
        return ffmpeg.probe(str(path))
    except ffmpeg.Error as e:
        raise InputError(f"{path}: unreadable media ({_ffmpeg_error_line(e.stderr)})") from None


def _fraction(s: Optional[str]) -> Fraction:
    try:
        f = Fraction(s) if s else Fraction(0)
    except (ValueError, ZeroDivisionError):
        f = Fraction(0)
    return f


def probe_video(path: Path) -> VideoInfo:
    """Probe a video file.

    Raises:
        InputError: missing, empty, unreadable, or without a video stream.
    """
    info = probe(path)
    vs = [s for s in info.get("streams", []) if s.get("codec_type") == "video"
          and s.get("disposition", {}).get("attached_pic", 0) == 0]
    if not vs:
        raise InputError(f"{path}: no video stream")
    v = vs[0]
    w, h = int(v["width"]), int(v["height"])
    rot = 0
    for sd in v.get("side_data_list", []) or []:
        if "rotation" in sd:
            rot = int(sd["rotation"])
    rot = int(v.get("tags", {}).get("rotate", rot))
    if abs(rot) % 180 == 90:
        w, h = h, w
    fmt = info.get("format", {})
    auds = [s for s in info.get("streams", []) if s.get("codec_type") == "audio"]
    duration = float(v.get("duration") or 0.0)
    if duration <= 0 and fmt.get("duration"):  # the container's duration counts from its start, not the stream's
        duration = float(fmt["duration"]) - max(float(v.get("start_time") or 0.0) - float(fmt.get("start_time")
                                                                                             or 0.0), 0.0)
    nb = int(v.get("nb_frames") or 0)
    avg = _fraction(v.get("avg_frame_rate"))
    r = _fraction(v.get("r_frame_rate"))
    if avg <= 0:
        avg = r
    if avg <= 0:
        raise InputError(f"{path}: cannot tell the frame rate")
    if duration <= 0 and nb > 0:
        duration = nb / float(avg)
    if nb == 0:
        nb = int(round(duration * float(avg)))
    return VideoInfo(
        path=Path(path), width=w, height=h, avg_fps=avg.limit_denominator(100000), r_fps=r,
        duration_s=duration, start_s=float(v.get("start_time") or 0.0), n_frames_nominal=nb,
        has_audio=bool(auds),
        codec=str(v.get("codec_name")),
        file_start_s=float(fmt.get("start_time") or 0.0),
        audio_start_s=float(auds[0].get("start_time") or 0.0) if auds else 0.0,
    )


class FrameReader:
    """Iterate the frames of a video at a constant rate, streamed.

    Args:
        path: any video ffmpeg reads.
        fps: output rate, frames/s; None means the stream's average rate (right for VFR input).
        max_frames: stop after this many frames (None: all).

    Yields:
        ``(index, timestamp_s, frame)`` with ``frame`` an (H, W, 3) uint8 RGB array and ``timestamp_s`` the frame's
        presentation time in seconds as ffprobe reports it (``pts_time``): ``first_s + index / fps``.

    Only decoded frames are yielded: a video stream that starts after the file does (a late first frame) is not
    padded with copies of its first frame (ffmpeg's raw-video muxer would do so by default, shifting every frame),
    so frame 0 is the first real frame and ``first_s`` its time on the fps filter's grid. ``offset_s`` is the same
    time measured from the file's start (what ``VideoWriter(audio_offset_s=...)`` takes to keep the sound in sync).

    Raises:
        InputError: unreadable file, or ffmpeg failed before the end of the stream.
    """

    def __init__(self, path: Path, fps: Optional[float] = None, max_frames: Optional[int] = None):
        self.info = probe_video(path)
        self.fps_fraction = Fraction(fps).limit_denominator(100000) if fps else self.info.avg_fps
        self.fps = float(self.fps_fraction)
        self.max_frames = max_frames
        # The fps filter puts frames on a grid k / fps of ffmpeg's timeline (0 at the file's start), rounding the
        # first input frame's time to the nearest grid point (its default round=near).
        info = self.info
        self.offset_s = round(max(info.start_s - info.file_start_s, 0.0) * self.fps) / self.fps
        self.first_s = info.file_start_s + self.offset_s
        self.n_frames_expected = info.n_frames_at(self.fps)
        if max_frames is not None:
            self.n_frames_expected = min(self.n_frames_expected, max_frames)
        self.frames_read = 0

    def __iter__(self) -> Iterator[tuple[int, float, np.ndarray]]:
        import ffmpeg

        info = self.info
        stream = ffmpeg.input(str(info.path)).video.filter("fps", fps=str(self.fps_fraction))
        args = ffmpeg.output(stream, "pipe:", format="rawvideo", pix_fmt="rgb24", **PASSTHROUGH).global_args(
            "-loglevel", "error", "-nostdin").compile()
        frame_bytes = info.width * info.height * 3
        with tempfile.TemporaryFile() as errf:
            proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=errf, bufsize=frame_bytes * 4)
            i = 0
            try:
                while self.max_frames is None or i < self.max_frames:
                    buf = proc.stdout.read(frame_bytes)
                    if len(buf) < frame_bytes:
                        break
                    frame = np.frombuffer(buf, np.uint8).reshape(info.height, info.width, 3)
                    self.frames_read = i + 1
                    yield i, self.first_s + i / self.fps, frame
                    i += 1
            finally:
                if proc.poll() is None and (self.max_frames is not None and i >= self.max_frames):
                    proc.kill()
                proc.stdout.close()
                rc = proc.wait()
            stopped_early = self.max_frames is not None and i >= self.max_frames
            errf.seek(0)
            err = errf.read()
            if (rc != 0 and not stopped_early) or i == 0:
                msg = _ffmpeg_error_line(err) if rc != 0 else "no frames decoded"
                raise InputError(f"{info.path}: video decoding failed after {i} frames ({msg})")
            # A truncated file whose index survived decodes partially and ffmpeg still exits 0: compare the
            # frame count with the duration the container claims.
            if not stopped_early and i < self.n_frames_expected - max(2, 0.02 * self.n_frames_expected):
                detail = f"; {_ffmpeg_error_line(err)}" if err.strip() else ""
                raise InputError(f"{info.path}: truncated or corrupt video (decoded {i} of "
                                 f"{self.n_frames_expected} frames{detail})")


def split_at(src: Path, cut_s: float, head: Path, tail: Path, tail_wav: Path, fps: Optional[float] = None) -> None:
    """Cut a clip at ``cut_s`` seconds into ``head`` (before) and ``tail`` (after), both re-encoded (H.264 CRF 12,
    AAC) so the cut is frame-exact, and ``tail_wav``, the tail's sound as 16 kHz mono WAV. With ``fps`` both parts
    are resampled to that frame rate (ffmpeg's fps filter: frames dropped or repeated, none blended). Each file is
    written through a temporary name beside it (ffmpeg).

    Raises:
        subprocess.CalledProcessError: ffmpeg failed.
    """
    enc = ["-c:v", "libx264", "-crf", "12", "-preset", "veryfast", "-pix_fmt", "yuv420p", "-c:a", "aac"]
    if fps:
        enc = ["-vf", f"fps={float(fps):g}", *enc]
    jobs = ((["-i", str(src), "-t", f"{cut_s:.3f}", *enc], Path(head)),
            (["-ss", f"{cut_s:.3f}", "-i", str(src), *enc], Path(tail)),
            (["-i", str(tail), "-vn", "-ac", "1", "-ar", "16000"], Path(tail_wav)))
    for args, dst in jobs:
        tmp = dst.with_name(dst.stem + ".part" + dst.suffix)
        subprocess.run(["ffmpeg", "-v", "error", "-y", *args, str(tmp)], check=True)
        tmp.replace(dst)


def count_frames(path: Path, fps: Optional[float] = None) -> int:
    """The number of frames ``FrameReader(path, fps)`` yields (same ffmpeg fps filter), without reading pixels
    into Python (ffmpeg's null muxer drops the fps filter's last frame, so gray raw video goes to /dev/null).

    Raises:
        InputError: unreadable file.
    """
    import ffmpeg

    info = probe_video(path)
    rate = Fraction(fps).limit_denominator(100000) if fps else info.avg_fps
    args = (ffmpeg.input(str(info.path)).video.filter("fps", fps=str(rate))
            .output(os.devnull, format="rawvideo", pix_fmt="gray", **PASSTHROUGH)
            .global_args("-y", "-loglevel", "error", "-nostdin", "-nostats", "-progress", "pipe:1").compile())
    proc = subprocess.run(args, capture_output=True, text=True)
    if proc.returncode != 0:
        raise InputError(f"{info.path}: video decoding failed ({_ffmpeg_error_line(proc.stderr)})")
    frames = [int(ln.split("=", 1)[1]) for ln in proc.stdout.splitlines() if ln.startswith("frame=")]
    return frames[-1] if frames else 0


class VideoWriter:
    """Write RGB frames to an H.264 MP4 (yuv420p), optionally muxing the audio of another file (AAC).

    The file is written under a temporary name and renamed into place by ``close()``; on an exception inside a
    ``with`` block the temporary file is removed and nothing is left at ``path``.

    Args:
        path: output ``.mp4``.
        fps: frames/s.
        audio_from: a media file whose first audio stream is muxed in (None: silent video). The video's length
            wins (``-shortest``).
        audio_offset_s: where in ``audio_from`` (seconds from its start) frame 0 falls: ``FrameReader.offset_s``
            when the frames were decoded from that same file, so a stream that starts late stays in sync.
        crf: x264 quality (lower is better; 18 is visually lossless).
    """

    def __init__(self, path: Path, fps: float, audio_from: Optional[Path] = None, crf: int = 20,
                 preset: str = "veryfast", audio_offset_s: float = 0.0):
        self.path = Path(path)
        self.fps = Fraction(fps).limit_denominator(100000)
        self.audio_from = audio_from
        self.audio_offset_s = float(audio_offset_s)
        self.crf = crf
        self.preset = preset
        self.proc: Optional[subprocess.Popen] = None
        self.size: Optional[tuple[int, int]] = None
        from thead.files import tmp_path

        self.tmp = tmp_path(self.path)
        self._err = tempfile.TemporaryFile()
        self.n_frames = 0

    def _start(self, w: int, h: int) -> None:
        import ffmpeg

        self.path.parent.mkdir(parents=True, exist_ok=True)
        video = ffmpeg.input("pipe:", format="rawvideo", pix_fmt="rgb24", s=f"{w}x{h}", framerate=str(self.fps))
        # yuv420p needs even sizes; pad by one pixel rather than scale.
        video = video.filter("pad", "ceil(iw/2)*2", "ceil(ih/2)*2")
        streams = [video]
        kwargs = dict(vcodec="libx264", pix_fmt="yuv420p", crf=self.crf, preset=self.preset,
                      movflags="+faststart", r=str(self.fps))
        if self.audio_from is not None:
            kw = {"ss": f"{self.audio_offset_s:.6f}"} if self.audio_offset_s > 0 else {}
            streams.append(ffmpeg.input(str(self.audio_from), **kw).audio)
            kwargs.update(acodec="aac", audio_bitrate="128k", shortest=None)
        args = ffmpeg.output(*streams, str(self.tmp), **kwargs).global_args(
            "-loglevel", "error", "-nostdin", "-y").compile()
        self.proc = subprocess.Popen(args, stdin=subprocess.PIPE, stderr=self._err)
        self.size = (w, h)

    def write(self, frame: np.ndarray) -> None:
        """Append one (H, W, 3) uint8 RGB frame; every frame must have the first frame's size."""
        frame = np.ascontiguousarray(frame, dtype=np.uint8)
        h, w = frame.shape[:2]
        if self.proc is None:
            self._start(w, h)
        elif (w, h) != self.size:
            raise ValueError(f"frame size {w}x{h} differs from the first frame's {self.size[0]}x{self.size[1]}")
        try:
            self.proc.stdin.write(frame.tobytes())
        except BrokenPipeError:
            self._fail()
        self.n_frames += 1

    def _fail(self) -> None:
        self._err.seek(0)
        msg = _ffmpeg_error_line(self._err.read())
        self.abort()
        raise InputError(f"{self.path}: video encoding failed ({msg})")

    def close(self) -> None:
        if self.proc is None:
            raise ValueError(f"{self.path}: no frames written")
        self.proc.stdin.close()
        if self.proc.wait() != 0:
            self._fail()
        os.replace(self.tmp, self.path)
        self._err.close()

    def abort(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        if self.tmp.exists():
            self.tmp.unlink()

    def __enter__(self) -> "VideoWriter":
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()
