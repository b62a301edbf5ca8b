# tests/lib/interact.sh — one signed interaction through the simulator.
#
# cb_interact URL ARGS... : POSTs one interaction (cordbank-discord-sim
# --once ARGS) to URL, at most 20 s; sets STATUS (HTTP status, 0 when the
# simulator failed), BODY (the JSON answer), CONTENT and FLAGS (its
# data.content and data.flags).
cb_interact() {
    local url=$1 out; shift
    out=$(timeout 20 "$CB_BIN/cordbank-discord-sim" --once --gateway-url "$url" "$@") \
        || { STATUS=0; BODY=; CONTENT=; FLAGS=; return; }
    STATUS=$(jq -r '.status' <<<"$out")
    BODY=$(jq -c '.body' <<<"$out")
    CONTENT=$(jq -r '.body.data.content? // empty' <<<"$out" 2>/dev/null)
    FLAGS=$(jq -r '.body.data.flags? // 0' <<<"$out" 2>/dev/null)
}
