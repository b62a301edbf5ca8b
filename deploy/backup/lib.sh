# deploy/backup/lib.sh — pgBackRest for a cordbank PostgreSQL: set up WAL
# archiving and the two repositories, back up, restore, and verify a
# restore. Sourced by deploy/local/lib.sh (make run archives its WAL), by
# deploy/backup/{backup,verify,dr-drill}.sh and by tests/integration/backup.sh.
#
# A backup context is a directory holding pgbackrest.conf, conf.d/cipher.conf
# (the repositories' passphrases: the secret), the two repositories (unless
# BACKUP_REPO1 / BACKUP_REPO2 put them elsewhere), logs and locks; everything
# in it belongs to the postgres user, as pgBackRest runs as PostgreSQL does.
# In Kubernetes the same scripts run with PGBACKREST_CONFIG and
# PGBACKREST_CONFIG_INCLUDE_PATH pointing at the mounted ConfigMap and Secret.

CB_BACKUP_HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
CB_BACKUP_STANZA=${CB_BACKUP_STANZA:-cordbank}
PG_BIN=${PG_BIN:-/usr/lib/postgresql/15/bin}

cb_backup_as_postgres() {
    if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

# pgbackrest ARGS... with this context's configuration, as postgres.
cb_pgbackrest() {
    local include=()
    [ -z "${PGBACKREST_CONFIG_INCLUDE_PATH:-}" ] || include=(--config-include-path="$PGBACKREST_CONFIG_INCLUDE_PATH")
    cb_backup_as_postgres pgbackrest --config="$PGBACKREST_CONFIG" "${include[@]}" --stanza="$CB_BACKUP_STANZA" "$@"
}

# cb_backup_use DIR: the context in DIR (made by cb_backup_init).
cb_backup_use() {
    PGBACKREST_CONFIG=$1/pgbackrest.conf
    PGBACKREST_CONFIG_INCLUDE_PATH=$1/conf.d
    export PGBACKREST_CONFIG PGBACKREST_CONFIG_INCLUDE_PATH
}

# cb_backup_find PROGRAM RUN: the configuration a script works with:
# PGBACKREST_CONFIG when set (Kubernetes), else the context of the run
# directory RUN, else of the current make run. Exits 2, saying so, when
# there is none.
cb_backup_find() {
    local program=$1 run=${2:-}
    [ -z "${PGBACKREST_CONFIG:-}" ] || return 0
    run=${run:-$(readlink "${TMPDIR:-/tmp}/cordbank-current" 2>/dev/null)}
    [ -n "$run" ] && [ -f "$run/backup/pgbackrest.conf" ] \
        || { echo "$program: no backup configuration (start make run, or give --run DIR, or set PGBACKREST_CONFIG)" >&2; exit 2; }
    cb_backup_use "$run/backup"
}

# cb_backup_init DIR PGDATA PGPORT PGSOCKDIR: a context in DIR for the
# cluster in PGDATA, and PostgreSQL's archiving turned on in its
# postgresql.conf (takes effect at its next start). The passphrases are
# new random ones, unless BACKUP_CIPHER_CONF names a cipher.conf to use
# (repo1-cipher-pass=... and repo2-cipher-pass=... under [global]).
cb_backup_init() {
    local dir=$1 pgdata=$2 port=$3 sock=$4
    mkdir -p "$dir/conf.d" "$dir/log" "$dir/lock"
    local repo1=${BACKUP_REPO1:-$dir/repo1} repo2=${BACKUP_REPO2:-$dir/repo2}
    mkdir -p "$repo1" "$repo2"
    sed -e "s|@REPO1@|$repo1|; s|@REPO2@|$repo2|; s|@LOCK@|$dir/lock|; s|@LOG@|$dir/log|" \
        -e "s|@PGDATA@|$pgdata|; s|@PGPORT@|$port|; s|@PGSOCK@|$sock|" \
        "$CB_BACKUP_HERE/pgbackrest.conf.in" >"$dir/pgbackrest.conf"
    if [ -n "${BACKUP_CIPHER_CONF:-}" ]; then
        grep -q '^repo1-cipher-pass=.' "$BACKUP_CIPHER_CONF" && grep -q '^repo2-cipher-pass=.' "$BACKUP_CIPHER_CONF" \
            || { echo "backup: $BACKUP_CIPHER_CONF has no repo1-cipher-pass= and repo2-cipher-pass= lines" >&2; return 2; }
        cp "$BACKUP_CIPHER_CONF" "$dir/conf.d/cipher.conf"
    else
        # 48 random bytes each, base64: what `openssl rand -base64 48` gives.
        printf '[global]\nrepo1-cipher-pass=%s\nrepo2-cipher-pass=%s\n' \
            "$(head -c 48 /dev/urandom | base64 -w0)" "$(head -c 48 /dev/urandom | base64 -w0)" \
            >"$dir/conf.d/cipher.conf"
    fi
    chmod 600 "$dir/conf.d/cipher.conf"
    chmod 700 "$dir" "$repo1" "$repo2"
    if [ "$(id -u)" = 0 ]; then chown -R postgres "$dir" "$repo1" "$repo2"; fi
    cb_backup_use "$dir"
    # Every WAL segment to both repositories; a segment is switched at the
    # latest every 60 s, so an idle-ish ledger loses at most a minute.
    cat >>"$pgdata/postgresql.conf" <<CONF

# cordbank: WAL archiving with pgBackRest (deploy/backup/lib.sh)
archive_mode = on
archive_command = 'pgbackrest --config=$PGBACKREST_CONFIG --config-include-path=$PGBACKREST_CONFIG_INCLUDE_PATH --stanza=$CB_BACKUP_STANZA archive-push %p'
archive_timeout = 60
wal_level = replica
CONF
}

# After the first start of the cluster: the stanza in both repositories,
# and a check that WAL reaches them.
cb_backup_stanza_create() {
    cb_pgbackrest stanza-create >/dev/null && cb_pgbackrest check
}

# cb_backup_run TYPE: a backup (full, diff or incr) into each repository,
# repo1 first. pgBackRest expires what retention no longer keeps.
cb_backup_run() {
    local type=$1 repo
    for repo in 1 2; do
        cb_pgbackrest --repo="$repo" --type="$type" backup || return 1
    done
}

# Seconds since the newest backup (in any repository) finished; -1 when there is none.
cb_backup_age_s() {
    local stop
    stop=$(cb_pgbackrest --output=json info 2>/dev/null \
        | jq '[.[0].backup[]?.timestamp.stop] | max // -1' 2>/dev/null)
    [ -n "$stop" ] && [ "$stop" != -1 ] || { echo -1; return; }
    echo $(($(date +%s) - stop))
}

# cb_backup_restore DIR [FLAG...]: restores into DIR (created, or emptied
# with --delta by the caller's flags), to the end of the archived WAL
# unless the flags say otherwise (--type=time --target=...). DIR belongs to
# postgres, mode 0700. BACKUP_RESTORE_FLAGS: more flags, e.g. on a
# repository host (Kubernetes) --reset-pg1-host --reset-pg1-host-type to
# restore here rather than on the database host.
cb_backup_restore() {
    local dir=$1; shift
    mkdir -p "$dir"; chmod 700 "$dir"
    if [ "$(id -u)" = 0 ]; then chown postgres "$dir"; fi
    # shellcheck disable=SC2086 # flags, split on purpose
    cb_pgbackrest --pg1-path="$dir" ${BACKUP_RESTORE_FLAGS:-} "$@" restore
}

# cb_backup_start_scratch DIR LOG: PostgreSQL on a restored DIR, on a Unix
# socket in DIR/sock only (no TCP port: nothing else can reach it, and two
# verifications never collide), without archiving (a scratch copy must never
# push WAL into the repositories); waits until recovery has reached the end
# of the archive and the cluster is promoted (at most BACKUP_RECOVERY_S,
# default 300 s). max_connections must be at least the primary's, or
# recovery stops: BACKUP_MAX_CONNECTIONS, default 1000. psql -h DIR/sock reaches it.
cb_backup_start_scratch() {
    local dir=$1 log=$2 end
    mkdir -p "$dir/sock"; touch "$log"
    if [ "$(id -u)" = 0 ]; then chown postgres "$dir/sock" "$log"; fi
    cb_backup_as_postgres "$PG_BIN/pg_ctl" -D "$dir" -l "$log" -w -t 60 \
        -o "-k $dir/sock -c listen_addresses= -c archive_mode=off -c max_connections=${BACKUP_MAX_CONNECTIONS:-1000}" start >/dev/null \
        || { tail -n 20 "$log" >&2; return 1; }
    end=$((SECONDS + ${BACKUP_RECOVERY_S:-300}))
    until [ "$(psql -X -At -h "$dir/sock" -U postgres -d postgres -c 'SELECT pg_is_in_recovery()' 2>/dev/null)" = f ]; do
        [ $SECONDS -lt $end ] || { echo "backup: $dir still in recovery after ${BACKUP_RECOVERY_S:-300} s" >&2; tail -n 20 "$log" >&2; return 1; }
        sleep 0.2
    done
}

cb_backup_stop_scratch() {
    cb_backup_as_postgres "$PG_BIN/pg_ctl" -D "$1" -m fast -w -t 30 stop >/dev/null 2>&1
}
