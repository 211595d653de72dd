import pytest

from fathom.config import ConfigError, ModelConfig, TrainConfig
from fathom.sweep import expand, load_grid_file, parse_grid
from fathom.sweep.grid import RunSpec


def test_parse_grid_types_values():
    grid = parse_grid(["depth=4,16", "init=glorot,gnn_he", "residual-aggregation=0,0.5", "dataset=csbm,karate",
                       "lr=0.01"])
    assert grid == {"depth": [4, 16], "init": ["glorot", "gnn_he"], "residual_aggregation": [0.0, 0.5],
                    "dataset": ["csbm", "karate"], "lr": [0.01]}


@pytest.mark.parametrize("items, message", [
    (["dept=4"], "unknown grid key 'dept'"),
    (["depth"], "is key=v1,v2"),
    (["seed=1,2"], "give a number of seeds"),
    (["depth=4", "depth=8"], "given twice"),
    (["depth=four"], "depth must be int"),
    (["dataset=imagenet"], "dataset must be one of"),
    (["depth="], "has no values"),
])
def test_grid_errors_are_clear(items, message):
    with pytest.raises(ConfigError, match=message):
        parse_grid(items)


def test_expand_is_the_product_times_seeds_with_stable_distinct_ids():
    specs = expand("csbm", ModelConfig(), TrainConfig(), parse_grid(["depth=4,16", "init=glorot,gnn_he"]), [0, 1, 2])
    assert len(specs) == 12 and len({s.run_id for s in specs}) == 12
    again = expand("csbm", ModelConfig(), TrainConfig(), parse_grid(["depth=4,16", "init=glorot,gnn_he"]), [0, 1, 2])
    assert [s.run_id for s in specs] == [s.run_id for s in again]
    assert {(s.model.depth, s.model.init, s.train.seed) for s in specs} == {
        (d, i, seed) for d in (4, 16) for i in ("glorot", "gnn_he") for seed in (0, 1, 2)}


def test_features_are_fixed_for_a_sweep_or_varied_by_its_grid():
    fixed = expand("csbm", ModelConfig(), TrainConfig(), {}, [0, 1], features="protocol")
    assert {s.features for s in fixed} == {"protocol"}
    varied = expand("csbm", ModelConfig(), TrainConfig(), parse_grid(["features=raw,protocol"]), [0])
    assert sorted(s.features for s in varied) == ["protocol", "raw"] and len({s.run_id for s in varied}) == 2
    assert varied[0].run_id == expand("csbm", ModelConfig(), TrainConfig(), {}, [0])[0].run_id  # raw: ids as before
    with pytest.raises(ConfigError, match="features must be one of"):
        parse_grid(["features=scaled"])


def test_impossible_cells_fail_before_running():
    with pytest.raises(ConfigError, match=r"grid cell \{'init': 'fixup'\}.*residual=plain or fixup"):
        expand("csbm", ModelConfig(residual="none"), TrainConfig(), parse_grid(["init=fixup"]), [0])


def test_yaml_grid_file(tmp_path):
    path = tmp_path / "sweep.yaml"
    path.write_text("fixed: {epochs: 20}\ngrid:\n  depth: [4, 8]\n  init: glorot\nseeds: 4\n")
    assert load_grid_file(path) == ({"epochs": 20}, {"depth": [4, 8], "init": ["glorot"]}, 4)
    path.write_text("grids: {}\n")
    with pytest.raises(ConfigError, match="unknown top-level keys"):
        load_grid_file(path)


@pytest.mark.parametrize("text, match", [
    (None, "cannot read the sweep file .*missing.yaml"),
    ("grid: [unclosed\n", "not valid YAML at line 2, column 1"),
    ("- depth\n- width\n", "must be a mapping"),
])
def test_a_missing_or_malformed_sweep_file_is_one_error_naming_it(tmp_path, text, match):
    path = tmp_path / "missing.yaml"
    if text is not None:
        path.write_text(text)
    with pytest.raises(ConfigError, match=match):
        load_grid_file(path)


def test_run_ids_keep_their_meaning_when_the_norm_bound_default_changed():
    """Ids made when spectral was the default still mean spectral; a bound no norm uses is no part of an id."""
    train = TrainConfig(epochs=5)
    spectral = RunSpec("cora", ModelConfig(norm="weight", norm_bound="spectral"), train)
    frobenius = RunSpec("cora", ModelConfig(norm="weight", norm_bound="frobenius"), train)
    assert spectral.run_id == "7e3ea03cb2de"  # its id before the default changed (computed at eb1714f)
    assert frobenius.run_id != spectral.run_id
    unbounded = {RunSpec("cora", ModelConfig(norm="none", norm_bound=b), train).run_id for b in ("spectral", "frobenius")}
    assert len(unbounded) == 1


def test_a_partitioned_run_in_a_sweep_is_refused_not_trained_full_batch():
    """Sweep runs train full-batch; ``partitions`` must not be silently ignored there."""
    from fathom.config import ConfigError, ModelConfig, TrainConfig
    from fathom.sweep import RunSpec

    with pytest.raises(ConfigError, match="partitions=4: sweep runs train full-batch"):
        RunSpec("karate", ModelConfig(depth=2, width=8), TrainConfig(partitions=4))


def test_a_readout_keys_a_graph_datasets_run_and_is_refused_on_a_node_dataset():
    from fathom.config import ConfigError, ModelConfig, TrainConfig
    from fathom.sweep import RunSpec

    mean, total = (RunSpec("mutag", ModelConfig(depth=2), TrainConfig(readout=r), split=0) for r in ("mean", "sum"))
    assert mean.run_id != total.run_id
    with pytest.raises(ConfigError, match="readout=mean: graph-classification settings; karate is a node-classification"):
        RunSpec("karate", ModelConfig(depth=2), TrainConfig(readout="mean"))


def test_a_batch_size_keys_a_graph_datasets_run_keeps_older_ids_and_is_refused_on_a_node_dataset():
    from fathom.config import ConfigError, ModelConfig, TrainConfig
    from fathom.sweep import RunSpec

    large, default, before = (RunSpec("mutag", ModelConfig(depth=2), train, split=0)
                              for train in (TrainConfig(batch_size=128), TrainConfig(batch_size=32), TrainConfig()))
    assert large.run_id != default.run_id and default.run_id == before.run_id
    with pytest.raises(ConfigError, match="batch_size=128: graph-classification settings; karate is a node-classification"):
        RunSpec("karate", ModelConfig(depth=2), TrainConfig(batch_size=128))
    with pytest.raises(ConfigError, match="readout=mean, batch_size=8: graph-classification settings"):
        RunSpec("karate", ModelConfig(depth=2), TrainConfig(readout="mean", batch_size=8))


def test_the_split_is_part_of_the_run_id_so_splits_never_merge():
    ids = {RunSpec("chameleon", ModelConfig(), TrainConfig(), split=split).run_id for split in (None, 0, 1)}
    assert len(ids) == 3
    assert len(expand("chameleon", ModelConfig(), TrainConfig(), {"split": [0, 1]}, [0])) == 2
