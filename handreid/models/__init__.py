"""Models: one registry, one forward contract.

>>> from handreid.models import build_model, available_models
>>> model = build_model("gpanet", num_classes=72, hp=3, vp=1, pretrained=False)
>>> out = model(x)          # model.train(): a ReIDOutput (logits, embeddings, features, names)
>>> feat = model.eval()(x)  # model.eval():  the paper's test descriptor, shape (B, model.descriptor_dim)

Every registered factory has the signature ``factory(num_classes, pretrained=False, **options)``
and returns a :class:`~handreid.models.heads.ReIDModel`. Options are plain keyword
arguments (timm style). Adding a model::

    from handreid.models import register_model

    @register_model                    # registered under the function name
    def mynet(num_classes, pretrained=False, depth=3): ...

    @register_model("other-name")      # or under an explicit name
    def _factory(num_classes, pretrained=False): ...

(``register_model`` lives in :mod:`handreid.models.registry`) and import its module at the
bottom of this file.
"""

from __future__ import annotations

from .heads import ReductionHead, ReIDModel, ReIDOutput
from .registry import available_models, build_model, model_options, register_model

__all__ = [
    "ReIDOutput",
    "ReIDModel",
    "ReductionHead",
    "available_models",
    "build_model",
    "model_options",
    "register_model",
]

# The modules that register models.
from . import abdnet, gpanet, laganet, rganet, vgg  # noqa: E402,F401
