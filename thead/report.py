"""A Markdown report over every manifest under a work folder: status, key figures, links to the previews."""

from __future__ import annotations

from pathlib import Path

from thead.manifest import atomic_write_text, load_manifest, relpath

_FIGURES = {
    "thead.landmarks": [("detected_fraction", "faces found", "{:.1%}"), ("n_frames", "frames", "{}"),
                        ("fps", "fps", "{:.2f}"), ("n_faces", "faces seen", "{}")],
    "thead.3dmm": [("reproj_err_iod_median", "median err / IOD", "{:.2%}"),
                   ("reproj_err_px_median", "median err px", "{:.2f}"), ("reproj_err_iod_p95", "p95 err / IOD",
                                                                           "{:.2%}")],
    "thead.au": [("n_frames", "frames", "{}"), ("blinks", "blinks (AU45 > 1)", "{}")],
    "thead.frames": [("operation", "operation", "{}"), ("n_frames", "frames", "{}")],
    "thead.checkpoint": [("system", "system", "{}"), ("step", "steps", "{}")],
    "thead.synthesis": [("variant", "variant", "{}"), ("checkpoint_step", "trained steps", "{}"), ("au", "--au", "{}"),
                        ("n_frames", "frames", "{}")],
    "thead.bank": [("identity", "identity", "{}"), ("bank_size", "N", "{}"), ("size", "crop px", "{}")],
}


def timing_lines(path: Path) -> list[str]:
    """A Markdown table of a ``THEAD_TIMINGS`` file (``thead.cli._log_time``: command, seconds, exit code, command
    line per invocation), in order, with the total. Lines that do not parse are left out."""
    from thead.budget import read_timings

    rows = read_timings(path)
    if not rows:
        return []
    out = ["## time per step", "", "| step | wall | exit | command |", "|---|---|---|---|"]
    for name, sec, code, cmd in rows:
        out.append(f"| {name} | {sec / 60:.1f} min ({sec:.0f} s) | {code} | `{cmd[:160]}` |")
    out += [f"| **total** | **{sum(r[1] for r in rows) / 60:.1f} min** | | |", ""]
    return out


def build_report(work_dir: Path, out: Path, title: str = "thead report", timings: Path | None = None) -> Path:
    """Write ``out`` (Markdown) summarising every ``manifest.json`` under ``work_dir``, after the time each step took
    when a ``timings`` file (``THEAD_TIMINGS``) is given and exists.

    PNG previews are embedded; videos are linked. Raises ManifestError for an invalid manifest.
    """
    work_dir, out = Path(work_dir), Path(out)
    lines = [f"# {title}", ""]
    if timings is not None and Path(timings).is_file():
        lines += timing_lines(timings)
    for mpath in sorted(work_dir.rglob("manifest.json")):
        lm = load_manifest(mpath)
        figs = _FIGURES.get(lm.kind, [])
        lines += [f"## {lm.kind}: `{relpath(mpath, out.parent)}`", "",
                  f"stage `{lm.manifest.producer.stage}`, {len(lm.done())}/{len(lm.items)} items done", ""]
        lines.append("| item | status | " + " | ".join(f[1] for f in figs) + " | outputs |")
        lines.append("|---|---|" + "---|" * len(figs) + "---|")
        images = []
        for it in lm.items:
            vals = []
            for key, _, fmt in figs:
                v = it.meta.get(key)
                vals.append(fmt.format(v) if v is not None else "")
            links = []
            for k, rel in it.outputs.items():
                p = lm.resolve(rel)
                r = relpath(p, out.parent)
                links.append(f"[{k}]({r})")
                if p.suffix == ".png" and k in ("preview", "plot", "image", "compare", "pasted", "sweep"):
                    images.append((it.id, k, r))
            status = it.status if it.status == "done" else f"**{it.status}**: {it.error or ''}"
            lines.append(f"| {it.id} | {status} | " + " | ".join(vals) + f" | {' '.join(links)} |")
        lines.append("")
        sheet = mpath.parent / "contact_sheet.png"
        if sheet.exists():
            lines += [f"![contact sheet]({relpath(sheet, out.parent)})", ""]
        for iid, k, r in images[:12]:
            if k == "compare":
                lines += ["input (frontalized) | synthesis | synthesis + CLAHE", ""]
            elif k == "sweep":
                lines += ["input (frontalized) | the swept AU at each intensity (value in the corner)", ""]
            lines += [f"**{iid}** ({k})", "", f"![{iid} {k}]({r})", ""]
    for mpath in sorted(work_dir.rglob("metrics.md")):  # evaluation tables (thead evaluate ...)
        lines += [f"## evaluation: `{relpath(mpath, out.parent)}`", ""]
        lines += [ln.replace("# ", "### ", 1) if ln.startswith("# ") else ln for ln in mpath.read_text().splitlines()]
        lines.append("")
    atomic_write_text(out, "\n".join(lines) + "\n")
    return out
