"""The model registry (timm's ``_registry`` pattern): one name -> one factory.

Every registered factory has the signature ``factory(num_classes, pretrained=False, **options)``
and returns a :class:`~handreid.models.heads.ReIDModel` (docs/DESIGN.md §2). Model modules
import :func:`register_model` from here; :mod:`handreid.models` re-exports the public functions.
"""

from __future__ import annotations

import inspect
from typing import Callable

from torch import nn

from .backbone import trunk_shape

__all__ = ["available_models", "build_model", "model_options", "register_model"]

_REGISTRY: dict[str, Callable[..., nn.Module]] = {}


def register_model(fn_or_name: Callable | str | None = None, *, name: str | None = None):
    """Register a model factory; usable as ``@register_model`` or ``@register_model("name")``.

    The factory must accept ``num_classes`` and ``pretrained`` as its first two parameters.
    Registering a name twice raises ``ValueError``.
    """

    def _register(fn: Callable, key: str | None) -> Callable:
        key = key or fn.__name__
        if not isinstance(key, str) or not key:
            raise ValueError(f"register_model: model name must be a non-empty string, got {key!r}")
        params = inspect.signature(fn).parameters
        if "num_classes" not in params or "pretrained" not in params:
            raise TypeError(
                f"register_model: factory {fn.__qualname__!r} for {key!r} must accept "
                "'num_classes' and 'pretrained' parameters"
            )
        if key in _REGISTRY and _REGISTRY[key] is not fn:
            raise ValueError(f"register_model: a model named {key!r} is already registered")
        _REGISTRY[key] = fn
        return fn

    if callable(fn_or_name):
        return _register(fn_or_name, name)
    key = fn_or_name if fn_or_name is not None else name
    return lambda fn: _register(fn, key)


def available_models() -> list[str]:
    """Sorted names accepted by :func:`build_model`."""
    return sorted(_REGISTRY)


def _factory(name: str) -> Callable:
    try:
        return _REGISTRY[name]
    except (KeyError, TypeError):
        raise ValueError(
            f"unknown model {name!r}; available models: {', '.join(available_models())}"
        ) from None


def model_options(name: str) -> dict[str, object]:
    """The keyword options of model ``name`` with their defaults (``num_classes`` excluded)."""
    sig = inspect.signature(_factory(name))
    return {
        k: p.default
        for k, p in sig.parameters.items()
        if k != "num_classes" and p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)
    }


def build_model(name: str, num_classes: int, pretrained: bool = False, trunk=None, **options) -> nn.Module:
    """Build registered model ``name`` for ``num_classes`` training identities.

    ``trunk``: the :class:`~handreid.models.backbone.TrunkShape` (or its dict) of the backbone;
    None is the papers' full ResNet50 / VGG19-bn, the only shape with ImageNet weights.

    ``pretrained=True`` loads ImageNet weights for the backbone through torchvision's weight
    enums, downloading a missing file into ``torch.hub.get_dir()/checkpoints`` with a short timeout
    and torchvision's hash check (:mod:`handreid.models.weights`; offline, the error says which file
    to put where, or ``python -m handreid weights`` fetches them beforehand). Unknown names raise
    ``ValueError``; unknown options raise
    ``TypeError`` naming the option and listing the valid ones.
    """
    fn = _factory(name)
    params = inspect.signature(fn).parameters
    if not any(p.kind is p.VAR_KEYWORD for p in params.values()):
        valid = [k for k in params if k not in ("num_classes", "pretrained")]
        unknown = [k for k in options if k not in valid]
        if unknown:
            raise TypeError(
                f"build_model({name!r}): unknown option(s) {', '.join(map(repr, unknown))}; "
                f"valid options: {', '.join(valid) if valid else '(none)'}"
            )
    if isinstance(num_classes, bool) or not isinstance(num_classes, int) or num_classes < 1:
        raise ValueError(f"build_model({name!r}): num_classes must be a positive int, got {num_classes!r}")
    with trunk_shape(trunk):
        return fn(num_classes, pretrained=bool(pretrained), **options)
