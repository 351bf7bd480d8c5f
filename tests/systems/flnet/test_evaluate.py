import json

import numpy as np
import torch

from thead.systems.flnet.evaluate import evaluate


def test_evaluate_on_held_back_frames(flnet_ckpt, flnet_crops, tmp_path):
    from thead.metrics.inception import FIDInceptionV3

    torch.manual_seed(0)
    torch.save(FIDInceptionV3().state_dict(), tmp_path / "pt_inception.pth")
    res = evaluate([flnet_ckpt, flnet_ckpt], flnet_crops, tmp_path / "eval", max_targets=4,
                   inception_weights=tmp_path / "pt_inception.pth", progress=False)
    assert list(res["rows"]) == ["full-5B@2", "full-5B@2#2"]
    r = res["rows"]["full-5B@2"]
    assert r["n_targets"] == 3 * 4  # three clips (people), four held-back targets each
    assert 0 < r["l1"] < 255
    assert np.isfinite(r["fid"]) and r["fid"] >= 0
    assert 0 <= r["landmarks_found"] <= 1 and 0 <= r["faces_embedded"] <= 1
    assert res["rows"]["full-5B@2#2"]["l1"] == r["l1"]  # deterministic
    md = (tmp_path / "eval" / "metrics.md").read_text()
    assert "| full-5B@2 | 12 |" in md and "FD-dlib" in md
    assert json.loads((tmp_path / "eval" / "metrics.json").read_text())["fid"] == "computed"
    assert (tmp_path / "eval" / "full-5B_at_2.compare.png").exists()
