import matplotlib.image

from fathom.report import plot_layer_metrics


def test_plot_has_one_panel_per_metric_and_log_scale_for_wide_ranges(tmp_path):
    runs = {"a": {"wide": [1.0, 1e-3, 1e-6], "narrow": [0.5, 0.6, 0.7]},
            "b": {"wide": [1.0, 1.0, 1.0], "narrow": [0.1, 0.2, 0.3]}}
    path = plot_layer_metrics(runs, tmp_path / "sub" / "plot.png", ("wide", "narrow"), title="t")
    image = matplotlib.image.imread(path)
    assert image.shape[0] > 200 and image.shape[1] > 400
