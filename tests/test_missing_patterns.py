"""The memo of the chunk groupings by missingness pattern (models/missing_patterns.py): a hit is
the grouping the mask gives afresh, whatever array carries the mask; a digest that collides does
not hand one mask's grouping to another; the memo stays within its bound."""

import hashlib

import numpy as np

from mixfit.models import missing_patterns as mp


def _mask(n, D, rate, seed):
    return np.random.default_rng(seed).random((n, D)) < rate


def test_grouping_sorts_rows_by_count_then_pattern():
    mask = _mask(500, 7, 0.3, 0)
    g = mp.sorted_patterns(mask)
    np.testing.assert_array_equal(g.patterns[g.pattern], mask[g.order])  # each row's pattern is its mask
    assert np.all(np.diff(g.pattern) >= 0) and np.unique(g.pattern).size == g.patterns.shape[0]
    np.testing.assert_array_equal(np.sort(g.order), np.arange(500))
    assert np.all(np.diff(g.counts) >= 0)  # by number of missing entries first
    assert np.unique(g.patterns, axis=0).shape[0] == g.patterns.shape[0]  # patterns distinct
    np.testing.assert_array_equal(np.diff(g.offsets), g.counts ** 2)
    np.testing.assert_array_equal(np.diff(g.yoffsets), mask[g.order].sum(axis=1))


def test_a_hit_is_the_fresh_grouping_and_read_only():
    mask = _mask(300, 5, 0.25, 1)
    first = mp.sorted_patterns(mask)
    again = mp.sorted_patterns(np.asfortranarray(mask.copy()))  # another array, same content
    assert again is first
    for cached, fresh in zip(again, mp._grouping(mask)):
        np.testing.assert_array_equal(cached, fresh)
        assert not cached.flags.writeable
    other = mask.copy()
    other[0] = ~other[0]
    assert mp.sorted_patterns(other) is not first


def test_colliding_digests_still_give_each_mask_its_own_grouping(monkeypatch):
    class Constant:
        def __init__(self, *args, **kwargs):
            pass

        def digest(self):
            return b"0" * 16

    monkeypatch.setattr(mp, "_CACHE", type(mp._CACHE)())
    monkeypatch.setattr(mp, "_CACHED", {"bytes": 0})
    monkeypatch.setattr(hashlib, "blake2b", Constant)
    a, b = _mask(200, 6, 0.3, 2), _mask(200, 6, 0.3, 3)
    ga, gb = mp.sorted_patterns(a), mp.sorted_patterns(b)
    np.testing.assert_array_equal(gb.patterns[gb.pattern], b[gb.order])
    np.testing.assert_array_equal(mp.sorted_patterns(a).order, ga.order)
    assert len(mp._CACHE) == 1  # one key: the later mask replaced the earlier


def test_the_memo_stays_within_its_bound(monkeypatch):
    monkeypatch.setattr(mp, "_CACHE", type(mp._CACHE)())
    monkeypatch.setattr(mp, "_CACHED", {"bytes": 0})
    monkeypatch.setattr(mp, "_CACHE_BYTES", 40_000)
    for seed in range(40):
        mp.sorted_patterns(_mask(200, 8, 0.2, seed))  # ~5 kB each
        assert mp._CACHED["bytes"] <= 40_000
        assert mp._CACHED["bytes"] == sum(entry[2] for entry in mp._CACHE.values())
    assert 1 < len(mp._CACHE) < 40
    big = _mask(2000, 8, 0.2, 99)  # over a quarter of the bound: computed, not kept
    mp.sorted_patterns(big)
    assert len(mp._CACHE) < 40 and all(key[0] != big.shape for key in mp._CACHE)
