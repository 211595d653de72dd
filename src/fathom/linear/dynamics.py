"""Full-batch gradient descent on the squared loss, Theorem 1's ``lambda_T`` and its bound curve.

Xu, Zhang, Jegelka, Kawaguchi (ICML 2021), Theorem 1: for the depth-``H`` linear GNN under
gradient flow, for every ``T > 0``

    L(T) - L*_H <= (L(0) - L*_H) exp(-4 lambda_T sigma_min^2 T),
    lambda_T = inf_(t <= T) lambda_min(B_bar_t^T B_bar_t),   B_bar = B_H ... B_1,

with ``L = ||f_I - Y_I||_F^2`` a *sum* over labelled nodes and ``sigma_min`` that of ``M_H``
(:mod:`fathom.linear.quantities`). Gradient descent with step ``eta`` approximates the flow at
time ``T = eta * steps``.

Two versions of ``lambda`` are tracked:

- plain: ``sigma_min(B_bar)^2`` over all ``m_x`` input directions; zero whenever a hidden width is
  below ``m_x`` (1433 on Cora), since then ``B_bar`` has a null space;
- restricted: ``sigma_min(B_bar V_r)^2`` with ``V_r`` the right singular vectors of ``M_H`` with
  non-zero singular values. The proof only applies ``B_bar`` to ``M_H^T (f - Y)^T``, which lies in
  the span of ``V_r``, so the bound holds with it; it needs only width ``>= rank(M_H) <= n_bar``.

With multiscale skips (``f = sum_l W_l B_bar(1:l) M_l``) the bound uses ``sigma_min(G_H)`` and
``lambda = min_(l = 0..H) lambda_l`` (``B_bar(1:0) = I``, so ``lambda <= 1``), each ``lambda_l``
restricted to the row space of ``M_l``.

``lambda`` is evaluated every ``lambda_every`` steps; its running minimum over those samples is at
least the true infimum, so the bound checked here is at least as strict as Theorem 1's.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Callable, Sequence

import numpy as np
import torch
from torch import Tensor

from ..graph import AggregationOperator
from .model import LinearizedGNN

DIVERGENCE_FACTOR = 1e8  # a loss this many times the initial one (or NaN/inf) counts as diverged


def squared_loss(outputs: Tensor, targets: Tensor) -> Tensor:
    """``L = ||f_I - Y_I||_F^2``: a sum over labelled nodes and outputs, not a mean."""
    return (outputs - targets).pow(2).sum()


@dataclass
class Trajectory:
    """A gradient-descent run: the loss at steps ``0..steps`` and the sampled ``lambda`` values."""

    lr: float
    loss: list[float]
    lambda_steps: list[int] = field(default_factory=list)
    lambda_restricted: list[float] = field(default_factory=list)
    lambda_plain: list[float] = field(default_factory=list)
    diverged: bool = False
    diverged_at: int | None = None
    seconds: float = 0.0

    @property
    def steps_run(self) -> int:
        return len(self.loss) - 1

    def running_min_lambda(self, restricted: bool = True) -> np.ndarray:
        """``lambda_T`` at every step ``T``: the minimum of the samples taken at steps ``<= T``."""
        samples = self.lambda_restricted if restricted else self.lambda_plain
        if not samples:
            raise ValueError("this run tracked no lambda (train it with train_linear)")
        per_step = np.full(len(self.loss), np.inf)
        per_step[np.asarray(self.lambda_steps)] = samples
        return np.minimum.accumulate(per_step)


def row_space_basis(matrix: Tensor) -> Tensor:
    """``V_r``: right singular vectors of ``matrix`` with non-zero singular values (``m x r``).

    Zero means ``<= max(shape) * eps * sigma_max``, the rule of :mod:`fathom.linear.quantities`.
    """
    _, singular, right_t = torch.linalg.svd(matrix.double(), full_matrices=False)
    tolerance = max(matrix.shape) * torch.finfo(torch.float64).eps * float(singular[0])
    return right_t[singular > tolerance].t()


def _levels(model: LinearizedGNN) -> list[int]:
    return list(range(1, model.depth + 1)) if model.skip else [model.depth]


def restricted_lambda(model: LinearizedGNN, bases: Sequence[Tensor | None]) -> float:
    """``min_l sigma_min(B_bar(1:l) V_l)^2`` over the model's levels (``l = H`` without skips).

    ``bases[l]`` is ``V_l`` (``m_x x r_l``) for ``l`` in ``0..H``; with skips the level ``l = 0``
    contributes ``sigma_min(V_0)^2 = 1``. Zero when a width is below ``r_l``.
    """
    levels = _levels(model)
    rows = torch.cat([bases[l].t() for l in levels])  # every level's V_l^T, stacked
    sizes = [bases[l].size(1) for l in levels]
    smallest = 1.0 if model.skip else math.inf
    with torch.no_grad():
        for depth, layer in enumerate(model.layers, start=1):
            rows = layer(rows.to(layer.weight.dtype))
            if depth in levels:
                block, rows = rows[: sizes[0]], rows[sizes[0]:]
                sizes = sizes[1:]
                smallest = min(smallest, _sigma_min_squared(block.t()))
    return smallest


def plain_lambda(model: LinearizedGNN) -> float:
    """``min_l lambda_min(B_bar(1:l)^T B_bar(1:l))``: exactly 0 when a width is below ``m_x``."""
    if model.hidden_channels < model.in_channels:
        return 0.0
    identity = torch.eye(model.in_channels, dtype=model.readout.weight.dtype)
    with torch.no_grad():
        values = [_sigma_min_squared(model.chain(identity, l).t()) for l in _levels(model)]
    return min(values + [1.0] if model.skip else values)


def _sigma_min_squared(matrix: Tensor) -> float:
    """``lambda_min(A^T A)`` of ``A`` (``rows x columns``): 0 when it has a null space, inf for no columns."""
    rows, columns = matrix.shape
    if columns == 0:
        return math.inf  # a level with an all-zero M_l constrains nothing
    if rows < columns:
        return 0.0
    return float(torch.linalg.svdvals(matrix.double())[-1]) ** 2


def gradient_descent(model: torch.nn.Module, loss_fn: Callable[[], Tensor], lr: float, steps: int,
                     observe: Callable[[int], None] | None = None, observe_every: int = 1) -> Trajectory:
    """Full-batch GD ``theta <- theta - lr * dL/dtheta`` for ``steps`` steps.

    Records ``L`` before every step and after the last (``steps + 1`` values) and calls
    ``observe(t)`` at ``t = 0, observe_every, ...`` and at the last step. Stops, with
    ``diverged=True``, when the loss is NaN/inf or exceeds ``DIVERGENCE_FACTOR`` times its
    initial value.
    """
    if not lr > 0:
        raise ValueError(f"the learning rate must be positive; got {lr}")
    if steps < 0 or observe_every < 1:
        raise ValueError(f"steps must be >= 0 and observe_every >= 1; got {steps}, {observe_every}")
    trajectory = Trajectory(lr=lr, loss=[])
    parameters = [p for p in model.parameters() if p.requires_grad]
    start = time.perf_counter()
    for step in range(steps + 1):
        loss = loss_fn()
        value = loss.item()
        trajectory.loss.append(value)
        if not math.isfinite(value) or value > DIVERGENCE_FACTOR * max(trajectory.loss[0], 1e-300):
            trajectory.diverged, trajectory.diverged_at = True, step
            break
        if observe is not None and (step % observe_every == 0 or step == steps):
            observe(step)
        if step == steps:
            break
        gradients = torch.autograd.grad(loss, parameters)
        with torch.no_grad():
            for parameter, gradient in zip(parameters, gradients):
                parameter.sub_(lr * gradient)
    trajectory.seconds = time.perf_counter() - start
    return trajectory


@dataclass
class LinearProblem:
    """The training-set data a linear GNN's GD run needs, computed once per (graph, depth, skip).

    ``features`` are ``[M_0 Q, ..., M_H Q]`` in the coordinates of ``basis = Q``, an orthonormal
    basis (``m_x x q``) of the joint row space of the levels the model reads (``M_0..M_H`` with
    skips, ``M_H`` without), or the raw ``M_l`` when ``basis`` is None. ``level_bases[l]`` spans
    the row space of ``M_l`` in the same coordinates (``V_l`` for the restricted ``lambda``).
    """

    features: list[Tensor]
    level_bases: list[Tensor | None]  # None for levels the model does not read
    basis: Tensor | None
    in_channels: int
    depth: int
    skip: bool

    @classmethod
    def build(cls, features: Sequence[Tensor], depth: int, skip: bool, reduce: bool = True,
              dtype: torch.dtype = torch.float64) -> "LinearProblem":
        """From ``features = [M_0, ..., M_H']`` (``H' >= depth``).

        With ``reduce``, everything is expressed in the joint row space ``Q`` of the levels used:
        GD on ``B_1`` (and ``W_0``) only ever moves them within that span (their gradients are
        sums of ``(...)^T M_l``), and their component orthogonal to it never reaches ``f_I``. So
        training ``B_1 Q`` on ``M_l Q`` is the same run as training ``B_1`` on ``M_l``, with
        ``m_x`` (1433 on Cora, 3703 on CiteSeer) replaced by ``q <= (H + 1) n_bar``.
        """
        if depth >= len(features):
            raise ValueError(f"depth {depth} needs features M_0..M_{depth}; only {len(features)} given")
        features = [m.to(torch.float64) for m in features[: depth + 1]]
        used = features if skip else features[-1:]
        basis = row_space_basis(torch.cat(used)) if reduce else None
        if basis is not None:
            features = [m @ basis for m in features]
        level_bases = [row_space_basis(m).to(dtype) if skip or l == depth else None
                       for l, m in enumerate(features)]
        return cls([m.to(dtype) for m in features], level_bases,
                   None if basis is None else basis.to(dtype), features[0].size(1) if basis is None
                   else basis.size(0), depth, skip)

    def expanded(self) -> "LinearProblem":
        """The same problem in the original ``m_x`` coordinates (``M_l Q Q^T = M_l`` on the levels read)."""
        if self.basis is None:
            return self
        basis_t = self.basis.t()
        return LinearProblem([m @ basis_t for m in self.features],
                             [None if v is None else self.basis @ v for v in self.level_bases],
                             None, self.in_channels, self.depth, self.skip)


def _reduced_copy(model: LinearizedGNN, basis: Tensor) -> LinearizedGNN:
    """The model acting on ``x Q``: ``B_1 Q`` (and ``W_0 Q`` with skips), other weights shared."""
    reduced = LinearizedGNN(basis.size(1), model.hidden_channels, model.out_channels, model.depth, model.skip,
                            model.activation).to(basis.dtype)
    with torch.no_grad():
        for mine, theirs in zip(reduced.layers[1:], model.layers[1:]):
            mine.weight.copy_(theirs.weight)
        reduced.layers[0].weight.copy_(model.layers[0].weight @ basis)
        for level, (block, source) in enumerate(zip(reduced.readout_blocks(), model.readout_blocks())):
            block.copy_(source @ basis if model.skip and level == 0 else source)
    return reduced


def _restore(model: LinearizedGNN, reduced: LinearizedGNN, basis: Tensor) -> None:
    """Write a trained reduced copy back: ``B_1 <- B_1 (I - Q Q^T) + B_1' Q^T`` (same for ``W_0``)."""
    with torch.no_grad():
        for mine, theirs in zip(model.layers[1:], reduced.layers[1:]):
            mine.weight.copy_(theirs.weight)
        first = model.layers[0].weight
        first.add_((reduced.layers[0].weight - first @ basis) @ basis.t())
        for level, (block, source) in enumerate(zip(model.readout_blocks(), reduced.readout_blocks())):
            if model.skip and level == 0:
                block.add_((source - block @ basis) @ basis.t())
            else:
                block.copy_(source)


def train_linear(model: LinearizedGNN, problem: LinearProblem, targets: Tensor, lr: float, steps: int,
                 lambda_every: int = 10, track_plain: bool = True) -> Trajectory:
    """GD on the linear model's training-set output ``f_I`` computed from ``M_l`` (not the graph).

    Exact for the linear GNN: ``f_I`` depends on the graph only through ``M_l``
    (:meth:`LinearizedGNN.output_from_propagated`), and on ``B_1`` only through its action on the
    row space of ``problem`` (see :meth:`LinearProblem.build`). ``model`` is trained in place.
    Tracks the restricted ``lambda`` every ``lambda_every`` steps; the plain one only when every
    width is ``>= m_x`` (then without the row-space reduction), else it is recorded as 0 (its value).
    With ``track_plain=False`` the plain one is not computed (``lambda_plain`` stays empty): for wide
    models, where it would cost an ``m_x``-column SVD per sample and the full-size problem.
    """
    if model.activation != "identity":
        raise ValueError("train_linear trains the linear model; use train_full_graph for activation='relu'")
    if (model.in_channels, model.depth, model.skip) != (problem.in_channels, problem.depth, problem.skip):
        raise ValueError(f"{model!r} does not match the problem (m_x={problem.in_channels}, "
                         f"depth={problem.depth}, skip={problem.skip})")
    dtype = problem.features[0].dtype
    model.to(dtype)
    targets = targets.to(dtype)
    plain = track_plain and model.hidden_channels >= model.in_channels
    if plain:
        problem = problem.expanded()  # the plain lambda needs B_bar on all of R^(m_x)
    trained = model if problem.basis is None else _reduced_copy(model, problem.basis)
    samples: dict[str, list[float]] = {"restricted": [], "plain": []}
    sampled_steps: list[int] = []

    def observe(step: int) -> None:
        sampled_steps.append(step)
        samples["restricted"].append(restricted_lambda(trained, problem.level_bases))
        if track_plain:
            samples["plain"].append(plain_lambda(trained) if plain else 0.0)

    trajectory = gradient_descent(
        trained, lambda: squared_loss(trained.output_from_propagated(problem.features), targets),
        lr, steps, observe, lambda_every)
    if trained is not model:
        _restore(model, trained, problem.basis)
    trajectory.lambda_steps, trajectory.lambda_restricted, trajectory.lambda_plain = (
        sampled_steps, samples["restricted"], samples["plain"])
    return trajectory


def train_full_graph(model: LinearizedGNN, x: Tensor, operator: AggregationOperator, index: Tensor,
                     targets: Tensor, lr: float, steps: int) -> Trajectory:
    """GD on ``||f(X)[I] - Y_I||^2`` propagating through the whole graph (any activation)."""
    targets = targets.to(model.readout.weight.dtype)
    return gradient_descent(model, lambda: squared_loss(model(x, operator)[index], targets), lr, steps)


def theorem1_bound(trajectory: Trajectory, optimal_loss: float, sigma_min: float,
                   restricted: bool = True) -> np.ndarray:
    """Theorem 1's bound on ``L(t) - L*`` at every step ``t``: ``(L0 - L*) exp(-4 lambda_t sigma^2 eta t)``.

    ``lambda_t`` is the running minimum of the sampled ``lambda`` (restricted or plain) and
    ``eta t`` the gradient-flow time of step ``t``.
    """
    lam = trajectory.running_min_lambda(restricted)
    time_ = trajectory.lr * np.arange(len(trajectory.loss))
    initial_gap = trajectory.loss[0] - optimal_loss
    return initial_gap * np.exp(-4.0 * lam * sigma_min ** 2 * time_)


def bound_violation(trajectory: Trajectory, optimal_loss: float, sigma_min: float,
                    restricted: bool = True) -> float:
    """``max_t (L(t) - L* - bound_t) / (L(0) - L*)``: ``<= 0`` when the bound holds at every step.

    A run that starts at ``L*`` (to rounding) holds only if it stays there; a loss below ``L*``
    beyond rounding means ``L*`` is wrong. Either failure is ``inf``, never a silent 0."""
    gap = np.asarray(trajectory.loss) - optimal_loss
    bound = theorem1_bound(trajectory, optimal_loss, sigma_min, restricted)
    rounding = 1e-9 * max(1.0, abs(optimal_loss))
    if gap[0] > rounding:
        return float(np.max(gap - bound) / gap[0])
    return 0.0 if np.all(np.abs(gap) <= rounding) else math.inf
