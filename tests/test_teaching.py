"""handreid.teaching: the helpers of the teaching notebooks (pictures and small experiments)."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

from handreid import paths, teaching  # noqa: E402
from handreid.losses import batch_hard_triplet, label_smoothed_cross_entropy  # noqa: E402
from handreid.models import build_model  # noqa: E402
from handreid.models.attention import SpatialAttentionRPE, reindex_matrix  # noqa: E402


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def _coverage(height, width, hp, vp):
    cover = np.zeros((height, width), dtype=int)
    for t, b, l, r in teaching.partition_boxes(height, width, hp, vp):
        cover[t:b, l:r] += 1
    return cover


# ---------------------------------------------------------------------------- GPA-Net partitions
@pytest.mark.parametrize("size,grid", [((24, 24), (3, 1)), ((24, 24), (4, 3)), ((4, 4), (2, 2)),
                                       ((6, 9), (3, 3)), ((8, 8), (1, 1))])
def test_partition_boxes_tile_exactly_when_divisible(size, grid):
    boxes = teaching.partition_boxes(*size, *grid)
    assert len(boxes) == grid[0] * grid[1]
    assert (_coverage(*size, *grid) == 1).all()          # every cell of T in exactly one part
    heights = {b - t for t, b, _, _ in boxes}
    widths = {r - l for _, _, l, r in boxes}
    assert heights == {size[0] // grid[0]} and widths == {size[1] // grid[1]}


def test_partition_boxes_are_row_major_stripes_along_the_height():
    assert teaching.partition_boxes(24, 24, 3, 1) == [(0, 8, 0, 24), (8, 16, 0, 24), (16, 24, 0, 24)]
    boxes = teaching.partition_boxes(4, 6, 2, 3)
    assert boxes[:3] == [(0, 2, 0, 2), (0, 2, 2, 4), (0, 2, 4, 6)]     # first stripe, left to right


@pytest.mark.parametrize("size,grid", [((4, 4), (3, 1)), ((5, 7), (2, 3)), ((2, 2), (4, 3)), ((7, 3), (4, 2))])
def test_part_features_match_adaptive_pooling_for_any_size(size, grid):
    t = torch.randn(2, 5, *size)
    assert (_coverage(*size, *grid) >= 1).all()
    mine = torch.stack(teaching.part_features(t, *grid), dim=2)                     # (B, C, p)
    ref = F.adaptive_avg_pool2d(t, grid).flatten(2)
    torch.testing.assert_close(mine, ref)


def test_part_features_match_gpanet():
    model = build_model("gpanet", num_classes=5, hp=2, vp=2).eval()
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        t = model.backbone(x)
        feats = model.extract(x)
    for a, b in zip(feats[1:], teaching.part_features(t, 2, 2), strict=True):
        torch.testing.assert_close(a, b)


def test_partition_boxes_bad_arguments():
    for args in [(0, 4, 1, 1), (4, 4, 0, 1), (4, 4, 1, 1.5), (4, True, 1, 1)]:
        with pytest.raises(ValueError, match="positive int"):
            teaching.partition_boxes(*args)
    with pytest.raises(ValueError, match="B, C, M, N"):
        teaching.part_features(torch.zeros(3, 4, 4), 2, 1)


def test_plot_partitions_one_axis_per_grid():
    image = np.random.default_rng(0).integers(0, 255, (120, 160, 3), dtype=np.uint8)
    grids = [(1, 1), (2, 2), (3, 1), (4, 3), (2, 3)]
    fig = teaching.plot_partitions(image, grids)
    assert len(fig.axes) == len(grids)
    # one box per part in each panel
    assert [len(ax.patches) for ax in fig.axes] == [h * v for h, v in grids]
    with pytest.raises(ValueError):
        teaching.plot_partitions(image, [])


def test_descriptor_table_gpanet():
    table = teaching.descriptor_table("gpanet", {"global": dict(hp=1, vp=1), "3x1": dict(hp=3, vp=1),
                                                 "2x2": dict(hp=2, vp=2)}, image_size=(32, 32))
    assert list(table.index) == ["global", "3x1", "2x2"]
    assert table["descriptor_dim"].tolist() == [2048, 8192, 10240]
    assert table["classifiers"].tolist() == [1, 4, 5]
    assert table.loc["3x1", "names"] == "global, part_1_1, part_2_1, part_3_1"


# ---------------------------------------------------------------------------- losses
def test_smoothed_targets_eq2():
    y = torch.tensor([0, 3, 3, 1])
    q = teaching.smoothed_targets(y, 5, 0.1)
    torch.testing.assert_close(q.sum(1), torch.ones(4))
    assert q[0, 0] == pytest.approx(1 - 4 / 5 * 0.1) and q[0, 1] == pytest.approx(0.02)
    logits = torch.randn(4, 5)
    by_hand = -(q * logits.log_softmax(1)).sum(1).mean()
    torch.testing.assert_close(by_hand, label_smoothed_cross_entropy(logits, y, 0.1))
    torch.testing.assert_close(teaching.smoothed_targets(y, 5, 0.0), F.one_hot(y, 5).float())
    with pytest.raises(ValueError):
        teaching.smoothed_targets(y, 5, 1.5)


def test_toy_pk_batch():
    emb, labels = teaching.toy_pk_batch(p=3, k=4, dim=5, seed=1)
    assert emb.shape == (12, 5)
    assert labels.tolist() == [0] * 4 + [1] * 4 + [2] * 4
    assert torch.equal(emb, teaching.toy_pk_batch(p=3, k=4, dim=5, seed=1)[0])


@pytest.mark.parametrize("seed,spread", [(0, 0.8), (1, 2.0), (2, 0.3)])
def test_batch_hard_reference_matches_library(seed, spread):
    emb, labels = teaching.toy_pk_batch(p=4, k=3, dim=3, spread=spread, seed=seed)
    total, table = teaching.batch_hard_reference(emb, labels, margin=1.2)
    assert len(table) == 12
    assert total == pytest.approx(float(batch_hard_triplet(emb, labels, 1.2, reduction="sum")), rel=1e-5)
    assert table["loss"].mean() == pytest.approx(float(batch_hard_triplet(emb, labels, 1.2)), rel=1e-5)
    d = torch.cdist(emb.double(), emb.double())
    for _, row in table.iterrows():
        a = int(row["anchor"])
        assert labels[int(row["hardest_positive"])] == labels[a] != labels[int(row["hardest_negative"])]
        assert row["d_pos"] == pytest.approx(float(d[a][(labels == labels[a])].max()))


def test_batch_hard_reference_skips_anchors_without_positive():
    emb = torch.tensor([[0.0, 0.0], [0.5, 0.0], [3.0, 0.0]])
    labels = torch.tensor([0, 0, 1])
    total, table = teaching.batch_hard_reference(emb, labels, margin=1.2)
    assert table["anchor"].tolist() == [0, 1]
    assert total == pytest.approx(float(batch_hard_triplet(emb, labels, 1.2, reduction="sum")))


def test_plot_batch_hard_axes():
    emb, labels = teaching.toy_pk_batch()
    fig = teaching.plot_batch_hard(emb, labels, anchor=2)
    assert len(fig.axes) == 3                           # scatter, distance matrix, colour bar
    np.testing.assert_allclose(fig.axes[1].images[0].get_array(), torch.cdist(emb, emb).numpy(), atol=1e-5)


# ---------------------------------------------------------------------------- relative positions
def test_plot_reindexing_shows_eq4_and_eq5():
    fig = teaching.plot_reindexing(height=3, key_channels=2)
    assert len(fig.axes) == 4
    i_h = np.asarray(fig.axes[1].images[0].get_array())
    np.testing.assert_array_equal(i_h, reindex_matrix(3, 3).numpy())
    r_h = np.asarray(fig.axes[2].images[0].get_array())
    p_h = np.asarray(fig.axes[3].images[0].get_array())
    assert r_h.shape == (5, 2) and p_h.shape == (9, 2)
    for q in range(3):
        for k in range(3):                                # P_H[(q, k)] = R_H[k - q]
            np.testing.assert_array_equal(p_h[q * 3 + k], r_h[k - q + 2])


def test_absolute_position_sam_ignores_the_query_row():
    torch.manual_seed(0)
    m = teaching.AbsolutePositionSAM(16, max_size=8)
    p = m.position_embeddings("height", 5)
    assert p.shape == (5, 5, 2)
    for q in range(5):
        torch.testing.assert_close(p[q], m.rel_height[:5])
    rpe = SpatialAttentionRPE(16, max_size=8)
    rel = rpe.position_embeddings("height", 5)
    assert not torch.allclose(rel[0], rel[1])             # relative: depends on the query row


def test_toy_feature_map_zero_outside_box():
    x = teaching.toy_feature_map(8, 10, 12, box=(2, 5, 3, 7), seed=0)
    assert x.shape == (1, 8, 10, 12)
    mask = torch.zeros(10, 12, dtype=torch.bool)
    mask[2:5, 3:7] = True
    assert (x[..., ~mask] == 0).all() and (x[..., mask] > 0).any()


@pytest.mark.parametrize("shift", [(2, 3), (-1, 2), (0, -2), (3, 0)])
def test_translation_error_zero_for_rpe_and_not_for_absolute_control(shift):
    torch.manual_seed(1)
    x = teaching.toy_feature_map(16, 10, 10, box=(3, 6, 3, 6), seed=2)
    rpe = teaching.translation_error(SpatialAttentionRPE(16), x, shift)
    assert set(rpe) == {"content", "height", "width", "total"}
    assert max(rpe.values()) < 1e-5
    ape = teaching.translation_error(teaching.AbsolutePositionSAM(16), x, shift)
    assert ape["content"] < 1e-5                          # same content attention ...
    assert ape["total"] > 1e-2                            # ... but absolute positions break equivariance


def test_translation_error_restores_mode_and_rejects_content_leaving_the_map():
    m = SpatialAttentionRPE(16)
    x = teaching.toy_feature_map(16, 8, 8, box=(0, 4, 0, 4))
    teaching.translation_error(m, x, (2, 2))
    assert m.training
    with pytest.raises(ValueError, match="out of the"):
        teaching.translation_error(m, x, (-1, 0))
    with pytest.raises(ValueError, match="out of the"):
        teaching.translation_error(m, x, (5, 0))


def test_shuffle_error_zero_only_without_positions():
    torch.manual_seed(0)
    x = torch.randn(1, 16, 6, 6)
    plain = teaching.shuffle_error(SpatialAttentionRPE(16, relative_position=False), x, seed=3)
    assert set(plain) == {"content", "total"} and plain["total"] < 1e-5
    assert teaching.shuffle_error(SpatialAttentionRPE(16), x, seed=3)["total"] > 1e-2


def test_position_encoding_experiment_table():
    table = teaching.position_encoding_experiment(channels=16, size=10, shift=(2, 3), seed=0)
    t, s = table["translation error"], table["shuffle error"]
    assert list(table.index) == ["SAM (no positions)", "SAM-RPE (relative, LAGA-Net)", "SAM-APE (absolute, control)"]
    assert t.iloc[0] < 1e-5 and s.iloc[0] < 1e-5           # blind to positions
    assert t.iloc[1] < 1e-5 and s.iloc[1] > 1e-2           # relative: translation equivariant only
    assert t.iloc[2] > 1e-2 and s.iloc[2] > 1e-2           # absolute: neither


def test_plot_translation_axes_and_black_difference_for_rpe():
    torch.manual_seed(0)
    mods = {"rpe": SpatialAttentionRPE(16), "ape": teaching.AbsolutePositionSAM(16)}
    x = teaching.toy_feature_map(16, 10, 10, box=(2, 6, 2, 6))
    fig = teaching.plot_translation(mods, x, (2, 3))
    assert len(fig.axes) == 6
    diff_rpe = np.asarray(fig.axes[2].images[0].get_array())
    diff_ape = np.asarray(fig.axes[5].images[0].get_array())
    assert diff_rpe.max() < 1e-4 and diff_ape.max() > 1e-2


# ---------------------------------------------------------------------------- trained attention
@pytest.fixture(scope="module")
def attention_model():
    torch.manual_seed(0)
    return build_model("laganet", num_classes=4, branches=("sam", "cam"))


def test_attention_gammas(attention_model):
    gammas = teaching.attention_gammas(attention_model)
    assert list(gammas.index) == ["sam3", "sam4", "cam3", "cam4"]
    assert (gammas == 0).all()
    with torch.no_grad():
        attention_model.cam4.gamma.fill_(0.25)
    try:
        assert teaching.attention_gammas(attention_model)["cam4"] == pytest.approx(0.25)
    finally:
        with torch.no_grad():
            attention_model.cam4.gamma.zero_()


def test_capture_attention(attention_model):
    attention_model.train()
    x = torch.randn(2, 3, 64, 48)
    maps = teaching.capture_attention(attention_model, x)
    assert set(maps) == {"sam3", "sam4", "cam3", "cam4"}
    assert maps["sam3"]["size"] == (4, 3) and maps["sam4"]["size"] == (4, 3)
    a_s = maps["sam4"]["attention"]
    assert a_s.shape == (2, 12, 12)
    torch.testing.assert_close(a_s.sum(dim=1), torch.ones(2, 12))          # columns: over keys
    a_c = maps["cam3"]["attention"]
    assert a_c.shape == (2, 1024, 1024)
    torch.testing.assert_close(a_c.sum(dim=2), torch.ones(2, 1024))        # rows
    assert attention_model.training                                          # mode restored
    for m in attention_model.attention_modules():
        assert m.keep_attention is False and m.last_attention is None


def test_plot_spatial_attention_axes():
    attn = torch.softmax(torch.randn(12, 12), dim=0)
    image = np.zeros((64, 48, 3), dtype=np.uint8)
    fig = teaching.plot_spatial_attention(image, attn, (4, 3))
    assert len(fig.axes) == 3 + 1                         # three default queries + colour bar
    fig = teaching.plot_spatial_attention(image, attn, (4, 3), queries=[(1, 1)])
    assert len(fig.axes) == 2
    # the overlay of query (1, 1) is column 1 * 3 + 1 of A_s, upsampled
    overlay = np.asarray(fig.axes[0].images[1].get_array())
    assert overlay.shape == (64, 48)
    assert overlay[:16, :16].mean() == pytest.approx(float(attn[0, 4]), rel=1e-5)
    with pytest.raises(ValueError, match="does not match"):
        teaching.plot_spatial_attention(image, attn, (3, 3))


def test_plot_channel_attention_axes():
    a = torch.softmax(torch.randn(16, 16), dim=1)
    fig = teaching.plot_channel_attention({"C3": a, "C4": a}, n=8)
    assert len(fig.axes) == 4
    assert np.asarray(fig.axes[0].images[0].get_array()).shape == (8, 8)
    fig = teaching.plot_channel_attention({"C3": a}, log=False)
    assert np.asarray(fig.axes[0].images[0].get_array()).shape == (16, 16)
    with pytest.raises(ValueError):
        teaching.plot_channel_attention({})
    with pytest.raises(ValueError, match="one \\(C, C\\) matrix"):
        teaching.plot_channel_attention({"batch": a[None]})


# ---------------------------------------------------------------------------- misc
def test_runs_dir_follows_handreid_output(tmp_path, monkeypatch):
    monkeypatch.setenv("HANDREID_OUTPUT", str(tmp_path))
    assert paths.teaching_runs_dir() == tmp_path / "results" / "teaching"


def test_read_image(tmp_path):
    from PIL import Image

    path = tmp_path / "hand.jpg"
    Image.fromarray(np.full((30, 40, 3), 200, dtype=np.uint8)).save(path)
    full = teaching.read_image(path)
    assert full.shape == (30, 40, 3) and full.dtype == np.uint8
    assert teaching.read_image(path, (16, 8)).shape == (16, 8, 3)
