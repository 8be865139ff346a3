"""Exports of incidents: CSV in ACLED-like columns (with an HXL hashtag row on request) and
GeoPackage, as the caller's view shows them (``service.maps.view``)."""
