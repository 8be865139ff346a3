#!/bin/sh
# Run once by the PostGIS image on a fresh volume (docker-entrypoint-initdb.d): lets the
# `scale` profile's replica stream from this primary (pg_basebackup, then WAL).
set -e
echo "host replication all all scram-sha-256" >>"$PGDATA/pg_hba.conf"
