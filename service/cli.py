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


@main.group("import")
def import_() -> None:
    """Import events from other data sets, through the same path as the API."""


@import_.command("ucdp")
@click.argument("path", type=click.Path(path_type=Path, exists=True, dir_okay=False))
@click.option(
    "--chunk-size",
    default=500,
    show_default=True,
    type=click.IntRange(1, 5000),
    help="Rows per transaction.",
)
@click.option("--progress/--no-progress", default=True, help="Progress bar on stderr.")
@fails_cleanly
def import_ucdp(path: Path, chunk_size: int, progress: bool) -> None:
    """Import a UCDP GED CSV (idempotent: rows already imported are left as they are)."""
    from tqdm import tqdm

    from service.db import get_sessionmaker
    from service.importer.service import count_rows
    from service.importer.service import import_ucdp as run_import

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
        summary = run_import(session=session, path=path, chunk_size=chunk_size, progress=bar.update)
    refused = sum(summary.refused.values())
    click.echo(
        f"{summary.rows} rows in {summary.seconds:.1f} s: {summary.imported} imported,"
        f" {summary.already_present} already present, {refused} refused"
    )
    for reason, count in summary.refused.most_common():
        examples = "; ".join(f"{i}: {d}" for i, d in summary.examples[reason])
        click.echo(f"  refused {count:>6}  {reason}  (e.g. {examples})")
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
    )


@main.command()
def openapi() -> None:
    """Print the OpenAPI document (commit it as openapi/openapi.json)."""
    from service.main import create_app

    click.echo(json.dumps(create_app().openapi(), indent=2, ensure_ascii=False, sort_keys=False))


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
