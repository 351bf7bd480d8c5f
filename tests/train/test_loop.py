"""thead.train.loop.fit: the one training skeleton every trainer hands its step to."""

import json
from dataclasses import dataclass

import numpy as np
import pytest
import torch

from tests.conftest import EXAMPLES
from thead.errors import TheadError
from thead.media import read_image
from thead.train.checkpoint import load_checkpoint, restore
from thead.train.loop import fit, prepare_run_dir, seed_all


@dataclass
class Cfg:
    steps: int = 4
    checkpoint_every: int = 2
    log_every: int = 1
    time_limit_s: float = 0.0


def _portrait() -> torch.Tensor:
    img = read_image(EXAMPLES / "portraits" / "SadTalker_sad1.png")[::8, ::8]  # a real face, small
    return torch.from_numpy(np.ascontiguousarray(img)).permute(2, 0, 1)[None].float() / 127.5 - 1


def _run(out_dir, cfg, resume=False, poison_at=None, on_step=None, say=None):
    """A one-layer auto-encoder of a real portrait, trained through fit() as a trainer would."""
    x = _portrait()
    last = prepare_run_dir(out_dir, resume)
    gen = seed_all(0)
    net = torch.nn.Conv2d(3, 3, 3, padding=1)
    opt = torch.optim.Adam(net.parameters(), lr=1e-2)
    start = restore(load_checkpoint(last), {"net": net}, {"net": opt}, gen) if last else 0

    def step_fn(step, fetch):
        batch = fetch(lambda: x, 1)
        loss = (net(batch) - batch).abs().mean()
        if poison_at is not None and step == poison_at:
            loss = loss * float("nan")
        opt.zero_grad()
        loss.backward()
        opt.step()
        return {"l1": float(loss.detach())}

    return fit(step_fn, out_dir=out_dir, cfg=cfg, start=start, models={"net": net}, optimizers={"net": opt},
               config={"system": "toy"}, generator=gen, is_main=True, label="train toy", title="toy",
               stage="train toy", progress=False, on_step=on_step, say=say)


@pytest.mark.slow
def test_fit_checkpoints_logs_and_resumes(tmp_path):
    seen = []
    p = _run(tmp_path / "run", Cfg(steps=3), on_step=seen.append)
    assert seen == [1, 2, 3] and load_checkpoint(p)["step"] == 3  # checkpoint at 2 and at the last step
    log = [json.loads(line) for line in (tmp_path / "run" / "log.jsonl").read_text().splitlines()]
    assert [r["step"] for r in log] == [1, 2, 3] and all(r["l1"] > 0 and "loader_samples_per_s" in r for r in log)
    assert (tmp_path / "run" / "loss.png").stat().st_size > 0
    m = json.loads((tmp_path / "run" / "manifest.json").read_text())
    assert m["kind"] == "thead.checkpoint" and m["items"][0]["meta"]["step"] == 3
    with pytest.raises(TheadError, match="already holds a training run"):
        _run(tmp_path / "run", Cfg(steps=5))
    seen.clear()
    _run(tmp_path / "run", Cfg(steps=5), resume=True, on_step=seen.append)
    assert seen == [4, 5] and load_checkpoint(p)["step"] == 5


def test_fit_stops_at_the_time_limit_with_a_checkpoint(tmp_path):
    said = []
    p = _run(tmp_path / "run", Cfg(steps=1000, checkpoint_every=1000, time_limit_s=1e-9), say=said.append)
    assert load_checkpoint(p)["step"] == 1  # stopped after the first step, and saved it
    assert said == ["train toy: the --time-limit is reached; stopped at step 1 of 1000 (--resume continues)"]


def test_fit_refuses_a_non_finite_loss_and_keeps_the_last_good_checkpoint(tmp_path):
    with pytest.raises(TheadError, match=r"diverged at step 3: loss l1=nan is not finite; stopped, the last good "
                                         r"checkpoint is kept"):
        _run(tmp_path / "run", Cfg(steps=4, checkpoint_every=2), poison_at=3)
    blob = load_checkpoint(tmp_path / "run" / "last.pt")
    assert blob["step"] == 2 and all(torch.isfinite(v).all() for v in blob["models"]["net"].values())
