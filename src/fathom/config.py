"""Configuration objects: everything the three papers vary, validated at construction.

CLI flags, YAML files and Python calls all build the same :class:`ModelConfig` /
:class:`TrainConfig`; an invalid value fails immediately with a message that names the field
and the allowed values.
"""

from __future__ import annotations

import dataclasses
import difflib
import math
from dataclasses import dataclass
from typing import Any

from .graph import AGGREGATIONS, COMPONENT_SCALINGS

RESIDUALS = ("none", "plain", "fixup")
INITS = ("gnn_he", "kaiming", "glorot", "fixup")
NORMS = ("none", "weight", "layer", "pairnorm", "batchnorm")
NORM_BOUNDS = ("spectral", "frobenius")
ACTIVATIONS = ("relu", "identity", "gelu", "leaky_relu")
ACTIVATION_POSITIONS = ("pre", "post")
CONVS = ("fathom", "gat")
IOS = ("linear", "park")
MEMORY_MODES = ("full", "checkpoint", "reversible")
DEVICES = ("auto", "cpu", "cuda")
PARTITION_METHODS = ("metis", "random")  # fathom.data.partition's
PARTITION_EVALUATIONS = ("auto", "whole", "parts")
READOUTS = ("sum", "mean")  # graph classification: how each graph's node outputs are pooled
GRAPH_ONLY = ("readout", "batch_size")  # TrainConfig's settings of the graph task alone
BATCH_SIZE = 32  # graph classification: training graphs per step, GIN's paper's smaller choice (it tunes 32, 128)
SELECTIONS = ("val_acc", "val_loss")  # the validation metric that picks a run's epoch


class ConfigError(ValueError):
    """An invalid configuration value; the message names the field and what is allowed."""


def check_choice(name: str, value: Any, allowed: tuple[str, ...]) -> None:
    if value not in allowed:
        raise ConfigError(f"{name} must be one of {', '.join(allowed)}; got {value!r}")


def range_error(name: str, value: float, low: float, high: float = math.inf, *, low_open: bool = False) -> str | None:
    """Why ``value`` is not in ``[low, high]`` (``(low, ...`` when ``low_open``; never infinite), or ``None``.

    NaN is named "not a number" and an infinity "infinite": NaN compares false with every bound, so
    a bare range message ("must be <= 1") would blame the wrong thing.
    """
    interval = f"{'(' if low_open else '['}{low}, {high}{']' if math.isfinite(high) else ')'}"
    if math.isnan(value):
        return f"{name} is not a number (got nan); it must lie in {interval}"
    if math.isinf(value):
        return f"{name} is infinite (got {value!r}); it must lie in {interval}"
    if value < low or (low_open and value == low) or value > high:
        return f"{name} must lie in {interval}; got {value!r}"
    return None


def check_number(name: str, value: Any, low: float, high: float = math.inf, *, integer: bool = False,
            low_open: bool = False) -> None:
    kind = "an integer" if integer else "a number"
    if isinstance(value, bool) or not isinstance(value, (int, float)) or (integer and not isinstance(value, int)):
        raise ConfigError(f"{name} must be {kind}; got {value!r}")
    error = range_error(name, value, low, high, low_open=low_open)
    if error:
        raise ConfigError(error)


def option(default: Any, help: str, *, choices: tuple[str, ...] | None = None, low: float | None = None,
           high: float | None = None) -> Any:
    """A configuration field with what a command-line option needs: its help text, choices and range.

    The CLI generates one flag per field from this metadata (``fathom.cli.options``), so a new
    field is one edit here.
    """
    return dataclasses.field(default=default, metadata={"help": help, "choices": choices, "low": low, "high": high})


class Config:
    """Shared helpers of the configuration dataclasses: a dict round-trip and ``replace`` that
    reject unknown keys, naming the closest known one."""

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)  # type: ignore[call-overload]

    @classmethod
    def check_keys(cls, keys: Any) -> None:
        """Raise a :class:`ConfigError` for any key that is not a field, suggesting the closest."""
        names = [f.name for f in dataclasses.fields(cls)]  # type: ignore[arg-type]
        for key in sorted(set(keys) - set(names)):
            close = difflib.get_close_matches(key, names, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise ConfigError(f"unknown {cls.__name__} field {key!r}{hint}; known: {', '.join(names)}")

    @classmethod
    def from_dict(cls, values: dict[str, Any]):
        cls.check_keys(values)
        return cls(**values)

    def replace(self, **changes):
        self.check_keys(changes)
        return dataclasses.replace(self, **changes)  # type: ignore[type-var]


@dataclass(frozen=True)
class ModelConfig(Config):
    """A :class:`fathom.nn.DeepGNN`: encoder -> ``depth`` blocks -> head.

    Attributes:
        depth: number of message-passing blocks ``L``.
        width: hidden width of every block.
        aggregation: operator ``A`` (``gcn`` | ``mean`` | ``sum``).
        residual_aggregation: ``a`` in ``A_a = (1 - a) A + a I``.
        residual: ``none`` (``Z' = B(Z)``), ``plain`` (``Z' = Z + B(Z)``) or ``fixup``
            (``Z' = Z + beta B(Z)``), with branch ``B(Z) = A_a act(Z) W`` (see ``activation_position``).
        beta: fixup branch scale; ``None`` means ``1/sqrt(depth)`` (DeZoort & Hanin 2023).
        init: block-weight initializer (``gnn_he`` | ``kaiming`` | ``glorot`` | ``fixup``).
        norm: ``weight`` (``W <- W / max(1, ||W||/c)``) or ``layer`` (block output divided by
            its Lipschitz bound ``1 + beta Lip(act) ||A_a||_2 ||W||_2``), Park & Kim (2024); or PyG's
            ``pairnorm`` | ``batchnorm`` on each branch output; or ``none``.
        norm_bound: the norm of ``W`` for ``weight``: ``frobenius`` (the default, what the authors'
            code runs: ``W <- W / max(1, ||W||_F / c)``) or ``spectral`` (``||W||_2``, power
            iteration; for a random width-n matrix ``||W||_2 ~ 2 ||W||_F / sqrt(n)``, so the
            Frobenius bound leaves a branch about ``sqrt(n)/2`` times weaker). With ``conv=gat`` the
            norm is the mean over heads of each head's norm, ``(1/H) sum_h ||W_h||``.
        norm_c: the bound ``c`` of ``weight``.
        activation: ``relu``, ``identity`` (the linearized analysis), ``gelu`` (``z Phi(z)``) or
            ``leaky_relu`` (``max(z, s z)``, ``s = negative_slope``).
        negative_slope: ``s`` of ``leaky_relu`` (0.8: the curve of Park & Kim's figure).
        activation_position: where the branch applies ``act``: ``pre``
            (``B(Z) = A_a act(Z) W``, DeZoort & Hanin 2023) or ``post`` (``B(Z) = act(A_a Z W)``,
            the block ``x + relu(GCNConv(x))`` of Park & Kim's code).
        io: the encoder and head around the blocks: ``linear`` (``Z_0 = X W_in + b``,
            ``Y = act(Z_L) W_out + b``) or ``park`` (Park & Kim's code: encoder
            ``Z_0 = relu(dropout(X W_in + b))``, decoder ``Y = relu(Z_L W_1 + b_1) W_2 + b_2``).
        conv: the branch's message passing: ``fathom`` (``A_a Z W`` with the fixed operator) or
            ``gat`` (PyG's ``GATConv``, ``heads`` heads averaged, each of width ``width``:
            ``(1/H) sum_h P_h Z W_h`` with ``P_h`` the softmax attention over in-edges and a
            self-loop, mixed as ``(1 - a) P_h + a I``). Attention rows sum to 1, so ``gnn_he`` uses
            ``lambda_1 = 1`` and, for the mean of ``H`` independent heads, ``Var(W) = g H / n``. GAT
            takes norm ``none``, ``weight``, ``pairnorm`` or ``batchnorm`` (``layer`` is refused: with
            attention depending on ``Z``, ``||A|| ||W||`` bounds nothing) and memory ``full`` or
            ``checkpoint``.
        heads: attention heads of ``conv=gat`` (1 for ``fathom``).
        dropout: dropout probability on each block's input features and on the head's input.
        input_dropout: dropout probability on the input features, before the encoder.
        initial_residual: ``alpha``: each branch aggregates ``(1-alpha) A_a act(Z) + alpha act(Z_0)``,
            ``Z_0`` the encoder's output (GCNII's initial residual, Chen et al. 2020).
        identity_mapping: ``theta``: block ``l``'s weight acts as ``(1-beta_l) I + beta_l W`` with
            ``beta_l = ln(theta/l + 1)`` (GCNII's identity mapping); ``None``: ``W``.
        memory: ``full``, ``checkpoint`` (recompute segments of sqrt(L) blocks) or
            ``reversible`` (grouped reversible blocks, memory constant in depth).
        component_scaling: ``none``; ``perron``: scale each connected component's block of
            ``A_a`` so that its Perron root equals the graph's; ``unit``: so that it equals 1
            (see ``AggregationOperator``).
    """

    depth: int = option(32, "Number of message-passing blocks L.", low=1)
    width: int = option(64, "Hidden width of every block.", low=1)
    aggregation: str = option("gcn", "Aggregation operator A: gcn D^-1/2(Adj+I)D^-1/2, mean D^-1(Adj+I), "
                                     "sum Adj+I.", choices=AGGREGATIONS)
    residual_aggregation: float = option(0.5, "a in the residual aggregation operator A_a = (1-a)A + aI.",
                                         low=0.0, high=1.0)
    residual: str = option("fixup", "Residual connections: none Z'=B(Z); plain Z'=Z+B(Z); fixup Z'=Z+beta*B(Z).",
                           choices=RESIDUALS)
    beta: float | None = option(None, "Residual branch scale (default: 1 for plain, 1/sqrt(depth) for fixup).")
    init: str = option("gnn_he", "Block weights: gnn_he Var=2/(fan_in*lambda_1(A_a)^2); kaiming 2/fan_in; "
                                 "glorot (PyG default); fixup = gnn_he with zeroed residual branches.", choices=INITS)
    norm: str = option("none", "weight: ||W|| <= c before every forward; layer: residual block divided by its "
                               "Lipschitz bound (Park & Kim 2024); pairnorm | batchnorm on each branch output.",
                       choices=NORMS)
    norm_bound: str = option("frobenius", "Norm of W for norm=weight: frobenius W <- W/max(1, ||W||_F/c) (the "
                                          "authors' code) or spectral ||W||_2 (power iteration); gat: the mean "
                                          "of the heads' norms.", choices=NORM_BOUNDS)
    norm_c: float = option(0.999, "The bound c of norm=weight: ||W|| <= c.")
    activation: str = option("relu", "relu; identity for a linearized GNN; gelu z*Phi(z); leaky_relu max(z, s*z).",
                             choices=ACTIVATIONS)
    negative_slope: float = option(0.8, "s of activation=leaky_relu (0.8: Park & Kim's curve).", low=0.0)
    activation_position: str = option("pre", "pre: branch A_a act(Z) W; post: act(A_a Z W) (Park & Kim's block "
                                             "x + relu(GCNConv(x))).", choices=ACTIVATION_POSITIONS)
    dropout: float = option(0.0, "Dropout on each block's input and the head's.", low=0.0, high=0.99)
    input_dropout: float = option(0.0, "Dropout on the input features, before the encoder.", low=0.0, high=0.99)
    initial_residual: float = option(0.0, "alpha: each branch aggregates (1-alpha) A_a act(Z) + alpha act(Z_0), "
                                          "Z_0 the encoder output (GCNII's initial residual).", low=0.0, high=1.0)
    identity_mapping: float | None = option(None, "theta: block l's weight acts as (1-b_l) I + b_l W, "
                                                  "b_l = ln(theta/l + 1) (GCNII's identity mapping).")
    memory: str = option("full", "full; checkpoint: recompute segments of sqrt(L) blocks; reversible: grouped "
                                 "reversible blocks (activation memory constant in depth).", choices=MEMORY_MODES)
    component_scaling: str = option("none", "Disconnected graphs: perron scales each connected component's block "
                                            "of A_a so its Perron root is the graph's (gnn_he then keeps every "
                                            "component's scale); unit scales every block to Perron root 1 (batches "
                                            "of graphs under sum aggregation); none leaves A_a as is.",
                                    choices=COMPONENT_SCALINGS)
    io: str = option("linear", "Encoder and head: linear; park: encoder relu(dropout(X W + b)), decoder "
                               "relu(Z W1 + b1) W2 + b2 (Park & Kim's code).", choices=IOS)
    conv: str = option("fathom", "Branch message passing: fathom A_a Z W; gat: PyG's GATConv, heads averaged.",
                       choices=CONVS)
    heads: int = option(1, "Attention heads of conv=gat (averaged, each of the full width).", low=1)

    def __post_init__(self) -> None:
        check_number("depth", self.depth, 1, integer=True)
        check_number("width", self.width, 1, integer=True)
        check_choice("aggregation", self.aggregation, AGGREGATIONS)
        check_number("residual_aggregation", self.residual_aggregation, 0.0, 1.0)
        check_choice("residual", self.residual, RESIDUALS)
        if self.beta is not None:
            check_number("beta", self.beta, 0.0, low_open=True)
            if self.residual == "none":
                raise ConfigError("beta scales a residual branch: it needs residual=plain or fixup, not none")
        check_choice("init", self.init, INITS)
        if self.init == "fixup" and self.residual == "none":
            raise ConfigError("init=fixup zero-initialises residual branches: it needs residual=plain or fixup")
        check_choice("norm", self.norm, NORMS)
        check_choice("norm_bound", self.norm_bound, NORM_BOUNDS)
        check_number("norm_c", self.norm_c, 0.0, low_open=True)
        if self.norm == "layer" and self.residual == "none":
            raise ConfigError("norm=layer bounds a residual block (Z + beta B(Z)) / (1 + beta Lip(B)): "
                              "it needs residual=plain or fixup")
        check_choice("activation", self.activation, ACTIVATIONS)
        check_number("negative_slope", self.negative_slope, 0.0)
        check_choice("activation_position", self.activation_position, ACTIVATION_POSITIONS)
        check_choice("io", self.io, IOS)
        check_choice("conv", self.conv, CONVS)
        check_number("heads", self.heads, 1, integer=True)
        check_number("dropout", self.dropout, 0.0, 1.0)
        if self.dropout == 1.0:
            raise ConfigError("dropout must be below 1 (dropout=1 removes every feature)")
        check_number("input_dropout", self.input_dropout, 0.0, 0.99)
        check_number("initial_residual", self.initial_residual, 0.0, 1.0)
        if self.identity_mapping is not None:
            check_number("identity_mapping", self.identity_mapping, 0.0, low_open=True)
        if (self.initial_residual > 0 or self.identity_mapping is not None) and self.norm in ("weight", "layer"):
            raise ConfigError(f"norm={self.norm} bounds a FathomConv branch's weight; the GCNII branch of "
                              "initial_residual or identity_mapping takes norm none, pairnorm or batchnorm")
        if (self.initial_residual > 0 or self.identity_mapping is not None) and (
                self.conv != "fathom" or self.activation_position != "pre"):
            raise ConfigError("initial_residual and identity_mapping make the branch GCNII's (activation before "
                              "the aggregation): they need conv=fathom and activation_position=pre")
        self._check_gat()
        check_choice("memory", self.memory, MEMORY_MODES)
        check_choice("component_scaling", self.component_scaling, COMPONENT_SCALINGS)
        if self.memory == "reversible":
            if self.residual == "none":
                raise ConfigError("memory=reversible needs residual blocks (residual=plain or fixup)")
            if self.width % 2:
                raise ConfigError(f"memory=reversible splits the width in two groups: width must be even, got "
                                  f"{self.width}")
            if self.norm not in ("none", "weight"):
                raise ConfigError(f"memory=reversible supports norm none or weight (its blocks must stay "
                                  f"invertible), not {self.norm}")
            if self.dropout > 0:
                raise ConfigError("memory=reversible needs dropout=0 (the backward pass recomputes each block)")
            if self.initial_residual > 0 or self.identity_mapping is not None:
                raise ConfigError("memory=reversible blocks are FathomConv branches: initial_residual and "
                                  "identity_mapping need memory full or checkpoint")

    def _check_gat(self) -> None:
        if self.conv != "gat":
            if self.heads != 1:
                raise ConfigError(f"heads={self.heads} needs conv=gat (fathom has one operator)")
            return
        if self.aggregation != "gcn" or self.component_scaling != "none":
            raise ConfigError("conv=gat aggregates with its attention (rows sum to 1), not with aggregation or "
                              "component_scaling: leave them at gcn and none")
        if self.norm == "layer":
            raise ConfigError("norm=layer divides by ||A_a||_2 ||W||_2, a Lipschitz bound only for a fixed "
                              "operator; GAT's attention depends on Z: use norm weight, none, pairnorm or "
                              "batchnorm with conv=gat")
        if self.memory == "reversible":
            raise ConfigError("memory=reversible has FathomConv branches: conv=gat needs memory full or checkpoint")

    @property
    def branch_scale(self) -> float:
        """The factor on each residual branch: 1 (plain), beta or 1/sqrt(L) (fixup), 0 (none)."""
        if self.residual == "none":
            return 0.0
        if self.residual == "plain":
            return 1.0 if self.beta is None else float(self.beta)
        return 1.0 / math.sqrt(self.depth) if self.beta is None else float(self.beta)


@dataclass(frozen=True)
class TrainConfig(Config):
    """Full-batch training: Adam on the cross-entropy of the training nodes.

    ``selection``: the epoch a run reports (its test accuracy there) and early stopping follow the
    highest validation accuracy (``val_acc``) or the lowest validation loss (``val_loss``: GCNII's
    published protocol, Chen et al. 2020, whose ``train.py`` keeps the epoch of least validation
    loss and stops after ``patience`` epochs without a lower one). ``patience``: stop when the
    selection metric has not improved for that many epochs (``None``: train all ``epochs``).
    ``block_weight_decay``: the L2 penalty of the parameters a model lists in
    ``message_passing_parameters()`` (GCNII's 0.01 on its convolutions, 5e-4 on the dense layers;
    Chen et al. 2020); ``None`` applies ``weight_decay`` to every parameter.
    ``partitions``: with ``K > 1``, Cluster-GCN training (Chiang et al. 2019): one step per part of
    a ``partition_method`` partition, on the part's induced subgraph (:mod:`fathom.train.distributed`);
    ``parts_per_step`` parts drawn together per step keep the edges between them.
    ``partition_evaluation``: where a partitioned run evaluates, on the whole graph or part by part
    (each part's induced subgraph alone, the edges between parts dropped); ``auto``: the whole graph
    when one forward pass over it fits in memory. The parts are another graph than the whole one,
    so compare only accuracies evaluated the same way.
    ``lr_step``: a step schedule, the learning rate of epoch ``e`` (from 1) being
    ``lr * lr_gamma ** ((e - 1) // lr_step)`` (Xu et al. 2019 halve GIN's every 50 epochs); ``None``
    keeps ``lr`` throughout.
    ``readout`` (graph classification only): graph g's logits are ``sum_(v in g) h_v`` (GIN's) or
    ``(1/n_g) sum_(v in g) h_v`` of the model's node outputs ``h_v``. With node outputs of order one,
    the mean keeps the logits of order one at initialisation; the sum grows them with the graph's size.
    ``batch_size`` (graph classification only): training graphs per optimizer step (Xu et al. 2019
    tune GIN's among 32 and 128).
    """

    epochs: int = option(100, "Training epochs.", low=1)
    lr: float = option(0.005, "Adam learning rate.")
    weight_decay: float = option(0.0, "Adam weight decay (L2).", low=0.0)
    block_weight_decay: float | None = option(None, "Weight decay of the message-passing parameters (the model's "
                                                    "message_passing_parameters()); default: weight_decay.")
    seed: int = option(0, "Seed of the initialisation, dropout, random splits and the CSBM graph.", low=0)
    device: str = option("auto", "auto picks cuda when available.", choices=DEVICES)
    patience: int | None = option(None, "Stop when the selection metric has not improved for this many epochs.",
                                  low=1)
    partitions: int = option(1, "Split the graph into this many parts and take one step per part on its induced "
                                "subgraph (Cluster-GCN); 1: full batch. Under torchrun, a multiple of the process "
                                "count.", low=1)
    parts_per_step: int = option(1, "With --partitions, train each step on this many parts together, with the edges "
                                    "between them (Cluster-GCN's stochastic multiple partitions).", low=1)
    partition_method: str = option("metis", "How to split the graph: metis (needs pymetis) or random.",
                                   choices=PARTITION_METHODS)
    partition_evaluation: str = option("auto", "With --partitions, evaluate on the whole graph (whole), on each "
                                               "part's subgraph alone (parts), or whole when it fits (auto).",
                                       choices=PARTITION_EVALUATIONS)
    lr_step: int | None = option(None, "Multiply the learning rate by lr_gamma every this many epochs (a step "
                                       "schedule; GIN's paper halves it every 50).", low=1)
    lr_gamma: float = option(0.5, "The step schedule's factor (with lr_step).")
    readout: str = option("sum", "Graph classification: pool each graph's node outputs by their sum (GIN's) or "
                                 "mean.", choices=READOUTS)
    batch_size: int = option(BATCH_SIZE, "Graph classification: training graphs per optimizer step (GIN's paper: 32 or "
                                 "128).", low=1)
    selection: str = option("val_acc", "The epoch a run reports and early stopping follow the highest validation "
                                       "accuracy (val_acc) or the lowest validation loss (val_loss, GCNII's "
                                       "protocol).", choices=SELECTIONS)

    def __post_init__(self) -> None:
        check_number("epochs", self.epochs, 1, integer=True)
        if self.lr_step is not None:
            check_number("lr_step", self.lr_step, 1, integer=True)
        check_number("lr_gamma", self.lr_gamma, 0.0, 1.0, low_open=True)
        check_number("batch_size", self.batch_size, 1, integer=True)
        if self.patience is not None:
            check_number("patience", self.patience, 1, integer=True)
        check_number("lr", self.lr, 0.0, low_open=True)
        check_number("weight_decay", self.weight_decay, 0.0)
        if self.block_weight_decay is not None:
            check_number("block_weight_decay", self.block_weight_decay, 0.0)
        check_number("seed", self.seed, 0, integer=True)
        check_choice("device", self.device, DEVICES)
        check_number("partitions", self.partitions, 1, integer=True)
        check_number("parts_per_step", self.parts_per_step, 1, self.partitions, integer=True)
        check_choice("partition_method", self.partition_method, PARTITION_METHODS)
        check_choice("partition_evaluation", self.partition_evaluation, PARTITION_EVALUATIONS)
        check_choice("selection", self.selection, SELECTIONS)

    def graph_only_changes(self) -> str:
        """The graph-classification settings changed from their defaults, as ``name=value, ...``
        (empty when none is): a node-classification run has nothing to apply them to."""
        return ", ".join(f"{name}={getattr(self, name)}" for name in GRAPH_ONLY
                         if getattr(self, name) != TrainConfig.__dataclass_fields__[name].default)


def parse_overrides(spec: str, cls: type = ModelConfig) -> dict[str, Any]:
    """``"init=glorot,residual=fixup,depth=16"`` -> ``{"init": "glorot", ...}`` typed by ``cls``'s fields.

    Keys may use dashes (``residual-aggregation``); ``none`` is ``None`` for optional numbers.
    """
    fields = {f.name: f for f in dataclasses.fields(cls)}
    overrides: dict[str, Any] = {}
    for item in filter(None, (part.strip() for part in spec.split(","))):
        if "=" not in item:
            raise ConfigError(f"expected key=value in {spec!r}, got {item!r}")
        key, text = (part.strip() for part in item.split("=", 1))
        key = key.replace("-", "_")
        if key not in fields:
            raise ConfigError(f"unknown {cls.__name__} field {key!r} in {spec!r}; known: {', '.join(fields)}")
        overrides[key] = _parse_value(key, text, fields[key].type)
    return overrides


def _parse_value(key: str, text: str, annotation: Any) -> Any:
    annotation = str(annotation)
    if "None" in annotation and text.lower() == "none":
        return None
    try:
        if annotation.startswith("int"):
            return int(text)
        if annotation.startswith("float"):
            return float(text)
    except ValueError:
        raise ConfigError(f"{key} must be {annotation.split(' ')[0]}; got {text!r}") from None
    return text
