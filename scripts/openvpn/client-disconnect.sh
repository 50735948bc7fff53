#!/bin/sh
# OpenVPN client-disconnect hook: tells vpn-edge the session ended (/v1/sessions/end), so a
# session admitted while the origin was down leaves the re-verification ledger.
#   client-disconnect /usr/local/lib/vpn-edge/client-disconnect.sh
#
# OpenVPN runs this synchronously: while it runs, no client of this server is served. So it
# never waits for the edge. It writes the report to the spool (ends/) and returns; a
# detached child delivers it at once, and the agent delivers whatever is still spooled
# (edge down, child killed) on its next pass, until the edge has it.
set -u
. "$(dirname "$0")/common.sh"
ip=${trusted_ip:-${trusted_ip6:-}}
port=${trusted_port:-}
if ! edge_valid_ip "$ip" || ! edge_valid_port "$port"; then exit 0; fi
key=$(edge_client_key "$ip" "$port")
# A degraded session's auth-gen-token dies with it: its user logs in again through the edge.
edge_revoke_token "$key" degraded-only
file="$EDGE_STATE_DIR/sessions/$key"
[ -f "$file" ] || exit 0
session=$(cat "$file")
if ! edge_valid_session_id "$session"; then
  rm -f "$file"
  exit 0
fi
if ! edge_spool_put "$EDGE_STATE_DIR/ends" "$(date +%s)-$key" "{\"session_id\":\"$session\"}"; then
  # Keep the session file: nothing else remembers this session.
  edge_log "session end client=$ip:$port: could not spool the report"
  exit 0
fi
rm -f "$file"
spooled=$EDGE_SPOOLED

deliver() {
  out=$(mktemp) || return 0
  status=$(edge_call POST /v1/sessions/end "$spooled" "$out")
  case "$status" in
    2[0-9][0-9] | 400 | 403 | 404 | 409 | 422)
      # Delivered, or an answer that a retry cannot change: done.
      rm -f "$spooled"
      edge_log "session end client=$ip:$port: HTTP $status"
      ;;
    *) edge_log "session end client=$ip:$port: $status (the agent retries)" ;;
  esac
  rm -f "$out"
}

(deliver) </dev/null >/dev/null &
exit 0
