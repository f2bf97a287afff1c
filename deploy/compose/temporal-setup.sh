#!/bin/sh
# Creates or upgrades the Temporal schemas in temporal-postgres, in the
# temporalio/admin-tools image. Safe to run at every start: a database that
# already exists is only upgraded (setup-schema would reset its version).
set -eu

# The password comes from SQL_PASSWORD in the environment.
tool() { temporal-sql-tool --plugin postgres12 --ep temporal-postgres -p 5432 -u temporal "$@"; }

until nc -z temporal-postgres 5432; do echo "waiting for temporal-postgres"; sleep 1; done

for db in temporal temporal_visibility; do
	dir=temporal
	[ "$db" = temporal_visibility ] && dir=visibility
	if tool --db "$db" create; then
		tool --db "$db" setup-schema -v 0.0
	fi
	tool --db "$db" update-schema -d "/etc/temporal/schema/postgresql/v12/$dir/versioned"
done
echo "temporal schemas ready"
