"""Two ways to read a k-fold cross-validation's accuracy, and which published figure each matches.

The leaderboard reads *hold-out selection* (Errica et al., ICLR 2020): each fold's test accuracy at
that fold's epoch of best accuracy on a validation tenth held out of its training graphs; the test
fold never selects anything. GIN's published figures (Xu et al., ICLR 2019, §7) come from another
rule, *the epoch of best mean across folds*: the folds' accuracy curves on their own held-out
(test) folds are averaged, the epoch e* with the highest mean is chosen, and the figure is

    mean ± std over folds of acc_f(e*),    e* = argmax_e (1/k) sum_f acc_f(e),

which selects on the data it reports, so it reads higher than hold-out selection on the same runs.
A figure compared with a published one is read under the published figure's rule.

Early stopping cuts runs short. Training before the stop does not depend on when the stop comes,
so a run's curve is a prefix of the curve it would have had at the full budget (on one machine and
torch version: ``tests/tasks/test_graph.py`` checks it; another torch changes the run); the maximum over
the epochs that every fold ran is therefore a *lower bound* on the rule's value at the full budget,
and equal to it when every fold ran the whole budget.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass

CURVE = "test_acc"  # the per-epoch column of metrics.csv that the rule averages


@dataclass(frozen=True)
class EpochOfBestMean:
    """The epoch of best mean accuracy across folds: the ``mean`` and ``std`` (sample std over
    folds, as the leaderboard's) of the folds' accuracy at ``epoch`` (1-based), chosen among the
    first ``epochs`` epochs, those that all ``folds`` ran, of a ``budget``-epoch training."""

    mean: float
    std: float
    epoch: int
    epochs: int
    folds: int
    budget: int

    @property
    def lower_bound(self) -> bool:
        """Whether some fold stopped before the budget, so that ``mean`` bounds the rule from below."""
        return self.epochs < self.budget

    def describe(self, scale: float = 100.0) -> str:
        bound = f"first {self.epochs} of {self.budget} epochs: a lower bound" if self.lower_bound \
            else f"all {self.budget} epochs"
        return (f"{self.mean * scale:.1f} ± {self.std * scale:.1f} at epoch {self.epoch} over {self.folds} folds "
                f"({bound})")


def epoch_of_best_mean(curves: Sequence[Sequence[float]], budget: int) -> EpochOfBestMean:
    """Xu et al.'s rule on ``curves`` (one per fold: its accuracy at epochs 1, 2, ...), over the
    epochs that every fold ran; the earliest epoch on a tie."""
    if len(curves) < 2:
        raise ValueError(f"the epoch of best mean needs the curves of at least 2 folds; got {len(curves)}")
    epochs = min(len(curve) for curve in curves)
    if epochs == 0:
        raise ValueError("a fold's accuracy curve is empty: the rule needs every fold's first epoch")
    means = [statistics.fmean(curve[e] for curve in curves) for e in range(epochs)]
    best = max(range(epochs), key=lambda e: (means[e], -e))
    return EpochOfBestMean(means[best], statistics.stdev(curve[best] for curve in curves), best + 1, epochs,
                           len(curves), max(budget, epochs))
