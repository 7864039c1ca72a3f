"""``vmevalkit annotate`` without a browser: the plan of items, the JSON API's rules, the command's errors, and
labels of several annotators feeding ``evaluate-scorers`` (agreement between people, the ceiling line).

The app is the real ASGI app driven in-process (``fastapi.testclient``); the browser tests
(tests/test_annotate_browser.py) drive the real server.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from annotated_experiment import Experiment, make_experiment
from conftest import cli_env, run_score

from vmevalkit.annotate.app import create_app
from vmevalkit.annotate.items import Item, plan_items
from vmevalkit.annotate.store import Session
from vmevalkit.cli.main import main
from vmevalkit.scoring.meta_eval.labels import read_labels
from vmevalkit.scoring.metrics import cohen_kappa

testclient = pytest.importorskip("fastapi.testclient", reason="pip install -e '.[test]' installs fastapi")

MODELS = ("oracle-solution", "static-first-frame", "shortcut-cut")
HOST = {"Host": "127.0.0.1"}


@pytest.fixture(scope="module")
def experiment(tmp_path_factory: pytest.TempPathFactory) -> Experiment:
    return make_experiment(tmp_path_factory.mktemp("annotate-api"), MODELS, per_domain=1)


@pytest.fixture
def copy(experiment: Experiment, tmp_path: Path) -> Experiment:
    """A private copy of the experiment: these tests write annotation files into it."""
    import shutil

    shutil.copytree(experiment.out, tmp_path / "out", symlinks=True)
    return Experiment(tmp_path, tmp_path / "out")


@pytest.fixture
def client_for(copy: Experiment) -> Iterator:
    sessions: list[Session] = []

    def make(annotator: str, mode: str = "rate", seed: int = 1, reveal: str = "after", token: str | None = None):
        items = plan_items(copy.folder, mode, seed)  # type: ignore[arg-type]
        session = Session(copy.folder, annotator, mode, seed, reveal, "task_success")  # type: ignore[arg-type]
        session.open({})
        sessions.append(session)
        return testclient.TestClient(create_app(session, items, token), headers=HOST), items, session

    yield make
    for session in sessions:
        session.close()


def keys(items: list[Item]) -> list[str]:
    return [item.key for item in items]


def test_the_order_is_seeded_and_stable_and_limit_gives_every_annotator_the_same_items(
    experiment: Experiment,
) -> None:
    one, again, two = (plan_items(experiment.folder, "rate", seed) for seed in (1, 1, 2))
    assert len(one) == 6 and keys(one) == keys(again) and keys(one) != keys(two)
    assert sorted(keys(one)) == sorted(keys(two))
    assert all(not any(model in item.id for model in MODELS) for item in one), "ids name no model"
    limited = [set(keys(plan_items(experiment.folder, "rate", seed, limit=3))) for seed in (1, 2, 3)]
    assert len(limited[0]) == 3 and limited[0] == limited[1] == limited[2], "the same 3 items for everyone"
    # new items interleave: dropping a model's items keeps the others in the same relative order
    fewer = plan_items(experiment.folder, "rate", 1, models=["oracle-solution", "static-first-frame"])
    assert keys(fewer) == [k for k in keys(one) if not k.startswith("shortcut-cut/")]

    pairs = plan_items(experiment.folder, "pairwise", 1)
    assert len(pairs) == 2 * 3, "two tasks, three models: three pairs each"
    for item in pairs:
        left, right = (g.split("/")[0] for g in item.generations)
        assert left != right and item.generations[0].split("/")[2] == item.generations[1].split("/")[2]
    sides = {item.key: item.generations for item in pairs}
    flipped = [
        k
        for k, item in ((i.key, i) for i in plan_items(experiment.folder, "pairwise", 2))
        if item.generations != sides[k]
    ]
    assert flipped, "which model is on the left depends on the seed"


def test_the_api_refuses_bad_judgments_and_double_submissions(client_for) -> None:
    client, items, session = client_for("erin")
    state = client.get("/api/state").json()
    item = state["item"]["id"]
    assert state["total"] == 6 and state["done"] == 0 and state["item"]["answer"] is None
    bad = [
        {"item": item, "success": 1, "process": 6},
        {"item": item, "success": 2, "process": 3},
        {"item": item, "success": "yes", "process": 3},
        {"item": item, "success": 1, "process": 3, "note": "x" * 2001},
        {"item": item, "success": 1, "process": 3, "extra": 1},
        {"item": item, "choice": "A"},  # a pairwise judgment in a rate session
    ]
    for body in bad:
        assert client.post("/api/label", json=body).status_code == 422, body
    assert client.post("/api/label", json={"item": "nope", "success": 1, "process": 3}).status_code == 404
    assert not session.labels_path.exists(), "nothing written for a refused judgment"

    assert client.get(f"/media/{item}/answer").status_code == 404
    assert client.post("/api/reveal", json={"item": item, "first": "x" * 100}).status_code == 422
    assert client.post("/api/reveal", json={"item": item, "first": 1}).json()["answer"] == f"/media/{item}/answer"
    assert client.get(f"/media/{item}/answer").status_code == 200
    good = {"item": item, "success": 1, "process": 3, "note": "fine"}
    after = client.post("/api/label", json=good)
    assert after.status_code == 200 and after.json()["done"] == 1 and after.json()["item"]["id"] != item
    assert client.post("/api/label", json=good).status_code == 409, "a second submission of the same item"
    upcoming = after.json()["item"]["id"]
    change = {"item": upcoming, "success": 0, "process": 2, "replace": True}
    assert client.post("/api/label", json=change).status_code == 409, "nothing to change on an unlabelled item"
    assert client.get(f"/api/state?item={upcoming}").json()["editing"] is False
    editing = client.get(f"/api/state?item={item}").json()
    assert editing["editing"] is True and editing["item"]["id"] == item and editing["done"] == 1
    assert client.post("/api/label", json={**good, "process": 4, "replace": True}).json()["done"] == 1
    assert [n.label.value for n in read_labels(session.labels_path)] == [1, 3, 1, 4], "a new line, the old kept"
    assert client.post("/api/label", content="{}", headers={"Content-Type": "text/plain"}).status_code == 415


def test_never_and_always_reveal(client_for) -> None:
    never, _, _ = client_for("fay", reveal="never")
    item = never.get("/api/state").json()["item"]
    assert item["has_answer"] is False
    assert never.post("/api/reveal", json={"item": item["id"], "first": 0}).json()["answer"] is None
    assert never.get(f"/media/{item['id']}/answer").status_code == 404
    always, _, session = client_for("gus", reveal="always")
    item = always.get("/api/state").json()["item"]
    assert item["answer"] == f"/media/{item['id']}/answer"
    assert always.get(item["answer"]).status_code == 200
    always.post("/api/label", json={"item": item["id"], "success": 0, "process": 1})
    (solved, _) = read_labels(session.labels_path)
    assert solved.label.source["reveal"] == "always" and solved.label.source["answer_shown"] is True


def annotate(*args: str, output_dir: Path) -> int:
    return main(["annotate", "--output-dir", str(output_dir), "--port", "0", *args])


def test_the_command_refuses_with_the_fix(copy: Experiment, client_for, capsys: pytest.CaptureFixture[str]) -> None:
    out = copy.out
    cases = [
        (("--annotator", "../alice"), "--annotator '../alice': use 1-64 letters"),
        (("--annotator", "a", "--experiment", "nothing"), "no experiment folder"),
        (("--annotator", "a", "--model", "nobody"), "--model nobody: no completed generation"),
        (("--annotator", "a", "--mode", "pairwise", "--model", "oracle-solution"), "use --mode rate"),
    ]
    for args, message in cases:
        assert annotate(*args, output_dir=out) == 2, args
        assert message in capsys.readouterr().err, args

    client_for("held", seed=5)  # a server of held's rate session is running: its lock is taken
    assert annotate("--annotator", "held", output_dir=out) == 2
    assert "another vmevalkit annotate is serving held's rate session" in capsys.readouterr().err
    assert annotate("--annotator", "held", "--mode", "rate", "--seed", "6", output_dir=out) == 2
    assert "recorded seed 5: resume with it" in capsys.readouterr().err

    bad = copy.folder / "annotations" / "ivy-rate.jsonl"
    bad.write_text('{"type": "rating"}\n', encoding="utf-8")
    assert annotate("--annotator", "ivy", output_dir=out) == 2
    assert "ivy-rate.jsonl:1: " in capsys.readouterr().err


def test_annotators_files_feed_evaluate_scorers_with_agreement_and_the_ceiling(
    copy: Experiment, client_for, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "200")  # the printed tables, unwrapped
    values = {}  # annotator -> generation -> (success, process)
    for annotator, flip in (("alice", None), ("bob", 2)):
        client, items, _ = client_for(annotator, seed=len(annotator))
        values[annotator] = {}
        for number in range(len(items)):
            item = client.get("/api/state").json()["item"]
            generation = next(i for i in items if i.id == item["id"]).generations[0]
            success = 1 if generation.startswith("oracle-solution/") else 0
            if number == flip:
                success = 1 - success  # bob disagrees once
            process = 5 if success else 1 + number % 3
            assert client.post(
                "/api/label", json={"item": item["id"], "success": success, "process": process}
            ).is_success
            values[annotator][generation] = (success, process)
        assert client.get("/api/state").json()["item"] is None

    scored = run_score("--scorer", "task-verifier", "--output-dir", str(copy.out), cwd=copy.root, env=cli_env())
    assert scored.returncode == 0, scored.stderr
    capsys.readouterr()
    folder = copy.folder / "annotations"
    result = main(
        [
            "evaluate-scorers",
            "--labels",
            str(folder),
            "--scorer",
            "task-verifier",
            "--output-dir",
            str(copy.out),
            "--resamples",
            "200",
        ]
    )
    assert result == 0
    printed = capsys.readouterr().out
    assert "people (ceiling)" in printed and "agreement between people" in printed and "cohen_kappa" in printed

    out = copy.folder / "meta_eval"
    with open(out / "meta_people.csv", newline="", encoding="utf-8") as fh:
        people = {row["human_dimension"]: row for row in csv.DictReader(fh)}
    generations = sorted(values["alice"])
    expected = cohen_kappa([values["alice"][g][0] for g in generations], [values["bob"][g][0] for g in generations])
    success = people["task_success"]
    assert (success["statistic"], success["raters"], success["items"]) == ("cohen_kappa", "2", "6")
    assert float(success["value"]) == pytest.approx(expected, abs=1e-6) and expected < 1
    assert people["process"]["level"] == "interval"
    with open(out / "meta_summary.csv", newline="", encoding="utf-8") as fh:
        summary = {(r["dimension"], r["human_dimension"]): r for r in csv.DictReader(fh)}
    row = summary[("task_success", "task_success")]
    assert row["ceiling_spearman"] != "" and float(row["ceiling_spearman"]) < 1.0, "bob's flip lowers the ceiling"
    meta = json.loads((out / "meta.json").read_text())
    assert sorted(f["file"] for f in meta["config"]["labels_files"]) == ["alice-rate.jsonl", "bob-rate.jsonl"]
    assert meta["labels"]["raters"] == ["alice", "bob"] and meta["people"]["ceiling"]
