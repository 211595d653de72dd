import dataclasses
import os
import shutil

import pytest
import torch

from fathom.data import (DATASETS, CorruptDatasetError, DatasetError, DatasetNotFoundError, InvalidGraphError,
                         describe, is_approximate, load_dataset, locate)


def test_karate_has_all_three_masks():
    data = load_dataset("karate")
    assert data.num_nodes == 34 and int(data.train_mask.sum()) == 4
    assert not bool((data.train_mask & data.test_mask).any())


def test_a_loaded_graph_declares_its_documented_class_count():
    assert load_dataset("karate").num_classes == 4
    assert load_dataset("csbm", num_nodes=40, num_classes=3).num_classes == 3  # the generator's own count


def test_a_broken_graph_is_refused_when_loaded(broken_graph_case, monkeypatch):
    case, graph, message = broken_graph_case
    spec = DATASETS["csbm"]
    monkeypatch.setitem(DATASETS, "csbm", dataclasses.replace(spec, builtin=lambda seed, **options: graph.clone()))
    if case == "label 99, count not declared":  # the registry declares the documented count
        message = rf"data\.y holds class label 99 but there are {spec.sizes.classes} classes \(data\.num_classes"
    with pytest.raises(InvalidGraphError, match=message):
        load_dataset("csbm")


def test_csbm_options_are_refused_for_other_datasets():
    with pytest.raises(ValueError, match="CSBM options"):
        load_dataset("karate", num_nodes=10)


def test_locate_accepts_a_family_folder_or_a_root_of_families(tmp_path):
    for raw in ("planetoid/Cora/raw", "wikipedia_network/squirrel/geom_gcn/raw", "actor/raw"):
        (tmp_path / raw).mkdir(parents=True)
        (tmp_path / raw / "file").write_bytes(b"")
    assert locate("cora", tmp_path) == tmp_path / "planetoid"
    assert locate("cora", tmp_path / "planetoid") == tmp_path / "planetoid"
    assert locate("squirrel", tmp_path) == tmp_path / "wikipedia_network"
    assert locate("squirrel", tmp_path / "wikipedia_network") == tmp_path / "wikipedia_network"
    assert locate("actor", tmp_path) == tmp_path / "actor"
    assert locate("actor", tmp_path / "actor") == tmp_path / "actor"
    assert locate("citeseer", tmp_path) is None and locate("chameleon", tmp_path) is None
    assert locate("csbm", tmp_path) is None


def test_a_missing_family_folder_names_the_folders_searched_and_the_fix(tmp_path, offline):
    with pytest.raises(DatasetNotFoundError) as caught:
        load_dataset("photo", tmp_path)
    message = str(caught.value)
    assert message.startswith(f"Photo is not under {tmp_path} (looked for {tmp_path}/Photo/raw/ and "
                              f"{tmp_path}/amazon/Photo/raw/)")
    assert "Point the data root" in message and "amazon/Photo/raw/" in message and "--" not in message
    assert isinstance(caught.value, (DatasetError, FileNotFoundError))


def test_absent_planetoid_offline_names_both_families_of_pubmed(tmp_path, offline):
    with pytest.raises(DatasetNotFoundError, match=r"planetoid/PubMed/raw/ and .*planetoid_approx/PubMed/raw/"):
        load_dataset("pubmed", tmp_path)


def test_a_truncated_raw_pickle_is_named_with_the_fix(copy_raw, tmp_path):
    raw = copy_raw("cora")
    victim = raw / "ind.cora.allx"
    victim.write_bytes(victim.read_bytes()[:1000])
    with pytest.raises(CorruptDatasetError) as caught:
        load_dataset("cora", tmp_path)
    message = str(caught.value)
    assert str(victim) in message and "truncated" in message and "restore it" in message
    assert "--" not in message


def test_a_truncated_npz_is_named(copy_raw, tmp_path):
    raw = copy_raw("cornell")
    victim = raw / "cornell_split_0.6_0.2_4.npz"
    victim.write_bytes(victim.read_bytes()[:100])
    with pytest.raises(CorruptDatasetError, match=f"cornell: {victim} is truncated"):
        load_dataset("cornell", tmp_path)


def test_a_truncated_processed_file_says_to_delete_processed(copy_raw, tmp_path):
    copy_raw("texas")
    load_dataset("texas", tmp_path)  # writes webkb/texas/processed/
    processed = tmp_path / "webkb" / "texas" / "processed"
    data_pt = processed / "data.pt"
    data_pt.write_bytes(data_pt.read_bytes()[:500])
    with pytest.raises(CorruptDatasetError, match=f"delete the folder {processed} and load again"):
        load_dataset("texas", tmp_path)
    shutil.rmtree(processed)
    assert load_dataset("texas", tmp_path).num_nodes == 183  # the advice works


def test_a_raw_folder_missing_a_file_names_it(copy_raw, tmp_path, offline):
    raw = copy_raw("wisconsin")
    (raw / "wisconsin_split_0.6_0.2_7.npz").unlink()
    with pytest.raises(DatasetNotFoundError, match=r"wisconsin: .*/wisconsin/raw lacks wisconsin_split_0.6_0.2_7.npz"):
        load_dataset("wisconsin", tmp_path)


def test_read_only_roots_are_mirrored_into_the_cache(copy_raw, tmp_path, monkeypatch):
    monkeypatch.setenv("FATHOM_CACHE", str(tmp_path / "cache"))
    raw = copy_raw("cornell")
    for path in (raw.parent, raw, *raw.iterdir()):  # read-only by its mode bits, as a shared tree is
        path.chmod(0o555 if path.is_dir() else 0o444)
    try:
        data = load_dataset("cornell", tmp_path, split=2)
        assert data.num_nodes == 183 and data.split == "geom-gcn:2"
        mirrored = list((tmp_path / "cache" / "mirror").glob("*/cornell/processed/data.pt"))
        assert mirrored and not (raw.parent / "processed").exists()
        assert load_dataset("cornell", tmp_path).num_nodes == 183  # second load: from the mirror
        victim = raw / "cornell_split_0.6_0.2_4.npz"  # the source changes: the mirror must follow
        victim.chmod(0o644)
        victim.write_bytes(victim.read_bytes()[:100])
        victim.chmod(0o444)
        with pytest.raises(CorruptDatasetError, match="cornell_split_0.6_0.2_4.npz is truncated"):
            load_dataset("cornell", tmp_path)
    finally:
        for path in (raw.parent, raw):
            path.chmod(0o755)


def test_pubmed_from_the_shared_root_is_labelled_approximate(shared_data_root, load_shared):
    data = load_shared("pubmed")
    assert data.approximate and describe(data).startswith("pubmed (approximate): 19717 nodes")
    assert is_approximate("pubmed", shared_data_root) and not is_approximate("cora", shared_data_root)
    assert not load_shared("cora").approximate


def test_features_are_raw_unless_normalised_or_the_protocol_asked_for(load_shared):
    assert load_shared("cora").x.sum(dim=1).max() > 1.0  # binary bag of words, as callers always got it
    assert load_shared("cora", normalize="protocol").x.sum(dim=1).max() <= 1.0 + 1e-5  # GCN's protocol
    assert load_shared("photo", normalize="protocol").x.sum(dim=1).max() > 1.0  # Shchur et al. leave Amazon raw
    assert torch.equal(load_shared("photo", normalize="protocol").x, load_shared("photo").x)
    raw, normalised = load_shared("citeseer").x, load_shared("citeseer", normalize="protocol").x
    empty = raw.sum(dim=1) == 0  # CiteSeer has nodes without features: they stay zero, never NaN
    assert empty.any() and not normalised.isnan().any() and (normalised[empty] == 0).all()
    torch.testing.assert_close(normalised[~empty].sum(dim=1), torch.ones(int((~empty).sum())))
    assert load_shared("photo", normalize=True).x.sum(dim=1).max() <= 1.0 + 1e-5
    with pytest.raises(ValueError, match="normalize must be True, False or 'protocol'"):
        load_dataset("karate", normalize="yes")


def test_describe_names_the_split(load_shared):
    assert "split geom-gcn:4, train/val/test" in describe(load_shared("cornell", split=4))


def test_no_message_names_a_command_line_flag():
    import fathom.data as data

    for module in ("datasets", "roots", "splits", "validate", "registry", "stats"):
        source = open(os.path.join(os.path.dirname(data.__file__), f"{module}.py")).read()
        assert "--data-root" not in source and '"--' not in source, module
