#!/usr/bin/env bash
# Usage: scripts/with-postgres.sh COMMAND...
#
# Runs COMMAND with TENANCY_TEST_POSTGRES_URL pointing at a throwaway
# PostgreSQL server, so that the PostgreSQL tests run instead of skipping:
#
#   scripts/with-postgres.sh go test ./...
#
# The server lives in a temporary directory, listens only on a Unix socket
# there (no TCP port, so nothing can collide), trusts local connections,
# trades durability for speed (fsync=off) and is stopped and deleted when
# COMMAND ends; the script exits with COMMAND's status. When
# TENANCY_TEST_POSTGRES_URL is already set, or PostgreSQL's initdb and pg_ctl
# cannot be found, COMMAND simply runs as is.
set -euo pipefail

me=$(basename "$0")
if [[ $# -eq 0 ]]; then
	echo "usage: $me COMMAND..." >&2
	exit 2
fi

if [[ -n "${TENANCY_TEST_POSTGRES_URL:-}" ]]; then
	exec "$@"
fi

# Debian and Ubuntu keep the server binaries off PATH.
if ! command -v initdb >/dev/null || ! command -v pg_ctl >/dev/null; then
	while read -r dir; do
		if [[ -x "$dir/initdb" && -x "$dir/pg_ctl" ]]; then
			PATH="$dir:$PATH"
			break
		fi
	done < <(printf '%s\n' /usr/lib/postgresql/*/bin | sort -V -r)
fi
if ! command -v initdb >/dev/null || ! command -v pg_ctl >/dev/null; then
	echo "$me: initdb/pg_ctl not found, running without PostgreSQL (its tests skip; install PostgreSQL 15 or set TENANCY_TEST_POSTGRES_URL)" >&2
	exec "$@"
fi

# initdb refuses to run as root: then the server runs as an unprivileged user.
as_user=()
if [[ $(id -u) -eq 0 ]]; then
	user=postgres
	if ! id -u "$user" >/dev/null 2>&1; then
		user=tenancy-pg
		if ! id -u "$user" >/dev/null 2>&1; then
			useradd --system --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin "$user"
		fi
	fi
	if command -v runuser >/dev/null; then
		as_user=(runuser -u "$user" --)
	else
		as_user=(setpriv --reuid="$user" --regid="$(id -g "$user")" --init-groups --)
	fi
fi

# A short base keeps the socket path within the 107 bytes Unix allows.
tmp=$(mktemp -d /tmp/tenancy-pg.XXXXXX)
data="$tmp/data"
log="$tmp/postgres.log"
started=

cleanup() {
	if [[ -n "$started" ]]; then
		(cd / && "${as_user[@]}" pg_ctl stop -D "$data" -m immediate -s >/dev/null 2>&1) || true
	fi
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 129' HUP
trap 'exit 130' INT
trap 'exit 143' TERM

# Clients need to reach the socket in it; the data directory stays private.
chmod 0711 "$tmp"
if [[ ${#as_user[@]} -gt 0 ]]; then
	chown "$user" "$tmp"
fi

# as_server runs a command as the server's user, from a directory that user
# can read (the caller's may not be).
as_server() {
	(cd "$tmp" && "${as_user[@]}" "$@")
}

if ! as_server initdb -D "$data" -U postgres --auth=trust --encoding=UTF8 --locale=C --no-sync >"$tmp/initdb.log" 2>&1; then
	echo "$me: initdb failed:" >&2
	cat "$tmp/initdb.log" >&2
	exit 1
fi

# Settings for a disposable test server: no TCP, no durability, room for
# many parallel tests' connections.
cat >>"$data/postgresql.conf" <<EOF

# Added by $me.
listen_addresses = ''
unix_socket_directories = '$tmp'
max_connections = 300
fsync = off
synchronous_commit = off
full_page_writes = off
wal_level = minimal
max_wal_senders = 0
checkpoint_timeout = 30min
log_min_messages = warning
EOF

started=1
if ! as_server pg_ctl start -D "$data" -l "$log" -w -t 60 -s >/dev/null; then
	echo "$me: PostgreSQL did not start:" >&2
	cat "$log" >&2 || true
	exit 1
fi

# pgx (and libpq) take a socket directory as host.
export TENANCY_TEST_POSTGRES_URL="postgres://postgres@/postgres?host=$tmp&sslmode=disable"
echo "$me: PostgreSQL $(pg_ctl --version | awk '{print $3}') on $TENANCY_TEST_POSTGRES_URL" >&2

status=0
"$@" || status=$?
exit "$status"
