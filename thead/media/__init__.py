"""ffmpeg-backed video/audio I/O and Pillow image I/O."""

from pathlib import Path

from thead.media.audio import AUDIO_EXTENSIONS, SAMPLE_RATE, extract_audio, has_audio, load_audio
from thead.media.image import IMAGE_EXTENSIONS, read_image, write_image
from thead.media.video import (VIDEO_EXTENSIONS, FrameReader, VideoInfo, VideoWriter, count_frames, probe_video,
                               split_at)


def media_type(path: Path) -> str | None:
    """'video', 'image', 'audio' or None, from the file suffix; a file with no suffix is an 'image' when it starts
    with the JPEG signature (VidTIMIT stores its frames as JPEG files named ``001``, ``002``, ...)."""
    suf = Path(path).suffix.lower()
    if not suf and Path(path).is_file():
        with open(path, "rb") as f:
            return "image" if f.read(3) == b"\xff\xd8\xff" else None
    if suf in VIDEO_EXTENSIONS:
        return "video"
    if suf in IMAGE_EXTENSIONS:
        return "image"
    if suf in AUDIO_EXTENSIONS:
        return "audio"
    return None


__all__ = [
    "AUDIO_EXTENSIONS", "SAMPLE_RATE", "IMAGE_EXTENSIONS", "VIDEO_EXTENSIONS", "FrameReader", "VideoInfo",
    "VideoWriter", "count_frames",
    "extract_audio", "has_audio", "load_audio", "media_type", "probe_video", "split_at", "read_image", "write_image",
]
