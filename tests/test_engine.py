"""fit / evaluate end to end on a small synthetic 11k tree: records, resume, rerun, NaN guard, notebook."""

import json
from pathlib import Path

import pytest
import torch

from handreid.data import load_split
from handreid.data.synthetic import write_11k
from handreid.engine import TrainingDiverged, evaluate, fit, load_model, make_config
from handreid.engine import train as train_module

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def data_root(tmp_path_factory):
    return write_11k(tmp_path_factory.mktemp("data"), num_subjects=14, images_per_aspect=(3, 5),
                     image_size=(64, 48), seed=3)


def _cfg(data_root, out_dir, **kw):
    params = dict(dataset="11k-dr", method="gpanet", method_options={"hp": 2, "vp": 1}, data_root=str(data_root),
                  epochs=2, image_size=32, batch_size=8, eval_repeats=3, out_dir=str(out_dir), device="cpu",
                  pretrained=False)  # from scratch: the pretrained trunk has tests of its own (test_pretrain)
    params.update(kw)
    return make_config(**params)


def _state(run_dir):
    return torch.load(Path(run_dir) / "model.pt", weights_only=False)["model"]


def test_fit_writes_a_complete_record_and_resumes_exactly(data_root, tmp_path, capsys):
    straight = fit(_cfg(data_root, tmp_path / "a"))
    assert straight.finished
    files = {p.name for p in straight.run_dir.iterdir()}
    assert {"config.json", "history.csv", "metrics.json", "model.pt"} <= files
    assert "checkpoint.pt" not in files and not [f for f in files if f.endswith(".tmp")]
    assert list(straight.history["epoch"]) == [1, 2]
    m = straight.metrics
    assert [r["repeat"] for r in m["per_repeat"]] == [0, 1, 2]
    split = load_split("11k-dr", root=data_root, repeat=0, seed=0)
    assert m["per_repeat"][0]["num_query"] == len(split.query)
    assert m["per_repeat"][0]["num_gallery"] == len(split.gallery)
    for key in ("rank1", "mAP", "mINP"):
        vals = [r[key] for r in m["per_repeat"]]
        assert m["summary"][f"{key}_mean"] == pytest.approx(sum(vals) / len(vals))
    header = json.loads((straight.run_dir / "config.json").read_text())
    assert header["run_id"] == straight.run_id
    # Provenance: the machine, and the exact decoded training images (32 px, the recipe's train size).
    assert header["machine"]["cpu_capability"] == torch.backends.cpu.get_cpu_capability()
    assert header["machine"]["threads"] == header["cpu_threads"] == torch.get_num_threads()
    from handreid.data.cache import ImageCache
    from handreid.engine.provenance import image_fingerprint
    cached = ImageCache(split.image_paths(split.train), (32, 32)).array
    assert header["images_sha"] == image_fingerprint(cached)

    # Interrupted after one epoch, then resumed: the same weights and metrics as straight through.
    cfg_b = _cfg(data_root, tmp_path / "b")
    half = fit(cfg_b, stop_after=1)
    assert not half.finished and (half.run_dir / "checkpoint.pt").exists()
    assert list(half.history["epoch"]) == [1]
    resumed = fit(cfg_b)
    assert "resuming after epoch 1/2" in capsys.readouterr().out
    assert resumed.finished and list(resumed.history["epoch"]) == [1, 2]
    a, b = _state(straight.run_dir), _state(resumed.run_dir)
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert resumed.metrics["summary"]["mAP_mean"] == pytest.approx(m["summary"]["mAP_mean"])

    # A rerun finds the finished run and does not train again.
    before = (straight.run_dir / "metrics.json").stat().st_mtime_ns
    again = fit(_cfg(data_root, tmp_path / "a"))
    assert "finished run found" in capsys.readouterr().out
    assert (straight.run_dir / "metrics.json").stat().st_mtime_ns == before
    assert again.summary() == straight.summary()

    # The saved model reproduces the recorded metrics of repeat 0.
    model = load_model(straight.run_dir)
    got = evaluate(model, split, image_size=(32, 32), device="cpu")
    assert got["mAP"] == pytest.approx(m["per_repeat"][0]["mAP"], abs=1e-4)


def test_nan_loss_stops_with_a_clear_error(data_root, tmp_path, monkeypatch):
    monkeypatch.setattr(train_module, "make_loss",
                        lambda recipe: (lambda out, y: out.logits[0].sum() * float("nan")))
    with pytest.raises(TrainingDiverged, match=r"loss is nan at epoch 1, step 1 .*Lower the learning rate"):
        fit(_cfg(data_root, tmp_path, method="resnet50", method_options={}))


def test_run_notebook_rejects_a_misspelt_parameter(tmp_path):
    papermill = pytest.importorskip("papermill")
    with pytest.raises(papermill.PapermillExecutionError, match=r"unknown parameter 'epoch' \(did you mean 'epochs'\?\)"):
        papermill.execute_notebook(str(ROOT / "notebooks" / "train_eval.ipynb"), str(tmp_path / "out.ipynb"),
                                   parameters={"epoch": 3}, cwd=str(ROOT / "notebooks"),
                                   progress_bar=False, kernel_name="python3")


def test_training_reads_no_image_file_once_cached_and_warm_equals_cold(data_root, tmp_path, monkeypatch):
    from handreid.data import cache as cache_module

    monkeypatch.setenv("HANDREID_CACHE", str(tmp_path / "cache"))
    cold = fit(_cfg(data_root, tmp_path / "cold", epochs=1, eval_repeats=1), progress=False)

    def no_decoding(path, size):
        raise AssertionError(f"decoded {path} although the cache was warm")

    monkeypatch.setattr(cache_module, "decode_resized", no_decoding)
    warm = fit(_cfg(data_root, tmp_path / "warm", epochs=1, eval_repeats=1), progress=False)
    a, b = _state(cold.run_dir), _state(warm.run_dir)
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert warm.metrics["per_repeat"] == cold.metrics["per_repeat"]


@pytest.mark.parametrize("method, options", [("laganet", {"branches": ["global", "local", "cam"]}),
                                             ("mbanet", {}), ("vgg19bn", {})])
def test_every_model_family_trains_with_its_recipe(data_root, tmp_path, method, options):
    recipe = "gpa" if method == "vgg19bn" else "laga"
    rec = fit(_cfg(data_root, tmp_path, method=method, method_options=options, recipe=recipe,
                   epochs=1, batch_size=8, eval_repeats=1), progress=False)
    assert rec.finished and rec.history["loss"].notna().all()
    assert 0 <= rec.summary()["rank1_mean"] <= 100


def test_images_staged_on_the_device_train_exactly_like_the_memory_map(data_root, tmp_path, monkeypatch):
    from handreid.data.cache import stage

    mapped = fit(_cfg(data_root, tmp_path / "mapped", epochs=1, eval_repeats=1), progress=False)
    staged_arrays = []

    def forced(array, device, **kw):
        out = stage(array, device, force=True)
        staged_arrays.append(out)
        return out

    monkeypatch.setattr(train_module, "stage", forced)
    staged = fit(_cfg(data_root, tmp_path / "staged", epochs=1, eval_repeats=1), progress=False)
    assert len(staged_arrays) == 1 and isinstance(staged_arrays[0], torch.Tensor)
    a, b = _state(mapped.run_dir), _state(staged.run_dir)
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert staged.history[["loss", "train_acc", "val_acc"]].equals(mapped.history[["loss", "train_acc", "val_acc"]])


def test_a_loss_that_turns_nan_mid_run_names_the_step_and_keeps_the_last_good_checkpoint(
        data_root, tmp_path, monkeypatch):
    cfg = _cfg(data_root, tmp_path, method="resnet50", method_options={}, epochs=3, batch_size=4)
    n_train = len(load_split("11k-dr", root=data_root, repeat=0, seed=0).train)
    steps_per_epoch = n_train // 4  # full batches only
    assert steps_per_epoch >= 2
    real = train_module.make_loss
    calls = []

    def late_nan(recipe):  # NaN at the second step of the second epoch
        loss = real(recipe)

        def f(out, y):
            calls.append(1)
            value = loss(out, y)
            return value * float("nan") if len(calls) == steps_per_epoch + 2 else value
        return f

    monkeypatch.setattr(train_module, "make_loss", late_nan)
    with pytest.raises(TrainingDiverged, match=r"loss is nan at epoch 2, step 2 .*checkpoint of epoch 1 is kept"):
        fit(cfg, progress=False)
    run_dir = cfg.runs_root / cfg.run_id()
    state = torch.load(run_dir / "checkpoint.pt", weights_only=False)
    assert state["epoch"] == 0 and [r["epoch"] for r in state["history"]] == [1]
    assert all(torch.isfinite(v).all() for v in state["model"].values() if v.is_floating_point())
    assert not (run_dir / "metrics.json").exists()


def test_fit_accuracy_is_the_first_classifier_on_the_unaugmented_training_images(data_root, tmp_path):
    run = fit(_cfg(data_root, tmp_path, epochs=3, recipe="laga", method="laganet", method_options={},
                   batch_size=8))
    # Explicitly: every training image resized to the input size, normalised, the eval-mode model,
    # argmax of the first classifier's logits against the label.
    from handreid.data.augment import normalize, to_float
    from handreid.data.cache import ImageCache
    from handreid.engine import fit_accuracy

    split = load_split("11k-dr", root=data_root, repeat=0, seed=0)
    images = ImageCache(split.image_paths(split.train), (32, 32)).array
    model = load_model(run.run_dir)
    with torch.no_grad():
        logits = model.forward_output(normalize(to_float(images, torch.device("cpu")))).logits[0]
    expected = 100.0 * (logits.argmax(1) == torch.as_tensor(split.train["label"].to_numpy())).double().mean().item()
    assert run.metrics["fit_acc"] == pytest.approx(expected)
    assert fit_accuracy(run.run_dir, data_root) == run.metrics["fit_acc"]  # from the saved weights, the same
    # A record made before fit measured it: RunRecord.fit_acc() computes it from the weights.
    from handreid.engine import load_run
    from handreid.io import read_json, write_json

    metrics = read_json(run.run_dir / "metrics.json")
    del metrics["fit_acc"]
    write_json(run.run_dir / "metrics.json", metrics)
    assert load_run(run.run_dir).fit_acc() == run.metrics["fit_acc"]


def test_training_seeds_share_the_protocol_draws_of_the_split_seed(data_root, tmp_path, monkeypatch):
    """seed=3 trains differently, but its validation images and query/gallery repeats are those of
    split_seed (0 by default), like every other seed's."""
    seen = []
    real_split, real_eval = train_module.load_split, train_module.evaluate_repeats
    monkeypatch.setattr(train_module, "load_split", lambda *a, **k: seen.append(("split", k["seed"])) or real_split(*a, **k))
    monkeypatch.setattr(train_module, "evaluate_repeats", lambda model, ds, root, seed, *a, **k:
                        seen.append(("eval", seed)) or real_eval(model, ds, root, seed, *a, **k))
    run = fit(_cfg(data_root, tmp_path, seed=3, epochs=1, eval_repeats=1), progress=False)
    assert seen == [("split", 0), ("eval", 0)]
    assert run.config["config"]["split_seed"] == 0 and run.config["identity"]["split_seed"] == 0


def _explicit_steps(params, grads_per_step, recipe, lr_of):
    """The recipe's optimizer written out in float64 (PyTorch's conventions: L2 weight decay added to
    the gradient; Adam's bias corrections; SGD's momentum buffer starting at the first gradient)."""
    p = [t.detach().double().clone() for t in params]
    m = [torch.zeros_like(t) for t in p]
    v = [torch.zeros_like(t) for t in p]
    for t, grads in enumerate(grads_per_step, start=1):
        for i, g in enumerate(grads):
            g = g.double() + recipe.weight_decay * p[i]
            lr = lr_of[i]
            if recipe.optimizer == "adam":
                b1, b2, eps = 0.9, 0.999, 1e-8
                m[i] = b1 * m[i] + (1 - b1) * g
                v[i] = b2 * v[i] + (1 - b2) * g * g
                p[i] = p[i] - lr * (m[i] / (1 - b1 ** t)) / ((v[i] / (1 - b2 ** t)).sqrt() + eps)
            else:
                m[i] = g.clone() if t == 1 else recipe.momentum * m[i] + g
                step = g + recipe.momentum * m[i] if recipe.nesterov else m[i]
                p[i] = p[i] - lr * step
    return p


@pytest.mark.parametrize("method,recipe", [("laganet", "laga"), ("mbanet", "mba"), ("abdnet", "abd"),
                                           ("gpanet", "gpa")])
def test_the_fused_optimizers_follow_the_update_equations(method, recipe):
    # make_optimizer runs PyTorch's fused SGD / Adam on a CPU (faster than its per-tensor loop, rounded
    # differently): four steps on a demo network, both parameter groups at their own learning rate,
    # against the same steps written out in float64.
    from handreid.engine.recipes import get_recipe
    from handreid.models import build_model

    rcp = get_recipe(recipe, "market1501" if recipe == "abd" else "11k-dr")
    torch.manual_seed(0)
    model = build_model(method, num_classes=7, trunk=make_config(dataset="11k-dr", method=method).trunk)
    opt = train_module.make_optimizer(model, rcp)
    assert opt.defaults["fused"] is True and rcp.optimizer == type(opt).__name__.lower()
    train_module.set_lr(opt, rcp.lr)
    params = [p for g in opt.param_groups for p in g["params"]]
    lr_of = [g["lr"] for g in opt.param_groups for _ in g["params"]]
    assert len(set(lr_of)) == (2 if rcp.backbone_lr_mult != 1 else 1)
    gen = torch.Generator().manual_seed(1)
    steps = [[torch.randn(p.shape, generator=gen) for p in params] for _ in range(4)]
    expected = _explicit_steps(params, steps, rcp, lr_of)
    start = [p.detach().clone() for p in params]
    for grads in steps:
        for p, g in zip(params, grads):
            p.grad = g.clone()
        opt.step()
    assert not any(torch.equal(a, b) for a, b in zip(start, params))    # every tensor moved
    # each tensor within float32's rounding of its values (half an ulp a step) plus 1e-4 of its move
    eps = torch.finfo(torch.float32).eps
    for p, e, s in zip(params, expected, start):
        err = float((p.detach().double() - e).abs().max())
        assert err <= 4 * eps * float(e.abs().max()) + 1e-4 * float((e - s.double()).abs().max()), err


def test_the_optimizers_fall_back_to_the_multi_tensor_loop_where_no_fused_kernel_exists(monkeypatch):
    from handreid.engine.recipes import get_recipe
    from handreid.models import build_model

    model = build_model("gpanet", num_classes=7, trunk=make_config(dataset="11k-dr", method="gpanet").trunk)
    monkeypatch.setattr(train_module, "FUSED_DEVICES", ("cuda",))   # as if the CPU had none
    for recipe in ("gpa", "laga"):
        opt = train_module.make_optimizer(model, get_recipe(recipe, "11k-dr"))
        assert not opt.defaults.get("fused")
