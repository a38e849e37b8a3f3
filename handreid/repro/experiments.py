"""The papers' tables and figures as data: what each one shows (docs/DESIGN.md §4).

>>> from handreid.repro import experiments as ex
>>> exp = ex.get("gpa-table1")
>>> [r.label for r in exp.rows], [c.label for c in exp.columns]
>>> exp.published[("gpanet", "11k-dr")]            # {"rank1": 94.8, "mAP": 95.72}

An :class:`Experiment` (one table or figure) has rows (a method with its options and
recipe, or a published-only method handreid does not implement), columns (a dataset, or a
train -> test pair for cross-domain), metrics and the published numbers
(:mod:`handreid.published`). A cell's options are the row's updated by the column's
(GPA-Net Table 3: the row sets ``hp``, the column ``vp``). Which trainings a selection of
experiments needs is :mod:`handreid.repro.plan`'s job; what they cost, :mod:`~handreid.repro.cost`'s.
"""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass, field
from typing import Mapping, Sequence

from .. import published as pub
from ..data.datasets import body_datasets, hand_datasets, label_of

__all__ = [
    "Column", "DEMO_SEEDS", "EXPERIMENTS", "Experiment", "FIGURES", "MAP_DEFINITIONS", "METRIC_LABELS", "Row", "Selection", "TABLES",
    "get", "metric_definition", "check_seeds", "notebook_choices", "seeds_of", "select", "selected",
]

#: What "mAP" means beside a published number (issue 13, docs/DESIGN.md §3).
MAP_DEFINITIONS = {
    "mAP_trapezoid": "the Market-1501 official rule (each precision averaged with the one before it), "
                     "as the papers' authors compute it (mAP_trapezoid)",
    "mAP": "the mean precision at the true matches, as torchreid and fast-reid compute it (mAP)",
}


def metric_definition(metric: str, dataset: str) -> str:
    """The record key whose value stands beside a published ``metric`` on ``dataset``.

    ``mAP`` on hand data is ``mAP_trapezoid``: GPA-Net and LAGA-Net cite the Market-1501 evaluation
    and the authors' public code (MBA-Net's ``utils/evaluation_metrics.py``) computes its official
    rule; with one true match per query it is below torchreid's mean precision by half of
    (mAP − rank-1). On body data ``mAP`` stays the mean precision: LAGA-Net Table IV quotes many
    systems, most of them evaluated with torchreid or fast-reid (OSNet, ABD-Net, BagTricks, ...);
    with many true matches per query the two rules differ little. Every other metric is itself.
    """
    if metric == "mAP" and dataset in HAND:
        return "mAP_trapezoid"
    return metric


METRIC_LABELS = {"rank1": "rank-1", "mAP": "mAP", "rank5": "rank-5", "rank10": "rank-10", "mINP": "mINP",
                 "ids": "# ids", "images": "# images", "cameras": "# cameras"}
HAND, BODY = hand_datasets(), body_datasets()


# ----------------------------------------------------------------------------- data model
@dataclass(frozen=True)
class Row:
    """A method with its options and training recipe; ``method=None``: published only."""

    key: str
    label: str
    method: str | None = None
    options: Mapping = field(default_factory=dict)
    recipe: str | None = None
    note: str = ""
    extra: bool = False    # a row the paper does not have (handreid's addition): no published number

    @property
    def reproduced(self) -> bool:
        return self.method is not None


@dataclass(frozen=True)
class Column:
    """A dataset (same-domain), or ``train`` -> ``test`` (cross-domain), plus cell options."""

    key: str
    label: str
    train: str
    test: str | None = None
    options: Mapping = field(default_factory=dict)

    @property
    def cross(self) -> bool:
        return self.test is not None and self.test != self.train

    @property
    def eval_dataset(self) -> str:
        return self.test or self.train


@dataclass(frozen=True)
class Experiment:
    """One published table or figure.

    ``kind``: ``table`` (rows x columns x metrics), ``stats`` (dataset statistics: rows are
    subsets), ``cmc`` (CMC curves of the rows on one column), ``retrieval`` (ranked
    retrieval grids of the rows on every column) or ``heatmap`` (rows x columns of one
    metric). ``published[(row key, column key)]`` maps metric -> number (None: "-").
    ``figure``: figure settings (``queries``, ``top_k``, ``max_rank``).
    """

    key: str
    paper: str
    label: str
    kind: str
    title: str
    rows: tuple[Row, ...]
    columns: tuple[Column, ...]
    metrics: tuple[str, ...] = ("rank1", "mAP")
    published: Mapping = field(default_factory=dict)
    figure: Mapping = field(default_factory=dict)
    layout: str = "table"   # "grid": rows x columns are the two axes of one ablation (GPA-Net Table 3)
    row_header: str = "Method"

    @property
    def name(self) -> str:
        return f"{self.paper} {self.label}"

    @property
    def is_figure(self) -> bool:
        return self.kind in ("cmc", "retrieval", "heatmap")

    def row(self, key: str) -> Row:
        return _by_key(self.rows, key, f"row of {self.key}")

    def column(self, key: str) -> Column:
        return _by_key(self.columns, key, f"column of {self.key}")

    def cell_options(self, row: Row, column: Column) -> dict:
        return {**row.options, **column.options}

    def cell_name(self, row: Row, column: Column) -> str:
        return f"{self.key}: {row.label} / {column.label}"


def _by_key(items, key, what):
    for it in items:
        if it.key == key:
            return it
    raise KeyError(f"no {what} {key!r}; expected one of {', '.join(i.key for i in items)}")


def _cells(table: Mapping, metrics=("rank1", "mAP")) -> dict:
    """{row: {col: (a, b) | None}} -> {(row, col): {metric: value}}."""
    out = {}
    for r, cols in table.items():
        for c, v in cols.items():
            out[(r, c)] = {m: (None if v is None else v[i]) for i, m in enumerate(metrics)}
    return out


def _col(ds: str) -> Column:
    return Column(ds, label_of(ds), train=ds)


# ----------------------------------------------------------------------------- the tables and figures
# GPA-Net rows (recipe "gpa", GPA-Net §3.1 for every method: "hyperparameter values are kept the same").
VGG = Row("vgg19bn", "VGG19-bn", "vgg19bn", {}, "gpa")
R50 = Row("resnet50", "ResNet50", "resnet50", {}, "gpa")
GPA = Row("gpanet", "GPA-Net (ours)", "gpanet", {"hp": 3, "vp": 1}, "gpa")
GPA_GLOBAL = Row("global", "Global only (ours)", "gpanet", {"hp": 1, "vp": 1}, "gpa",
                 "hp = vp = 1 is the global component alone (GPA-Net §3.3), the run of Table 3's Hp=1, Vp=1")
GPA_LOCAL = Row("local", "Local only (ours)", "gpanet", {"hp": 3, "vp": 1, "use_global": False}, "gpa")
# LAGA-Net rows (recipe "laga", LAGA-Net §IV-B).
LAGA = Row("LAGA-Net", "LAGA-Net (ours)", "laganet", {}, "laga")
LAGA_GLOBAL = Row("global", "Global", "laganet", {"branches": ["global"]}, "laga")
MBA = Row("MBA-Net", "MBA-Net", "mbanet", {}, "mba",
          "MBA-Net's own recipe, as its public code trains it (recipe 'mba', variant 'authors': one shared layer4, "
          "2048-d heads, the code's CAM and SAM-RPE, batches of 4, CE only, best-validation weights); "
          "the published number is the MBA-Net paper's (LAGA-Net ref. [39])")
MBA_LAGA = Row("MBA-Net-laga", "MBA-Net (LAGA recipe)", "mbanet", {}, "laga",
               "MBA-Net trained with the LAGA-Net recipe (P x K batches, CE + triplet, last epoch): no published number",
               extra=True)
NOT_IMPLEMENTED = "not implemented in handreid: published number only"
#: LAGA-Net Table IV's systems that handreid builds, each trained with its own recipe (the published
#: number beside ours is its authors').
_TABLE4_REPRODUCED = {
    "ABD-Net": Row("ABD-Net", "ABD-Net", "abdnet", {}, "abd",
                   "ABD-Net's own recipe (its training guide); the published number is its authors'"),
    "RGA-Net": Row("RGA-Net", "RGA-Net", "rganet", {}, "rga",
                   "RGA-Net's own recipe (its authors' script); the published number is its authors'"),
}

_TABLE2_COLUMNS = (Column("11k-dr>hd", "D-r (11k) → HD", train="11k-dr", test="hd"),
                   Column("hd>11k-dr", "HD → D-r (11k)", train="hd", test="11k-dr"))
_TABLE3_ROWS = tuple(Row(f"hp={h}", f"Hp = {h}", "gpanet", {"hp": h}, "gpa") for h in (1, 2, 3, 4))
_TABLE3_COLUMNS = tuple(Column(f"vp={v}", f"Vp = {v}", train="11k-pr", options={"vp": v}) for v in (1, 2, 3))
_TABLE3_PUBLISHED = {(f"hp={h}", f"vp={v}"): {"rank1": r1, "mAP": m}
                     for (h, v), (r1, m) in pub.GPA_TABLE3.items()}
_SUBSETS = tuple(Row(s, s.capitalize()) for s in ("train", "query", "gallery"))

EXPERIMENTS: dict[str, Experiment] = {e.key: e for e in [
    Experiment(
        "gpa-table1", "GPA-Net", "Table 1", "table",
        "Same-domain performance on the four 11k sub-datasets and HD",
        (VGG, R50, GPA), tuple(_col(d) for d in HAND),
        published=_cells(pub.GPA_TABLE1)),
    Experiment(
        "gpa-table2", "GPA-Net", "Table 2", "table",
        "Cross-domain performance between D-r of 11k and HD (the same-domain models of Table 1)",
        (VGG, R50, GPA), _TABLE2_COLUMNS,
        published={(r, f"{a}>{b}"): {"rank1": v[0], "mAP": v[1]}
                   for r, cols in pub.GPA_TABLE2.items() for (a, b), v in cols.items()}),
    Experiment(
        "gpa-table3", "GPA-Net", "Table 3", "table",
        "Ablation over horizontal (Hp) and vertical (Vp) partitions on P-r of 11k",
        _TABLE3_ROWS, _TABLE3_COLUMNS, published=_TABLE3_PUBLISHED, layout="grid", row_header="Hp \\ Vp"),
    Experiment(
        "gpa-table4", "GPA-Net", "Table 4", "table",
        "Components of GPA-Net on P-r of 11k",
        (GPA_GLOBAL, GPA_LOCAL, GPA), (_col("11k-pr"),),
        published={(k, "11k-pr"): {"rank1": v[0], "mAP": v[1]} for k, v in pub.GPA_TABLE4.items()}),
    Experiment(
        "gpa-fig2", "GPA-Net", "Fig. 2", "cmc",
        "CMC curves on D-r of 11k", (VGG, R50, GPA), (_col("11k-dr"),),
        published={k: v for k, v in _cells(pub.GPA_TABLE1).items() if k[1] == "11k-dr"},
        figure={"max_rank": 20}),
    Experiment(
        "gpa-fig3", "GPA-Net", "Fig. 3", "retrieval",
        "Query and ranked gallery images of GPA-Net on each hand dataset (green: correct, red: wrong)",
        (GPA,), tuple(_col(d) for d in HAND), figure={"queries": 1, "top_k": 10}),
    Experiment(
        "gpa-table3-heatmap", "GPA-Net", "Table 3 (heatmap)", "heatmap",
        "Rank-1 over Hp x Vp on P-r of 11k", _TABLE3_ROWS, _TABLE3_COLUMNS,
        metrics=("rank1", "mAP"), published=_TABLE3_PUBLISHED, layout="grid", row_header="Hp \\ Vp"),
    Experiment(
        "laga-table1", "LAGA-Net", "Table I", "stats",
        "Statistics of the body datasets", _SUBSETS, tuple(_col(d) for d in BODY),
        metrics=("ids", "images", "cameras"), row_header="Subset",
        published={(s, d): dict(zip(("ids", "images", "cameras"), v))
                   for d, subs in pub.LAGA_TABLE1.items() for s, v in subs.items()}),
    Experiment(
        "laga-table2", "LAGA-Net", "Table II", "stats",
        "Statistics of the hand datasets (train counts include the validation images)",
        _SUBSETS, tuple(_col(d) for d in HAND), metrics=("ids", "images"), row_header="Subset",
        published={(s, d): dict(zip(("ids", "images"), v))
                   for d, subs in pub.LAGA_TABLE2.items() for s, v in subs.items()}),
    Experiment(
        "laga-table3", "LAGA-Net", "Table III", "table",
        "Components of LAGA-Net on Market-1501 and P-r of 11k (each row adds a branch)",
        (LAGA_GLOBAL,
         Row("+local", "+ Local", "laganet", {"branches": ["global", "local"]}, "laga"),
         Row("+cam", "+ CAM", "laganet", {"branches": ["global", "local", "cam"]}, "laga"),
         Row("+sam", "+ SAM-RPE (LAGA-Net)", "laganet", {}, "laga")),
        (_col("market1501"), _col("11k-pr")), published=_cells(pub.LAGA_TABLE3)),
    Experiment(
        "laga-table4", "LAGA-Net", "Table IV", "table",
        "Comparison on the body benchmarks (* unsupervised)",
        tuple(_TABLE4_REPRODUCED.get(k, Row(k, k, note=NOT_IMPLEMENTED)) for k in pub.LAGA_TABLE4 if k != "LAGA-Net")
        + (LAGA,),
        tuple(_col(d) for d in BODY), published=_cells(pub.LAGA_TABLE4)),
    Experiment(
        "laga-table5", "LAGA-Net", "Table V", "table",
        "Comparison on the hand datasets",
        (Row("GPA-Net", "GPA-Net", "gpanet", {"hp": 3, "vp": 1}, "gpa",
             "GPA-Net's own recipe: the runs of GPA-Net Table 1"),
         MBA, MBA_LAGA,
         Row("RGA-Net", "RGA-Net", "rganet", {}, "laga",
             "trained with the LAGA-Net recipe, as LAGA-Net §IV-C says; built for the recipe's input size"),
         Row("ABD-Net", "ABD-Net", "abdnet", {}, "laga",
             "trained with the LAGA-Net recipe + ABD-Net's own O.F. (1e-6, from epoch 23 of 70; 13 of the demo's "
             "40) and O.W. (1e-3) regularizers, as LAGA-Net §IV-C says"),
         LAGA),
        tuple(_col(d) for d in HAND), published=_cells(pub.LAGA_TABLE5)),
    Experiment(
        "laga-fig3", "LAGA-Net", "Fig. 3", "retrieval",
        "Top-5 on Market-1501: LAGA-Net against its global component (baseline)",
        (LAGA, Row("global", "Global (baseline)", "laganet", {"branches": ["global"]}, "laga")),
        (_col("market1501"),), figure={"queries": 3, "top_k": 5}),
    Experiment(
        "laga-fig4", "LAGA-Net", "Fig. 4", "retrieval",
        "Query and ranked gallery images of LAGA-Net on D-r, D-l, P-r of 11k and HD",
        (LAGA,), tuple(_col(d) for d in ("11k-dr", "11k-dl", "11k-pr", "hd")),
        figure={"queries": 1, "top_k": 10}),
]}

TABLES = tuple(k for k, e in EXPERIMENTS.items() if not e.is_figure)
FIGURES = tuple(k for k, e in EXPERIMENTS.items() if e.is_figure)


#: The headline comparisons the demo profile trains with 3 seeds by default (tables show mean ± std
#: over repeats ± std over seeds; Fig. 2 a band): GPA-Net's Tables 1, 3, 4 and Fig. 2 and LAGA-Net's
#: Tables III and V, on the hand data (Table III's Market-1501 column comes with it).
DEMO_SEEDS = {"gpa-table1": 3, "gpa-table3": 3, "gpa-table3-heatmap": 3, "gpa-table4": 3, "gpa-fig2": 3,
              "laga-table3": 3, "laga-table5": 3}


def check_seeds(seeds) -> int:
    """``seeds`` when it is a positive int, else a ValueError saying what is expected."""
    if isinstance(seeds, bool) or not isinstance(seeds, int) or seeds < 1:
        raise ValueError(f"seeds={seeds!r}: expected a positive number of training seeds (or None: "
                         f"each table's default)")
    return seeds


def seeds_of(exp: "Experiment | str", profile: str = "demo", seeds: int | None = None) -> int:
    """Training seeds of ``exp``: ``seeds`` when given, else the profile's default (demo:
    :data:`DEMO_SEEDS`, else 1; paper: 1)."""
    if seeds is not None:
        return check_seeds(seeds)
    key = exp if isinstance(exp, str) else exp.key
    return DEMO_SEEDS.get(key, 1) if profile == "demo" else 1


def get(key: str) -> Experiment:
    try:
        return EXPERIMENTS[key]
    except KeyError:
        raise KeyError(f"unknown experiment {key!r}; known: {', '.join(EXPERIMENTS)}") from None


def select(spec: str | Sequence[str] | None = None) -> list[Experiment]:
    """Experiments named by ``spec``: None or "all", keys, or shell patterns ("gpa-*"), comma-separated."""
    if spec is None:
        return list(EXPERIMENTS.values())
    items = [s.strip() for s in (spec.split(",") if isinstance(spec, str) else spec) if s.strip()]
    if not items or "all" in items:
        return list(EXPERIMENTS.values())
    keys: list[str] = []
    for it in items:
        hit = [k for k in EXPERIMENTS if fnmatch.fnmatchcase(k, it)]
        if not hit:
            raise ValueError(f"no table or figure matches {it!r}; known: {', '.join(EXPERIMENTS)} "
                             "(or 'all', or a pattern such as 'gpa-*')")
        keys += [k for k in hit if k not in keys]
    return [EXPERIMENTS[k] for k in EXPERIMENTS if k in keys]


class Selection:
    """Valid values of a notebook's ``only`` parameter (for :func:`handreid.params.validate`)."""

    def __iter__(self):
        return iter(("all", *EXPERIMENTS))

    def __contains__(self, value) -> bool:
        if not isinstance(value, str):
            return False
        try:
            select(value)
        except ValueError:
            return False
        return True


# ----------------------------------------------------------------------------- notebook parameters
class _OptionalFolder:
    """None or a folder path given as a string (notebook parameter ``data_root``)."""

    def __iter__(self):
        return iter(("None", "a folder path"))

    def __contains__(self, value) -> bool:
        return value is None or (isinstance(value, str) and bool(value.strip()))


def notebook_choices(notebook: str) -> dict:
    """Allowed values of the tables / figures notebooks' parameters (for :func:`handreid.params.validate`)."""
    from ..engine.variant import VARIANTS

    choices = {"profile": ("demo", "paper"), "seeds": (None, *range(1, 11)), "only": Selection(),
               "data_root": _OptionalFolder(), "variant": (None, *VARIANTS)}
    if notebook not in ("tables", "figures"):
        raise ValueError(f"notebook={notebook!r}: expected 'tables' or 'figures'")
    return choices


def selected(only: str, key: str) -> bool:
    """True when experiment ``key`` is in the notebook selection ``only`` ("all", keys or patterns)."""
    return key in {e.key for e in select(only)}
