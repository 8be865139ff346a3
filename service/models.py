"""Every table the service owns, imported in one place for Alembic and the tests."""

from service.audit.models import AuditEvent
from service.auth.models import ApiKey
from service.changes.models import IncidentChange
from service.curation.models import CurationJob
from service.db import Base
from service.digest.models import DigestRevision
from service.geography.models import AdminArea, AdminAreaName, AdminAreaPiece
from service.importer.models import ImportedRecord
from service.incident.models import Incident, IncidentPendingReview
from service.maps.models import (
    DataVersion,
    IncidentCellCount,
    IncidentCellDay,
    IncidentCellMonth,
    IncidentDailyCount,
    IncidentRollupDelta,
    IncidentTotal,
)
from service.party.models import (
    Guarantor,
    Party,
    PartyAlias,
    PartyCoalition,
    PartyCoalitionMember,
    PartyCoverage,
    PartyGuarantor,
)
from service.report.models import IdempotencyRecord, Report, ReportRevision
from service.scheduler.models import JobRun
from service.subscription.models import Delivery, DeliveryAttempt, Subscription
from service.theatre.models import Theatre

__all__ = [
    "AdminArea",
    "AdminAreaName",
    "AdminAreaPiece",
    "ApiKey",
    "AuditEvent",
    "Base",
    "CurationJob",
    "DataVersion",
    "Delivery",
    "DeliveryAttempt",
    "DigestRevision",
    "Guarantor",
    "IdempotencyRecord",
    "ImportedRecord",
    "Incident",
    "IncidentChange",
    "IncidentPendingReview",
    "IncidentCellCount",
    "IncidentCellDay",
    "IncidentCellMonth",
    "IncidentDailyCount",
    "IncidentRollupDelta",
    "IncidentTotal",
    "JobRun",
    "Party",
    "PartyAlias",
    "PartyCoalition",
    "PartyCoalitionMember",
    "PartyCoverage",
    "PartyGuarantor",
    "Report",
    "ReportRevision",
    "Subscription",
    "Theatre",
]
