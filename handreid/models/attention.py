"""The two attention modules of LAGA-Net (§III-A, §III-B) and MBA-Net.

:class:`ChannelAttention` (CAM), Eq. (1)-(2)
--------------------------------------------
The input ``E_i`` (C x H x W) is reshaped to ``X`` (C x N), N = HW, and used as keys, queries and
values alike (K = Q = V = X, no embedding layers)::

    A_c = softmax_rows(K Q^T)          (C x C), row c sums to 1          Eq. (1)
    E_o = gamma * (A_c V) + E_i        (A_c V)[c] = sum_c' A_c[c, c'] V[c']   Eq. (2)

:class:`SpatialAttentionRPE` (SAM-RPE), Eq. (3)-(7): our exact reading
----------------------------------------------------------------------
Positions are flattened row-major, n = h * W + w (``x.flatten(2)``), N = HW. Three independent
1x1 conv + BN + ReLU embeddings give ``K``, ``Q`` (d_k x N, d_k = C/8) and ``V`` (C x N).

*Content term, Eq. (3).* ``S = K^T Q`` (N x N): ``S[i, j] = k_i . q_j`` with ``i`` the KEY position
(row) and ``j`` the QUERY position (column). The softmax normalises over the key index ``i``::

    A_s[i, j] = exp(S[i, j]) / sum_i' exp(S[i', j])        (every COLUMN of A_s sums to 1)
    (V A_s)[:, j] = sum_i V[:, i] A_s[i, j]                (output at j: convex mix of values v_i)

The paper says "softmax along each row" of ``K^T Q``. Read literally, each key's weights would sum
to one over the queries and ``V A_s`` would not be a weighted average of the values at any position.
The row-wise softmax is the one of the query-major energy ``Q^T K = S^T`` (DANet's position
attention module, from which CAM/SAM derive, and the authors' public code: softmax over keys, then
``V A^T``), i.e. ``A_s = rho(Q^T K)^T``. That is what we implement; ``last_attention`` stores
``A_s`` in the paper's orientation (B, N_keys, N_queries), so ``last_attention[b, :, j].view(H, W)``
is the attention map of query position ``j``.

*Relative positions, Eq. (4)-(6).* Height first (width is symmetric). The relative embedding
``R_H`` has 2H-1 rows, one per vertical shift r = -(H-1) .. H-1 (row ``r + H - 1``). Eq. (4) writes
``I^H`` in R^{H x W x (2H-1)} with entries ``[h, i, r] = 1 iff i - h = r``, i in 0..W-1. For the shift
``i - h`` to range over -(H-1)..H-1 the index ``i`` must run over rows, so it is the KEY row ``h'`` and
``h`` the QUERY row; the "W" (and "HW" of the reshaped ``I_H``) only coincide with H for the square
maps the authors used (21 x 21). Our shapes, valid for any H x W::

    I^H[h, h', r + H - 1] = 1  iff  h' - h = r          I^H: (H, H, 2H-1)   (reindex_tensor(H))
    I_H = reshape(I^H)                                  I_H: (H*H, 2H-1), row h*H + h'  (reindex_matrix)
    P_H = I_H R_H, viewed (H, H, d_k)                   P_H[h, h'] = R_H[h' - h]      Eq. (5)

``P_H[h, h']`` is the key that key row ``h'`` presents to a query in row ``h``: "R_H used as keys
implicitly (P_H explicitly)". Height attention is axial, as in GSA-Net (ref. [28], the source of
this module) and as the "height (row) and width (column) attentions ... for computational
efficiency" says: a query at (h, w) attends to the H positions of its own column w::

    L_H[h', (h, w)] = P_H[h, h'] . q_(h,w)                                 (P_H Q: H x N)
    E_H[:, (h, w)]  = sum_h' V[:, (h', w)] L_H[h', (h, w)]                 Eq. (6)

As one N x N matrix, the shape ``V (P_H Q)`` of Eq. (6) needs, this is ``E_H = V M_H`` with
``M_H[(h', w'), (h, w)] = [w' == w] P_H[h, h'] . q_(h,w)``. There is no softmax in Eq. (6); the
batch normalisation of Eq. (7) scales the term instead (as in GSA-Net). Width::

    I^W[w, w', r + W - 1] = 1 iff w' - w = r;  P_W[w, w'] = R_W[w' - w]        (W, W, d_k)
    E_W[:, (h, w)] = sum_w' V[:, (h, w')] (P_W[w, w'] . q_(h,w))

and Eq. (7)::

    E_o = gamma * (V A_s + BN_H(E_H) + BN_W(E_W)) + E_i      BN_H, BN_W: BatchNorm2d(C), gamma = 0 at init

``E_H`` and ``E_W`` depend on positions only through h' - h and w' - w: shifting the input shifts
them by the same amount (translation equivariance), which an absolute encoding would not give.

*Table size.* ``R_H`` needs 2H-1 rows, but H depends on the input size. The module holds a table of
``2 * max_height - 1`` rows (default ``max_size=64``: maps up to 64 x 64, i.e. 1024-pixel inputs
at stride 16); for a map of height H <= max_height the central 2H-1 rows are the paper's ``R_H``
(the other rows are unused). Larger maps clip shifts to +-(max_height - 1), as Shaw et al.
(ref. [27]) do. The re-indexing tensors depend only on (H, W); they are built vectorised on first
use and cached per size and device (not registered as buffers, so the state dict does not depend
on the input size).

*Paper text against the authors' code* (``variant``, README fidelity table). CAM: ``energy="paper"``
is Eq. (1), ``softmax(K Q^T)``; ``energy="authors"`` is the public MBA-Net code's
``softmax(max_row(E) - E)`` with ``E = K Q^T`` (:func:`channel_attention`). SAM-RPE: ``rpe="axial"``
is the reading above; ``rpe="literal"`` is the code's Eq. (4)-(7) as written: the (H, H, 2H-1)
tensor is reshaped to ``I_H`` (HW x 2H-1), which only works when H = W, and its row ``m`` is used
as the KEY POSITION ``m`` of the map, so the relative key seen by every query is ``R_H[m mod H - m div H]``
(column minus row of the key position, whatever the query position)::

    E_H = V (I_H R_H) Q        (C x N) = (C x N)(N x d_k)(d_k x N);   E_W alike with R_W

A non-square map raises a ``ValueError`` naming its shape.

Both modules compute their attention in float32 (autocast is switched off inside): ``K Q^T`` over
hundreds of positions reaches values where bf16 rounding would change the softmax. The output has
the input's dtype.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

__all__ = [
    "CAM_ENERGIES",
    "ChannelAttention",
    "SAM_RPE_READINGS",
    "SpatialAttentionRPE",
    "channel_attention",
    "reindex_matrix",
    "reindex_tensor",
    "relative_index",
]

AXES = ("height", "width")
CAM_ENERGIES = ("paper", "authors")      # softmax(K Q^T) (Eq. 1) | softmax(max - K Q^T) (public code)
SAM_RPE_READINGS = ("axial", "literal")  # our reading of Eq. (4)-(7) | the public code's, square maps only


def _check_choice(name: str, value, choices: tuple[str, ...]) -> str:
    if value not in choices:
        raise ValueError(f"{name} must be one of {', '.join(map(repr, choices))}, got {value!r}")
    return value


# ---------------------------------------------------------------------------- re-indexing (Eq. 4)
def _check_length(name: str, value) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{name} must be a positive int, got {value!r}")
    return value


def relative_index(length: int, max_length: int | None = None) -> Tensor:
    """``idx[q, k]``: the row of a relative-embedding table that key ``k`` presents to query ``q``
    along an axis of ``length`` positions, (length, length) int64.

    The table has ``2 * L - 1`` rows, L = ``max_length`` (default ``length``), row ``r + L - 1``
    for shift r = k - q; shifts beyond +-(L - 1) are clipped. With the default,
    ``idx[q, k] = k - q + length - 1`` (the argmax of ``reindex_tensor(length)[q, k]``).
    """
    n = _check_length("length", length)
    big = n if max_length is None else _check_length("max_length", max_length)
    pos = torch.arange(n)
    shift = (pos[None, :] - pos[:, None]).clamp(-(big - 1), big - 1)
    return shift + (big - 1)


def reindex_tensor(length: int) -> Tensor:
    """The one-hot re-indexing tensor of Eq. (4) for one axis, (length, length, 2*length - 1) float:
    ``I[q, k, r + length - 1] = 1`` iff ``k - q = r`` (q: query row, k: key row)."""
    n = _check_length("length", length)
    return F.one_hot(relative_index(n), 2 * n - 1).to(torch.float32)


def reindex_matrix(height: int, width: int, axis: str = "height") -> Tensor:
    """``I_H`` (``axis="height"``: (H*H, 2H-1)) or ``I_W`` (``axis="width"``: (W*W, 2W-1)), the
    reshaped re-indexing tensor of Eq. (4)-(5); row ``q * n + k`` is (query row/column q, key
    row/column k). ``P_H = I_H @ R_H`` (Eq. 5). See the module docstring for why the paper's
    "HW" rows read H*H."""
    _check_length("height", height)
    _check_length("width", width)
    if axis not in AXES:
        raise ValueError(f"axis must be 'height' or 'width', got {axis!r}")
    n = height if axis == "height" else width
    return reindex_tensor(n).reshape(n * n, 2 * n - 1)


def _reindex_cpu(n: int, max_len: int) -> tuple[Tensor, Tensor]:
    """(I, rows): I = reindex_matrix for an axis of n positions ((n*n, 2n-1) one-hot) and the rows
    of a (2*max_len - 1)-row table holding the shifts -(n-1) .. n-1 (clipped)."""
    shifts = torch.arange(-(n - 1), n).clamp(-(max_len - 1), max_len - 1)
    return reindex_tensor(n).reshape(n * n, 2 * n - 1), shifts + (max_len - 1)


def _full_precision(x: Tensor):
    """A context without autocast for x's device type."""
    return torch.autocast(device_type=x.device.type, enabled=False)


# ---------------------------------------------------------------------------- CAM
def channel_attention(x: Tensor, energy: str = "paper") -> Tensor:
    """``A_c`` of CAM for x (B, C, H, W), (B, C, C) float32, rows summing to 1.

    ``energy="paper"``: ``softmax_rows(E)``, E = K Q^T = X X^T (LAGA-Net Eq. 1). ``"authors"``:
    ``softmax_rows(max_row(E) - E)``, as the public MBA-Net code (and DANet) computes it; it is the
    softmax of ``-E``, so it favours the channels LEAST correlated with channel c, where Eq. (1) on
    non-negative (post-ReLU) features puts nearly all the weight on channel c itself.
    """
    _check_choice("energy", energy, CAM_ENERGIES)
    with _full_precision(x):
        X = x.float().flatten(2)                                    # (B, C, N): K = Q = V
        e = torch.bmm(X, X.transpose(1, 2))                         # E = K Q^T
        if energy == "authors":
            e = e.amax(dim=-1, keepdim=True) - e                    # max - E
        return torch.softmax(e, dim=-1)


class ChannelAttention(nn.Module):
    """Channel attention module (CAM), LAGA-Net Eq. (1)-(2); no learnable embedding, only gamma.

    ``forward(x)``: x (B, C, H, W) -> (B, C, H, W). ``gamma`` (a learnable scalar) starts at 0, so
    the module starts as the identity. Set ``keep_attention = True`` to store ``A_c`` (B, C, C),
    rows summing to 1, in ``last_attention`` (detached).

    ``energy``: ``"paper"`` (Eq. 1, default) or ``"authors"`` (the public code's softmax(max - E)),
    see :func:`channel_attention`. ``invert_energy=True`` is the older spelling of ``"authors"``.
    """

    def __init__(self, energy: str = "paper", invert_energy: bool = False):
        super().__init__()
        self.energy = "authors" if invert_energy else _check_choice("energy", energy, CAM_ENERGIES)
        self.gamma = nn.Parameter(torch.zeros(()))
        self.keep_attention = False
        self.last_attention: Tensor | None = None

    @property
    def invert_energy(self) -> bool:
        return self.energy == "authors"

    def attention(self, x: Tensor) -> Tensor:
        """``A_c`` (B, C, C) float32 of the module's ``energy``."""
        return channel_attention(x, self.energy)

    def forward(self, x: Tensor) -> Tensor:
        if x.dim() != 4:
            raise ValueError(f"ChannelAttention: expected (B, C, H, W), got {tuple(x.shape)}")
        attn = self.attention(x)
        if self.keep_attention:
            self.last_attention = attn.detach()
        with _full_precision(x):
            xf = x.float()
            out = torch.bmm(attn, xf.flatten(2)).view_as(xf)          # A_c V
            return (self.gamma.float() * out + xf).to(x.dtype)       # Eq. (2)

    def extra_repr(self) -> str:
        return f"energy={self.energy!r}"


# ---------------------------------------------------------------------------- SAM-RPE
def _projection(in_channels: int, out_channels: int) -> nn.Sequential:
    """1x1 conv (no bias: BN follows) + BN + ReLU: W_K, W_Q, W_V of §III-B."""
    return nn.Sequential(
        nn.Conv2d(in_channels, out_channels, kernel_size=1, bias=False),
        nn.BatchNorm2d(out_channels),
        nn.ReLU(inplace=True),
    )


class SpatialAttentionRPE(nn.Module):
    """Spatial attention module with relative positional encodings (SAM-RPE), Eq. (3)-(7).

    ``channels``: C of the input; ``key_channels``: d_k (default C // 8); ``max_size``: int or
    (max_height, max_width), the extent of the relative tables ``rel_height`` ((2*max_height - 1, d_k),
    R_H) and ``rel_width`` (R_W); ``relative_position=False`` drops E_H and E_W (plain SAM).
    Works for any H x W (non-square, H or W = 1). See the module docstring for the exact reading
    and shapes. ``gamma`` starts at 0 (identity module). ``keep_attention = True`` stores ``A_s``
    (B, N_keys, N_queries), columns summing to 1, in ``last_attention``.

    ``rpe``: ``"axial"`` (our reading, default) or ``"literal"`` (the public code's Eq. 4-7, square
    maps only; see the module docstring).

    :meth:`terms` returns the three terms of Eq. (7) before BN and gamma, for tests and teaching.
    """

    def __init__(
        self,
        channels: int,
        key_channels: int | None = None,
        max_size: int | tuple[int, int] = 64,
        relative_position: bool = True,
        rpe: str = "axial",
    ):
        super().__init__()
        self.rpe = _check_choice("rpe", rpe, SAM_RPE_READINGS)
        channels = _check_length("channels", channels)
        if key_channels is None:
            if channels < 8:
                raise ValueError(f"SpatialAttentionRPE: channels must be >= 8 for d_k = C/8, got {channels}")
            key_channels = channels // 8
        key_channels = _check_length("key_channels", key_channels)
        max_h, max_w = (max_size, max_size) if isinstance(max_size, int) else tuple(max_size)
        _check_length("max_size (height)", max_h)
        _check_length("max_size (width)", max_w)
        self.channels, self.key_channels = channels, key_channels
        self.max_size = (max_h, max_w)
        self.relative_position = bool(relative_position)

        self.key = _projection(channels, key_channels)      # W_K
        self.query = _projection(channels, key_channels)    # W_Q
        self.value = _projection(channels, channels)        # W_V
        self.gamma = nn.Parameter(torch.zeros(()))
        if self.relative_position:
            std = 1.0 / math.sqrt(key_channels)
            self.rel_height = nn.Parameter(torch.randn(2 * max_h - 1, key_channels) * std)  # R_H
            self.rel_width = nn.Parameter(torch.randn(2 * max_w - 1, key_channels) * std)   # R_W
            self.bn_height = nn.BatchNorm2d(channels)
            self.bn_width = nn.BatchNorm2d(channels)
        self.keep_attention = False
        self.last_attention: Tensor | None = None
        self._index_cache: dict[tuple, tuple[Tensor, Tensor]] = {}

    # -- Eq. (4)-(5)
    def _reindex(self, n: int, max_len: int, device: torch.device) -> tuple[Tensor, Tensor]:
        if torch.compiler.is_compiling():  # traced as constants; a cache write would force recompiles
            onehot, rows = _reindex_cpu(n, max_len)
            return onehot.to(device), rows.to(device)
        key = (n, max_len, str(device))
        if key not in self._index_cache:
            onehot, rows = _reindex_cpu(n, max_len)
            self._index_cache[key] = (onehot.to(device), rows.to(device))
        return self._index_cache[key]

    def position_embeddings(self, axis: str, n: int) -> Tensor:
        """``P_H`` (axis "height", n = H) or ``P_W`` (n = W) as (n, n, d_k) float32:
        ``P[q, k] = R[k - q]`` (shift clipped to the table), computed as ``I @ R`` (Eq. 5)."""
        if not self.relative_position:
            raise RuntimeError("SpatialAttentionRPE: relative_position=False has no position embeddings")
        if axis not in AXES:
            raise ValueError(f"axis must be 'height' or 'width', got {axis!r}")
        table = self.rel_height if axis == "height" else self.rel_width
        max_len = self.max_size[0] if axis == "height" else self.max_size[1]
        onehot, rows = self._reindex(n, max_len, table.device)
        r = table.float().index_select(0, rows)                 # this size's R_H: (2n-1, d_k)
        return (onehot @ r).view(n, n, self.key_channels)       # P_H = I_H R_H

    # -- Eq. (3), (6)
    def terms(self, x: Tensor) -> dict[str, Tensor]:
        """The terms of Eq. (7) before BN and gamma, float32: ``content`` = V A_s, ``height`` =
        E_H, ``width`` = E_W (absent with relative_position=False), each (B, C, H, W), and
        ``attention`` = A_s (B, N_keys, N_queries)."""
        if x.dim() != 4 or x.shape[1] != self.channels:
            raise ValueError(
                f"SpatialAttentionRPE: expected (B, {self.channels}, H, W), got {tuple(x.shape)}"
            )
        b, c, h, w = x.shape
        k, q, v = self.key(x), self.query(x), self.value(x)
        with _full_precision(x):
            k, q, v = k.float(), q.float(), v.float()
            energy = torch.bmm(k.flatten(2).transpose(1, 2), q.flatten(2))   # K^T Q: [key i, query j]
            attn = torch.softmax(energy, dim=1)                                # normalised over keys
            out = {"content": torch.bmm(v.flatten(2), attn).view(b, c, h, w), "attention": attn}
            if self.relative_position and self.rpe == "literal":
                out.update(self._literal_terms(q, v))
            elif self.relative_position:
                p_h = self.position_embeddings("height", h)                  # (H_q, H_k, d_k)
                logits_h = torch.einsum("ikd,bdiw->bikw", p_h, q)            # (B, H_q, H_k, W)
                out["height"] = torch.einsum("bckw,bikw->bciw", v, logits_h)
                p_w = self.position_embeddings("width", w)                   # (W_q, W_k, d_k)
                logits_w = torch.einsum("jld,bdhj->bhjl", p_w, q)            # (B, H, W_q, W_k)
                out["width"] = torch.einsum("bchl,bhjl->bchj", v, logits_w)
        return out

    def _literal_terms(self, q: Tensor, v: Tensor) -> dict[str, Tensor]:
        """E_H, E_W as the public code computes them: ``V (I R) Q`` with the (H*H, 2H-1) re-indexing
        matrix's rows taken as key positions; needs H == W (float32 q, v)."""
        b, c, h, w = v.shape
        if h != w:
            raise ValueError(
                f"SpatialAttentionRPE(rpe='literal'): the authors' Eq. (4)-(7) reshape the (H, H, 2H-1) "
                f"re-indexing tensor to (H*W, 2H-1), which needs a square feature map; got a {h}x{w} map "
                f"(input {tuple(v.shape)}). Use a square input (e.g. 324x324 -> 21x21) or rpe='axial'.")
        qf, vf = q.flatten(2), v.flatten(2)                                  # (B, d_k, N), (B, C, N)
        out = {}
        for axis in AXES:
            p = self.position_embeddings(axis, h).reshape(h * h, self.key_channels)   # I R: (N, d_k)
            out[axis] = torch.bmm(vf, torch.matmul(p, qf)).view(b, c, h, w)          # V (I R) Q
        return out

    def forward(self, x: Tensor) -> Tensor:
        t = self.terms(x)
        if self.keep_attention:
            self.last_attention = t["attention"].detach()
        with _full_precision(x):
            y = t["content"]
            if self.relative_position:
                y = y + self.bn_height(t["height"]) + self.bn_width(t["width"])
            return (self.gamma.float() * y + x.float()).to(x.dtype)          # Eq. (7)

    def extra_repr(self) -> str:
        return (
            f"channels={self.channels}, key_channels={self.key_channels}, max_size={self.max_size}, "
            f"relative_position={self.relative_position}, rpe={self.rpe!r}"
        )
