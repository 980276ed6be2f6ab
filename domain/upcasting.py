"""Upcasters turn an event stored under an older schema version into the current shape.

Register one function per step, named `upcast_vX_vY` by convention; reading applies the
steps in order (v1 -> v2 -> v3) until the payload class's `SCHEMA_VERSION` is reached.
Upcasters work on plain JSON dicts, after personal data was decrypted (or marked erased).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime
from typing import Any

from domain.stagnation import (
    About,
    AgreementOverdue,
    EvaluationOverdue,
    FamilyUnreachable,
    NoProgress,
    PlanNotAdopted,
    Reported,
    StagnationRule,
    WaitingNormCareStart,
    WaitingNormIntake,
    WrittenCopyOverdue,
)

JsonDict = dict[str, Any]
Upcaster = Callable[[JsonDict], JsonDict]


class UpcastError(Exception):
    pass


class UpcasterRegistry:
    def __init__(self) -> None:
        self._steps: dict[tuple[str, int], Upcaster] = {}

    def register(self, event_type: str, from_version: int) -> Callable[[Upcaster], Upcaster]:
        """Decorator: `fn` turns `event_type` data at `from_version` into `from_version + 1`."""

        def decorate(fn: Upcaster) -> Upcaster:
            key = (event_type, from_version)
            if key in self._steps:
                raise ValueError(f"an upcaster for {event_type} v{from_version} already exists")
            self._steps[key] = fn
            return fn

        return decorate

    def upcast(self, event_type: str, version: int, target: int, data: JsonDict) -> JsonDict:
        if version > target:
            raise UpcastError(
                f"{event_type} was stored as schema v{version}, newer than this code's "
                f"v{target}; deploy the newer code before reading it"
            )
        while version < target:
            step = self._steps.get((event_type, version))
            if step is None:
                raise UpcastError(
                    f"no upcaster from {event_type} v{version} to v{version + 1}; "
                    "register one in domain.upcasting"
                )
            data = step(dict(data))
            version += 1
        return data


# The registry for the domain's own events.
UPCASTERS = UpcasterRegistry()


@UPCASTERS.register("StagnationFound", from_version=1)
def upcast_v1_v2(data: JsonDict) -> JsonDict:
    """StagnationFound v1 said what a finding is about in a `key` string per rule; v2
    holds the rule's typed model in `about`. Old keys are parsed here and nowhere else."""
    raw_rule, key = data.pop("rule"), str(data.pop("key"))
    try:
        rule = StagnationRule(raw_rule)
        about = _v1_about(rule, key)
    except ValueError as error:
        raise UpcastError(f"StagnationFound v1: cannot read key {key!r} of rule "
                          f"{raw_rule!r}: {error}") from error
    if about.ref != f"{rule.value}:{key}":
        # The v1 identity lives on in recorded episodes (`finding_refs`): it must not move.
        raise UpcastError(f"StagnationFound v1: key {key!r} of rule {rule.value} reads "
                          f"back as {about.ref!r}")
    data["about"] = about.model_dump(mode="json")
    return data


def _v1_about(rule: StagnationRule, key: str) -> About:
    def after(prefix: str) -> str:
        if not key.startswith(prefix):
            raise ValueError(f"expected it to start with {prefix!r}")
        return key.removeprefix(prefix)

    match rule:
        case StagnationRule.WAITING_NORM_INTAKE:
            return WaitingNormIntake()
        case StagnationRule.WAITING_NORM_CARE_START:
            return WaitingNormCareStart()
        case StagnationRule.PLAN_NOT_ADOPTED:
            return PlanNotAdopted(deadline=date.fromisoformat(after("plan:")))
        case StagnationRule.EVALUATION_OVERDUE:
            version, _, day = after("evaluation:v").partition(":")
            return EvaluationOverdue(plan_version=int(version),
                                     evaluation_date=date.fromisoformat(day))
        case StagnationRule.AGREEMENT_OVERDUE:
            # Agreement ids may contain ':' (domain.model.Id); the due date never does.
            agreement_id, _, due = after("agreement:").rpartition(":")
            return AgreementOverdue(agreement_id=agreement_id, due=date.fromisoformat(due))
        case StagnationRule.WRITTEN_COPY_OVERDUE:
            return WrittenCopyOverdue(due=date.fromisoformat(after("copy:")))
        case StagnationRule.NO_PROGRESS:
            return NoProgress(first_evaluation=int(after("evaluations-from:")))
        case StagnationRule.FAMILY_UNREACHABLE:
            # v1 wrote the moment without its offset; workflow time is UTC.
            since = datetime.strptime(after("unreachable-since:"), "%Y-%m-%dT%H:%M:%S")
            return FamilyUnreachable(since=since.replace(tzinfo=UTC))
        case StagnationRule.REPORTED:
            return Reported(report=int(after("report-")))


@UPCASTERS.register("PlanAdopted", from_version=1)
def upcast_plan_adopted_v1_v2(data: JsonDict) -> JsonDict:
    """PlanAdopted v2 says whether the young person took part in making the plan; v1 did
    not ask, so a v1 plan reads as not recorded (None), never as "did not take part"."""
    data.setdefault("young_person_took_part", None)
    return data
