"""The workspace's forms: what a submitted form means as a command of the command table.

A form's fields are read into the same shape the JSON route takes and validated by the
same pydantic model (`domain.commands`), so a bad value is refused with the model's
message, beside its field, and nothing is written. Who acts (`by`, `reported_by`) is
never a form field: it is the signed-in professional.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from domain.command_table import UPDATES, CommandRow
from domain.commands import Command
from workers.workspace.words_nl import word

# Fields a form may send besides the command's own; anything else is refused.
CONTROL_FIELDS = frozenset({"csrf", "idempotency_key", "return_to"})
MAX_FIELDS = 120
MAX_VALUE = 4000


class FormError(Exception):
    """The form cannot become a command: per field (the form's name), what is wrong."""

    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__("; ".join(f"{k}: {v}" for k, v in errors.items()))
        self.errors = errors


def _text(form: Mapping[str, str], name: str) -> str | None:
    value = form.get(name, "").strip()
    return value or None


def _evaluate_plan(form: Mapping[str, str], me: str) -> dict[str, Any]:
    results = []
    index = 0
    while f"results.{index}.goal_id" in form:
        results.append({"goal_id": form[f"results.{index}.goal_id"],
                        "progress": _text(form, f"results.{index}.progress"),
                        "note": _text(form, f"results.{index}.note")})
        index += 1
    return {"results": results, "final": form.get("final") == "ja",
            "next_evaluation_date": _text(form, "next_evaluation_date")}


def _report_progress(form: Mapping[str, str], me: str) -> dict[str, Any]:
    return {"goal_id": _text(form, "goal_id"), "note": _text(form, "note"),
            "reported_by": me}


def _complete_agreement(form: Mapping[str, str], me: str) -> dict[str, Any]:
    return {"agreement_id": _text(form, "agreement_id")}


def _record_contact_attempt(form: Mapping[str, str], me: str) -> dict[str, Any]:
    return {"by": me, "channel": _text(form, "channel"), "reached": form.get("reached") == "ja"}


def _acknowledge_escalation(form: Mapping[str, str], me: str) -> dict[str, Any]:
    return {"episode_id": _text(form, "episode_id"), "by": me}


def _resolve_escalation(form: Mapping[str, str], me: str) -> dict[str, Any]:
    return {"episode_id": _text(form, "episode_id"), "by": me,
            "decision": _text(form, "decision"),
            "next_evaluation_date": _text(form, "next_evaluation_date")}


@dataclass(frozen=True)
class FormSpec:
    row: CommandRow
    fields: frozenset[str]  # the form's own field names (plus the numbered results.N.*)
    read: Callable[[Mapping[str, str], str], dict[str, Any]]


def _spec(update: str, fields: set[str],
          read: Callable[[Mapping[str, str], str], dict[str, Any]]) -> FormSpec:
    return FormSpec(row=UPDATES[update], fields=frozenset(fields), read=read)


# The commands the workspace carries out, each a row of the command table.
FORMS: dict[str, FormSpec] = {spec.row.update or "": spec for spec in (
    _spec("evaluate_plan", {"final", "next_evaluation_date"}, _evaluate_plan),
    _spec("report_progress", {"goal_id", "note"}, _report_progress),
    _spec("complete_agreement", {"agreement_id"}, _complete_agreement),
    _spec("record_contact_attempt", {"channel", "reached"}, _record_contact_attempt),
    _spec("acknowledge_escalation", {"episode_id"}, _acknowledge_escalation),
    _spec("resolve_escalation", {"episode_id", "decision", "next_evaluation_date"},
          _resolve_escalation),
)}


def _form_name(loc: tuple[int | str, ...]) -> str:
    return ".".join(str(p) for p in loc if p not in ("str", "date", "Erased")) or "form"


def command_from(spec: FormSpec, form: Mapping[str, str], me: str) -> Command:
    """The command the form asks for, validated by the command's own model."""
    unknown = [name for name in form if name not in spec.fields
               and name not in CONTROL_FIELDS and not name.startswith("results.")]
    errors: dict[str, str] = {}
    if unknown or len(form) > MAX_FIELDS:
        errors["form"] = "the form has fields this command does not take"
    for name, value in form.items():
        if len(value) > MAX_VALUE:
            errors[name] = f"at most {MAX_VALUE} characters"
    if errors:
        raise FormError(errors)
    try:
        return spec.row.model.model_validate(spec.read(form, me))
    except ValidationError as error:
        for item in error.errors():
            # A field left empty reads as None: say so in the reader's words.
            message = word("form.required") if item.get("input") is None else item["msg"]
            errors.setdefault(_form_name(tuple(item["loc"])), message)
        raise FormError(errors) from None
