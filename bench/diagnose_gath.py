"""Why does GATH copy its input? Three measurements on a GATH data set, an AU estimator and (optionally) a generator.

1. **Loss balance** (eq. 4 vs eq. 5): the norm of the gradient that each term sends to the generator's output image,
   with the terms averaged over elements (thead <= 0.x) and summed as the paper writes them (the ratio changes by
   the feature / pixel count ratio), and the gradient of the AU-regression term (GANimation's, on E's output).
2. **Target vs source expressions**: how far a batch's target AU vectors e_tgt lie from the sources' own (E(x_src)),
   overall and on the mouth AUs (AU12, AU25, AU26 on OpenFace's 0-5 scale).
3. **Does f_au see the mouth?** The share of the eq. 4 gradient (w.r.t. the input image) that falls on the mouth
   region of the frontal crop, against the region's share of the pixels; the same for the gradient of E's
   mouth-AU outputs.

    python bench/diagnose_gath.py --frames F.json --au A.json --aue aue/last.pt [--gath gath/last.pt] \
        [--json out.json] [--png saliency.png]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--frames", type=Path, required=True, help="thead.frames manifest (source and target set)")
    ap.add_argument("--au", type=Path, required=True, help="thead.au manifest of the same items")
    ap.add_argument("--aue", type=Path, required=True, help="'train aue' checkpoint")
    ap.add_argument("--gath", type=Path, default=None, help="'train gath' checkpoint (default: an untrained G)")
    ap.add_argument("--batches", type=int, default=8)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--json", type=Path, default=None)
    ap.add_argument("--png", type=Path, default=None, help="mean |gradient| maps (eq. 4 and E's mouth outputs)")
    a = ap.parse_args()

    import numpy as np
    import torch

    from thead.face.au import AU_COLUMNS, au_from_blendshapes
    from thead.face.facemodel import load_face_model
    from thead.face.frontalize import Frontalizer
    from thead.systems.gath import losses as L
    from thead.systems.gath.data import load_source_set, load_target_set
    from thead.systems.gath.model import Generator
    from thead.systems.gath.train import load_aue
    from thead.train.checkpoint import load_checkpoint
    from thead.train.images import to_model_range

    torch.manual_seed(0)
    model = load_face_model()
    src = load_source_set(a.frames, max_per_item=10)
    tgt = load_target_set(a.frames, a.au)
    E = load_aue(a.aue)
    n_au = tgt.au.shape[1]
    if a.gath:
        blob = load_checkpoint(a.gath)
        G = Generator(n_au, int(blob["config"]["width"]), blob["config"].get("upsample", "transposed"))
        G.load_state_dict(blob["models"]["G"])
    else:
        G = Generator(n_au, 32, "resize")
    G.eval()
    names = model.exp_names
    mouth_cols = [AU_COLUMNS.index(c) for c in ("AU12_r", "AU25_r", "AU26_r")]

    def aus(e: torch.Tensor) -> np.ndarray:
        return au_from_blendshapes(e.detach().numpy(), names)

    # mouth box of the frontal crop: the reference landmarks 48-67 (ibug) with a 4 px margin
    ref = Frontalizer(model, 100).landmarks_px
    (x0, y0), (x1, y1) = ref[48:68].min(0) - 4, ref[48:68].max(0) + 4
    box = (slice(int(max(y0, 0)), int(min(y1, 100))), slice(int(max(x0, 0)), int(min(x1, 100))))
    area = (box[0].stop - box[0].start) * (box[1].stop - box[1].start) / 100 ** 2

    g_au, g_rec, g_reg, g_au_sum, g_rec_sum, d_all, d_mouth, far = [], [], [], [], [], [], [], []
    sal_au, sal_mouth = torch.zeros(100, 100), torch.zeros(100, 100)
    for _ in range(a.batches):
        i_src = torch.randint(len(src.images), (a.batch,))
        i_tgt = torch.randint(len(tgt.images), (a.batch,))
        x_src = to_model_range(src.images[i_src])
        y_tgt = to_model_range(tgt.images[i_tgt])
        e_tgt = tgt.au[i_tgt]
        with torch.no_grad():
            e_src = E(x_src)
            f_tgt = E.features(y_tgt)
            x_fake = G(x_src, e_tgt)
        # 1. gradients each term sends to the generated image
        xf = x_fake.clone().requires_grad_(True)
        f_fake = E.features(xf)
        terms = {"au": L.au_loss(f_tgt, f_fake), "rec": L.reconstruction_loss(x_src, xf),
                 "au_sum": L.au_loss_per_sample(f_tgt, f_fake, "sum").mean(),
                 "rec_sum": (x_src - xf).abs().sum() / a.batch,
                 "reg": ((E(xf) - e_tgt) ** 2).sum(1).mean()}
        for k, out in zip(terms, (g_au, g_rec, g_au_sum, g_rec_sum, g_reg)):
            (g,) = torch.autograd.grad(terms[k], xf, retain_graph=True)
            out.append(float(g.norm()))
        # 2. target vs source expressions (0-5)
        a_src, a_tgt = aus(e_src), aus(e_tgt)
        d_all.append(np.abs(a_src - a_tgt).mean())
        dm = np.abs(a_src[:, mouth_cols] - a_tgt[:, mouth_cols])
        d_mouth.append(dm.mean())
        far.append((dm.max(1) >= 1.0).mean())
        # 3. saliency of f_au (eq. 4) and of E's mouth outputs w.r.t. the input
        x = y_tgt.clone().requires_grad_(True)
        other = to_model_range(tgt.images[torch.randint(len(tgt.images), (a.batch,))])
        with torch.no_grad():
            f_other = E.features(other)
        (g4,) = torch.autograd.grad(((E.features(x) - f_other) ** 2).sum(), x)
        sal_au += g4.abs().sum(1).mean(0)
        mouth_k = [names.index(n) for n in ("jawOpen", "mouthSmile_L", "mouthSmile_R") if n in names]
        x = y_tgt.clone().requires_grad_(True)
        (gm,) = torch.autograd.grad(E(x)[:, mouth_k].sum(), x)
        sal_mouth += gm.abs().sum(1).mean(0)

    def share(s: torch.Tensor) -> float:
        return float(s[box].sum() / s.sum())

    n_f = int(np.prod(f_fake.shape[1:]))
    res = dict(
        grad_norm_au_mean=float(np.mean(g_au)), grad_norm_rec_mean=float(np.mean(g_rec)),
        ratio_au_rec_mean=float(np.mean(g_au) / np.mean(g_rec)),
        ratio_au_rec_sum=float(np.mean(g_au_sum) / np.mean(g_rec_sum)),
        ratio_reg_rec_mean=float(np.mean(g_reg) / np.mean(g_rec)),
        feature_count=n_f, pixel_count=3 * 100 * 100,
        au_abs_diff_all=float(np.mean(d_all)), au_abs_diff_mouth=float(np.mean(d_mouth)),
        pairs_mouth_diff_ge1=float(np.mean(far)),
        mouth_area_share=float(area), eq4_grad_mouth_share=share(sal_au), mouth_au_grad_mouth_share=share(sal_mouth),
        n_source=len(src.images), n_target=len(tgt.images), n_identities=len(src.classes),
        generator=str(a.gath) if a.gath else "untrained (width 32)")
    w = max(len(k) for k in res)
    for k, v in res.items():
        print(f"{k:<{w}}  {v:.4g}" if isinstance(v, float) else f"{k:<{w}}  {v}")
    if a.json:
        a.json.write_text(json.dumps(res, indent=2))
    if a.png:
        import cv2

        from thead.media import write_image

        def heat(s: torch.Tensor) -> np.ndarray:
            v = (s / s.max()).numpy()
            img = cv2.applyColorMap((255 * v).astype(np.uint8), cv2.COLORMAP_INFERNO)[:, :, ::-1].copy()
            cv2.rectangle(img, (box[1].start, box[0].start), (box[1].stop - 1, box[0].stop - 1), (0, 255, 0), 1)
            return cv2.resize(img, (300, 300), interpolation=cv2.INTER_NEAREST)

        mean_face = tgt.images.float().mean(0).permute(1, 2, 0).numpy().astype(np.uint8)
        write_image(a.png, np.concatenate([cv2.resize(mean_face, (300, 300)), heat(sal_au), heat(sal_mouth)], 1))


if __name__ == "__main__":
    main()
