"""``fathom reproduce PAPER``: regenerate a paper's key results and check its claims."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Callable, Optional

import typer
from rich.console import Console
from rich.markdown import Markdown

from ..data import DatasetError
from . import options as opt
from .common import fail, writable_out

console = Console()

reproduce_app = typer.Typer(
    no_args_is_help=True,
    help="Regenerate a paper's key results into a report with PASS/FAIL claim checks.",
)


def dataset_list(datasets: str | None) -> tuple[str, ...] | None:
    return tuple(d.strip() for d in datasets.split(",")) if datasets else None


def run_and_show(out: Path, run: Callable[[], Path], summary_ends_before: str) -> Path:
    """Run a reproduction into ``out``; print its report up to ``summary_ends_before`` (protocol and
    claims). An unwritable ``out`` or an absent dataset is one clear line and exit code 1."""
    writable_out(out)
    try:
        report = run()
    except DatasetError as error:
        raise fail(str(error)) from error
    console.print(Markdown(report.read_text().split(summary_ends_before)[0]))
    console.print(f"report: {report}")
    return report


@reproduce_app.command("dezoort2023")
def dezoort2023(
    quick: Annotated[bool, typer.Option(help="Two depths (4, 32) and two seeds: under ~10 minutes on 2 cores.")] = False,
    data_root: opt.DataRoot = None,
    datasets: Annotated[Optional[str], typer.Option(help="Comma-separated subset, e.g. csbm (default: cora,csbm).")]
    = None,
    lr: Annotated[Optional[float], typer.Option("--lr", help="Skip the learning-rate search and use this.")] = None,
    workers: Annotated[int, typer.Option(min=1, help="Parallel runs (processes).")] = 1,
    out: Annotated[Path, typer.Option(help="Output directory (resumable: re-run to continue).")]
    = Path("runs/reproduce-dezoort2023"),
    report_only: Annotated[bool, typer.Option(help="Re-render OUT/report.md from the runs already in OUT.")] = False,
    progress: opt.ShowProgress = True,
) -> None:
    """DeZoort & Hanin (2023): init x residual aggregation x residual connections, early training.

    Writes OUT/report.md with loss curves, a table of epochs-to-target and test accuracy, and
    PASS/FAIL claim checks computed from the runs.
    """
    from ..reproduce import dezoort2023 as experiment

    run_and_show(out, lambda: experiment.run(
        out, quick, str(data_root) if data_root else None, workers, lr, dataset_list(datasets), progress,
        report_only=report_only), "## Early-training")


@reproduce_app.command("park2024")
def park2024(
    quick: Annotated[bool, typer.Option(help="Depths 2/8/32/128, one seed, 150 epochs, Cora + CSBM.")] = False,
    beyond: Annotated[bool, typer.Option(help="Also 512 and 1024 blocks with the weight bound (slow).")] = False,
    data_root: opt.DataRoot = None,
    datasets: Annotated[Optional[str], typer.Option(
        help="Comma-separated datasets (default: cora,citeseer,chameleon; pubmed adds the approximate PubMed).")]
    = None,
    workers: Annotated[int, typer.Option(min=1, help="Parallel runs (processes).")] = 1,
    seeds: Annotated[Optional[int], typer.Option(
        min=1, help="Report on the first N seeds only (a run in steps; the protocol's seeds are run later).")] = None,
    report_only: Annotated[bool, typer.Option(help="Re-render OUT/report.md from the runs already in OUT.")] = False,
    out: Annotated[Path, typer.Option(help="Output directory (resumable: re-run to continue).")]
    = Path("runs/reproduce-park2024"),
    progress: opt.ShowProgress = True,
) -> None:
    """Park & Kim (2024) on the authors' protocol: vanilla, residual and weight-bounded residual GCNs and GATs.

    The authors' block x + relu(conv(x)), encoder and decoder, random 60/20/20 splits, Adam 0.005 with
    early stopping on validation accuracy. Writes OUT/report.md with accuracy vs depth, gradient
    expansion, gradient similarity by activation (ReLU, GELU, LeakyReLU(0.8)) and per-layer figures,
    and PASS/FAIL claim checks computed from the runs.
    """
    from ..reproduce import park2024 as experiment

    run_and_show(out, lambda: experiment.run(out, quick, str(data_root) if data_root else None, workers, beyond,
                                             progress, datasets=dataset_list(datasets), seeds=seeds,
                                             report_only=report_only), "## Figures")


@reproduce_app.command("xu2021")
def xu2021(
    quick: Annotated[bool, typer.Option(help="Depths 1, 2, 4, 8, two seeds, shorter runs: over 15 CPU-minutes, resumable.")]
    = False,
    data_root: opt.DataRoot = None,
    out: Annotated[Path, typer.Option(help="Output directory: report.md, figures, results.csv/json.")]
    = Path("runs/reproduce-xu2021"),
    progress: opt.ShowProgress = True,
) -> None:
    """Xu et al. (2021): Theorem 1's bound, and training sped up by skips, depth and true labels.

    Linear and ReLU GCNs (and GIN) with and without skips, depths 1..8 and 16, true vs shuffled
    labels, Cora and CiteSeer, 5 seeds, full-batch GD on the summed squared loss. Writes
    OUT/report.md with figures and PASS/FAIL claim checks computed from the runs.
    """
    from ..reproduce import xu2021 as experiment

    run_and_show(out, lambda: experiment.run(out, quick, str(data_root) if data_root else None, progress), "## Figures")
