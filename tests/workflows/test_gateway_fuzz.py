"""Property-based bodies against the live gateway (real worker, Temporal dev server,
PostgreSQL): whatever a caller sends, the answer is never a 5xx, every error is in the
one error shape, and a refused request writes nothing.

Hypothesis runs its examples in a thread of its own, each request going to the test's
event loop, so the gateway, its pool and Temporal's client stay on the loop they were
made on. Bounded (a fixed number of examples, derandomised) so the suite's time and
outcome do not vary from run to run.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Callable
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from infra.event_store import PostgresEventStore
from tests.factories import partner_referral
from tests.workflows.gateway_support import Gateway
from workers.problems import PROBLEM_JSON

EXAMPLES = 30
bounded = settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
                   suppress_health_check=list(HealthCheck))

# Text as hostile as JSON can carry it: control characters, NUL, lone surrogates, and
# ordinary Unicode.
hostile_text = st.one_of(
    st.text(max_size=50),
    st.text(st.characters(min_codepoint=0, max_codepoint=0x7F), max_size=20),
    st.sampled_from(["\x00", " ", "\t\n", "\u2003", "a\x00b", "\x1b[2J", "\r\n", ""]),
    st.integers(min_value=0xD800, max_value=0xDFFF).map(lambda c: "Sam " + chr(c)),
    st.text(min_size=4001, max_size=4100),
)
# Text that no free-text field takes.
refused_text = st.one_of(
    st.sampled_from(["\x00", " ", "\t\n", "\u2003", "a\x00b", "\x1b[2J", ""]),
    st.integers(min_value=0xD800, max_value=0xDFFF).map(lambda c: "Sam " + chr(c)),
    st.text(min_size=4001, max_size=4100).filter(lambda t: len(t.strip()) > 4000),
)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | hostile_text,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(hostile_text, inner,
                                                                max_size=3),
    max_leaves=8)

# Where a partner's referral holds its strings (and a few other fields).
REFERRAL_PATHS: list[tuple[str | int, ...]] = [
    ("reference",), ("referrer",), ("organisation",), ("members", 0, "name"),
    ("members", 1, "name"), ("members", 1, "ref"), ("members", 1, "bsn"),
    ("members", 0, "birth_date"), ("members", 0, "role"), ("reasons", 0, "description"),
    ("reasons", 0, "about"), ("reasons", 0, "life_domain"), ("members",), ("reasons",),
]


def with_value(body: dict[str, Any], path: tuple[str | int, ...], value: Any) -> Any:
    changed: Any = json.loads(json.dumps(body))
    at = changed
    for step in path[:-1]:
        at = at[step]
    at[path[-1]] = value
    return changed


def mutated_referrals() -> st.SearchStrategy[Any]:
    valid = partner_referral("ref-fuzz").model_dump(mode="json")
    return st.one_of(
        st.builds(lambda path, value: with_value(valid, path, value),
                  st.sampled_from(REFERRAL_PATHS), json_values),
        json_values)


async def counts(store: PostgresEventStore) -> tuple[int, int, int]:
    async with store.pool.acquire() as conn:
        row = await conn.fetchrow(
            "SELECT (SELECT count(*) FROM events), (SELECT count(*) FROM persons), "
            "(SELECT count(*) FROM idempotency_keys)")
    assert row is not None
    return row[0], row[1], row[2]


async def post_and_check(gateway: Gateway, store: PostgresEventStore, path: str,
                         headers: dict[str, str], body: Any) -> int:
    before = await counts(store)
    # ensure_ascii: a lone surrogate travels as its \\u escape, as JSON allows.
    answer = await gateway.http.post(path, content=json.dumps(body).encode(), headers={
        **headers, "Idempotency-Key": uuid.uuid4().hex, "Content-Type": "application/json"})
    assert answer.status_code < 500, answer.text
    if answer.status_code >= 400:
        assert answer.headers["content-type"].startswith(PROBLEM_JSON)
        assert {"type", "title", "status", "error", "message"} <= set(answer.json())
        assert await counts(store) == before, f"{answer.status_code} wrote something"
    return answer.status_code


def hypothesis_in_a_thread(check: Callable[[Any], Any],
                           strategy: st.SearchStrategy[Any]) -> Callable[[], None]:
    loop = asyncio.get_running_loop()

    @bounded
    @given(strategy)
    def run(body: Any) -> None:
        asyncio.run_coroutine_threadsafe(check(body), loop).result(timeout=60)

    return run


async def test_no_referral_body_gets_a_5xx_and_a_refused_one_writes_nothing(
    gateway: Gateway, pg_store: PostgresEventStore
) -> None:
    statuses: list[int] = []

    async def check(body: Any) -> None:
        statuses.append(await post_and_check(gateway, pg_store, "/v1/referrals",
                                             gateway.partner(), body))

    await asyncio.to_thread(hypothesis_in_a_thread(check, mutated_referrals()))
    assert 422 in statuses  # the bodies were refused for what they held, not all let in


async def test_no_signal_or_command_body_gets_a_5xx_and_a_refused_one_writes_nothing(
    gateway: Gateway, pg_store: PostgresEventStore
) -> None:
    case = await gateway.new_case()
    # A signal is handled after its answer (the workflow writes later), so the bodies
    # here are all refused ones: an accepted signal's event could land while a later
    # request is checked for writing nothing.
    signals = st.one_of(
        st.fixed_dictionaries({"kind": st.sampled_from(["concern", "relapse", "nope"]),
                               "description": refused_text}),
        json_values.filter(lambda body: not isinstance(body, dict) or "kind" not in body))
    intakes = st.one_of(
        st.fixed_dictionaries({"outcome": st.sampled_from(["accepted", "x"]),
                               "assessments": st.lists(st.fixed_dictionaries({
                                   "life_domain": st.sampled_from(["education_work", "x"]),
                                   "strengths": hostile_text, "problems": hostile_text}),
                                   max_size=2)}),
        json_values)

    async def signal(body: Any) -> None:
        await post_and_check(gateway, pg_store, f"/v1/trajectories/{case}/signals",
                             gateway.partner(), body)

    async def intake(body: Any) -> None:
        await post_and_check(gateway, pg_store, f"/v1/trajectories/{case}/record_intake",
                             gateway.professional("pro-intake"), body)

    await asyncio.to_thread(hypothesis_in_a_thread(signal, signals))
    await asyncio.to_thread(hypothesis_in_a_thread(intake, intakes))
