"""A partner's mirror of the changes feed: applies pages in order, as the README says."""

from __future__ import annotations

from typing import Any


class Mirror:
    """Incidents by id, as the feed last gave them; ``since`` is where it continues."""

    def __init__(self, headers: dict[str, str] | None = None) -> None:
        self.headers = headers or {}
        self.incidents: dict[str, dict[str, Any]] = {}
        self.since: str | None = None
        self.tombstones: list[dict[str, Any]] = []

    def apply(self, page: dict[str, Any]) -> None:
        for item in page["items"]:
            if item["change"] == "upsert":
                self.incidents[item["id"]] = item.get("incident") or item["feature"]
            else:
                self.incidents.pop(item["id"], None)
                self.tombstones.append(item)
        self.since = page["cursor"]

    def sync(self, client: Any, *, limit: int = 100) -> int:
        """Follow the feed until it says no more is readable now; the pages read."""
        pages = 0
        while True:
            params: dict[str, Any] = {"limit": limit}
            if self.since is not None:
                params["since"] = self.since
            response = client.get("/v1/changes", params=params, headers=self.headers)
            assert response.status_code == 200, response.text
            page = response.json()
            links = {link["rel"]: link["href"] for link in page["links"]}
            assert f"since={page['cursor']}" in links["next"]
            self.apply(page)
            pages += 1
            if not page["more"]:
                return pages


def listed(client: Any, path: str, headers: dict[str, str], **params: Any) -> dict[str, Any]:
    """Every item of a paged list (``/v1/incidents`` or the OGC items), by id, following
    ``next``."""
    found: dict[str, Any] = {}
    url: str | None = path
    query: dict[str, Any] | None = {"limit": 1000, **params}
    while url:
        response = client.get(url, params=query, headers=headers)
        assert response.status_code == 200, response.text
        body = response.json()
        for item in body.get("items") or body.get("features"):
            found[item["id"]] = item
        if "next" in body and not isinstance(body["next"], list):
            url = body["next"]
        else:
            url = next((x["href"] for x in body.get("links", []) if x["rel"] == "next"), None)
        query = None
    return found


def full_list(client: Any, headers: dict[str, str]) -> dict[str, Any]:
    """What a monitor's mirror must equal: every incident but the merged ones, as
    ``/v1/incidents`` lists them by default (and the export holds them)."""
    return listed(client, "/v1/incidents", headers)


def public_list(client: Any) -> dict[str, Any]:
    """What the public's mirror must equal: the OGC items (verified, generalised)."""
    return listed(client, "/collections/incidents/items", {})
