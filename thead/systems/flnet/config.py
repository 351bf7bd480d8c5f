"""FLNet settings, declared once: ``thead train flnet`` takes its option defaults from here; ``make-bank`` and
``synthesize flnet`` are generated from their declarations (no torch import, so ``thead --help`` stays fast)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from thead.declare import REQUIRED, Config, Input, StageDecl, TrainerDecl, retuned, setting
from thead.train.settings import TrainSettings


REC_A_REGIONS = ("all", "background")  # FLNetConfig.rec_a_region


@dataclass
class FLNetConfig(TrainSettings):
    steps: int = retuned(TrainSettings, "steps", 20000)
    batch_size: int = retuned(TrainSettings, "batch_size", 8)  # per process
    lr: float = retuned(TrainSettings, "lr", 1e-4)
    beta1: float = 0.5
    beta2: float = 0.999
    width: int = retuned(TrainSettings, "width", 64)  # generator E: 64 -> 256 channels in the paper
    d_width: int = setting(64, "Channels of the discriminator's first conv.", low=4)
    variant: str = setting("full", "full (A+W), appearance-only (A) or warp-only (W).")
    bank_size: int = setting(5, "N bank images (paper ablation: 1, 3, 5).", low=1)
    bank_pool: int = setting(5, "Evenly spaced picks by mouth openness, of which the first N form the bank (paper: "
                             "5; equal to --bank-size for N evenly spaced).", low=1)
    margin: float = setting(0.0, "Warp margin M, px (0: 40 px at 224, scaled to the crop).", low=0.0)
    lambda_sv: float = setting(1.0, "Weight of the V sparsity loss (eq. 17).", low=0.0)
    lambda_tv: float = setting(1e-5, "Weight of the TV losses.", low=0.0)
    lambda_rec: float = setting(250.0, "Weight of the reconstruction loss.", low=0.0)
    lambda_p: float = setting(1.0, "Weight of the perceptual loss.", low=0.0)
    lambda_adv: float = setting(1.0, "Weight of the adversarial loss.", low=0.0)
    lambda_id: float = setting(1.0, "Weight of the identity term (dlib face-descriptor distance to the target; not in "
                               "the paper; 0: eq. 17 exactly).", low=0.0)  # perceptual.identity_loss
    k_floor: float = setting(0.3, "Lower bound of the reconstruction heatmap K (eq. 12-13; paper 0.3): the weight of "
                             "hair and background against the face's 1.", low=0.0, high=1.0)
    lambda_entropy: float = setting(0.0, "Weight of the selection masks' entropy (not in the paper: pushes each pixel "
                                    "to copy one bank image).", low=0.0)  # losses.mask_entropy
    lambda_rec_a: float = setting(0.0, "Weight of a reconstruction loss on the appearance stream alone (not in the "
                                  "paper, which trains it only through the merge: keeps it alive once the warps are "
                                  "good; 0: eq. 17).", low=0.0)  # losses.generator_losses
    rec_a_region: str = setting("all", "Where --lambda-rec-a weighs the appearance stream's error: all (the target's "
                                "heatmap K, as L_rec_w) or background (1 - K without its floor: far from the "
                                "landmarks, where a face-centred crop's backdrop and hair move in ways the landmarks "
                                "do not tell and the bank's warps cannot land).", choices=REC_A_REGIONS
                                )  # losses.appearance_weight
    prior: str = setting("tps-head", "Warp prior: tps (a thin-plate flow from the bank's to the target's landmarks, "
                         "corrected by the network; thead) or none (the paper's learned warps).")
    field: str = setting("sparse", "Landmark difference field: sparse (the paper's) or dense (offsets spread over the "
                         "face by normalized convolution).")  # fields.dense_difference_field
    zoom: float = setting(0.0, "Random zoom-in of the training targets, up to 1 + this, with a shift it leaves room "
                          "for (not in the paper: new head positions; 0: off).", low=0.0, high=0.5)  # data.zoom_targets
    warped_input: bool = setting(False, "E also takes the bank warped by the landmark prior (not in the paper; "
                                 "needs a tps prior; a finetune checkpoint without it is widened with zero weights)."
                                 )  # model.FLNetGenerator
    d_steps: int = setting(5, "Discriminator updates per generator update (paper: 5; 1: one update on the step's own "
                           "fakes, ~3x faster on a CPU).", low=0)
    ema: float = setting(0.999, "Decay of the generator's weight average used for synthesis (not in the paper; 0: "
                         "off).", low=0.0, high=0.99999)
    history: int = setting(50, "Generated images kept for the discriminator (Shrivastava).", low=0)
    holdout: float = setting(0.2, "Tail fraction of every clip never trained on (for evaluate flnet; 0: train on "
                             "every frame, e.g. when other people are held out).", low=0.0, high=1.0, high_open=True)
    gap: int = 3
    fixed_bank: bool = setting(False, "Every sample of a person uses the bank synthesis will use (make-bank's choice "
                               "from the training frames) instead of random ones: person-specific fine-tuning (not "
                               "in the paper).")  # data.BankSampler


# ---- FLNet's own per-item stage, declared once (thead.declare; the command is generated by thead.cli.stages) -----


@dataclass
class MakeBankConfig(Config):
    bank_size: int = setting(5, "N images per bank (FLNet: 5).", low=1)
    frames: str = setting("0:0.8", "Part of each clip to choose from, as fractions START:END (default: the frames "
                          "'train flnet --holdout 0.2' trains on).", metavar="START:END")
    identity: Optional[list[str]] = setting(None, "Only these identities (repeatable; default all).")

    def run_kwargs(self) -> dict:
        """Raises ValueError: ``frames`` not START:END numbers."""
        try:
            a, b = (float(x) for x in self.frames.split(":"))
        except ValueError:
            raise ValueError(f"--frames {self.frames!r}: expected START:END fractions, e.g. 0:0.8") from None
        return dict(bank_size=self.bank_size, frame_range=(a, b),
                    identities=list(self.identity) if self.identity else None)


MAKE_BANK = StageDecl(
    "make-bank", "thead.systems.flnet.bank:make_banks", MakeBankConfig, ("thead.frames",), "thead.bank",
    "FLNet source banks: per person, N crops evenly spaced in mouth openness (closed to open), with landmarks.",
    "thead make-bank work/crops/manifest.json --bank-size 5 -o work/bank",
    "A thead.frames crop manifest (thead crop-faces).", "thead_out/bank", single_input=True)


RETARGET = ("auto", "on", "off")  # synthesize flnet --retarget (synthesize.retarget)


@dataclass
class SynthesizeFLNetConfig(Config):
    checkpoint: Path = setting(REQUIRED, "A 'thead train flnet' checkpoint (last.pt).")
    bank: Path = setting(REQUIRED, "thead.bank manifest (thead make-bank) or a folder of same-size face crops.")
    bank_item: Optional[str] = setting(None, "Which bank of a manifest holding several.")
    retarget: str = setting("auto", "auto (driving videos: on; .npy: off), on or off: move the driving landmarks onto "
                            "the bank person's face (relative motion).", choices=RETARGET)
    fps: float = setting(25.0, "Frame rate of the output for .npy targets.", low=0.0, low_open=True)
    max_frames: int = setting(0, "Stop after this many frames (0: all).", low=0)
    device: str = setting("cpu", "cpu, cuda or auto.")

    RENAME = {"retarget": "retarget_mode"}


SYNTHESIZE_FLNET = StageDecl(
    "flnet", "thead.systems.flnet.synthesize:run", SynthesizeFLNetConfig, ("videos", ".npy landmarks"),
    "thead.synthesis",
    "FLNet: the bank's person with each target face shape, frame by frame, into an MP4 (driving audio kept), plus a "
    "per-frame view of the selection masks M_w and merge mask V (paper Fig. 5).",
    "thead synthesize flnet --checkpoint runs/flnet/last.pt --bank work/bank/manifest.json driving.mp4;  "
    "--landmarks target_lmk.npy --fps 25",
    "Driving video(s), or .npy target landmarks (T,68,2) in crop px of the model's size.", "thead_out/flnet",
    inputs_option="--landmarks")


TRAIN_FLNET = TrainerDecl(
    "flnet", "thead.systems.flnet.train:train_flnet", FLNetConfig,
    (Input("manifest", "thead.frames crop manifest (thead crop-faces); meta.identity groups clips into people."),
     Input("vgg_weights", "torchvision VGG16 state dict for the perceptual loss.", required=False),
     Input("face_net", "Without --vgg-weights: a 'train aue' checkpoint as the perceptual network (default: dlib's "
           "face-recognition ResNet).", required=False),
     Input("finetune", "A general FLNet checkpoint to start from (G, D and their average; fresh optimizers): e.g. "
           "examples/weights/flnet_pretrained.pt, trained on many people. Its width is used.", required=False)),
    "Train FLNet (a bank of N crops + target landmarks -> that person with that face shape; FLNet eq. 1-17).\n\n"
    "Input kind: thead.frames (crops). Output kind: thead.checkpoint (+ samples.png with the masks).",
    "thead train flnet --manifest work/crops/manifest.json -o runs/flnet --steps 20000 --device cuda   (or: torchrun "
    "--nproc-per-node 4 -m thead train flnet ...)", "runs/flnet", validate="thead.systems.flnet.train:check_config")
