import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import EXAMPLES, ROOT, cut

pytestmark = pytest.mark.slow  # whole Makefile chains (make test runs them; make test-fast does not)


def test_preprocess_makefile_end_to_end(tmp_path):
    """stages/preprocess.mk on tiny real media: every manifest valid, a report with previews; a rerun is a no-op."""
    vids = tmp_path / "videos"
    vids.mkdir()
    cut(EXAMPLES / "videos" / "video-retalking_face_1.mp4", vids / "vfr.mp4", 1.0)
    ports = tmp_path / "portraits"
    ports.mkdir()
    shutil.copy(EXAMPLES / "portraits" / "SadTalker_happy1.png", ports)
    work = tmp_path / "work"
    args = ["make", "-s", "-f", str(ROOT / "stages" / "preprocess.mk"),
            f"PYTHON={sys.executable}", f"WORK={work}", f"VIDEOS={vids}",
            f"PORTRAITS={ports}", "FLAGS=--no-progress", "SIZE=64"]
    # Issue 10, case 10: the recipes run with PYTHON alone, no `thead` on PATH (a venv that is not activated), and
    # with THEAD_ALLOW_OUTSIDE unset (the media folders named are trusted by the Makefile itself).
    env = {k: v for k, v in os.environ.items() if k != "THEAD_ALLOW_OUTSIDE"}
    env["PATH"] = os.pathsep.join(d for d in env["PATH"].split(os.pathsep) if not (Path(d) / "thead").exists())
    env.pop("MAKEFLAGS", None)
    assert shutil.which("thead", path=env["PATH"]) is None
    r = subprocess.run(args, capture_output=True, text=True, cwd=ROOT, env=env)
    assert r.returncode == 0, r.stdout + r.stderr
    report = (work / "report.md").read_text()
    for kind in ("thead.landmarks", "thead.3dmm", "thead.au", "thead.frames"):
        assert kind in report
    assert "![" in report and "failed" not in report
    au = json.loads((work / "au" / "manifest.json").read_text())
    assert {it["status"] for it in au["items"]} == {"done"}
    r = subprocess.run(args + ["-q"], cwd=ROOT, env=env)
    assert r.returncode == 0  # everything up to date
