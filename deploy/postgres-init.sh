#!/bin/sh
# First start of the db container (docker-entrypoint-initdb.d, run as the owner POSTGRES_USER):
# the login role the service connects as, a member of the application role only. The
# migrations (run by the owner, `migrate` service) grant that role least privilege
# (0003_app_role_grants: no DDL, no TRUNCATE, append-only histories) and create it if missing.
set -eu
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" \
    -v app_role="${DB_APP_ROLE:-tron_app}" \
    -v service_user="${DB_SERVICE_USER:-tronrent_service}" \
    -v service_password="$DB_SERVICE_PASSWORD" <<'EOSQL'
SELECT format('CREATE ROLE %I NOLOGIN', :'app_role')
WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = :'app_role') \gexec
SELECT format('CREATE ROLE %I LOGIN PASSWORD %L IN ROLE %I',
              :'service_user', :'service_password', :'app_role') \gexec
EOSQL
