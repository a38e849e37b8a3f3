"""Models: registry, descriptor sizes, last stride, part pooling, parameter groups, weights."""

from __future__ import annotations

import os
import re

import pytest
import torch
import torch.nn.functional as F
from torchvision import models as tvm

from handreid.models import ReIDOutput, available_models, build_model, model_options, register_model
from handreid.models.backbone import checkpoint_path, require_weights
from handreid.models.heads import ReductionHead

NUM_CLASSES = 7
B = 2


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)


def _x(h=64, w=64):
    return torch.randn(B, 3, h, w)


_MODELS: dict = {}


def _cached(name, **options):
    """Build each (name, options) once per test session: constructing a ResNet50 costs ~0.3 s."""
    key = (name, tuple(sorted(options.items())))
    if key not in _MODELS:
        torch.manual_seed(0)
        _MODELS[key] = build_model(name, NUM_CLASSES, **options)
    return _MODELS[key]


def _capture_T(model):
    """Forward hook on the ResNet trunk: stores the activation tensor T."""
    store = {}
    handle = model.backbone.register_forward_hook(lambda m, i, o: store.__setitem__("T", o.detach()))
    return store, handle


# ---------------------------------------------------------------------------- registry
def test_registered_names():
    assert {"resnet50", "vgg19bn", "gpanet"} <= set(available_models())
    assert available_models() == sorted(available_models())


def test_unknown_model_message():
    msg = f"unknown model 'nope'; available models: {', '.join(available_models())}"
    with pytest.raises(ValueError, match=f"^{re.escape(msg)}$"):
        build_model("nope", num_classes=3)


def test_unknown_option_message():
    msg = (
        "build_model('gpanet'): unknown option(s) 'hpp'; valid options: "
        "hp, vp, use_global, use_local, last_stride, reduction_dim, dropout"
    )
    with pytest.raises(TypeError, match=f"^{re.escape(msg)}$"):
        build_model("gpanet", num_classes=3, hpp=2)
    msg = "build_model('resnet50'): unknown option(s) 'hp', 'vp'; valid options: last_stride"
    with pytest.raises(TypeError, match=f"^{re.escape(msg)}$"):
        build_model("resnet50", num_classes=3, hp=2, vp=1)


def test_bad_option_values():
    with pytest.raises(ValueError, match="use_global and use_local cannot both be False"):
        build_model("gpanet", 3, use_global=False, use_local=False)
    with pytest.raises(ValueError, match="hp must be a positive int"):
        build_model("gpanet", 3, hp=0)
    with pytest.raises(ValueError, match="last_stride must be 1 or 2"):
        build_model("resnet50", 3, last_stride=3)
    with pytest.raises(ValueError, match="num_classes must be a positive int"):
        build_model("resnet50", 0)


def test_model_options():
    assert model_options("gpanet") == {
        "pretrained": False, "hp": 3, "vp": 1, "use_global": True, "use_local": True,
        "last_stride": 1, "reduction_dim": 512, "dropout": 0.5,
    }
    assert model_options("resnet50") == {"pretrained": False, "last_stride": 2}


def test_register_model_decorator():
    from handreid.models.registry import _REGISTRY

    try:
        @register_model
        def _tmp_model_a(num_classes, pretrained=False, width=4):
            return (num_classes, pretrained, width)

        @register_model("tmp-model-b")
        def _b(num_classes, pretrained=False):
            return "b"

        assert build_model("_tmp_model_a", 5, width=9) == (5, False, 9)
        assert build_model("tmp-model-b", 5) == "b"
        with pytest.raises(ValueError, match="already registered"):
            register_model("tmp-model-b")(lambda num_classes, pretrained=False: None)
        with pytest.raises(TypeError, match="must accept 'num_classes' and 'pretrained'"):
            register_model("tmp-model-c")(lambda n: None)
    finally:
        _REGISTRY.pop("_tmp_model_a", None)
        _REGISTRY.pop("tmp-model-b", None)


# ---------------------------------------------------------------------------- GPA-Net shapes
@pytest.mark.parametrize(
    "options, dim, names",
    [
        ({}, 8192, ("global", "part_1_1", "part_2_1", "part_3_1")),
        ({"hp": 2, "vp": 2}, 10240, ("global", "part_1_1", "part_1_2", "part_2_1", "part_2_2")),
        ({"hp": 1, "vp": 1}, 2048, ("global",)),
        ({"hp": 3, "use_global": False}, 6144, ("part_1_1", "part_2_1", "part_3_1")),
        ({"hp": 3, "use_local": False}, 2048, ("global",)),
        ({"hp": 1, "vp": 3}, 8192, ("global", "part_1_1", "part_1_2", "part_1_3")),
    ],
)
def test_gpanet_shapes(options, dim, names):
    model = _cached("gpanet", **options)
    assert model.descriptor_dim == dim
    assert model.names == names
    x = _x()
    model.train()
    out = model(x)
    assert isinstance(out, ReIDOutput)
    assert out.names == names
    assert len(out.logits) == len(out.embeddings) == len(out.features) == len(names)
    hp, vp = options.get("hp", 3), options.get("vp", 1)
    n_global = int(options.get("use_global", True))
    n_local = hp * vp if options.get("use_local", True) and hp * vp > 1 else 0
    assert len(out.logits) == n_global + n_local     # 1 + hp*vp for the full GPA-Net
    for z, e, f in zip(out.logits, out.embeddings, out.features):
        assert z.shape == (B, NUM_CLASSES)
        assert e.shape == (B, 512)
        assert f.shape == (B, 2048)
    model.eval()
    with torch.no_grad():
        d = model(x)
        o = model.forward_output(x)
    assert d.shape == (B, dim)
    # eval descriptor = [f_g, f_1, ..., f_p], no normalisation
    torch.testing.assert_close(d, torch.cat(o.features, 1))


def test_gpanet_non_square_and_large_partition_count():
    model = _cached("gpanet", hp=4, vp=3).train()
    out = model(_x(96, 48))   # T is 6x3 with last stride 1: 4 rows use adaptive (overlapping) bins
    assert len(out.logits) == 13 and all(z.shape == (B, NUM_CLASSES) for z in out.logits)
    assert model.eval()(_x(80, 40)).shape == (B, 13 * 2048)


def test_reduction_head_and_dropout_option():
    model = build_model("gpanet", NUM_CLASSES, hp=2, reduction_dim=64, dropout=0.3)
    for head in model.heads:
        assert isinstance(head, ReductionHead)
        assert head.fc.in_features == 2048 and head.fc.out_features == 64
        assert head.dropout.p == 0.3
        assert isinstance(head.act, torch.nn.Identity)     # GPA-Net: no activation
        assert head.classifier.out_features == NUM_CLASSES
        assert torch.all(head.bn.weight == 1) and torch.all(head.bn.bias == 0)
        assert torch.all(head.fc.bias == 0) and torch.all(head.classifier.bias == 0)
        assert head.classifier.weight.std().item() == pytest.approx(0.001, rel=0.1)
    assert model.train()(_x()).embeddings[0].shape == (B, 64)


def test_reduction_head_leaky_relu():
    head = ReductionHead(16, 8, 5, activation="leaky_relu").eval()
    assert isinstance(head.act, torch.nn.LeakyReLU) and head.act.negative_slope == 0.1
    r, z = head(torch.randn(4, 16))
    assert r.shape == (4, 8) and z.shape == (4, 5)
    assert (r >= 0).sum() < r.numel()          # negative side kept (scaled)
    torch.testing.assert_close(z, head.classifier(r))   # eval: r is the classifier input
    with pytest.raises(ValueError, match="unknown activation"):
        ReductionHead(16, 8, 5, activation="tanhh")


def test_part_features_are_block_means():
    model = _cached("gpanet", hp=2, vp=2).eval()
    store, handle = _capture_T(model)
    with torch.no_grad():
        out = model.forward_output(_x(64, 64))
    handle.remove()
    T = store["T"]
    assert T.shape == (B, 2048, 4, 4)
    torch.testing.assert_close(out.features[0], T.mean(dim=(2, 3)))
    expected = [T[:, :, 2 * i:2 * i + 2, 2 * j:2 * j + 2].mean(dim=(2, 3)) for i in range(2) for j in range(2)]
    for f, e in zip(out.features[1:], expected):                 # row-major part_1_1, part_1_2, ...
        torch.testing.assert_close(f, e)


def test_horizontal_stripes_are_along_height():
    # hp=3 on a non-square T (6x2 from a 96x32 input): three stripes of 2 rows x all columns
    model = _cached("gpanet", hp=3, use_global=False).eval()
    store, handle = _capture_T(model)
    with torch.no_grad():
        feats = model.forward_output(_x(96, 32)).features
    handle.remove()
    T = store["T"]
    assert T.shape[2:] == (6, 2)
    for i, f in enumerate(feats):
        torch.testing.assert_close(f, T[:, :, 2 * i:2 * i + 2, :].mean(dim=(2, 3)))


# ---------------------------------------------------------------------------- last stride
@pytest.mark.parametrize("name, last_stride, size", [("gpanet", 1, 4), ("gpanet", 2, 2), ("resnet50", 2, 2), ("resnet50", 1, 4)])
def test_last_stride(name, last_stride, size):
    # Overall stride 16 with last_stride=1, 32 with 2. For the paper's 384x384 input that is
    # 384/16 = 24 -> T is 24x24 (GPA-Net §3.2), and 384/32 = 12 -> 12x12; checked here on 64x64:
    # 64/16 = 4 -> 4x4 and 64/32 = 2 -> 2x2.
    model = _cached(name, last_stride=last_stride).eval()
    block = model.backbone.layer4[0]
    assert block.conv2.stride == (last_stride, last_stride)
    assert block.downsample[0].stride == (last_stride, last_stride)
    assert block.conv1.stride == (1, 1) and block.conv3.stride == (1, 1)
    assert model.backbone.layer3[0].conv2.stride == (2, 2)          # earlier stages untouched
    store, handle = _capture_T(model)
    with torch.no_grad():
        model(_x(64, 64))
    handle.remove()
    assert store["T"].shape == (B, 2048, size, size)


def test_default_last_strides():
    assert _cached("gpanet").backbone.layer4[0].conv2.stride == (1, 1)     # paper: last stride 1
    assert _cached("resnet50").backbone.layer4[0].conv2.stride == (2, 2)   # original ResNet50


# ---------------------------------------------------------------------------- baselines
def test_resnet50_baseline():
    model = _cached("resnet50")
    assert model.descriptor_dim == 2048 and model.names == ("global",)
    out = model.train()(_x(64, 48))
    assert out.names == ("global",)
    assert out.logits[0].shape == (B, NUM_CLASSES)
    assert out.embeddings[0].shape == out.features[0].shape == (B, 2048)
    torch.testing.assert_close(out.logits[0], model.heads[0].classifier(out.features[0]))
    model.eval()
    with torch.no_grad():
        d = model(_x(64, 48))
    assert d.shape == (B, 2048)


@pytest.fixture(scope="module")
def vgg():
    torch.manual_seed(0)
    return build_model("vgg19bn", NUM_CLASSES)


def test_vgg19bn_baseline(vgg):
    assert vgg.descriptor_dim == 4096 and vgg.names == ("global",)
    out = vgg.train()(_x(64, 48))
    assert out.logits[0].shape == (B, NUM_CLASSES)
    assert out.embeddings[0].shape == out.features[0].shape == (B, 4096)
    vgg.eval()
    with torch.no_grad():
        x = _x(64, 64)
        d = vgg(x)
        # descriptor = fc7 output (after its ReLU), computed with the torchvision layers by hand
        h = torch.flatten(vgg.avgpool(vgg.features(x)), 1)
        fc6, fc7 = vgg.fc67[0], vgg.fc67[3]
        expected = F.relu(fc7(F.relu(fc6(h))))
    assert d.shape == (B, 4096)
    torch.testing.assert_close(d, expected)
    assert vgg.heads[0].classifier.in_features == 4096
    assert vgg.heads[0].classifier.out_features == NUM_CLASSES
    assert [m.p for m in vgg.modules() if isinstance(m, torch.nn.Dropout)] == [0.5, 0.5]  # torchvision's


def test_vgg19bn_dropout_option_sets_both_layers_and_rejects_bad_values():
    small = {"width": 0.125, "blocks": [1, 1, 1, 1]}
    m = build_model("vgg19bn", NUM_CLASSES, trunk=small, dropout=0.0).train()
    assert [d.p for d in m.modules() if isinstance(d, torch.nn.Dropout)] == [0.0, 0.0]
    x = _x(64, 64)
    torch.testing.assert_close(m(x).logits[0], m(x).logits[0])  # p = 0: training mode is deterministic
    with pytest.raises(ValueError, match=r"vgg19bn: dropout must be in \[0, 1\), got 1.0"):
        build_model("vgg19bn", NUM_CLASSES, trunk=small, dropout=1.0)


def test_the_small_vgg19bn_has_torchvisions_feature_init_and_never_builds_the_full_classifier(monkeypatch):
    # torchvision's VGG builds (and draws) a 25088 x 4096 fc6 in its constructor; the 1/8-width trunk
    # replaces it, so it is built as a shell on the meta device: nothing full-size on the CPU, and
    # the convolutions initialised as torchvision's VGG does (Kaiming normal, fan-out; zero biases;
    # batch-norm 1 and 0), written out here with the same seed.
    from handreid.models.backbone import build_vgg19bn, trunk_shape

    small = {"width": 0.125, "blocks": [1, 1, 1, 1]}
    cfg = [v if v == "M" else v // 8 for v in tvm.vgg.cfgs["E"]]
    torch.manual_seed(5)
    reference = tvm.vgg.make_layers(cfg, batch_norm=True)
    for m in reference:
        if isinstance(m, torch.nn.Conv2d):
            torch.nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            torch.nn.init.zeros_(m.bias)
        elif isinstance(m, torch.nn.BatchNorm2d):
            torch.nn.init.ones_(m.weight)
            torch.nn.init.zeros_(m.bias)
    drawn = []
    real_normal = torch.nn.init.normal_
    monkeypatch.setattr(torch.nn.init, "normal_", lambda *a, **k: drawn.append(a[0] if a else k["tensor"])
                        or real_normal(*a, **k))
    torch.manual_seed(5)
    with trunk_shape(small):
        vgg = build_vgg19bn()
    ours, theirs = vgg.features.state_dict(), reference.state_dict()
    assert list(ours) == list(theirs) and all(torch.equal(ours[k], theirs[k]) for k in ours)
    assert {t.device.type for t in vgg.state_dict().values()} == {"cpu"}
    assert max(t.numel() for t in drawn if t.device.type == "cpu") == 64 * 7 * 7 * 512   # fc6 at 1/8 width
    assert [m.in_features for m in vgg.classifier if isinstance(m, torch.nn.Linear)] == [64 * 7 * 7, 512, 512]


def _check_partition(model):
    backbone = list(model.backbone_parameters())
    new = list(model.new_parameters())
    ids_b, ids_n = [id(p) for p in backbone], [id(p) for p in new]
    assert len(set(ids_b)) == len(ids_b) and len(set(ids_n)) == len(ids_n)
    assert not set(ids_b) & set(ids_n)
    assert set(ids_b) | set(ids_n) == {id(p) for p in model.parameters() if p.requires_grad}
    assert len(backbone) + len(new) == len(list(model.parameters()))
    return backbone, new


def test_parameter_groups_gpanet():
    model = _cached("gpanet")
    backbone, new = _check_partition(model)
    assert {id(p) for p in backbone} == {id(p) for p in model.backbone.parameters()}
    assert {id(p) for p in new} == {id(p) for p in model.heads.parameters()}
    # 4 heads x (fc w, b; bn w, b; classifier w, b)
    assert len(new) == 4 * 6


def test_parameter_groups_resnet50_and_vgg(vgg):
    model = _cached("resnet50")
    _, new = _check_partition(model)
    assert [p.shape for p in new] == [torch.Size([NUM_CLASSES, 2048]), torch.Size([NUM_CLASSES])]
    backbone, new = _check_partition(vgg)
    assert [p.shape for p in new] == [torch.Size([NUM_CLASSES, 4096]), torch.Size([NUM_CLASSES])]
    assert any(p.shape == torch.Size([4096, 4096]) for p in backbone)          # fc7 is pretrained


# ---------------------------------------------------------------------------- ImageNet weights
@pytest.fixture
def empty_torch_home(tmp_path, monkeypatch):
    """A fresh hub cache: TORCH_HOME points to tmp_path and any torch.hub.set_dir is undone;
    downloads go to a closed local port (tests/test_weights.py tests them with a local server)."""
    monkeypatch.setattr(torch.hub, "_hub_dir", None)
    monkeypatch.delenv("TORCH_HUB", raising=False)
    monkeypatch.setenv("HANDREID_WEIGHTS_URL_BASE", "http://127.0.0.1:9/models")
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    assert torch.hub.get_dir() == os.path.join(str(tmp_path), "hub")
    return tmp_path


@pytest.mark.parametrize(
    "name, filename, url",
    [
        ("gpanet", "resnet50-0676ba61.pth", "https://download.pytorch.org/models/resnet50-0676ba61.pth"),
        ("resnet50", "resnet50-0676ba61.pth", "https://download.pytorch.org/models/resnet50-0676ba61.pth"),
        ("vgg19bn", "vgg19_bn-c79401a0.pth", "https://download.pytorch.org/models/vgg19_bn-c79401a0.pth"),
    ],
)
def test_missing_weights_message(empty_torch_home, name, filename, url):
    directory = os.path.join(str(empty_torch_home), "hub", "checkpoints")
    with pytest.raises(RuntimeError) as info:
        build_model(name, NUM_CLASSES, pretrained=True)
    msg = str(info.value)
    assert f"place the file '{filename}' in the directory '{directory}'" in msg
    assert url in msg
    assert "pretrained=False" in msg
    assert not os.path.exists(os.path.join(directory, filename))      # nothing was downloaded


def test_weights_file_is_loaded(tmp_path, monkeypatch):
    monkeypatch.setattr(torch.hub, "_hub_dir", None)      # undone after the test
    torch.hub.set_dir(str(tmp_path / "hub"))
    weights = tvm.ResNet50_Weights.IMAGENET1K_V1
    path = checkpoint_path(weights)
    assert path == os.path.join(str(tmp_path), "hub", "checkpoints", "resnet50-0676ba61.pth")
    os.makedirs(os.path.dirname(path))
    torch.manual_seed(123)
    reference = tvm.resnet50(weights=None).state_dict()
    torch.save(reference, path)
    assert require_weights(weights) is weights

    torch.manual_seed(0)                                   # different from the saved weights
    model = build_model("gpanet", NUM_CLASSES, pretrained=True)
    loaded = model.backbone.state_dict()
    assert set(loaded) == {k for k in reference if not k.startswith("fc.")}
    for k, v in loaded.items():
        torch.testing.assert_close(v, reference[k], rtol=0, atol=0, msg=k)
    # the stride change survives loading
    assert model.backbone.layer4[0].conv2.stride == (1, 1)
