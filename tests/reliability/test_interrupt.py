"""Issue 10, case 8: workers die with their parent (kill -9), and Ctrl-C exits 130 with one line saying what was
kept and how to resume."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import EXAMPLES, SHARED

CLIPS = [SHARED / "videos" / n for n in ("video-retalking_face_3.mp4", "video-retalking_face_4.mp4",
                                         "LivePortrait_d20.mp4", "TPSMM_driving.mp4")]


def children(pid: int) -> list[int]:
    """The pool's worker processes of ``pid`` (multiprocessing's resource tracker, which exits on its own, aside)."""
    out = []
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            try:
                stat = (d / "stat").read_text()
                cmd = (d / "cmdline").read_bytes()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid and b"resource_tracker" not in cmd:
                out.append(int(d.name))
    return out


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def start(tmp_path, *extra) -> subprocess.Popen:
    clips = [c for c in CLIPS if c.exists()] + [EXAMPLES / "videos" / "LivePortrait_d20.mp4"]
    # a terminal's foreground job: Ctrl-C's default action even when this suite itself runs as a background job
    # of a non-interactive shell (`cmd &`), whose children inherit SIGINT ignored (POSIX)
    return subprocess.Popen([sys.executable, "-m", "thead", "extract-landmarks", *map(str, clips), "-o",
                             str(tmp_path / "out"), "--no-progress", "--no-preview", *extra],
                            stderr=subprocess.PIPE, stdout=subprocess.PIPE, text=True, start_new_session=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))


def wait_for(cond, timeout=120.0):
    t0 = time.time()
    while time.time() - t0 < timeout:
        if cond():
            return True
        time.sleep(0.1)
    return False


@pytest.mark.slow
def test_workers_die_with_a_killed_parent(tmp_path):
    p = start(tmp_path, "-j", "2")
    try:
        assert wait_for(lambda: len(children(p.pid)) >= 2), "the pool never started"
        time.sleep(1.0)  # the workers are busy with their first items
        workers = children(p.pid)
        os.kill(p.pid, signal.SIGKILL)
        p.wait()
        # at once, not after finishing the clip in hand (seconds) as a pool's workers otherwise do
        assert wait_for(lambda: not any(alive(w) for w in workers), timeout=1.5), "workers outlived their parent"
    finally:
        if p.poll() is None:
            p.kill()
        for w in children(p.pid):
            os.kill(w, signal.SIGKILL)


@pytest.mark.slow
@pytest.mark.parametrize("jobs", ["1", "2"])
def test_ctrl_c_says_what_was_kept_and_exits_130(tmp_path, jobs):
    p = start(tmp_path, "-j", jobs)
    journal = tmp_path / "out" / "manifest.json.journal.jsonl"
    try:
        assert wait_for(lambda: journal.exists() and journal.read_text().strip()), "no item finished"
        workers = children(p.pid)
        os.killpg(p.pid, signal.SIGINT)  # what a terminal's Ctrl-C does: the whole foreground group
        _, err = p.communicate(timeout=60)
    finally:
        if p.poll() is None:
            p.kill()
    assert p.returncode == 130, err
    lines = err.strip().splitlines()
    assert lines[-1].startswith("interrupted: extract-landmarks stopped:") and "rerun the same command" in lines[-1]
    assert "Traceback" not in err
    kept = int(lines[-1].split("stopped: ")[1].split(" ")[0])
    assert kept >= 1
    assert wait_for(lambda: not any(alive(w) for w in workers), timeout=10)
    r = subprocess.run(p.args, capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr
    assert f"({kept} reused)" in r.stderr
    m = json.loads((tmp_path / "out" / "manifest.json").read_text())
    assert all(it["status"] == "done" for it in m["items"])
