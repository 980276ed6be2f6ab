"""Which fields `personal_values` finds, on small models defined here."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, ClassVar

import pytest
from pydantic import BaseModel

from domain.family import FamilyMember, LifeDomain, MemberRole, Referral, ReferralReason
from domain.personal import (
    PERSONAL,
    Erased,
    HasPersonalData,
    PersonalDate,
    PersonalStr,
    may_hold_personal_data,
    personal_values,
    without_personal_text,
)


class Person(HasPersonalData):
    person_id: str
    name: PersonalStr
    nickname: PersonalStr | None = None
    born: PersonalDate | None = None
    plain: str = "not personal"


class Network(HasPersonalData):
    personal_subject_field: ClassVar[str] = "about"
    about: str
    adults: Annotated[tuple[str, ...] | Erased, PERSONAL] = ()


class Household(BaseModel):
    household_id: str
    head: Person | None = None
    members: tuple[Person, ...] = ()
    by_role: dict[str, Person] = {}
    network: Network | None = None
    note: str = ""


class Plain(BaseModel):
    text: str
    when: date


def test_optional_personal_field_is_found() -> None:
    assert may_hold_personal_data(Person)
    person = Person(person_id="p-1", name="Ann", nickname="Annie", born=date(1990, 1, 2))
    assert personal_values(person) == [
        (("name",), "p-1"), (("nickname",), "p-1"), (("born",), "p-1"),
    ]


def test_optional_personal_field_left_none_is_not_sealed() -> None:
    person = Person(person_id="p-1", name="Ann")
    assert personal_values(person) == [(("name",), "p-1")]


def test_erased_values_are_skipped() -> None:
    person = Person(person_id="p-1", name=Erased(), nickname=Erased(), born=date(1990, 1, 2))
    assert personal_values(person) == [(("born",), "p-1")]


def test_model_with_only_an_optional_personal_field_may_hold_personal_data() -> None:
    class Evaluation(HasPersonalData):
        person_id: str
        note: PersonalStr | None = None

    assert may_hold_personal_data(Evaluation)
    assert personal_values(Evaluation(person_id="p-2", note="x")) == [(("note",), "p-2")]
    assert personal_values(Evaluation(person_id="p-2")) == []


def test_personal_tuple_is_one_value() -> None:
    network = Network(about="p-3", adults=("Bob", "Carla"))
    assert personal_values(network) == [(("adults",), "p-3")]
    assert personal_values(Network(about="p-3")) == [(("adults",), "p-3")]


def test_nested_models_lists_and_dicts_in_field_order() -> None:
    household = Household(
        household_id="h-1",
        head=Person(person_id="p-1", name="Ann"),
        members=(Person(person_id="p-2", name="Bo", nickname="B"),),
        by_role={"child": Person(person_id="p-3", name="Cas")},
        network=Network(about="p-1", adults=("Dirk",)),
    )
    assert personal_values(household, ("payload",)) == [
        (("payload", "head", "name"), "p-1"),
        (("payload", "members", 0, "name"), "p-2"),
        (("payload", "members", 0, "nickname"), "p-2"),
        (("payload", "by_role", "child", "name"), "p-3"),
        (("payload", "network", "adults"), "p-1"),
    ]
    assert personal_values(Household(household_id="h-2")) == []


def test_models_without_personal_fields() -> None:
    assert not may_hold_personal_data(Plain)
    assert personal_values(Plain(text="t", when=date(2025, 1, 1))) == []


def test_field_typed_any_is_still_searched() -> None:
    class Envelope(HasPersonalData):
        person_id: str
        name: PersonalStr
        extra: Any = None

    envelope = Envelope(person_id="p-1", name="Ann",
                        extra=[Person(person_id="p-9", name="Zoe")])
    assert personal_values(envelope) == [
        (("name",), "p-1"), (("extra", 0, "name"), "p-9"),
    ]


def test_personal_field_without_subject_is_refused() -> None:
    class NoSubject(BaseModel):
        name: PersonalStr | None = None

    with pytest.raises(TypeError, match="does not derive from HasPersonalData"):
        personal_values(NoSubject(name="Ann"))


def test_marker_inside_a_container_is_refused() -> None:
    class Names(HasPersonalData):
        person_id: str
        names: tuple[PersonalStr, ...] = ()

    with pytest.raises(TypeError, match="PERSONAL may only mark a whole field"):
        may_hold_personal_data(Names)


def test_without_personal_text_keeps_the_dates_rules_decide_with() -> None:
    referral = Referral(
        referral_id="r-1", organisation="school", referrer="ib",
        members=(FamilyMember(person_id="p-1", role=MemberRole.CHILD, name="Kind Een",
                              birth_date=date(2014, 9, 2)),),
        reasons=(ReferralReason(about="p-1", life_domain=LifeDomain.HEALTH,
                                description="zorgen"),))
    shown = without_personal_text(referral)
    assert shown.members[0].name == Erased() and shown.reasons[0].description == Erased()
    assert shown.members[0].birth_date == date(2014, 9, 2)
    assert shown.referrer == "ib"  # not personal data: left alone
