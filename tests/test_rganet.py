"""RGA-Net (RGA-SC): reference parameter count, input sizes, RGA-S / RGA-C against their equations.

Reference numbers: microsoft/Relation-Aware-Global-Attention-Networks (commit cdc9965), instantiated
in a scratch folder outside the project with this project's torch as
``ResNet50_RGA_Model(pretrained=False, num_feat=2048, height=384, width=128, dropout=0,
num_classes=751, branch_name="rgasc")``: ``sum(p.numel() for p in model.parameters())`` =
34,883,928; eval forward at 384 x 128 returns 2048-d ``feat_`` and ``feat``. The same class built
with height = width = 324 fails at layer2 ("expected input[1, 3362, 41, 41] to have 3200
channels"): it sizes its layers from 324 // 8 = 40 instead of the real 41-row map.
"""

from __future__ import annotations

import re

import pytest
import torch

from handreid.engine.recipes import get_recipe
from handreid.models import available_models, build_model, model_options
from handreid.models.rganet import PointwiseConv1d, RGAChannel, RGASpatial, stage_sizes

REFERENCE_PARAMS_384x128_751 = 34_883_928


@pytest.fixture(scope="module")
def body_model():
    torch.manual_seed(0)
    return build_model("rganet", 751, image_size=(384, 128))


def test_registered_with_image_size_option():
    assert "rganet" in available_models()
    assert model_options("rganet")["image_size"] is None


def test_parameter_count_and_descriptor_equal_the_reference(body_model):
    assert sum(p.numel() for p in body_model.parameters()) == REFERENCE_PARAMS_384x128_751
    body_model.eval()
    with torch.no_grad():
        d = body_model(torch.randn(2, 3, 384, 128))
    assert d.shape == (2, 2048) == (2, body_model.descriptor_dim)
    # the descriptor is the BN-neck vector of the pooled feature
    with torch.no_grad():
        f = body_model.extract(torch.zeros(1, 3, 384, 128))[0]
        torch.testing.assert_close(body_model(torch.zeros(1, 3, 384, 128)), body_model.heads[0].bn(f))


def test_parameter_groups_cover_every_parameter_once(body_model):
    bb = {id(p) for p in body_model.backbone_parameters()}
    new = {id(p) for p in body_model.new_parameters()}
    assert not bb & new and bb | new == {id(p) for p in body_model.parameters()}
    assert {id(p) for p in body_model.rga.parameters()} <= new
    assert {id(p) for p in body_model.backbone.parameters()} == bb


@pytest.mark.parametrize("size", [(324, 324), (64, 64), (384, 128)])
def test_stage_sizes_are_the_real_feature_maps(size):
    torch.manual_seed(0)
    model = build_model("rganet", 5, image_size=size).eval()
    seen = []
    hooks = [getattr(model.backbone, f"layer{i}").register_forward_hook(
        lambda m, i, o: seen.append(tuple(o.shape[2:]))) for i in range(1, 5)]
    with torch.no_grad():
        assert model(torch.randn(1, 3, *size)).shape == (1, 2048)
    for h in hooks:
        h.remove()
    assert seen == stage_sizes(size)
    if size == (324, 324):
        assert seen == [(81, 81), (41, 41), (21, 21), (21, 21)]


def test_train_output_bn_neck(body_model):
    model = build_model("rganet", 7, image_size=(64, 64)).train()
    out = model(torch.randn(4, 3, 64, 64))
    assert out.names == ("global",)
    f = out.features[0]
    assert f.shape == out.embeddings[0].shape == (4, 2048)
    torch.testing.assert_close(out.embeddings[0], f)                     # triplet: pooled f
    torch.testing.assert_close(out.logits[0], model.heads[0].classifier(model.heads[0].bn(f)))
    assert model.heads[0].classifier.bias is None and not model.heads[0].bn.bias.requires_grad


def test_lazy_build_and_clear_errors():
    """Without image_size the size-dependent layers come from the first input: the same network as
    one built for that size; another size afterwards is an error that says what to do."""
    torch.manual_seed(0)
    lazy = build_model("rganet", 5).eval()
    assert lazy.rga[0].spatial.attention is None
    with torch.no_grad():
        assert lazy(torch.randn(1, 3, 64, 64)).shape == (1, 2048)
    eager = build_model("rganet", 5, image_size=(64, 64))
    assert [tuple(p.shape) for p in lazy.parameters()] == [tuple(p.shape) for p in eager.parameters()]
    msg = "RGA-S: built for 16x16 feature maps, got (1, 256, 24, 8)"
    with pytest.raises(ValueError, match=re.escape(msg)):
        lazy(torch.randn(1, 3, 96, 32))
    with pytest.raises(ValueError, match=r"rganet: image_size must be None or \(height, width\) with sides >= 32"):
        build_model("rganet", 5, image_size=(16, 16))


# ---------------------------------------------------------------------------- the equations
def _randomise_bn(module):
    for m in module.modules():
        if isinstance(m, torch.nn.modules.batchnorm._BatchNorm):
            m.running_mean.uniform_(-0.5, 0.5)
            m.running_var.uniform_(0.5, 1.5)
            m.weight.data.uniform_(0.5, 1.5)
            m.bias.data.uniform_(-0.5, 0.5)


def _layer(seq, v, relu=True):
    """Conv1d(k=1, no bias) + eval BatchNorm1d (+ ReLU) on one vector v, written out."""
    conv, bn = seq[0], seq[1]
    z = conv.weight[:, :, 0] @ v
    z = (z - bn.running_mean) / torch.sqrt(bn.running_var + bn.eps) * bn.weight + bn.bias
    return torch.relu(z) if relu else z


def _attention_reference(att, nodes):
    """Zhang et al. §3.2 for nodes x_1..x_N (list of d-vectors), with explicit loops:
    r_ij = theta(x_i) . phi(x_j); r_i = [r_i1..r_iN, r_1i..r_Ni]; y_i = [mean(psi(x_i)), varphi(r_i)];
    a_i = sigmoid(BN(W2 ReLU(BN(W1 y_i))))."""
    n = len(nodes)
    theta = [_layer(att.theta, x) for x in nodes]
    phi = [_layer(att.phi, x) for x in nodes]
    R = torch.tensor([[float(theta[i] @ phi[j]) for j in range(n)] for i in range(n)], dtype=torch.float64)
    a = []
    for i in range(n):
        r_i = torch.cat([R[i, :], R[:, i]])
        y_i = torch.cat([_layer(att.psi, nodes[i]).mean().reshape(1), _layer(att.varphi, r_i)])
        h = _layer(att.w[0:3], y_i)
        a.append(torch.sigmoid(_layer(att.w[3:5], h, relu=False))[0])
    return torch.stack(a)


@pytest.mark.parametrize("kind", ["spatial", "channel"])
def test_rga_module_equals_its_equations(kind):
    """RGA-S: a node = a position (its C channel values), one weight per position; RGA-C: a node = a
    channel (its H*W map), one weight per channel."""
    torch.manual_seed(1)
    c, h, w = (8, 3, 4) if kind == "spatial" else (12, 2, 4)
    mod = (RGASpatial if kind == "spatial" else RGAChannel)(c, h, w, ratio=2, down_ratio=2).double().eval()
    _randomise_bn(mod)
    x = torch.randn(2, c, h, w, dtype=torch.float64)
    with torch.no_grad():
        got = mod(x)
        for b in range(2):
            if kind == "spatial":
                a = _attention_reference(mod.attention, [x[b, :, p // w, p % w] for p in range(h * w)])
                expected = x[b] * a.view(1, h, w)
            else:
                a = _attention_reference(mod.attention, [x[b, k].reshape(-1) for k in range(c)])
                expected = x[b] * a.view(c, 1, 1)
            torch.testing.assert_close(got[b], expected)


# ---------------------------------------------------------------------------- recipe
def test_pointwise_conv_is_the_1x1_conv_it_replaces():
    """Same weight shape (state dicts unchanged) and, per output channel and node, the sum over input
    channels written out."""
    torch.manual_seed(0)
    conv = PointwiseConv1d(6, 4)
    assert conv.weight.shape == (4, 6, 1) and conv.bias is None
    x = torch.randn(3, 6, 5, dtype=torch.float64)
    w = conv.weight.detach().double()
    expected = torch.zeros(3, 4, 5, dtype=torch.float64)
    for b in range(3):
        for o in range(4):
            for n in range(5):
                expected[b, o, n] = sum(w[o, i, 0] * x[b, i, n] for i in range(6))
    got = torch.nn.functional.conv1d(x, w)  # torch's own 1x1 convolution, for reference
    assert torch.allclose(conv.double()(x), expected) and torch.allclose(got, expected)


def test_rga_recipe():
    r = get_recipe("rga", "market1501")
    assert (r.optimizer, r.lr, r.backbone_lr_mult, r.weight_decay) == ("adam", 8e-4, 1.0, 5e-4)
    assert (r.epochs, r.warmup_epochs, r.warmup_start_lr, r.gamma) == (600, 20, 8e-6, 0.5)
    assert r.milestones == (80, 120, 160, 200, 240, 280, 320, 360)
    assert (r.batch_size, r.sampler, r.instances, r.image_size) == (64, "pk", 4, (256, 128))
    assert (r.triplet_weight, r.triplet_margin, r.label_smoothing, r.flip_test) == (1.0, 0.3, 0.1, False)
    assert r.lr_at(0) == 8e-6 and r.lr_at(20) == 8e-4 and r.lr_at(80) == 4e-4 and r.lr_at(599) == 8e-4 / 2 ** 8
    hand = get_recipe("rga", "11k-dr")
    assert hand.image_size == (324, 324) and hand.augment.crop == (324, 324) and hand.lr == r.lr


@pytest.mark.slow
def test_trains_one_epoch_built_for_the_recipe_size(tmp_path):
    """``fit`` end to end on a tiny synthetic 11k tree with the ``laga`` recipe: the engine builds
    RGA-Net for the recipe's input size, and ``load_model`` rebuilds it from the run record."""
    from handreid.data.synthetic import write_11k
    from handreid.engine import fit, load_model, make_config

    root = write_11k(tmp_path / "data", num_subjects=10, images_per_aspect=(3, 4), image_size=(48, 40), seed=1)
    cfg = make_config(dataset="11k-dr", method="rganet", recipe="laga", data_root=str(root), epochs=1,
                      image_size=32, batch_size=8, eval_repeats=1, out_dir=str(tmp_path / "runs"), device="cpu",
                      pretrained=False)
    record = fit(cfg, progress=False)
    assert record.finished and list(record.history["epoch"]) == [1]
    model = load_model(record.run_dir)
    # the demo profile's trunk (1/8 width): a 256-d descriptor, rebuilt as trained
    assert model.descriptor_dim == 256
    assert model.image_size == (32, 32) and model(torch.zeros(1, 3, 32, 32)).shape == (1, 256)
