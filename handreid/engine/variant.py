"""Paper text against the authors' public code, as one run parameter ``variant`` (issue 13).

The papers (GPA-Net, LAGA-Net) and the only public code of this line of work
(``nathanlem1/MBA-Net``: ``train.py``, ``model/``) differ in places that move a result for reasons
that have nothing to do with the methods. ``variant`` selects one side for all of them at once:

================  =================================  =======================================
choice            ``"paper"`` (the papers' text)     ``"authors"`` (the public code)
================  =================================  =======================================
CAM energy        softmax(K Q^T), Eq. (1)            softmax(max - K Q^T)
SAM-RPE           axial reading of Eq. (4)-(7)       the code's Eq. (4)-(7), square maps only
layer4            one per branch                     one, shared by the branches
reduction FC      2048 -> 1024                       2048 -> 2048
triplet           summed over anchors, Eq. (11)      (no triplet in the code: the recipe's)
weights           (not settled: the recipe's)        best validation accuracy
colour jitter     (not in the papers: the recipe's)  0.1/0.1/0.1, first, random order
resize filter     (not in the papers: the recipe's)  bicubic
================  =================================  =======================================

``None`` means "not settled by this side": the recipe's value (recipe fields) or the model's
default (model options) stays. The default run parameter ``variant=None`` applies the recipe's
default variant (:data:`RECIPE_VARIANT`: ``mba`` -> ``"authors"``, the others none), i.e. today's
behaviour, and is not written into the run identity. Descriptors are extracted in float32 in
every variant (``engine.evaluate``). The model options apply to the LAGA-Net family only
(:data:`VARIANT_MODELS`); options given explicitly in ``method_options`` win over the variant's.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from .recipes import Recipe

__all__ = ["RECIPE_VARIANT", "VARIANTS", "VARIANT_MODELS", "Variant", "apply_variant", "variant_model_options"]


@dataclass(frozen=True)
class Variant:
    """One side of every paper/code choice; ``None``: this side does not settle it."""

    name: str
    cam_energy: str | None            # model option (LAGA-Net, MBA-Net): "paper" | "authors"
    sam_rpe: str | None               # model option: "axial" | "literal"
    shared_layer4: bool | None        # model option
    reduction_dim: int | None         # model option
    triplet_reduction: str | None     # recipe: "sum" | "mean"
    weights: str | None               # recipe: "last" | "best_val"
    jitter: tuple[float, float, float] | None   # recipe augment: brightness, contrast, saturation
    jitter_first: bool | None         # recipe augment
    jitter_order: str | None          # recipe augment: "fixed" | "random"
    resize_filter: str | None         # recipe: "bilinear" | "bicubic"


VARIANTS = {
    "paper": Variant("paper", cam_energy="paper", sam_rpe="axial", shared_layer4=False, reduction_dim=1024,
                     triplet_reduction="sum", weights=None, jitter=None, jitter_first=None,
                     jitter_order=None, resize_filter=None),
    "authors": Variant("authors", cam_energy="authors", sam_rpe="literal", shared_layer4=True,
                       reduction_dim=2048, triplet_reduction=None, weights="best_val",
                       jitter=(0.1, 0.1, 0.1), jitter_first=True, jitter_order="random",
                       resize_filter="bicubic"),
}

#: The variant a recipe implies when the run parameter is None.
RECIPE_VARIANT: dict[str, str] = {"mba": "authors"}

#: Models the variant's model options apply to (the builders that take them).
VARIANT_MODELS = ("laganet", "mbanet")
MODEL_FIELDS = ("cam_energy", "sam_rpe", "shared_layer4", "reduction_dim")


def resolve_variant(variant: str | None, recipe: str) -> str | None:
    """The variant a run uses: the parameter, else its recipe's default, else None (today's)."""
    return variant if variant is not None else RECIPE_VARIANT.get(recipe)


def variant_model_options(variant: str | None, method: str) -> dict:
    """Model options the variant sets for ``method`` ({} for None or a model outside the family)."""
    if variant is None or method not in VARIANT_MODELS:
        return {}
    v = VARIANTS[variant]
    return {k: getattr(v, k) for k in MODEL_FIELDS if getattr(v, k) is not None}


def apply_variant(recipe: Recipe, variant: str | None) -> Recipe:
    """``recipe`` with the variant's training and data choices."""
    if variant is None:
        return recipe
    v = VARIANTS[variant]
    changes = {k: getattr(v, k) for k in ("triplet_reduction", "weights", "resize_filter")
               if getattr(v, k) is not None}
    aug = {k: getattr(v, k) for k in ("jitter_first", "jitter_order") if getattr(v, k) is not None}
    if v.jitter is not None:
        aug.update(zip(("brightness", "contrast", "saturation"), v.jitter))
    if aug:
        changes["augment"] = replace(recipe.augment, **aug)
    return replace(recipe, **changes)


#: Fields added after the demo records were committed, with the value that reproduces the older
#: behaviour: a run identity omits them at that value, so every older run id stays the same.
LATER_DEFAULTS = {
    "recipe": {"triplet_reduction": "mean", "weights": "last", "resize_filter": "bilinear"},
    "augment": {"jitter_first": False, "jitter_order": "fixed"},
    "method_options": {"cam_energy": "paper", "sam_rpe": "axial"},
}


def drop_later_defaults(d: dict, part: str) -> dict:
    """``d`` without the :data:`LATER_DEFAULTS` of ``part`` that hold their default."""
    later = LATER_DEFAULTS[part]
    return {k: v for k, v in d.items() if not (k in later and v == later[k])}
