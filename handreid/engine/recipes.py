"""Training recipes of the two papers (docs/DESIGN.md §3).

``gpa``: GPA-Net §3.1 — SGD with Nesterov momentum 0.9, weight decay 5e-4,
lr 0.02 (backbone x0.1), x0.1 every 30 epochs, 60 epochs, batch 20, images
resized to 384x384, random flip + colour jitter, label-smoothed CE (Eq. 1-2).

``laga``: LAGA-Net §IV-B — Adam, weight decay 5e-4, linear warm-up from 8e-6
to 8e-4 over 10 epochs, 4e-4 after 40 and 2e-4 after 60 epochs, 70 epochs,
P x K = 5 x 4 batches, label-smoothed CE + 0.1 x batch-hard triplet (margin
1.2, Eq. 8-11), flip-averaged test descriptor. Hands: resize 356x356, random
crop 324x324; bodies: 384x128 resized by 9/8, random crop, random erasing.

``mba``: MBA-Net as its public code (``nathanlem1/MBA-Net``, ``train.py``) trains it, hands only —
Adam, weight decay 5e-4, the same warm-up and x0.5 decays as ``laga`` over 70 epochs, but
batches of 4 reshuffled images (no P x K sampler), label-smoothed CE summed over the three
classifiers and no triplet loss, colour jitter 0.1 / 0.1 / 0.1 before the crop (in a random
order per image), bicubic resizing to 356x356 then a random 324x324 crop and flip, bicubic
324x324 test images with the flip-summed descriptor, and the weights of the epoch with the
best validation accuracy (ensemble of the classifiers' softmax). Its default variant is
``authors`` (shared layer4, 2048-d heads, the code's CAM and SAM-RPE: ``engine.variant``).

Three fields came after the demo records were committed (``triplet_reduction``, ``weights``,
``resize_filter``; also ``Augment.jitter_first/jitter_order``); a run's identity omits them
while they hold the default that reproduces the older behaviour.

``rga`` and ``abd``: the own recipes of RGA-Net and ABD-Net (LAGA-Net Table IV's systems), see
:data:`RGA` and :data:`ABD`; on hand datasets they keep their optimiser, schedule and loss and take
LAGA-Net's hand images (324x324, resize 356 + random crop, flip).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from ..data.augment import Augment
from ..data.datasets import hand_datasets


@dataclass(frozen=True)
class Recipe:
    name: str
    optimizer: str                 # "sgd" | "adam"
    lr: float                      # learning rate of the new layers
    backbone_lr_mult: float        # backbone lr = lr x this (both papers: 0.1)
    weight_decay: float
    momentum: float
    nesterov: bool
    epochs: int
    milestones: tuple[int, ...]    # epochs at which lr is multiplied by gamma
    gamma: float
    warmup_epochs: int
    warmup_start_lr: float
    batch_size: int
    sampler: str                   # "random" | "pk"
    instances: int                 # K of the P x K sampler
    image_size: tuple[int, int]    # network input (H, W) for training and test
    resize_ratio: float            # training images are cached at image_size x ratio, then cropped
    augment: Augment
    loss: str                      # "gpa" (Eq. 1) | "laga" (Eq. 8)
    label_smoothing: float
    part_weight: float             # lambda of GPA-Net Eq. (1)
    triplet_weight: float          # beta of LAGA-Net Eq. (8)
    triplet_margin: float          # alpha of LAGA-Net Eq. (11)
    flip_test: bool                # average the descriptor with the flipped image
    triplet_reduction: str = "mean"    # batch-hard triplet over anchors: "mean" | "sum" (Eq. 11)
    weights: str = "last"              # weights evaluated: "last" epoch | "best_val" accuracy
    resize_filter: str = "bilinear"    # image resizing (cache): "bilinear" | "bicubic"

    @property
    def train_size(self) -> tuple[int, int]:
        """Resolution the training images are cached at (before the random crop)."""
        return (round(self.image_size[0] * self.resize_ratio),
                round(self.image_size[1] * self.resize_ratio))

    def lr_at(self, epoch: int) -> float:
        """Learning rate of the new layers during ``epoch`` (0-based)."""
        if epoch < self.warmup_epochs:
            return self.warmup_start_lr + (self.lr - self.warmup_start_lr) * epoch / self.warmup_epochs
        return self.lr * self.gamma ** sum(epoch >= m for m in self.milestones)

    def with_epochs(self, epochs: int) -> "Recipe":
        """Same recipe over ``epochs``: milestones and warm-up scale in proportion."""
        if epochs == self.epochs:
            return self
        s = epochs / self.epochs
        return replace(self, epochs=epochs,
                       milestones=tuple(max(1, round(m * s)) for m in self.milestones),
                       warmup_epochs=round(self.warmup_epochs * s))

    def with_image_size(self, size: tuple[int, int]) -> "Recipe":
        aug = self.augment if self.augment.crop is None else replace(self.augment, crop=tuple(size))
        return replace(self, image_size=tuple(size), augment=aug)


GPA = Recipe(
    name="gpa", optimizer="sgd", lr=0.02, backbone_lr_mult=0.1, weight_decay=5e-4,
    momentum=0.9, nesterov=True, epochs=60, milestones=(30,), gamma=0.1,
    warmup_epochs=0, warmup_start_lr=0.0, batch_size=20, sampler="random", instances=1,
    image_size=(384, 384), resize_ratio=1.0, augment=Augment(flip=True),
    loss="gpa", label_smoothing=0.1, part_weight=1.0, triplet_weight=0.0,
    triplet_margin=1.2, flip_test=False,
)

LAGA_HAND = Recipe(
    name="laga", optimizer="adam", lr=8e-4, backbone_lr_mult=0.1, weight_decay=5e-4,
    momentum=0.0, nesterov=False, epochs=70, milestones=(40, 60), gamma=0.5,
    warmup_epochs=10, warmup_start_lr=8e-6, batch_size=20, sampler="pk", instances=4,
    image_size=(324, 324), resize_ratio=356 / 324, augment=Augment(flip=True, crop=(324, 324)),
    loss="laga", label_smoothing=0.1, part_weight=1.0, triplet_weight=0.1,
    triplet_margin=1.2, flip_test=True,
)

LAGA_BODY = replace(LAGA_HAND, image_size=(384, 128), resize_ratio=9 / 8,
                    augment=Augment(flip=True, crop=(384, 128), erasing=0.5))

# ---- MBA-Net's own recipe (its public code's train.py defaults)
MBA = replace(
    LAGA_HAND, name="mba", batch_size=4, sampler="random", instances=1, triplet_weight=0.0,
    augment=Augment(flip=True, crop=(324, 324), brightness=0.1, contrast=0.1, saturation=0.1,
                    jitter_first=True, jitter_order="random"),
    weights="best_val", resize_filter="bicubic",
)
# ----


# ---- RGA-Net and ABD-Net (issue 14) -------------------------------------------------------------
_NO_JITTER = {"brightness": 0.0, "contrast": 0.0, "saturation": 0.0}

#: RGA-Net (CVPR 2020 §4.1 and the authors' scripts/run_rgasc_cuhk03.sh + main_imgreid.py): Adam,
#: weight decay 5e-4, one learning rate for all layers, linear warm-up 8e-6 -> 8e-4 over 20 epochs,
#: x0.5 at epochs 80, 120, ..., 360, 600 epochs, batches of 16 identities x 4 images, 256x128 inputs
#: (resize by 9/8 and random crop - the code does so with probability 0.5 -, flip, random erasing
#: 0.5), label-smoothed CE on the BN-neck logits + 1.0 x batch-hard triplet (margin 0.3) on the
#: pooled feature; no flip at test time.
RGA = Recipe(
    name="rga", optimizer="adam", lr=8e-4, backbone_lr_mult=1.0, weight_decay=5e-4,
    momentum=0.0, nesterov=False, epochs=600, milestones=tuple(range(80, 361, 40)), gamma=0.5,
    warmup_epochs=20, warmup_start_lr=8e-6, batch_size=64, sampler="pk", instances=4,
    image_size=(256, 128), resize_ratio=9 / 8,
    augment=Augment(flip=True, crop=(256, 128), erasing=0.5, **_NO_JITTER),
    loss="laga", label_smoothing=0.1, part_weight=1.0, triplet_weight=1.0,
    triplet_margin=0.3, flip_test=False,
)

#: ABD-Net (ICCV 2019 and the command of README_Training_and_Testing_Guides.md): Adam lr 3e-4 for
#: all layers, weight decay 5e-4, x0.1 at epochs 20 and 40, 80 epochs, batch 64 (identities x 4
#: images: the triplet criterion switches on torchreid's RandomIdentitySampler), 384x128 (resize by
#: 9/8 + random crop, flip, random erasing 0.5), label-smoothed CE + 0.1 x batch-hard triplet
#: (margin 1.2), both averaged over the three classifiers (loss "abd"), flip-averaged test
#: descriptor. The O.F./O.W. regularizers come with the model (``abdnet``'s options). Not
#: reproduced: the 10 epochs torchreid trains first with the backbone frozen (``--fixbase-epoch``
#: default): a Recipe has no frozen phase.
ABD = Recipe(
    name="abd", optimizer="adam", lr=3e-4, backbone_lr_mult=1.0, weight_decay=5e-4,
    momentum=0.0, nesterov=False, epochs=80, milestones=(20, 40), gamma=0.1,
    warmup_epochs=0, warmup_start_lr=0.0, batch_size=64, sampler="pk", instances=4,
    image_size=(384, 128), resize_ratio=9 / 8,
    augment=Augment(flip=True, crop=(384, 128), erasing=0.5, **_NO_JITTER),
    loss="abd", label_smoothing=0.1, part_weight=1.0, triplet_weight=0.1,
    triplet_margin=1.2, flip_test=True,
)


def _on_hands(recipe: Recipe) -> Recipe:
    """A body recipe with LAGA-Net's hand images (no random erasing, no colour jitter)."""
    return replace(recipe, image_size=LAGA_HAND.image_size, resize_ratio=LAGA_HAND.resize_ratio,
                   augment=Augment(flip=True, crop=LAGA_HAND.image_size, **_NO_JITTER))
# ---- end RGA-Net and ABD-Net ---------------------------------------------------------------------

RECIPES = ("gpa", "laga", "mba", "rga", "abd")


def get_recipe(name: str, dataset: str) -> Recipe:
    """The recipe ``name`` for ``dataset`` (LAGA-Net's differs for hand and body images)."""
    if name == "gpa":
        return GPA
    if name == "laga":
        return LAGA_HAND if dataset in hand_datasets() else LAGA_BODY
    if name == "mba":
        if dataset not in hand_datasets():
            raise ValueError(f"recipe 'mba' is MBA-Net's code for hand images; {dataset!r} is not one of "
                             f"{', '.join(hand_datasets())}")
        return MBA
    if name in ("rga", "abd"):
        recipe = RGA if name == "rga" else ABD
        return _on_hands(recipe) if dataset in hand_datasets() else recipe
    raise ValueError(f"unknown recipe {name!r}; expected one of {', '.join(RECIPES)}")
