"""Recognising persons: the BSN eleven test and the normal forms that are pseudonymised."""

from __future__ import annotations

from datetime import date

import pytest

from domain.persons import (
    IdentifierKind,
    PersonIdentifier,
    identifiers,
    is_valid_bsn,
    normalised_name,
)


@pytest.mark.parametrize("bsn", ["111222333", "123456782", "999999990", "10000021"])
def test_numbers_that_pass_the_eleven_test(bsn: str) -> None:
    assert is_valid_bsn(bsn)


@pytest.mark.parametrize("bsn", [
    "111222334",  # one digit off
    "123456789",  # the classic typo
    "000000000",  # all zeros passes the sum, but is no number
    "12345678901", "1234567", "",  # too long, too short, empty
    "12345678a", "１１１２２２３３３",  # not ASCII digits (the second: full-width)
])
def test_numbers_that_fail_it(bsn: str) -> None:
    assert not is_valid_bsn(bsn)


def test_a_dropped_leading_zero_is_the_same_number() -> None:
    assert PersonIdentifier.by_bsn("10000021") == PersonIdentifier.by_bsn("010000021")


def test_names_meet_whatever_their_case_accents_and_spacing() -> None:
    assert normalised_name("  Sám  de-Vries ") == normalised_name("SAM DE VRIES") == \
        "sam de vries"
    assert normalised_name("Anne-Marie") != normalised_name("Anne Maria")


def test_a_person_is_recognised_by_bsn_first_and_always_by_name_and_birth_date() -> None:
    found = identifiers("Kind Een", date(2014, 9, 2), "111222333")
    assert [i.kind for i in found] == [IdentifierKind.BSN, IdentifierKind.NAME_AND_BIRTH_DATE]
    assert found[1].value == "kind een|2014-09-02"
    with pytest.raises(ValueError, match="eleven test"):
        identifiers("Kind Een", date(2014, 9, 2), "111222334")
