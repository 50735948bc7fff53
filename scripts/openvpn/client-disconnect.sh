#!/bin/sh
# OpenVPN client-disconnect hook: tells vpn-edge the session ended (/v1/sessions/end), so a
# session admitted while the origin was down leaves the re-verification ledger.
#   client-disconnect /usr/local/lib/vpn-edge/client-disconnect.sh
set -u
. "$(dirname "$0")/common.sh"
ip=${trusted_ip:-${trusted_ip6:-}}
port=${trusted_port:-0}
file="$EDGE_STATE_DIR/sessions/$(edge_client_key "$ip" "$port")"
[ -f "$file" ] || exit 0
session=$(cat "$file")
rm -f "$file"
body=$(mktemp) out=$(mktemp)
printf '{"session_id":%s}' "$(edge_json_str "$session")" > "$body"
status=$(edge_call POST /v1/sessions/end "$body" "$out")
edge_log "session end client=$ip:$port HTTP $status"
rm -f "$body" "$out"
exit 0
