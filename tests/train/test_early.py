import math

from fathom.train.early import early_measures, epochs_to_target, loss_at, loss_auc

HISTORY = [{"epoch": e, "train_loss": 2.0 / e} for e in range(1, 61)]


def test_loss_at_fixed_epochs():
    assert loss_at(HISTORY, 10) == 0.2 and math.isnan(loss_at(HISTORY, 61))


def test_epochs_to_target():
    assert epochs_to_target(HISTORY, 0.5) == 4  # 2/4 = 0.5
    assert epochs_to_target(HISTORY, 0.01) is None


def test_auc_is_the_mean_loss_and_undefined_for_truncated_runs():
    assert math.isclose(loss_auc(HISTORY, 60), sum(2.0 / e for e in range(1, 61)) / 60)
    assert math.isnan(loss_auc(HISTORY[:30], 60))
    assert math.isclose(loss_auc(HISTORY, 10), sum(2.0 / e for e in range(1, 11)) / 10)  # the first 10 epochs only


def test_early_measures_keys():
    measures = early_measures(HISTORY, 60, target=0.1)
    assert measures["loss_at_25"] == 0.08 and measures["epochs_to_target"] == 20
    assert set(measures) == {"loss_at_10", "loss_at_25", "loss_at_50", "epochs_to_target", "loss_auc"}
