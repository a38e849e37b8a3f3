"""LAGA-Net attention modules: CAM Eq. (1)-(2), SAM-RPE Eq. (3)-(7), the re-indexing of Eq. (4),
identity at init, translation equivariance of the relative positions, non-square maps."""

from __future__ import annotations

import pytest
import torch

from handreid.models.attention import (
    ChannelAttention,
    SpatialAttentionRPE,
    reindex_matrix,
    reindex_tensor,
    relative_index,
)

C = 16


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)


def _randomise_bn(module, negative_bias=False):
    """Non-trivial eval-mode statistics and affine parameters for every BatchNorm in ``module``.
    ``negative_bias``: running mean 0 and bias < 0, so that a zero input stays zero after BN+ReLU."""
    for bn in module.modules():
        if isinstance(bn, torch.nn.BatchNorm2d):
            with torch.no_grad():
                bn.weight.uniform_(0.5, 1.5)
                bn.running_var.uniform_(0.5, 2.0)
                if negative_bias:
                    bn.running_mean.zero_()
                    bn.bias.uniform_(-0.3, -0.05)
                else:
                    bn.running_mean.normal_(0, 0.3)
                    bn.bias.normal_(0, 0.3)


def _sam(channels=C, gamma=0.7, **kw):
    m = SpatialAttentionRPE(channels, **kw)
    _randomise_bn(m)
    with torch.no_grad():
        m.gamma.fill_(gamma)
    return m.eval()


def _bn_eval(bn, e):
    shape = (1, -1, 1, 1)
    return (e - bn.running_mean.view(shape)) / torch.sqrt(bn.running_var.view(shape) + bn.eps) \
        * bn.weight.view(shape) + bn.bias.view(shape)


def _reference_sam(m: SpatialAttentionRPE, x: torch.Tensor, position=None) -> dict:
    """Loop-based Eq. (3)-(7) as documented in handreid.models.attention.

    ``position(q, k, length, max_len)`` gives the table row key k presents to query q along one
    axis; default: the relative shift k - q clipped to +-(max_len - 1). The translation test also
    passes an ABSOLUTE row (k only) to show that its setup detects absolute encodings."""
    if position is None:
        def position(qi, ki, n, big):
            return max(-(big - 1), min(big - 1, ki - qi)) + big - 1
    b, c, H, W = x.shape
    K, Q, V = m.key(x), m.query(x), m.value(x)
    pos = [(h, w) for h in range(H) for w in range(W)]
    content = torch.zeros(b, c, H, W)
    eh = torch.zeros(b, c, H, W)
    ew = torch.zeros(b, c, H, W)
    big_h, big_w = m.max_size
    for n in range(b):
        for (h, w) in pos:
            q = Q[n, :, h, w]
            scores = torch.stack([K[n, :, h2, w2] @ q for (h2, w2) in pos])
            a = torch.softmax(scores, dim=0)                       # over the keys
            content[n, :, h, w] = sum(a[i] * V[n, :, h2, w2] for i, (h2, w2) in enumerate(pos))
            if m.relative_position:
                for h2 in range(H):                                # keys in the query's column
                    r = m.rel_height[position(h, h2, H, big_h)]
                    eh[n, :, h, w] += V[n, :, h2, w] * (r @ q)
                for w2 in range(W):                                # keys in the query's row
                    r = m.rel_width[position(w, w2, W, big_w)]
                    ew[n, :, h, w] += V[n, :, h, w2] * (r @ q)
    y = content
    if m.relative_position:
        y = y + _bn_eval(m.bn_height, eh) + _bn_eval(m.bn_width, ew)
    return {"content": content, "height": eh, "width": ew, "out": m.gamma * y + x}


# ---------------------------------------------------------------------------- CAM
def test_cam_matches_eq_1_2():
    m = ChannelAttention()
    with torch.no_grad():
        m.gamma.fill_(0.6)
    x = 0.1 * torch.randn(2, C, 3, 5)          # small: a softmax that is not one-hot
    X = x.reshape(2, C, 15)
    A = torch.softmax(X @ X.transpose(1, 2), dim=-1)                       # Eq. (1), K = Q = V = X
    expected = 0.6 * (A @ X).reshape(x.shape) + x                          # Eq. (2)
    m.keep_attention = True
    out = m(x)
    torch.testing.assert_close(out, expected, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(m.last_attention, A)
    assert m.last_attention.shape == (2, C, C)
    torch.testing.assert_close(m.last_attention.sum(-1), torch.ones(2, C))
    assert 0.05 < A.max() < 0.9                                           # a real mixture


def test_cam_invert_energy_option():
    m = ChannelAttention(invert_energy=True)
    x = 0.1 * torch.randn(1, 4, 2, 2)
    X = x.reshape(1, 4, 4)
    E = X @ X.transpose(1, 2)
    torch.testing.assert_close(m.attention(x), torch.softmax(E.amax(-1, keepdim=True) - E, dim=-1))


# ---------------------------------------------------------------------------- re-indexing, Eq. (4)
def test_reindex_hand_worked_3x2():
    # H = 3: rows (query row h, key row h') = (0,0) (0,1) (0,2) (1,0) (1,1) (1,2) (2,0) (2,1) (2,2);
    # shifts h' - h = 0 1 2 -1 0 1 -2 -1 0; columns r = -2 .. 2.
    I_H = torch.tensor([
        [0, 0, 1, 0, 0],
        [0, 0, 0, 1, 0],
        [0, 0, 0, 0, 1],
        [0, 1, 0, 0, 0],
        [0, 0, 1, 0, 0],
        [0, 0, 0, 1, 0],
        [1, 0, 0, 0, 0],
        [0, 1, 0, 0, 0],
        [0, 0, 1, 0, 0],
    ], dtype=torch.float32)
    # W = 2: rows (w, w') = (0,0) (0,1) (1,0) (1,1); shifts 0 1 -1 0; columns r = -1 .. 1.
    I_W = torch.tensor([
        [0, 1, 0],
        [0, 0, 1],
        [1, 0, 0],
        [0, 1, 0],
    ], dtype=torch.float32)
    assert torch.equal(reindex_matrix(3, 2, "height"), I_H)
    assert torch.equal(reindex_matrix(3, 2, "width"), I_W)
    assert torch.equal(reindex_tensor(3).reshape(9, 5), I_H)
    assert torch.equal(relative_index(3), torch.tensor([[2, 3, 4], [1, 2, 3], [0, 1, 2]]))
    # clipped to a table of 2*2-1 rows
    assert torch.equal(relative_index(3, max_length=2), torch.tensor([[1, 2, 2], [0, 1, 2], [0, 0, 1]]))
    # Eq. (5): P_H = I_H R_H gives P_H[h, h'] = R_H[h' - h]
    R = torch.randn(5, 4)
    P = (I_H @ R).view(3, 3, 4)
    for h in range(3):
        for h2 in range(3):
            assert torch.equal(P[h, h2], R[h2 - h + 2])
    with pytest.raises(ValueError, match="axis"):
        reindex_matrix(3, 2, "depth")


def test_position_embeddings_use_central_rows_of_table():
    m = _sam(max_size=(5, 4))
    P = m.position_embeddings("height", 3)                 # table rows 0..8, shift 0 at row 4
    for h in range(3):
        for h2 in range(3):
            torch.testing.assert_close(P[h, h2], m.rel_height[h2 - h + 4])
    assert m.position_embeddings("width", 1).shape == (1, 1, C // 8)


# ---------------------------------------------------------------------------- SAM-RPE, Eq. (3)-(7)
def test_sam_content_and_full_eq7_against_loops():
    m = _sam(max_size=4)
    x = torch.randn(2, C, 3, 2)
    ref = _reference_sam(m, x)
    m.keep_attention = True
    with torch.no_grad():
        terms = m.terms(x)
        out = m(x)
    torch.testing.assert_close(terms["content"], ref["content"], rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(terms["height"], ref["height"], rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(terms["width"], ref["width"], rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(out, ref["out"], rtol=1e-5, atol=1e-5)
    A = m.last_attention                                         # (B, N_keys, N_queries)
    assert A.shape == (2, 6, 6)
    torch.testing.assert_close(A.sum(dim=1), torch.ones(2, 6))   # each query's weights sum to 1
    # V A_s: output at query j is the A_s[:, j]-weighted mix of the values
    v = m.value(x).flatten(2)
    torch.testing.assert_close(terms["content"].flatten(2)[:, :, 4], (v * A[:, None, :, 4]).sum(-1))


def test_sam_clipped_shifts_against_loops():
    m = _sam(max_size=2)                                  # H = 4 > 2: shifts clipped to +-1
    x = torch.randn(1, C, 4, 3)
    with torch.no_grad():
        torch.testing.assert_close(m(x), _reference_sam(m, x)["out"], rtol=1e-5, atol=1e-5)


def test_sam_without_relative_positions():
    m = _sam(relative_position=False)
    x = torch.randn(1, C, 2, 3)
    with torch.no_grad():
        torch.testing.assert_close(m(x), _reference_sam(m, x)["out"], rtol=1e-5, atol=1e-5)
    assert not hasattr(m, "rel_height")


@pytest.mark.parametrize("train", [False, True])
def test_gamma_zero_is_identity(train):
    x = torch.randn(2, C, 4, 3)
    for m in (SpatialAttentionRPE(C), ChannelAttention()):
        assert m.gamma.item() == 0.0
        m.train(train)
        assert torch.equal(m(x), x)


def test_gradients_reach_gamma_and_tables():
    m = SpatialAttentionRPE(C).train()
    cam = ChannelAttention()
    x = torch.randn(2, C, 4, 3)
    (m(x).square().sum() + cam(x).square().sum()).backward()
    assert m.gamma.grad is not None and m.gamma.grad.abs() > 0
    assert cam.gamma.grad is not None and cam.gamma.grad.abs() > 0
    with torch.no_grad():
        m.gamma.fill_(1.0)
    m.zero_grad()
    m(x).square().sum().backward()
    # rows for shifts -(3)..3 of the height table (centre 63) and -(2)..2 of the width table
    assert m.rel_height.grad[60:67].abs().sum() > 0 and m.rel_height.grad[:60].abs().sum() == 0
    assert m.rel_width.grad[61:66].abs().sum() > 0


# ---------------------------------------------------------------------------- translation
def _shift(x, dh, dw):
    return torch.roll(x, shifts=(dh, dw), dims=(2, 3))


@pytest.mark.parametrize("dh,dw", [(1, 0), (0, 1), (1, 1)])
def test_relative_positions_are_translation_equivariant(dh, dw):
    """Content in rows/cols 1..5 of an 8x8 map, zeros elsewhere; shifting it by (dh, dw) keeps it
    inside the map. BN in eval mode with running mean 0 and negative bias, so zero input gives
    zero K, Q, V: the shifted map then has exactly the same keys/values, moved. The relative
    term (depends on h' - h, w' - w only) and the content term must move with them at every
    position of the overlap. An absolute encoding (key row h' picks its own embedding whatever the
    query) sees the content at different absolute rows and changes: checked below with the same
    setup, so this test would fail for it."""
    m = SpatialAttentionRPE(C, max_size=8)
    _randomise_bn(m, negative_bias=True)
    for bn in (m.bn_height, m.bn_width):
        _randomise_bn(bn)                      # BN of E_H, E_W: any affine map is pointwise
    with torch.no_grad():
        m.gamma.fill_(1.0)
    m.eval()
    x = torch.zeros(2, C, 8, 8)
    x[:, :, 1:6, 1:6] = torch.randn(2, C, 5, 5)
    xs = _shift(x, dh, dw)
    with torch.no_grad():
        t, ts = m.terms(x), m.terms(xs)
        out, outs = m(x), m(xs)
    H, W = 8, 8
    a = (slice(None), slice(None), slice(0, H - dh), slice(0, W - dw))       # original positions
    s = (slice(None), slice(None), slice(dh, H), slice(dw, W))               # shifted positions
    rel, rel_s = t["height"] + t["width"], ts["height"] + ts["width"]
    assert rel.abs().max() > 0.1
    torch.testing.assert_close(rel_s[s], rel[a], rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(outs[s], out[a], rtol=1e-4, atol=1e-5)
    assert (outs[a] - out[a]).abs().max() > 0.1          # the output really moved

    # Control: same setup, absolute positional encoding (the embedding of key row h' is R[h'])
    def absolute(qi, ki, n, big):
        return ki
    r, r_s = _reference_sam(m, x[:1], absolute), _reference_sam(m, xs[:1], absolute)
    rel_abs, rel_abs_s = r["height"] + r["width"], r_s["height"] + r_s["width"]
    assert (rel_abs_s[s] - rel_abs[a]).abs().max() > 1e-2


# ---------------------------------------------------------------------------- sizes
@pytest.mark.parametrize("hw", [(24, 8), (21, 21), (1, 5), (5, 1), (1, 1)])
def test_non_square_maps(hw):
    m = _sam(max_size=24)
    x = torch.randn(2, C, *hw)
    m.keep_attention = True
    with torch.no_grad():
        out = m(x)
        t = m.terms(x)
    n = hw[0] * hw[1]
    assert out.shape == x.shape and torch.isfinite(out).all()
    assert m.last_attention.shape == (2, n, n)
    assert t["height"].shape == t["width"].shape == x.shape
    assert ChannelAttention()(x).shape == x.shape
    if n <= 5:
        with torch.no_grad():
            torch.testing.assert_close(out, _reference_sam(m, x)["out"], rtol=1e-5, atol=1e-5)


def test_index_cache_per_size():
    m = _sam()
    with torch.no_grad():
        m(torch.randn(1, C, 3, 2))
        m(torch.randn(1, C, 4, 2))
    assert {k[:2] for k in m._index_cache} == {(3, 64), (2, 64), (4, 64)}
    assert all(not k.startswith("_index") for k in m.state_dict())


def test_bf16_autocast_keeps_dtype_and_precision():
    m = _sam()
    x = torch.randn(2, C, 4, 3)
    with torch.no_grad():
        ref = m(x)
        with torch.autocast("cpu", dtype=torch.bfloat16):
            out = m(x)
            out_cam = ChannelAttention()(x.bfloat16())
    assert out.dtype == torch.float32 and out_cam.dtype == torch.bfloat16
    torch.testing.assert_close(out, ref, rtol=0.05, atol=0.05)


def test_bad_arguments():
    with pytest.raises(ValueError, match="channels must be >= 8"):
        SpatialAttentionRPE(4)
    with pytest.raises(ValueError, match=r"expected \(B, 16, H, W\)"):
        SpatialAttentionRPE(16)(torch.randn(1, 8, 2, 2))
    assert SpatialAttentionRPE(4, key_channels=2).key_channels == 2
