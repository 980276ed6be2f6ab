"""A form becomes a command through the command's own model: bad values are refused per
field, unknown fields are refused, and who acts is always the signed-in professional."""

from __future__ import annotations

import pytest

from domain.commands import EvaluatePlan, RecordContactAttempt, ResolveEscalation
from workers.workspace.forms import FORMS, FormError, command_from


def test_an_evaluation_form_is_an_evaluate_plan_command() -> None:
    command = command_from(FORMS["evaluate_plan"], {
        "csrf": "t", "idempotency_key": "k", "results.0.goal_id": "g-1",
        "results.0.progress": "progressing", "results.0.note": "",
        "results.1.goal_id": "g-2", "results.1.progress": "achieved",
        "next_evaluation_date": "2027-01-15"}, "pro-1")
    assert isinstance(command, EvaluatePlan)
    assert [(r.goal_id, r.progress.value, r.note) for r in command.results] == [
        ("g-1", "progressing", None), ("g-2", "achieved", None)]
    assert str(command.next_evaluation_date) == "2027-01-15" and not command.final


def test_bad_values_are_refused_beside_their_field() -> None:
    with pytest.raises(FormError) as refused:
        command_from(FORMS["evaluate_plan"], {
            "results.0.goal_id": "g-1", "results.0.progress": "sort of",
            "next_evaluation_date": "15-01-2027"}, "pro-1")
    assert set(refused.value.errors) == {"results.0.progress", "next_evaluation_date"}
    with pytest.raises(FormError) as empty:
        command_from(FORMS["record_contact_attempt"], {"channel": "  "}, "pro-1")
    assert empty.value.errors == {"channel": "vul dit veld in"}


def test_unknown_fields_and_oversized_values_are_refused() -> None:
    with pytest.raises(FormError) as unknown:
        command_from(FORMS["record_contact_attempt"], {"channel": "telefoon",
                                                       "by": "pro-2"}, "pro-1")
    assert "form" in unknown.value.errors
    with pytest.raises(FormError) as large:
        command_from(FORMS["resolve_escalation"], {"episode_id": "ep-1",
                                                   "decision": "x" * 5000}, "pro-1")
    assert "decision" in large.value.errors


def test_who_acts_is_the_signed_in_professional() -> None:
    attempt = command_from(FORMS["record_contact_attempt"],
                           {"channel": "huisbezoek", "reached": "ja"}, "pro-7")
    assert isinstance(attempt, RecordContactAttempt)
    assert (attempt.by, attempt.reached) == ("pro-7", True)
    resolved = command_from(FORMS["resolve_escalation"],
                            {"episode_id": "ep-1", "decision": "Besluit"}, "pro-dir")
    assert isinstance(resolved, ResolveEscalation) and resolved.by == "pro-dir"
