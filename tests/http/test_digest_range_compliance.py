"""What the console's digest page reads from a range of days (issue 11): for a 30-day
window, each day's totals (incidents, violations, killed, injured) and each guarantor's
compliance figure exactly as that day's document states it, in JSON and in CSV."""

from __future__ import annotations

import csv
import io

from tests.http.test_digest_range_and_links import DAILY, DAYS, relative, three_days

__all__ = ["three_days"]  # the fixture, shared with the range's own tests

WINDOW = {"from": "2017-01-20", "to": "2017-02-18"}  # 30 days around the three digests


def test_a_thirty_day_range_gives_each_guarantors_compliance_as_the_day_states_it(
    client, three_days, monitor
):
    body = client.get(DAILY, params=WINDOW, headers=monitor).json()
    assert [d["date"] for d in body["days"]] == [d.isoformat() for d in DAYS]
    for day in body["days"]:
        doc = client.get(relative(day["href"]), headers=monitor).json()
        assert {"incidents", "violations", "killed", "injured"} <= set(day["totals"])
        assert {k: day["totals"][k] for k in ("incidents", "violations", "killed", "injured")} == {
            k: doc["totals"][k] for k in ("incidents", "violations", "killed", "injured")
        }
        by_guarantor = {g["guarantor"]: g["compliance"] for g in day["by_guarantor"]}
        stated = {g["guarantor"]: g["compliance"] for g in doc["by_guarantor"]}
        assert by_guarantor == stated
        assert {"RUS", "TUR", "IRN"} <= set(by_guarantor)
        for compliance in by_guarantor.values():
            if compliance is not None:
                assert compliance["window_days"] == 30
                assert 0 <= compliance["rate"] <= 1


def test_the_csv_range_carries_the_same_compliance_rows(client, three_days, monitor):
    rows = list(
        csv.DictReader(
            io.StringIO(client.get(DAILY, params={**WINDOW, "format": "csv"}, headers=monitor).text)
        )
    )
    body = client.get(DAILY, params=WINDOW, headers=monitor).json()
    for day in body["days"]:
        for g in day["by_guarantor"]:
            if g["compliance"] is None:
                continue
            [rate] = [
                r
                for r in rows
                if r["date"] == day["date"]
                and r["section"] == "by_guarantor"
                and r["key"] == (g["guarantor"] or "")
                and r["metric"] == "compliance_rate"
            ]
            assert float(rate["value"]) == g["compliance"]["rate"]
