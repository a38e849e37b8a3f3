"""The forward contract every registered model keeps (docs/DESIGN.md §2), checked for each one.

A model registered later (``@register_model``) is covered here without a line of new test code.
"""

from __future__ import annotations

import pytest
import torch

from handreid.models import available_models, build_model
from handreid.models.heads import ReIDModel, ReIDOutput

NUM_CLASSES = 7
#: Small but valid inputs: every model sees a layer-4 map of at least 2 x 2.
SIZE = (64, 64)


@pytest.fixture(scope="module", params=available_models())
def built(request):
    torch.manual_seed(0)
    return request.param, build_model(request.param, num_classes=NUM_CLASSES)


def test_builds_as_a_reid_model(built):
    name, model = built
    assert isinstance(model, ReIDModel), f"{name} must return a ReIDModel"
    assert isinstance(model.descriptor_dim, int) and model.descriptor_dim > 0
    assert model.num_classifiers >= 1


def test_train_forward_gives_one_logit_and_embedding_per_classifier(built):
    name, model = built
    model.train()
    out = model(torch.randn(4, 3, *SIZE))
    assert isinstance(out, ReIDOutput)
    assert len(out.logits) == len(out.names) == model.num_classifiers
    assert all(z.shape == (4, NUM_CLASSES) for z in out.logits), name
    assert all(e.dim() == 2 and e.shape[0] == 4 for e in out.embeddings), name
    assert len(set(out.names)) == len(out.names), f"{name}: classifier names must be distinct"


def test_eval_forward_is_the_descriptor(built):
    name, model = built
    model.eval()
    with torch.no_grad():
        x = torch.randn(3, 3, *SIZE)
        feat = model(x)
        again = model(x)
    assert feat.shape == (3, model.descriptor_dim), name
    assert feat.dtype == torch.float32 and torch.isfinite(feat).all()
    torch.testing.assert_close(feat, again, rtol=0, atol=0)  # eval mode is deterministic (no dropout)


def test_backbone_and_new_parameters_partition_all_parameters(built):
    name, model = built
    backbone = [id(p) for p in model.backbone_parameters()]
    new = [id(p) for p in model.new_parameters()]
    assert len(set(backbone)) == len(backbone) and len(set(new)) == len(new)
    assert not set(backbone) & set(new), f"{name}: a parameter is in both groups"
    assert set(backbone) | set(new) == {id(p) for p in model.parameters()}, f"{name}: a parameter is in no group"
    assert backbone, f"{name}: the backbone group is empty"
