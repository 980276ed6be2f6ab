"""Builders for test data. Tests may read the clock and make ids; the domain may not."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime

from domain.commands import ReferFamily
from domain.events import (
    EventMetadata,
    EventPayload,
    FamilyMember,
    LifeDomain,
    MemberRole,
    NewEvent,
    Referral,
    ReferralAdded,
    ReferralReason,
)
from domain.persons import PartnerReferral, ReferredMember, ReferredReason


def member(person_id: str, role: MemberRole = MemberRole.CHILD, name: str = "Sam de Vries",
           birth_date: date = date(2012, 5, 1)) -> FamilyMember:
    return FamilyMember(person_id=person_id, role=role, name=name, birth_date=birth_date,
                        has_parental_authority=role is MemberRole.PARENT)


def referral(referral_id: str = "ref-1", *, parent: str = "p-1", child: str = "c-1",
             parent_name: str = "Anna de Vries", child_name: str = "Sam de Vries",
             organisation: str = "Basisschool De Linde") -> Referral:
    return Referral(
        referral_id=referral_id,
        organisation=organisation,
        referrer="intern begeleider",
        members=(
            member(parent, MemberRole.PARENT, parent_name, date(1985, 3, 14)),
            member(child, MemberRole.CHILD, child_name, date(2014, 9, 2)),
        ),
        reasons=(
            ReferralReason(about=child, life_domain=LifeDomain.EDUCATION_WORK,
                           description=f"{child_name} verzuimt veel (frequent absence)"),
        ),
    )


def refer_family(case_id: str = "case-1", **kwargs: str) -> ReferFamily:
    return ReferFamily(case_id=case_id, referral=referral(**kwargs))


def plain_payload(case_id: str = "case-1", referral_id: str | None = None) -> ReferralAdded:
    """An event without personal data."""
    return ReferralAdded(case_id=case_id, referral=Referral(
        referral_id=referral_id or str(uuid.uuid4()), organisation="GGD", referrer="jgz",
        members=(), reasons=()))


def new_event(payload: EventPayload | None = None, *, actor: str = "test") -> NewEvent:
    return NewEvent.model_validate({
        "event_id": uuid.uuid4(),
        "occurred_at": datetime.now(UTC),
        "metadata": EventMetadata(actor=actor, correlation_id="corr-1"),
        "payload": payload or plain_payload(),
    })


def partner_referral(reference: str = "ref-1", *, family: str = "Een",
                     organisation: str | None = None, parent_bsn: str | None = None,
                     child_bsn: str | None = None, parent: str | None = None,
                     child_born: date = date(2014, 9, 2)) -> PartnerReferral:
    """A partner's referral of a made-up family ("Ouder Een", "Kind Een"); `family`
    makes another family, `parent` another parent of the same child."""
    return PartnerReferral(
        reference=reference, organisation=organisation, referrer="intern begeleider",
        members=(
            ReferredMember(ref="m1", role=MemberRole.PARENT,
                           name=parent or f"Ouder {family}", birth_date=date(1985, 3, 14),
                           bsn=parent_bsn, has_parental_authority=True),
            ReferredMember(ref="m2", role=MemberRole.CHILD, name=f"Kind {family}",
                           birth_date=child_born, bsn=child_bsn),
        ),
        reasons=(ReferredReason(about="m2", life_domain=LifeDomain.EDUCATION_WORK,
                                description="verzuimt veel"),),
    )
