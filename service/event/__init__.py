"""The event: what reports and incidents both describe (when, where, who, what, how bad).

Its filters live here, for every reader: ``terms`` (the values an event is filtered by),
``filters`` (the model and its SQL condition), ``parameters`` (their spelling and OpenAPI
description), ``resolve`` (names to stored values, and the one error) and ``dependencies``
(the FastAPI side). Its lists page with ``paging``: the one cursor codec and keyset
condition of every paged list. A low layer: it imports nothing from incident, stats, ogc or
tiles.
"""
