"""ABD-Net: reference parameter count and descriptor, parts, CAM and PAM against their equations.

Reference numbers: VITA-Group/ABD-Net (commit 502305e), instantiated in a scratch folder outside the
project with this project's torch (the ImageNet download in ``resnet50_backbone`` patched out) as
``torchreid.models.resnet.resnet50(751, args)`` with the training guide's configuration
(``branches=[global, abd], abd_dan=[cam, pam], abd_np=2, shallow_cam=True, global_dim=abd_dim=1024,
dropout=0.5``, other options at their ``args.py`` defaults): ``sum(p.numel() for p in
model.parameters())`` = 69,175,184; eval forward at 384 x 128 returns a 3072-d descriptor and three
classifiers; its feature maps are intermediate (2, 256, 96, 32) and before/cam/pam/after twice
(2, 1024, 12, 8). Its conv-layer walk for O.W. reaches one weight, (64, 3, 7, 7). At 324 x 324 it
fails: "Height 21 is not a multiplication of 2".
"""

from __future__ import annotations

import pytest
import torch

from handreid.engine.recipes import get_recipe
from handreid.losses import ABDNetRegularizers
from handreid.models import available_models, build_model
from handreid.models.abdnet import PositionAttention, part_bounds
from handreid.models.attention import ChannelAttention

REFERENCE_PARAMS_384x128_751 = 69_175_184


@pytest.fixture(scope="module")
def body_model():
    torch.manual_seed(0)
    return build_model("abdnet", 751)


def test_parameter_count_and_descriptor_equal_the_reference(body_model):
    assert "abdnet" in available_models()
    assert sum(p.numel() for p in body_model.parameters()) == REFERENCE_PARAMS_384x128_751
    body_model.eval()
    with torch.no_grad():
        assert body_model(torch.randn(2, 3, 384, 128)).shape == (2, 3072) == (2, body_model.descriptor_dim)
        assert body_model(torch.randn(1, 3, 324, 324)).shape == (1, 3072)


def test_parameter_groups_cover_every_parameter_once(body_model):
    bb = {id(p) for p in body_model.backbone_parameters()}
    new = {id(p) for p in body_model.new_parameters()}
    assert not bb & new and bb | new == {id(p) for p in body_model.parameters()}
    assert sum(p.numel() for p in body_model.backbone_parameters()) == 23_508_032 + 14_964_736  # + layer4 copy


def test_train_output_and_maps():
    torch.manual_seed(0)
    model = build_model("abdnet", 7).train()
    out = model(torch.randn(4, 3, 96, 32))
    assert out.names == ("global", "part_1", "part_2")
    assert [tuple(z.shape) for z in out.logits] == [(4, 7)] * 3
    assert [tuple(e.shape) for e in out.embeddings] == [(4, 1024)] * 3
    shapes = {k: [tuple(t.shape) for t in v] for k, v in out.maps.items()}
    assert shapes == {"intermediate": [(4, 256, 24, 8)], "before": [(4, 1024, 3, 2)] * 2,
                      "cam": [(4, 1024, 3, 2)] * 2, "pam": [(4, 1024, 3, 2)] * 2, "after": [(4, 1024, 3, 2)] * 2}
    # the part vectors are the pooled "after" maps
    for v, m in zip(out.features[1:], out.maps["after"]):
        torch.testing.assert_close(v, m.mean(dim=(2, 3)))


def test_parts_are_adaptive_bins():
    assert part_bounds(24, 2) == [(0, 12), (12, 24)]          # the reference's slices
    assert part_bounds(21, 2) == [(0, 11), (10, 21)]          # 324 x 324: row 10 shared
    with pytest.raises(ValueError, match="a 1-row feature map cannot be cut into 2 parts"):
        part_bounds(1, 2)


def test_regularizers_come_with_the_model(body_model):
    (reg,) = body_model.extra_losses()
    assert isinstance(reg, ABDNetRegularizers)
    assert (reg.of_beta, reg.of_start_epoch, reg.ow_beta) == (1e-6, 23, 1e-3)
    assert [tuple(w.shape) for w in reg.weights()] == [(64, 3, 7, 7)]
    full = build_model("abdnet", 5, ow_layers="backbone", of_start_epoch=0)
    (reg_full,) = full.extra_losses()
    assert len(reg_full.weights()) == 53 + 10 and reg_full.of_start_epoch == 0  # ResNet50 + 2nd layer4
    with pytest.raises(ValueError, match="ow_layers must be 'stem' or 'backbone', got 'all'"):
        build_model("abdnet", 5, ow_layers="all")


# ---------------------------------------------------------------------------- the equations
def test_cam_equals_its_equation():
    """ABD-Net Eq. (1)-(2) as the code computes them (DANet): E = X X^T, A = softmax_row(max_row E - E),
    out = gamma A X + X; C = 5 channels of N = 6 positions. (The module computes in float32.)"""
    torch.manual_seed(3)
    x = torch.randn(2, 5, 2, 3)
    cam = ChannelAttention(invert_energy=True)
    with torch.no_grad():
        cam.gamma.fill_(0.7)
        got = cam(x).double()
    for b in range(2):
        X = x[b].reshape(5, 6).double()
        E = torch.tensor([[float(X[i] @ X[j]) for j in range(5)] for i in range(5)], dtype=torch.float64)
        for i in range(5):
            e = E[i].max() - E[i]
            a = torch.exp(e) / torch.exp(e).sum()
            row = sum(a[j] * X[j] for j in range(5))
            torch.testing.assert_close(got[b].reshape(5, 6)[i], 0.7 * row + X[i], rtol=1e-5, atol=1e-5)


def test_pam_equals_its_equation():
    """ABD-Net Eq. (3)-(4) (DANet PAM): s_ij = softmax_j(B_i . C_j), out_i = gamma sum_j s_ij D_j + x_i."""
    torch.manual_seed(4)
    pam = PositionAttention(16).double()
    with torch.no_grad():
        pam.gamma.fill_(0.5)
        x = torch.randn(2, 16, 2, 3, dtype=torch.float64)
        got = pam(x)
        for b in range(2):
            X = x[b].reshape(16, 6)
            B = [pam.query.weight[:, :, 0, 0] @ X[:, i] + pam.query.bias for i in range(6)]
            C = [pam.key.weight[:, :, 0, 0] @ X[:, i] + pam.key.bias for i in range(6)]
            D = [pam.value.weight[:, :, 0, 0] @ X[:, i] + pam.value.bias for i in range(6)]
            for i in range(6):
                e = torch.stack([B[i] @ C[j] for j in range(6)])
                s = torch.exp(e) / torch.exp(e).sum()
                expected = 0.5 * sum(s[j] * D[j] for j in range(6)) + X[:, i]
                torch.testing.assert_close(got[b].reshape(16, 6)[:, i], expected)


# ---------------------------------------------------------------------------- recipe
def test_abd_recipe():
    r = get_recipe("abd", "market1501")
    assert (r.optimizer, r.lr, r.backbone_lr_mult, r.weight_decay) == ("adam", 3e-4, 1.0, 5e-4)
    assert (r.epochs, r.milestones, r.gamma, r.warmup_epochs) == (80, (20, 40), 0.1, 0)
    assert (r.batch_size, r.sampler, r.instances, r.image_size) == (64, "pk", 4, (384, 128))
    assert (r.loss, r.triplet_weight, r.triplet_margin, r.label_smoothing, r.flip_test) == ("abd", 0.1, 1.2, 0.1, True)
    assert r.augment.erasing == 0.5 and r.augment.brightness == 0.0
    assert get_recipe("abd", "hd").image_size == (324, 324)


@pytest.mark.slow
def test_trains_one_epoch_with_its_regularizers(tmp_path, monkeypatch):
    """``fit`` end to end on a tiny synthetic 11k tree with the ``laga`` recipe + O.F. (from epoch 0) + O.W.;
    the training loop adds the model's terms at every step with the epoch."""
    from handreid.data.synthetic import write_11k
    from handreid.engine import fit, make_config
    from handreid.models.abdnet import ABDNet

    calls = []
    real = ABDNet.extra_losses

    def recording(self):
        (term,) = real(self)

        def wrapped(output, epoch):
            value = term.terms(output, epoch)
            calls.append((epoch, float(value["of"].detach()), float(value["ow"].detach())))
            return value["total"]
        return [wrapped]

    monkeypatch.setattr(ABDNet, "extra_losses", recording)

    root = write_11k(tmp_path / "data", num_subjects=10, images_per_aspect=(3, 4), image_size=(48, 40), seed=1)
    cfg = make_config(dataset="11k-dr", method="abdnet", method_options={"of_start_epoch": 0}, recipe="laga",
                      data_root=str(root), epochs=1, image_size=32, batch_size=8, eval_repeats=1,
                      out_dir=str(tmp_path / "runs"), device="cpu", pretrained=False)
    record = fit(cfg, progress=False)
    assert record.finished and list(record.history["epoch"]) == [1]
    assert record.history["loss"].map(float).between(0, 1e3).all()
    assert calls and all(e == 0 and of > 0 and ow > 0 for e, of, ow in calls)


def test_the_of_start_epoch_scales_with_a_shortened_schedule_like_the_milestones():
    """O.F. from epoch 23 of the recipe's schedule: a short demo run starts it where it falls in
    the full one (40 epochs on a body benchmark: 23 x 40 / 80 with ABD-Net's recipe; 11 on a hand
    set: 23 x 11 / 70 with LAGA-Net's); the paper profile and an explicit value keep theirs."""
    from handreid.engine.config import make_config

    def start(**kw):
        return make_config(method="abdnet", **kw).identity()["method_options"]["of_start_epoch"]

    assert start(dataset="market1501", recipe="abd") == round(23 * 40 / 80) == 12
    assert start(dataset="11k-dr", recipe="laga") == round(23 * 11 / 70) == 4
    assert start(dataset="market1501", recipe="laga") == round(23 * 40 / 70) == 13
    assert start(dataset="11k-dr", recipe="laga", epochs=140) == 46
    assert start(dataset="11k-dr", recipe="laga", profile="paper", data_root="/nonexistent") == 23
    assert start(dataset="11k-dr", recipe="laga", method_options={"of_start_epoch": 5}) == 5
    assert make_config(dataset="11k-dr", method="abdnet", recipe="laga").model_options()["of_start_epoch"] == 4
