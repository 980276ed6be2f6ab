"""Who a person is, for matching referrals to families (the Verwijsindex idea, inside
Regie): by BSN where the partner knows it, else by name and birth date.

Regie never keeps these identifiers as they are. `infra.persons` stores only a keyed
pseudonym (HMAC) of the normalised form made here, so two partners who write the same
child's name differently ("Sam de Vries", "SAM  DE VRIES", "Sám de Vries") still meet,
while the table says nothing to whoever reads it without the secret.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from enum import StrEnum
from typing import Annotated

from pydantic import Field, StringConstraints, field_validator, model_validator

from domain.family import (
    FamilyMember,
    LifeDomain,
    MemberRole,
    Referral,
    ReferralReason,
)
from domain.model import Frozen, Id, Name, Text

BSN_LENGTH = 9


def is_valid_bsn(bsn: str) -> bool:
    """The eleven test (elfproef) of a Dutch citizen service number: nine digits d1..d9
    with 9*d1 + 8*d2 + ... + 2*d8 - 1*d9 divisible by 11, not all zeros. Eight digits
    are a BSN with a leading zero dropped (as spreadsheets do)."""
    if not bsn.isascii() or not bsn.isdigit() or len(bsn) not in (8, BSN_LENGTH):
        return False
    digits = [int(c) for c in bsn.zfill(BSN_LENGTH)]
    if not any(digits):
        return False
    total = sum(weight * d for weight, d in zip(range(9, 1, -1), digits[:8], strict=True))
    return (total - digits[8]) % 11 == 0


def normalised_bsn(bsn: str) -> str:
    return bsn.zfill(BSN_LENGTH)


_NOT_LETTERS = re.compile(r"[^a-z0-9]+")


def normalised_name(name: str) -> str:
    """Case, accents, punctuation and spacing do not tell two people apart here:
    "Sám  de-Vries" and "sam de vries" are the same name."""
    decomposed = unicodedata.normalize("NFKD", name.casefold())
    letters = "".join(c for c in decomposed if not unicodedata.combining(c))
    return _NOT_LETTERS.sub(" ", letters).strip()


class IdentifierKind(StrEnum):
    BSN = "bsn"
    NAME_AND_BIRTH_DATE = "name_birth_date"


@dataclass(frozen=True)
class PersonIdentifier:
    """One way to recognise a person, normalised; never stored as it is."""

    kind: IdentifierKind
    value: str

    @classmethod
    def by_bsn(cls, bsn: str) -> PersonIdentifier:
        if not is_valid_bsn(bsn):
            raise ValueError("not a valid BSN (the eleven test fails)")
        return cls(IdentifierKind.BSN, normalised_bsn(bsn))

    @classmethod
    def by_name_and_birth_date(cls, name: str, born: date) -> PersonIdentifier:
        return cls(IdentifierKind.NAME_AND_BIRTH_DATE,
                   f"{normalised_name(name)}|{born.isoformat()}")


def identifiers(name: str, born: date, bsn: str | None) -> tuple[PersonIdentifier, ...]:
    """How a referred person may be recognised: the BSN first, where known, and always
    the name and birth date (another partner may not know the BSN)."""
    found = [PersonIdentifier.by_name_and_birth_date(name, born)]
    if bsn is not None:
        found.insert(0, PersonIdentifier.by_bsn(bsn))
    return tuple(found)


# -- a partner's referral, before Regie gives its persons and the case their ids ----------

PartnerRef = Annotated[str, StringConstraints(min_length=1, max_length=40,
                                              pattern=r"^[A-Za-z0-9._:-]+$")]


class ReferredMember(Frozen):
    """A family member as the partner knows them; `ref` is the partner's own, used only
    within this referral (reasons point at it)."""

    ref: PartnerRef
    role: MemberRole
    name: Name
    birth_date: date
    bsn: str | None = Field(default=None, description="Burgerservicenummer, where the "
                            "partner knows it; checked with the eleven test, never stored.")
    has_parental_authority: bool = False

    @field_validator("bsn")
    @classmethod
    def _eleven_test(cls, bsn: str | None) -> str | None:
        if bsn is not None and not is_valid_bsn(bsn.strip()):
            raise ValueError("not a valid BSN (the eleven test fails)")
        return None if bsn is None else bsn.strip()

    def identifiers(self) -> tuple[PersonIdentifier, ...]:
        return identifiers(self.name, self.birth_date, self.bsn)


class ReferredReason(Frozen):
    about: PartnerRef
    life_domain: LifeDomain
    description: Text


class PartnerReferral(Frozen):
    """A partner refers a family. Regie finds or makes the persons and the case: a family
    already in an open trajectory is joined, whatever reference the partner uses."""

    reference: Id = Field(description="Your own reference for this referral; a resend "
                                      "with the same reference is recorded once.")
    organisation: Id | None = Field(default=None, description="Your organisation's "
                                    "directory id; optional (the API key says it).")
    referrer: Name
    members: tuple[ReferredMember, ...] = Field(min_length=1, max_length=20)
    reasons: tuple[ReferredReason, ...] = Field(max_length=50)

    def referral(self, organisation: str, person_ids: Mapping[str, str],
                 possible_matches: tuple[str, ...] = ()) -> Referral:
        """The referral with Regie's person ids (`person_ids`: the partner's ref -> id).
        The referral id is the partner's reference, scoped to the partner."""
        scoped = hashlib.sha256(f"{organisation}\n{self.reference}".encode()).hexdigest()
        return Referral(
            referral_id=f"ref-{scoped[:24]}", organisation=organisation,
            referrer=self.referrer, reference=self.reference,
            possible_matches=possible_matches,
            members=tuple(FamilyMember(
                person_id=person_ids[m.ref], role=m.role, name=m.name,
                birth_date=m.birth_date, has_parental_authority=m.has_parental_authority)
                for m in self.members),
            reasons=tuple(ReferralReason(about=person_ids.get(r.about, r.about),
                                         life_domain=r.life_domain,
                                         description=r.description)
                          for r in self.reasons))

    @model_validator(mode="after")
    def _refs(self) -> PartnerReferral:
        refs = [m.ref for m in self.members]
        if len(set(refs)) != len(refs):
            raise ValueError("each member needs a ref of its own")
        return self
