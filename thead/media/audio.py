"""Audio extraction through ffmpeg: any audio/video file to 16 kHz mono 16-bit PCM."""

from __future__ import annotations

import subprocess
from pathlib import Path

import numpy as np

from thead.errors import InputError
from thead.media.video import _ffmpeg_error_line, probe

SAMPLE_RATE = 16000  # Hz, what speech features (MFCC, wav2vec2/DeepSpeech) expect
AUDIO_EXTENSIONS = {".wav", ".mp3", ".flac", ".ogg", ".m4a", ".aac", ".opus", ".wma"}


def has_audio(path: Path) -> bool:
    return any(s.get("codec_type") == "audio" for s in probe(path).get("streams", []))


def _audio_args(path: Path, sample_rate: int) -> list[str]:
    import ffmpeg

    return (ffmpeg.input(str(path)).audio
            .output("pipe:", format="s16le", acodec="pcm_s16le", ac=1, ar=sample_rate)
            .global_args("-loglevel", "error", "-nostdin").compile())


def load_audio(path: Path, sample_rate: int = SAMPLE_RATE) -> np.ndarray:
    """Decode the first audio stream of ``path`` to mono.

    Returns:
        (N,) float32 samples in [-1, 1] at ``sample_rate`` Hz (channels averaged by ffmpeg's downmix).

    Raises:
        InputError: missing/unreadable file or no audio stream.
    """
    if not has_audio(path):
        raise InputError(f"{path}: no audio track")
    proc = subprocess.run(_audio_args(path, sample_rate), capture_output=True)
    if proc.returncode != 0:
        raise InputError(f"{path}: audio decoding failed ({_ffmpeg_error_line(proc.stderr)})")
    return np.frombuffer(proc.stdout, np.int16).astype(np.float32) / 32768.0


def extract_audio(path: Path, out_wav: Path, sample_rate: int = SAMPLE_RATE) -> Path:
    """Write the audio of ``path`` as a mono 16-bit PCM WAV at ``sample_rate`` Hz (atomically).

    Raises:
        InputError: missing/unreadable file or no audio stream.
    """
    import ffmpeg

    from thead.files import tmp_path

    if not has_audio(path):
        raise InputError(f"{path}: no audio track")
    out_wav = Path(out_wav)
    out_wav.parent.mkdir(parents=True, exist_ok=True)
    tmp = tmp_path(out_wav)
    args = (ffmpeg.input(str(path)).audio.output(str(tmp), acodec="pcm_s16le", ac=1, ar=sample_rate)
            .global_args("-loglevel", "error", "-nostdin", "-y").compile())
    proc = subprocess.run(args, capture_output=True)
    if proc.returncode != 0:
        tmp.unlink(missing_ok=True)
        raise InputError(f"{path}: audio extraction failed ({_ffmpeg_error_line(proc.stderr)})")
    tmp.replace(out_wav)
    return out_wav
