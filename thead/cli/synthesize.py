"""``thead synthesize SYSTEM``: every system's synthesis, generated from its declaration (``SYNTHESIZE_GATH``,
``SYNTHESIZE_FLNET``: per-item stages; ``SYNTHESIZE_FACIAL``: one speech file, a ``JobDecl``), beside each system's
config. With no system named, the ``--checkpoint``'s own (``_InferSystem``)."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer
from typer.core import TyperGroup

from thead.cli.app import app
from thead.cli.stages import register, register_job
from thead.systems.facial.config import SYNTHESIZE_FACIAL
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
register_job(synth_app, SYNTHESIZE_FACIAL)  # generated from its declaration (thead.systems.facial.config)
