"""One lane of ``bench.ingest --against``: batch ingest through one checkout's ``submit()``.

Run by ``bench.ingest`` with the Python of a checkout and that checkout as the working
directory (so ``service`` and ``bench`` are that checkout's): it prepares its own scratch
database (recreated, migrated, seeded), replicates the real events as ``bench.ingest`` does,
then stores batch ``i`` whenever it reads ``i`` on stdin and answers the seconds it took
(``submit`` + commit), so the driver can alternate two checkouts batch by batch. With
``--correlation-off`` (this checkout only), every report opens its own incident.
"""

from __future__ import annotations

import os
import sys

sys.path.insert(0, os.getcwd())


def main() -> int:
    import argparse
    import gc
    import time
    from contextlib import nullcontext
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
    parser.add_argument("--reports", type=int, required=True)
    parser.add_argument("--batch", type=int, required=True)
    parser.add_argument("--seed", type=int, required=True)
    parser.add_argument("--events", type=Path, required=True)
    parser.add_argument("--correlation-off", action="store_true")
    args = parser.parse_args()
    if args.correlation_off:
        from bench.ingest import correlation_off

        switch = correlation_off
    else:
        switch = nullcontext
    prepare(args.database_url)
    engine = create_engine(sqlalchemy_url(args.database_url))
    with Session(engine, expire_on_commit=False) as session:
        timezone = load_terms(session).timezone
        reports = replicate(real_reports(args.events, timezone), args.reports, args.seed)
        key, _ = create_key(session=session, role="reporter", name="bench lane", actor=CONSOLE)
        session.commit()
        submitter = Submitter(key_id=key["id"], actor=CONSOLE)
        # The lane's input (every replicated report, held for the whole run) is the bench's,
        # not the work measured: frozen, the collector's full passes no longer walk it, and
        # they were charged to whichever lane allocated more (without this, --correlation-cost
        # measured the garbage collector over 20,000 held reports as part of correlation).
        # This worker serves both lanes of --against, so both are measured alike.
        gc.freeze()
        print(f"ready {len(reports)}", flush=True)
        for line in sys.stdin:
            start = int(line) * args.batch
            t0 = time.perf_counter()
            with switch():
                outcomes = submit(
                    session=session,
                    submitter=submitter,
                    reports_in=reports[start : start + args.batch],
                )
            session.commit()
            stored = sum(1 for o in outcomes if o.created)
            print(f"{time.perf_counter() - t0:.6f} {stored}", flush=True)
    engine.dispose()
    return 0


if __name__ == "__main__":
    sys.exit(main())
