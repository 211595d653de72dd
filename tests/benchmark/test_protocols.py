"""GIN's paper's selection rule (the epoch of best mean across folds) against a direct numpy
computation, and its lower bound when early stopping cut folds short."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fathom.benchmark.protocols import epoch_of_best_mean


def test_the_rule_picks_one_epoch_for_all_folds_by_their_mean():
    curves = [[0.5, 0.9, 0.6, 0.4], [0.7, 0.5, 0.8, 0.4], [0.6, 0.7, 0.7, 0.4]]
    read = epoch_of_best_mean(curves, budget=4)
    # means 0.6, 0.7, 0.7, 0.4: a tie at epochs 2 and 3, the earlier chosen; no fold's own best
    assert (read.epoch, read.epochs, read.folds, read.lower_bound) == (2, 4, 3, False)
    assert read.mean == pytest.approx(0.7) and read.std == pytest.approx(np.std([0.9, 0.5, 0.7], ddof=1))
    assert "epoch 2 over 3 folds (all 4 epochs)" in read.describe()


@settings(max_examples=60, deadline=None)
@given(st.integers(2, 10), st.integers(1, 30), st.integers(0, 2 ** 32 - 1))
def test_the_rule_matches_numpy_and_a_cut_run_reads_a_lower_bound(folds, epochs, seed):
    rng = np.random.default_rng(seed)
    full = rng.integers(0, 20, size=(folds, epochs)) / 20  # accuracies on 20 graphs: ties happen
    read = epoch_of_best_mean(full.tolist(), budget=epochs)
    best = int(np.argmax(full.mean(axis=0)))  # numpy's argmax: the first maximum
    assert read.epoch == best + 1 and read.mean == pytest.approx(full[:, best].mean())
    assert read.std == pytest.approx(full[:, best].std(ddof=1))
    stops = rng.integers(1, epochs + 1, size=folds)  # each fold stopped early somewhere
    cut = epoch_of_best_mean([row[:stop].tolist() for row, stop in zip(full, stops)], budget=epochs)
    assert cut.epochs == stops.min() and cut.lower_bound == (stops.min() < epochs)
    assert cut.mean <= read.mean + 1e-12
    assert cut.mean == pytest.approx(full[:, :stops.min()].mean(axis=0).max())


def test_the_rule_needs_two_folds_with_an_epoch_each():
    with pytest.raises(ValueError, match="at least 2 folds"):
        epoch_of_best_mean([[0.5, 0.6]], budget=2)
    with pytest.raises(ValueError, match="empty"):
        epoch_of_best_mean([[0.5], []], budget=2)
