"""Xu, Zhang, Jegelka & Kawaguchi (ICML 2021): linear convergence of linearized GNNs, and training
accelerated by skip connections, by depth and by labels that follow the graph.

Protocol (ours; ``shared/papers/xu2021.md`` lists the checks, the paper gives no numbers to match):
Cora and CiteSeer (public split, raw PyG features, one-hot targets of the training nodes), the
``gcn`` operator, linear and ReLU GNNs (:class:`~fathom.linear.LinearizedGNN`: no biases, Glorot
init) with and without multiscale skips, true and shuffled training labels, several seeds (the seed
sets the initialisation and the shuffle), full-batch gradient descent on the *summed* squared loss.
The learning rate of each model family is the largest candidate at which no short probe run
diverges. The linear runs are trained on ``M_l = (S^l X)[train]`` (exact, see
:func:`fathom.linear.train_linear`) and track Theorem 1's ``lambda_T``; every step's loss gap is
compared with the bound. GIN (``A + I``) is probed at both learning rates and reported.

Every claim line is computed from the runs; a claim the data do not support is reported as FAIL.
"""

from .claims import check_claims, orderings, speed_table
from .experiment import Experiment, Run, curves_frame, quantities_frame
from .protocol import FULL, LABELS, OPERATOR_NAMES, QUICK, Graph, Protocol
from .report import render_report, run

__all__ = ["FULL", "LABELS", "OPERATOR_NAMES", "QUICK", "Experiment", "Graph", "Protocol", "Run", "check_claims",
           "curves_frame", "orderings", "quantities_frame", "render_report", "run", "speed_table"]
