"""The search attributes of a trajectory: the domain words Temporal's Web UI and
`list_workflows` filter on (e.g. `Phase = "in_care" AND EscalationLevel >= 2`).

Custom search attributes must be registered with the namespace before a workflow sets
them; an unknown one fails the workflow task. The local stack's dev server and the test
servers register `SEARCH_ATTRIBUTES` at start; the worker checks a cluster has them
(`infra.search_attributes`). They are indexed in plain text, outside the payload codec:
ids and facts only, never personal data (`domain.case_summary` decides what they hold).
"""

from __future__ import annotations

from temporalio import workflow
from temporalio.common import (
    SearchAttributeIndexedValueType,
    SearchAttributeKey,
    SearchAttributePair,
    SearchAttributeUpdate,
    TypedSearchAttributes,
)

with workflow.unsafe.imports_passed_through():
    from domain.case_summary import CaseSummary
    from domain.trajectory import Phase

PHASE = SearchAttributeKey.for_keyword("Phase")
REGION = SearchAttributeKey.for_keyword("Region")
COORDINATOR_ID = SearchAttributeKey.for_keyword("CoordinatorId")
# The highest level an open escalation episode has reached; 0 when none is open.
ESCALATION_LEVEL = SearchAttributeKey.for_int("EscalationLevel")
IN_AFTERCARE = SearchAttributeKey.for_bool("InAftercare")

SEARCH_ATTRIBUTES: tuple[SearchAttributeKey[str] | SearchAttributeKey[int]
                         | SearchAttributeKey[bool], ...] = (
    PHASE, REGION, COORDINATOR_ID, ESCALATION_LEVEL, IN_AFTERCARE)


# The type names the CLI takes (`--search-attribute Phase=Keyword`).
_CLI_TYPES = {SearchAttributeIndexedValueType.KEYWORD: "Keyword",
              SearchAttributeIndexedValueType.INT: "Int",
              SearchAttributeIndexedValueType.BOOL: "Bool"}


def dev_server_flags() -> list[str]:
    """`temporal server start-dev` arguments that register them."""
    flags: list[str] = []
    for key in SEARCH_ATTRIBUTES:
        flags += ["--search-attribute", f"{key.name}={_CLI_TYPES[key.indexed_value_type]}"]
    return flags


def at_referral(region: str) -> TypedSearchAttributes:
    """What a trajectory is known by from its start, before its first event."""
    return TypedSearchAttributes([
        SearchAttributePair(PHASE, Phase.REFERRED.value),
        SearchAttributePair(REGION, region),
        SearchAttributePair(ESCALATION_LEVEL, 0),
        SearchAttributePair(IN_AFTERCARE, False),
    ])


def updates(summary: CaseSummary) -> list[SearchAttributeUpdate[str] | SearchAttributeUpdate[int]
                                          | SearchAttributeUpdate[bool]]:
    """The attributes of a case as its summary says, each set (or unset when unknown)."""
    phase = PHASE.value_set(summary.phase.value) if summary.phase else PHASE.value_unset()
    coordinator = (COORDINATOR_ID.value_set(summary.coordinator_id)
                   if summary.coordinator_id else COORDINATOR_ID.value_unset())
    return [phase, REGION.value_set(summary.region), coordinator,
            ESCALATION_LEVEL.value_set(summary.escalation_level),
            IN_AFTERCARE.value_set(summary.phase is Phase.AFTERCARE)]
