import matplotlib.image

from fathom.report import plot_layer_metrics
from fathom.report.plots import line_styles


def test_plot_has_one_panel_per_metric_and_log_scale_for_wide_ranges(tmp_path):
    runs = {"a": {"wide": [1.0, 1e-3, 1e-6], "narrow": [0.5, 0.6, 0.7]},
            "b": {"wide": [1.0, 1.0, 1.0], "narrow": [0.1, 0.2, 0.3]}}
    path = plot_layer_metrics(runs, tmp_path / "sub" / "plot.png", ("wide", "narrow"), title="t")
    image = matplotlib.image.imread(path)
    assert image.shape[0] > 200 and image.shape[1] > 400


def test_variants_of_one_model_share_a_colour_and_differ_in_style():
    styles = line_styles([f"m{i} ({phase})" for i in range(12) for phase in ("init", "trained")])
    assert styles["m3 (init)"]["color"] == styles["m3 (trained)"]["color"]
    assert styles["m3 (init)"]["linestyle"] != styles["m3 (trained)"]["linestyle"]
    assert len({style["color"] for style in styles.values()}) == 12


def test_loss_curves_read_each_runs_metrics(tmp_path):
    import pandas as pd

    from fathom.report import plot_loss_curves

    rows = []
    for run_id, depth, init, scale in [("r1", 4, "glorot", 1.0), ("r2", 4, "gnn_he", 0.5), ("r3", 16, "glorot", 2.0)]:
        (tmp_path / "runs" / run_id).mkdir(parents=True)
        pd.DataFrame({"epoch": [1, 2, 3], "train_loss": [scale, scale / 2, scale / 4]}).to_csv(
            tmp_path / "runs" / run_id / "metrics.csv", index=False)
        rows.append({"run_id": run_id, "depth": depth, "init": init})
    (tmp_path / "runs" / "r4").mkdir()
    (tmp_path / "runs" / "r4" / "metrics.csv").write_text("epoch,train_loss\n")  # diverged at epoch 1
    rows.append({"run_id": "r4", "depth": 16, "init": "gnn_he"})
    path = plot_loss_curves(pd.DataFrame(rows), tmp_path, ["init"], "depth", tmp_path / "curves.png")
    assert matplotlib.image.imread(path).shape[1] > 500


def test_accuracy_against_depth_has_one_panel_per_dataset_and_a_line_per_model(tmp_path, monkeypatch):
    import matplotlib.pyplot as plt
    import pandas as pd

    from fathom.report.plots import plot_against_depth

    frame = pd.DataFrame([{"dataset": d, "model": m, "depth": depth, "seed": s, "acc": 0.5 + 0.01 * depth + 0.1 * s}
                          for d in ("a", "b") for m in ("m1", "m2") for depth in (2, 4) for s in (0, 1)])
    figures = []
    subplots = plt.subplots
    monkeypatch.setattr(plt, "subplots", lambda *a, **k: figures.append(subplots(*a, **k)) or figures[-1])
    monkeypatch.setattr(plt, "close", lambda figure: None)  # keep the figure to read it back
    assert plot_against_depth(frame, "acc", tmp_path / "depth.png", log=True).is_file()
    axes = figures[0][1].flat
    assert [ax.get_title() for ax in axes] == ["dataset = a", "dataset = b"]
    for ax in axes:
        assert ax.get_xlabel() == "depth (blocks)" and ax.get_ylabel() == "acc"
        assert ax.get_xscale() == "log" and ax.get_yscale() == "log"
        assert [container.get_label() for container in ax.containers] == ["m1", "m2"]
    monkeypatch.undo()
    plt.close(figures[0][0])
