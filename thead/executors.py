"""Where a per-item stage's items run: this machine's process pool (``local``), a Ray cluster (``ray``) or a SLURM
job array submitted through submitit (``slurm``).

All three feed the same manifest writer, journal and resume logic of ``thead.runner.run_stage``; only the place an
item's ``process`` call happens changes, so the three produce the same manifest on the same inputs
(``tests/test_executors.py`` compares them item by item).

* **local** -- ``--workers N`` spawned processes (``concurrent.futures``), the default.
* **ray** -- every item is one Ray task (``num_cpus=1``, or ``num_gpus=1`` when the stage's ``device`` is
  ``cuda``), results streamed back as they finish (``ray.wait``) into the writer on the submitting machine, with the
  same progress bar. A task whose worker process dies (killed, out of memory, node lost) is retried by Ray
  ``retries`` times, then its item is marked failed with the cause; an exception inside ``process`` is an item
  failure at once, as locally. Without ``address`` a local Ray is started with ``--workers`` CPUs and shut down
  after the run; with ``address`` (``auto`` or ``ray://host:10001``) the stage joins that cluster.
* **slurm** -- the items are split into ``tasks`` shards (``--shard k/tasks``, the hash split of
  ``thead.manifest.in_shard``), one per array task of a submitit job array (``partition``, ``time_min``,
  ``mem_gb``, ``cpus_per_task`` = each task's local workers, ``array_parallelism``). The submitting command waits,
  merges the shard manifests into ``manifest.json`` (``thead manifest merge``), and lists the failed items with
  the one command that redoes just those (the same command: finished items are reused). Shard task logs land in
  ``<output>/.slurm/``. ``cluster="local"`` runs the array as local processes through submitit's own local
  executor (what the tests and a dry run use); ``"debug"`` runs it in this process.

Ray and submitit are optional dependencies (``pip install "thead[cluster]"``); asking for them without them
installed is a one-line error.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Optional

from thead.errors import InputError, TheadError

EXECUTORS = ("local", "ray", "slurm")
SLURM_CLUSTERS = ("slurm", "local", "debug")


@dataclass(frozen=True)
class ExecutorSpec:
    """Which executor runs a stage's items, and its settings.

    Attributes:
        kind: ``local`` | ``ray`` | ``slurm``.
        address: Ray cluster address (``auto``, ``ray://host:port``); None starts a local Ray.
        retries: Ray: how many times a task whose worker died is retried before its item is marked failed.
        partition: SLURM partition (None: the cluster's default).
        time_min: SLURM time limit per array task, minutes.
        mem_gb: SLURM memory per array task, GiB.
        tasks: SLURM array size = number of shards (capped at the number of items).
        array_parallelism: SLURM array tasks running at once.
        cpus_per_task: SLURM CPUs per array task (each task's ``--workers``).
        cluster: submitit cluster: ``slurm`` (sbatch), ``local`` (local processes) or ``debug`` (in process).
    """

    kind: str = "local"
    address: Optional[str] = None
    retries: int = 2
    partition: Optional[str] = None
    time_min: int = 60
    mem_gb: float = 8.0
    tasks: int = 16
    array_parallelism: int = 64
    cpus_per_task: int = 1
    cluster: str = "slurm"

    def __post_init__(self):
        if self.kind not in EXECUTORS:
            raise InputError(f"--executor must be one of {', '.join(EXECUTORS)}, got {self.kind!r}")
        if self.cluster not in SLURM_CLUSTERS:
            raise InputError(f"--slurm-cluster must be one of {', '.join(SLURM_CLUSTERS)}, got {self.cluster!r}")
        for name in ("time_min", "tasks", "array_parallelism", "cpus_per_task"):
            if getattr(self, name) < 1:
                raise InputError(f"--{name.replace('_', '-')} must be >= 1, got {getattr(self, name)}")
        if self.retries < 0 or not self.mem_gb > 0:
            raise InputError("--retries must be >= 0 and --mem-gb > 0")


def _need(module: str):
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError:
        raise TheadError(f"--executor needs the {module!r} package: pip install \"thead[cluster]\"") from None


# ---- Ray ------------------------------------------------------------------------------------------------------------
def run_ray(run_one: Callable, process, todo: list, out_dir: Path, cfg: dict, debug: bool, workers: int,
            spec: ExecutorSpec, record: Callable, advance: Callable) -> None:
    """Run ``run_one(process, item, out_dir, cfg, debug)`` for every item of ``todo`` as a Ray task and pass each
    ``(item, result)`` to ``record`` as it finishes (see the module docstring for retries and resources).

    Raises:
        TheadError: ray is not installed or the cluster cannot be reached.
        KeyboardInterrupt: passed on after the outstanding tasks are cancelled.
    """
    ray = _need("ray")
    from ray.exceptions import RayError

    started = False
    if not ray.is_initialized():
        try:
            if spec.address:
                ray.init(address=spec.address, log_to_driver=False, configure_logging=False)
            else:
                ray.init(num_cpus=max(1, workers), include_dashboard=False, log_to_driver=False,
                         configure_logging=False)
        except Exception as e:  # connection refused, bad address, ...
            raise TheadError(f"ray: cannot start or reach the cluster ({str(e).splitlines()[0]})") from None
        started = True
    try:
        gpu = str(cfg.get("device", "cpu")).startswith("cuda")
        task = ray.remote(num_cpus=1, num_gpus=1 if gpu else 0, max_retries=spec.retries)(run_one)
        odir = Path(out_dir).resolve()
        cfg_ref = ray.put(cfg)
        pending = {task.remote(process, w, odir, cfg_ref, debug): w for w in todo}
        waiting = list(pending)
        try:
            while waiting:
                done, waiting = ray.wait(waiting, num_returns=1)  # ray.wait hands back the rest: no rebuild per item
                for ref in done:
                    w = pending.pop(ref)
                    try:
                        res = ray.get(ref)
                    except RayError as e:  # the worker died on every try (retries exhausted)
                        first = str(e).strip().splitlines()[0] if str(e).strip() else ""
                        res = ("failed", f"ray: the task's worker died {spec.retries + 1} time(s): "
                                         f"{type(e).__name__}: {first}"[:500], {}, {})
                    record(w, res)
                    advance()
        except BaseException:
            for ref in pending:
                ray.cancel(ref, force=True)
            raise
    finally:
        if started:
            ray.shutdown()


# ---- SLURM (submitit) -----------------------------------------------------------------------------------------------
@dataclass
class ShardJob:
    """One array task: ``run_stage`` on shard ``shard`` of the items (picklable: submitit sends it to the node)."""

    stage: str
    kind: str
    process: Callable
    items: list
    out_dir: Path
    config: dict
    shard: tuple[int, int]
    upstream: Optional[Path]
    workers: int
    debug: bool
    argv: Optional[list]

    def __call__(self) -> dict:
        from thead.runner import run_stage

        res = run_stage(self.stage, self.kind, self.process, self.items, self.out_dir, self.config, self.workers,
                        self.shard, self.upstream, False, self.debug, self.argv)
        return res.summary()


def _run_shard_job(job: ShardJob) -> dict:
    return job()


def run_slurm(stage: str, kind: str, process, items: list, out_dir: Path, config: dict, upstream: Optional[Path],
              progress: bool, debug: bool, argv: Optional[list], spec: ExecutorSpec):
    """Submit the items as a job array of shards, wait, merge the shard manifests into ``manifest.json``.

    Returns:
        ``thead.runner.StageResult`` of the merged manifest (``n_reused`` summed over the shards).

    Raises:
        TheadError: submitit missing, ``sbatch`` missing for ``cluster="slurm"``, or a whole array task failed
            (its log is named; the shards that finished are merged first).
    """
    import shutil
    import time

    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from thead.manifest import load_manifest, merge_manifests
    from thead.runner import StageResult

    submitit = _need("submitit")
    if spec.cluster == "slurm" and shutil.which("sbatch") is None:
        raise TheadError("--executor slurm: sbatch is not on PATH (run on a SLURM login node; --slurm-cluster local "
                         "tries the array on this machine)")
    out_dir = Path(out_dir).resolve()
    out_dir.mkdir(parents=True, exist_ok=True)
    n = max(1, min(spec.tasks, len(items)))
    ex = submitit.AutoExecutor(folder=out_dir / ".slurm" / "%j", cluster=spec.cluster)
    params = dict(timeout_min=spec.time_min, mem_gb=spec.mem_gb, cpus_per_task=spec.cpus_per_task,
                  slurm_array_parallelism=spec.array_parallelism, name=f"thead-{stage.replace(' ', '-')}")
    if spec.partition:
        params["slurm_partition"] = spec.partition
    ex.update_parameters(**params)
    jobs_in = [ShardJob(stage, kind, process, items, out_dir, dict(config), (k, n), upstream, spec.cpus_per_task,
                        debug, argv) for k in range(n)]
    jobs = ex.map_array(_run_shard_job, jobs_in)
    console = Console(stderr=True)
    broken = []
    reused = 0
    with Progress(TextColumn(f"[bold]{stage}[/] slurm array"), BarColumn(), MofNCompleteColumn(),
                  TextColumn("shards"), TimeElapsedColumn(), console=console, disable=not progress) as prog:
        task = prog.add_task("", total=n)
        waiting = list(jobs)
        while waiting:
            still = []
            for j in waiting:
                if j.done():
                    try:
                        reused += int(j.result().get("reused", 0))
                    except Exception as e:
                        broken.append((j, e))
                    prog.advance(task)
                else:
                    still.append(j)
            waiting = still
            if waiting:
                time.sleep(0.5)
    shard_files = [out_dir / f"manifest.shard-{k}-of-{n}.json" for k in range(n)]
    present = [p for p in shard_files if p.exists()]
    if not present:
        j, e = broken[0] if broken else (None, None)
        raise TheadError(f"--executor slurm: no shard finished ({type(e).__name__ if e else 'no result'}; log: "
                         f"{j.paths.stderr if j else out_dir / '.slurm'})")
    merged_path = out_dir / "manifest.json"
    merge_manifests(present, merged_path)
    m = load_manifest(merged_path).manifest
    st = [it.status for it in m.items]
    failed = [it.id for it in m.items if it.status == "failed"]
    if failed or broken:
        from rich.text import Text

        rerun = " ".join(_quote(a) for a in (argv or ["thead", "..."]))
        lines = [f"{len(failed)} item(s) failed: {', '.join(failed[:10])}{' ...' if len(failed) > 10 else ''}"]
        for j, e in broken:
            lines.append(f"array task {j.job_id} failed as a whole ({type(e).__name__}); log: {j.paths.stderr}")
        lines.append(f"redo just those (finished items are reused): {rerun}")
        for line in lines:
            console.print(Text(line), soft_wrap=True, highlight=False, markup=False)
    if broken and len(present) < n:
        missing = sorted(set(shard_files) - set(present))
        raise TheadError(f"--executor slurm: {len(missing)} of {n} shard(s) did not finish (merged the rest into "
                         f"{merged_path}); log of the first: {broken[0][0].paths.stderr}")
    return StageResult(merged_path, st.count("done"), st.count("failed"), st.count("skipped"), reused)


def _quote(a: str) -> str:
    import shlex

    return shlex.quote(str(a))
