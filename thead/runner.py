"""Run one stage over many items: input discovery, sharding, resume, a process pool, progress and exit status.

A stage supplies ``process(work: WorkItem, out_dir: Path, config: dict) -> (outputs, meta)``, a module-level
function (so worker processes can import it) that writes its outputs atomically and returns their absolute paths
and the item's metadata, or raises. ``run_stage`` records every result in the output manifest's journal as it
arrives and writes the manifest at the end.
"""

from __future__ import annotations

import os
import re
import traceback
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Optional

from thead.errors import InputError, Interrupted, TheadError
from thead.manifest import Item, ManifestWriter, in_shard, load_manifest, make_producer
from thead.manifest.paths import OutsideError, is_inside, real_path, trust

ProcessFn = Callable[["WorkItem", Path, dict], tuple[dict[str, Path], dict[str, Any]]]


@dataclass
class WorkItem:
    """One unit of work: an input medium and, when it comes from a manifest, the upstream item's files and meta."""

    id: str
    source: Optional[Path]
    upstream: dict[str, Path] = field(default_factory=dict)  # upstream outputs, absolute paths
    meta: dict[str, Any] = field(default_factory=dict)  # upstream meta
    error: Optional[str] = None  # set when the input is already known to be unusable


@dataclass
class StageResult:
    manifest_path: Path
    n_done: int
    n_failed: int
    n_skipped: int
    n_reused: int

    @property
    def exit_code(self) -> int:
        return 3 if self.n_failed else 0

    def summary(self) -> dict:
        return dict(manifest=str(self.manifest_path), done=self.n_done, failed=self.n_failed,
                    skipped=self.n_skipped, reused=self.n_reused)


_ID_RE = re.compile(r"[^A-Za-z0-9._-]+")


def safe_id(name: str) -> str:
    """A file-name-safe id (``thead.manifest.paths.ID_PATTERN``) from any name: runs of other characters become
    ``_``, leading/trailing ``.``, ``_`` and ``-`` go, at most 200 characters."""
    s = _ID_RE.sub("_", name).strip("._-")[:200].rstrip("._-") or "item"
    return s


def assign_ids(files: list[Path]) -> list[str]:
    """Ids for input files, stable when files are added: the stem when no other input shares it, else the whole
    file name (``face.jpg``, ``face.png``), else parent folder + name, else + a hash of the resolved path. Adding
    ``face.bmp`` beside ``face.jpg`` and ``face.png`` leaves their ids as they were; an id that does change (a
    second ``face.*`` added beside a lone ``face.jpg``) is a new item, never a reuse (resume compares sources)."""
    import hashlib
    from collections import Counter

    stems = Counter(safe_id(f.stem) for f in files)
    ids = [safe_id(f.stem) if stems[safe_id(f.stem)] == 1 else safe_id(f.name) for f in files]
    counts = Counter(ids)
    ids = [i if counts[i] == 1 else safe_id(f"{f.parent.name}_{f.name}") for i, f in zip(ids, files)]
    counts = Counter(ids)
    return [i if counts[i] == 1 else
            f"{i[:190]}-{hashlib.sha1(str(f.resolve()).encode()).hexdigest()[:8]}" for i, f in zip(ids, files)]


def discover(inputs: list[Path], media: tuple[str, ...] = ("video", "image"),
             accept_kinds: tuple[str, ...] = ()) -> tuple[list[WorkItem], Optional[Path]]:
    """Turn CLI inputs into work items.

    Args:
        inputs: files, folders (scanned one level, sorted) or manifests (``*.json``).
        media: media types a plain input may be.
        accept_kinds: manifest kinds accepted as input; a manifest's done items become work items with their
            ``source`` and outputs resolved; failed upstream items are carried as failed.

    Returns:
        work items (unique ids) and the input manifest's path when one was given.

    Raises:
        InputError: a named path that does not exist, a manifest mixed with other inputs, an empty folder.
        ManifestError: a manifest of the wrong kind / version.
    """
    from thead.media import media_type

    items: list[WorkItem] = []
    upstream_path = None
    jsons = [p for p in inputs if Path(p).suffix == ".json"]
    if jsons:
        if len(inputs) != 1:
            raise InputError("give either one manifest or media files/folders, not both")
        lm = load_manifest(jsons[0], accept_kinds or None)
        upstream_path = lm.path
        if not lm.items:
            raise InputError(f"{lm.path}: the manifest lists no items")
        for it in lm.items:
            w = WorkItem(id=it.id, source=lm.source(it), meta=dict(it.meta),
                         upstream={k: lm.resolve(v) for k, v in it.outputs.items() if isinstance(v, str)})
            if it.status != "done":
                w.error = f"upstream item {it.status}: {it.error or ''}".strip()
            items.append(w)
        return items, upstream_path
    files: list[Path] = []
    for p in map(Path, inputs):
        if not p.exists():
            raise InputError(f"{p}: no such file or folder")
        if p.is_dir():
            found = sorted(q for q in p.iterdir() if q.is_file() and not q.name.startswith("."))
            if not found:
                raise InputError(f"{p}: folder has no files")
            files.extend(found)
        else:
            files.append(p)
    unique: dict[Path, Path] = {}
    for f in files:
        trust(f.resolve().parent)
        unique.setdefault(f.resolve(), f)  # the same file named twice is one item
    files = list(unique.values())
    for f, iid in zip(files, assign_ids(files)):
        w = WorkItem(id=iid, source=f.resolve())
        mt = media_type(f)
        if mt is None:
            w.error = f"{f.name}: not an image, video or audio file (unsupported suffix {f.suffix or '(none)'})"
        elif mt not in media:
            w.error = f"{f.name}: {mt} input is not accepted by this stage"
        else:
            w.meta["media_type"] = mt
        items.append(w)
    return items, upstream_path


def _init_worker(parent_pid: int = 0) -> None:
    import signal

    # Die with the parent: a killed (kill -9) run must not leave workers writing items nobody journals.
    try:
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass  # not Linux: workers still stop at the next item, when their queue closes
    if parent_pid and os.getppid() != parent_pid:
        os._exit(1)  # the parent died before prctl took effect
    # Ctrl-C is the parent's to handle: it kills the workers and says what was kept.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    # one core per worker: the pool provides the parallelism
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    try:
        import cv2

        cv2.setNumThreads(1)
    except ImportError:
        pass
    try:
        import torch

        torch.set_num_threads(1)
    except ImportError:
        pass


def _run_one(process: ProcessFn, work: WorkItem, out_dir: Path, config: dict, debug: bool):
    try:
        outputs, meta = process(work, out_dir, config)
        for k, v in outputs.items():
            if not is_inside(v, out_dir):
                raise OutsideError(f"{work.id}: refused output {k} at {v}: outside the output folder {out_dir}")
        return "done", None, outputs, meta
    except TheadError as e:
        return "failed", str(e), {}, {}
    except Exception as e:  # noqa: BLE001 - an item's failure must not stop the batch
        msg = f"{type(e).__name__}: {e}"
        if debug:
            msg += "\n" + traceback.format_exc()
        return "failed", msg, {}, {}


def _stat(p: Optional[Path]):
    """(resolved path, size, mtime ns) of a file or folder; None when missing."""
    if p is None:
        return None
    try:
        st = os.stat(p)
    except OSError:
        return None
    return [real_path(p), st.st_size, st.st_mtime_ns]


def fingerprint(work: WorkItem, stage: str, config: dict) -> str:
    """What an item's result depends on: the stage, its config (run options such as workers aside), the source file
    and every upstream file (path, size and modification time). A rerun reuses an item only when this matches."""
    import hashlib
    import json

    blob = {"stage": stage, "config": strip_private(config), "source": _stat(work.source),
            "upstream": {k: _stat(v) for k, v in sorted(work.upstream.items())}}
    return hashlib.sha256(json.dumps(blob, sort_keys=True, default=str).encode()).hexdigest()[:32]


def _plain(console, *parts: tuple[str, str]) -> None:
    """One line on ``console`` with user and library text printed as is (no rich markup, no wrapping)."""
    from rich.text import Text

    console.print(Text.assemble(*parts), soft_wrap=True, highlight=False, markup=False)


def run_stage(
    stage: str,
    kind: str,
    process: ProcessFn,
    items: list[WorkItem],
    out_dir: Path,
    config: dict,
    workers: int = 1,
    shard: Optional[tuple[int, int]] = None,
    upstream: Optional[Path] = None,
    progress: bool = True,
    debug: bool = False,
    argv: Optional[list[str]] = None,
    executor=None,
) -> StageResult:
    """Process ``items`` into a manifest of ``kind`` in ``out_dir``.

    Items already ``done`` in a previous manifest/journal there are kept, not redone, when their fingerprint
    (source and upstream files, config: ``fingerprint``) is unchanged and their files exist; finished items of
    earlier runs that are not among ``items`` stay in the manifest. One run writes a folder's manifest at a time
    (a lock; a second one fails naming the first's pid). With ``shard=(k, n)`` only the items whose id hashes to
    shard k are processed and the manifest is named ``manifest.shard-k-of-n.json`` (merge with
    ``thead manifest merge``). ``executor`` (``thead.executors.ExecutorSpec``; None: local) sends the items to
    a Ray cluster or a SLURM job array instead of the local pool (``thead.executors``).

    Returns:
        counts and the manifest path; ``exit_code`` is 3 when any item failed.

    Raises:
        InputError: no items at all.
        Interrupted: Ctrl-C (finished items are journaled; a rerun resumes).
        TheadError: another run holds the folder.
    """
    if not items:
        raise InputError("no items to process")
    out_dir = Path(out_dir)
    if executor is not None and executor.kind == "slurm":
        from thead.executors import run_slurm

        if shard is not None:
            raise InputError("--executor slurm makes its own shards: leave --shard out")
        return run_slurm(stage, kind, process, items, out_dir, config, upstream, progress, debug, argv, executor)
    name = "manifest.json" if shard is None else f"manifest.shard-{shard[0]}-of-{shard[1]}.json"
    producer = make_producer(stage, dict(config, workers=workers, shard=shard), argv)
    writer = ManifestWriter(out_dir, kind, producer, name=name, upstream=upstream)
    try:
        return _run_locked(stage, process, items, out_dir, config, workers, shard, progress, debug, writer, executor)
    finally:
        writer.close()


def _run_locked(stage: str, process: ProcessFn, items: list[WorkItem], out_dir: Path, config: dict, workers: int,
                shard, progress: bool, debug: bool, writer: ManifestWriter, executor=None) -> StageResult:
    """``run_stage`` once the folder's lock is held."""
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    console = Console(stderr=True)
    mine = [w for w in items if in_shard(w.id, shard)]
    todo: list[WorkItem] = []
    reused = changed = 0
    fps = {w.id: fingerprint(w, stage, config) for w in mine}  # before processing: what the result depends on
    for w in mine:
        fp = fps[w.id]
        if writer.is_done(w.id, fp):
            writer.keep_previous(w.id)
            reused += 1
        elif w.error is not None:
            writer.add(Item(id=w.id, status="failed", error=w.error, source=_rel(writer, w.source), meta=w.meta,
                            fingerprint=fp))
            _plain(console, ("failed", "red"), (f" {w.id}: {w.error}", ""))
        else:
            prev = writer.previous(w.id)
            if prev is not None and prev.status == "done":
                changed += 1
            todo.append(w)
    if changed:
        _plain(console, ("note", "yellow"), (f" {changed} finished item(s) of an earlier run are redone: their "
                                            f"source, upstream files or settings changed", ""))

    prog = Progress(TextColumn(f"[bold]{stage}[/]"), BarColumn(), MofNCompleteColumn(),
                    TextColumn("{task.description}", markup=False), TimeRemainingColumn(), console=console,
                    disable=not progress)

    def record(w: WorkItem, res) -> None:
        status, err, outputs, meta = res
        rel_out = {k: writer.rel(v) for k, v in outputs.items()} if status == "done" else {}
        writer.add(Item(id=w.id, status=status, error=err, source=_rel(writer, w.source), outputs=rel_out,
                        meta=dict(w.meta, **meta), fingerprint=fps[w.id]))
        if status == "failed":
            _plain(console, ("failed", "red"), (f" {w.id}: {err.splitlines()[0] if err else ''}", ""))
        elif meta.get("note"):
            _plain(console, ("note", "yellow"), (f" {w.id}: {meta['note']}", ""))

    try:
        with prog:
            task = prog.add_task("", total=len(todo))
            cfg = dict(config)
            if executor is not None and executor.kind == "ray" and todo:
                from thead.executors import run_ray

                run_ray(_run_one, process, todo, out_dir, cfg, debug, workers, executor, record,
                        lambda: prog.advance(task))
            elif workers <= 1 or len(todo) <= 1:
                for w in todo:
                    prog.update(task, description=w.id)
                    cfg["_progress"] = (prog, w.id) if progress else None
                    record(w, _run_one(process, w, out_dir.resolve(), cfg, debug))
                    prog.advance(task)
            else:
                _run_pool(process, todo, out_dir, cfg, workers, debug, record, lambda: prog.advance(task))
    except KeyboardInterrupt:
        n = sum(1 for it in writer.items.values() if it.status == "done")
        raise Interrupted(f"{stage} stopped: {n} finished item(s) kept in {writer.journal}; rerun the same command "
                          f"to resume") from None
    kept = writer.keep_others()
    if kept:
        _plain(console, ("note", "yellow"), (f" kept {len(kept)} finished item(s) of an earlier run in "
                                            f"{writer.dir} that are not among this run's inputs", ""))
    m = writer.finish()
    st = [it.status for it in m.items]
    return StageResult(writer.path, st.count("done"), st.count("failed"), st.count("skipped"), reused)


def _run_pool(process, todo, out_dir, cfg, workers, debug, record, advance) -> None:
    """Items in ``workers`` spawned processes; on Ctrl-C (or any error here) the workers are killed at once."""
    import multiprocessing as mp

    ex = ProcessPoolExecutor(max_workers=workers, mp_context=mp.get_context("spawn"), initializer=_init_worker,
                             initargs=(os.getpid(),))
    try:
        pending = {ex.submit(_run_one, process, w, out_dir.resolve(), cfg, debug): w for w in todo}
        while pending:
            finished, _ = wait(pending, return_when=FIRST_COMPLETED)
            for f in finished:
                w = pending.pop(f)
                record(w, f.result())
                advance()
    except BaseException:
        for p in mp.active_children():
            p.kill()
        ex.shutdown(wait=False, cancel_futures=True)
        raise
    ex.shutdown(wait=True)


def _rel(writer: ManifestWriter, p: Optional[Path]) -> Optional[str]:
    return writer.rel(p) if p is not None else None


class FrameProgress:
    """Per-frame progress inside one item (only when running in-process): ``tick()`` per frame."""

    def __init__(self, config: dict, total: int, label: str = "frames"):
        p = config.get("_progress")
        self.prog = p[0] if p else None
        self.task = self.prog.add_task(f"  {p[1]} {label}", total=total or None) if self.prog else None

    def tick(self, n: int = 1) -> None:
        if self.prog is not None:
            self.prog.advance(self.task, n)

    def close(self) -> None:
        if self.prog is not None:
            self.prog.remove_task(self.task)


def require(work: WorkItem, key: str) -> Path:
    """An upstream output of ``work`` that must exist."""
    p = work.upstream.get(key)
    if p is None or not Path(p).exists():
        raise InputError(f"{work.id}: upstream output {key!r} missing ({p})")
    return Path(p)


def strip_private(config: dict) -> dict:
    return {k: v for k, v in config.items() if not k.startswith("_")}


