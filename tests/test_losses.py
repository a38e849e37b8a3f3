"""Losses: label-smoothed CE (GPA-Net Eq. 2), GPA-Net Eq. (1), batch-hard triplet (LAGA-Net Eq. 11)."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from handreid.losses import GPANetLoss, batch_hard_triplet, label_smoothed_cross_entropy
from handreid.models import ReIDOutput


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)


def _eq2(logits, targets, eps):
    """Eq. (2) by hand: q_i = 1 - (K-1)/K eps for i = y, eps/K otherwise; loss = -sum q log p."""
    b, k = logits.shape
    total = 0.0
    for n in range(b):
        p = torch.softmax(logits[n].double(), dim=0)
        for i in range(k):
            q = 1 - (k - 1) / k * eps if i == targets[n] else eps / k
            total += -q * torch.log(p[i])
    return total / b


@pytest.mark.parametrize("eps", [0.1, 0.3, 1.0])
def test_label_smoothing_matches_eq2(eps):
    logits = torch.randn(5, 6) * 3
    targets = torch.tensor([0, 5, 2, 2, 1])
    got = label_smoothed_cross_entropy(logits, targets, epsilon=eps)
    assert got.item() == pytest.approx(float(_eq2(logits, targets, eps)), rel=1e-5)
    # and torch's own label smoothing uses the same q
    assert got.item() == pytest.approx(F.cross_entropy(logits, targets, label_smoothing=eps).item(), rel=1e-5)


def test_label_smoothing_eps0_is_cross_entropy():
    logits = torch.randn(4, 9)
    targets = torch.tensor([8, 0, 3, 3])
    torch.testing.assert_close(label_smoothed_cross_entropy(logits, targets, 0.0), F.cross_entropy(logits, targets))


def test_label_smoothing_default_and_grad():
    logits = torch.randn(3, 4, requires_grad=True)
    targets = torch.tensor([1, 2, 3])
    loss = label_smoothed_cross_entropy(logits, targets)
    assert loss.item() == pytest.approx(float(_eq2(logits.detach(), targets, 0.1)), rel=1e-5)
    loss.backward()
    # d loss / d logits = (softmax - q) / B
    q = torch.full((3, 4), 0.1 / 4)
    q[torch.arange(3), targets] = 1 - 3 / 4 * 0.1
    torch.testing.assert_close(logits.grad, (torch.softmax(logits.detach(), 1) - q) / 3)


def test_label_smoothing_errors():
    with pytest.raises(ValueError, match="epsilon"):
        label_smoothed_cross_entropy(torch.randn(2, 3), torch.tensor([0, 1]), epsilon=1.5)
    with pytest.raises(ValueError, match="targets must have shape"):
        label_smoothed_cross_entropy(torch.randn(2, 3), torch.tensor([0, 1, 2]))
    with pytest.raises(TypeError, match="integer class indices"):
        label_smoothed_cross_entropy(torch.randn(2, 3), torch.tensor([0.0, 1.0]))


def _output(names, b=4, k=5):
    logits = [torch.randn(b, k) for _ in names]
    emb = [torch.randn(b, 8) for _ in names]
    return ReIDOutput(logits, emb, emb, tuple(names))


@pytest.mark.parametrize("lam", [1.0, 1 / 3, 0.5])
def test_gpanet_loss_eq1(lam):
    out = _output(["global", "part_1_1", "part_2_1", "part_3_1"])
    t = torch.tensor([0, 4, 2, 2])
    ce = [label_smoothed_cross_entropy(z, t, 0.1) for z in out.logits]
    expected = ce[0] + lam * (ce[1] + ce[2] + ce[3])
    crit = GPANetLoss(lam=lam, epsilon=0.1)
    torch.testing.assert_close(crit(out, t), expected)
    terms = crit.terms(out, t)
    torch.testing.assert_close(terms["global"], ce[0])
    torch.testing.assert_close(terms["local"], ce[1] + ce[2] + ce[3])


def test_gpanet_loss_components_only():
    t = torch.tensor([1, 0, 3, 3])
    local_only = _output(["part_1_1", "part_2_1"])
    expected = sum(label_smoothed_cross_entropy(z, t) for z in local_only.logits) * 2.0
    torch.testing.assert_close(GPANetLoss(lam=2.0)(local_only, t), expected)
    global_only = _output(["global"])
    torch.testing.assert_close(GPANetLoss(lam=2.0)(global_only, t), label_smoothed_cross_entropy(global_only.logits[0], t))
    with pytest.raises(ValueError, match="neither 'global' nor 'part_\\*'"):
        GPANetLoss()(_output(["cam"]), t)


def test_gpanet_loss_on_model_output_backprops():
    from handreid.models import build_model

    model = build_model("gpanet", 3, hp=2).train()
    out = model(torch.randn(2, 3, 32, 32))
    loss = GPANetLoss()(out, torch.tensor([0, 2]))
    loss.backward()
    assert torch.isfinite(loss)
    assert all(p.grad is not None for p in model.new_parameters())


def _brute_triplet(x, t, margin):
    losses = []
    for a in range(len(t)):
        pos = [torch.linalg.norm(x[a] - x[p]) for p in range(len(t)) if p != a and t[p] == t[a]]
        neg = [torch.linalg.norm(x[a] - x[n]) for n in range(len(t)) if t[n] != t[a]]
        if not pos or not neg:
            continue
        losses.append(torch.clamp(margin + max(pos) - min(neg), min=0))
    return torch.stack(losses)


@pytest.mark.parametrize("margin", [1.2, 0.3, 10.0])
def test_batch_hard_triplet_brute_force(margin):
    x = torch.randn(20, 16)
    t = torch.arange(5).repeat_interleave(4)          # P=5 x K=4
    expected = _brute_triplet(x.double(), t, margin)
    got = batch_hard_triplet(x, t, margin=margin)
    assert got.item() == pytest.approx(expected.mean().item(), rel=1e-4, abs=1e-5)
    got_sum = batch_hard_triplet(x, t, margin=margin, reduction="sum")
    assert got_sum.item() == pytest.approx(expected.sum().item(), rel=1e-4, abs=1e-4)


def test_batch_hard_triplet_excludes_anchors_without_positive_or_negative():
    x = torch.randn(7, 5)
    t = torch.tensor([0, 0, 1, 1, 1, 2, 3])          # ids 2 and 3 have no positive
    expected = _brute_triplet(x.double(), t, 1.2)
    assert len(expected) == 5
    assert batch_hard_triplet(x, t).item() == pytest.approx(expected.mean().item(), rel=1e-4)
    # single identity: no negatives at all -> 0, still differentiable
    y = torch.randn(3, 5, requires_grad=True)
    loss = batch_hard_triplet(y, torch.tensor([4, 4, 4]))
    assert loss.item() == 0.0
    loss.backward()
    assert torch.all(y.grad == 0)


def test_batch_hard_triplet_grad_finite_with_duplicates():
    x = torch.randn(4, 6)
    x = torch.cat([x, x[:2]]).requires_grad_()        # exact duplicates: zero distances
    t = torch.tensor([0, 1, 2, 3, 0, 1])
    loss = batch_hard_triplet(x, t)
    loss.backward()
    assert torch.isfinite(loss) and torch.isfinite(x.grad).all()


def test_laganet_loss_is_eq8_written_out():
    """LAGA-Net Eq. (8): sum of the smoothed CEs + beta * sum of the batch-hard triplets."""
    from handreid.losses import LAGANetLoss
    from handreid.models.heads import ReIDOutput

    g = torch.Generator().manual_seed(3)
    t = torch.tensor([0, 0, 1, 1, 2, 2])
    logits = [torch.randn(6, 3, generator=g) for _ in range(3)]
    embeds = [torch.randn(6, 8, generator=g) for _ in range(2)]
    out = ReIDOutput(logits=logits, embeddings=embeds, features=embeds, names=["a", "b", "c"])
    ce = sum(label_smoothed_cross_entropy(z, t, 0.1) for z in logits)
    tri = batch_hard_triplet(embeds[0], t, 1.2) + batch_hard_triplet(embeds[1], t, 1.2)
    terms = LAGANetLoss(beta=0.1, margin=1.2, epsilon=0.1).terms(out, t)
    torch.testing.assert_close(terms["ce"], ce)
    torch.testing.assert_close(terms["triplet"], tri)
    torch.testing.assert_close(terms["total"], ce + 0.1 * tri)
    assert LAGANetLoss(beta=0.5)(out, t).item() == pytest.approx((ce + 0.5 * tri).item())
    no_embed = ReIDOutput(logits=logits, embeddings=[], features=[], names=["a", "b", "c"])
    torch.testing.assert_close(LAGANetLoss()(no_embed, t), ce)


def test_laganet_loss_average_is_abdnets_mean_over_classifiers():
    """``average=True`` (ABD-Net's code): mean CE + beta * mean triplet; the default sums (unchanged)."""
    from handreid.losses import LAGANetLoss

    g = torch.Generator().manual_seed(5)
    t = torch.tensor([0, 0, 1, 1, 2, 2])
    logits = [torch.randn(6, 3, generator=g) for _ in range(3)]
    embeds = [torch.randn(6, 8, generator=g) for _ in range(3)]
    out = ReIDOutput(logits, embeds, embeds, ("a", "b", "c"))
    ce = [label_smoothed_cross_entropy(z, t, 0.1) for z in logits]
    tri = [batch_hard_triplet(e, t, 1.2) for e in embeds]
    got = LAGANetLoss(beta=0.1, average=True)(out, t)
    torch.testing.assert_close(got, sum(ce) / 3 + 0.1 * sum(tri) / 3)
    assert torch.equal(LAGANetLoss()(out, t), LAGANetLoss(average=False)(out, t))


# ---------------------------------------------------------------------------- ABD-Net O.F. / O.W.
def _extremes_by_svd(m):
    """Largest and smallest eigenvalue of M M^T (R x R) from the singular values of M (R x K):
    sigma^2, and 0 for the R - K missing ones when R > K."""
    s = torch.linalg.svdvals(m.double())
    lo = s[-1] ** 2 if m.shape[0] <= m.shape[1] else torch.zeros((), dtype=torch.float64)
    return s[0] ** 2, lo


@pytest.mark.parametrize("shape", [(5, 9), (9, 5), (6, 6)])
def test_spectral_extremes_are_squared_singular_values(shape):
    from handreid.losses import spectral_extremes

    m = torch.randn(3, *shape, generator=torch.Generator().manual_seed(6))
    hi, lo = spectral_extremes(m)
    for b in range(3):
        e_hi, e_lo = _extremes_by_svd(m[b])
        assert hi[b].item() == pytest.approx(e_hi.item(), rel=1e-5)
        assert lo[b].item() == pytest.approx(e_lo.item(), rel=1e-4, abs=1e-5)


@pytest.mark.parametrize("c, h, w", [(4, 3, 3), (12, 2, 2)])
def test_orthogonal_feature_penalty_written_out(c, h, w):
    """O.F. on one map: sum over the batch of (lambda_max - lambda_min)(M_b M_b^T), x 32 / B."""
    from handreid.losses import orthogonal_feature_penalty

    x = torch.randn(5, c, h, w, generator=torch.Generator().manual_seed(7))
    expected = 0.0
    for b in range(5):
        hi, lo = _extremes_by_svd(x[b].reshape(c, h * w))
        expected += float(hi - lo)
    assert orthogonal_feature_penalty(x).item() == pytest.approx(expected * 32 / 5, rel=1e-5)


@pytest.mark.parametrize("shape", [(6, 2, 2, 2), (10, 1, 3, 1), (1, 4, 3, 3)])
def test_orthogonal_weight_penalty_written_out(shape):
    """O.W. on one conv weight (S, C, k, k): W = (C k k) x S, 10 (lambda_max - lambda_min)(W^T W)^2."""
    from handreid.losses import orthogonal_weight_penalty

    w = torch.randn(*shape, generator=torch.Generator().manual_seed(8))
    got = orthogonal_weight_penalty(w).item()
    if shape[0] == 1:
        assert got == 0.0
        return
    hi, lo = _extremes_by_svd(w.reshape(shape[0], -1))   # rows S: eigenvalues of W^T W (S x S)
    assert got == pytest.approx(10 * float(hi - lo) ** 2, rel=1e-5)


def test_abdnet_regularizers_weights_positions_and_start_epoch():
    from handreid.losses import ABDNetRegularizers, orthogonal_feature_penalty, orthogonal_weight_penalty

    g = torch.Generator().manual_seed(9)
    maps = {"intermediate": [torch.randn(4, 3, 4, 4, generator=g)],
            "before": [torch.randn(4, 6, 2, 2, generator=g) for _ in range(2)],
            "cam": [torch.randn(4, 6, 2, 2, generator=g) for _ in range(2)],
            "pam": [torch.randn(4, 6, 2, 2, generator=g) for _ in range(2)],
            "after": [torch.randn(4, 6, 2, 2, generator=g) for _ in range(2)]}
    out = ReIDOutput([torch.zeros(4, 3)], [], [], ("global",), maps)
    weights = [torch.randn(8, 2, 3, 3, generator=g, requires_grad=True), torch.randn(3, 5, 1, 1, generator=g)]
    reg = ABDNetRegularizers(lambda: weights, of_beta=1e-3, of_start_epoch=23, ow_beta=1e-2)
    ow = 1e-2 * sum(orthogonal_weight_penalty(w) for w in weights)
    before = reg.terms(out, 22)
    assert before["of"].item() == 0.0
    torch.testing.assert_close(before["total"], ow)
    of = 0.01 * orthogonal_feature_penalty(maps["intermediate"][0])
    for p in ("before", "cam", "pam", "after"):
        of = of + (orthogonal_feature_penalty(maps[p][0]) + orthogonal_feature_penalty(maps[p][1])) / 2
    after = reg.terms(out, 23)
    torch.testing.assert_close(after["of"], 1e-3 * of)
    torch.testing.assert_close(reg(out, 23), 1e-3 * of + ow)
    reg(out, 23).backward()
    assert torch.isfinite(weights[0].grad).all() and weights[0].grad.abs().sum() > 0
    with pytest.raises(ValueError, match=r"no feature maps for O.F. position\(s\) \['intermediate', 'before', "):
        reg(ReIDOutput([torch.zeros(4, 3)], [], [], ("global",)), 0)
