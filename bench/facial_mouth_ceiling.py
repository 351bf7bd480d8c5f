"""How low FACIAL's held-out mouth error can go through its 3DMM (issue 11: ``mouth_lmd_ratio``), whatever the audio
model: the held-out tail re-synthesized from its OWN fitted 3DMM parameters instead of FACIAL-GAN's prediction.

    python bench/facial_mouth_ceiling.py --work QUALITY_WORK --facial-gan QUALITY_WORK/gan/last.pt

``QUALITY_WORK`` is a ``bench/quality_facial.py --work`` folder (``ref_tail.mp4`` / ``.wav``, ``render/``, ``r2v/``).
The tail is fitted on its own (``extract-au``: landmarks, ``fit-3dmm``), and every figure is a mouth LMD
(``thead.systems.facial.evaluate.mouth_lmd``) over the oracle still mouth, as the quality bench's ratio:

- ``fit``: the fitted model's own projected landmarks vs dlib on the real tail (the 3DMM's reach);
- ``render_vs_fit``: dlib on the rendered fit vs the fit's landmarks (what a detector reads off a render);
- ``render`` / ``output``: dlib on the render / on the rendering-to-video output vs the real tail (the chain's
  ceiling: below it no audio model can go); ``*_still_pose``: the same with the pose held at its mean.
- with ``--predicted GAN``: ``output_predicted`` (GAN's prediction as ``synthesize facial`` makes it: the bench's
  (a)), ``output_predicted_expression_own_pose`` (its expression, the tail's own head pose),
  ``output_predicted_expression_still_pose`` (its expression, the reference's mean pose) and
  ``output_own_expression_predicted_pose`` (the tail's own expression, its pose): where the error comes from.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))


def main() -> dict:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--work", type=Path, required=True)
    ap.add_argument("--facial-gan", type=Path, required=True, help="Any FACIAL-GAN of the run (not used to predict).")
    ap.add_argument("--item", default="ref_head")
    ap.add_argument("--predicted", type=Path, default=None, help="A FACIAL-GAN (the run's fine-tuned one): also "
                    "score its prediction, whole and with pose or expression swapped for the tail's own.")
    ap.add_argument("--json", type=Path, default=None)
    a = ap.parse_args()
    for p in (a.work / "ref_tail.mp4", a.work / "ref_tail.wav", a.work / "render" / "manifest.json",
              a.work / "r2v" / "last.pt", a.facial_gan):
        if not p.is_file():
            sys.exit(f"error: {p} not found")
    os.environ.setdefault("THEAD_ALLOW_OUTSIDE", str(a.work.resolve()))
    import thead.systems.facial.synthesize as S
    from thead.systems.facial.synthesize import match_expression, match_pose, smooth
    from quality_facial import static_mouth_lmd
    from thead.face.facemodel import load_face_model
    from thead.face.fit import project_vertices
    from thead.manifest import load_manifest
    from thead.systems.facial.data import reference_params
    from thead.systems.facial.evaluate import analyse_video, mouth_lmd
    from thead.stages import au
    from thead.systems.facial.params import EXP_START, EYE, POSE

    head = np.load(next((a.work / "render").glob(f"{a.item}.reference.npz")))
    tail = a.work / "ceiling" / "tail_au"
    if not (tail / "manifest.json").is_file():  # at the reference's frame rate, so frame t is the output's frame t
        au.run([a.work / "ref_tail.mp4"], tail, preview=False, progress=False, fps=float(head["fps"]))
    params = next(iter(reference_params(tail / "manifest.json").values()))[0].params
    fm = load_manifest(tail / "3dmm" / "manifest.json", "thead.3dmm")
    it = fm.done()[0]
    fit = np.load(fm.output(it, "params"))
    _, truth = analyse_video(a.work / "ref_tail.mp4")
    model = load_face_model()
    fitted = np.array([project_vertices(model.shape(head["identity"], fit["expression"][t]), fit["rotation"][t],
                                        fit["translation"][t], float(fit["scale"][t]))[model.landmarks68, :2]
                       for t in range(len(fit["expression"]))])
    n0 = min(len(fitted), len(truth))
    still = static_mouth_lmd(truth[:n0])
    res = dict(fit=mouth_lmd(fitted[:n0], truth[:n0]) / still)
    for mode in ("", "_still_pose"):
        def own(pred, mode=mode):
            o = params[np.minimum(np.arange(len(pred)), len(params) - 1)].copy()
            if mode:
                eye = o[:, EYE].copy()  # the eye channel keeps moving
                o[:, :EXP_START] = o[:, :EXP_START].mean(0)
                o[:, EYE] = eye
            return o.astype(np.float32)

        S.smooth, S.match_expression, S.match_pose = own, (lambda p, r: p), (lambda p, r: p)
        od = a.work / "ceiling" / f"own{mode or '_pose'}"
        S.synthesize(a.work / "ref_tail.wav", a.work / "render" / "manifest.json", a.facial_gan,
                     a.work / "r2v" / "last.pt", od, item=a.item, progress=False)
        _, out = analyse_video(od / "ref_tail.mp4")
        _, ren = analyse_video(od / "ref_tail.render.mp4")
        n = min(len(out), len(ren), len(truth), len(fitted))
        res[f"output{mode}"] = mouth_lmd(out[:n], truth[:n]) / still
        res[f"render{mode}"] = mouth_lmd(ren[:n], truth[:n]) / still
        if not mode:
            res["render_vs_fit"] = mouth_lmd(ren[:n], fitted[:n]) / still
    S.smooth, S.match_expression, S.match_pose = smooth, match_expression, match_pose
    if a.predicted:  # FACIAL-GAN's prediction, whole or in part, through the same chain
        for name, (pose, expr) in dict(predicted=("pred", "pred"), predicted_expression_own_pose=("own", "pred"),
                                       predicted_expression_still_pose=("still", "pred"),
                                       own_expression_predicted_pose=("pred", "own")).items():
            def mix(pred, ref, pose=pose, expr=expr):
                out = match_pose(match_expression(pred, ref), ref)
                o = params[np.minimum(np.arange(len(out)), len(params) - 1)]
                if pose == "own":
                    out[:, POSE] = o[:, POSE]
                elif pose == "still":
                    out[:, POSE] = ref[:, POSE].mean(0)
                if expr == "own":
                    out[:, EXP_START:] = o[:, EXP_START:]
                return out.astype(np.float32)

            S.match_expression, S.match_pose = mix, (lambda p, r: p)
            od = a.work / "ceiling" / name
            S.synthesize(a.work / "ref_tail.wav", a.work / "render" / "manifest.json", a.predicted,
                         a.work / "r2v" / "last.pt", od, item=a.item, progress=False)
            _, out = analyse_video(od / "ref_tail.mp4")
            n = min(len(out), len(truth))
            res[f"output_{name}"] = mouth_lmd(out[:n], truth[:n]) / still
        S.match_expression, S.match_pose = match_expression, match_pose
    res["still_mouth_lmd_pct_iod"] = still
    print("| figure (mouth LMD / oracle still mouth) | value |\n|---|---|")
    for k, v in res.items():
        print(f"| {k} | {v:.3f} |")
    if a.json:
        a.json.write_text(json.dumps(res, indent=2) + "\n")
    return res


if __name__ == "__main__":
    main()
