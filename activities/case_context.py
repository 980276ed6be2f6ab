"""Activities that give a trajectory what it cannot know by itself: the region's policy
and a coordinator's caseload across all trajectories."""

from __future__ import annotations

from datetime import date

import asyncpg
from pydantic import BaseModel, ConfigDict
from temporalio import activity

from domain.calendar import dutch_calendar
from domain.policy import RegionPolicy
from infra.caseload import reserve_caseload


class PolicyRequest(BaseModel):
    model_config = ConfigDict(frozen=True)
    case_id: str


class CaseloadRequest(BaseModel):
    model_config = ConfigDict(frozen=True)
    member_id: str
    case_id: str


class CaseContextActivities:
    def __init__(self, policy: RegionPolicy, pool: asyncpg.Pool | None) -> None:
        self._policy = policy
        self._pool = pool

    @activity.defn(name="current_policy")
    async def current_policy(self, request: PolicyRequest) -> RegionPolicy:
        # Read once per workflow run and kept in its history: a running case sees a
        # changed policy file from its next run (continue-as-new) on, never mid-decision.
        return self._policy

    @activity.defn(name="coordinator_caseload")
    async def coordinator_caseload(self, request: CaseloadRequest) -> int:
        """The proposed coordinator's caseload, other than this case; with room under the
        cap, the case is reserved for them so a concurrent appointment counts it
        (infra/caseload.py)."""
        if self._pool is None:
            raise RuntimeError("no database configured for caseload look-ups")
        async with self._pool.acquire() as conn:
            return await reserve_caseload(conn, request.member_id, request.case_id,
                                          self._policy.caseload_cap)


class HolidaysRequest(BaseModel):
    model_config = ConfigDict(frozen=True)
    first_year: int
    last_year: int


@activity.defn(name="dutch_holidays")
async def dutch_holidays(request: HolidaysRequest) -> list[date]:
    """National holidays that do not count as working days (domain.calendar explains
    which). An activity, so the `holidays` package stays out of the workflow sandbox and
    the dates a running episode used are in its history."""
    calendar = dutch_calendar(range(request.first_year, request.last_year + 1))
    return sorted(calendar.holidays)
