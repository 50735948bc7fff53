#!/bin/sh
# vpn-edge agent: every EDGE_HEARTBEAT_S seconds, sends the heartbeat with the live client
# count from the OpenVPN management interface, kills the clients on the edge's disconnect
# list (management `kill IP:port`) and acks them, and reports spooled local admissions.
#   vpn-edge-agent.sh          loop (the systemd unit runs this)
#   vpn-edge-agent.sh --once   one pass
# Needs: sh, curl, openssl, socat, jq.
set -u
. "$(dirname "$0")/common.sh"
EDGE_MGMT_SOCKET=${EDGE_MGMT_SOCKET:-/run/openvpn/vpn-edge.sock}
EDGE_HEARTBEAT_S=${EDGE_HEARTBEAT_S:-30}

# One management command; prints its answer (the interface serves one client at a time).
# `quit` goes only after the answer had time to arrive: closing early cuts the output off.
mgmt() {
  { printf '%s\n' "$1"; sleep "${EDGE_MGMT_WAIT_S:-1}"; printf 'quit\n'; } |
    socat -t 5 - "UNIX-CONNECT:$EDGE_MGMT_SOCKET" 2>/dev/null | tr -d '\r' | grep -v '^>'
}

client_count() {
  mgmt load-stats | sed -n 's/^SUCCESS: nclients=\([0-9]*\),.*/\1/p'
}

report_spool() {
  set -- "$EDGE_STATE_DIR"/spool/*.json
  [ -e "$1" ] || return 0
  body=$(mktemp) out=$(mktemp)
  # At most 100 per request, as the edge accepts.
  ls "$EDGE_STATE_DIR"/spool/*.json | head -n 100 > "$out.list"
  xargs cat < "$out.list" | jq -cs '{sessions: .}' > "$body"
  status=$(edge_call POST /v1/sessions/offline "$body" "$out")
  if [ "$status" = 200 ]; then
    xargs rm -f < "$out.list"
    edge_log "reported $(wc -l < "$out.list") spooled admission(s)"
  else
    edge_log "spool report failed: HTTP $status (kept for the next pass)"
  fi
  rm -f "$body" "$out" "$out.list"
}

pass() {
  n=$(client_count)
  body=$(mktemp) out=$(mktemp)
  printf '{"clients":%s}' "${n:-0}" > "$body"
  status=$(edge_call POST "/v1/servers/$EDGE_SERVER_ID/heartbeat" "$body" "$out")
  if [ "$status" != 200 ]; then
    edge_log "heartbeat failed: HTTP $status"
    rm -f "$body" "$out"
    report_spool
    return 0
  fi
  killed=""
  for row in $(jq -r '.disconnect[] | [.session_id, .client_ip, (.client_port|tostring), .username] | @base64' "$out"); do
    d=$(printf '%s' "$row" | base64 -d)
    id=$(printf '%s' "$d" | jq -r '.[0]') ip=$(printf '%s' "$d" | jq -r '.[1]')
    port=$(printf '%s' "$d" | jq -r '.[2]') user=$(printf '%s' "$d" | jq -r '.[3]')
    # HALT tells the client not to reconnect (client-kill by client id, found by its real
    # address in `status 3`); `kill ip:port` is the fallback the design names.
    cid=$(mgmt "status 3" | awk -F '\t' -v a="$ip:$port" '$1 == "CLIENT_LIST" && $3 == a { print $11; exit }')
    if [ -n "$cid" ]; then
      answer=$(mgmt "client-kill $cid HALT")
    else
      answer=$(mgmt "kill $ip:$port")
    fi
    case "$answer" in
      *SUCCESS*|*"not found"*|*"failed"*)
        # Killed, or already gone: either way the edge can forget it.
        edge_log "disconnect user=$user client=$ip:$port: $(printf '%s' "$answer" | head -n 1)"
        rm -f "$EDGE_STATE_DIR/sessions/$(edge_client_key "$ip" "$port")"
        killed="$killed $id"
        ;;
      *) edge_log "disconnect user=$user client=$ip:$port failed: $answer (retried next pass)" ;;
    esac
  done
  if [ -n "$killed" ]; then
    printf '%s\n' $killed | jq -R . | jq -cs '{session_ids: .}' > "$body"
    status=$(edge_call POST "/v1/servers/$EDGE_SERVER_ID/disconnects/ack" "$body" "$out")
    edge_log "ack of$killed: HTTP $status"
  fi
  rm -f "$body" "$out"
  report_spool
}

if [ "${1:-}" = --once ]; then
  pass
  exit 0
fi
while :; do
  pass
  sleep "$EDGE_HEARTBEAT_S"
done
