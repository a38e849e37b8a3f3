"""Batch orders for training: plain shuffling (GPA-Net) and P x K identity sampling (LAGA-Net Eq. 11;
docs/DESIGN.md §3)."""

from __future__ import annotations

from collections import defaultdict
from typing import Sequence

import torch


def random_batches(n: int, batch_size: int, g: torch.Generator) -> list[list[int]]:
    """A reshuffled epoch in full batches of ``batch_size``; the incomplete last batch is dropped.

    A small last batch makes BatchNorm statistics (and the update) erratic; the few
    images it would hold are different ones every epoch.
    """
    order = torch.randperm(n, generator=g).tolist()
    batches = [order[i:i + batch_size] for i in range(0, n - batch_size + 1, batch_size)]
    return batches or [order]


def pk_batches(labels: Sequence[int], p: int, k: int, g: torch.Generator) -> list[list[int]]:
    """An epoch of P x K batches: P identities, K images each.

    Each identity's images are shuffled and cut into groups of K; an identity with
    fewer than K images (or a last group short of K) is topped up by drawing its own
    images again with replacement, so every image appears at least once per epoch.
    Groups are then shuffled and P groups of distinct identities form a batch; the last
    batches, short of distinct identities, are topped up with fresh groups of others.
    """
    by_id: dict[int, list[int]] = defaultdict(list)
    for i, y in enumerate(labels):
        by_id[int(y)].append(i)
    if len(by_id) < p:
        raise ValueError(f"P x K sampling needs at least P={p} identities, the training set has {len(by_id)}")
    groups: list[tuple[int, list[int]]] = []
    for y in sorted(by_id):
        idx = by_id[y]
        perm = [idx[j] for j in torch.randperm(len(idx), generator=g).tolist()]
        for s in range(0, len(perm), k):
            grp = perm[s:s + k]
            while len(grp) < k:
                grp.append(idx[int(torch.randint(len(idx), (1,), generator=g))])
            groups.append((y, grp))
    order = torch.randperm(len(groups), generator=g).tolist()
    pending = [groups[i] for i in order]
    batches: list[list[int]] = []
    while pending:
        used: set[int] = set()
        batch: list[int] = []
        rest = []
        for y, grp in pending:
            if len(used) < p and y not in used:
                used.add(y)
                batch.extend(grp)
            else:
                rest.append((y, grp))
        # Fewer than P identities left: top up with fresh groups of other identities.
        others = [y for y in sorted(by_id) if y not in used]
        for j in torch.randperm(len(others), generator=g).tolist()[:p - len(used)]:
            idx = by_id[others[j]]
            batch.extend(idx[int(t)] for t in torch.randint(len(idx), (k,), generator=g))
        batches.append(batch)
        pending = rest
    return batches
