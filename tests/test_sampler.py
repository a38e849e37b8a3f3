"""Batch samplers (handreid.data.sampler): plain shuffling and P x K identity batches."""

from collections import Counter

import pytest
import torch

from handreid.data.sampler import pk_batches, random_batches


def test_random_batches_are_full_and_reshuffled():
    batches = random_batches(45, 20, torch.Generator().manual_seed(0))
    assert [len(b) for b in batches] == [20, 20]  # the incomplete last batch is dropped (BatchNorm)
    assert len(set(sum(batches, []))) == 40
    again = random_batches(45, 20, torch.Generator().manual_seed(1))
    assert set(sum(again, [])) != set(sum(batches, []))  # other images are left out next epoch
    assert sorted(sum(random_batches(40, 20, torch.Generator()), [])) == list(range(40))
    assert [len(b) for b in random_batches(7, 20, torch.Generator())] == [7]  # fewer than one batch


def test_pk_batches_have_p_identities_of_k_images():
    labels = [0] * 9 + [1] * 2 + [2] * 4 + [3] * 5 + [4] * 1 + [5] * 7 + [6] * 4
    batches = pk_batches(labels, p=3, k=4, g=torch.Generator().manual_seed(0))
    seen = set()
    for b in batches:
        ids = Counter(labels[i] for i in b)
        assert len(ids) == 3 and set(ids.values()) == {4}, ids
        seen.update(b)
    # every image appears at least once per epoch; identities 1 and 4 have fewer than K images
    assert seen == set(range(len(labels)))
    with pytest.raises(ValueError, match="needs at least P=8 identities"):
        pk_batches(labels, p=8, k=4, g=torch.Generator())
