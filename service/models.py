"""Every table the service owns, imported in one place for Alembic and the tests."""

from service.db import Base
from service.geography.models import AdminArea, AdminAreaName, AdminAreaPiece
from service.party.models import Guarantor, Party, PartyAlias, PartyCoverage, PartyGuarantor
from service.theatre.models import Theatre

__all__ = [
    "AdminArea",
    "AdminAreaName",
    "AdminAreaPiece",
    "Base",
    "Guarantor",
    "Party",
    "PartyAlias",
    "PartyCoverage",
    "PartyGuarantor",
    "Theatre",
]
