"""A region's directory for access tests: partner organisations, the professionals
around one family, a manager, the process director, an intake organisation and an
operator. Made-up names only."""

from __future__ import annotations

from domain.policy import RegionPolicy
from infra.directory import DirectoryFile, OrganisationEntry, ProfessionalEntry, RegionEntry

SCHOOL = "school-linde"  # refers the family
GGD = "ggd-hn"  # has a professional (pro-team) in the family's team
POLICE = "police-hn"  # a partner with nothing to do with the family
WIJKTEAM = "wijkteam-a"  # the region's intake organisation

DIRECTORY = DirectoryFile(
    organisations=(
        OrganisationEntry(id=SCHOOL, name="Basisschool De Linde"),
        OrganisationEntry(id=GGD, name="GGD Hollands Noorden"),
        OrganisationEntry(id=POLICE, name="Politie Noord-Holland"),
        OrganisationEntry(id=WIJKTEAM, name="Wijkteam A"),
        OrganisationEntry(id="wijkteam-b", name="Wijkteam B"),
    ),
    professionals=(
        ProfessionalEntry(id="pro-coord", name="Coordinator Een", organisation_id=WIJKTEAM,
                          manager_id="pro-mgr"),
        ProfessionalEntry(id="pro-team", name="Teamlid Twee", organisation_id=GGD),
        ProfessionalEntry(id="pro-mgr", name="Manager Drie", organisation_id=WIJKTEAM),
        ProfessionalEntry(id="pro-dir", name="Procesregisseur Vier", organisation_id=GGD),
        ProfessionalEntry(id="pro-intake", name="Intaker Vijf", organisation_id=WIJKTEAM),
        ProfessionalEntry(id="pro-other", name="Buitenstaander Zes",
                          organisation_id="wijkteam-b"),
        ProfessionalEntry(id="op-1", name="Operator Zeven", organisation_id="wijkteam-b",
                          operator=True),
    ),
    regions=(RegionEntry(id=RegionPolicy().region, name="Testregio",
                         process_director_id="pro-dir", intake_organisation_id=WIJKTEAM),),
)
