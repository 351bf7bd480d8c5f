"""The papers' settings and figures (thead.papers), `thead paper-figures`, and the pieces the reproduction recipes
stand on: `manifest merge --where`, epochs as steps, pix2pixHD's learning-rate decay."""

import json

import pytest

from tests.conftest import run_cli
from thead.errors import InputError
from thead.papers import PAPERS, compare, flags, markdown


def test_every_setting_is_an_option_of_its_trainer_and_cites_its_source():
    from typer.main import get_command

    from thead.cli import _register
    from thead.cli.app import app

    _register()
    cmd = get_command(app)
    where = {("gath", "aue"): ("train", "aue"), ("gath", "gath"): ("train", "gath"),
             ("flnet", "crop"): ("crop-faces",), ("flnet", "flnet"): ("train", "flnet"),
             ("facial", "render"): ("render-face",), ("facial", "gan"): ("train", "facial-gan"),
             ("facial", "tune"): ("train", "facial-gan"), ("facial", "r2v"): ("train", "render2video")}
    for system, paper in PAPERS.items():
        for step, settings in paper.steps.items():
            c = cmd
            for word in where[(system, step)]:
                c = c.commands[word]
            known = {o for p in c.params for o in p.opts}
            for s in settings:
                assert s.flag in known, (system, step, s.flag)
                assert s.source and (":" in s.source), (system, step, s.flag)
    assert flags("flnet", "flnet").startswith("--d-steps 5 --lr 1e-4")
    with pytest.raises(InputError, match="no step"):
        flags("gath", "render")
    with pytest.raises(InputError, match="unknown system"):
        flags("ganimation", "g")


def _metrics(tmp_path, rows):
    p = tmp_path / "metrics.json"
    p.write_text(json.dumps({"rows": rows}))
    return p


def test_compare_picks_the_evaluated_row_and_the_corpus_figures(tmp_path):
    m = _metrics(tmp_path, {"full-5B@100": {"l1": 20.0}, "full-5B@200": {"l1": 12.5, "fid": float("nan")}})
    r = compare("flnet", m, corpora=("tcd-timit",))
    assert r["row"] == "full-5B@200"
    assert [(f["label"], f["paper"], f["run"]) for f in r["figures"]] == \
        [("L1 (TCD-TIMIT)", 7.99, 12.5), ("FID (TCD-TIMIT)", 17.07, None)]  # NaN: not measured
    r = compare("flnet", m, corpora=("voxceleb2",))
    assert len(r["figures"]) == 4 and "no figures on voxceleb2" in r["note"]
    f = _metrics(tmp_path, {"ground truth: x": {"cpbd": 0.5}, "reference: y": {"cpbd": 0.4},
                            "x": {"cpbd": 0.3, "lmd_mouth_pct_iod": 4.0, "blinks_per_s": 0.3}})
    r = compare("facial", f)
    assert r["row"] == "x" and {g["label"]: g["run"] for g in r["figures"]}["CPBD"] == 0.3
    md = markdown(r)
    assert "| CPBD | 0.314 | 0.300 | higher |" in md
    with pytest.raises(InputError, match="no evaluated facial row"):
        compare("facial", _metrics(tmp_path, {"ground truth: x": {}}))
    with pytest.raises(InputError, match="cannot read"):
        compare("gath", tmp_path / "missing.json")


def test_paper_figures_cli_with_a_run_folder(tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    (run / "log.jsonl").write_text('{"step": 10, "g": 1.0, "step_s": 0.5, "samples_per_s": 16.0, '
                                   '"loader_samples_per_s": 900.0, "minutes": 0.1}\n')
    m = _metrics(tmp_path, {"gath@10": {"mask_clahe": {"mae": 60.0, "rmse": 90.0}, "au_rmse_intra": 0.5}})
    r = run_cli("paper-figures", "gath", m, "--run", run, "-o", tmp_path / "paper.md", "--json")
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["runs"][str(run)]["loader_samples_per_s"] == 900.0
    assert {g["label"]: g["run"] for g in out["figures"]}["MAE, face mask, CLAHE"] == 60.0
    assert "| 10 | 0.1 | 0.500 | 16.0 | 900.0 |" in (tmp_path / "paper.md").read_text()
    r = run_cli("paper-figures", "gath", m, "--run", tmp_path / "nothing")
    assert r.returncode == 1 and "no log.jsonl" in r.stderr and r.stderr.count("\n") == 1


def test_merge_where_keeps_one_split(tmp_path):
    from thead.manifest import load_manifest
    from thead.recipes import prepare
    from tests.conftest import shared
    import shutil

    root = tmp_path / "VoxCeleb2"
    for part, ident in (("dev", "id00001"), ("dev", "id00002"), ("test", "id00003")):
        d = root / part / "mp4" / ident / "v"
        d.mkdir(parents=True)
        shutil.copyfile(shared("videos/video-retalking_face_3.mp4"), d / "00001.mp4")
    path, _ = prepare("voxceleb2", root, tmp_path / "vox", progress=False, probe=False)
    r = run_cli("manifest", "merge", path, "-o", tmp_path / "train" / "m.json", "--where", "split=train")
    assert r.returncode == 0, r.stderr
    lm = load_manifest(tmp_path / "train" / "m.json")
    assert sorted(it.meta["identity"] for it in lm.items) == ["id00001", "id00002"]
    assert lm.source(lm.items[0]).resolve() == (root / "dev" / "mp4" / "id00001" / "v" / "00001.mp4").resolve()
    assert lm.manifest.producer.config["where"] == {"split": "train"}
    r = run_cli("manifest", "merge", path, "-o", tmp_path / "x.json", "--where", "split=val")
    assert r.returncode == 1 and "no item" in r.stderr and not (tmp_path / "x.json").exists()
    r = run_cli("manifest", "merge", path, "-o", tmp_path / "y.json", "--where", "split")
    assert r.returncode == 1 and "KEY=VALUE" in r.stderr


def test_epochs_as_steps_and_the_linear_decay():
    from thead.train.loop import linear_decay, steps_for_epochs

    assert steps_for_epochs(50, 1000, 64) == 782 and steps_for_epochs(10, 1000, 16, world_size=4) == 157
    assert steps_for_epochs(0.001, 10, 64) == 1
    total = 50
    lr = [linear_decay(s, total, 0.6) for s in range(1, total + 1)]
    assert lr[:20] == [1.0] * 20 and lr[-1] == 0.0  # constant for 20 of 50 epochs, then to 0 over the last 30
    assert all(a >= b for a, b in zip(lr, lr[1:])) and linear_decay(35, 50, 0.6) == pytest.approx(0.5)
    assert linear_decay(49, 50, 0.0) == 1.0
