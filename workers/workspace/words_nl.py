"""Every word the workspace shows, in Dutch, in one place.

The templates and the code name a word by its key; an English file with the same keys
can follow (`WORDS` is the one table a language needs). Domain values (phases, rules,
roles, events) are translated here too, by their value in code. The rules' refusal
messages come from the domain and are shown as the domain wrote them.
"""

from __future__ import annotations

from typing import Final

LANG: Final = "nl"

MONTHS: Final = ("januari", "februari", "maart", "april", "mei", "juni", "juli",
                 "augustus", "september", "oktober", "november", "december")

WORDS: Final[dict[str, str]] = {
    # the frame
    "app": "Regie werkplek",
    "skip": "Naar de inhoud",
    "nav": "Hoofdmenu",
    "nav.my_cases": "Mijn gezinnen",
    "nav.escalations": "Opschaling",
    "nav.caseload": "Caseload",
    "nav.region": "Regiocijfers",
    "signed_in_as": "Ingelogd als",
    "sign_out": "Uitloggen",
    # sign-in
    "login.title": "Inloggen",
    "login.dev_intro": "Lokale ontwikkelomgeving: kies een professional uit de "
                       "organisatiegids. Deze pagina bestaat niet in productie.",
    "login.professional": "Professional (id uit de organisatiegids)",
    "login.submit": "Inloggen",
    "login.oidc_intro": "Log in bij de identiteitsprovider van de regio.",
    "login.oidc_submit": "Inloggen bij de regio",
    "login.unknown": "Deze professional staat niet (actief) in de organisatiegids.",
    "login.failed": "Inloggen is niet gelukt",
    "login.expired": "De inlogpoging is verlopen; begin opnieuw.",
    "login.not_configured": "Inloggen bij de regio is niet ingesteld (REGIE_OIDC_CLIENT_ID, "
                            "REGIE_OIDC_AUTHORIZATION_URL en REGIE_OIDC_TOKEN_URL).",
    "login.no_login": "Er is geen manier om in te loggen ingesteld.",
    "login.done": "U bent ingelogd.",
    "login.continue": "Verder naar de werkplek",
    "session.ended": "Uw sessie is verlopen of u bent niet ingelogd. Log opnieuw in.",
    "partners_not_here": "De werkplek is voor professionals. Partnerorganisaties gebruiken "
                         "de API met hun sleutel.",
    "csrf": "Dit formulier is verlopen of komt niet van deze werkplek; laad de pagina "
            "opnieuw en probeer het nog eens.",
    # lists
    "my_cases.title": "Mijn gezinnen",
    "my_cases.intro": "Gezinnen waar u coördinator of teamlid bent, het dringendste eerst.",
    "my_cases.none": "U heeft nu geen gezinnen.",
    "col.case": "Gezin (casus)",
    "col.phase": "Fase",
    "col.role": "Uw rol",
    "col.next_deadline": "Volgende termijn",
    "col.escalation": "Opschaling",
    "col.working_days_left": "Werkdagen over",
    "col.level": "Niveau",
    "col.assignee": "Bij",
    "col.deadline": "Termijn",
    "col.cause": "Oorzaak",
    "col.action": "Actie",
    "col.coordinator": "Coördinator",
    "col.open_cases": "Open gezinnen",
    "col.cap": "Maximum",
    "none": "geen",
    "you": "u",
    "overdue": "VERLOPEN",
    "overdue.long": "termijn verlopen",
    "days_left": "{n} werkdagen",
    "days_over": "{n} werkdagen te laat",
    # the case
    "case.title": "Gezin {case_id}",
    "case.family": "Het gezin",
    "case.name_erased": "(gewist)",
    "case.born": "geboren",
    "case.parental_authority": "gezag",
    "case.consents": "Toestemming",
    "case.consent_purpose": "Doel",
    "case.consent_recipient": "Ontvanger",
    "case.consent_subject": "Over",
    "case.consent_given_by": "Gegeven door",
    "case.consent_status": "Status",
    "case.consent_active": "geldig",
    "case.consent_withdrawn": "ingetrokken op {when}",
    "case.no_consents": "Nog geen toestemming vastgelegd.",
    "case.team": "Team en coördinator",
    "case.coordinator": "coördinator",
    "case.no_team": "Nog geen team.",
    "case.plan": "Het gezinsplan",
    "case.plan_version": "versie {version}",
    "case.no_plan": "Er is nog geen actief plan.",
    "case.goals": "Doelen per gezinslid",
    "case.goal_for": "Voor",
    "case.life_domain": "Leefgebied",
    "case.goal": "Doel",
    "case.criterion": "Wanneer bereikt",
    "case.involved": "Betrokkenen",
    "case.agreements": "Afspraken",
    "case.agreement": "Afspraak",
    "case.owner": "Wie",
    "case.due": "Uiterlijk",
    "case.status": "Status",
    "case.done": "afgerond",
    "case.open": "open",
    "case.evaluation": "Evaluatie",
    "case.evaluation_date": "Volgende evaluatie",
    "case.decisions": "Besluiten uit opschaling",
    "case.binding": "bindend (doorzettingsmacht)",
    "case.escalations": "Opschaling",
    "case.no_escalations": "Geen open opschaling.",
    "case.timeline": "Tijdlijn",
    "case.by": "door",
    # forms
    "form.evaluate": "Plan evalueren",
    "form.progress": "Voortgang",
    "form.note": "Toelichting",
    "form.final": "Dit is de laatste evaluatie",
    "form.next_evaluation_date": "Datum volgende evaluatie",
    "form.record_progress": "Voortgang vastleggen",
    "form.goal": "Doel",
    "form.complete_agreement": "Afspraak afronden",
    "form.contact_attempt": "Contactpoging vastleggen",
    "form.channel": "Kanaal (bijv. telefoon, huisbezoek)",
    "form.reached": "Gezin bereikt",
    "form.acknowledge": "Opschaling bevestigen",
    "form.resolve": "Opschaling oplossen",
    "form.resolve_binding": "Bindend besluit nemen (doorzettingsmacht)",
    "form.decision": "Besluit",
    "form.submit": "Vastleggen",
    "form.done": "Vastgelegd.",
    "form.replayed": "Dit formulier was al verstuurd; er is niets dubbel gedaan.",
    "form.refused": "Niet vastgelegd",
    "form.invalid": "Controleer de velden; er is niets vastgelegd.",
    "form.required": "vul dit veld in",
    "form.yes": "ja",
    "form.no": "nee",
    # overviews
    "escalations.title": "Opschaling",
    "escalations.intro": "Open opschalingen per niveau, met wie aan zet is en de termijn "
                         "in werkdagen. Verlopen termijnen staan bovenaan en zijn gemarkeerd.",
    "escalations.none": "Geen open opschalingen.",
    "escalations.level": "Niveau {level}",
    "caseload.title": "Caseload per coördinator",
    "caseload.intro": "Open gezinnen per coördinator tegenover het maximum van de regio "
                      "({cap}).",
    "caseload.chart": "Staafdiagram: open gezinnen per coördinator, met de lijn van het "
                      "maximum.",
    "caseload.over": "boven het maximum",
    "caseload.none": "Nog geen coördinatoren met open gezinnen.",
    "region.title": "Regiocijfers",
    "region.intro": "De cijfers van de regio voor {year}, zoals regie report ze geeft. "
                    "Elke grafiek staat ook als tekst in de staven.",
    "region.year": "Jaar",
    "region.show": "Toon",
    "region.summary": "{referred} aangemeld, {started} in zorg gekomen, {closed} afgesloten.",
    "region.working_days": "werkdagen",
    "region.waiting": "Wachttijden tegenover de norm",
    "region.waiting_desc": "Mediane wachttijd in werkdagen per fase; gearceerd is boven de "
                           "norm.",
    "region.wait_note": "norm {norm} weken = {days} werkdagen; {within} van {waits} binnen "
                        "de norm, {share}",
    "region.waiting_explain": "Wachttijden die in dit jaar begonnen; een staaf boven de norm "
                              "is gearceerd.",
    "region.stagnations": "Stagnaties naar oorzaak",
    "region.stagnations_desc": "Geopende opschalingen per oorzaak, met het niveau waarop ze "
                               "zijn opgelost.",
    "region.stagnation_note": "opgelost op niveau {levels}; nog open {open}",
    "region.stagnations_explain": "Opschalingen die in dit jaar zijn geopend.",
    "region.resolved_levels": "Opgelost per niveau",
    "region.resolved_levels_desc": "Opschalingen opgelost op niveau 1 (coördinator), 2 "
                                   "(leidinggevende) en 3 (procesregisseur).",
    "region.binding": "Bindende besluiten (doorzettingsmacht) dit jaar: {n}.",
    "region.plans": "Familiegroepsplannen per jaar",
    "region.plans_desc": "Gemaakte familiegroepsplannen per jaar, met de lijn van het doel "
                         "van de regio; gearceerd is onder het doel.",
    "region.plans_explain": "De laatste vijf jaar tot en met het gekozen jaar.",
    "region.aim": "doel {aim}",
    "region.below_aim": "onder het doel",
    "region.revolving": "Draaideur",
    "region.revolving_desc": "Deel van de afgesloten trajecten dat binnen de nazorgperiode "
                             "is heropend.",
    "region.door_note": "{reopened} van {closures} heropend binnen {months} maanden",
    "region.revolving_explain": "Afsluitingen in dit jaar; wie nog in de nazorgperiode zit, "
                                "kan nog terugkomen.",
    "forbidden": "Geen toegang",
    "not_found": "Niet gevonden",
    "error": "Er ging iets mis",
    "busy": "Het systeem is even bezet; probeer het zo opnieuw.",
}

PHASES: Final[dict[str, str]] = {
    "referred": "aangemeld", "accepted": "intake geaccepteerd", "in_care": "in zorg",
    "aftercare": "nazorg", "ended": "beëindigd"}

ROLES: Final[dict[str, str]] = {
    "coordinator": "coördinator", "team_member": "teamlid", "intake": "intake",
    "manager": "leidinggevende", "process_director": "procesregisseur",
    "operator": "teamleider / beheer", "partner": "partner", "region": "regio"}

RULES: Final[dict[str, str]] = {
    "waiting_norm_intake": "wachttijd tot intake overschreden",
    "waiting_norm_care_start": "wachttijd tot start zorg overschreden",
    "plan_not_adopted": "plan niet op tijd vastgesteld",
    "evaluation_overdue": "evaluatie te laat",
    "agreement_overdue": "afspraak te laat",
    "written_copy_overdue": "schriftelijk plan te laat",
    "no_progress": "herhaald geen voortgang",
    "family_unreachable": "gezin niet bereikbaar (zorgmijding)",
    "reported": "stagnatie gemeld"}

PROGRESS: Final[dict[str, str]] = {
    "achieved": "bereikt", "progressing": "gaat vooruit", "no_progress": "geen voortgang"}

LIFE_DOMAINS: Final[dict[str, str]] = {
    "health": "gezondheid", "upbringing": "opvoeding", "education_work": "school en werk",
    "finances": "financiën", "housing": "wonen", "social_network": "sociaal netwerk",
    "safety": "veiligheid", "daily_life": "dagelijks leven", "addiction": "verslaving",
    "justice": "justitie"}

STAGES: Final[dict[str, str]] = {
    "intake": "aanmelding tot intake", "care_start": "intake tot start zorg"}

MEMBER_ROLES: Final[dict[str, str]] = {"parent": "ouder", "child": "kind", "other": "anders"}

TEAM_KINDS: Final[dict[str, str]] = {
    "professional": "professional", "relative": "familie", "neighbour": "buur",
    "mentor": "JIM-mentor", "other_network": "netwerk"}

CONSENT_PURPOSES: Final[dict[str, str]] = {
    "help": "hulp", "share_information": "informatie delen"}

# The timeline: what each event means, in the words of the people on the case.
EVENTS: Final[dict[str, str]] = {
    "TrajectoryReferred": "Gezin aangemeld",
    "ReferralAdded": "Nog een aanmelding voor dit gezin",
    "IntakeRecorded": "Intake vastgelegd",
    "ConsentGiven": "Toestemming gegeven",
    "ConsentWithdrawn": "Toestemming ingetrokken",
    "InformationShared": "Informatie gedeeld",
    "WaitingContactAssigned": "Contactpersoon tijdens het wachten",
    "CareStarted": "Zorg gestart",
    "TeamMemberAdded": "Teamlid toegevoegd",
    "TeamMemberRemoved": "Teamlid uit het team",
    "FamilyPreferenceRecorded": "Voorkeur van het gezin vastgelegd",
    "CoordinatorAppointed": "Coördinator benoemd",
    "FamilyGroupPlanOffered": "Familiegroepsplan aangeboden",
    "FamilyGroupPlanSkipped": "Familiegroepsplan overgeslagen",
    "FamilyGroupPlanLapsed": "Termijn familiegroepsplan verstreken",
    "PlanAdopted": "Plan vastgesteld",
    "ProgressReported": "Voortgang gemeld",
    "AgreementCompleted": "Afspraak afgerond",
    "PlanEvaluated": "Plan geëvalueerd",
    "WrittenCopyRequested": "Schriftelijk plan gevraagd",
    "WrittenCopyProvided": "Schriftelijk plan gegeven",
    "StagnationFound": "Stagnatie vastgesteld",
    "PartnerSignalRecorded": "Signaal van een partner",
    "ManagerReviewRecorded": "Beoordeling door leidinggevende",
    "TrajectoryClosed": "Traject afgesloten",
    "CheckInDue": "Nazorgcontact gepland",
    "CheckInRecorded": "Nazorgcontact gehad",
    "CheckInMissed": "Nazorgcontact gemist",
    "TrajectoryReopened": "Traject heropend (draaideur)",
    "AftercareEnded": "Nazorg afgelopen",
    "ContactAttempted": "Contactpoging",
    "EscalationOpened": "Opschaling geopend",
    "EscalationFindingAttached": "Opschaling: nieuwe aanleiding",
    "EscalationLevelAssigned": "Opschaling naar niveau",
    "EscalationAcknowledged": "Opschaling bevestigd",
    "EscalationResolved": "Opschaling opgelost",
    "EscalationClosed": "Opschaling gesloten",
    "RegionAlerted": "Regio gewaarschuwd",
}


def word(key: str, **values: object) -> str:
    text = WORDS[key]
    return text.format(**values) if values else text
