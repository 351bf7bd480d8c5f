from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer
from typer.core import TyperGroup

from thead.cli.app import app, argv, progress_opt
from thead.cli.stages import register
from thead.systems.flnet.config import SYNTHESIZE_FLNET
from thead.systems.gath.config import SYNTHESIZE_GATH

def _checkpoint_system(args: list[str]) -> Optional[str]:
    """The ``system`` of the checkpoint named by ``--checkpoint`` in ``args`` (its run folder's config.json, else the
    checkpoint's own config), or None when there is none or it cannot be read (the subcommand then says why)."""
    import json

    ck = None
    for i, a in enumerate(args):
        if a == "--checkpoint" and i + 1 < len(args):
            ck = Path(args[i + 1])
        elif a.startswith("--checkpoint="):
            ck = Path(a.split("=", 1)[1])
    if ck is None or not ck.is_file():
        return None
    try:
        cfg = ck.parent / "config.json"
        if cfg.is_file():
            return json.loads(cfg.read_text()).get("system")
        from thead.train.checkpoint import load_checkpoint

        return load_checkpoint(ck)["config"].get("system")
    except Exception:  # noqa: BLE001 - unreadable: fall through to click's own "no such command"
        return None


class _InferSystem(TyperGroup):
    """``thead synthesize --checkpoint CKPT [OPTIONS] INPUTS``: with no system named, the checkpoint's own."""

    def resolve_command(self, ctx, args):
        if args and args[0] not in self.commands:
            system = _checkpoint_system(args)
            if system in self.commands:
                return system, self.commands[system], list(args)
        return super().resolve_command(ctx, args)


synth_app = typer.Typer(help="Synthesize with a trained system: thead synthesize SYSTEM ..., or thead synthesize "
                        "--checkpoint CKPT ... INPUTS (the system read from the checkpoint).", no_args_is_help=True,
                        cls=_InferSystem, context_settings={"ignore_unknown_options": True, "allow_extra_args": True})
app.add_typer(synth_app, name="synthesize")


register(synth_app, SYNTHESIZE_GATH)  # generated from its declaration (thead.systems.gath.config)


register(synth_app, SYNTHESIZE_FLNET)  # generated from its declaration (thead.systems.flnet.config)


@synth_app.command("facial", epilog="Example: thead synthesize facial --audio speech.wav --reference "
                   "work/render/manifest.json --facial-gan runs/fg-alice/last.pt --render2video runs/r2v/last.pt")
def synthesize_facial(
    audio: Path = typer.Option(..., help="Speech: any audio or video file ffmpeg reads."),
    reference: Path = typer.Option(..., help="thead.frames manifest of 'thead render-face' on the reference video."),
    facial_gan: Path = typer.Option(..., help="A (fine-tuned) 'thead train facial-gan' checkpoint."),
    render2video: Path = typer.Option(..., help="A 'thead train render2video' checkpoint of the same person."),
    output: Path = typer.Option(Path("thead_out/facial"), "-o", "--output", help="Output folder."),
    reference_item: Optional[str] = typer.Option(None, help="Which reference of a manifest holding several."),
    model: Optional[Path] = typer.Option(None, help="wav2vec2 CTC folder, when FACIAL-GAN used deepspeech features."),
    paste_back: bool = typer.Option(False, "--paste-back", help="Also paste the result into the reference video's "
                                    "frames (played forward and backward), at its full size."),
    blinks: str = typer.Option("fill", help="fill: FACIAL-GAN's blinks with the reference's duration, gaps filled to "
                               "its rate; predicted: its blinks only; raw: the eye channel as predicted."),
    seed: int = typer.Option(0, help="Seed of the filled-in blink times."),
    match_mean: bool = typer.Option(True, help="Move the predicted expression's mean to the reference video's (not "
                                    "in the paper; keeps the person's mouth shape after a short fine-tuning)."),
    device: str = typer.Option("cpu", help="cpu, cuda or auto."),
    progress: bool = progress_opt(),
) -> int:
    """FACIAL: speech + a reference gives a talking video (lip motion, head pose, blinks) with the speech muxed in.

    Output kind: thead.synthesis (MP4, render | output MP4, predicted parameters .npy, with --paste-back the
    full-frame MP4).
    """
    import sys

    from thead.systems.facial.synthesize import synthesize

    p = synthesize(audio, reference, facial_gan, render2video, output, reference_item, model, device, argv(),
                   paste_back, blinks, seed, progress, match_mean)
    print(f"synthesis -> {p}", file=sys.stderr)
    return 0
