"""The HTTP API: `passendezorg serve` started as a process on 127.0.0.1, called over HTTP with httpx.

Three servers per module: one with a SQLite database and an API key (everything), one with
neither (decisions only, read-only), and one on the first one's database with a short time
limit. Every answer is compared with what the library gives.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import shlex
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

httpx = pytest.importorskip("httpx", reason="the server tests need the dev extra (httpx)")
pytest.importorskip("fastapi", reason="the server tests need the serve extra")

from click.testing import CliRunner  # noqa: E402
from openapi_spec_validator import validate as validate_openapi  # noqa: E402

from passendezorg import Case, load_rules  # noqa: E402
from passendezorg.cases import iter_case_paths, read_case_file  # noqa: E402
from passendezorg.claims import ClaimProcessor  # noqa: E402
from passendezorg.cli import main  # noqa: E402
from passendezorg.model import Decision  # noqa: E402
from passendezorg.schema import case_schema  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
RULES = ROOT / "rules"
CASES = ROOT / "cases"
CLAIMS = CASES / "declaraties-2025.jsonl"
KEY = "test-key-0123456789abcdef"
TIMEOUT = 1.0  # the time limit of the hasty server, in seconds (the others keep the default: a busy machine is slow)
MAX_BODY = 256 * 1024
MAX_LINES = 200
PROBLEM = "application/problem+json"
P = "urn:passendezorg:problem:"


class Server:
    """A `passendezorg serve` process on a free port of 127.0.0.1, its log lines collected as they come."""

    def __init__(self, *args: str, env: dict[str, str] | None = None) -> None:
        script = Path(sys.executable).with_name("passendezorg")
        cmd = [str(script)] if script.exists() else [sys.executable, "-c", "from passendezorg.cli import main; main()"]
        self.proc = subprocess.Popen([*cmd, "serve", "--port", "0", "--rules", str(RULES), *args],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                                     env={**os.environ, **(env or {})})
        self.log: list[str] = []
        self.url = ""
        self._found = threading.Event()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            self.log.append(line)
            m = re.search(r"running on (http://127\.0\.0\.1:\d+)", line)
            if m:
                self.url = m.group(1)
                self._found.set()
        self._found.set()

    def wait(self) -> None:
        self._found.wait(60)
        assert self.url, "the server did not start:\n" + "".join(self.log)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if httpx.get(self.url + "/readyz").status_code == 200:
                return
            time.sleep(0.05)
        raise AssertionError("the server did not become ready")

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self._reader.join(10)
        assert self.proc.stderr is not None
        self.proc.stderr.close()


@pytest.fixture(scope="module")
def servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Server, Server, Path, Server]]:
    db = tmp_path_factory.mktemp("server") / "claims.db"
    full = Server("--db", f"sqlite:///{db}", "--max-body-bytes", str(MAX_BODY), "--max-batch-lines", str(MAX_LINES),
                  env={"PASSENDEZORG_API_KEY": KEY})
    bare = Server(env={"PASSENDEZORG_API_KEY": "", "PASSENDEZORG_DB": ""})
    hasty = Server("--db", f"sqlite:///{db}", "--timeout", str(TIMEOUT), env={"PASSENDEZORG_API_KEY": KEY})
    try:
        for server in (full, bare, hasty):
            server.wait()
        yield full, bare, db, hasty
    finally:
        for server in (full, bare, hasty):
            server.stop()


@pytest.fixture(scope="module")
def api(servers: tuple[Server, Server, Path, Server]) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=servers[0].url, timeout=30) as client:
        yield client


@pytest.fixture(scope="module")
def bare(servers: tuple[Server, Server, Path, Server]) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=servers[1].url, timeout=30) as client:
        yield client


@pytest.fixture(scope="module")
def book() -> Any:
    return load_rules(RULES)


def case_body(case: Case) -> dict[str, Any]:
    body: dict[str, Any] = {"name": case.name, "input": json.loads(json.dumps(case.input, default=str))}
    if case.on is not None:
        body["on"] = case.on.isoformat()
    return body


def shipped_cases(book: Any) -> list[Case]:
    """The shipped worked cases that the rule book decides (every one of them, today)."""
    out = []
    for path in iter_case_paths([CASES]):
        case = read_case_file(path)
        book.evaluate(case)
        out.append(Case(case.input, case.name, on=case.on))
    return out


def problem(r: httpx.Response, status: int, kind: str | None) -> dict[str, Any]:
    """The problem detail of a response, checked: its status, media type, kind and request id."""
    assert r.status_code == status, r.text
    assert r.headers["content-type"] == PROBLEM
    body: dict[str, Any] = r.json()
    assert body["status"] == status
    assert body["type"] == (P + kind if kind else "about:blank")
    assert body["title"] and body["detail"]
    assert body["request_id"] == r.headers["x-request-id"]
    assert body["instance"] == r.request.url.path
    return body


FYSIO = {"verzekerde": {"geboortedatum": "2007-06-15"},
         "behandeling": {"datum": "2025-06-14", "soort": "fysiotherapie", "gedeclareerd_bedrag": "35.00",
                         "aandoening": "enkelblessure", "behandelnummer": 19}}


# ---------------------------------------------------------------- health, metadata, schemas, OpenAPI


def test_health_and_readiness(api: httpx.Client, bare: httpx.Client, book: Any) -> None:
    assert api.get("/healthz").json() == {"status": "ok"}
    assert api.get("/readyz").json() == {"status": "ready", "rulebook": book.content_hash, "database": "ok"}
    assert bare.get("/readyz").json() == {"status": "ready", "rulebook": book.content_hash,
                                          "database": "not configured"}


def test_rulebook_metadata_describes_the_loaded_rule_book(api: httpx.Client, book: Any) -> None:
    info = api.get("/v1/rulebook").json()
    p = book.program
    assert info["content_hash"] == book.content_hash and info["language"] == "nederlands"
    assert info["peildatum"] == "behandeling.datum"
    assert [o["name"] for o in info["outputs"]] == list(book.outputs)
    assert {o["name"]: o["type"] for o in info["outputs"]}["vergoeding"] == "money"
    assert sorted(r["name"] for r in info["rules"]) == sorted(p.rules)
    rule = next(r for r in info["rules"] if r["name"] == "fysio_kind_na_18_behandelingen")
    assert rule["decides"] == p.rules[rule["name"]].target and rule["title"] == p.rules[rule["name"]].title
    assert rule["sources"] and rule["file"].endswith(".pz") and rule["line"] > 0
    assert sorted(i["name"] for i in info["inputs"]) == sorted(p.inputs)
    assert sorted(x["name"] for x in info["parameters"]) == sorted(p.parameters)
    assert sorted(t["name"] for t in info["tables"]) == sorted(p.tables)
    assert [x["name"] for x in info["scenarios"]] == [x.name for x in book.scenarios()] and info["scenario"] is None
    assert "eerstelijnstarief" in [x["name"] for x in info["scenarios"]]
    under = api.get("/v1/rulebook", params={"scenario": "eerstelijnstarief"}).json()
    assert under["content_hash"] == book.with_scenario("eerstelijnstarief").content_hash != book.content_hash
    assert under["scenario"]["name"] == "eerstelijnstarief" and under["scenario"]["sources"]
    assert under["scenarios"] == []


def test_evaluate_under_a_scenario_only_when_asked(api: httpx.Client, book: Any) -> None:
    """The law in force by default; a proposal's effect only under the scenario the request names."""
    case = read_case_file(ROOT / "cases" / "juiste_plek" / "varices-in-ziekenhuis-1-januari-2025.yaml")
    law = api.post("/v1/evaluate", json=case_body(case))
    assert law.text == book.evaluate(case).to_json() and "scenario" not in law.json()
    under = api.post("/v1/evaluate", params={"scenario": "eerstelijnstarief"}, json=case_body(case))
    assert under.status_code == 200, under.text
    assert under.text == book.with_scenario("eerstelijnstarief").evaluate(case).to_json()
    decision = under.json()
    assert decision["scenario"]["name"] == "eerstelijnstarief" and decision["outputs"]["tarief"]["value"] == "24.85"
    assert law.json()["outputs"]["tarief"]["value"] != "24.85"
    batch = api.post("/v1/evaluate/batch", params={"scenario": "eerstelijnstarief"},
                     content=json.dumps(case_body(case)) + "\n", headers={"content-type": "application/x-ndjson"})
    assert json.loads(batch.text.splitlines()[0])["values"]["tarief"] == "24.85"
    missing = problem(api.post("/v1/evaluate", params={"scenario": "eerstelijnstarif"}, json=case_body(case)), 404,
                      "unknown-scenario")
    assert "eerstelijnstarief" in missing["detail"]


def test_schemas_are_the_libraries(api: httpx.Client, book: Any) -> None:
    assert api.get("/v1/schemas/case").json() == json.loads(json.dumps(case_schema(book)))
    assert api.get("/v1/schemas/decision").json() == json.loads(json.dumps(Decision.model_json_schema()))


def test_the_openapi_document_is_valid_and_describes_every_endpoint(api: httpx.Client, book: Any,
                                                                     tmp_path: Path) -> None:
    doc = api.get("/openapi.json").json()
    validate_openapi(doc)
    assert doc["openapi"].startswith("3.")
    operations = {f"{m.upper()} {p}" for p, ops in doc["paths"].items() for m in ops}
    assert operations == {
        "POST /v1/evaluate", "POST /v1/evaluate/batch", "POST /v1/rules/{rule}/why-not", "GET /v1/rulebook",
        "GET /v1/schemas/case", "GET /v1/schemas/decision", "POST /v1/claims", "POST /v1/claims/batch",
        "GET /v1/claims/{claim_id}", "PUT /v1/claims/{claim_id}", "POST /v1/claims/{claim_id}/withdrawal",
        "GET /v1/receipts/{receipt_id}", "GET /v1/receipts/{receipt_id}/replay", "GET /v1/ledger/{insured_id}",
        "GET /healthz", "GET /readyz"}
    schemas = doc["components"]["schemas"]
    # the case input is the rule book's own: its inputs, nested
    assert schemas["CaseInput"]["properties"]["behandeling"]["properties"]["behandelnummer"]["type"] == [
        "integer", "null"]
    assert "eigen_risico_verbruikt" not in schemas["ClaimInput"]["properties"]["verzekerde"]["properties"]
    assert "verzekerde.eigen_risico_verbruikt" not in schemas["ClaimInput"]["properties"]
    assert "verzekerde.eigen_risico_verbruikt" in schemas["CaseInput"]["properties"]
    # every error answer is a problem detail
    for ops in doc["paths"].values():
        for op in ops.values():
            for status, response in op["responses"].items():
                if status[0] in "45":
                    assert list(response["content"]) == [PROBLEM], (op["operationId"], status)
    assert {"HTTPBearer", "APIKeyHeader"} <= set(doc["components"]["securitySchemes"])
    # `serve --openapi FILE` writes the same document without serving
    out = tmp_path / "openapi.json"
    result = CliRunner().invoke(main, ["serve", "--rules", str(RULES), "--openapi", str(out)])
    assert result.exit_code == 0, result.output
    assert json.loads(out.read_text(encoding="utf-8")) == doc


# ---------------------------------------------------------------- evaluate, why-not


def test_evaluate_gives_the_librarys_decision_byte_for_byte(api: httpx.Client, book: Any) -> None:
    cases = shipped_cases(book)
    assert len(cases) > 100
    for case in cases:
        r = api.post("/v1/evaluate", json=case_body(case))
        assert r.status_code == 200, r.text
        assert r.headers["content-type"] == "application/json"
        assert r.text == book.evaluate(case).to_json(), case.name
    on = api.post("/v1/evaluate", json={"input": FYSIO, "on": "2025-06-15"}).json()
    assert on["peildatum"] == "2025-06-15" and on["case"] is None


def test_evaluate_bad_input_is_a_problem_with_the_field_path(api: httpx.Client) -> None:
    bad = {**FYSIO, "behandeling": {**FYSIO["behandeling"], "behandelnummer": "negentien"}}
    body = problem(api.post("/v1/evaluate", json={"input": bad}), 422, "invalid-case")
    assert body["errors"] == [{"field": "input.behandeling.behandelnummer",
                               "message": 'expected an integer, got "negentien"'}]
    unknown = {**FYSIO, "behandeling": {**FYSIO["behandeling"], "zitting": 3}}
    body = problem(api.post("/v1/evaluate", json={"input": unknown}), 422, "invalid-case")
    assert body["errors"][0]["field"] == "input.behandeling.zitting"
    assert "not an input of the rule book" in body["detail"]
    no_date = {**FYSIO, "behandeling": {k: v for k, v in FYSIO["behandeling"].items() if k != "datum"}}
    body = problem(api.post("/v1/evaluate", json={"input": no_date}), 422, "invalid-case")
    assert body["errors"][0]["field"] == "input.behandeling.datum" and "peildatum" in body["detail"]
    # the envelope: pydantic's errors, as a problem with each field's path
    body = problem(api.post("/v1/evaluate", json={"input": FYSIO, "on": 20250101, "naam": "x"}), 422,
                   "invalid-request")
    assert {e["field"] for e in body["errors"]} == {"on", "naam"}
    body = problem(api.post("/v1/evaluate", json={"name": "zonder feiten"}), 422, "invalid-request")
    assert body["errors"] == [{"field": "input", "message": "Field required"}]
    # not JSON, no JSON, wrong method, no such path
    body = problem(api.post("/v1/evaluate", content=b'{"input": {', headers={"content-type": "application/json"}),
                   400, "malformed-json")
    assert "not valid JSON" in body["detail"]
    problem(api.post("/v1/evaluate", content=json.dumps({"input": FYSIO})), 415, "unsupported-media-type")
    problem(api.post("/v1/evaluate", content=b"input=1", headers={"content-type": "text/plain"}), 415,
            "unsupported-media-type")
    r = api.delete("/v1/evaluate")
    problem(r, 405, None)
    assert r.headers["allow"] == "POST"
    assert "openapi.json" in problem(api.get("/v1/evaluatie"), 404, None)["detail"]


def test_why_not(api: httpx.Client, book: Any) -> None:
    adult = {**FYSIO, "verzekerde": {"geboortedatum": "1980-01-01"}}
    r = api.post("/v1/rules/fysio_kind_na_18_behandelingen/why-not", json={"name": "volwassen", "input": adult})
    assert r.status_code == 200, r.text
    assert r.json() == json.loads(book.why_not_answer("fysio_kind_na_18_behandelingen",
                                                      {"name": "volwassen", "input": adult}).to_json())
    assert (r.json()["rule"], r.json()["case"], r.json()["peildatum"]) == (
        "fysio_kind_na_18_behandelingen", "volwassen", "2025-06-14")
    assert r.json()["answer"] == book.why_not("fysio_kind_na_18_behandelingen", adult)
    assert r.json()["reasons"][0]["kind"] == "condition_false"
    assert "leeftijd" in r.json()["answer"]
    body = problem(api.post("/v1/rules/fysio_kind_na_18/why-not", json={"input": adult}), 404, "unknown-rule")
    assert "no rule named `fysio_kind_na_18`" in body["detail"] and "fysio_kind_na_18_behandelingen" in body["detail"]
    bad = {**adult, "behandeling": {**adult["behandeling"], "datum": "2025-02-30"}}
    body = problem(api.post("/v1/rules/fysio_kind_na_18_behandelingen/why-not", json={"input": bad}), 422,
                   "invalid-case")
    assert body["errors"][0]["field"] == "input.behandeling.datum"


# ---------------------------------------------------------------- batches


def jsonl(records: list[Any]) -> bytes:
    return b"".join((r if isinstance(r, bytes) else json.dumps(r).encode()) + b"\n" for r in records)


def test_batch_streams_one_line_per_case_and_reports_bad_lines(api: httpx.Client, book: Any) -> None:
    cases = shipped_cases(book)[:40]
    records: list[Any] = [{"name": c.name, "input": case_body(c)["input"]} for c in cases]
    records.insert(3, b"{niet json")
    records.insert(7, {"id": "plat", **FYSIO})  # the facts themselves, with an id
    records.insert(9, {"id": "fout", "behandeling": {"datum": "2025-01-01", "zitting": 2}})
    body = jsonl(records).replace(b"\n", b"\n\n", 1)  # an empty line: skipped, but counted in the line numbers
    r = api.post("/v1/evaluate/batch", content=body)
    assert r.status_code == 200 and r.headers["content-type"] == "application/x-ndjson"
    out = [json.loads(line) for line in r.text.splitlines()]
    assert len(out) == len(records)
    assert out[3] == {"format": "passendezorg.failure/1", "case": None, "line": 5,
                      "error": "line 5: not valid JSON (column 2): Expecting property name enclosed in double quotes"}
    assert out[9]["line"] == 11 and out[9]["case"] == "fout"
    assert out[9]["error"].startswith("line 11: input.behandeling.zitting: not an input of the rule book")
    fast = book.decide_many([{"input": case_body(c)["input"], "name": c.name} for c in cases])
    decided = [o for k, o in enumerate(out) if k not in (3, 7, 9)]
    assert decided == [json.loads(f.to_json()) for f in fast]
    assert out[7] == {**json.loads(book.decide_many([FYSIO])[0].to_json()), "case": "plat"}
    assert out[7]["values"]["verzekerd"] is False
    # explained: the full decision per case, as `evaluate` gives it
    r = api.post("/v1/evaluate/batch", params={"explain": "true"}, content=jsonl([*records[:3], records[9]]))
    assert r.text.splitlines()[:3] == [book.evaluate(c).to_json() for c in cases[:3]]
    assert json.loads(r.text.splitlines()[3]) == {**out[9], "line": 4, "error": out[9]["error"].replace("11", "4", 1)}
    r = api.post("/v1/evaluate/batch", params={"on": "2024-01-01"}, content=jsonl([{"id": "1", **FYSIO}]))
    assert json.loads(r.text)["values"] == json.loads(book.decide_many([FYSIO], on=dt.date(2024, 1, 1))[0].to_json())[
        "values"]
    problem(api.post("/v1/evaluate/batch", params={"on": "gisteren"}, content=b"{}\n"), 422, "invalid-request")


def test_limits_on_body_size_and_batch_size(api: httpx.Client) -> None:
    line = jsonl([{"id": "x", **FYSIO}])
    body = problem(api.post("/v1/evaluate/batch", content=line * (MAX_LINES + 1)), 413, "batch-too-large")
    assert f"{MAX_LINES + 1} lines" in body["detail"] and f"limit of {MAX_LINES}" in body["detail"]
    assert api.post("/v1/evaluate/batch", content=line * MAX_LINES).text.count("\n") == MAX_LINES
    big = b'{"input": {"x": "' + b"a" * MAX_BODY + b'"}}'
    body = problem(api.post("/v1/evaluate", content=big, headers={"content-type": "application/json"}), 413,
                   "body-too-large")
    assert f"limit of {MAX_BODY} bytes" in body["detail"]

    def chunks() -> Iterator[bytes]:  # no Content-Length: the limit is found while the body arrives
        for _ in range(8):
            yield line * (MAX_BODY // len(line) // 4)

    problem(api.post("/v1/evaluate/batch", content=chunks()), 413, "body-too-large")


def test_concurrent_requests_give_the_librarys_answers(api: httpx.Client, book: Any) -> None:
    cases = shipped_cases(book)[:50]
    start = threading.Barrier(len(cases))

    def call(case: Case) -> tuple[int, str]:
        start.wait()
        r = api.post("/v1/evaluate", json=case_body(case))
        return r.status_code, r.text

    with ThreadPoolExecutor(len(cases)) as pool:
        answers = list(pool.map(call, cases))
    assert answers == [(200, book.evaluate(c).to_json()) for c in cases]

    def why(case: Case) -> str:
        return str(api.post("/v1/rules/fysio_kind_na_18_behandelingen/why-not", json=case_body(case)).json()["answer"])

    with ThreadPoolExecutor(16) as pool:
        assert list(pool.map(why, cases)) == [book.why_not("fysio_kind_na_18_behandelingen", c) for c in cases]


# ---------------------------------------------------------------- claims, receipts, ledger


def claims_file() -> list[dict[str, Any]]:
    return [json.loads(line) for line in CLAIMS.read_text(encoding="utf-8").splitlines() if line.strip()]


def test_writes_need_the_api_key(api: httpx.Client, bare: httpx.Client) -> None:
    claim = claims_file()[0]
    r = api.post("/v1/claims", json=claim)
    problem(r, 401, "unauthorized")
    assert r.headers["www-authenticate"].startswith("Bearer")
    problem(api.post("/v1/claims", json=claim, headers={"Authorization": "Bearer " + KEY[:-1] + "x"}), 401,
            "unauthorized")
    problem(api.post("/v1/claims", json=claim, headers={"X-API-Key": "wrong"}), 401, "unauthorized")
    problem(api.post("/v1/claims/batch", content=jsonl([claim])), 401, "unauthorized")
    # without a key the service is read-only; without a database it keeps no claims
    body = problem(bare.get("/v1/receipts/1"), 404, "no-database")
    assert "--db" in body["detail"]
    problem(bare.get("/v1/ledger/V-1001"), 404, "no-database")
    for r in (bare.post("/v1/claims", json=claim, headers={"Authorization": "Bearer " + KEY}),
              bare.post("/v1/claims/batch", content=jsonl([claim])),
              bare.post("/v1/claims/V-1/withdrawal"), bare.put("/v1/claims/V-1", json=claim)):
        assert "$PASSENDEZORG_API_KEY" in problem(r, 403, "read-only")["detail"]


def test_claims_receipts_and_ledger_match_the_library(api: httpx.Client, tmp_path: Path, book: Any,
                                                      servers: tuple[Server, Server, Path, Server]) -> None:
    auth = {"Authorization": "Bearer " + KEY}
    claims = claims_file()
    # the oracle: the same claims through the library, on a database of its own
    with ClaimProcessor(book, f"sqlite:///{tmp_path / 'oracle.db'}") as oracle:
        expected = [oracle.process(c) for c in claims]
        ledger = oracle.store.ledger("V-1001")

    first = api.post("/v1/claims", json=claims[0], headers=auth)
    assert first.status_code == 201, first.text
    receipt = first.json()
    assert first.headers["location"] == f"/v1/receipts/{receipt['id']}"
    assert (receipt["deduction"], receipt["payout"]) == (str(expected[0].deduction), str(expected[0].payout))
    assert receipt["decision"] == json.loads(expected[0].explanation or "")
    again = api.post("/v1/claims", json=claims[0], headers={"X-API-Key": KEY})
    assert again.status_code == 200 and again.json()["id"] == receipt["id"]
    assert api.get(f"/v1/receipts/{receipt['id']}").json() == receipt

    lines = jsonl([*claims[1:4], b"{kapot", {"claim_id": "X-1", "insured_id": "V-9", "input": {"behandeling": {
        "datum": "2025-01-01", "zitting": 1}}}, *claims[4:], {"claim_id": "X-2", "insured_id": "V-9"}])
    r = api.post("/v1/claims/batch", content=lines, headers=auth)
    assert r.status_code == 200 and r.headers["content-type"] == "application/x-ndjson"
    out = [json.loads(x) for x in r.text.splitlines()]
    assert [o["line"] for o in out] == list(range(1, len(claims) + 3))
    good = [o for o in out if o["status"] == "recorded"]
    assert [(o["claim_id"], o["deduction"], o["payout"]) for o in good] == [
        (e.claim_id, str(e.deduction), str(e.payout)) for e in expected[1:]]
    rejected = [o for o in out if o["status"] == "rejected"]
    assert [(o["line"], o["claim_id"]) for o in rejected] == [(4, None), (5, "X-1"), (len(claims) + 2, "X-2")]
    assert rejected[0]["reason"].startswith("not valid JSON")
    assert rejected[1]["reason"].startswith("input.behandeling.zitting: not an input of the rule book")
    assert rejected[2]["reason"] == "the claim has no input"

    led = api.get("/v1/ledger/V-1001", params={"year": 2025}).json()
    assert [(e["claim_id"], e["amount"]) for e in led["entries"]] == [(e.claim_id, str(e.amount)) for e in ledger]
    assert led["used"] == {"2025": str(sum(e.amount for e in ledger))}
    assert api.get("/v1/ledger/V-1001", params={"year": 2024}).json()["entries"] == []
    problem(api.get("/v1/ledger/V-1001", params={"year": "vorig"}), 422, "invalid-request")

    replay = api.get(f"/v1/receipts/{receipt['id']}/replay").json()
    assert replay["reproduced"] is True and replay["differences"] == []

    # a correction, then a withdrawal: new receipts, the ledger compensated
    claim = claims[1]
    corrected = {**claim, "input": {**claim["input"], "behandeling": {**claim["input"]["behandeling"],
                                                                       "gedeclareerd_bedrag": "100.00"}}}
    problem(api.put("/v1/claims/ANDERS", json=corrected, headers=auth), 422, "invalid-request")
    problem(api.put("/v1/claims/NOOIT", json={**corrected, "claim_id": "NOOIT"}, headers=auth), 404, "unknown-claim")
    r = api.put(f"/v1/claims/{claim['claim_id']}", json=corrected, headers=auth)
    assert r.status_code == 201 and r.json()["kind"] == "correction" and r.json()["seq"] == 2
    assert api.put(f"/v1/claims/{claim['claim_id']}", json=corrected, headers=auth).status_code == 200
    r = api.post(f"/v1/claims/{claim['claim_id']}/withdrawal", json={"reason": "dubbel ingediend"}, headers=auth)
    assert r.status_code == 201 and r.json()["kind"] == "withdrawal" and r.json()["reason"] == "dubbel ingediend"
    assert api.post(f"/v1/claims/{claim['claim_id']}/withdrawal", headers=auth).status_code == 200
    chain = api.get(f"/v1/claims/{claim['claim_id']}").json()
    assert [x["kind"] for x in chain] == ["decision", "correction", "withdrawal"]
    problem(api.get(f"/v1/receipts/{chain[-1]['id']}/replay"), 422, "not-replayable")
    ledger_after = api.get(f"/v1/ledger/{claim['insured_id']}").json()
    assert sum(float(e["amount"]) for e in ledger_after["entries"] if e["claim_id"] == claim["claim_id"]) == 0

    # rejected and missing
    other = {**claims[0], "input": {**claims[0]["input"], "behandeling": {**claims[0]["input"]["behandeling"],
                                                                          "datum": "2025-03-02"}}}
    body = problem(api.post("/v1/claims", json=other, headers=auth), 422, "claim-rejected")
    assert "decided before with other facts" in body["detail"]
    bad = {**claims[0], "claim_id": "Y-1", "input": {"behandeling": {"datum": "2025-01-01", "soort": "fysio"}}}
    body = problem(api.post("/v1/claims", json=bad, headers=auth), 422, "invalid-case")
    assert body["errors"][0]["field"] == "input.behandeling.soort"
    problem(api.post("/v1/claims", json={"claim_id": True, "insured_id": "V", "input": {}}, headers=auth), 422,
            "invalid-request")
    problem(api.get("/v1/receipts/99999"), 404, "unknown-receipt")
    problem(api.get("/v1/receipts/99999/replay"), 404, "unknown-receipt")
    problem(api.get("/v1/claims/NOOIT"), 404, "unknown-claim")
    problem(api.get("/v1/receipts/een"), 422, "invalid-request")


def test_the_time_limit_answers_504_and_ends_a_stream_with_what_is_left(api: httpx.Client,
                                                                         servers: tuple[Server, Server, Path, Server]) -> None:
    """A database that keeps a lock longer than the time limit: the request is answered, not left hanging."""
    db = servers[2]
    hasty = httpx.Client(base_url=servers[3].url, timeout=30)
    auth = {"Authorization": "Bearer " + KEY}
    base = claims_file()[0]

    def claim(n: int) -> dict[str, Any]:
        return {**base, "claim_id": f"T-{n}", "insured_id": f"T-{n % 3}"}

    lock = sqlite3.connect(db, isolation_level=None, timeout=30, check_same_thread=False)
    lock.execute("BEGIN IMMEDIATE")
    release = threading.Timer(TIMEOUT + 0.5, lock.rollback)
    try:
        began = time.monotonic()
        body = problem(hasty.post("/v1/claims", json=claim(0), headers=auth), 504, "time-limit")
        assert TIMEOUT <= time.monotonic() - began < TIMEOUT + 5
        assert f"time limit of {TIMEOUT:g} s" in body["detail"]
        release.start()  # while the batch waits for its first transaction
        r = hasty.post("/v1/claims/batch", content=jsonl([claim(n) for n in range(1, 31)]), headers=auth)
    finally:
        hasty.close()
        if release.is_alive():
            release.join()
        if lock.in_transaction:
            lock.rollback()
        lock.close()
    out = [json.loads(x) for x in r.text.splitlines()]
    assert len(out) == 26, r.text
    assert [o["status"] for o in out[:25]] == ["recorded"] * 25  # the first transaction, done after the lock
    assert out[25:] == [{"format": "passendezorg.stopped/1", "line": 26,
                         "error": f"the time limit of {TIMEOUT:g} s was reached: line 26 and the lines after it were "
                                  "not done; send them again"}]
    again = api.post("/v1/claims/batch", content=jsonl([claim(n) for n in range(1, 31)]), headers=auth)
    assert [o["status"] for o in map(json.loads, again.text.splitlines())] == ["unchanged"] * 25 + ["recorded"] * 5
    # the claim whose request timed out is recorded when its transaction gets the lock; sending it again is safe
    deadline = time.monotonic() + 10
    while api.get("/v1/claims/T-0").status_code == 404 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert api.post("/v1/claims", json=claim(0), headers=auth).status_code == 200


# ---------------------------------------------------------------- logs and the command


def test_one_structured_log_record_per_request(api: httpx.Client, servers: tuple[Server, Server, Path, Server]) -> None:
    r = api.get("/v1/rulebook", headers={"X-Request-ID": "abc-123"})
    assert r.headers["x-request-id"] == "abc-123"
    assert api.get("/healthz", headers={"X-Request-ID": "no spaces allowed"}).headers["x-request-id"] != \
        "no spaces allowed"
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        records = [json.loads(line) for line in list(servers[0].log)]
        mine = [x for x in records if x.get("request_id") == "abc-123"]
        if mine:
            break
        time.sleep(0.05)
    assert len(mine) == 1
    assert mine[0]["method"] == "GET" and mine[0]["path"] == "/v1/rulebook" and mine[0]["status"] == 200
    assert mine[0]["level"] == "info" and mine[0]["logger"] == "passendezorg.server"
    assert isinstance(mine[0]["duration_ms"], float) and mine[0]["client"].startswith("127.0.0.1:")


def test_serve_says_what_to_install_without_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    import passendezorg.cli_serve as cli_serve

    real = cli_serve.find_spec
    monkeypatch.setattr(cli_serve, "find_spec", lambda name: None if name == "fastapi" else real(name))
    result = CliRunner().invoke(main, ["serve"])
    assert result.exit_code == 2
    assert 'needs fastapi, which is not installed: pip install "passendezorg[serve]"' in result.output
    assert "Traceback" not in result.output


def test_serve_refuses_bad_settings_before_it_listens(tmp_path: Path) -> None:
    runner = CliRunner()
    r = runner.invoke(main, ["serve", "--rules", str(tmp_path / "geen")])
    assert r.exit_code == 2 and "no such rule file or folder" in r.output
    r = runner.invoke(main, ["serve", "--rules", str(RULES)], env={"PASSENDEZORG_API_KEY": "kort"})
    assert r.exit_code == 2 and "the API key is too short" in r.output
    r = runner.invoke(main, ["serve", "--rules", str(RULES), "--timeout", "0"])
    assert r.exit_code == 2 and "--timeout" in r.output
    (tmp_path / "leeg").write_text("\n", encoding="utf-8")
    r = runner.invoke(main, ["serve", "--rules", str(RULES), "--api-key-file", str(tmp_path / "leeg")])
    assert r.exit_code == 2 and "the API key file is empty" in r.output
    for r in (runner.invoke(main, ["serve", "--rules", str(RULES), "--db", str(tmp_path / "nergens" / "x.db")]),):
        assert r.exit_code == 1 and "does not exist" in r.output
    from passendezorg.errors import UsageError
    from passendezorg.server import Settings

    with pytest.raises(UsageError, match=r"\$PASSENDEZORG_MAX_BATCH_LINES must be a whole number"):
        Settings.from_env({"PASSENDEZORG_MAX_BATCH_LINES": "veel"})
    assert Settings.from_env({"PASSENDEZORG_TIMEOUT": "2.5", "PASSENDEZORG_DB": "x.db"}).timeout == 2.5


# ---------------------------------------------------------------- the guide


GUIDE = ROOT / "docs" / "guide" / "service.md"
BLOCK = re.compile(r"^```(?P<info>[^\n`]*)\n(?P<body>.*?)^```[ \t]*$", re.M | re.S)


def curl(command: str, client: httpx.Client, url: str, workspace: Path) -> str:
    """The answer to a `curl` command of the guide, sent with httpx: -s, -X, -H, -d, --data-binary [@FILE], URL."""
    args = iter(shlex.split(command.replace("$PASSENDEZORG_API_KEY", KEY)))
    assert next(args) == "curl"
    method, target, headers, data = None, "", {}, None
    for arg in args:
        if arg == "-s":
            continue
        if arg == "-X":
            method = next(args)
        elif arg == "-H":
            name, _, value = next(args).partition(":")
            headers[name.strip()] = value.strip()
        elif arg in ("-d", "--data-binary"):
            value = next(args)
            data = (workspace / value[1:]).read_bytes() if value.startswith("@") else value.encode()
        else:
            target = arg.replace("http://127.0.0.1:8000", url)
    return client.request(method or ("POST" if data is not None else "GET"), target, headers=headers,
                          content=data).text


def test_the_guides_examples_give_the_answers_it_shows(api: httpx.Client, servers: tuple[Server, Server, Path, Server],
                                                         tmp_path: Path) -> None:
    """Each `$ curl` line of docs/guide/service.md, against the server; `…` in a shown answer stands for anything."""
    ran = 0
    for block in BLOCK.finditer(GUIDE.read_text(encoding="utf-8")):
        info, body = block["info"], block["body"]
        title = re.search(r'title="([^"]+)"', info)
        if title:
            (tmp_path / title.group(1)).write_text(body, encoding="utf-8")
            continue
        if not info.startswith("console"):
            continue
        for step in re.split(r"^\$ ", body, flags=re.M)[1:]:
            command, *shown = step.rstrip("\n").split("\n")
            answer = curl(command, api, servers[0].url, tmp_path)
            got = [json.dumps(json.loads(line), ensure_ascii=False) for line in answer.splitlines()]
            assert len(got) == len(shown), (command, answer)
            for want, line in zip(shown, got):
                pattern = ".*?".join(re.escape(part) for part in want.split("…"))
                assert re.fullmatch(pattern, line, re.S), f"{command}\nshown: {want}\n  got: {line}"
            ran += 1
    assert ran >= 5


def test_a_database_failure_is_a_503_problem(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """In-process (the failure is made by replacing a store method): the client gets a 503, not a 500."""
    import asyncio

    import sqlalchemy.exc

    from passendezorg.server import Settings, create_app
    from passendezorg.store import Store

    def down(*args: object) -> None:
        raise sqlalchemy.exc.OperationalError("SELECT", {}, Exception("database is locked"))

    monkeypatch.setattr(Store, "receipt", down)
    app = create_app(Settings(rules=RULES, db=f"sqlite:///{tmp_path / 'claims.db'}"))

    async def get() -> httpx.Response:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as client:
            return await client.get("/v1/receipts/1")

    try:
        r = asyncio.run(get())
    finally:
        app.state.service.close()
    body = problem(r, 503, "database-unavailable")
    assert body["detail"] == "the database failed: database is locked; try again later"
