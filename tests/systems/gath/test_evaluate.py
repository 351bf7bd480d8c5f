import json

import numpy as np

import pytest

from tests.conftest import run_cli


@pytest.mark.slow
def test_evaluate_writes_paper_tables(gath_ckpt, gath_data, tmp_path):
    r = run_cli("evaluate", "gath", "--checkpoint", gath_ckpt, "--frames", gath_data["frames"], "--au",
                gath_data["au"], "--every", "10", "--max-targets", "2", "-o", tmp_path, "--no-progress")
    assert r.returncode == 0, r.stderr
    res = json.loads((tmp_path / "metrics.json").read_text())
    row = res["rows"]["gath@2"]
    for k in ("full", "full_clahe", "mask", "mask_clahe"):
        assert 0 < row[k]["mae"] <= row[k]["rmse"] < 255
    assert np.isfinite(row["au_rmse_intra"]) or row["au_found_intra"].startswith("0/")
    md = (tmp_path / "metrics.md").read_text()
    assert "Table 1" in md and "gath@2" in md and "AU RMSE intra" in md
    assert sorted(res["videos"]) == ["a", "b"]
