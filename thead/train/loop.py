"""Pieces of a training run shared by every trainer (GATH's aue/gath, FLNet, FACIAL's networks).

A run folder holds ``last.pt`` (written every ``checkpoint_every`` steps and at the end), ``log.jsonl``,
``loss.png``, ``config.json``, ``command.txt`` (every invocation, resumes included) and a ``thead.checkpoint``
manifest. ``prepare_run_dir`` refuses to overwrite a run unless asked to resume it.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path
from typing import Optional

from thead.errors import TheadError

_RUN_LOCKS: dict = {}  # run folder -> FolderLock, held until finish_run or the process ends


def prepare_run_dir(out_dir: Path, resume: bool) -> Optional[Path]:
    from thead.manifest.io import FolderLock, ensure_folder
    from thead.train.checkpoint import latest_checkpoint

    out_dir = Path(out_dir)
    last = latest_checkpoint(out_dir)
    if last is not None and not resume:
        raise TheadError(f"{out_dir} already holds a training run; pass --resume to continue it or choose another -o")
    ensure_folder(out_dir)
    if int(os.environ.get("RANK", "0")) == 0:  # one training process per run folder (DDP ranks share rank 0's)
        key = out_dir.resolve()
        if key not in _RUN_LOCKS:  # this process may train the same folder again (resume)
            _RUN_LOCKS[key] = FolderLock(out_dir, "run")
    return last if resume else None


def write_run_files(out_dir: Path, cfg: dict, argv: Optional[list[str]]) -> None:
    from thead.manifest import atomic_write_text

    atomic_write_text(out_dir / "config.json", json.dumps(cfg, indent=1, default=str) + "\n")
    with open(out_dir / "command.txt", "a") as f:  # every invocation, resumes included (ESPnet's habit)
        f.write(" ".join(argv if argv is not None else sys.argv) + "\n")


def write_checkpoint_manifest(out_dir: Path, stage: str, cfg: dict, step: int, argv) -> Path:
    from thead.manifest import Item, ManifestWriter, make_producer
    from thead.runner import safe_id

    w = ManifestWriter(out_dir, "thead.checkpoint", make_producer(stage, cfg, argv))
    outputs = {"checkpoint": "last.pt", "log": "log.jsonl"}
    if (out_dir / "loss.png").exists():
        outputs["plot"] = "loss.png"
    if (out_dir / "samples.png").exists():
        outputs["preview"] = "samples.png"
    w.add(Item(id=safe_id(out_dir.resolve().name), status="done", outputs=outputs,
               meta={"step": step, "system": stage}))
    w.finish()
    return w.path


class TrainLoop:
    """Step counting, JSONL logging (means over ``cfg.log_every`` steps, plus steps/s and wall minutes) and a rich
    progress bar.

    Data loading is timed apart from the step (``fetch``): each log record holds ``step_s`` (wall seconds a step),
    ``samples_per_s`` (training throughput, this process) and ``loader_samples_per_s`` (what the loader alone
    delivers, host-to-device copy included), and ``close`` prints both, so a run shows whether its loader can keep an
    accelerator busy (loader rate well above the training rate) before a GPU hour is spent finding out.

    ``cfg`` needs ``log_every``; only the main process (rank 0) logs. A ``cfg.time_limit_s`` above 0 is a wall-clock
    budget for this invocation (``--time-limit`` minutes): ``out_of_time`` turns true once it is spent (trainers then
    checkpoint and stop; a ``--resume`` continues)."""

    def __init__(self, out_dir: Path, total: int, start: int, cfg, is_main: bool, progress: bool,
                 label: str):
        from thead.train.log import JsonlLog

        self.out_dir, self.total, self.cfg, self.is_main = Path(out_dir), total, cfg, is_main
        self.log = JsonlLog(self.out_dir / "log.jsonl", resume_step=start) if is_main else None
        self.t0 = time.perf_counter()
        self.start = start
        self.done = start
        self.sums: dict[str, float] = {}
        self.count = 0
        self.load_s, self.load_n, self.total_load_s, self.total_load_n = 0.0, 0, 0.0, 0
        self.window_t0 = self.t0
        self.prog = None
        if progress and is_main:
            from rich.console import Console
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

            self.prog = Progress(TextColumn(f"[bold]{label}[/]"), BarColumn(), MofNCompleteColumn(),
                                 TextColumn("{task.description}"), TimeRemainingColumn(),
                                 console=Console(stderr=True))
            self.prog.start()
            self.task = self.prog.add_task("", total=total, completed=start)

    def fetch(self, load, samples: int):
        """``load()``'s result (a batch of ``samples`` training samples), its wall time counted as loading."""
        t = time.perf_counter()
        out = load()
        dt = time.perf_counter() - t
        self.load_s += dt
        self.load_n += samples
        self.total_load_s += dt
        self.total_load_n += samples
        return out

    def throughput(self) -> dict[str, float]:
        """Over this invocation so far: ``step_s``, ``samples_per_s`` and ``loader_samples_per_s`` (NaN-free; 0 where
        nothing was measured)."""
        steps = max(self.done - self.start, 0)
        wall = time.perf_counter() - self.t0
        return dict(step_s=wall / steps if steps else 0.0,
                    samples_per_s=self.total_load_n / wall if wall > 0 else 0.0,
                    loader_samples_per_s=self.total_load_n / self.total_load_s if self.total_load_s > 0 else 0.0)

    def record(self, step: int, losses: dict[str, float]) -> None:
        """Log one step's losses.

        Raises:
            TheadError: a loss is NaN or infinite. Trainers record before they checkpoint, so the diverged weights
                are never saved and ``last.pt`` stays the last good state.
        """
        import math

        bad = [k for k, v in losses.items() if not math.isfinite(v)]
        if bad:
            last = self.out_dir / "last.pt"
            kept = f"the last good checkpoint is kept at {last}" if last.exists() else "no checkpoint was written"
            raise TheadError(f"training diverged at step {step}: loss {', '.join(f'{k}={losses[k]}' for k in bad)} "
                             f"is not finite; stopped, {kept} (lower --lr or check the data)")
        for k, v in losses.items():
            self.sums[k] = self.sums.get(k, 0.0) + v
        self.count += 1
        self.done = step
        if self.prog is not None:
            self.prog.update(self.task, completed=step, description=" ".join(f"{k}={v:.3g}" for k, v in
                                                                             losses.items()))
        if self.is_main and (step % self.cfg.log_every == 0 or step == self.total):
            now = time.perf_counter()
            window = max(now - self.window_t0, 1e-9)
            rec = {"step": step, **{k: v / self.count for k, v in self.sums.items()},
                   "steps_per_s": (step - self.start) / max(now - self.t0, 1e-9),
                   "minutes": round((now - self.t0) / 60, 3), "step_s": round(window / self.count, 5)}
            if self.load_n:
                rec["samples_per_s"] = round(self.load_n / window, 3)
                rec["loader_samples_per_s"] = round(self.load_n / max(self.load_s, 1e-9), 3)
            self.log.write(rec)
            self.sums, self.count = {}, 0
            self.load_s, self.load_n, self.window_t0 = 0.0, 0, now

    def out_of_time(self) -> bool:
        """Whether ``cfg.time_limit_s`` (when above 0) seconds of wall clock have passed since this loop started.
        Under DDP rank 0's clock decides for every rank (one broadcast), so all stop at the same step."""
        limit = float(getattr(self.cfg, "time_limit_s", 0.0) or 0.0)
        if limit <= 0:
            return False
        over = time.perf_counter() - self.t0 >= limit
        import torch.distributed as td

        if td.is_available() and td.is_initialized():
            import torch

            flag = torch.tensor([1.0 if over else 0.0])
            td.broadcast(flag, 0)
            over = bool(flag.item())
        return over

    def checkpoint_due(self, step: int, stop: bool = False) -> bool:
        """Whether this process writes ``last.pt`` after ``step``: rank 0, every ``cfg.checkpoint_every`` steps, at
        the last step, and when training stops early (``stop``)."""
        return self.is_main and (step % self.cfg.checkpoint_every == 0 or step == self.total or stop)

    def close(self) -> None:
        """Stop the progress bar; the main process prints the step time beside the loader's own rate (stderr)."""
        if self.prog is not None:
            self.prog.stop()
        if self.is_main and self.total_load_n and self.done > self.start:
            t = self.throughput()
            share = 100 * self.total_load_s / max(time.perf_counter() - self.t0, 1e-9)
            print(f"throughput: {t['step_s']:.3f} s a step, {t['samples_per_s']:.1f} samples/s trained; the loader "
                  f"alone {t['loader_samples_per_s']:.1f} samples/s ({share:.0f}% of the wall time)", file=sys.stderr)



def fit(step_fn, *, out_dir: Path, cfg, start: int, models: dict, optimizers: dict, config: dict, generator,
        is_main: bool, label: str, title: str, stage: str, argv=None, progress: bool = True, on_step=None,
        extra=None, on_checkpoint=None, say=None) -> Path:
    """The training skeleton every trainer runs (``train aue``, ``gath``, ``flnet``, ``facial-gan``,
    ``render2video``): the trainer builds its data, models and optimizers (``prepare_run_dir``, ``dist.setup``,
    ``seed_all``, ``checkpoint.restore``, ``write_run_files``) and hands the one thing that differs, its step, to
    this loop, which owns the rest: steps ``start + 1 .. cfg.steps``, timed loading, logging and the progress bar
    (``TrainLoop``), the NaN guard (a non-finite loss stops training before the diverged weights are saved), the
    wall-clock budget (``cfg.time_limit_s``, all ranks stopping at the same step), ``last.pt`` every
    ``cfg.checkpoint_every`` steps, at the end and at an early stop (rank 0), then the loss plot and the
    ``thead.checkpoint`` manifest (``finish_run``).

    Args:
        step_fn: ``step_fn(step, fetch) -> {loss name: float}``; ``fetch(load, n)`` runs ``load()`` (a batch of n
            samples) with its time counted as loading.
        models, optimizers, config, generator: what ``last.pt`` holds (``checkpoint.save_checkpoint``).
        label: the progress bar's and messages' name (``train flnet``); title, stage: the loss plot's title and
            the manifest's producer stage.
        on_step: called after every step (tests, benches). extra: ``() -> dict`` of more checkpoint state.
        on_checkpoint: called after each checkpoint is written (sample panels).
        say: where the early-stop note goes (default: stderr).

    Returns:
        the path of ``last.pt``.

    Raises:
        TheadError: a loss is not finite (``last.pt`` keeps the last good step), or what ``step_fn`` raises.
    """
    from thead.train.checkpoint import save_checkpoint

    out_dir = Path(out_dir)
    say = say or (lambda m: print(m, file=sys.stderr))
    loop = TrainLoop(out_dir, cfg.steps, start, cfg, is_main, progress, label)
    step = start
    try:
        for step in range(start + 1, cfg.steps + 1):
            logs = step_fn(step, loop.fetch)
            loop.record(step, logs)
            stop = loop.out_of_time()
            if loop.checkpoint_due(step, stop):
                save_checkpoint(out_dir / "last.pt", models=models, optimizers=optimizers, step=step, config=config,
                                generator=generator, **({"extra": extra()} if extra is not None else {}))
                if on_checkpoint is not None:
                    on_checkpoint()
            if on_step is not None:
                on_step(step)
            if stop:
                if is_main:
                    say(f"{label}: the --time-limit is reached; stopped at step {step} of {cfg.steps} "
                        f"(--resume continues)")
                break
    finally:
        loop.close()
    finish_run(out_dir, is_main, title, stage, config, step, argv)
    return out_dir / "last.pt"

def steps_for_epochs(epochs: float, samples: int, batch_size: int, world_size: int = 1) -> int:
    """Steps that make ``epochs`` passes over ``samples`` training samples at ``batch_size`` per process on
    ``world_size`` processes (at least 1): how the papers' epoch counts become thead's step counts."""
    import math

    return max(1, math.ceil(epochs * samples / (batch_size * max(world_size, 1))))


def linear_decay(step: int, total: int, fraction: float) -> float:
    """pix2pixHD's schedule: the learning-rate factor 1 until the last ``fraction`` of ``total`` steps, then falling
    linearly to 0 at ``total``. Stateless (a function of the step), so a resumed run follows the same schedule."""
    if fraction <= 0:
        return 1.0
    start = total * (1.0 - fraction)
    return 1.0 if step <= start else max(0.0, (total - step) / max(total - start, 1e-9))


def seed_all(seed: int) -> "object":
    import random

    import numpy as np
    import torch

    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    return torch.Generator().manual_seed(seed)


def random_batch(n: int, bs: int, gen):
    import torch

    return torch.randint(n, (bs,), generator=gen)


def finish_run(out_dir: Path, is_main: bool, title: str, stage: str, cfg: dict, step: int, argv) -> None:
    """End of every training run: the loss plot and the ``thead.checkpoint`` manifest (rank 0), then leave the
    process group."""
    from thead.train import dist
    from thead.train.log import plot_losses

    if is_main:
        plot_losses(out_dir / "log.jsonl", out_dir / "loss.png", title)
        write_checkpoint_manifest(out_dir, stage, cfg, step, argv)
    lock = _RUN_LOCKS.pop(Path(out_dir).resolve(), None)
    if lock is not None:
        lock.release()
    dist.teardown()
