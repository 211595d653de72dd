from fathom.sweep import ResultStore


def test_rows_are_inserted_replaced_and_columns_unioned(tmp_path):
    store = ResultStore(tmp_path)
    store.add({"run_id": "a", "status": "failed", "reason": "boom"})
    store.add({"run_id": "b", "status": "ok", "reason": "", "final_train_loss": 0.5})
    assert store.finished_ids() == {"b"}
    store.add({"run_id": "a", "status": "diverged", "reason": "nan", "final_train_loss": float("nan")})
    rows = store.rows()
    assert [r["run_id"] for r in rows] == ["b", "a"] and rows[1]["status"] == "diverged"
    assert store.finished_ids() == {"a", "b"}
    assert list(store.frame().columns) == ["run_id", "status", "reason", "final_train_loss"]
    assert not list(tmp_path.glob(".results.csv.*"))  # no temporary files left behind
