"""The paper/authors ``variant`` switch and the ``mba`` recipe (issue 13 parts 2-3).

Each switch is checked on the computation it names, against an explicit transcription, and the
default must leave every run id (and so every committed record) as it was.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
from dataclasses import asdict
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from handreid.data.augment import Augment, augment_batch, color_jitter, random_crop, random_flip
from handreid.data.cache import ImageCache, cache_key
from handreid.engine import make_config
from handreid.engine.config import ConfigError
from handreid.engine.evaluate import extract_features
from handreid.engine.recipes import get_recipe
from handreid.engine.records import load_run
from handreid.engine.train import keep_if_best, make_loss
from handreid.engine.variant import VARIANTS, apply_variant, variant_model_options
from handreid.losses import LAGANetLoss, batch_hard_triplet
from handreid.models.attention import ChannelAttention, SpatialAttentionRPE, channel_attention
from handreid.models.heads import ReIDOutput

REPO = Path(__file__).resolve().parents[1]


# ----------------------------------------------------------------------------- run identity
def test_committed_run_ids_unchanged():
    """Every committed record's configuration still hashes to its directory name."""
    dirs = sorted((REPO / "results" / "runs").glob("*/config.json"))
    assert len(dirs) >= 47  # the 47 records from before the variant switch, and those made since
    for f in dirs:
        assert make_config(**load_run(f.parent).parameters()).run_id() == f.parent.name, f.parent.name


def test_default_variant_not_in_identity_and_each_variant_is():
    base = make_config(method="laganet", recipe="laga")
    assert "variant" not in base.identity()
    ids = {v: make_config(method="laganet", recipe="laga", variant=v).run_id() for v in VARIANTS}
    assert len({base.run_id(), *ids.values()}) == 3
    assert make_config(method="laganet", recipe="laga", variant="authors").identity()["variant"] == "authors"


def test_wrong_variant_rejected_by_name():
    with pytest.raises(ConfigError, match=r"parameter variant='author' is invalid: expected .*'paper'.*'authors'"):
        make_config(variant="author")


def test_variant_paper_changes_only_the_triplet_reduction_of_laga():
    laga = get_recipe("laga", "11k-dr")
    a, b = asdict(laga), asdict(apply_variant(laga, "paper"))
    assert {k for k in a if a[k] != b[k]} == {"triplet_reduction"} and b["triplet_reduction"] == "sum"


def test_variant_authors_changes_data_and_weights_of_laga():
    laga = get_recipe("laga", "11k-dr")
    a, b = asdict(laga), asdict(apply_variant(laga, "authors"))
    assert {k for k in a if a[k] != b[k]} == {"weights", "resize_filter", "augment"}
    assert (b["weights"], b["resize_filter"]) == ("best_val", "bicubic")
    changed = {k for k in a["augment"] if a["augment"][k] != b["augment"][k]}
    assert changed == {"brightness", "contrast", "jitter_first", "jitter_order"}   # saturation is 0.1 already
    assert (b["augment"]["brightness"], b["augment"]["contrast"], b["augment"]["saturation"]) == (0.1, 0.1, 0.1)


def test_variant_model_options_only_for_the_laga_family():
    assert variant_model_options("authors", "gpanet") == {}
    assert variant_model_options(None, "mbanet") == {}
    assert variant_model_options("authors", "mbanet") == {
        "cam_energy": "authors", "sam_rpe": "literal", "shared_layer4": True, "reduction_dim": 2048}
    assert variant_model_options("paper", "laganet") == {
        "cam_energy": "paper", "sam_rpe": "axial", "shared_layer4": False, "reduction_dim": 1024}
    # explicit options win over the variant's
    cfg = make_config(method="laganet", recipe="laga", variant="authors", method_options={"shared_layer4": False})
    assert cfg.model_options()["shared_layer4"] is False and cfg.model_options()["cam_energy"] == "authors"


def test_literal_sam_needs_a_square_input():
    with pytest.raises(ConfigError, match=r"image_size=\(64, 48\).*square"):
        make_config(method="mbanet", recipe="mba", image_size=(64, 48))
    make_config(method="mbanet", recipe="mba", image_size=(64, 48), variant="paper")  # axial: any shape


# ----------------------------------------------------------------------------- mba recipe
def test_mba_recipe_is_the_public_code():
    r = get_recipe("mba", "11k-dr")
    assert (r.optimizer, r.lr, r.backbone_lr_mult, r.weight_decay) == ("adam", 8e-4, 0.1, 5e-4)
    assert (r.epochs, r.milestones, r.gamma, r.warmup_epochs, r.warmup_start_lr) == (70, (40, 60), 0.5, 10, 8e-6)
    assert (r.batch_size, r.sampler, r.triplet_weight, r.label_smoothing) == (4, "random", 0.0, 0.1)
    assert (r.image_size, r.train_size, r.flip_test) == ((324, 324), (356, 356), True)
    assert (r.weights, r.resize_filter, r.augment.jitter_first, r.augment.jitter_order) == (
        "best_val", "bicubic", True, "random")
    # the code's LRScheduler: linear warm-up from 8e-6, then x0.5 at 40 and 60
    assert [r.lr_at(e) for e in (0, 5, 10, 39, 40, 60, 69)] == pytest.approx(
        [8e-6, 8e-6 + (8e-4 - 8e-6) * 0.5, 8e-4, 8e-4, 4e-4, 2e-4, 2e-4])
    with pytest.raises(ValueError, match="'mba' is MBA-Net's code for hand images"):
        get_recipe("mba", "market1501")
    with pytest.raises(ConfigError, match="parameter recipe='mba' is invalid"):
        make_config(recipe="mba", dataset="market1501")


def test_mba_recipe_builds_the_code_s_network():
    from handreid.models import build_model

    cfg = make_config(method="mbanet", recipe="mba")
    assert cfg.resolved_variant == "authors" and cfg.identity()["variant"] == "authors"
    m = build_model("mbanet", num_classes=5, **cfg.model_options())
    assert list(m.layer4) == ["shared"]
    assert {h.fc.out_features for h in m.heads} == {2048}
    assert m.cam3.energy == m.cam4.energy == "authors" and m.sam3.rpe == m.sam4.rpe == "literal"
    assert isinstance(make_loss(cfg.resolved_recipe()), LAGANetLoss) and make_loss(cfg.resolved_recipe()).beta == 0.0
    paper = build_model("mbanet", num_classes=5, **make_config(method="mbanet", recipe="laga").model_options())
    assert sorted(paper.layer4) == ["cam", "global", "sam"] and paper.cam3.energy == "paper"
    assert {h.fc.out_features for h in paper.heads} == {1024}


# ----------------------------------------------------------------------------- CAM energy
def test_cam_energy_paper_and_authors_against_explicit_softmax():
    torch.manual_seed(0)
    x = torch.rand(2, 6, 3, 4)  # non-negative, as after a ReLU
    X = x.flatten(2)
    E = X @ X.transpose(1, 2)
    paper = torch.softmax(E, dim=-1)
    authors = torch.softmax(E.max(dim=-1, keepdim=True).values - E, dim=-1)
    assert torch.allclose(channel_attention(x, "paper"), paper, atol=1e-6)
    assert torch.allclose(channel_attention(x, "authors"), authors, atol=1e-6)
    assert not torch.allclose(paper, authors, atol=1e-2)
    for energy, A in (("paper", paper), ("authors", authors)):
        m = ChannelAttention(energy=energy)
        with torch.no_grad():
            m.gamma.fill_(0.7)
        assert torch.allclose(m(x), 0.7 * (A @ X).view_as(x) + x, atol=1e-5)   # Eq. (2)
    assert ChannelAttention(invert_energy=True).energy == "authors"
    with pytest.raises(ValueError, match="energy must be one of 'paper', 'authors', got 'max'"):
        ChannelAttention(energy="max")


# ----------------------------------------------------------------------------- SAM-RPE
def _code_reindexing(n: int) -> torch.Tensor:
    """The code's re-indexing mask, transcribed: [x, i, r] = 1 iff i - x == r - (n - 1)."""
    out = torch.zeros(n, n, 2 * n - 1)
    for a in range(n):
        for i in range(n):
            out[a, i, i - a + n - 1] = 1.0
    return out


def test_sam_literal_is_the_code_s_eq_4_to_7_and_axial_is_unchanged():
    torch.manual_seed(0)
    c, n = 16, 5
    axial = SpatialAttentionRPE(c, max_size=8).eval()
    literal = SpatialAttentionRPE(c, max_size=8, rpe="literal").eval()
    literal.load_state_dict(axial.state_dict())  # same parameters: only the reading differs
    x = torch.randn(2, c, n, n)
    with torch.no_grad():
        ta, tl = axial.terms(x), literal.terms(x)
        q, v = literal.query(x).flatten(2), literal.value(x).flatten(2)
        big = literal.max_size[0]
        for axis, table in (("height", literal.rel_height), ("width", literal.rel_width)):
            R = table[big - n: big + n - 1]                              # the 2n-1 rows of this size
            P = _code_reindexing(n).view(n * n, -1) @ R                  # Ih.view(h*w, -1) @ rel_rows
            expected = (v @ (P @ q)).view(2, c, n, n)                    # V (P Q)
            assert torch.allclose(tl[axis], expected, atol=1e-4)
            assert not torch.allclose(ta[axis], expected, atol=1e-2)
        assert torch.allclose(ta["content"], tl["content"])              # Eq. (3) is the same
    with pytest.raises(ValueError, match=r"needs a square feature map; got a 5x4 map"):
        literal(torch.randn(1, c, 5, 4))
    axial(torch.randn(1, c, 5, 4))  # the axial reading takes any shape
    with pytest.raises(ValueError, match="rpe must be one of 'axial', 'literal'"):
        SpatialAttentionRPE(c, rpe="code")


# ----------------------------------------------------------------------------- triplet reduction
def test_triplet_sum_is_mean_times_valid_anchors():
    torch.manual_seed(0)
    emb = [torch.randn(7, 4), torch.randn(7, 4)]
    y = torch.tensor([0, 0, 1, 1, 1, 2, 3])   # ids 2 and 3 appear once: 5 valid anchors
    out = ReIDOutput(logits=[torch.randn(7, 4)], embeddings=emb, features=[], names=("global",))
    mean = LAGANetLoss(reduction="mean").terms(out, y)
    total = LAGANetLoss(reduction="sum").terms(out, y)
    assert torch.allclose(total["triplet"], 5 * mean["triplet"])
    assert torch.allclose(total["ce"], mean["ce"])
    assert torch.allclose(total["triplet"], sum(batch_hard_triplet(e, y, 1.2, "sum") for e in emb))
    assert torch.allclose(total["total"] - total["ce"], 0.1 * total["triplet"])   # beta not rescaled
    recipe = apply_variant(get_recipe("laga", "11k-dr"), "paper")
    assert make_loss(recipe).reduction == "sum" and make_loss(get_recipe("laga", "11k-dr")).reduction == "mean"


# ----------------------------------------------------------------------------- weights evaluated
def test_keep_if_best_ties_go_to_the_later_epoch_and_nan_never_wins():
    model = torch.nn.Linear(2, 1)
    best = keep_if_best(None, 1, math.nan, model)
    assert best is None
    best = keep_if_best(best, 2, 40.0, model)
    with torch.no_grad():
        model.weight.fill_(3.0)
    assert keep_if_best(best, 3, 30.0, model) is best                    # worse: kept
    tie = keep_if_best(best, 4, 40.0, model)                              # ">=": the later epoch
    assert tie["epoch"] == 4 and torch.equal(tie["model"]["weight"], torch.full((1, 2), 3.0))
    with torch.no_grad():
        model.weight.fill_(5.0)
    assert torch.equal(tie["model"]["weight"], torch.full((1, 2), 3.0))   # a copy, not a view


# ----------------------------------------------------------------------------- colour jitter
def _old_color_jitter(x, g, brightness, contrast, saturation):
    """The fixed-order jitter as it was before the switch (transcribed)."""
    gray = lambda t: 0.299 * t[:, 0:1] + 0.587 * t[:, 1:2] + 0.114 * t[:, 2:3]
    n = x.shape[0]
    u = lambda s: (max(0.0, 1 - s) + (1 + s - max(0.0, 1 - s)) * torch.rand(n, generator=g)).view(n, 1, 1, 1)
    x = (x * u(brightness)).clamp(0, 1)
    f = u(contrast)
    x = (f * x + (1 - f) * gray(x).mean(dim=(1, 2, 3), keepdim=True)).clamp(0, 1)
    f = u(saturation)
    return (f * x + (1 - f) * gray(x)).clamp(0, 1)


def test_color_jitter_fixed_order_unchanged_and_random_order_is_per_image():
    x = torch.rand(6, 3, 5, 4)
    old = _old_color_jitter(x.clone(), torch.Generator().manual_seed(3), 0.2, 0.15, 0.1)
    new = color_jitter(x.clone(), torch.Generator().manual_seed(3), 0.2, 0.15, 0.1)
    assert torch.allclose(old, new, atol=1e-6)
    # random order: the same factors, then one permutation per image, applied in that order
    g = torch.Generator().manual_seed(4)
    got = color_jitter(x.clone(), g, 0.4, 0.4, 0.4, order="random")
    g = torch.Generator().manual_seed(4)
    f = [(0.6 + 0.8 * torch.rand(6, generator=g)) for _ in range(3)]
    perms = [torch.randperm(3, generator=g).tolist() for _ in range(6)]
    gray = lambda t: 0.299 * t[0:1] + 0.587 * t[1:2] + 0.114 * t[2:3]
    ops = [lambda t, a: (t * a).clamp(0, 1),
           lambda t, a: (a * t + (1 - a) * gray(t).mean()).clamp(0, 1),
           lambda t, a: (a * t + (1 - a) * gray(t)).clamp(0, 1)]
    for i in range(6):
        t = x[i].clone()
        for k in perms[i]:
            t = ops[k](t, f[k][i])
        assert torch.allclose(got[i], t, atol=1e-6), i
    assert len({tuple(p) for p in perms}) > 1
    assert not torch.allclose(got, color_jitter(x.clone(), torch.Generator().manual_seed(4), 0.4, 0.4, 0.4),
                              atol=1e-4)


def test_jitter_first_jitters_the_whole_image_before_crop_and_flip():
    x = torch.rand(4, 3, 12, 10)
    aug = Augment(flip=True, crop=(8, 8), brightness=0.3, contrast=0.3, saturation=0.3,
                  jitter_first=True, jitter_order="random")
    got = augment_batch(x.clone(), aug, torch.Generator().manual_seed(5))
    g = torch.Generator().manual_seed(5)
    y = color_jitter(x.clone(), g, 0.3, 0.3, 0.3, "random")
    y = random_flip(random_crop(y, (8, 8), g), g)
    from handreid.data.augment import normalize
    assert torch.allclose(got, normalize(y), atol=1e-6)


# ----------------------------------------------------------------------------- resize filter
def test_resize_filter_in_the_cache_key_only_when_not_bilinear(tmp_path):
    paths = []
    rng = np.random.default_rng(0)
    for i in range(2):
        p = tmp_path / f"img{i}.png"
        Image.fromarray(rng.integers(0, 256, (30, 20, 3), dtype=np.uint8)).save(p)
        paths.append(p)
    h = hashlib.sha256(b"v1|16x12")
    for p in paths:
        st = os.stat(p)
        h.update(f"|{os.fspath(p)}|{st.st_size}|{st.st_mtime_ns}".encode())
    assert cache_key(paths, (16, 12)) == h.hexdigest()[:20]            # today's key, unchanged
    assert cache_key(paths, (16, 12), "bicubic") != cache_key(paths, (16, 12))
    for name, flt in (("bilinear", Image.BILINEAR), ("bicubic", Image.BICUBIC)):
        c = ImageCache(paths, (16, 12), cache_dir=tmp_path / "cache", resize_filter=name)
        for i, p in enumerate(paths):
            with Image.open(p) as im:
                ref = np.asarray(im.convert("RGB").resize((12, 16), flt, reducing_gap=None))
            assert np.array_equal(c[i], ref), name
    meta = json.loads(ImageCache(paths, (16, 12), cache_dir=tmp_path / "cache").file.with_suffix(".json").read_text())
    assert "resize_filter" not in meta
    with pytest.raises(ValueError, match="resize_filter must be one of 'bilinear', 'bicubic', got 'lanczos'"):
        cache_key(paths, (16, 12), "lanczos")


# ----------------------------------------------------------------------------- fp32 descriptors
class _ConvDescriptor(torch.nn.Module):
    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        self.conv = torch.nn.Conv2d(3, 8, 3)

    def forward(self, x):
        return self.conv(x).mean(dim=(2, 3))


def test_descriptors_are_fp32_even_under_bf16_autocast():
    model = _ConvDescriptor()
    images = np.random.default_rng(0).integers(0, 256, (5, 16, 16, 3), dtype=np.uint8)
    plain = extract_features(model, images, "cpu")
    with torch.autocast("cpu", dtype=torch.bfloat16):   # a stand-in for the GPU's training autocast
        inside = extract_features(model, images, "cpu")
        from handreid.data.augment import normalize, to_float
        bf16 = model(normalize(to_float(images, torch.device("cpu")))).float()
    assert inside.dtype == torch.float32 and torch.equal(plain, inside)
    assert not torch.allclose(bf16, plain, atol=1e-4)                  # the stand-in does change numbers


# ----------------------------------------------------------------------------- the sweep
def test_sweep_with_variant_recomputes_run_ids_and_blocks_what_the_variant_rejects():
    from handreid.repro import sweep
    from handreid.repro.plan import run_id_of

    hand = {"dataset": "11k-dr", "method": "laganet", "recipe": "laga", "profile": "demo", "seed": 0}
    body = {"dataset": "market1501", "method": "laganet", "recipe": "laga", "profile": "paper", "seed": 0}
    tasks = [sweep.Task("train", run_id_of(hand), dict(hand)), sweep.Task("train", run_id_of(body), dict(body))]
    same = sweep.with_variant(list(tasks), [], None)
    assert same == (tasks, [], [])
    trains, derived, rejected = sweep.with_variant(tasks, [], "authors")
    assert [t.run_id for t in trains] == [run_id_of({**hand, "variant": "authors"})] != [run_id_of(hand)]
    assert trains[0].params["variant"] == "authors"
    assert len(rejected) == 1 and rejected[0].status == "blocked" and "square" in rejected[0].error


def test_cam_energy_comparison_paper_is_nearly_one_hot_on_itself():
    from handreid import teaching

    torch.manual_seed(0)
    x = torch.relu(torch.randn(2, 64, 8, 8))       # non-negative features
    maps, table = teaching.cam_energy_comparison(x)
    assert torch.allclose(maps["paper"], channel_attention(x, "paper")[0])
    assert torch.allclose(maps["authors"], channel_attention(x, "authors")[0])
    A = channel_attention(x, "paper")
    assert table.loc["paper", "weight on itself"] == pytest.approx(float(A.diagonal(dim1=1, dim2=2).mean()))
    assert table.loc["paper", "weight on itself"] > 0.95 and table.loc["paper", "channels mixed"] < 1.1
    assert table.loc["authors", "weight on itself"] < 1e-3 and table.loc["authors", "channels mixed"] > 2
