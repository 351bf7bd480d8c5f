"""The runner at corpus scale (issue 16, part 3): how long thead takes to plan a 10,000-item run and to resume one.

    python bench/plan_scale.py [--items 10000] [--shards 8] [--work DIR] [--json out.json]

A real ``thead.landmarks`` manifest of a few bundled clips is replicated into ``--items`` items (distinct ids, the
same real source and landmark files), as a corpus manifest would list them. Timed:

- ``load``: reading and validating that manifest (pydantic);
- ``plan``: ``runner.discover`` on it plus every item's fingerprint (stage, config, stat of the source and upstream
  files) and its shard (``in_shard``) for each of ``--shards`` shards;
- ``first run``: ``run_stage`` with a trivial per-item process (one small file per item) stopped by Ctrl-C
  (``KeyboardInterrupt``) after half of the items, as a killed job would be;
- ``resume``: the same command again: the time until its first new item starts (the journal says which items are
  done; their outputs are only stat'ed, never opened), and in all; the process must be called exactly for the
  other half.

Figures are printed as a table and written with ``--json``. No timed assertion anywhere: these are measurements.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


class _Stop(Exception):
    pass


def main() -> dict:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--items", type=int, default=10000)
    ap.add_argument("--shards", type=int, default=8)
    ap.add_argument("--work", type=Path, default=None)
    ap.add_argument("--json", type=Path, default=None)
    a = ap.parse_args()
    if a.items < 2 or a.shards < 1:
        sys.exit("error: --items must be >= 2 and --shards >= 1")
    os.environ.setdefault("THEAD_ALLOW_OUTSIDE", str(ROOT / "examples"))

    from thead.manifest import load_manifest, in_shard
    from thead.runner import discover, fingerprint, run_stage
    from thead.stages import landmarks

    work = (a.work or Path(tempfile.mkdtemp(prefix="thead-plan-scale-"))).resolve()
    work.mkdir(parents=True, exist_ok=True)
    clips = sorted((ROOT / "examples" / "data" / "videos").glob("*.mp4"))[:3]
    base = landmarks.run(clips, work / "landmarks", progress=False).manifest_path
    m = json.loads(base.read_text())
    seeds = [it for it in m["items"] if it["status"] == "done"]
    if not seeds:
        sys.exit("error: no bundled clip gave landmarks")
    big = dict(m, items=[dict(seeds[i % len(seeds)], id=f"clip{i:06d}") for i in range(a.items)])
    corpus = work / "landmarks" / "manifest.corpus.json"
    corpus.write_text(json.dumps(big))

    t = time.perf_counter()
    load_manifest(corpus, "thead.landmarks")
    t_load = time.perf_counter() - t

    cfg = {"size": 1}
    t = time.perf_counter()
    items, up = discover([corpus], accept_kinds=("thead.landmarks",))
    fps = [fingerprint(w, "bench-plan", cfg) for w in items]
    shards = [[w.id for w in items if in_shard(w.id, (k, a.shards))] for k in range(a.shards)]
    t_plan = time.perf_counter() - t
    assert sum(len(s) for s in shards) == len(items) and len(set(fps)) >= 1

    half = a.items // 2
    calls: list[str] = []
    first_call: list[float] = []

    def process(w, out_dir, config):
        if limit[0] is not None and len(calls) >= limit[0]:
            raise KeyboardInterrupt  # a killed job: the runner journals what finished and stops
        if not first_call:
            first_call.append(time.perf_counter())
        calls.append(w.id)
        p = out_dir / f"{w.id}.txt"
        p.write_text(w.id)
        return {"text": p}, {}

    out = work / "run"
    limit = [half]
    t = time.perf_counter()
    try:
        run_stage("bench-plan", "thead.landmarks", process, items, out, cfg, upstream=up, progress=False)
    except Exception as e:  # Interrupted (a TheadError) after half of the items
        if "stopped" not in str(e):
            raise
    t_first = time.perf_counter() - t
    done_first = len(calls)

    calls.clear()
    first_call.clear()
    limit[0] = None
    t = time.perf_counter()
    res = run_stage("bench-plan", "thead.landmarks", process, items, out, cfg, upstream=up, progress=False)
    t_resume = time.perf_counter() - t
    t_skip = (first_call[0] - t) if first_call else t_resume
    assert done_first == half and len(calls) == a.items - half and res.n_reused == half, (done_first, len(calls))

    fig = dict(items=a.items, shards=a.shards, load_s=t_load, plan_s=t_plan, first_run_s=t_first,
               first_run_items=done_first, resume_until_first_new_item_s=t_skip, resume_total_s=t_resume,
               reused=res.n_reused, processed_on_resume=len(calls), cores=os.cpu_count(), work=str(work))
    print(f"machine: {os.cpu_count()} cores; {a.items} items over {len(seeds)} real clips; work {work}")
    print("| step | seconds |\n|---|---|")
    print(f"| load + validate the {a.items}-item manifest | {t_load:.2f} |")
    print(f"| plan: discover + fingerprints + {a.shards} shards | {t_plan:.2f} |")
    print(f"| first run, stopped (Ctrl-C) after {done_first} items | {t_first:.2f} |")
    print(f"| resume: until the first new item starts ({res.n_reused} reused) | {t_skip:.2f} |")
    print(f"| resume: all ({len(calls)} processed) | {t_resume:.2f} |")
    if a.json:
        a.json.write_text(json.dumps(fig, indent=2) + "\n")
    return fig


if __name__ == "__main__":
    main()
