"""thead.report: the Markdown report over a work folder's manifests, with the time each step took."""

from tests.conftest import EXAMPLES
from tests.test_runner import mean_colour
from thead.report import build_report, timing_lines
from thead.runner import discover, run_stage


def test_report_lists_items_figures_and_timings(tmp_path):
    items, _ = discover([EXAMPLES / "portraits"], media=("image",))
    work = tmp_path / "work"
    run_stage("mean", "thead.frames", mean_colour, items, work / "a", dict(gain=1.0, fail_on="SadTalker_sad1"),
              progress=False)
    timings = tmp_path / "timings.tsv"
    timings.write_text("extract-landmarks\t90.0\t0\tthead extract-landmarks x\nnot a row\n"
                       "train gath\t30\t0\tthead train gath\n")
    assert timing_lines(timings)[-2].startswith("| **total** | **2.0 min**")
    out = build_report(work, tmp_path / "report.md", title="T", timings=timings)
    text = out.read_text()
    assert text.startswith("# T\n") and "## time per step" in text
    assert "## thead.frames: `work/a/manifest.json`" in text and "1/2 items done" in text
    assert "| SadTalker_happy1 | done |" in text and "**failed**: ValueError: refusing SadTalker_sad1" in text
    assert "[mean](work/a/SadTalker_happy1.mean.npy)" in text
