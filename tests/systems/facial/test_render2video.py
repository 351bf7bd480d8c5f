import json

import pytest
import torch

from thead.errors import InputError
from thead.systems.facial.render2video import (MultiScaleD, RenderGenerator, ResidualUNet, face_weight,
                                               feature_matching, lsgan, resolve_arch)
from thead.systems.facial.train_render import Render2VideoConfig, stack_renders, train_render2video
from thead.train.checkpoint import load_checkpoint


def test_networks_shapes():
    G, D = RenderGenerator(2, 4), MultiScaleD(2, 4)
    x = torch.randn(2, 16, 64, 64)
    y = G(x)
    assert y.shape == (2, 3, 64, 64) and y.abs().max() <= 1
    outs = D(x, y)
    assert len(outs) == 3 and [o[-1].shape[-1] for o in outs] == [11, 7, 5]  # 1, 1/2, 1/4 scale
    assert lsgan(outs, True) > 0 and feature_matching(outs, D(x, torch.zeros_like(y))) > 0


@pytest.mark.slow
def test_residual_unet_starts_at_the_render(facial_renders):
    """At step 0 the CPU generator outputs the current frame's render itself, on real renders."""
    from thead.systems.facial.train_render import load_render_clips

    clip = load_render_clips(facial_renders)[0]
    x = torch.stack([stack_renders(clip.renders, t, 2) for t in (0, 5)])
    G = ResidualUNet(2, 4)
    y = G(x)
    assert y.shape == (2, 3, 64, 64) and torch.equal(y, x[:, 8:11])
    w = face_weight(x, 2, 4.0)
    face = (x[:, 8:11] > -0.98).any(1, keepdim=True)
    assert abs(float(w.mean()) - 1) < 1e-5 and float(w[face].min()) > float(w[~face].max())
    assert resolve_arch("auto", "cpu") == "unet-residual" and resolve_arch("auto", "cuda:0") == "pix2pixhd"
    with pytest.raises(ValueError, match="unknown"):
        resolve_arch("resnet", "cpu")


def test_stack_renders_centres_the_current_frame():
    r = torch.arange(5, dtype=torch.uint8)[:, None, None, None].expand(5, 4, 2, 2).contiguous()
    x = stack_renders(r, 0, 2)  # frames -2, -1, 0, 1 -> 0, 0, 0, 1 (edges repeated)
    firsts = [int(round((float(x[4 * k, 0, 0]) + 1) * 127.5)) for k in range(4)]
    assert firsts == [0, 0, 0, 1] and x.shape == (16, 2, 2)


def _cfg(**kw):
    base = dict(steps=2, batch_size=2, width=4, d_width=4, n_w=1, log_every=1, checkpoint_every=1)
    base.update(kw)
    return Render2VideoConfig(**base)


@pytest.mark.slow
def test_two_cpu_steps_resume_and_backbone_note(facial_renders, tmp_path):
    said = []
    a = train_render2video(facial_renders, tmp_path / "a", _cfg(steps=3), progress=False, say=said.append)
    assert "no --vgg-weights" in said[0] and "FACIAL eq. 10" in said[0] and "unet-residual" in said[1]
    recs = [json.loads(x) for x in (tmp_path / "a" / "log.jsonl").read_text().splitlines()]
    assert [r["step"] for r in recs] == [1, 2, 3] and {"gan", "fm", "perceptual", "l1", "d"} <= set(recs[0])
    assert (tmp_path / "a" / "samples.png").exists()
    train_render2video(facial_renders, tmp_path / "b", _cfg(steps=1), progress=False, say=lambda m: None)
    b = train_render2video(facial_renders, tmp_path / "b", _cfg(steps=3), resume=True, progress=False,
                           say=lambda m: None)
    ga, gb = load_checkpoint(a)["models"]["G"], load_checkpoint(b)["models"]["G"]
    assert all(torch.equal(ga[k], gb[k]) for k in ga)
    assert load_checkpoint(a)["config"]["arch"] == "unet-residual"


@pytest.mark.slow
def test_pix2pixhd_arch_trains_and_resumes_as_saved(facial_renders, tmp_path):
    train_render2video(facial_renders, tmp_path / "p", _cfg(steps=1, arch="pix2pixhd"), progress=False,
                       say=lambda m: None)
    p = train_render2video(facial_renders, tmp_path / "p", _cfg(steps=2), resume=True, progress=False,
                           say=lambda m: None)  # arch auto on a CPU: the run keeps its pix2pixhd
    blob = load_checkpoint(p)
    assert blob["config"]["arch"] == "pix2pixhd" and blob["step"] == 2 and "net.0.0.weight" in blob["models"]["G"]


@pytest.mark.slow
def test_needs_render_face_output(facial_data, tmp_path):
    from thead.stages import crop

    c = crop.run([facial_data["dir"] / "au" / "3dmm" / "landmarks" / "manifest.json"], tmp_path / "c", size=64,
                 progress=False)
    with pytest.raises(InputError, match="render-face"):
        train_render2video(c.manifest_path, tmp_path / "x", _cfg(), progress=False)
