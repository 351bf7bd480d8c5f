from __future__ import annotations

import sys
from pathlib import Path

import typer

from thead.cli.app import app, argv, json_opt, progress_opt


@app.command("prepare", epilog="Example: thead prepare ravdess /data/RAVDESS -o work/ravdess;  then "
             "thead --allow-outside extract-landmarks work/ravdess/manifest.json -o work/landmarks")
def prepare(
    corpus: str = typer.Argument(..., help="ravdess | cacd | faceforensics | hdtf | mead | voxceleb2 | vidtimit | "
                                "tcd-timit | gtav | facewarehouse"),
    root: Path = typer.Argument(..., help="The corpus's folder, in its published layout."),
    output: Path = typer.Option(..., "-o", "--output", help="Output folder (manifest.json)."),
    seed: int = typer.Option(0, help="Seed of the random splits (FaceForensics, HDTF, MEAD, VidTIMIT)."),
    probe: bool = typer.Option(True, "--probe/--no-probe", help="Read every medium's duration (ffprobe)."),
    as_json: bool = json_opt(),
    progress: bool = progress_opt(),
) -> int:
    """A published corpus as one thead.corpus manifest: its media with identity, emotion/intensity, the paper's
    split, sizes and durations. Every per-item stage reads it; the labels flow on in each item's meta."""
    import json
    from collections import Counter

    from thead.recipes import prepare as run

    path, found = run(corpus, root, output, seed, probe, progress, argv())
    splits = Counter(r.meta.get("split") for r in found.rows)
    ids = len({r.meta.get("identity") for r in found.rows})
    summary = dict(manifest=str(path), items=len(found.rows), identities=ids, splits=dict(splits),
                   skipped=len(found.skipped), skipped_first=[str(p) for p in found.skipped[:10]])
    if as_json:
        print(json.dumps(summary))
    else:
        counts = ", ".join(f"{k} {v}" for k, v in sorted(splits.items()))
        print(f"{corpus}: {len(found.rows)} media of {ids} identities ({counts}) -> {path}", file=sys.stderr)
        if found.skipped:
            print(f"skipped {len(found.skipped)} file(s) that are not {corpus} media, e.g. "
                  f"{', '.join(str(p) for p in found.skipped[:10])}", file=sys.stderr)
        print(f"note: the sources lie in {Path(root).resolve()}: give the stages that read this manifest "
              f"--allow-outside (or THEAD_ALLOW_OUTSIDE={Path(root).resolve()})", file=sys.stderr)
    return 0
