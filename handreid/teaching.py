"""Helpers of the teaching notebooks (``01_gpa_net``, ``02_laga_net``): pictures and small experiments.

The notebooks explain GPA-Net (IPTA 2022, §2) and LAGA-Net (§III) step by step. What they draw or
measure beyond a one-line plot call lives here, so it is tested and a second notebook can reuse it:

GPA-Net
    :func:`partition_boxes`, :func:`part_features` (the hp x vp average pooling written out),
    :func:`plot_partitions`, :func:`descriptor_table`.
Losses
    :func:`smoothed_targets` (GPA-Net Eq. 2 = LAGA-Net Eq. 10), :func:`toy_pk_batch`,
    :func:`batch_hard_reference` (Eq. 11 with explicit loops), :func:`plot_batch_hard`.
LAGA-Net attention
    :func:`plot_reindexing` (Eq. 4-5), :class:`AbsolutePositionSAM` (the control of the translation
    experiment), :func:`toy_feature_map`, :func:`translation_error`, :func:`shuffle_error`,
    :func:`position_encoding_experiment`, :func:`plot_translation`, :func:`attention_gammas`, :func:`capture_attention`,
    :func:`plot_spatial_attention`, :func:`plot_channel_attention`, :func:`cam_energy_comparison`
    (Eq. 1 against the authors' code).
Misc
    :func:`read_image`, :func:`handreid.paths.teaching_runs_dir` (teaching runs are kept apart from ``results/runs`` so the
    report notebooks never tabulate them).

Every figure function returns the ``matplotlib`` figure (``fig.axes`` as documented).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .models.attention import CAM_ENERGIES, SpatialAttentionRPE, channel_attention, reindex_matrix, relative_index

__all__ = [
    "AbsolutePositionSAM",
    "attention_gammas",
    "batch_hard_reference",
    "cam_energy_comparison",
    "capture_attention",
    "descriptor_table",
    "part_features",
    "partition_boxes",
    "plot_batch_hard",
    "plot_channel_attention",
    "plot_partitions",
    "plot_reindexing",
    "plot_spatial_attention",
    "plot_translation",
    "position_encoding_experiment",
    "read_image",
    "shuffle_error",
    "smoothed_targets",
    "toy_feature_map",
    "toy_pk_batch",
    "translation_error",
]

PART_COLOURS = ("tab:red", "tab:blue", "tab:green", "tab:orange", "tab:purple", "tab:brown",
                "tab:pink", "tab:olive", "tab:cyan", "gold", "navy", "lime")


def read_image(path: str | Path, size: tuple[int, int] | None = None) -> np.ndarray:
    """An image file as (H, W, 3) uint8 RGB, resized to ``size = (H, W)`` when given (as the cache does)."""
    from PIL import Image

    from .data.cache import decode_resized

    if size is not None:
        return decode_resized(Path(path), tuple(size))
    with Image.open(path) as im:
        return np.asarray(im.convert("RGB"), dtype=np.uint8)


# ============================================================================ GPA-Net partitions
def _bins(length: int, parts: int) -> list[tuple[int, int]]:
    """PyTorch's adaptive-pooling bins: part i covers [floor(i L / n), ceil((i + 1) L / n))."""
    return [((i * length) // parts, -((-(i + 1) * length) // parts)) for i in range(parts)]


def partition_boxes(height: int, width: int, hp: int, vp: int) -> list[tuple[int, int, int, int]]:
    """The hp x vp cells of GPA-Net's local branch on a (height x width) tensor T (§2).

    Returns ``(top, bottom, left, right)`` (end-exclusive) per part, row-major: part ``l = i * vp + j``
    is horizontal stripe ``i`` (``hp`` stripes stacked along the height) and vertical slice ``j``,
    i.e. the ``part_{i+1}_{j+1}`` classifier of :class:`~handreid.models.gpanet.GPANet`. The bins are
    those of ``adaptive_avg_pool2d``: uniform blocks that tile T exactly when ``hp`` divides the
    height and ``vp`` the width, otherwise neighbouring cells may share one row/column (and with
    more parts than rows, parts repeat rows).
    """
    for name, v in (("height", height), ("width", width), ("hp", hp), ("vp", vp)):
        if isinstance(v, bool) or not isinstance(v, int) or v < 1:
            raise ValueError(f"partition_boxes: {name} must be a positive int, got {v!r}")
    return [(t, b, l, r) for t, b in _bins(height, hp) for l, r in _bins(width, vp)]


def part_features(t: Tensor, hp: int, vp: int) -> list[Tensor]:
    """f_1 .. f_p of GPA-Net's local branch written out: the mean of T over each box of
    :func:`partition_boxes` (the model computes the same with ``adaptive_avg_pool2d``).
    ``t``: (B, C, M, N) -> p tensors (B, C)."""
    if t.dim() != 4:
        raise ValueError(f"part_features: expected T of shape (B, C, M, N), got {tuple(t.shape)}")
    return [t[:, :, a:b, c:d].mean(dim=(2, 3)) for a, b, c, d in partition_boxes(t.shape[2], t.shape[3], hp, vp)]


def plot_partitions(image: np.ndarray, grids: Sequence[tuple[int, int]] = ((1, 1), (2, 2), (3, 1), (4, 3)),
                    feature_size: tuple[int, int] = (24, 24), cols: int | None = None):
    """One panel per ``(hp, vp)`` in ``grids``: ``image`` with the parts of GPA-Net's local branch (§2).

    The parts are cut on the tensor T of ``feature_size = (M, N)`` cells (default 24 x 24: a 384 x 384
    input at stride 16, last stride 1); faint lines show T's cells mapped back onto the image, coloured
    boxes the hp x vp parts (:func:`partition_boxes`), labelled f_1 .. f_p in descriptor order.
    ``(1, 1)`` is the global branch (GAP over all of T). Returns the figure, ``len(grids)`` axes.
    """
    import matplotlib.pyplot as plt
    from matplotlib.patches import Rectangle

    grids = [tuple(g) for g in grids]
    if not grids:
        raise ValueError("plot_partitions: grids is empty")
    m, n = feature_size
    h, w = image.shape[:2]
    cols = cols or min(len(grids), 4)
    rows = math.ceil(len(grids) / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(3.2 * cols, 3.2 * rows * h / w + 0.5), squeeze=False)
    sy, sx = h / m, w / n
    for k, ax in enumerate(axes.flat):
        if k >= len(grids):
            fig.delaxes(ax)
            continue
        hp, vp = grids[k]
        ax.imshow(image)
        for i in range(1, m):
            ax.axhline(i * sy - 0.5, color="white", lw=0.3, alpha=0.5)
        for j in range(1, n):
            ax.axvline(j * sx - 0.5, color="white", lw=0.3, alpha=0.5)
        boxes = partition_boxes(m, n, hp, vp)
        for l, (t, b, a, r) in enumerate(boxes):
            colour = PART_COLOURS[l % len(PART_COLOURS)]
            ax.add_patch(Rectangle((a * sx - 0.5, t * sy - 0.5), (r - a) * sx, (b - t) * sy,
                                   fill=True, facecolor=colour, alpha=0.18, edgecolor=colour, lw=2))
            label = "$f_g$" if hp * vp == 1 else f"$f_{{{l + 1}}}$"
            ax.text((a + r) / 2 * sx, (t + b) / 2 * sy, label, color="white", ha="center", va="center",
                    fontsize=10, fontweight="bold",
                    bbox=dict(facecolor=colour, alpha=0.7, edgecolor="none", pad=1.5))
        title = "global (GAP)" if hp * vp == 1 else f"$h_p$={hp}, $v_p$={vp}: p={hp * vp} parts"
        ax.set_title(title, fontsize=10)
        ax.set_xticks([])
        ax.set_yticks([])
    fig.tight_layout()
    return fig


def descriptor_table(name: str, variants: Mapping[str, Mapping], num_classes: int = 10,
                     image_size: tuple[int, int] = (64, 64)) -> pd.DataFrame:
    """Build ``name`` with each option set of ``variants`` (label -> keyword options of
    :func:`handreid.models.build_model`) and describe it: classifiers, their names, the test
    descriptor's size (``descriptor_dim``, checked against a forward pass in eval mode on one
    ``image_size`` input) and the number of parameters. One model at a time is kept in memory."""
    from .models import build_model

    rows = []
    x = torch.zeros(1, 3, *image_size)
    for label, options in variants.items():
        model = build_model(name, num_classes=num_classes, **dict(options)).eval()
        with torch.no_grad():
            measured = tuple(model(x).shape)
        if measured != (1, model.descriptor_dim):
            raise AssertionError(f"{label}: descriptor {measured} != (1, {model.descriptor_dim})")
        rows.append({"variant": label, "classifiers": model.num_classifiers,
                     "names": ", ".join(model.names), "descriptor_dim": model.descriptor_dim,
                     "params_M": round(sum(p.numel() for p in model.parameters()) / 1e6, 1)})
        del model
    return pd.DataFrame(rows).set_index("variant")


# ============================================================================ losses
def smoothed_targets(targets: Tensor, num_classes: int, epsilon: float = 0.1) -> Tensor:
    """The label-smoothed target distribution q of GPA-Net Eq. (2) / LAGA-Net Eq. (10), (B, K):
    ``q_i = 1 - (K-1)/K * eps`` for the true class, ``eps / K`` otherwise (each row sums to 1)."""
    if targets.dim() != 1:
        raise ValueError(f"smoothed_targets: targets must be (B,), got {tuple(targets.shape)}")
    if not 0.0 <= epsilon <= 1.0:
        raise ValueError(f"smoothed_targets: epsilon must be in [0, 1], got {epsilon!r}")
    q = torch.full((targets.shape[0], num_classes), epsilon / num_classes)
    q[torch.arange(targets.shape[0]), targets.long()] = 1.0 - (num_classes - 1) / num_classes * epsilon
    return q


def toy_pk_batch(p: int = 3, k: int = 4, dim: int = 2, spread: float = 0.8,
                 seed: int = 0) -> tuple[Tensor, Tensor]:
    """A P x K batch as the ``laga`` sampler makes it (P identities, K images each): embeddings
    scattered with std ``spread`` around one random centre per identity, and labels ``0..P-1``,
    identity-major order. Returns ``(embeddings (P*K, dim), labels (P*K,))``."""
    g = torch.Generator().manual_seed(seed)
    centres = 2.0 * torch.randn(p, dim, generator=g)
    labels = torch.arange(p).repeat_interleave(k)
    return centres[labels] + spread * torch.randn(p * k, dim, generator=g), labels


def batch_hard_reference(embeddings: Tensor, labels: Tensor, margin: float = 1.2
                         ) -> tuple[float, pd.DataFrame]:
    """LAGA-Net Eq. (11) with explicit loops over anchors: for every anchor the hardest positive
    (largest distance, same identity, not itself) and hardest negative (smallest distance, other
    identity), and ``[margin + d_pos - d_neg]_+``. Returns (the sum over anchors, as Eq. 11 writes
    it; one row per anchor). ``handreid.losses.batch_hard_triplet`` is the vectorised version
    (``reduction="sum"`` gives the same number, the default ``"mean"`` divides by P*K)."""
    e = embeddings.detach().double()
    y = labels.tolist()
    rows = []
    for a in range(len(y)):
        d = [float(torch.linalg.vector_norm(e[a] - e[j])) for j in range(len(y))]
        pos = [j for j in range(len(y)) if y[j] == y[a] and j != a]
        neg = [j for j in range(len(y)) if y[j] != y[a]]
        if not pos or not neg:
            continue
        hp = max(pos, key=lambda j: d[j])
        hn = min(neg, key=lambda j: d[j])
        rows.append({"anchor": a, "label": y[a], "hardest_positive": hp, "d_pos": d[hp],
                     "hardest_negative": hn, "d_neg": d[hn], "loss": max(0.0, margin + d[hp] - d[hn])})
    table = pd.DataFrame(rows)
    return (float(table["loss"].sum()) if len(table) else 0.0), table


def plot_batch_hard(embeddings: Tensor, labels: Tensor, anchor: int = 0, margin: float = 1.2):
    """Left: the batch in its first two embedding dimensions, coloured by identity, with the anchor's
    hardest positive (green) and hardest negative (red) of Eq. (11). Right: the Euclidean distance
    matrix with every row's hardest positive (o) and negative (x). Returns the figure, 3 axes
    (scatter, matrix, colour bar)."""
    import matplotlib.pyplot as plt

    _, table = batch_hard_reference(embeddings, labels, margin)
    e = embeddings.detach().float()
    y = labels.numpy()
    fig, (a, b) = plt.subplots(1, 2, figsize=(10, 4.2))
    cmap = plt.get_cmap("tab10")
    for c in np.unique(y):
        pts = e[y == c]
        a.scatter(pts[:, 0], pts[:, 1], color=cmap(int(c) % 10), s=40, label=f"identity {c}")
    row = table.set_index("anchor").loc[anchor]
    for j, colour, what in ((int(row["hardest_positive"]), "tab:green", "hardest positive"),
                            (int(row["hardest_negative"]), "tab:red", "hardest negative")):
        a.annotate("", xy=(e[j, 0], e[j, 1]), xytext=(e[anchor, 0], e[anchor, 1]),
                   arrowprops=dict(arrowstyle="->", color=colour, lw=2))
        a.plot([], [], color=colour, lw=2, label=f"{what} ({float(torch.dist(e[anchor], e[j])):.2f})")
    a.scatter(e[anchor, 0], e[anchor, 1], s=160, facecolors="none", edgecolors="black", lw=2, label="anchor")
    a.set_title(f"anchor {anchor}: loss = [{margin} + d_pos - d_neg]$_+$ = {row['loss']:.2f}", fontsize=10)
    a.legend(fontsize=7, loc="best")
    a.set_aspect("equal", adjustable="datalim")
    d = torch.cdist(e, e).numpy()
    im = b.imshow(d, cmap="viridis")
    b.scatter(table["hardest_positive"], table["anchor"], marker="o", facecolors="none",
              edgecolors="lime", s=50, label="hardest positive")
    b.scatter(table["hardest_negative"], table["anchor"], marker="x", color="red", s=40,
              label="hardest negative")
    b.set_xlabel("sample")
    b.set_ylabel("anchor")
    b.set_title("pairwise distances", fontsize=10)
    b.legend(fontsize=7, loc="upper right")
    fig.colorbar(im, ax=b, fraction=0.046)
    fig.tight_layout()
    return fig


# ============================================================================ relative positions
def plot_reindexing(height: int = 3, key_channels: int = 3):
    """The re-indexing of SAM-RPE for one axis of ``height`` rows (LAGA-Net Eq. 4-5).

    Panels: (1) the shift ``r = k - q`` of every (query row q, key row k) pair, as the row of R_H it
    selects; (2) the one-hot ``I_H`` ((H*H) x (2H-1), row ``q*H + k``, :func:`reindex_matrix`);
    (3) a readable ``R_H`` ((2H-1) x d_k, row r holds 10r, 10r+1, ...); (4) ``P_H = I_H R_H``:
    row (q, k) is the embedding of shift k - q. Returns the figure, 4 axes.
    """
    import matplotlib.pyplot as plt

    n = height
    shifts = relative_index(n) - (n - 1)                                        # k - q
    i_h = reindex_matrix(n, 1, axis="height")                                   # (n*n, 2n-1)
    r_h = (10.0 * torch.arange(-(n - 1), n).unsqueeze(1) + torch.arange(key_channels)).float()
    p_h = i_h @ r_h                                                             # Eq. (5)
    pair_labels = [f"q={q},k={k}" for q in range(n) for k in range(n)]
    r_labels = [f"r={r}" for r in range(-(n - 1), n)]

    fig, axes = plt.subplots(1, 4, figsize=(15, 0.45 * n * n + 2.2),
                             gridspec_kw={"width_ratios": [n, 2 * n - 1, key_channels, key_channels]})

    def show(ax, m, title, xt, yt, cmap, fmt="{:.0f}", annotate=True):
        ax.imshow(m, cmap=cmap, aspect="auto")
        ax.set_title(title, fontsize=10)
        ax.set_xticks(range(m.shape[1]), xt, fontsize=7, rotation=90 if len(xt) > 6 else 0)
        ax.set_yticks(range(m.shape[0]), yt, fontsize=7)
        if annotate:
            for (i, j), v in np.ndenumerate(m):
                ax.text(j, i, fmt.format(v), ha="center", va="center", fontsize=7,
                        color="black" if cmap != "Greys" or v < 0.5 else "white")

    show(axes[0], shifts.numpy(), "shift r = k - q", [f"k={k}" for k in range(n)],
         [f"q={q}" for q in range(n)], "coolwarm")
    show(axes[1], i_h.numpy(), "$I_H$ (Eq. 4, reshaped)", r_labels, pair_labels, "Greys")
    show(axes[2], r_h.numpy(), "$R_H$ (learned)", [f"d{j}" for j in range(key_channels)], r_labels, "coolwarm")
    show(axes[3], p_h.numpy(), "$P_H = I_H R_H$ (Eq. 5)", [f"d{j}" for j in range(key_channels)],
         pair_labels, "coolwarm")
    fig.tight_layout()
    return fig


class AbsolutePositionSAM(SpatialAttentionRPE):
    """Control for the translation experiment: SAM-RPE with *absolute* instead of relative positions.

    Identical to :class:`~handreid.models.attention.SpatialAttentionRPE` (same K, Q, V, Eq. 3, 6, 7)
    except that key row ``k`` presents the embedding of its absolute position, ``P[q, k] = A[k]``
    (rows ``0..n-1`` of the table), whatever the query row ``q``; SAM-RPE uses ``P[q, k] = R[k - q]``
    (Eq. 4-5). Not part of LAGA-Net."""

    def position_embeddings(self, axis: str, n: int) -> Tensor:
        table = self.rel_height if axis == "height" else self.rel_width
        if n > table.shape[0]:
            raise ValueError(f"AbsolutePositionSAM: {n} positions but a table of {table.shape[0]} rows")
        return table.float()[:n].unsqueeze(0).expand(n, n, self.key_channels)


def toy_feature_map(channels: int = 16, height: int = 10, width: int = 10,
                    box: tuple[int, int, int, int] = (2, 6, 2, 6), seed: int = 0) -> Tensor:
    """A (1, C, H, W) feature map that is zero except for random non-negative activations inside
    ``box = (top, bottom, left, right)``: an "object" on an empty background, which the translation
    experiment moves around (zero background keeps it exact, see :func:`translation_error`)."""
    g = torch.Generator().manual_seed(seed)
    x = torch.zeros(1, channels, height, width)
    t, b, l, r = box
    x[:, :, t:b, l:r] = torch.rand(1, channels, b - t, r - l, generator=g) * 2
    return x


def _attention_output(module: SpatialAttentionRPE, x: Tensor) -> dict[str, Tensor]:
    """The terms of Eq. (7) inside gamma (content V A_s, E_H, E_W, before BN) and their sum."""
    t = module.terms(x)
    out = {k: v for k, v in t.items() if k in ("content", "height", "width")}
    out["total"] = sum(out.values())
    return out


def _overlap(n: int, d: int) -> tuple[slice, slice]:
    return (slice(0, n - d), slice(d, n)) if d >= 0 else (slice(-d, n), slice(0, n + d))


def _relative_error(a: Tensor, b: Tensor) -> float:
    return float((a - b).abs().max() / b.abs().max().clamp_min(1e-12))


@torch.no_grad()
def translation_error(module: SpatialAttentionRPE, x: Tensor, shift: tuple[int, int] = (2, 3)
                      ) -> dict[str, float]:
    """How far a spatial attention module is from translation equivariance (LAGA-Net §III-B).

    Moves the content of ``x`` by ``shift = (rows, columns)`` and compares the module's output on
    the moved map with the moved output: ``max |f(T x) - T f(x)| / max |f(x)|`` over the positions
    inside the map after the move, for each term of Eq. (7) before BN and gamma (``content`` = V A_s,
    ``height`` = E_H, ``width`` = E_W) and their sum (``total``). ~1e-7 means equivariant.

    Exact for a module in eval mode whose projections map a zero input to zero (a fresh module: BN
    running mean 0, bias 0) when the content of ``x`` stays inside the map (zero background, e.g.
    :func:`toy_feature_map`): the background then adds nothing to E_H, E_W and the same
    constant to every content softmax. A ``ValueError`` says when the move would push content out.
    """
    dh, dw = shift
    h, w = x.shape[2:]
    moved = torch.roll(x, shifts=(dh, dw), dims=(2, 3))
    (ah, sh), (aw, sw) = _overlap(h, dh), _overlap(w, dw)
    inside = torch.zeros_like(x, dtype=torch.bool)
    inside[:, :, ah, aw] = True
    if bool((x[~inside] != 0).any()):
        raise ValueError(f"translation_error: shifting by {shift} moves non-zero content out of the "
                         f"{h}x{w} map; use a smaller shift or a map with more empty border")
    was_training = module.training
    module.eval()
    try:
        ref, out = _attention_output(module, x), _attention_output(module, moved)
    finally:
        module.train(was_training)
    return {k: _relative_error(out[k][:, :, sh, sw], ref[k][:, :, ah, aw]) for k in ref}


@torch.no_grad()
def shuffle_error(module: SpatialAttentionRPE, x: Tensor, seed: int = 0) -> dict[str, float]:
    """How far a spatial attention module is from equivariance to *pixel shuffling*: a random
    permutation of the H*W positions, ``max |f(pi x) - pi f(x)| / max |f(x)|`` per term (as in
    :func:`translation_error`). Plain content attention (Eq. 3) is exactly shuffle-equivariant:
    it does not see positions at all, which is the weakness the relative encodings fix."""
    b, c, h, w = x.shape
    perm = torch.randperm(h * w, generator=torch.Generator().manual_seed(seed))

    def shuffle(t: Tensor) -> Tensor:
        return t.flatten(2)[:, :, perm].view(t.shape[0], t.shape[1], h, w)

    was_training = module.training
    module.eval()
    try:
        ref, out = _attention_output(module, x), _attention_output(module, shuffle(x))
    finally:
        module.train(was_training)
    return {k: _relative_error(out[k], shuffle(ref[k])) for k in ref}


@torch.no_grad()
def plot_translation(modules: Mapping[str, SpatialAttentionRPE], x: Tensor, shift: tuple[int, int] = (2, 3)):
    """The translation experiment as pictures: one row per module, columns ``|f(x)|``, ``|f(T x)|``
    (the attention output of Eq. 7 inside gamma, norm over channels, first image) and
    ``|f(T x) - T f(x)|`` on the same colour scale (black: equivariant). ``T`` moves the map by
    ``shift``; the titles give :func:`translation_error`. Returns the figure, 3 axes per module."""
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(len(modules), 3, figsize=(9, 2.9 * len(modules)), squeeze=False)
    moved = torch.roll(x, shifts=tuple(shift), dims=(2, 3))
    for row, (name, m) in zip(axes, modules.items()):
        err = translation_error(m, x, shift)["total"]
        was_training = m.training
        m.eval()
        try:
            ref, out = _attention_output(m, x)["total"][0], _attention_output(m, moved)["total"][0]
        finally:
            m.train(was_training)
        expected = torch.roll(ref, shifts=tuple(shift), dims=(1, 2))
        maps = [ref.norm(dim=0), out.norm(dim=0), (out - expected).norm(dim=0)]
        vmax = float(max(maps[0].max(), maps[1].max()))
        titles = ["f(x)", f"f(T x), T = shift {tuple(shift)}", f"|f(T x) - T f(x)|: rel. error {err:.1e}"]
        for ax, mp, title in zip(row, maps, titles):
            ax.imshow(mp.numpy(), cmap="inferno", vmin=0.0, vmax=vmax)
            ax.set_title(title, fontsize=8)
            ax.set_xticks([])
            ax.set_yticks([])
        row[0].set_ylabel(name, fontsize=8)
    fig.tight_layout()
    return fig


def position_encoding_experiment(channels: int = 16, size: int = 10, shift: tuple[int, int] = (2, 3),
                                 seed: int = 0) -> pd.DataFrame:
    """Translation and shuffle errors (of the ``total`` attention output) for three fresh modules on
    the same :func:`toy_feature_map`: plain spatial attention (no positions), SAM-RPE (relative,
    LAGA-Net) and :class:`AbsolutePositionSAM`. Expected: SAM equivariant to both (blind to
    positions), SAM-RPE to translation only, the absolute control to neither."""
    torch.manual_seed(seed)
    modules = {
        "SAM (no positions)": SpatialAttentionRPE(channels, relative_position=False),
        "SAM-RPE (relative, LAGA-Net)": SpatialAttentionRPE(channels),
        "SAM-APE (absolute, control)": AbsolutePositionSAM(channels),
    }
    x = toy_feature_map(channels, size, size, (2, size // 2 + 1, 2, size // 2 + 1), seed)
    rows = []
    for name, m in modules.items():
        rows.append({"module": name, "translation error": translation_error(m, x, shift)["total"],
                     "shuffle error": shuffle_error(m, x, seed)["total"]})
    return pd.DataFrame(rows).set_index("module")


# ============================================================================ trained attention
def _named_attention(model: nn.Module) -> dict[str, nn.Module]:
    names = ("sam3", "sam4", "cam3", "cam4")
    found = {n: getattr(model, n) for n in names if hasattr(model, n)}
    if not found:
        found = {n: m for n, m in model.named_modules() if hasattr(m, "gamma") and hasattr(m, "keep_attention")}
    return found


def attention_gammas(model: nn.Module) -> pd.Series:
    """gamma of every attention module of ``model`` (S3, S4, C3, C4 for LAGA-Net), Eq. (2) and (7).
    All 0 at initialisation (the modules start as identities); training moves them."""
    return pd.Series({n: float(m.gamma.detach()) for n, m in _named_attention(model).items()},
                     name="gamma", dtype=float)


@torch.no_grad()
def capture_attention(model: nn.Module, x: Tensor) -> dict[str, dict]:
    """Run ``model`` (eval mode) on ``x`` and return, per attention module, ``{"attention": A,
    "size": (H, W)}``: ``A_s`` (B, N_keys, N_queries) of a SAM-RPE (columns sum to 1) or ``A_c``
    (B, C, C) of a CAM (rows sum to 1), and the spatial size of the map it attended over.
    The modules' ``keep_attention`` flags and the model's mode are restored afterwards."""
    modules = _named_attention(model)
    sizes: dict[str, tuple[int, int]] = {}
    hooks, flags = [], {}
    for name, m in modules.items():
        flags[name] = m.keep_attention
        m.keep_attention = True
        hooks.append(m.register_forward_pre_hook(
            lambda mod, args, name=name: sizes.__setitem__(name, tuple(args[0].shape[2:]))))
    was_training = model.training
    model.eval()
    try:
        model(x)
        out = {n: {"attention": m.last_attention.cpu(), "size": sizes[n]} for n, m in modules.items()}
    finally:
        model.train(was_training)
        for h in hooks:
            h.remove()
        for name, m in modules.items():
            m.keep_attention = flags[name]
            m.last_attention = None
    return out


def plot_spatial_attention(image: np.ndarray, attention: Tensor, size: tuple[int, int],
                           queries: Sequence[tuple[int, int]] | None = None, title: str = ""):
    """Where query positions look: for each query ``(h, w)`` of the (H, W) feature map, the column
    ``A_s[:, h*W + w]`` of one image's spatial attention (Eq. 3; (N, N) tensor, keys x queries),
    reshaped to (H, W), upsampled and laid over ``image``; a cross marks the query. Default queries:
    the centre and two corners. Returns the figure, one axis per query plus a colour bar."""
    import matplotlib.pyplot as plt

    hh, ww = size
    if attention.shape != (hh * ww, hh * ww):
        raise ValueError(f"plot_spatial_attention: attention {tuple(attention.shape)} does not match "
                         f"a {hh}x{ww} map; pass one image's (N, N) matrix")
    if queries is None:
        queries = [(hh // 2, ww // 2), (0, 0), (hh - 1, ww - 1)]
    ih, iw = image.shape[:2]
    fig, axes = plt.subplots(1, len(queries), figsize=(3.2 * len(queries) + 0.6, 3.4), squeeze=False)
    vmax = float(max(attention[:, h * ww + w].max() for h, w in queries))
    im = None
    for ax, (h, w) in zip(axes[0], queries):
        amap = attention[:, h * ww + w].reshape(1, 1, hh, ww).float()
        up = F.interpolate(amap, size=(ih, iw), mode="nearest")[0, 0].numpy()
        ax.imshow(image)
        im = ax.imshow(up, cmap="jet", alpha=0.45, vmin=0.0, vmax=vmax)
        ax.plot((w + 0.5) * iw / ww - 0.5, (h + 0.5) * ih / hh - 0.5, "w+", ms=14, mew=3)
        ax.set_title(f"query ({h}, {w}) of {hh}x{ww}", fontsize=9)
        ax.set_xticks([])
        ax.set_yticks([])
    fig.colorbar(im, ax=list(axes[0]), fraction=0.03, label="attention weight")
    if title:
        fig.suptitle(title, fontsize=10)
    return fig


def plot_channel_attention(attentions: Mapping[str, Tensor], n: int | None = None, log: bool = True):
    """Channel attention matrices ``A_c`` (Eq. 1; (C, C), row c: how much channel c takes from each
    channel c', sums to 1) given as ``{name: A_c}``; ``n``: only the top-left n x n block (default:
    all). ``log``: logarithmic colour scale (a few channels usually take most of the weight).
    Returns the figure, two axes per entry (matrix, colour bar)."""
    import matplotlib.pyplot as plt
    from matplotlib.colors import LogNorm

    if not attentions:
        raise ValueError("plot_channel_attention: no attention matrices given")
    fig, axes = plt.subplots(1, len(attentions), figsize=(4.4 * len(attentions), 3.8), squeeze=False)
    for ax, (name, a) in zip(axes[0], attentions.items()):
        if a.dim() != 2 or a.shape[0] != a.shape[1]:
            raise ValueError(f"plot_channel_attention: {name} must be one (C, C) matrix, got {tuple(a.shape)}")
        c = a.shape[-1]
        k = c if n is None else min(n, c)
        m = a[:k, :k].float().numpy()
        norm = LogNorm(vmin=max(float(m.min()), 1e-8), vmax=float(m.max())) if log else None
        im = ax.imshow(m, cmap="magma", norm=norm, interpolation="nearest")
        ax.set_title(f"{name}: $A_c$" + (f", first {k} of {c} channels" if k < c else f" ({c} x {c})"), fontsize=9)
        ax.set_xlabel("channel c'")
        ax.set_ylabel("channel c")
        fig.colorbar(im, ax=ax, fraction=0.046)
    fig.tight_layout()
    return fig


@torch.no_grad()
def cam_energy_comparison(x: Tensor) -> tuple[dict[str, Tensor], pd.DataFrame]:
    """CAM's ``A_c`` on features x (B, C, H, W) with the paper's energy (Eq. 1, softmax(K Q^T)) and the
    authors' code's (softmax(max - K Q^T)): ``({"paper": A, "authors": A}`` of the first image,
    one row per energy of means over images and channels: the weight a channel gives itself, the
    largest weight of a row, and the channels a row mixes (1 / sum_c' A[c, c']^2: 1 = one-hot, C = uniform))."""
    maps, rows = {}, {}
    for energy in CAM_ENERGIES:
        a = channel_attention(x, energy)
        maps[energy] = a[0]
        rows[energy] = {"weight on itself": float(a.diagonal(dim1=1, dim2=2).mean()),
                        "largest weight": float(a.amax(-1).mean()),
                        "channels mixed": float((1.0 / (a * a).sum(-1)).mean())}
    return maps, pd.DataFrame(rows).T
