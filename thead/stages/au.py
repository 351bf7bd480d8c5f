"""extract-au: FACS action-unit intensities (OpenFace naming, 0-5) from a 3DMM fit, or from OpenFace CSVs
-> ``thead.au``."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Optional

import numpy as np

from thead.declare import defaults
from thead.stages.config import AUConfig
from thead.manifest import atomic_save_npy
from thead.runner import StageResult, WorkItem, discover, require, run_stage
from thead.stages import fit3dmm
from thead.stages.common import ensure_upstream
from thead.manifest.paths import item_path

KIND = "thead.au"


def _write(work: WorkItem, out_dir: Path, au: np.ndarray, cols: list[str], ts: np.ndarray, success: np.ndarray,
           expression: np.ndarray, fps: float, cfg: dict) -> tuple[dict[str, Path], dict[str, Any]]:
    from thead.face.au import count_blinks, save_au_arrays, write_openface_csv
    from thead.viz import plot_au_curves

    csv_path = item_path(out_dir, work.id, ".au.csv")
    exp_path = item_path(out_dir, work.id, ".expression.npy")
    au_path = save_au_arrays(item_path(out_dir, work.id, ".au.npz"), au, cols, ts, success)
    write_openface_csv(csv_path, au, ts, success, cols)  # an export for OpenFace tools (2 decimals)
    atomic_save_npy(exp_path, expression.astype(np.float32))
    outputs = {"au": au_path, "csv": csv_path, "expression": exp_path}
    meta: dict[str, Any] = dict(au_names=cols, n_frames=int(len(au)))
    if "AU45_r" in cols and len(au) > 1:
        meta["blinks"] = count_blinks(au[:, cols.index("AU45_r")], fps)[0]
    if cfg["preview"]:
        outputs["plot"] = plot_au_curves(item_path(out_dir, work.id, ".au.png"), au, cols, ts, title=work.id)
    return outputs, meta


def process(work: WorkItem, out_dir: Path, cfg: dict) -> tuple[dict[str, Path], dict[str, Any]]:
    from thead.face.au import AU_COLUMNS, au_from_blendshapes

    d = np.load(require(work, "params"))
    names = [str(s) for s in d["exp_names"]]
    expr = d["expression"]
    au = au_from_blendshapes(expr, names)
    fps = float(work.meta.get("fps") or 25.0)
    return _write(work, out_dir, au, AU_COLUMNS, d["timestamps_s"], d["valid"], expr, fps, cfg)


def process_openface(work: WorkItem, out_dir: Path, cfg: dict) -> tuple[dict[str, Path], dict[str, Any]]:
    from thead.face.au import AU_MAX, read_openface_csv

    au, cols, ts, success = read_openface_csv(work.source)
    fps = 1.0 / float(np.median(np.diff(ts))) if len(ts) > 1 and np.median(np.diff(ts)) > 0 else 30.0
    outputs, meta = _write(work, out_dir, au, cols, ts, success, np.clip(au / AU_MAX, 0, 1), fps, cfg)
    meta.update(from_openface=True, fps=fps)
    return outputs, meta


_D = defaults(AUConfig)  # the declaration's defaults (thead.stages.config): the CLI's and run()'s


def run(inputs: list[Path], out_dir: Path, from_openface: bool = _D["from_openface"], preview: bool = _D["preview"],
        workers: int = 1,
        shard=None, progress: bool = True, debug: bool = False, argv=None, model: Optional[str] = None,
        executor=None, **landmark_opts) -> StageResult:
    """AU intensities per frame.

    Inputs: a ``thead.3dmm`` manifest, a ``thead.landmarks`` manifest or media (the missing stages then run first
    into ``out_dir``), or
    with ``from_openface`` OpenFace FeatureExtraction CSV files. Outputs per item: ``<id>.au.npz`` (the arrays
    consumers read: ``thead.face.au.load_au_arrays``, intensities 0-5 at full precision), ``<id>.au.csv`` (their
    OpenFace export: frame, timestamp, success, AUxx_r to 2 decimals), ``<id>.expression.npy`` (T, K) float32 in
    [0, 1] (GATH's AU coefficients: the blendshape weights, or AU/5 for OpenFace input) and ``<id>.au.png`` (AU
    curves).
    """
    if from_openface:
        from thead.errors import InputError
        from thead.runner import WorkItem as W, assign_ids

        files = []
        for p in map(Path, inputs):
            if not p.exists():
                raise InputError(f"{p}: no such file or folder")
            files += sorted(p.glob("*.csv")) if p.is_dir() else [p]
        files = list({f.resolve(): f for f in files}.values())
        items = [W(id=i, source=f.resolve()) for f, i in zip(files, assign_ids(files))]
        return run_stage("extract-au", KIND, process_openface, items, out_dir, dict(preview=preview,
                         from_openface=True), workers, shard, None, progress, debug, argv, executor=executor)
    inputs, _ = ensure_upstream(
        inputs, fit3dmm.KIND, out_dir,
        lambda d: fit3dmm.run(inputs, d, model=model, preview=preview, workers=workers, shard=shard,
                              progress=progress, debug=debug, argv=argv, **landmark_opts, executor=executor), "3dmm",
        chain_from=("thead.landmarks",))
    items, up = discover(inputs, accept_kinds=(fit3dmm.KIND,))
    return run_stage("extract-au", KIND, process, items, out_dir, dict(preview=preview), workers, shard, up,
                     progress, debug, argv, executor=executor)
