"""Recipes (GPA-Net §3.1, LAGA-Net §IV-B), run configurations and parameter validation."""

import pytest
import torch

from handreid.engine import ConfigError, get_recipe, make_config
from handreid.engine import config, pretrain
from handreid.engine.config import config_from_namespace, split_seed_of
from handreid.params import ParameterError, validate


def test_gpa_recipe_matches_paper():
    r = get_recipe("gpa", "11k-dr")
    assert (r.optimizer, r.nesterov, r.momentum, r.weight_decay) == ("sgd", True, 0.9, 5e-4)
    assert (r.lr, r.backbone_lr_mult, r.epochs, r.batch_size, r.image_size) == (0.02, 0.1, 60, 20, (384, 384))
    # lr 0.02, divided by 10 after every 30 epochs
    assert [r.lr_at(e) for e in (0, 29)] == [0.02, 0.02]
    assert r.lr_at(30) == pytest.approx(0.002)
    assert r.lr_at(59) == pytest.approx(0.002)


def test_laga_schedule_values():
    r = get_recipe("laga", "11k-pr")
    # warm-up 8e-6 -> 8e-4 linearly over 10 epochs, then 4e-4 after 40 and 2e-4 after 60
    assert r.lr_at(0) == pytest.approx(8e-6)
    assert r.lr_at(9) == pytest.approx(8e-6 + (8e-4 - 8e-6) * 9 / 10)
    assert r.lr_at(10) == pytest.approx(8e-4)
    assert r.lr_at(39) == pytest.approx(8e-4)
    assert r.lr_at(40) == pytest.approx(4e-4)
    assert r.lr_at(60) == pytest.approx(2e-4)
    assert r.lr_at(69) == pytest.approx(2e-4)
    assert (r.epochs, r.sampler, r.instances, r.batch_size) == (70, "pk", 4, 20)
    assert r.image_size == (324, 324) and r.train_size == (356, 356)
    body = get_recipe("laga", "market1501")
    assert body.image_size == (384, 128) and body.train_size == (432, 144)
    assert body.augment.erasing == 0.5 and r.augment.erasing == 0.0


def test_shorter_runs_scale_the_schedule():
    r = get_recipe("gpa", "11k-dr").with_epochs(12)
    assert r.milestones == (6,) and r.lr_at(5) == 0.02 and r.lr_at(6) == pytest.approx(0.002)
    laga = get_recipe("laga", "11k-dr").with_epochs(7)
    assert laga.warmup_epochs == 1 and laga.milestones == (4, 6)


def test_demo_profile_defaults_and_overrides():
    cfg = make_config(dataset="11k-dr", method="gpanet")
    r = cfg.resolved_recipe()
    assert (r.epochs, r.image_size, cfg.use_pretrained) == (11, (64, 64), True)
    # fine-tuning the demo's pretrained trunk: the whole network at the new layers' rate, half the SGD
    # rate and x0.1 over the last quarter of the epochs (8 of 11)
    assert (r.lr, r.backbone_lr_mult, r.milestones, r.gamma) == (0.01, 1.0, (8,), 0.1)
    assert [r.lr_at(e) for e in (0, 7)] == [0.01, 0.01] and r.lr_at(8) == r.lr_at(10) == pytest.approx(1e-3)
    assert make_config(method="gpanet", epochs=40).resolved_recipe().milestones == (30,)
    assert make_config(method="gpanet", pretrained=False).resolved_recipe().backbone_lr_mult == 1.0
    # LAGA-Net's recipe at 5x its rate, LAGA-Net's x0.5 at 40/70 and 60/70 of the epochs: 11 x 40/70, 11 x 60/70
    laga = make_config(dataset="11k-dr", method="laganet", recipe="laga").resolved_recipe()
    assert (laga.epochs, laga.warmup_epochs, laga.milestones, laga.gamma, laga.lr) == (
        11, 2, (6, 9), 0.5, pytest.approx(4e-3))
    assert laga.lr_at(2) == laga.lr_at(5) == pytest.approx(4e-3)
    assert (laga.lr_at(6), laga.lr_at(8), laga.lr_at(9), laga.lr_at(10)) == pytest.approx((2e-3, 2e-3, 1e-3, 1e-3))
    assert laga.warmup_start_lr == pytest.approx(4e-5)
    # the body benchmarks' demo sets have a third of the hand sets' images: 40 epochs there
    body = make_config(dataset="market1501", method="laganet", recipe="laga").resolved_recipe()
    assert (body.epochs, body.warmup_epochs, body.milestones) == (40, 6, (23, 34))
    # P x K = 10 x 4 for LAGA-Net's recipe on the hand sets only; the paper's 5 x 4 on bodies, the
    # other recipes' own batches, and an explicit batch_size wins
    assert (laga.batch_size, laga.instances, body.batch_size) == (40, 4, 20)
    assert [make_config(dataset="11k-pr", method="abdnet", recipe=r).resolved_recipe().batch_size
            for r in ("gpa", "mba", "abd")] == [20, 4, 64]
    assert make_config(dataset="hd", method="rganet", recipe="laga").resolved_recipe().batch_size == 40
    assert make_config(dataset="11k-dr", method="laganet", recipe="laga", batch_size=20).resolved_recipe().batch_size == 20
    assert (config.profile_batch_size("demo", "laga", "11k-pl"), config.profile_batch_size("demo", "laga", "cuhk03-l"),
            config.profile_batch_size("demo", "gpa", "11k-pl"), config.profile_batch_size("paper", "laga", "hd")) == (
        40, None, None, None)
    # ... the same decays for every Adam recipe (RGA-Net's own: x0.5 eight times from epoch 80 of 600;
    # ABD-Net's: x0.1 at 20 and 40 of 80), at 2.5x their rates
    for name, lr in (("rga", 8e-4), ("abd", 3e-4), ("mba", 8e-4)):
        dataset = "market1501" if name != "mba" else "11k-dr"
        own = make_config(dataset=dataset, method="resnet50", recipe=name).resolved_recipe()
        assert (own.milestones, own.gamma) == (((23, 34) if name != "mba" else (6, 9)), 0.5), name
        assert own.lr == pytest.approx(2.5 * lr), name
    # the pretrained trunk is named in the run's identity: the world and the pretraining run of each
    # trunk the model builds (none from scratch)
    assert cfg.identity()["pretraining"] == {"world": pretrain.world_key(),
                                             "resnet50": pretrain.pretraining_config("resnet50").run_id()}
    assert set(make_config(method="vgg19bn").identity()["pretraining"]) == {"world", "vgg19bn"}
    assert "pretraining" not in make_config(method="gpanet", pretrained=False).identity()
    assert cfg.trunk == {"width": 0.125, "blocks": [1, 1, 1, 1]} and cfg.identity()["trunk"] == cfg.trunk
    paper = make_config(dataset="11k-dr", method="gpanet", profile="paper", data_root="/data").resolved_recipe()
    assert (paper.lr, paper.backbone_lr_mult, paper.epochs, paper.image_size) == (0.02, 0.1, 60, (384, 384))
    assert (paper.milestones, paper.gamma) == ((30,), 0.1)
    paper_laga = make_config(dataset="11k-dr", method="laganet", recipe="laga", profile="paper",
                             data_root="/data").resolved_recipe()
    assert (paper_laga.milestones, paper_laga.gamma, paper_laga.batch_size) == ((40, 60), 0.5, 20)  # the recipe's own
    paper_cfg = make_config(dataset="11k-dr", method="gpanet", profile="paper", data_root="/data")
    assert paper_cfg.trunk is None and "trunk" not in paper_cfg.identity()  # paper run ids unchanged
    cfg = make_config(method="resnet50", epochs=3, image_size=96, batch_size=8, pretrained=False)
    r = cfg.resolved_recipe()
    assert (r.epochs, r.image_size, r.batch_size, cfg.use_pretrained) == (3, (96, 96), 8, False)


def test_run_id_follows_what_decides_the_result():
    a = make_config(method="gpanet", method_options={"hp": 3, "vp": 1})
    assert a.run_id() == make_config(method="gpanet", method_options={"vp": 1, "hp": 3}).run_id()
    assert a.run_id() == make_config(method="gpanet", method_options={"hp": 3, "vp": 1},
                                     device="cpu", out_dir="/elsewhere").run_id()
    assert a.run_id() != make_config(method="gpanet", method_options={"hp": 2, "vp": 1}).run_id()
    assert a.run_id() != make_config(method="gpanet", method_options={"hp": 3, "vp": 1}, seed=1).run_id()
    assert a.run_id().startswith("11k-dr-gpanet-")
    # the model's defaults are part of the identity: {} is GPA-Net with hp=3, vp=1
    assert a.run_id() == make_config(method="gpanet").run_id()
    assert make_config(method="laganet", recipe="laga").run_id() == make_config(
        method="laganet", recipe="laga", method_options={"branches": ["global", "local", "cam", "sam"]}).run_id()


def test_split_seed_is_fixed_across_training_seeds_and_keeps_older_run_ids():
    """Seeds share the protocol's draws (split_seed 0); runs whose split seed equals their seed are
    the runs made before the two were separate (committed records: 11k-dr GPA-Net, seeds 0 and 1)."""
    old = {"pretrained": False, "epochs": 40}  # the demo profile's runs before its pretrained trunks
    seed0 = make_config(method="gpanet", seed=0, **old)
    assert seed0.split_seed == 0 and "split_seed" not in seed0.identity()
    assert seed0.run_id() == "11k-dr-gpanet-c8e2dcb458"
    old_seed1 = make_config(method="gpanet", seed=1, split_seed=1, **old)
    assert "split_seed" not in old_seed1.identity() and old_seed1.run_id() == "11k-dr-gpanet-ac57b2c48f"
    seed1 = make_config(method="gpanet", seed=1, **old)
    assert seed1.identity()["split_seed"] == 0 and seed1.run_id() != old_seed1.run_id()
    assert split_seed_of(seed1.identity()) == 0 and split_seed_of(old_seed1.identity()) == 1
    with pytest.raises(ConfigError, match=r"parameter split_seed=-2 is invalid: expected a non-negative integer"):
        make_config(split_seed=-2)


def test_record_parameters_of_an_older_record_draw_splits_with_its_seed(tmp_path):
    from handreid.engine.records import RunRecord

    old = RunRecord(tmp_path, {"config": {"dataset": "11k-dr", "seed": 2}}, None, None)
    assert old.parameters() == {"dataset": "11k-dr", "seed": 2, "split_seed": 2}
    new = RunRecord(tmp_path, {"config": {"dataset": "11k-dr", "seed": 2, "split_seed": 0}}, None, None)
    assert new.parameters()["split_seed"] == 0


@pytest.mark.parametrize("params, message", [
    ({"epoch": 5}, r"unknown parameter 'epoch' \(did you mean 'epochs'\?\)"),
    ({"methd": "gpanet"}, r"unknown parameter 'methd' \(did you mean 'method'\?\)"),
    ({"dataset": "11k"}, r"parameter dataset='11k' is invalid: expected one of 11k-dr"),
    ({"method": "gpa-net"}, r"parameter method='gpa-net' is invalid: expected one of .*gpanet"),
    ({"epochs": 0}, r"parameter epochs=0 is invalid: expected a positive integer"),
    ({"epochs": 2.5}, r"parameter epochs=2.5 is invalid"),
    ({"image_size": 8}, r"parameter image_size=\(8, 8\) is invalid: expected None, an int, or \(height, width\)"),
    ({"recipe": "sgd"}, r"parameter recipe='sgd' is invalid: expected one of gpa, laga, mba, rga, abd"),
    ({"seed": -1}, r"parameter seed=-1 is invalid: expected a non-negative integer"),
    ({"device": "gpu"}, r"parameter device='gpu' is invalid"),
    ({"pretrained": "yes"}, r"parameter pretrained='yes' is invalid"),
    ({"eval_repeats": 11}, r"parameter eval_repeats=11 is invalid: expected an integer from 1 to 10"),
    ({"recipe": "laga", "batch_size": 18}, r"parameter batch_size=18 is invalid: expected a multiple of K=4"),
    ({"profile": "paper"}, r"data_root is required for the paper profile"),
])
def test_bad_parameters_are_named(params, message):
    with pytest.raises(ConfigError, match=message):
        make_config(**params)


def test_namespace_validation_sees_injected_names():
    before = {"handreid", "In", "Out"}
    ns = {"handreid": object(), "In": [], "Out": {}, "_": None, "dataset": "11k-dr", "epochs": 2,
          "learning_rate": 0.1}
    with pytest.raises(ParameterError, match="unknown parameter 'learning_rate'"):
        config_from_namespace(ns, before)
    del ns["learning_rate"]
    assert config_from_namespace(ns, before).epochs == 2


def test_validate_choices():
    assert validate({"a": 1, "profile": "demo"}, {"a"}, {"profile": ("demo", "paper")}) == {"profile": "demo"}
    with pytest.raises(ParameterError, match=r"parameter profile='dmo' is invalid: expected one of 'demo', 'paper'"):
        validate({"profile": "dmo"}, set(), {"profile": ("demo", "paper")})
    with pytest.raises(ParameterError, match=r"expected an integer from 2 to 100"):
        validate({"max_rank": 1}, set(), {"max_rank": range(2, 101)})


def test_validate_rules():
    from handreid.params import path_or_none, subset_of

    spec = {"data_root": path_or_none(), "datasets": subset_of(["11k-dr", "hd"])}
    assert validate({"data_root": None, "datasets": ["hd"]}, set(), spec)["datasets"] == ["hd"]
    with pytest.raises(ParameterError, match=r"parameter datasets=\['hdd'\] is invalid: expected a non-empty list drawn from 11k-dr, hd"):
        validate({"data_root": None, "datasets": ["hdd"]}, set(), spec)
    with pytest.raises(ParameterError, match=r"parameter data_root=3 is invalid: expected a folder path or None"):
        validate({"data_root": 3, "datasets": ["hd"]}, set(), spec)


def test_the_demo_profile_sets_vgg19bn_dropout_and_an_explicit_option_wins():
    from handreid.models import build_model

    demo = make_config(method="vgg19bn")
    assert demo.model_options() == {"dropout": 0.2} and demo.identity()["method_options"]["dropout"] == 0.2
    paper = make_config(method="vgg19bn", profile="paper", data_root="/data")
    assert paper.model_options() == {} and paper.identity()["method_options"]["dropout"] == 0.5
    assert make_config(method="vgg19bn", method_options={"dropout": 0.5}).model_options() == {"dropout": 0.5}
    assert make_config(method="gpanet").model_options() == {}  # only VGG19-bn's and ABD-Net's are set
    assert make_config(method="abdnet").model_options()["dropout"] == 0.0
    model = build_model("vgg19bn", 5, trunk=demo.trunk, **demo.model_options())
    assert [m.p for m in model.modules() if isinstance(m, torch.nn.Dropout)] == [0.2, 0.2]
