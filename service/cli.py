"""The `ceasefire` command. Each subcommand exits non-zero with a one-line reason on failure."""

from __future__ import annotations

import functools
import json
import os
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click
from sqlalchemy.exc import SQLAlchemyError

from service.config import get_settings
from service.errors import ServiceError


class CommandFailed(click.ClickException):
    def show(self, file: Any = None) -> None:  # one line, no usage banner
        click.echo(f"ceasefire: {self.format_message()}", err=True)


def fails_cleanly(func: Callable[..., Any]) -> Callable[..., Any]:
    """Turn expected failures into one line on stderr and exit status 1."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except ServiceError as exc:
            raise CommandFailed(exc.detail) from exc
        except SQLAlchemyError as exc:
            first = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]
            raise CommandFailed(f"database error: {first}") from exc
        except OSError as exc:
            raise CommandFailed(str(exc)) from exc

    return wrapper


def alembic_config():
    from alembic.config import Config

    settings = get_settings()
    config = Config()
    config.set_main_option("script_location", str(settings.migrations_dir))
    config.set_main_option("sqlalchemy.url", settings.database_url.replace("%", "%%"))
    return config


@click.group()
def main() -> None:
    """ceasefire-monitor: incident tracker for the ceasefire's trilateral commission."""


@main.command()
@fails_cleanly
def migrate() -> None:
    """Upgrade the database schema to the latest revision."""
    from alembic import command

    command.upgrade(alembic_config(), "heads")
    click.echo("database schema at head")


@main.command()
@click.option(
    "--theatre-file",
    type=click.Path(path_type=Path),
    default=None,
    help="Theatre data file (default: the settings' CEASEFIRE_THEATRE_FILE).",
)
@fails_cleanly
def seed(theatre_file: Path | None) -> None:
    """Load the theatre's boundaries, parties, guarantors and terms (idempotent)."""
    from service.db import get_sessionmaker
    from service.theatre.service import seed as seed_theatre

    settings = get_settings()
    with get_sessionmaker()() as session:
        result = seed_theatre(
            session, theatre_file=theatre_file or settings.theatre_file, data_dir=settings.data_dir
        )
        session.commit()
    for b in result.boundaries:
        click.echo(
            f"level {b.level}: {b.features} areas ({b.inserted} new, {b.updated} updated,"
            f" {b.unchanged} unchanged)"
        )
    click.echo(f"theatre {result.theatre}: {result.rows_written} rows written")
    if result.rows_kept:
        click.echo(
            f"{result.rows_kept} rows of the file's parties differ from the database's"
            " (curated at run time) and were left as the database has them"
        )


@main.group()
def theatre() -> None:
    """The theatre file."""


@theatre.command("export")
@click.argument("path", type=click.Path(path_type=Path), required=False)
@click.option(
    "--theatre-file",
    type=click.Path(path_type=Path),
    default=None,
    help="Where the terms, sources and boundaries come from (default: CEASEFIRE_THEATRE_FILE).",
)
@fails_cleanly
def theatre_export(path: Path | None, theatre_file: Path | None) -> None:
    """Write the current theatre (parties, aliases, guarantors, coverage and coalitions as the
    database holds them) in the theatre file's format, to PATH or stdout."""
    from service.db import get_sessionmaker
    from service.theatre.service import export_theatre

    with get_sessionmaker()() as session:
        document = export_theatre(session, theatre_file=theatre_file or get_settings().theatre_file)
    if path is None:
        click.echo(document, nl=False)
        return
    path.write_text(document, encoding="utf-8")
    click.echo(f"theatre written to {path}", err=True)


@main.group()
def rollups() -> None:
    """The incident rollups maps and stats read."""


@rollups.command("compact")
@fails_cleanly
def rollups_compact() -> None:
    """Fold the rollup deltas incident writers appended into the rollups now."""
    from service.db import get_engine, get_sessionmaker
    from service.maps.rollups import compact, reclaim

    with get_sessionmaker()() as session:
        result = compact(session=session)
        session.commit()
    reclaim(engine=get_engine())
    click.echo(result.describe())


@main.group()
def curation() -> None:
    """Re-attribution after curation acts."""


@curation.command("run")
@click.option("--batch-size", type=click.IntRange(1, 10_000), default=500, show_default=True)
@fails_cleanly
def curation_run(batch_size: int) -> None:
    """Run every pending re-attribution job now, batch by batch (resumable)."""
    from service.curation.service import describe, run_pending
    from service.db import get_sessionmaker

    click.echo(describe(run_pending(get_sessionmaker(), batch_size=batch_size)))


@main.group()
def boundaries() -> None:
    """Administrative boundaries."""


@boundaries.command("load")
@click.argument("path", type=click.Path(path_type=Path))
@click.option("--level", type=click.IntRange(min=1), required=True)
@click.option("--code-prop", default="PCODE", show_default=True, help="Property with the code.")
@click.option(
    "--name-prop", default="NAME_EN", show_default=True, help="Property with the English name."
)
@click.option("--name-ar-prop", default=None, help="Property with the Arabic name.")
@click.option("--parent-prop", default=None, help="Property with the parent's code (level > 1).")
@click.option(
    "--alt-name-prop",
    "alt_name_props",
    multiple=True,
    help="Property with an alternate name (repeatable).",
)
@fails_cleanly
def boundaries_load(
    path: Path,
    level: int,
    code_prop: str,
    name_prop: str,
    name_ar_prop: str | None,
    parent_prop: str | None,
    alt_name_props: tuple[str, ...],
) -> None:
    """Load a GeoJSON boundary file at one level; refuses the whole file on any error."""
    from service.db import get_sessionmaker
    from service.geography.loader import PropertyMap, load_boundaries

    props = PropertyMap(
        code=code_prop,
        name_en=name_prop,
        name_ar=name_ar_prop,
        parent=parent_prop,
        alt_names=alt_name_props,
    )
    with get_sessionmaker()() as session:
        result = load_boundaries(session, path=path, level=level, properties=props)
        session.commit()
    click.echo(
        f"level {level}: {result.features} areas ({result.inserted} new, {result.updated} updated,"
        f" {result.unchanged} unchanged)"
    )


@main.group()
def keys() -> None:
    """API keys: create (the secret is shown once), list, revoke."""


@keys.command("create")
@click.option(
    "--role",
    required=True,
    type=click.Choice(["reporter", "verifier", "monitor", "admin"]),
    help="What the key may do.",
)
@click.option("--name", required=True, help="Who or what holds the key (shown in the audit).")
@fails_cleanly
def keys_create(role: str, name: str) -> None:
    """Create a key; its secret is printed once, alone on the last line."""
    from service.audit.service import CONSOLE
    from service.auth.service import create_key
    from service.db import get_sessionmaker

    with get_sessionmaker()() as session:
        key, secret = create_key(session=session, role=role, name=name, actor=CONSOLE)
        session.commit()
    click.echo(f"created {key['role']} key {key['id']} ({key['name']})")
    click.echo("the secret below is shown only this once; only its hash is stored:")
    click.echo(secret)


@keys.command("list")
@fails_cleanly
def keys_list() -> None:
    """Every key: id, role, name, secret prefix, created, revoked."""
    from service.auth.service import list_keys
    from service.db import get_sessionmaker

    with get_sessionmaker()() as session:
        rows = list_keys(session=session)
    click.echo("id\trole\tprefix\tcreated_at\trevoked_at\tname")
    for key in rows:
        revoked = key["revoked_at"].isoformat(timespec="seconds") if key["revoked_at"] else "-"
        click.echo(
            f"{key['id']}\t{key['role']}\t{key['prefix']}\t"
            f"{key['created_at'].isoformat(timespec='seconds')}\t{revoked}\t{key['name']}"
        )


@keys.command("revoke")
@click.argument("key_id")
@click.option("--reason", default=None, help="Why (kept in the audit trail).")
@fails_cleanly
def keys_revoke(key_id: str, reason: str | None) -> None:
    """Revoke a key: every request with it is refused (401) from now on."""
    import uuid

    from service.audit.service import CONSOLE
    from service.auth.service import revoke_key
    from service.db import get_sessionmaker

    try:
        parsed = uuid.UUID(key_id)
    except ValueError as exc:
        raise CommandFailed(
            f"{key_id!r} is not a key id (a UUID; see `ceasefire keys list`)"
        ) from exc
    with get_sessionmaker()() as session:
        key = revoke_key(session=session, key_id=parsed, actor=CONSOLE, reason=reason)
        session.commit()
    click.echo(f"revoked {key['role']} key {key['id']} ({key['name']})")


@main.group()
def subscriptions() -> None:
    """Webhook subscriptions' secrets at rest: a new key, re-encryption under the first key."""


@subscriptions.command("new-secrets-key")
def subscriptions_new_secrets_key() -> None:
    """Print a new key for CEASEFIRE_SECRETS_KEY (put it first to rotate)."""
    from service.subscription.secret_store import generate_key

    click.echo(generate_key())


@subscriptions.command("rotate-secrets")
@fails_cleanly
def subscriptions_rotate_secrets() -> None:
    """Re-encrypt every stored secret with the first key of CEASEFIRE_SECRETS_KEY; the
    other keys can be dropped afterwards."""
    from service.config import get_settings
    from service.db import get_sessionmaker
    from service.subscription.secret_store import rotate

    with get_sessionmaker()() as session:
        count = rotate(session=session, settings=get_settings())
        session.commit()
    click.echo(f"re-encrypted {count} subscription secret(s) with the first key")


@main.group("import")
def import_() -> None:
    """Import events from other data sets, through the same path as the API."""


def _import_options(source: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """The options every ``import`` command takes."""

    def apply(command: Callable[..., Any]) -> Callable[..., Any]:
        for option in reversed(
            (
                click.argument(
                    "path", type=click.Path(path_type=Path, exists=True, dir_okay=False)
                ),
                click.option(
                    "--chunk-size",
                    default=500,
                    show_default=True,
                    type=click.IntRange(1, 5000),
                    help="Rows per transaction.",
                ),
                click.option(
                    "--progress/--no-progress", default=True, help="Progress bar on stderr."
                ),
                click.option(
                    "--verified-by",
                    metavar="SOURCE",
                    default=None,
                    help="Record the rows' incidents as verified by this named source"
                    f' (e.g. "{source}"), audited; incidents a verifier has reviewed are left'
                    " as they are.",
                ),
            )
        ):
            command = option(command)
        return command

    return apply


def _run_import(
    run: Callable[..., Any],
    *,
    path: Path,
    chunk_size: int,
    progress: bool,
    verified_by: str | None,
    revisions: bool = False,
) -> None:
    """Run an import with a progress bar on stderr, then print its summary. ``revisions``:
    the source revises its rows, so the summary also says how many were revised and skipped."""
    from tqdm import tqdm

    from service.db import get_sessionmaker
    from service.importer.service import count_rows

    with (
        tqdm(
            total=count_rows(path),
            unit="row",
            desc=path.name,
            file=sys.stderr,
            disable=not progress,
        ) as bar,
        get_sessionmaker()() as session,
    ):
        summary = run(
            session=session,
            path=path,
            chunk_size=chunk_size,
            progress=bar.update,
            verified_by=verified_by,
        )
    refused = sum(summary.refused.values())
    if revisions:
        skipped = sum(summary.skipped.values())
        click.echo(
            f"{summary.rows} rows in {summary.seconds:.1f} s: {summary.imported} imported,"
            f" {summary.revised} revised, {summary.already_present} already present,"
            f" {skipped} skipped, {refused} refused"
        )
    else:
        click.echo(
            f"{summary.rows} rows in {summary.seconds:.1f} s: {summary.imported} imported,"
            f" {summary.already_present} already present, {refused} refused"
        )
    if verified_by is not None:
        click.echo(f"incidents verified by {verified_by.strip()}: {summary.verified}")
    for verb, counts in (("skipped", summary.skipped), ("refused", summary.refused)):
        for reason, count in counts.most_common():
            examples = "; ".join(f"{i}: {d}" for i, d in summary.examples[reason])
            click.echo(f"  {verb} {count:>6}  {reason}  (e.g. {examples})")
    if summary.unresolved:
        total = sum(summary.unresolved.values())
        click.echo(
            f"actor names left unresolved: {len(summary.unresolved)} names in {total} reports"
        )
        shown = summary.unresolved.most_common(30)
        for name, count in shown:
            click.echo(f"  {count:>6}  {name}")
        if len(summary.unresolved) > len(shown):
            click.echo(f"  ... and {len(summary.unresolved) - len(shown)} more names")


@import_.command("ucdp")
@_import_options("UCDP GED")
@fails_cleanly
def import_ucdp(path: Path, chunk_size: int, progress: bool, verified_by: str | None) -> None:
    """Import a UCDP GED CSV (idempotent: rows already imported are left as they are)."""
    from service.importer.service import import_ucdp as run

    _run_import(run, path=path, chunk_size=chunk_size, progress=progress, verified_by=verified_by)


@import_.command("acled")
@_import_options("ACLED")
@fails_cleanly
def import_acled(path: Path, chunk_size: int, progress: bool, verified_by: str | None) -> None:
    """Import an ACLED export (CSV). Idempotent by event_id_cnty: a row ACLED has revised
    since (a newer timestamp) revises its report while the incident is unverified."""
    from service.importer.versioned import import_acled as run

    _run_import(
        run,
        path=path,
        chunk_size=chunk_size,
        progress=progress,
        verified_by=verified_by,
        revisions=True,
    )


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=click.IntRange(1, 65535))
@click.option("--workers", default=1, show_default=True, type=click.IntRange(1, 64))
@fails_cleanly
def serve(host: str, port: int, workers: int) -> None:
    """Serve the HTTP API."""
    import uvicorn

    from service.observability import configure_logging

    settings = get_settings()
    if workers > 1 and not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        # Metrics from every worker, summed at /metrics.
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="ceasefire-metrics-")
    configure_logging(settings.log_level)
    uvicorn.run(
        "service.main:create_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        access_log=False,
        log_config=None,
        proxy_headers=False,
        # httptools with a deadline on request headers (slow-header clients are dropped).
        http="service.timeouts:HeaderTimeoutProtocol",
        timeout_keep_alive=settings.keep_alive_timeout_s,
    )


@main.group()
def digest() -> None:
    """Daily compliance digests."""


def _parse_day(value: str | None, name: str) -> Any:
    import datetime as dt

    if value is None:
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError as exc:
        raise CommandFailed(f"{name}: {value!r} is not a date (YYYY-MM-DD)") from exc


def _outcome_line(outcome: Any) -> str:
    if outcome.created:
        what = outcome.changes["summary"] if outcome.changes else "first revision"
        return f"{outcome.day}: revision {outcome.revision} written ({what})"
    return f"{outcome.day}: unchanged (revision {outcome.revision})"


@digest.command("build")
@click.option("--date", "day", default=None, help="YYYY-MM-DD (default: yesterday, theatre time).")
@click.option("--notify/--no-notify", default=True, show_default=True, help="Queue webhooks.")
@fails_cleanly
def digest_build(day: str | None, notify: bool) -> None:
    """Build one day's digest; writes a revision only if its figures changed."""
    import datetime as dt

    from service.audit.service import CONSOLE
    from service.db import get_sessionmaker
    from service.digest.service import build_days
    from service.theatre.terms import load_terms, theatre_today

    with get_sessionmaker()() as session:
        on = _parse_day(day, "--date")
        if on is None:
            on = theatre_today(session, load_terms(session)) - dt.timedelta(days=1)
        [outcome] = build_days(session=session, first=on, last=on, notify=notify, actor=CONSOLE)
        session.commit()
    click.echo(_outcome_line(outcome))


@digest.command("backfill")
@click.option("--from", "first", required=True, help="First day, YYYY-MM-DD.")
@click.option("--to", "last", required=True, help="Last day, YYYY-MM-DD (inclusive).")
@click.option(
    "--chunk-days",
    default=31,
    show_default=True,
    type=click.IntRange(1, 366),
    help="Days computed together and committed at once.",
)
@click.option(
    "--notify/--no-notify", default=False, show_default=True, help="Queue webhooks for them."
)
@fails_cleanly
def digest_backfill(first: str, last: str, chunk_days: int, notify: bool) -> None:
    """Build every day's digest in a range, with a progress bar (resumable: unchanged days
    write nothing)."""
    import datetime as dt

    from tqdm import tqdm

    from service.audit.service import CONSOLE
    from service.db import get_sessionmaker
    from service.digest.service import build_days

    start, end = _parse_day(first, "--from"), _parse_day(last, "--to")
    if start > end:
        raise CommandFailed(f"--from {start} is after --to {end}")
    created = unchanged = 0
    total = (end - start).days + 1
    with tqdm(total=total, unit="day", desc="digests", file=sys.stderr) as bar:
        day = start
        while day <= end:
            chunk_end = min(day + dt.timedelta(days=chunk_days - 1), end)
            with get_sessionmaker()() as session:
                outcomes = build_days(
                    session=session, first=day, last=chunk_end, notify=notify, actor=CONSOLE
                )
                session.commit()
            created += sum(o.created for o in outcomes)
            unchanged += sum(not o.created for o in outcomes)
            bar.update(len(outcomes))
            day = chunk_end + dt.timedelta(days=1)
    click.echo(f"{total} days: {created} new revisions, {unchanged} unchanged")


@main.command()
@fails_cleanly
def scheduler() -> None:
    """Run the scheduled jobs (digests, webhook deliveries) in this process, until stopped.

    Run one per deployment; a second one overlapping (a deploy) skips what the first runs.
    """
    from service.observability import configure_logging
    from service.scheduler.process import run

    if get_settings().db_pooled:
        # Each job holds a session-level advisory lock on one connection while it runs;
        # through a transaction-mode pooler the lock and its unlock may reach different
        # server connections, and two schedulers could both run a job (docs/scaling.md).
        raise click.UsageError(
            "the scheduler needs a direct connection to the primary (session advisory "
            "locks): give it DATABASE_URL without the pooler and CEASEFIRE_DB_POOLED=false"
        )
    configure_logging(get_settings().log_level)
    run()


@main.command()
@click.argument("path", type=click.Path(path_type=Path))
@fails_cleanly
def backup(path: Path) -> None:
    """Back the database up to PATH (pg_dump custom format); never overwrites a file."""
    from service.backup.service import backup as run_backup
    from service.backup.service import fingerprint

    result = run_backup(database_url=get_settings().database_url, path=path)
    facts = fingerprint(get_settings().database_url)
    click.echo(f"backup written: {result.path} ({result.size_bytes} bytes)")
    click.echo(f"reports: {facts['counts']['reports']}, report ids md5: {facts['report_ids_md5']}")


@main.command()
@click.argument("path", type=click.Path(path_type=Path))
@fails_cleanly
def restore(path: Path) -> None:
    """Restore a backup from PATH into the (empty) database named by DATABASE_URL."""
    from service.backup.service import fingerprint
    from service.backup.service import restore as run_restore

    run_restore(database_url=get_settings().database_url, path=path)
    facts = fingerprint(get_settings().database_url)
    click.echo(f"restored {path}")
    click.echo(f"reports: {facts['counts']['reports']}, report ids md5: {facts['report_ids_md5']}")


@main.command()
def openapi() -> None:
    """Print the OpenAPI document (commit it as openapi/openapi.json)."""
    from service.main import create_app

    click.echo(json.dumps(create_app().openapi(), indent=2, ensure_ascii=False, sort_keys=False))


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
