from __future__ import annotations

import sys
from pathlib import Path

import typer

from thead.cli.app import app, progress_opt

weights_app = typer.Typer(help="Third-party weights thead can use but does not ship: list, download (checked), "
                          "verify; cached under $THEAD_HOME/weights.", no_args_is_help=True)
app.add_typer(weights_app, name="weights")


@weights_app.command("list")
def list_weights() -> int:
    """Every known entry: name, option it stands in for, cached or not, source of its URL and check."""
    from thead import zoo

    print(f"cache: {zoo.home()}")
    for e in zoo.ENTRIES.values():
        state = "cached" if zoo.cached(e.name) else "-"
        print(f"{e.name:<20} {state:<7} {e.option:<22} {e.description}  [{e.source}; check: {e.check}]")
    return 0


@weights_app.command("download")
def download(names: list[str] = typer.Argument(..., help="Entry names (thead weights list)."),
             progress: bool = progress_opt()) -> int:
    """Fetch entries into the cache through a temporary file, checked before it is moved into place."""
    from thead import zoo

    for name in names:
        p = zoo.download(name, progress=progress, say=lambda m: print(m, file=sys.stderr))
        print(f"{name}: {p}")
    return 0


@weights_app.command("verify")
def verify(names: list[str] = typer.Argument(None, help="Entry names (default: every cached one).")) -> int:
    """Check cached files against their checksums; exit 1 on any problem."""
    from thead import zoo
    from thead.errors import TheadError

    names = names or [n for n in zoo.ENTRIES if zoo.cached(n)]
    bad = 0
    for name in names:
        problems = zoo.verify(name)
        for p in problems:
            print(f"{name}: {p}", file=sys.stderr)
        if not problems:
            print(f"{name}: ok", file=sys.stderr)
        bad += bool(problems)
    if bad:
        raise TheadError(f"{bad} weights entr{'y' if bad == 1 else 'ies'} failed verification")
    return 0


@weights_app.command("path")
def path(name: str = typer.Argument(..., help="Entry name.")) -> int:
    """Print the cached path of an entry (exit 1 when it is not downloaded)."""
    from thead import zoo
    from thead.errors import TheadError

    p = zoo.cached(name)
    if p is None:
        raise TheadError(f"{name} is not downloaded: thead weights download {name}")
    print(p)
    return 0


@weights_app.command("bfm")
def bfm(folder: Path = typer.Argument(..., help="Folder with BFM 2009's 01_MorphableModel.mat and Deep3DFaceRecon's "
                                      "Exp_Pca.bin, std_exp.txt, BFM_exp_idx.mat, BFM_front_idx.mat, "
                                      "facemodel_info.mat."),
        output: Path = typer.Option(None, "-o", "--output", help="Output .mat (default: "
                                    "$THEAD_HOME/weights/BFM_model_front.mat).")) -> int:
    """Convert the Basel Face Model 2009 (registration-only, so never downloaded) into the BFM_model_front.mat that
    fit-3dmm --model reads (thead.face.bfm: Deep3DFaceRecon's conversion)."""
    from thead import zoo
    from thead.face.bfm import convert_bfm09

    out = convert_bfm09(folder, output or zoo.home() / "BFM_model_front.mat")
    print(out)
    print(f"use it with: thead fit-3dmm ... --model {out}", file=sys.stderr)
    return 0
