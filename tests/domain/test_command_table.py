"""The command table is complete and unambiguous: every command has exactly one row."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from domain.command_table import COMMAND_TABLE, ROWS, UPDATES, decide, row_for
from domain.commands import CaseworkerCommand, Command, PartnerSignal, ReferFamily, StartCare
from domain.decision import DecisionContext
from domain.errors import DomainError
from domain.policy import RegionPolicy
from domain.trajectory import TrajectoryState

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)



def _subclasses(cls: type[Command]) -> set[type[Command]]:
    found: set[type[Command]] = set()
    for sub in cls.__subclasses__():
        found |= {sub, *_subclasses(sub)}
    return found


def test_every_command_type_has_exactly_one_row() -> None:
    models = [row.model for row in COMMAND_TABLE]
    assert len(models) == len(set(models))
    assert set(models) == _subclasses(Command) - {CaseworkerCommand}


def test_every_caseworker_command_has_an_update_and_a_route_of_its_own() -> None:
    caseworker = [row for row in COMMAND_TABLE if issubclass(row.model, CaseworkerCommand)]
    assert all(row.update and row.route for row in caseworker)
    paths = [row.route.path for row in caseworker if row.route]
    assert len(paths) == len(set(paths)) == len(UPDATES) == len(caseworker)


def test_referrals_and_signals_are_in_the_table_but_arrive_their_own_way() -> None:
    for model in (ReferFamily, PartnerSignal):
        assert ROWS[model].update is None and ROWS[model].route is None


def test_decide_goes_through_the_row_of_the_commands_type() -> None:
    with pytest.raises(DomainError, match="refer the family first"):
        decide(StartCare(actor="coordinator:pro-1"), TrajectoryState(),
               DecisionContext(now=NOW, policy=RegionPolicy()))
    assert row_for(StartCare(actor="coordinator:pro-1")).update == "start_care"
