"""Strings that storage cannot hold, or that make no sense, are refused at validation
(domain/text_rules.py), in the shared field types and every command's other strings."""

from __future__ import annotations

from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import BaseModel, ValidationError

from domain.commands import SkipFamilyGroupPlan
from domain.family import FamilyMember, MemberRole
from domain.model import Id, Name, Text
from domain.persons import PartnerReferral
from domain.plan import SkipGround
from domain.text_rules import free_text_problem, single_line_problem, storage_problem
from tests.factories import partner_referral


class Fields(BaseModel):
    id: Id = "x"
    name: Name = "x"
    text: Text = "x"


def refusal(**values: str) -> tuple[tuple[str | int, ...], str]:
    with pytest.raises(ValidationError) as raised:
        Fields(**values)
    [error] = raised.value.errors()
    return tuple(error["loc"]), str(error["msg"])


@pytest.mark.parametrize("field", ["id", "name", "text"])
def test_a_nul_is_refused_in_every_shared_type_naming_the_field(field: str) -> None:
    loc, message = refusal(**{field: "ab\x00cd"})
    assert loc == (field,)
    # Refused by the id's pattern or by the rule; either way never echoing the value.
    assert "ab" not in message


@pytest.mark.parametrize("field", ["name", "text"])
def test_a_lone_surrogate_is_refused(field: str) -> None:
    loc, _ = refusal(**{field: "Sam \ud800"})
    assert loc == (field,)


def test_names_take_no_control_characters_text_only_tab_and_line_breaks() -> None:
    assert Fields(text="first line\n\tsecond\r\n").text == "first line\n\tsecond"
    assert refusal(name="Sam\nde Vries") == (
        ("name",), "Value error, contains a control character")
    loc, message = refusal(text="bell\x07")
    assert loc == ("text",) and "control character" in message
    loc, message = refusal(text="escape\x1b[2J")
    assert "control character" in message


@pytest.mark.parametrize("blank", ["   ", "\t\n", "\u00a0\u2003"])
def test_whitespace_only_is_refused(blank: str) -> None:
    for field in ("name", "text"):
        loc, _ = refusal(**{field: blank})
        assert loc == (field,)


def test_the_rule_holds_for_strings_that_are_not_of_a_shared_type() -> None:
    # An optional free text (the skip reason) and a personal one (`str | Erased`).
    with pytest.raises(ValidationError, match="control character"):
        SkipFamilyGroupPlan(ground=next(iter(SkipGround)), reason="no\x07pe")
    with pytest.raises(ValidationError, match="NUL") as raised:
        FamilyMember(person_id="p-1", role=MemberRole.CHILD, name="Sam\x00",
                     birth_date=date(2015, 1, 1))
    assert raised.value.errors()[0]["loc"] == ("name",)


def test_a_referral_with_a_nul_deep_inside_is_refused_there() -> None:
    body = partner_referral("ref-1").model_dump(mode="json")
    body["reasons"][0]["description"] = "ziek\x00"
    with pytest.raises(ValidationError) as raised:
        PartnerReferral.model_validate(body)
    [error] = raised.value.errors()
    assert error["loc"] == ("reasons", 0, "description")
    assert "ziek" not in str(error["msg"])


# Everything but C0 controls, DEL and surrogates.
_printable = st.text(st.characters(min_codepoint=0x20, max_codepoint=0x10FFFF,
                                   exclude_categories=["Cs"], exclude_characters="\x7f"))


@given(_printable.filter(lambda s: s.strip() != ""))
def test_ordinary_text_passes_every_rule(value: str) -> None:
    assert storage_problem(value) is None
    assert free_text_problem(value) is None
    assert single_line_problem(value) is None


@given(_printable, st.sampled_from(["\x00", "\x01", "\x08", "\x0b", "\x1f", "\x7f"]),
       _printable)
def test_a_control_character_anywhere_is_found(before: str, control: str,
                                               after: str) -> None:
    value = before + control + after
    assert free_text_problem(value) is not None
    assert single_line_problem(value) is not None
    assert (storage_problem(value) is not None) == (control == "\x00")


@given(_printable, st.integers(min_value=0xD800, max_value=0xDFFF))
def test_a_lone_surrogate_cannot_be_stored(text: str, surrogate: int) -> None:
    assert storage_problem(text + chr(surrogate)) is not None
