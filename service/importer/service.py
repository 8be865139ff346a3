"""Importing real event data through the same path as the API.

Every row goes through ``service.report.service.submit`` (locating, attribution,
classification, incidents, revisions, audit), a chunk per transaction, as the reports of one
dedicated reporter key: the importer's own. The key is created on first use and its secret
thrown away (nobody posts with it). Each row's ``client_report_id`` derives from its source
id, so importing a file again replays what is already stored and adds nothing.

An interrupted import keeps the chunks it committed; running it again finishes the rest.

With ``verified_by`` (the name of the source that vouches for the events, e.g. "UCDP GED"),
each row's incident is verified in the same transaction as its chunk, through the one way a
verdict is written (``incident.verification.record_verdicts``: status, review note and an
``incident.reviewed`` audit event). Only unverified incidents are touched: a verifier's
verdict is never overridden, and a re-run verifies nothing twice.
"""

from __future__ import annotations

import csv
import hashlib
import io
import re
import time
import uuid
from collections import Counter, deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO, NamedTuple, TypeVar

from sqlalchemy import text
from sqlalchemy.orm import Session

from service.audit.service import CONSOLE
from service.auth.service import create_key
from service.errors import Invalid, ServiceError
from service.event.terms import IncidentStatus
from service.importer import rows, ucdp
from service.importer.ucdp import Mapped, Refusal, client_report_hex, to_report
from service.incident.verification import record_verdicts
from service.report.service import Outcome, Submitter, submit
from service.theatre.terms import load_terms

UCDP_KEY_NAME = "importer: UCDP GED"
# Columns the mapping reads; a file without them is not a GED extract.
UCDP_COLUMNS = (
    "id",
    "date_start",
    "date_end",
    "date_prec",
    "where_prec",
    "latitude",
    "longitude",
    "side_a",
    "side_b",
    "best",
    "deaths_civilians",
    "source_headline",
    "source_office",
)
DEFAULT_CHUNK_SIZE = 500
# The longest source name ``--verified-by`` takes (it goes into each incident's review note).
MAX_SOURCE_NAME = 200
_EXAMPLES_PER_REASON = 3

T = TypeVar("T")

# The status of an outcome that revised a stored report (a store's; ``submit`` gives 201).
REVISED = 200
# What a mapping makes of a row (UCDP's own classes, or the shared ones of ``rows``).
Item = Mapped | Refusal | rows.Mapped | rows.Refusal | rows.Skipped
# Stores a chunk's mapped rows (``submit_rows`` by default): each row with its outcome.
Store = Callable[[Session, Submitter, list[Any], "ImportSummary"], list[tuple[Any, Outcome]]]


@dataclass
class ImportSummary:
    """What an import did, for its closing report."""

    rows: int = 0
    imported: int = 0
    already_present: int = 0
    # stored reports revised by a newer version of their row (sources that revise rows)
    revised: int = 0
    refused: Counter[str] = field(default_factory=Counter)
    # rows deliberately left out (not violations, older versions), by reason
    skipped: Counter[str] = field(default_factory=Counter)
    # reason -> the first few (source id, detail), to find the rows again
    examples: dict[str, list[tuple[str, str]]] = field(default_factory=dict)
    # actor names (perpetrator or target) that resolved to no party, with their counts
    unresolved: Counter[str] = field(default_factory=Counter)
    # incidents this import verified (with ``verified_by``)
    verified: int = 0
    seconds: float = 0.0

    def refuse(self, source_id: str, reason: str, detail: str) -> None:
        self.refused[reason] += 1
        self._example(source_id, reason, detail)

    def skip(self, source_id: str, reason: str, detail: str) -> None:
        self.skipped[reason] += 1
        self._example(source_id, reason, detail)

    def _example(self, source_id: str, reason: str, detail: str) -> None:
        examples = self.examples.setdefault(reason, [])
        if len(examples) < _EXAMPLES_PER_REASON:
            examples.append((source_id, detail))


def importer_key(*, session: Session, name: str) -> uuid.UUID:
    """The importer's reporter key, created on first use (the secret is discarded).

    Client report ids are unique per reporter key, so idempotency depends on always using
    this same key: a revoked one is refused rather than silently replaced.
    """
    # Two imports starting at once must not each create a key.
    session.execute(text("SELECT pg_advisory_xact_lock(hashtext(:name))"), {"name": name})
    row = session.execute(
        text(
            "SELECT id, role, revoked_at FROM api_keys WHERE name = :name"
            " ORDER BY created_at, id LIMIT 1"
        ),
        {"name": name},
    ).first()
    if row is None:
        key, _secret = create_key(session=session, role="reporter", name=name, actor=CONSOLE)
        return key["id"]
    if row.role != "reporter" or row.revoked_at is not None:
        raise Invalid(
            f"the importer's key {name!r} ({row.id}) is revoked or not a reporter key;"
            " imports are keyed on it, so it cannot be replaced silently"
        )
    return row.id


def count_rows(path: Path) -> int:
    """Records in a CSV file (quoted fields may hold line breaks, so lines do not count)."""
    with _open(path) as handle:
        return max(0, sum(1 for _ in _records(csv.reader(handle))) - 1)  # less the header


def _open(path: Path):
    # utf-8-sig: exports from spreadsheets start with a byte-order mark.
    return path.open(newline="", encoding="utf-8-sig", errors="replace")


def _records(reader: Iterator[list[str]]) -> Iterator[list[str] | csv.Error]:
    """Each record, or the error that made one unreadable (the reader then moves on)."""
    while True:
        try:
            yield next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            yield exc


class _Record(NamedTuple):
    """One CSV record as parsed (or the error that made it unreadable), before mapping."""

    number: int
    fields: list[str] | csv.Error


class _Raw(NamedTuple):
    """One record as it stands in the file (its lines, quoted line breaks included), before
    parsing: a re-import fingerprints it as it is and parses only those not stored."""

    number: int
    text: bytes


def _raw_records(handle: BinaryIO) -> Iterator[bytes]:
    """The file's records as they stand: its lines, joined while a quoted field is open (an
    odd number of quotes so far; CSV doubles a quote inside a quoted field)."""
    record = b""
    for line in handle:
        record += line
        if record.count(b'"') % 2 == 0:
            yield record
            record = b""
    if record:
        yield record


def _parse(raw: _Raw) -> list[_Record]:
    """The CSV record of a raw one (or records, should its quotes fool ``_raw_records``)."""
    text = raw.text.decode("utf-8", errors="replace")
    return [
        _Record(raw.number, fields)
        for fields in _records(csv.reader(io.StringIO(text, newline="")))
    ]


def _read_raw(path: Path) -> tuple[list[str], Iterator[_Raw]]:
    """The header of a GED CSV (checked) and its records as they stand, unparsed."""
    csv.field_size_limit(10 * 1024 * 1024)
    handle = path.open("rb")
    texts = _raw_records(handle)
    # utf-8-sig: exports from spreadsheets start with a byte-order mark.
    first = next(texts, b"").decode("utf-8-sig", errors="replace")
    header = next(_records(csv.reader(io.StringIO(first, newline=""))), None)
    if not isinstance(header, list):
        handle.close()
        raise Invalid(f"{path.name}: no CSV header")
    missing = [c for c in UCDP_COLUMNS if c not in header]
    if missing:
        handle.close()
        raise Invalid(f"{path.name}: not a UCDP GED CSV (no {', '.join(missing)} column)")

    def each() -> Iterator[_Raw]:
        with handle:
            for number, text in enumerate(texts, start=1):
                yield _Raw(number, text)

    return header, each()


def _map(header: list[str], record: _Record, *, timezone: Any) -> Mapped | Refusal:
    fields = record.fields
    if isinstance(fields, csv.Error):
        return Refusal(f"record {record.number}", "unreadable CSV record", str(fields))
    if len(fields) != len(header):
        return Refusal(
            fields[0] if fields else f"record {record.number}",
            "wrong number of fields",
            f"record {record.number} has {len(fields)} fields, the header {len(header)}",
        )
    return to_report(dict(zip(header, fields, strict=True)), timezone=timezone)


def read_ucdp(path: Path, *, timezone: Any) -> Iterator[Mapped | Refusal]:
    """Each record of a GED CSV mapped to a report, or refused."""
    header, raws = _read_raw(path)
    for raw in raws:
        for record in _parse(raw):
            yield _map(header, record, timezone=timezone)


def read_csv(
    path: Path,
    *,
    columns: tuple[str, ...],
    what: str,
    to_report: Callable[..., Item],
    timezone: Any,
) -> Iterator[Item]:
    """Each record of a CSV with (at least) ``columns`` mapped by ``to_report``, or refused;
    ``columns[0]`` names the row's source id."""
    csv.field_size_limit(10 * 1024 * 1024)
    with _open(path) as handle:
        records = _records(csv.reader(handle))
        header = next(records, None)
        if not isinstance(header, list):
            raise Invalid(f"{path.name}: no CSV header")
        missing = [c for c in columns if c not in header]
        if missing:
            raise Invalid(f"{path.name}: not {what} (no {', '.join(missing)} column)")
        id_at = header.index(columns[0])
        for number, record in enumerate(records, start=1):
            if isinstance(record, csv.Error):
                yield Refusal(f"record {number}", "unreadable CSV record", str(record))
            elif len(record) != len(header):
                yield Refusal(
                    (record[id_at] if len(record) > id_at else "")[:40] or f"record {number}",
                    "wrong number of fields",
                    f"record {number} has {len(record)} fields, the header {len(header)}",
                )
            else:
                yield to_report(dict(zip(header, record, strict=True)), timezone=timezone)


def mapping_fingerprint(timezone: Any) -> bytes:
    """What a record's report depends on besides the record: the mapping's code and the
    theatre's time zone. A change to either makes every record new to ``_known``."""
    code = Path(ucdp.__file__).read_bytes()
    return hashlib.sha256(code + b"\x00" + str(timezone).encode()).digest()


def record_hashing(fingerprint: bytes, header: list[str]) -> Callable[[bytes], str]:
    """The fingerprint of one record as it stands in the file (its bytes, less the line
    break), under ``fingerprint`` (``mapping_fingerprint``) and the file's header: SHA-256 of
    the three (the common prefix hashed once, then copied for each record)."""
    prefix = hashlib.sha256(fingerprint)
    prefix.update(b"raw record\x1e")
    prefix.update("\x1f".join(header).encode())
    prefix.update(b"\x1e")

    def record_hash(text: bytes) -> str:
        digest = prefix.copy()
        digest.update(text.rstrip(b"\r\n"))
        return digest.hexdigest()

    return record_hash


def _ahead(items: Iterator[T], pool: ThreadPoolExecutor, depth: int = 2) -> Iterator[T]:
    """``items`` up to their first None, the next ``depth`` computed on ``pool`` (one thread,
    so in order) while the caller works on the one before."""
    pending = deque(pool.submit(next, items, None) for _ in range(depth))
    while (item := pending.popleft().result()) is not None:
        pending.append(pool.submit(next, items, None))
        yield item


def _chunks(items: Iterable[T], size: int) -> Iterator[list[T]]:
    chunk: list[T] = []
    for item in items:
        chunk.append(item)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


_NUMBERS = re.compile(r"\d[\d.:T+-]*")


def refusal_reason(error: ServiceError) -> str:
    """A countable reason for a report ``submit`` refused: the field and the message without
    its particulars (numbers, the parenthesised explanation)."""
    fields = [e.get("field", "") for e in (error.errors or [])]
    where = fields[0].removeprefix("body.") if fields else ""
    if where == "client_report_id":
        return "changed since it was imported (same id, different content)"
    message = error.detail.removeprefix(f"{where}: ").split(" (")[0]
    return f"{where}: {_NUMBERS.sub('#', message)}" if where else _NUMBERS.sub("#", message)


def _tally(summary: ImportSummary, results: list[tuple[Any, Outcome]]) -> None:
    for item, outcome in results:
        if outcome.error is not None:
            summary.refuse(item.source_id, refusal_reason(outcome.error), outcome.error.detail)
            continue
        if outcome.created:
            summary.imported += 1
        elif outcome.status == REVISED:
            summary.revised += 1
        else:
            summary.already_present += 1
        report = outcome.report or {}
        for role in ("perpetrator", "target"):
            actor = report.get(role) or {}
            if actor.get("raw") and actor.get("party_id") is None:
                summary.unresolved[actor["raw"]] += 1


def verification_note(source: str) -> str:
    """The review note of an incident verified by an import: it names the source."""
    return f"verified by {source} (imported)"


def _verify(
    session: Session, summary: ImportSummary, incident_ids: list[uuid.UUID], source: str
) -> None:
    """Verify, as ``source`` vouches, the incidents of the rows stored or already present."""
    summary.verified += len(
        record_verdicts(
            session,
            incident_ids=incident_ids,
            status=IncidentStatus.verified,
            note=verification_note(source),
            actor=CONSOLE,
            only_unverified=True,
        )
    )


# Each id looked up by itself (the lateral subquery, kept whole by OFFSET 0, is two unique
# index probes per id): a join over the key's records would be planned from statistics, and
# without any (after a bulk load, autovacuum off) PostgreSQL scanned every record and report
# of the key for each chunk, its time growing with what is stored.
_KNOWN = text(
    """
    SELECT replace(CAST(i.client_report_id AS text), '-', '') AS client_report_id, k.*
    FROM unnest(CAST(:ids AS uuid[])) AS i(client_report_id)
    CROSS JOIN LATERAL (
        SELECT k.record_hash, r.incident_id, r.perpetrator_raw, r.perpetrator_party_id,
               r.target_raw, r.target_party_id
        FROM imported_records k JOIN reports r ON r.id = k.report_id
        WHERE k.reporter_key_id = :key AND k.client_report_id = i.client_report_id
        OFFSET 0
    ) AS k
    """
)

_REMEMBER = text(
    """
    INSERT INTO imported_records (reporter_key_id, client_report_id, report_id, record_hash)
    SELECT :key, k.client_report_id, k.report_id, k.record_hash
    FROM unnest(CAST(:ids AS uuid[]), CAST(:report_ids AS uuid[]), CAST(:hashes AS text[]))
        AS k(client_report_id, report_id, record_hash)
    ORDER BY k.client_report_id
    ON CONFLICT (reporter_key_id, client_report_id)
        DO UPDATE SET record_hash = excluded.record_hash, report_id = excluded.report_id
    """
)


def _known(session: Session, key_id: uuid.UUID, hashes: dict[str, str]) -> dict[str, Any]:
    """Of a chunk's records (client report id as hex -> record hash), those already stored
    unchanged: one query, before any record is mapped."""
    if not hashes:
        return {}
    found = session.execute(_KNOWN, {"key": key_id, "ids": list(hashes)}).all()
    return {
        row.client_report_id: row
        for row in found
        if row.record_hash == hashes[row.client_report_id]
    }


def _remember(
    session: Session, key_id: uuid.UUID, stored: dict[str, tuple[str, uuid.UUID]]
) -> None:
    """Fingerprint the records whose reports are now stored (new or replayed): client report
    id as hex -> (record hash, report id)."""
    if stored:
        session.execute(
            _REMEMBER,
            {
                "key": key_id,
                "ids": list(stored),
                "report_ids": [report_id for _, report_id in stored.values()],
                "hashes": [record_hash for record_hash, _ in stored.values()],
            },
        )


def _tally_known(summary: ImportSummary, stored: Iterable[Any]) -> None:
    """Count records already stored unchanged, as ``_tally`` counts a replay."""
    for row in stored:
        summary.already_present += 1
        for raw, party in (
            (row.perpetrator_raw, row.perpetrator_party_id),
            (row.target_raw, row.target_party_id),
        ):
            if raw and party is None:
                summary.unresolved[raw] += 1


@dataclass
class _Chunk:
    """A chunk of records: those already stored unchanged (found by fingerprint), and the
    mapping of the rest (running on the mapper thread)."""

    records: list[_Raw]
    keyed: list[tuple[str, str] | None]  # (client report id, record hash), if it has an id
    known: dict[str, Any]  # by client report id as hex
    mapped: Future[list[tuple[Mapped | Refusal, tuple[str, str] | None]]]

    def unchanged(self) -> list[Any]:
        """The stored rows of the records already stored unchanged, one per record."""
        return [
            self.known[keys[0]]
            for keys in self.keyed
            if keys is not None
            and keys[0] in self.known
            and self.known[keys[0]].record_hash == keys[1]
        ]


@dataclass
class _Fingerprinted:
    """A chunk of records as they stand, each with its (client report id, record hash)."""

    records: list[_Raw]
    keyed: list[tuple[str, str] | None]
    hashes: dict[str, str]  # client report id as hex -> record hash (the first, if repeated)


@dataclass
class _ChunkReader:
    header: list[str]
    fingerprint: bytes
    timezone: Any
    key_id: uuid.UUID

    def fingerprint_all(self, records: Iterator[_Raw], size: int) -> Iterator[_Fingerprinted]:
        """The records in chunks of ``size``, fingerprinted as they stand (pure Python: on the
        reading thread, while the chunk before is looked up and stored)."""
        record_hash = record_hashing(self.fingerprint, self.header)
        for records_ in _chunks(records, size):
            keyed: list[tuple[str, str] | None] = []
            hashes: dict[str, str] = {}
            for record in records_:
                source_id = self._source_id(record)
                if source_id is None:
                    keyed.append(None)
                    continue
                keys = (client_report_hex(source_id), record_hash(record.text))
                keyed.append(keys)
                hashes.setdefault(*keys)
            yield _Fingerprinted(records_, keyed, hashes)

    def _source_id(self, record: _Raw) -> str | None:
        """The record's ``id``: the text before the first comma when it is the first column
        (as in every GED file) and unquoted, else parsed (None if unreadable).

        A record found stored by its fingerprint is the same bytes as one parsed and stored
        before, so the shortcut never decides what a record holds."""
        if self.header[0] == "id" and not record.text.startswith(b'"'):
            return record.text.split(b",", 1)[0].decode("utf-8", errors="replace").strip()
        parsed = _parse(record)
        if len(parsed) != 1 or not isinstance(fields := parsed[0].fields, list):
            return None
        at = self.header.index("id")
        return fields[at].strip() if len(fields) == len(self.header) else None

    def read(
        self, session: Session, chunk: _Fingerprinted | None, mapper: ThreadPoolExecutor
    ) -> _Chunk | None:
        """Find a fingerprinted chunk's records stored unchanged (one query), and start mapping
        the others."""
        if chunk is None:
            return None
        known = _known(session, self.key_id, chunk.hashes)
        pending = [
            (record, keys)
            for record, keys in zip(chunk.records, chunk.keyed, strict=True)
            if keys is None or keys[0] not in known or known[keys[0]].record_hash != keys[1]
        ]
        return _Chunk(chunk.records, chunk.keyed, known, mapper.submit(self._map_all, pending))

    def _map_all(
        self, pending: list[tuple[_Raw, tuple[str, str] | None]]
    ) -> list[tuple[Mapped | Refusal, tuple[str, str] | None]]:
        """Parse and map the records not found stored; a fingerprint stays with its record
        only if it parsed as one."""
        mapped: list[tuple[Mapped | Refusal, tuple[str, str] | None]] = []
        for raw, keys in pending:
            records = _parse(raw)
            for record in records:
                item = _map(self.header, record, timezone=self.timezone)
                mapped.append((item, keys if len(records) == 1 else None))
        return mapped


def _store(
    session: Session,
    summary: ImportSummary,
    submitter: Submitter,
    chunk: _Chunk,
    verified_by: str | None,
) -> int:
    """Submit a chunk's new or changed records, fingerprint what is stored, verify, commit,
    count; the chunk's rows."""
    mapped: list[Mapped] = []
    mapped_keys: list[tuple[str, str] | None] = []
    parsed = chunk.mapped.result()
    for item, keys in parsed:
        if isinstance(item, Refusal):
            summary.refuse(item.ucdp_id, item.reason, item.detail)
        else:
            mapped.append(item)
            mapped_keys.append(keys)
    outcomes = submit(session=session, submitter=submitter, reports_in=[m.report for m in mapped])
    _remember(
        session,
        submitter.key_id,
        {
            keys[0]: (keys[1], o.report["id"])
            for m, o, keys in zip(mapped, outcomes, mapped_keys, strict=True)
            if o.error is None
            and keys is not None
            and m.report.client_report_id is not None
            and keys[0] == m.report.client_report_id.hex
        },
    )
    unchanged = chunk.unchanged()
    if verified_by is not None:
        incident_ids = [o.report["incident_id"] for o in outcomes if o.error is None and o.report]
        incident_ids += list(dict.fromkeys(row.incident_id for row in unchanged))
        _verify(session, summary, incident_ids, verified_by)
    if mapped or verified_by is not None:
        # A chunk found wholly stored wrote nothing: its lookup's transaction runs on into
        # the next chunk's (a BEGIN and a COMMIT fewer per chunk, a re-run's most of them).
        session.commit()
    _tally_known(summary, unchanged)
    _tally(summary, list(zip(mapped, outcomes, strict=True)))
    rows = len(unchanged) + len(parsed)
    summary.rows += rows
    return rows


def source_name(verified_by: str | None) -> str | None:
    """``--verified-by``, checked: the source's name, trimmed (None: verify nothing)."""
    if verified_by is None:
        return None
    verified_by = verified_by.strip()
    if not verified_by or len(verified_by) > MAX_SOURCE_NAME or "\x00" in verified_by:
        raise Invalid(f"--verified-by: give the source's name, 1 to {MAX_SOURCE_NAME} characters")
    return verified_by


def _begin(session: Session, key_name: str) -> tuple[Any, Submitter]:
    """The theatre's terms and the importer's key (created and committed on first use)."""
    terms = load_terms(session)
    submitter = Submitter(key_id=importer_key(session=session, name=key_name), actor=CONSOLE)
    session.commit()
    return terms, submitter


def submit_rows(
    session: Session, submitter: Submitter, mapped: list[Any], summary: ImportSummary
) -> list[tuple[Any, Outcome]]:
    """The default store: every mapped row through ``submit``, new or replayed."""
    outcomes = submit(session=session, submitter=submitter, reports_in=[m.report for m in mapped])
    return list(zip(mapped, outcomes, strict=True))


def import_ucdp(
    *,
    session: Session,
    path: Path,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
    progress: Callable[[int], None] | None = None,
    verified_by: str | None = None,
) -> ImportSummary:
    """Import a UCDP GED CSV, committing each chunk; ``progress`` hears of each chunk's rows.
    With ``verified_by``, the rows' incidents not yet reviewed are verified as vouched for by
    that source (see the module's docstring)."""
    verified_by = source_name(verified_by)
    started = time.perf_counter()
    terms, submitter = _begin(session, UCDP_KEY_NAME)
    summary = ImportSummary()
    header, records = _read_raw(path)
    reader = _ChunkReader(
        header=header,
        fingerprint=mapping_fingerprint(terms.timezone),
        timezone=terms.timezone,
        key_id=submitter.key_id,
    )
    # Reading and fingerprinting the next chunks (CSV, hashes), and mapping a chunk's new
    # records (CSV to validated reports), are pure Python on their own threads: they overlap
    # looking up and storing the chunk before (mostly waiting on the database, which releases
    # the GIL).
    with (
        ThreadPoolExecutor(max_workers=1, thread_name_prefix="ucdp-read") as reading,
        ThreadPoolExecutor(max_workers=1, thread_name_prefix="ucdp-map") as mapper,
    ):
        chunks = _ahead(reader.fingerprint_all(records, chunk_size), reading)
        current = reader.read(session, next(chunks, None), mapper)
        while current is not None:
            following = reader.read(session, next(chunks, None), mapper)
            rows = _store(session, summary, submitter, current, verified_by)
            if progress is not None:
                progress(rows)
            current = following
    session.commit()
    summary.seconds = time.perf_counter() - started
    return summary


def run_import(
    *,
    session: Session,
    items: Callable[[Any], Iterable[Item]],
    key_name: str,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
    progress: Callable[[int], None] | None = None,
    verified_by: str | None = None,
    store: Store = submit_rows,
) -> ImportSummary:
    """Import the rows ``items(timezone)`` maps, as the reports of the key ``key_name``, a
    chunk per transaction, each chunk's mapped rows stored by ``store``."""
    verified_by = source_name(verified_by)
    started = time.perf_counter()
    terms, submitter = _begin(session, key_name)
    summary = ImportSummary()
    for chunk in _chunks(items(terms.timezone), chunk_size):
        mapped: list[Any] = []
        for item in chunk:
            if isinstance(item, rows.Skipped):
                summary.skip(item.source_id, item.reason, item.detail)
            elif isinstance(item, Refusal | rows.Refusal):
                summary.refuse(item.source_id, item.reason, item.detail)
            else:
                mapped.append(item)
        results = store(session, submitter, mapped, summary)
        if verified_by is not None:
            incident_ids = [
                o.report["incident_id"] for _, o in results if o.error is None and o.report
            ]
            _verify(session, summary, incident_ids, verified_by)
        session.commit()
        _tally(summary, results)
        summary.rows += len(chunk)
        if progress is not None:
            progress(len(chunk))
    summary.seconds = time.perf_counter() - started
    return summary
