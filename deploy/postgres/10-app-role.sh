#!/bin/sh
# deploy/postgres/10-app-role.sh - run once by the postgres image's
# entrypoint (docker-entrypoint-initdb.d) when the data volume is new.
#
# The daemons connect as alexus_app, a role that owns nothing and has no
# BYPASSRLS (proto/sql/0001_init.sql creates it without a password when it
# is missing).  The postgres image only accepts password logins from other
# containers, so the role is made here first, with APP_DB_PASSWORD; the
# migration then finds it and leaves it as it is.
set -eu
: "${APP_DB_PASSWORD:?APP_DB_PASSWORD must be set}"
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" \
	-v pw="$APP_DB_PASSWORD" <<'SQL'
CREATE ROLE alexus_app LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOBYPASSRLS PASSWORD :'pw';
SQL
