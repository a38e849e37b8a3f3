"""The demo profile's pretrained small trunks (handreid.engine.pretrain): what is pretrained, that every
model starts from it, that a run is the same whether its trunk was just pretrained or found, and
that the run's identity and record name it."""

import json

import pytest
import torch

from handreid.data.synthetic import write_11k
from handreid.engine import fit, make_config, pretrain
from handreid.engine.records import load_run
from handreid.models import build_model
from handreid.models.backbone import small_trunk_weights

TINY_WORLD = {"num_subjects": 12, "images_per_aspect": [3, 4], "image_size": [48, 36], "seed": 5}


@pytest.fixture
def tiny(monkeypatch, tmp_path):
    """A small pretraining world and 2 pretraining epochs, in this test's own data and cache folders."""
    monkeypatch.setenv("HANDREID_DEMO_DATA", str(tmp_path / "demo"))
    monkeypatch.setenv("HANDREID_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(pretrain, "PRETRAINING_WORLD", TINY_WORLD)
    monkeypatch.setattr(pretrain, "PRETRAINING", {**pretrain.PRETRAINING, "epochs": 2})
    root = write_11k(tmp_path / "data", num_subjects=8, images_per_aspect=(3, 4), image_size=(48, 36), seed=2)
    return {"dataset": "11k-dr", "data_root": str(root), "epochs": 1, "image_size": 32, "batch_size": 8,
            "eval_repeats": 1, "device": "cpu"}


def _pretrained_model_state(arch):
    cfg = pretrain.pretraining_config(arch)
    return torch.load(cfg.runs_root / cfg.run_id() / "model.pt", weights_only=False)["model"]


def test_the_pretraining_run_is_a_plain_baseline_on_the_world_from_scratch(tiny):
    cfg = pretrain.pretraining_config("vgg19bn")
    ident = cfg.identity()
    assert (ident["dataset"], ident["method"], ident["pretrained"], ident["recipe"]["epochs"]) == (
        "11k-dr", "vgg19bn", False, 2)
    assert "pretraining" not in ident and ident["trunk"] == make_config(method="gpanet").trunk
    assert cfg.root == pretrain.world_root() and pretrain.world_key() == pretrain.world_key(dict(TINY_WORLD))
    assert pretrain.world_key() != pretrain.world_key({**TINY_WORLD, "seed": 6})
    with pytest.raises(ValueError, match="no pretraining for trunk architecture 'vgg16'"):
        pretrain.pretraining_config("vgg16")


@pytest.mark.parametrize("method", ["gpanet", "laganet", "vgg19bn"])
def test_every_trunk_a_model_builds_starts_from_the_pretrained_weights(tiny, method):
    provider = pretrain.TrunkProvider()
    with small_trunk_weights(provider):
        model = build_model(method, num_classes=5, pretrained=True, trunk=make_config(method=method).trunk)
    arch = "vgg19bn" if method == "vgg19bn" else "resnet50"
    state = pretrain.trunk_state(arch, _pretrained_model_state(arch))
    got = model.state_dict()
    if method == "vgg19bn":  # torchvision's classifier.0 / .3 (fc6 / fc7) are the model's fc67.0 / .3
        pairs = {"features.0.weight": "features.0.weight", "classifier.3.weight": "fc67.3.weight",
                 "features.50.running_var": "features.50.running_var"}
    elif method == "gpanet":
        pairs = {"conv1.weight": "backbone.conv1.weight", "layer4.0.conv3.weight": "backbone.layer4.0.conv3.weight",
                 "bn1.running_mean": "backbone.bn1.running_mean"}
    else:  # LAGA-Net: the stem and layer1-3 shared, layer4 copied into each branch (sam, cam, global, local)
        fours = [k for k in got if k.startswith("layer4.") and k.endswith(".0.conv3.weight")]
        assert len(fours) == 4, fours
        for k in fours:
            assert torch.equal(got[k], state["layer4.0.conv3.weight"]), k
        pairs = {"conv1.weight": "backbone.conv1.weight", "layer3.0.conv2.weight": "backbone.layer3.0.conv2.weight"}
    for theirs, ours in pairs.items():
        assert torch.equal(got[ours], state[theirs]), (theirs, ours)
    assert provider.used == {arch: {"run_id": pretrain.pretraining_config(arch).run_id(),
                                    "sha": pretrain.trunk_fingerprint(state)}}
    assert pretrain.trunk_archs(method, {}, make_config(method=method).trunk) == [arch]


def test_a_run_is_the_same_whether_its_trunk_was_just_pretrained_or_found(tiny, tmp_path):
    cfg = make_config(method="gpanet", recipe="gpa", out_dir=str(tmp_path / "first"), **tiny)
    assert cfg.identity()["pretraining"] == {"world": pretrain.world_key(),
                                             "resnet50": pretrain.pretraining_config("resnet50").run_id()}
    assert pretrain.missing([cfg, cfg.to_dict()]) == [pretrain.pretraining_config("resnet50").run_id()]
    first = fit(cfg, progress=False)      # pretrains the trunk (fit seeds torch inside), then trains
    assert pretrain.missing([cfg]) == []
    again = fit(make_config(method="gpanet", recipe="gpa", out_dir=str(tmp_path / "again"), **tiny),
                progress=False)           # finds it
    assert first.run_id == again.run_id
    assert first.metrics["per_repeat"] == again.metrics["per_repeat"]
    assert first.history.drop(columns="seconds").equals(again.history.drop(columns="seconds"))
    trunk = pretrain.trunk_state("resnet50", _pretrained_model_state("resnet50"))
    header = json.loads((tmp_path / "first" / first.run_id / "config.json").read_text())
    assert header["pretrained_trunks"] == {"resnet50": {"run_id": pretrain.pretraining_config("resnet50").run_id(),
                                                         "sha": pretrain.trunk_fingerprint(trunk)}}
    pretraining = load_run(pretrain.pretraining_config("resnet50").runs_root / header["pretrained_trunks"]["resnet50"]["run_id"])
    assert pretraining.finished and len(pretraining.history) == 2
    # from scratch: another run, no trunk in its record
    scratch = fit(make_config(method="gpanet", recipe="gpa", pretrained=False, out_dir=str(tmp_path / "s"), **tiny),
                  progress=False)
    assert scratch.run_id != first.run_id and "pretrained_trunks" not in scratch.config


def test_a_pretraining_record_without_its_weights_is_trained_again(tiny):
    provider = pretrain.TrunkProvider()
    shape = make_config(method="gpanet").trunk
    from handreid.models.backbone import TrunkShape

    first = provider("resnet50", TrunkShape.parse(shape))
    cfg = pretrain.pretraining_config("resnet50")
    (cfg.runs_root / cfg.run_id() / "model.pt").unlink()
    again = provider("resnet50", TrunkShape.parse(shape))
    assert all(torch.equal(first[k], again[k]) for k in first)   # same machine, same seed: the same trunk
    with pytest.raises(ValueError, match="pretrains its own trunk shape only"):
        provider("resnet50", TrunkShape(width=0.25, blocks=(1, 1, 1, 1)))


def test_a_small_trunk_asked_for_pretrained_weights_outside_the_demo_is_refused():
    with pytest.raises(ValueError, match=r"ImageNet weights exist for the full trunk only.*handreid\.engine\.pretrain"):
        build_model("gpanet", num_classes=3, pretrained=True, trunk={"width": 0.125, "blocks": [1, 1, 1, 1]})


def test_trunk_fingerprint_follows_names_and_values():
    a = {"w": torch.ones(2, 2), "b": torch.zeros(3)}
    assert pretrain.trunk_fingerprint(a) == pretrain.trunk_fingerprint(dict(reversed(list(a.items()))))
    assert pretrain.trunk_fingerprint(a) != pretrain.trunk_fingerprint({**a, "w": torch.ones(2, 2) * 2})
    assert pretrain.trunk_fingerprint(a) != pretrain.trunk_fingerprint({"v": a["w"], "b": a["b"]})


def test_the_sweep_starts_one_run_per_missing_trunk_first(tiny):
    """Two workers pretrain the two trunks side by side instead of one waiting for the other."""
    from handreid.repro import plan as pl
    from handreid.repro import sweep

    tasks = pl.plan("gpa-table1", datasets=["11k-dr"], seeds=2).runs  # VGG19-bn, ResNet50, GPA-Net rows
    ids = {arch: pretrain.pretraining_config(arch).run_id() for arch in ("resnet50", "vgg19bn")}
    trunks = pretrain.missing(t.params for t in tasks)
    assert sorted(trunks) == sorted(ids.values())
    ordered = sweep.trunks_first(tasks, trunks)
    archs = [("vgg19bn" if t.params["method"] == "vgg19bn" else "resnet50") for t in ordered[:2]]
    assert sorted(archs) == ["resnet50", "vgg19bn"]
    assert sorted(t.run_id for t in ordered) == sorted(t.run_id for t in tasks)      # nothing lost or doubled
    # Then the others in their order, VGG19-bn's (the rarer trunk: 2 of 6 runs) last, as they would wait for it.
    rest = [t for t in tasks if t.run_id not in {o.run_id for o in ordered[:2]}]
    vgg = [t.run_id for t in rest if t.params["method"] == "vgg19bn"]
    assert vgg and [t.run_id for t in ordered[2:]] == [t.run_id for t in rest if t.run_id not in vgg] + vgg
    assert [t.params["method"] for t in tasks[:2]] == ["vgg19bn", "vgg19bn"]   # the plan's order differs
    assert sweep.trunks_first(tasks, []) == list(tasks)
