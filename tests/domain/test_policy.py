"""Region policy: the defaults, the policy file and the date helpers. Expected dates are
worked out by hand (weekdays and month lengths double-checked with `calendar`)."""

from __future__ import annotations

import calendar
import tomllib
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from pydantic import BaseModel, ValidationError

from domain.policy import EscalationDeadlines, RegionPolicy, add_months
from infra.policy_file import (
    DEFAULT_POLICY_FILE,
    POLICY_FILE_ENV,
    PolicyFileError,
    load_policy,
    policy_from_env,
)

AMSTERDAM = ZoneInfo("Europe/Amsterdam")


# -- Defaults ---------------------------------------------------------------------------


def test_defaults() -> None:
    policy = RegionPolicy()
    assert policy.region == "default"
    assert policy.waiting_norm_intake_weeks == 4
    assert policy.waiting_norm_care_start_weeks == 10
    assert policy.caseload_cap == 15
    assert policy.family_group_plan_term_weeks == 6
    assert policy.professional_plan_term_weeks == 6
    assert policy.written_plan_copy_days == 14
    assert policy.aftercare_months == 6
    assert policy.check_in_interval_weeks == 6
    assert policy.check_in_grace_days == 14
    assert policy.big5_min_age == 17
    assert policy.no_progress_evaluations == 2
    assert policy.unreachable_attempts == 3
    assert policy.unreachable_period_days == 28
    assert policy.escalation_deadlines_working_days == EscalationDeadlines(
        coordinator=5, manager=5, process_director=10
    )
    assert policy.escalation_reminder_working_days == 5
    assert policy.record_retention_years == 20


@pytest.mark.parametrize("model", [RegionPolicy, EscalationDeadlines])
def test_every_number_has_a_documented_default(model: type[BaseModel]) -> None:
    for name, field in model.model_fields.items():
        assert field.description, f"{model.__name__}.{name} has no description"


def test_the_policy_is_frozen() -> None:
    policy = RegionPolicy()
    with pytest.raises(ValidationError):
        policy.caseload_cap = 20  # type: ignore[misc]


def test_retention_below_the_legal_minimum_is_refused_with_the_reason() -> None:
    with pytest.raises(ValidationError, match="must be at least 20 years") as info:
        RegionPolicy(record_retention_years=19)
    assert "Jeugdwet 7.3.8" in str(info.value)
    assert RegionPolicy(record_retention_years=25).record_retention_years == 25


def test_the_big5_age_is_at_most_18() -> None:
    with pytest.raises(ValidationError):
        RegionPolicy(big5_min_age=19)


def test_a_check_in_grace_as_long_as_the_interval_is_refused() -> None:
    with pytest.raises(ValidationError, match="check_in_grace_days: must be shorter"):
        RegionPolicy(check_in_interval_weeks=2, check_in_grace_days=14)
    assert RegionPolicy(check_in_interval_weeks=2, check_in_grace_days=13)


def test_a_check_in_interval_that_leaves_aftercare_without_check_ins_is_refused() -> None:
    with pytest.raises(ValidationError, match="check_in_interval_weeks: must be shorter"):
        RegionPolicy(aftercare_months=1, check_in_interval_weeks=4)
    assert RegionPolicy(aftercare_months=1, check_in_interval_weeks=3, check_in_grace_days=7)


# -- The policy file --------------------------------------------------------------------


def test_default_toml_loads_to_exactly_the_defaults() -> None:
    assert load_policy(DEFAULT_POLICY_FILE) == RegionPolicy()


def test_default_toml_writes_out_every_key() -> None:
    # Equality alone would pass with a key left out; the file must list them all.
    data = tomllib.loads(DEFAULT_POLICY_FILE.read_text(encoding="utf-8"))
    assert set(data) == set(RegionPolicy.model_fields)
    assert set(data["escalation_deadlines_working_days"]) == set(EscalationDeadlines.model_fields)


def test_default_toml_comments_every_key() -> None:
    lines = DEFAULT_POLICY_FILE.read_text(encoding="utf-8").splitlines()
    for i, line in enumerate(lines):
        if "=" in line and not line.startswith("#"):
            assert lines[i - 1].startswith("#"), f"no comment above: {line}"


def test_no_file_means_the_defaults() -> None:
    assert load_policy(None) == RegionPolicy()


def test_a_region_file_changes_only_what_it_names(tmp_path: Path) -> None:
    path = tmp_path / "regio.toml"
    path.write_text(
        'region = "Kop van Noord-Holland"\ncaseload_cap = 12\n\n'
        "[escalation_deadlines_working_days]\nmanager = 3\n",
        encoding="utf-8",
    )
    policy = load_policy(path)
    assert policy == RegionPolicy(
        region="Kop van Noord-Holland",
        caseload_cap=12,
        escalation_deadlines_working_days=EscalationDeadlines(manager=3),
    )
    assert policy.escalation_deadlines_working_days.process_director == 10


def load_error(tmp_path: Path, text: str) -> tuple[Path, str]:
    path = tmp_path / "regio.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(PolicyFileError) as info:
        load_policy(path)
    assert info.value.path == path
    return path, str(info.value)


def test_an_out_of_range_value_names_key_expectation_and_value(tmp_path: Path) -> None:
    path, message = load_error(tmp_path, "caseload_cap = -1\n")
    assert message == f"{path}: caseload_cap: must be greater than 0 (got -1)"


def test_a_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "regio.toml"
    with pytest.raises(PolicyFileError) as info:
        load_policy(path)
    assert str(info.value) == f"{path}: no such policy file"


def test_a_toml_syntax_error(tmp_path: Path) -> None:
    path, message = load_error(tmp_path, "caseload_cap = \n")
    assert message.startswith(f"{path}: not valid TOML: ")
    assert "line 1" in message


def test_an_unknown_key_suggests_the_key_meant(tmp_path: Path) -> None:
    path, message = load_error(tmp_path, "casload_cap = 12\nflavour = 'vanilla'\n")
    assert message.splitlines() == [
        f"{path}: casload_cap: unknown key; did you mean caseload_cap?",
        f"{path}: flavour: unknown key",
    ]


def test_an_unknown_nested_key(tmp_path: Path) -> None:
    path, message = load_error(tmp_path, "[escalation_deadlines_working_days]\nmanger = 3\n")
    assert message == (
        f"{path}: escalation_deadlines_working_days.manger: unknown key; did you mean manager?"
    )


@pytest.mark.parametrize(
    ("line", "problem"),
    [
        ('caseload_cap = "15"', "caseload_cap: must be a whole number, without quotes (got '15')"),
        ("caseload_cap = 15.0", "caseload_cap: must be a whole number (got 15.0)"),
        ("caseload_cap = true", "caseload_cap: must be a whole number (got true)"),
        ("region = 3", "region: must be text in quotes (got 3)"),
        (
            "escalation_deadlines_working_days = 5",
            "escalation_deadlines_working_days: must be a table of keys (got 5)",
        ),
    ],
)
def test_a_wrong_type(tmp_path: Path, line: str, problem: str) -> None:
    path, message = load_error(tmp_path, line + "\n")
    assert message == f"{path}: {problem}"


def test_retention_below_the_minimum_in_a_file(tmp_path: Path) -> None:
    path, message = load_error(tmp_path, "record_retention_years = 15\n")
    assert message == (
        f"{path}: record_retention_years: must be at least 20 years: youth-care records are "
        f"kept at least 20 years after care ends (Jeugdwet 7.3.8) (got 15)"
    )


def test_keys_that_do_not_fit_together(tmp_path: Path) -> None:
    path, message = load_error(tmp_path, "check_in_grace_days = 60\naftercare_months = 1\n")
    assert message.splitlines() == [
        f"{path}: check_in_grace_days: must be shorter than check_in_interval_weeks "
        f"(42 days), or a check-in falls due before the previous one is marked missed (got 60)",
        f"{path}: check_in_interval_weeks: must be shorter than aftercare_months (1 month), "
        f"or aftercare has no check-in at all (got 6)",
    ]


def test_every_bad_key_in_one_message(tmp_path: Path) -> None:
    path, message = load_error(
        tmp_path,
        "caseload_cap = 0\nbig5_min_age = 30\n[escalation_deadlines_working_days]\n"
        "coordinator = -2\n",
    )
    assert message.splitlines() == [
        f"{path}: caseload_cap: must be greater than 0 (got 0)",
        f"{path}: big5_min_age: must be less than or equal to 18 (got 30)",
        f"{path}: escalation_deadlines_working_days.coordinator: must be greater than 0 (got -2)",
    ]


def test_policy_from_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "regio.toml"
    path.write_text("caseload_cap = 9\n", encoding="utf-8")
    assert policy_from_env({}) == RegionPolicy()
    assert policy_from_env({POLICY_FILE_ENV: ""}) == RegionPolicy()
    assert policy_from_env({POLICY_FILE_ENV: str(path)}).caseload_cap == 9
    monkeypatch.setenv(POLICY_FILE_ENV, str(path))
    assert policy_from_env().caseload_cap == 9
    monkeypatch.delenv(POLICY_FILE_ENV)
    assert policy_from_env() == RegionPolicy()
    with pytest.raises(PolicyFileError, match="no such policy file"):
        policy_from_env({POLICY_FILE_ENV: str(tmp_path / "missing.toml")})


# -- Months -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("start", "months", "expected"),
    [
        (date(2026, 8, 31), 6, date(2027, 2, 28)),  # 2027 is a common year
        (date(2027, 8, 31), 6, date(2028, 2, 29)),  # 2028 is a leap year
        (date(2026, 1, 31), 1, date(2026, 2, 28)),
        (date(2026, 3, 31), 1, date(2026, 4, 30)),
        (date(2026, 3, 31), -1, date(2026, 2, 28)),
        (date(2026, 12, 15), 1, date(2027, 1, 15)),
        (date(2026, 10, 31), 4, date(2027, 2, 28)),
        (date(2028, 2, 29), 12, date(2029, 2, 28)),
        (date(2026, 5, 10), 0, date(2026, 5, 10)),
    ],
)
def test_add_months_clamps_the_day(start: date, months: int, expected: date) -> None:
    assert calendar.monthrange(expected.year, expected.month)[1] >= expected.day
    assert add_months(start, months) == expected


def test_add_months_keeps_time_and_timezone() -> None:
    start = datetime(2026, 8, 31, 10, 15, tzinfo=AMSTERDAM)
    assert add_months(start, 6) == datetime(2027, 2, 28, 10, 15, tzinfo=AMSTERDAM)


# -- Date helpers -----------------------------------------------------------------------


def test_waiting_norm_deadlines() -> None:
    policy = RegionPolicy()
    # Summer time starts Sunday 29 March 2026; 4 weeks after Monday 2 March 09:00 is
    # Monday 30 March 09:00 wall-clock time.
    referred = datetime(2026, 3, 2, 9, 0, tzinfo=AMSTERDAM)
    assert calendar.weekday(2026, 3, 2) == calendar.MONDAY
    assert policy.intake_deadline(referred) == datetime(2026, 3, 30, 9, 0, tzinfo=AMSTERDAM)
    # 10 weeks after the intake, not after the referral.
    intake = datetime(2026, 1, 5, 13, 0, tzinfo=UTC)
    assert policy.care_start_deadline(intake) == datetime(2026, 3, 16, 13, 0, tzinfo=UTC)


def test_plan_deadlines() -> None:
    policy = RegionPolicy()
    offered = datetime(2026, 6, 1, 10, 0, tzinfo=UTC)
    assert policy.family_group_plan_deadline(offered) == datetime(2026, 7, 13, 10, 0, tzinfo=UTC)
    assert policy.professional_plan_deadline(offered) == datetime(2026, 7, 13, 10, 0, tzinfo=UTC)
    assert RegionPolicy(professional_plan_term_weeks=4).professional_plan_deadline(
        offered
    ) == datetime(2026, 6, 29, 10, 0, tzinfo=UTC)
    assert policy.written_plan_copy_deadline(offered) == datetime(2026, 6, 15, 10, 0, tzinfo=UTC)


def test_a_naive_datetime_is_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        RegionPolicy().intake_deadline(datetime(2026, 3, 2, 9, 0))


def test_aftercare_end_clamps_to_the_end_of_february() -> None:
    closed = datetime(2026, 8, 31, 10, 0, tzinfo=UTC)
    assert RegionPolicy().aftercare_end(closed) == datetime(2027, 2, 28, 10, 0, tzinfo=UTC)


def test_check_in_dates_every_six_weeks_before_aftercare_ends() -> None:
    closed = datetime(2026, 8, 31, 10, 0, tzinfo=UTC)
    # Every 42 days: Oct 12, Nov 23, Jan 4, Feb 15; the next (Mar 29) is after Feb 28.
    assert RegionPolicy().check_in_dates(closed) == [
        datetime(2026, 10, 12, 10, 0, tzinfo=UTC),
        datetime(2026, 11, 23, 10, 0, tzinfo=UTC),
        datetime(2027, 1, 4, 10, 0, tzinfo=UTC),
        datetime(2027, 2, 15, 10, 0, tzinfo=UTC),
    ]


def test_a_check_in_on_the_aftercare_end_itself_is_not_scheduled() -> None:
    # 1 Jan to 1 Jul 2028 is 31+29+31+30+31+30 = 182 days: exactly two 13-week intervals.
    assert sum(calendar.monthrange(2028, m)[1] for m in range(1, 7)) == 182
    policy = RegionPolicy(check_in_interval_weeks=13)
    closed = datetime(2028, 1, 1, tzinfo=UTC)
    assert policy.aftercare_end(closed) == closed + timedelta(days=182)
    assert policy.check_in_dates(closed) == [datetime(2028, 4, 1, tzinfo=UTC)]


def test_in_aftercare_and_missed_check_ins() -> None:
    policy = RegionPolicy()
    closed = datetime(2026, 8, 31, 10, 0, tzinfo=UTC)
    assert policy.in_aftercare(closed, closed)
    assert policy.in_aftercare(closed, datetime(2027, 2, 28, 9, 59, tzinfo=UTC))
    assert not policy.in_aftercare(closed, datetime(2027, 2, 28, 10, 0, tzinfo=UTC))
    due = datetime(2026, 10, 12, 10, 0, tzinfo=UTC)
    assert policy.check_in_missed_at(due) == datetime(2026, 10, 26, 10, 0, tzinfo=UTC)
    assert policy.unreachable_period() == timedelta(days=28)


def test_record_retention_end() -> None:
    ended = datetime(2028, 2, 29, tzinfo=UTC)
    assert RegionPolicy().record_retention_end(ended) == datetime(2048, 2, 29, tzinfo=UTC)
    longer = RegionPolicy(record_retention_years=21)
    assert longer.record_retention_end(ended) == datetime(2049, 2, 28, tzinfo=UTC)
