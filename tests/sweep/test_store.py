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


def _add_rows(out: str, prefix: str, count: int) -> None:
    store = ResultStore(out)
    for i in range(count):
        store.add({"run_id": f"{prefix}{i}", "status": "ok", "reason": ""})


def test_two_processes_adding_rows_to_one_store_lose_none(tmp_path):
    import multiprocessing

    context = multiprocessing.get_context("spawn")
    writers = [context.Process(target=_add_rows, args=(str(tmp_path), prefix, 200)) for prefix in "ab"]
    for writer in writers:
        writer.start()
    for writer in writers:
        writer.join(60)
    assert [writer.exitcode for writer in writers] == [0, 0]
    assert len(ResultStore(tmp_path).finished_ids()) == 400
