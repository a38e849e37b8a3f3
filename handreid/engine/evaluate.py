"""Evaluation: test descriptors, cosine ranking, CMC / mAP / mINP over the repeats (docs/DESIGN.md §3).

Both papers compare a query's descriptor with the gallery's by cosine distance
(GPA-Net §2, LAGA-Net §III-D); LAGA-Net averages the descriptor of an image and
of its horizontal flip. One trained model is evaluated on all 10 query/gallery
draws of the hand protocol; every image is described once. The same functions
serve a model on another dataset (cross-domain, GPA-Net Table 2) and the ranked
retrieval lists of the figures (:func:`retrieval_lists`); the ranking rules
(stable order, the same-camera rule) are :mod:`handreid.metrics`'. Descriptors are
computed in float32 on every device, also inside an autocast context (bf16
autocast is for training only), in both variants (``engine.variant``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Iterable, Sequence

import hashlib

import numpy as np
import pandas as pd
import torch

from ..data import Split, dataset_repeats, load_split
from ..data.augment import normalize, to_float
from ..data.cache import ImageCache
from ..metrics import evaluate_features, pairwise_distance

RANKS = (1, 5, 10)


def resolve_device(device: str | torch.device = "auto") -> torch.device:
    if isinstance(device, torch.device):
        return device
    if device == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        return torch.device("cpu")
    return torch.device(device)


def autocast(device: torch.device):
    """bf16 autocast on CUDA, nothing elsewhere (training only)."""
    return torch.autocast(device_type=device.type, dtype=torch.bfloat16, enabled=device.type == "cuda")


def channels_last(device: torch.device) -> bool:
    """Whether models and images take the channels_last memory format on ``device``: on CUDA
    (cuDNN's fast convolutions) and on the CPU (oneDNN's: a GPA-Net training step alone 23 % faster,
    whole demo runs within the 2-core test machine's noise; BENCHMARKS.md, ninth pass)."""
    return device.type in ("cuda", "cpu")


@torch.no_grad()
def extract_features(model: torch.nn.Module, images: np.ndarray, device: torch.device | str = "cpu",
                     batch_size: int = 64, flip: bool = False) -> torch.Tensor:
    """Test descriptors of cached uint8 images (N, H, W, 3) -> float32 (N, D) on the CPU.

    ``images`` may be a memory map: only one batch is read into memory at a time. The model
    runs in float32: any enclosing autocast is switched off.
    """
    device = resolve_device(device)
    was_training = model.training
    model.eval()
    cl = channels_last(device)
    out = []
    try:
        for s in range(0, len(images), batch_size):
            x = normalize(to_float(np.array(images[s:s + batch_size]), device, channels_last=cl))
            with torch.autocast(device_type=device.type, enabled=False):
                f = model(x).float()
                if flip:
                    f = (f + model(x.flip(-1)).float()) / 2
            out.append(f.cpu())
    finally:
        model.train(was_training)
    if not out:
        raise ValueError("extract_features got no images")
    return torch.cat(out)


def summarize(result: dict, num_query: int, num_gallery: int) -> dict:
    """Metrics of one repeat in %: rank-1/5/10, mAP, mAP_trapezoid, mINP, and the CMC curve."""
    cmc = np.asarray(result["cmc"], dtype=np.float64)
    row = {f"rank{k}": 100.0 * float(cmc[min(k, len(cmc)) - 1]) for k in RANKS}
    row.update(mAP=100.0 * float(result["mAP"]), mAP_trapezoid=100.0 * float(result["mAP_trapezoid"]),
               mINP=100.0 * float(result["mINP"]),
               num_query=int(num_query), num_gallery=int(num_gallery),
               num_valid=int(result["num_valid"]))
    row["cmc"] = (100.0 * cmc).tolist()
    return row


def rank_split(features: dict[str, torch.Tensor] | pd.Series, split: Split,
               query: pd.DataFrame | None = None, gallery: pd.DataFrame | None = None,
               device: torch.device | str = "cpu") -> dict:
    """Metrics of one split from precomputed descriptors keyed by relative path."""
    q = split.query if query is None else query
    g = split.gallery if gallery is None else gallery
    qf = torch.stack([features[p] for p in q["path"]])
    gf = torch.stack([features[p] for p in g["path"]])
    cams = split.camera_rule
    res = evaluate_features(qf, gf, q["pid"].to_numpy(copy=True), g["pid"].to_numpy(copy=True),
                            q["camid"].to_numpy(copy=True) if cams else None,
                            g["camid"].to_numpy(copy=True) if cams else None,
                            metric="cosine", device=resolve_device(device))
    return summarize(res, len(q), len(g))


def describe(model: torch.nn.Module, split: Split, frames: Iterable[pd.DataFrame],
             image_size: tuple[int, int], device="cpu", flip: bool = False,
             cache_dir: str | Path | None = None, batch_size: int = 64,
             resize_filter: str = "bilinear") -> dict[str, torch.Tensor]:
    """Descriptors of every image in ``frames`` (each described once), keyed by relative path."""
    rel = sorted(set().union(*(set(f["path"]) for f in frames)))
    absolute = [split.root / p for p in rel]
    cache = ImageCache(absolute, image_size, cache_dir=cache_dir, resize_filter=resize_filter)  # row i = absolute[i]
    feats = extract_features(model, cache.array, device, batch_size, flip)
    return dict(zip(rel, feats))


def evaluate(model: torch.nn.Module, split: Split, image_size: tuple[int, int] = (384, 384),
             device="auto", flip: bool = False, cache_dir: str | Path | None = None) -> dict:
    """Rank-1/5/10, mAP, mINP (%) and the full CMC curve of ``model`` on one split's query/gallery."""
    feats = describe(model, split, [split.query, split.gallery], image_size, device, flip, cache_dir)
    return rank_split(feats, split, device=device)


def evaluate_repeats(model: torch.nn.Module, dataset: str, root: str | Path, seed: int,
                     repeats: Sequence[int] | None = None, image_size: tuple[int, int] = (384, 384),
                     device="auto", flip: bool = False, cache_dir: str | Path | None = None,
                     resize_filter: str = "bilinear") -> list[dict]:
    """One row of metrics per query/gallery repeat of ``dataset``; images described once.

    ``dataset`` may differ from the one the model was trained on: that is the
    cross-domain setting of GPA-Net Table 2. ``repeats`` defaults to all of the
    dataset's draws (10 for hand data, the single fixed split for body data).
    """
    if repeats is None:
        repeats = range(dataset_repeats(dataset))
    splits = [load_split(dataset, root=root, repeat=r, seed=seed) for r in repeats]
    frames = [f for s in splits for f in (s.query, s.gallery)]
    feats = describe(model, splits[0], frames, image_size, device, flip, cache_dir,
                     resize_filter=resize_filter)
    rows = []
    for r, s in zip(repeats, splits):
        row = rank_split(feats, s, device=device)
        row["repeat"] = int(r)
        rows.append(row)
    return rows


def aggregate(rows: list[dict]) -> dict:
    """Mean and (population) std over repeats of every scalar metric, plus the mean CMC.
    (``mAP_trapezoid`` only when every row has it: records written before it existed lack it.)"""
    keys = ["rank1", "rank5", "rank10", "mAP", "mINP"]
    if rows and all("mAP_trapezoid" in r for r in rows):
        keys.insert(4, "mAP_trapezoid")
    out = {}
    for k in keys:
        v = np.array([r[k] for r in rows], dtype=np.float64)
        out[f"{k}_mean"] = float(v.mean())
        out[f"{k}_std"] = float(v.std())
    out["repeats"] = len(rows)
    n = min(len(r["cmc"]) for r in rows)
    out["cmc_mean"] = np.mean([r["cmc"][:n] for r in rows], axis=0).tolist()
    return out


def retrieval_lists(model: torch.nn.Module, split: Split, image_size: tuple[int, int], device="cpu",
                    flip: bool = False, queries: int = 1, top_k: int = 10,
                    cache_dir: str | Path | None = None, resize_filter: str = "bilinear",
                    frames: Iterable[pd.DataFrame] | None = None) -> list[dict]:
    """Ranked gallery lists of a few queries of one split (the retrieval figures).

    ``frames``: the images to describe, a superset of the split's query and gallery (default: those
    two); pass the evaluation's (every repeat's query and gallery) to reuse its decoded-image cache.

    Queries: the first ``queries`` of distinct identities in the order of sha256(path) (the
    same on every machine). Cosine distance on the paper's descriptor, stable order; gallery
    images the evaluation ignores (same identity and camera, body data) are left out of the
    ranking, as in :func:`handreid.metrics.rank_metrics`. Each entry: the query's path, pid and
    camid, its ``ranked`` top-k (path, pid, correct, distance) and ``first_correct_rank``.
    """
    feats = describe(model, split, [split.query, split.gallery] if frames is None else list(frames), image_size,
                     device, flip, cache_dir, resize_filter=resize_filter)
    q = split.query.assign(_h=[hashlib.sha256(str(p).encode()).hexdigest() for p in split.query["path"]])
    q = q.sort_values("_h").drop_duplicates("pid").head(int(queries)).reset_index(drop=True)
    g = split.gallery.reset_index(drop=True)
    dist = pairwise_distance(torch.stack([feats[p] for p in q["path"]]),
                             torch.stack([feats[p] for p in g["path"]]), metric="cosine")
    g_pids = torch.as_tensor(g["pid"].to_numpy(copy=True))
    g_cams = torch.as_tensor(g["camid"].to_numpy(copy=True))
    out = []
    for i, qr in q.iterrows():
        keep = torch.ones(len(g), dtype=torch.bool)
        if split.camera_rule:
            keep &= ~((g_pids == int(qr["pid"])) & (g_cams == int(qr["camid"])))
        idx = torch.nonzero(keep).flatten()
        order = idx[torch.argsort(dist[i, idx], stable=True)].tolist()
        correct = [int(g_pids[j]) == int(qr["pid"]) for j in order]
        ranked = [{"path": str(g.at[j, "path"]), "pid": int(g_pids[j]), "correct": c,
                   "distance": float(dist[i, j])} for j, c in zip(order[:top_k], correct)]
        first = next((r for r, c in enumerate(correct, 1) if c), None)
        out.append({"path": str(qr["path"]), "pid": int(qr["pid"]), "camid": int(qr["camid"]),
                    "ranked": ranked, "first_correct_rank": first})
    return out
