"""FACIAL speed on this machine (what is built so far): audio-feature real-time factor (mfcc; deepspeech with a
wav2vec2-base-sized random model when no --model is given), and FACIAL-GAN training steps/s at batch 16, T = 128
against the official code's way of running G_loc (a Python loop over the 128 frames), measured in the same process,
and the SyncNet evaluation's throughput (random weights: the speed does not depend on them).

    python bench/speed_facial.py [--batch 16] [--steps 3] [--model wav2vec2_dir] [--device cpu]

The issue's reference: the official FACIAL-GAN takes ~2 s per training step at batch 16, T = 128 on the 2-core
machine; the aim is >= 3x that.
"""

from __future__ import annotations

import argparse
import os
import resource
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared" / "data"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--steps", type=int, default=3)
    ap.add_argument("--model", default=None, help="local wav2vec2 CTC folder for the deepspeech timing")
    ap.add_argument("--device", default="cpu")
    a = ap.parse_args()
    import numpy as np
    import torch

    from thead.audio.features import DeepSpeechFeatures, audio_features
    from thead.media import load_audio
    from thead.systems.facial import losses as L
    from thead.systems.facial.model import FacialGenerator, ParamDiscriminator

    print(f"machine: {os.cpu_count()} cores, torch {torch.__version__}, threads {torch.get_num_threads()}, "
          f"device {a.device}")
    speech = load_audio(SHARED / "audio" / "GeneFace_zozo.wav")
    dur = len(speech) / 16000
    t = time.perf_counter()
    audio_features(speech, 25.0, int(dur * 25))
    print(f"mfcc: real-time factor {(time.perf_counter() - t) / dur:.4f} ({dur:.1f} s of speech)")
    model_dir = a.model
    if model_dir is None:  # a random model of wav2vec2-base's size: same cost as the real one
        from transformers import Wav2Vec2Config, Wav2Vec2ForCTC
        import json

        model_dir = Path(tempfile.mkdtemp(prefix="thead-w2v-"))
        Wav2Vec2ForCTC(Wav2Vec2Config(vocab_size=32)).save_pretrained(model_dir)
        vocab = {"<pad>": 0, "<s>": 1, "</s>": 2, "<unk>": 3, "|": 4, **{chr(65 + i): 5 + i for i in range(26)},
                 "'": 31}
        (model_dir / "vocab.json").write_text(json.dumps(vocab))
        print("deepspeech: random wav2vec2-base-sized model (no --model given)")
    ds = DeepSpeechFeatures(Path(model_dir), a.device)
    t = time.perf_counter()
    ds(speech, 25.0, int(dur * 25))
    print(f"deepspeech (wav2vec2): real-time factor {(time.perf_counter() - t) / dur:.3f}")

    from thead.face.facemodel import load_face_model
    from thead.face.render import Rasterizer
    from thead.systems.facial.render import FaceRenderer, Pose

    fm = load_face_model()
    for size in (128, 256):
        R = FaceRenderer(fm, np.zeros(fm.k_id, np.float32), np.full((fm.n_vertices, 3), 0.6, np.float32), size, size)
        rng = np.random.default_rng(0)
        exps = rng.uniform(0, 0.5, (60, fm.k_exp)).astype(np.float32)
        pose = Pose(np.array([0.05, 0.1, 0.0]), np.array([size / 2, size / 2]), size / 30)
        R(exps[0], pose, 0.5)  # warm-up (imports, GL context)
        t = time.perf_counter()
        for e in exps:
            R(e, pose, 0.5)
        full = len(exps) / (time.perf_counter() - t)
        ras = Rasterizer(size, size)
        from thead.face.fit import project_vertices

        px = project_vertices(fm.mean_shape, pose.rotation, pose.translation, pose.scale)
        t = time.perf_counter()
        for _ in range(60):
            ras.render(px, fm.triangles, np.ones((fm.n_vertices, 3), np.float32), cull_back=True)
        raster = 60 / (time.perf_counter() - t)
        print(f"render {size}x{size}: {full:.0f} frames/s (shape + shading + raster + eye map); rasteriser alone "
              f"{raster:.0f} frames/s ({len(fm.triangles)} triangles, with read-back)")

    P, D, T, B = 71, 29, 128, a.batch
    gen = torch.Generator().manual_seed(0)
    batch = dict(audio=torch.randn(B, T, D, generator=gen), windows=torch.randn(B, T, 16, D, generator=gen),
                 params=torch.randn(B, T, P, generator=gen))
    w = L.FacialWeights()

    def step_time(looped: bool) -> float:
        torch.manual_seed(0)
        G, Dn = FacialGenerator(D, P).to(a.device), ParamDiscriminator(P).to(a.device)
        og, od = torch.optim.Adam(G.parameters(), 1e-4), torch.optim.Adam(Dn.parameters(), 1e-4)
        b = {k: v.to(a.device) for k, v in batch.items()}
        times = []
        for _ in range(a.steps + 1):
            t0 = time.perf_counter()
            if looped:  # the official code: G_loc called once per frame
                z = G.tem(b["audio"], b["params"][:, 0])
                c = torch.stack([G.loc(b["windows"][:, k]) for k in range(T)], 1)
                fake = G.fc(torch.cat([z, c], -1))
            else:
                fake = G(b["audio"], b["windows"], b["params"][:, 0])
            s = Dn(torch.cat([b["params"], fake.detach()]))
            ld = L.d_loss(s[:B], s[B:])
            od.zero_grad()
            ld.backward()
            od.step()
            lg = L.regression_losses(fake, b["params"], w)["reg"] + w.gan * L.g_loss(Dn(fake))
            og.zero_grad()
            lg.backward()
            og.step()
            if a.device.startswith("cuda"):
                torch.cuda.synchronize()
            times.append(time.perf_counter() - t0)
        return float(np.mean(times[1:]))

    batched, looped = step_time(False), step_time(True)
    print(f"FACIAL-GAN train (batch {B}, T {T}, P {P}, deepspeech D {D}): {1 / batched:.2f} steps/s "
          f"({batched:.3f} s/step); per-frame G_loc loop as in the official code: {looped:.3f} s/step "
          f"(batched is x{looped / batched:.2f}); peak RSS "
          f"{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")

    import subprocess

    from thead.face.landmarks import LandmarkExtractor
    from thead.media import FrameReader
    from thead.metrics.syncnet import SyncNet, score_video

    with tempfile.TemporaryDirectory() as tmp:
        clip = Path(tmp) / "clip.mp4"
        subprocess.run(["ffmpeg", "-v", "error", "-y", "-i", str(SHARED / "videos" / "video-retalking_face_4.mp4"),
                        "-t", "4", str(clip)], check=True)
        reader = FrameReader(clip)
        lm = LandmarkExtractor().video(reader).landmarks
        torch.manual_seed(0)
        net = SyncNet()
        t = time.perf_counter()
        r = score_video(net, clip, lm, reader.fps, device=a.device)
        dt = time.perf_counter() - t
        print(f"SyncNet evaluation (decode at 25 fps + crops + both streams + offset search, 4 s of "
              f"{reader.info.width}x{reader.info.height} video): {r.n_windows / dt:.1f} windows/s, real-time "
              f"factor {dt / 4:.2f}")


if __name__ == "__main__":
    main()
