import json
import shutil
import subprocess
import sys

import pytest

from tests.conftest import EXAMPLES, ROOT, cut

pytestmark = pytest.mark.slow  # whole Makefile chains (make test runs them; make test-fast does not)


def test_flnet_makefile_end_to_end(tmp_path):
    """stages/flnet.mk on tiny real media: crops, bank, training, synthesis with masks, evaluation, report."""
    vids = tmp_path / "videos"
    vids.mkdir()
    cut(EXAMPLES / "videos" / "LivePortrait_d20.mp4", vids / "person.mp4", 1.6)
    cut(EXAMPLES / "videos" / "TPSMM_driving.mp4", tmp_path / "driving.mp4", 0.6)
    ports = tmp_path / "portraits"
    ports.mkdir()
    shutil.copy(EXAMPLES / "portraits" / "SadTalker_happy1.png", ports)
    work = tmp_path / "work"
    args = ["make", "-s", "-f", str(ROOT / "stages" / "flnet.mk"),
            f"PYTHON={sys.executable}", "flnet", f"WORK={work}", f"VIDEOS={vids}",
            f"PORTRAITS={ports}", "FLAGS=--no-progress", "FL_PERSON=person", f"FL_DRIVING={tmp_path / 'driving.mp4'}",
            "FL_SIZE=64", "FL_STEPS=2", "FL_BATCH=2", "FL_WIDTH=4", "FL_FRAMES=5", "FL_TARGETS=3",
            "FL_TRAIN_FLAGS=--d-steps 1 --no-progress"]
    r = subprocess.run(args, capture_output=True, text=True, cwd=ROOT)
    assert r.returncode == 0, r.stdout + r.stderr
    report = (work / "flnet" / "report.md").read_text()
    for kind in ("thead.frames", "thead.bank", "thead.checkpoint", "thead.synthesis", "FLNet evaluation"):
        assert kind in report
    syn = json.loads((work / "flnet" / "synth" / "manifest.json").read_text())
    (it,) = syn["items"]
    assert it["status"] == "done" and it["meta"]["n_frames"] == 5 and it["meta"]["bank_identity"] == "person"
    metrics = json.loads((work / "flnet" / "eval" / "metrics.json").read_text())
    assert metrics["people"] == ["person"]
    r = subprocess.run(args + ["-q"], cwd=ROOT)
    assert r.returncode == 0  # everything up to date
