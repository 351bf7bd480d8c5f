from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Optional

import typer

from thead.cli.app import NON_NEGATIVE, POSITIVE, FRACTION, number  # noqa: F401
from thead.cli.app import app, progress_opt

eval_app = typer.Typer(help="Evaluate a system in its paper's layout: thead evaluate SYSTEM ...",
                       no_args_is_help=True)
app.add_typer(eval_app, name="evaluate")


def _show(res: dict, output: Path, as_json: bool) -> int:
    """Print the result as JSON on stdout (--json), else the metrics.md table on stderr."""
    if as_json:
        print(json.dumps(res))
    else:
        print((output / "metrics.md").read_text(), file=sys.stderr)
    return 0


@eval_app.command("gath", epilog="Example: thead evaluate gath --checkpoint runs/gath/last.pt --checkpoint "
                  "runs/gath-c/last.pt --frames work/frontal/manifest.json --au work/au/manifest.json -o eval")
def evaluate_gath(
    checkpoint: list[Path] = typer.Option(..., help="GATH checkpoint(s); one table row each."),
    frames: Path = typer.Option(..., help="thead.frames manifest of frontalized test videos."),
    au: Path = typer.Option(..., help="thead.au manifest of the same videos."),
    output: Path = typer.Option(Path("thead_out/eval_gath"), "-o", "--output", help="Output folder."),
    every: int = typer.Option(5, min=1, help="Use every N-th frame as a target."),
    max_targets: int = typer.Option(12, min=1, help="Targets per video."),
    device: str = typer.Option("cpu", help="cpu, cuda or auto."),
    as_json: bool = typer.Option(False, "--json", help="Print the metrics as JSON on stdout."),
    progress: bool = progress_opt(),
) -> int:
    """GATH section 5: pixel MAE/RMSE +/- CLAHE (Table 1), AU RMSE intra/inter (Tables 2, 3), identity distance.

    Input kinds: thead.checkpoint files, thead.frames + thead.au. Output: metrics.json and metrics.md.
    """
    from thead.systems.gath.evaluate import evaluate

    res = evaluate(checkpoint, frames, au, output, every, max_targets, device, progress)
    return _show(res, output, as_json)


@eval_app.command("flnet", epilog="Example: thead evaluate flnet --checkpoint runs/flnet/last.pt --checkpoint "
                  "runs/flnet-1b/last.pt --manifest work/crops/manifest.json -o eval")
def evaluate_flnet(
    checkpoint: list[Path] = typer.Option(..., help="FLNet checkpoint(s); one table row each."),
    manifest: Path = typer.Option(..., help="thead.frames crop manifest (the same people the models trained on)."),
    output: Path = typer.Option(Path("thead_out/eval_flnet"), "-o", "--output", help="Output folder."),
    every: int = typer.Option(1, min=1, help="Use every N-th held-back frame as a target."),
    max_targets: int = typer.Option(40, min=2, help="Targets per person."),
    holdout: Optional[float] = typer.Option(None, callback=number(**FRACTION),
                                            help="Held-back tail fraction (default: the checkpoint's)."),
    inception_weights: Optional[Path] = typer.Option(None, help="pytorch-fid's pt_inception-2015-12-05 file: "
                                                     "also compute FID."),
    device: str = typer.Option("cpu", help="cpu, cuda or auto."),
    as_json: bool = typer.Option(False, "--json", help="Print the metrics as JSON on stdout."),
    progress: bool = progress_opt(),
) -> int:
    """FLNet Table 1 on held-back frames: L1, Fréchet distance of dlib embeddings (FD-dlib; FID with
    --inception-weights), LMD and identity distance.

    Input kinds: thead.checkpoint files, thead.frames (crops). Output: metrics.json and metrics.md.
    """
    from thead.systems.flnet.evaluate import evaluate

    res = evaluate(checkpoint, manifest, output, every, max_targets, holdout, inception_weights, device, progress)
    return _show(res, output, as_json)


@eval_app.command("facial", epilog="Example: thead evaluate facial --video out/speech.mp4 --ground-truth ref.mp4 "
                  "--reference ref.mp4 -o eval")
def evaluate_facial(
    video: list[Path] = typer.Option(..., help="Generated video(s); one table row each."),
    output: Path = typer.Option(Path("thead_out/eval_facial"), "-o", "--output", help="Output folder."),
    ground_truth: Optional[Path] = typer.Option(None, help="Real video of the same speech (LMD target; also a row)."),
    reference: Optional[Path] = typer.Option(None, help="The reference video (a comparison row)."),
    max_frames: int = typer.Option(60, min=1, help="Frames sampled per video for CPBD."),
    syncnet_weights: Optional[Path] = typer.Option(None, help="syncnet_python's syncnet_v2.model (a state dict): "
                                                   "adds the SyncNet offset, LSE-D and LSE-C."),
    device: str = typer.Option("cpu", help="cpu, cuda or auto (SyncNet)."),
    as_json: bool = typer.Option(False, "--json", help="Print the metrics as JSON on stdout."),
) -> int:
    """FACIAL Table 1 figures: mouth LMD, CPBD, blinks/s and blink duration (AU45), head-pose statistics,
    mouth-audio correlation and, with --syncnet-weights, SyncNet offset/confidence, for generated and real videos.
    Output: metrics.json and metrics.md.
    """
    from thead.systems.facial.evaluate import evaluate

    res = evaluate(video, output, ground_truth, reference, max_frames, syncnet_weights, device)
    return _show(res, output, as_json)
