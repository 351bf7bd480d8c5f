"""Shared fixtures: real sample media (bundled examples/data and the product's ../shared/data), small clips cut
from them with ffmpeg, and a CLI runner."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples" / "data"
SHARED = Path(os.environ.get("THEAD_SHARED_DATA", ROOT.parent / "shared" / "data"))


def pytest_configure(config):
    # The suite's media lie in ../shared/data and in pytest's temporary folders, outside the working directory:
    # trust them as a user would with THEAD_ALLOW_OUTSIDE (tests of the refusal itself unset it).
    import tempfile

    os.environ["THEAD_ALLOW_OUTSIDE"] = os.pathsep.join([str(SHARED.resolve()), str(Path(tempfile.gettempdir())
                                                                                     .resolve())])
    # an empty weights cache of the suite's own: no stage picks up the user's downloaded weights
    os.environ["THEAD_HOME"] = tempfile.mkdtemp(prefix="thead-home-")
    os.environ.pop("THEAD_WEIGHTS_MIRROR", None)


def shared(rel: str) -> Path:
    p = SHARED / rel
    if not p.exists():
        raise FileNotFoundError(f"{p}: the product's sample media (../shared/data) is required by the tests")
    return p


@pytest.fixture(scope="session")
def vfr_clip() -> Path:
    return EXAMPLES / "videos" / "video-retalking_face_1.mp4"


@pytest.fixture(scope="session")
def clip25() -> Path:
    return EXAMPLES / "videos" / "LivePortrait_d20.mp4"


@pytest.fixture(scope="session")
def happy() -> Path:
    return EXAMPLES / "portraits" / "SadTalker_happy1.png"


@pytest.fixture(scope="session")
def sad() -> Path:
    return EXAMPLES / "portraits" / "SadTalker_sad1.png"


def cut(src: Path, dst: Path, seconds: float, start: float = 0.0, audio: bool = True) -> Path:
    """A short re-encoded piece of a real clip (ffmpeg)."""
    args = ["ffmpeg", "-v", "error", "-y", "-ss", str(start), "-i", str(src), "-t", str(seconds),
            "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p"]
    args += ["-c:a", "aac"] if audio else ["-an"]
    subprocess.run(args + [str(dst)], check=True)
    return dst


@pytest.fixture(scope="session")
def short_clips(tmp_path_factory, clip25, vfr_clip) -> Path:
    """A folder of three ~1.2 s real clips (two with audio, one without)."""
    d = tmp_path_factory.mktemp("short")
    cut(clip25, d / "a.mp4", 1.2)
    cut(vfr_clip, d / "b.mp4", 1.2, start=1.0)
    cut(clip25, d / "c.mp4", 1.2, start=3.0, audio=False)
    return d


@pytest.fixture(scope="session")
def clip_landmarks(clip25):
    """Landmarks of the bundled 25 fps clip (computed once)."""
    from thead.face.landmarks import LandmarkExtractor
    from thead.media import FrameReader

    return LandmarkExtractor().video(FrameReader(clip25))


@pytest.fixture(scope="session")
def blink_clip_landmarks():
    """Landmarks of a clip with clear blinks (../shared/data video-retalking_face_4.mp4)."""
    from thead.face.landmarks import LandmarkExtractor
    from thead.media import FrameReader

    return LandmarkExtractor().video(FrameReader(shared("videos/video-retalking_face_4.mp4")))


def run_cli(*args, cwd=None, timeout=600, separate: bool = False) -> subprocess.CompletedProcess:
    """Run ``thead ARGS`` and capture its exit code, stdout and stderr.

    In this process by default (typer's own way of testing a CLI, as its ``CliRunner``: no interpreter start, no
    torch import, dlib's models loaded once per suite), through ``thead.cli.main`` exactly as the console script
    calls it, with the working directory, ``sys.argv``, the environment and the CLI's global state restored
    afterwards. ``separate=True`` (or ``THEAD_TEST_SUBPROCESS=1``) runs ``python -m thead`` in a child process
    instead: for what only a real process shows (signals, the interpreter's exit, worker processes' inheritance)."""
    args = [str(a) for a in args]
    if separate or os.environ.get("THEAD_TEST_SUBPROCESS"):
        return subprocess.run([sys.executable, "-m", "thead", *args], capture_output=True, text=True, cwd=cwd,
                              timeout=timeout)
    import contextlib
    import io

    from thead.cli import main
    from thead.cli.app import STATE
    from thead.manifest import paths

    out, err = io.StringIO(), io.StringIO()
    saved = (os.getcwd(), sys.argv, dict(os.environ), dict(STATE), list(paths._TRUSTED))
    code = 0
    try:
        if cwd is not None:
            os.chdir(cwd)
        sys.argv = ["thead", *args]
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                main(args)
            except SystemExit as e:
                code = e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
    finally:
        os.chdir(saved[0])
        sys.argv = saved[1]
        os.environ.clear()
        os.environ.update(saved[2])
        STATE.clear()
        STATE.update(saved[3])
        paths._TRUSTED[:] = saved[4]
        paths.forget_resolved()
    return subprocess.CompletedProcess(["thead", *args], code, out.getvalue(), err.getvalue())
