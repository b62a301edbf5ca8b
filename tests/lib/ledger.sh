# tests/lib/ledger.sh — the ledger's checks in SQL, as figures: the
# invariants, and acknowledged pays (cordbank-ledger-load --acked-file)
# against the transfers table. The caller decides what is a failure.
#
# tests/chaos/chaos.sh and tests/integration/ledger.sh source it.
# Needs deploy/local/lib.sh sourced first (cb_psql, PG_URL).

# cb_ledger_invariants BIN LOG: "RC SUM BAD_GUILDS BAD_ACCOUNTS" — the exit
# code of cordbank-balance --check-invariants (its output in LOG), the sum
# of all balances (0: no coin made or lost), the guilds that do not sum to
# 0 and the accounts whose balance is not the sum of their legs. Fields
# are "x" when PostgreSQL did not answer.
cb_ledger_invariants() {
    local bin=$1 log=$2 rc sums
    "$bin/cordbank-balance" --check-invariants --pg-url "$PG_URL" --metrics-endpoints "" >"$log" 2>&1
    rc=$?
    sums=$(cb_psql -F ' ' 2>>"$log" <<'SQL'
SELECT (SELECT coalesce(sum(balance), 0) FROM accounts),
       (SELECT count(*) FROM (SELECT guild_id FROM accounts GROUP BY guild_id
                              HAVING sum(balance) <> 0) g),
       (SELECT count(*) FROM accounts a
         WHERE a.balance <> (SELECT coalesce(sum(delta), 0) FROM legs l
                              WHERE l.guild_id = a.guild_id AND l.user_id = a.user_id));
SQL
    )
    echo "$rc ${sums:-x x x}"
}

# cb_ledger_acked FILE PREFIX: "ACKED_OK LOST DUPLICATED WRONG_ID
# REFUSED_MOVED IN_TABLE" for an acked file ("key transfer_id STATUS" per
# line) whose keys are PREFIX-N: keys acked OK, those not in transfers,
# those in it more than once, those stored under another transfer id than
# the one acked, refused keys that moved money anyway, and the transfers
# with the prefix (acked ones plus, at most, the unacked that committed).
# Empty output when PostgreSQL did not answer.
cb_ledger_acked() {
    local file=$1 prefix=$2
    # COPY's text format reads a backslash as an escape: double them. The
    # prefix reaches SQL as a psql variable, quoted by psql, never pasted.
    sed 's/\\/\\\\/g' "$file" >"$file.copy"
    cb_psql -v ON_ERROR_STOP=1 -F ' ' -v prefix="$prefix-" 2>/dev/null <<SQL
CREATE TEMP TABLE acked (key text PRIMARY KEY, transfer_id bigint NOT NULL, status text NOT NULL);
\copy acked FROM '$file.copy' WITH (FORMAT text, DELIMITER ' ')
WITH n AS (SELECT a.status, (SELECT count(*) FROM transfers t WHERE t.idempotency_key = a.key) AS c
             FROM acked a)
SELECT (SELECT count(*) FROM n WHERE status = 'OK'),
       (SELECT count(*) FROM n WHERE status = 'OK' AND c = 0),
       (SELECT count(*) FROM n WHERE status = 'OK' AND c > 1),
       (SELECT count(*) FROM acked a JOIN transfers t ON t.idempotency_key = a.key
         WHERE a.status = 'OK' AND t.id <> a.transfer_id),
       (SELECT count(*) FROM acked a JOIN transfers t ON t.idempotency_key = a.key
         WHERE a.status <> 'OK'),
       (SELECT count(*) FROM transfers WHERE starts_with(idempotency_key, :'prefix'));
SQL
}
