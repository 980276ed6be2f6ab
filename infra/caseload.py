"""Caseload per care coordinator, and the check of the region's cap (docs/domain.md rule 5).

A coordinator holds a case while it is open (referred, accepted, in care) and they are
its coordinator in `case_list` (infra/case_list.py).

**The cap is checked consistently.** `reserve_caseload` is what the appointment path
asks before deciding (activity `coordinator_caseload`). Under a transaction-level
advisory lock on the coordinator, it counts the cases the coordinator holds in
`case_list` together with the *reservations* of appointments in flight
(`caseload_reservations`), and, if there is room under the cap, reserves this case for
them. A second appointment of the same coordinator waits for the lock and then counts
the first one's reservation, so two concurrent appointments cannot both see the last
free place. The `case_list` projection drops a reservation in the same transaction in
which it applies that appointment (or the case's closure), so an appointment is counted
once, by its reservation until the read model holds it and by the read model after:
projector lag does not open a gap.

What remains, bounded:
- a reservation whose appointment was then refused for another reason (the state moved
  under the command) counts until the case appoints that member, another member's
  reservation replaces it (one reservation per case), or the case closes or ends;
  so it errs towards refusing, by at most one per such case;
- a manager's override appoints above the cap without a reservation: the caseload is at
  most the cap plus the overrides, each recorded with its reason on the event;
- the cap is the one the worker's policy has (the activity's); a trajectory whose run
  started under an older policy decides with the cap of its run, which is the cap in its
  event. A changed cap applies from each trajectory's next run.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

from domain.policy import RegionPolicy
from infra.case_list import OPEN_PHASE_VALUES
from infra.pgtypes import Conn
from infra.policy_file import policy_from_env

# The first key of the advisory lock (the second is the coordinator's id hashed): any
# constant no other lock of Regie uses. A hash collision only makes two coordinators'
# appointments take turns.
_CASELOAD_LOCK = 0x63617365  # "case"

_HELD = """
    SELECT case_id FROM case_list
    WHERE coordinator_id = $1 AND case_id <> $2 AND phase = ANY($3::text[])
    UNION
    SELECT case_id FROM caseload_reservations WHERE member_id = $1 AND case_id <> $2
"""


async def reserve_caseload(conn: Conn, member_id: str, case_id: str, cap: int) -> int:
    """The cases `member_id` holds or is being appointed to, other than `case_id`; if
    that leaves room under `cap`, `case_id` is reserved for them (see the module's
    docstring). Idempotent: asking again for the same case replaces its reservation."""
    async with conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock($1, hashtext($2))",
                           _CASELOAD_LOCK, member_id)
        held: int = await conn.fetchval(f"SELECT count(*) FROM ({_HELD}) AS held",
                                        member_id, case_id, OPEN_PHASE_VALUES)
        if held < cap:
            await conn.execute(
                """INSERT INTO caseload_reservations (case_id, member_id) VALUES ($1, $2)
                   ON CONFLICT (case_id) DO UPDATE
                   SET member_id = EXCLUDED.member_id, reserved_at = now()""",
                case_id, member_id)
    return held


class CaseloadRow(BaseModel):
    model_config = ConfigDict(frozen=True)
    coordinator_id: str
    open_cases: int  # open trajectories they coordinate in the read model
    reserved: int  # appointments in flight, not yet in the read model
    cap: int  # the region policy's caseload_cap
    over_cap: bool  # open_cases + reserved > cap (only a manager's override allows it)


async def caseloads(conn: Conn, region: str | None = None, *,
                    policy: RegionPolicy | None = None) -> list[CaseloadRow]:
    """Every coordinator holding an open case or a reservation, the fullest first."""
    policy = policy or policy_from_env()
    records = await conn.fetch(
        """WITH held AS (
               SELECT coordinator_id AS member_id, case_id, false AS reserved
               FROM case_list
               WHERE coordinator_id IS NOT NULL AND phase = ANY($2::text[])
                 AND ($1::text IS NULL OR region = $1)
               UNION ALL
               SELECT r.member_id, r.case_id, true FROM caseload_reservations r
               WHERE NOT EXISTS (SELECT 1 FROM case_list c WHERE c.case_id = r.case_id
                                 AND c.coordinator_id = r.member_id
                                 AND c.phase = ANY($2::text[]))
                 AND ($1::text IS NULL OR EXISTS (SELECT 1 FROM case_list c
                      WHERE c.case_id = r.case_id AND c.region = $1))
           )
           SELECT member_id, count(*) FILTER (WHERE NOT reserved) AS open_cases,
                  count(*) FILTER (WHERE reserved) AS reserved
           FROM held GROUP BY member_id
           ORDER BY count(*) DESC, member_id""",
        region, OPEN_PHASE_VALUES)
    cap = policy.caseload_cap
    return [CaseloadRow(coordinator_id=r["member_id"], open_cases=r["open_cases"],
                        reserved=r["reserved"], cap=cap,
                        over_cap=r["open_cases"] + r["reserved"] > cap)
            for r in records]
