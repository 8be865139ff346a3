"""One client of ``bench.concurrent_ingest``: batch ingest through one checkout's ``submit()``.

Run with a checkout as the working directory (so ``service`` and ``bench`` are that
checkout's). With ``--prepare`` it only recreates, migrates and seeds the scratch database.
Otherwise it replicates the real events (its own seed, so clients send different reports),
creates its own reporter key, prints ``ready``, waits for one line on stdin, stores its
reports in batches (``submit`` + commit each) and prints ``SECONDS STORED``.
"""

from __future__ import annotations

import os
import sys

sys.path.insert(0, os.getcwd())


def main() -> int:
    import argparse
    import time
    from pathlib import Path

    from sqlalchemy import create_engine
    from sqlalchemy.orm import Session

    from bench.ingest import prepare, real_reports, replicate
    from service.audit.service import CONSOLE
    from service.auth.service import create_key
    from service.config import sqlalchemy_url
    from service.report.service import Submitter, submit
    from service.theatre.terms import load_terms

    parser = argparse.ArgumentParser()
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--prepare", action="store_true")
    parser.add_argument("--reports", type=int, default=0)
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--events", type=Path)
    args = parser.parse_args()
    if args.prepare:
        prepare(args.database_url)
        return 0
    engine = create_engine(sqlalchemy_url(args.database_url))
    with Session(engine, expire_on_commit=False) as session:
        timezone = load_terms(session).timezone
        reports = replicate(real_reports(args.events, timezone), args.reports, args.seed)
        key, _ = create_key(
            session=session, role="reporter", name=f"bench client {args.seed}", actor=CONSOLE
        )
        session.commit()
        submitter = Submitter(key_id=key["id"], actor=CONSOLE)
        print("ready", flush=True)
        sys.stdin.readline()
        t0 = time.perf_counter()
        stored = 0
        for start in range(0, len(reports), args.batch):
            outcomes = submit(
                session=session, submitter=submitter, reports_in=reports[start : start + args.batch]
            )
            session.commit()
            stored += sum(1 for o in outcomes if o.created)
        print(f"{time.perf_counter() - t0:.6f} {stored}", flush=True)
    engine.dispose()
    return 0


if __name__ == "__main__":
    sys.exit(main())
