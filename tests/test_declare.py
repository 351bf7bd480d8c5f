"""Declared stages (thead.declare): one declaration gives the command, its checks and the run function's defaults."""

import dataclasses
import inspect
import json

import pytest

from tests.conftest import EXAMPLES, run_cli
from thead.declare import defaults
from thead.stages.config import STAGES, ClaheConfig, CropConfig
from thead.systems.facial.config import RENDER_FACE
from thead.systems.flnet.config import MAKE_BANK, MakeBankConfig
from thead.systems.flnet.config import SYNTHESIZE_FLNET
from thead.systems.gath.config import SYNTHESIZE_GATH, SynthesizeGathConfig

DECLS = (*STAGES, RENDER_FACE, MAKE_BANK, SYNTHESIZE_GATH, SYNTHESIZE_FLNET)


@pytest.mark.parametrize("decl", DECLS, ids=lambda d: d.name)
def test_the_run_function_takes_its_defaults_from_the_declaration(decl):
    params = inspect.signature(decl.function()).parameters
    kwargs = decl.config().run_kwargs()
    rest = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values())  # landmark settings passed on
    for name, value in kwargs.items():
        assert name in params or rest, f"{decl.name}: run() has no {name!r}"
        if name in params and params[name].default is not inspect.Parameter.empty:
            assert params[name].default == value, f"{decl.name}: {name} defaults differ"
    for f in dataclasses.fields(decl.config):
        assert f.metadata.get("help"), f"{decl.name}: {f.name} has no help text"
    assert decl.kind.startswith("thead.") and decl.accepts and decl.example.startswith("thead ")


def test_generated_help_shows_every_setting_with_its_default_and_the_run_options():
    r = run_cli("crop-faces", "--help")
    assert r.returncode == 0
    for f in dataclasses.fields(CropConfig):
        assert "--" + f.name.replace("_", "-") in r.stdout
    assert "[default: 2.8]" in r.stdout and "Input: thead.landmarks, media. Output kind: thead.frames." in r.stdout
    for opt in ("--workers", "--shard", "--json", "--progress / --no-progress"):
        assert opt in r.stdout


@pytest.mark.parametrize("args,hint", [
    (("--detector", "sift"), "must be one of hog, cnn"),
    (("--fps", "nan"), "nan is not a finite number"),
    (("--fps", "0"), "must be > 0"),
    (("--size", "8"), "must be >= 16"),
    (("--shard", "2/2"), "need 0 <= K < N"),
])
def test_bad_settings_are_usage_errors_before_any_work(tmp_path, args, hint):
    r = run_cli("crop-faces", EXAMPLES / "portraits" / "SadTalker_sad1.png", "-o", tmp_path / "o", *args)
    assert r.returncode == 2 and hint in r.stderr and len(r.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "o").exists()


def test_a_setting_a_config_refuses_after_parsing_is_a_usage_error_too(tmp_path):
    r = run_cli("make-bank", tmp_path / "none.json", "--frames", "0-0.8", "-o", tmp_path / "o")
    assert r.returncode == 2 and "expected START:END fractions" in r.stderr
    assert MakeBankConfig(frames="0.1:0.9").run_kwargs()["frame_range"] == (0.1, 0.9)
    with pytest.raises(ValueError, match="clip_limit must be <= 1"):
        ClaheConfig(clip_limit=2.0).check()
    assert defaults(ClaheConfig)["tiles"] == 8


def test_a_generated_command_runs_its_stage_with_the_run_options(tmp_path):
    r = run_cli("postprocess-clahe", EXAMPLES / "portraits" / "SadTalker_sad1.png", "-o", tmp_path / "c",
                "--tiles", "4", "--no-preview", "--json", "--no-progress")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["done"] == 1
    m = json.loads((tmp_path / "c" / "manifest.json").read_text())
    assert m["producer"]["config"]["tiles"] == 4 and m["producer"]["stage"] == "postprocess-clahe"
    assert (tmp_path / "c" / "SadTalker_sad1.png").exists()
    assert not (tmp_path / "c" / "SadTalker_sad1.compare.png").exists()  # --no-preview reached the stage


def test_a_required_setting_and_inputs_given_by_option_or_position(tmp_path):
    """``synthesize gath`` (declared in thead.systems.gath.config): --checkpoint is required, in the CLI and in
    ``Config.check``; the portraits come positionally or with --source, and none at all is a usage error."""
    with pytest.raises(ValueError, match="checkpoint is required"):
        SynthesizeGathConfig().check()
    assert "checkpoint" not in defaults(SynthesizeGathConfig)
    r = run_cli("synthesize", "gath", EXAMPLES / "portraits" / "SadTalker_sad1.png", "-o", tmp_path / "o")
    assert r.returncode == 2 and "--checkpoint" in r.stderr
    r = run_cli("synthesize", "gath", "--checkpoint", tmp_path / "none.pt", "-o", tmp_path / "o")
    assert r.returncode == 2 and "give at least one input (positional or --source)" in r.stderr
    r = run_cli("synthesize", "gath", "--checkpoint", tmp_path / "none.pt", "--bn-stats", "batch",
                "--source", EXAMPLES / "portraits" / "SadTalker_sad1.png", "-o", tmp_path / "o")
    assert r.returncode == 2 and "must be one of running, input" in r.stderr
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize("call,message", [
    ("gath", "refine must be >= 0, got -1"),
    ("flnet", "retarget must be one of auto, on, off, got 'sideways'"),
    ("facial", "blinks must be one of fill, predicted, raw, got 'often'"),
])
def test_library_callers_meet_the_declared_bounds_before_any_file_is_read(tmp_path, call, message):
    """A ``run`` / ``synthesize`` function called from Python checks its settings against the same declaration as
    the command line (``check_settings``), before it reads a checkpoint (none exists here) or writes anything."""
    from thead.errors import InputError

    missing = tmp_path / "none.pt"
    with pytest.raises(InputError, match=message):
        if call == "gath":
            from thead.systems.gath.synthesize import run

            run([EXAMPLES / "portraits" / "SadTalker_sad1.png"], tmp_path / "o", missing, refine=-1)
        elif call == "flnet":
            from thead.systems.flnet.synthesize import run

            run([tmp_path / "t.npy"], tmp_path / "o", missing, tmp_path / "bank", retarget_mode="sideways")
        else:
            from thead.systems.facial.synthesize import synthesize

            synthesize(tmp_path / "a.wav", tmp_path / "r.json", missing, missing, tmp_path / "o", blinks="often")
    assert not (tmp_path / "o").exists()


def test_a_scaled_setting_is_refused_in_its_options_unit():
    """``--time-limit`` is minutes, stored as ``time_limit_s``: the refusal names both, with the option's value."""
    from thead.train.settings import TrainSettings

    with pytest.raises(ValueError, match=r"time_limit_s / 60 must be >= 0, got -1$"):
        TrainSettings(time_limit_s=-60.0).check()


def test_synthesize_facial_is_generated_from_its_declaration(tmp_path):
    """``thead synthesize facial`` (``SYNTHESIZE_FACIAL``, a ``JobDecl``): every declared setting is an option with
    its config default, a bad choice is a usage error at parse time, and the run function passes the settings on."""
    import typer

    from thead.cli import _register
    from thead.cli.synthesize import synth_app
    from thead.systems.facial.config import SYNTHESIZE_FACIAL, SynthesizeFacialConfig

    _register()
    cmd = typer.main.get_command(synth_app).commands["facial"]
    opts = {p.name[3:]: p.default for p in cmd.params if p.name.startswith("s__")}
    assert opts == defaults(SynthesizeFacialConfig) and len(opts) == len(dataclasses.fields(SynthesizeFacialConfig))
    assert {"audio", "reference", "facial_gan", "render2video", "model_dir"} <= {p.name for p in cmd.params}
    assert "resume" not in {p.name for p in cmd.params}  # a synthesis, not a training run
    params = inspect.signature(SYNTHESIZE_FACIAL.function()).parameters
    assert [i.name for i in SYNTHESIZE_FACIAL.inputs] == list(params)[:5]
    r = run_cli("synthesize", "facial", "--audio", tmp_path / "a.wav", "--reference", tmp_path / "r.json",
                "--facial-gan", tmp_path / "g.pt", "--render2video", tmp_path / "r.pt", "--blinks", "often",
                "-o", tmp_path / "o")
    assert r.returncode == 2 and "must be one of fill, predicted, raw" in r.stderr
    assert not (tmp_path / "o").exists()
