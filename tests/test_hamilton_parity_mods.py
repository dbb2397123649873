"""The rest of Hamilton's modifiers, ported by changing imports, give Hamilton's results."""

from __future__ import annotations

from typing import Any

import pytest

pytest.importorskip("hamilton")

from test_hamilton_parity import asyncdag_driver_for, hamilton_driver_for

INPUTS = {"a": 2, "b": 5}
OUTPUTS = [
    "total",
    "scaled_a",
    "piped",
    "piped.raw",
    "piped.with_add",
    "piped.with_add_1",
    "piped.twice",
    "first",
    "second",
    "second.with_add",
    "conditional",
    "mutated",
    "mutated.raw",
    "mutated.with_plus",
    "also_mutated",
    "small",
    "large",
    "large.scaled",
    "volume",
    "checked",
    "checked_raw",
    "validation_summary",
]
DQ = "hamilton.data_quality"
POWER = {"hamilton.enable_power_user_mode": True}


@pytest.mark.parametrize("cfg", [{"mode": "loud"}, {"mode": "soft"}, {}])
def test_ported_modifiers_give_hamiltons_results(cfg: dict[str, Any]) -> None:
    expected = hamilton_driver_for("mods", cfg).execute(OUTPUTS, inputs=INPUTS)
    assert asyncdag_driver_for("mods", cfg).execute_sync(OUTPUTS, inputs=INPUTS) == expected


@pytest.mark.parametrize("cfg", [{"mode": "loud"}, {}])
def test_ported_modifiers_make_hamiltons_nodes(cfg: dict[str, Any]) -> None:
    expected = {v.name for v in hamilton_driver_for("mods", cfg).list_available_variables()}
    found = {v.name for v in asyncdag_driver_for("mods", cfg).list_available_variables()}
    assert found == expected


def _validators(variables: list[Any]) -> dict[str, tuple[Any, Any]]:
    """Validator node -> (its source node tag, its contains-results tag)."""
    return {
        v.name: (v.tags[f"{DQ}.source_node"], v.tags[f"{DQ}.contains_dq_results"])
        for v in variables
        if f"{DQ}.contains_dq_results" in v.tags
    }


def test_ported_validator_nodes_carry_hamiltons_tags() -> None:
    expected = _validators(hamilton_driver_for("mods").list_available_variables())
    found = _validators(asyncdag_driver_for("mods").list_available_variables())
    assert found == expected
    assert set(found) == {"checked_range_validator", "checked_data_type_validator"}


def test_ported_validator_results_are_hamiltons() -> None:
    outputs = ["checked_range_validator", "checked_data_type_validator"]
    expected = hamilton_driver_for("mods").execute(outputs, inputs=INPUTS)
    found = asyncdag_driver_for("mods").execute_sync(outputs, inputs=INPUTS)
    for name in outputs:
        want, got = expected[name], found[name]
        assert (got.passes, got.message, got.diagnostics) == (
            want.passes,
            want.message,
            want.diagnostics,
        )


@pytest.mark.parametrize(
    "cfg",
    [{"first": ["a", "b"], "second": ["b", "c"]}, {"first": ["c", "c"], "second": ["a", "a"]}],
)
def test_ported_resolve_gives_hamiltons_results(cfg: dict[str, Any]) -> None:
    cfg = {**POWER, **cfg}
    inputs = {"a": 1, "b": 10, "c": 100}
    expected = hamilton_driver_for("resolved", cfg).execute(["sum_1", "sum_2"], inputs=inputs)
    found = asyncdag_driver_for("resolved", cfg).execute_sync(["sum_1", "sum_2"], inputs=inputs)
    assert found == expected
