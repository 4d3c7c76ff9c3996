"""The one writer of the mappings: provenance recorded, and kept across runs while the pair stands."""
from __future__ import annotations

import hashlib

import sqlalchemy as sa

from atera_qbo.staging import mappings
from atera_qbo.staging.mappings import Mapping, Method, OverridesFile, Provenance
from atera_qbo.staging.tables import map_customers, map_products

EXACT = Provenance(Method.EXACT)


def rows(engine: sa.Engine, tbl: sa.Table = map_customers) -> dict[str, dict]:
    with engine.connect() as conn:
        return {r.atera_id: r._asdict() for r in conn.execute(sa.select(tbl))}


def test_overrides_file_knows_its_hash_and_lines(tmp_path):
    path = tmp_path / "decisions.csv"
    path.write_bytes(b"entity,atera_id,qbo_id,action\ncustomer,8,58,match\n")
    source = OverridesFile.of(path, [("customer", "8", 2)])
    assert source.name == "decisions.csv" and source.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
    assert source.provenance("customer", "8") == Provenance(Method.OVERRIDE, "decisions.csv", source.sha256, 2)
    assert source.provenance("customer", "9") is None and source.provenance("product", "8") is None


def test_a_commit_records_how_each_mapping_came_to_be(engine):
    line = Provenance(Method.OVERRIDE, "o.csv", "ab" * 32, 4)
    counts = mappings.activate(engine, "plan-1", {
        "customer": [Mapping("1", "58", EXACT, "Contoso", "Contoso", "matched_exact"),
                     Mapping("2", "59", line, "Acme", "ACME, Inc.", "matched_override"),
                     Mapping("3", "60", Provenance(Method.CREATED, origin_plan_id="plan-1"), "New Co")],
        "product": [Mapping("rate:4", "7", Provenance(Method.CREATED, "o.csv", "ab" * 32, 9, "plan-1"))]})
    assert counts == {"customer": 3, "product": 1}
    got = rows(engine)
    assert (got["1"]["method"], got["1"]["override_file"], got["1"]["origin_plan_id"]) == ("exact", None, None)
    assert (got["2"]["method"], got["2"]["override_file"], got["2"]["override_line"]) == ("override", "o.csv", 4)
    assert (got["3"]["method"], got["3"]["origin_plan_id"]) == ("created", "plan-1")
    assert all(r["active"] and r["plan_id"] == "plan-1" and r["decided_at"] for r in got.values())
    product = rows(engine, map_products)["rate:4"]
    assert (product["method"], product["override_line"], product["origin_plan_id"]) == ("created", 9, "plan-1")


def test_a_later_run_that_finds_the_same_pair_keeps_its_history(engine):
    mappings.activate(engine, "plan-1", {"customer": [
        Mapping("3", "60", Provenance(Method.CREATED, origin_plan_id="plan-1"), "New Co", status="matched_override"),
        Mapping("2", "59", Provenance(Method.OVERRIDE, "o.csv", "ab" * 32, 4), "Acme")]})
    before = rows(engine)
    # the second run: the created customer now matches by name; the override came as a kept decision
    mappings.activate(engine, "plan-2", {"customer": [
        Mapping("3", "60", EXACT, "New Co", status="matched_exact"),
        Mapping("2", "59", Provenance(Method.OVERRIDE), "Acme", status="matched_override")]})
    after = rows(engine)
    for key in ("3", "2"):
        for col in mappings.PROVENANCE:
            assert after[key][col] == before[key][col], (key, col)
        assert after[key]["plan_id"] == "plan-2" and after[key]["active"]
    assert after["3"]["status"] == "matched_exact"  # what matching saw this time; how it came to be stays


def test_a_new_target_is_a_new_decision_and_dropped_mappings_stay_as_history(engine):
    mappings.activate(engine, "plan-1", {"customer": [
        Mapping("3", "60", Provenance(Method.CREATED, origin_plan_id="plan-1")), Mapping("1", "58", EXACT)]})
    mappings.activate(engine, "plan-2", {"customer": [Mapping("3", "61", Provenance(Method.OVERRIDE, "p.csv",
                                                                                     "cd" * 32, 7))]})
    got = rows(engine)
    assert (got["3"]["qbo_id"], got["3"]["method"], got["3"]["override_file"], got["3"]["origin_plan_id"]) == \
        ("61", "override", "p.csv", None)
    assert got["1"]["active"] is False and got["1"]["method"] == "exact"  # history, not in force
    # chosen again later: the same pair as before, so its old provenance comes back with it
    mappings.activate(engine, "plan-3", {"customer": [Mapping("1", "58", Provenance(Method.OVERRIDE))]})
    assert rows(engine)["1"]["method"] == "exact" and rows(engine)["1"]["active"] is True


def test_add_maps_one_customer_outside_a_commit(engine):
    mappings.add(engine, "customer", Mapping("5", "70", Provenance(Method.CREATED, origin_plan_id="export run-1"),
                                             "Solo", "Solo", "matched_override"))
    got = rows(engine)["5"]
    assert (got["method"], got["origin_plan_id"], got["plan_id"], got["active"]) == \
        ("created", "export run-1", None, True)
    with engine.connect() as conn:
        decided = mappings.active(conn, "customer", decided_only=True)
    assert [r.atera_id for r in decided] == ["5"]
    assert mappings.provenance_of(decided[0]).describe() == "created by export run-1"


def test_describe_says_where_a_decision_came_from():
    assert Provenance(Method.EXACT).describe() == "exact"
    assert Provenance(Method.OVERRIDE, "o.csv", "x", 4).describe() == "override (o.csv line 4)"
    assert Provenance(Method.CREATED, "o.csv", "x", 5, "p1").describe() == "created by p1 (o.csv line 5)"
