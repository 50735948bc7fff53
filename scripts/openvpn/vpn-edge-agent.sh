#!/bin/sh
# vpn-edge agent: every EDGE_HEARTBEAT_S seconds
#  - sends the heartbeat: the live client count and whether OpenVPN answers its management
#    interface ("openvpn":"ok"|"down");
#  - kills the clients on the edge's disconnect list (management `client-kill CID HALT`,
#    else `kill IP:port`), revokes their auth-gen-tokens and acks them;
#  - reports spooled local admissions (/v1/sessions/offline) and spooled session ends
#    (/v1/sessions/end) that the client-disconnect hook could not deliver.
#   vpn-edge-agent.sh          loop (the systemd unit runs this)
#   vpn-edge-agent.sh --once   one pass
# Needs: sh, curl, openssl, socat, jq.
#
# Nothing the edge sends reaches the management interface unchecked: an address must be an
# IP literal, a port 1..65535, a session id the edge's shape, a client id digits; anything
# else is logged and skipped.
set -u
. "$(dirname "$0")/common.sh"
EDGE_MGMT_SOCKET=${EDGE_MGMT_SOCKET:-/run/vpn-edge/openvpn.sock}
EDGE_HEARTBEAT_S=${EDGE_HEARTBEAT_S:-30}
EDGE_TOKEN_LIFETIME_S=${EDGE_TOKEN_LIFETIME_S:-86400}
# Below the edge's 16 KiB body limit, whatever the items' sizes.
EDGE_OFFLINE_MAX_BYTES=${EDGE_OFFLINE_MAX_BYTES:-14000}
# systemd's RuntimeDirectory= for request temporaries (headers, bodies), if there is one.
if [ -n "${RUNTIME_DIRECTORY:-}" ] && [ -d "${RUNTIME_DIRECTORY%%:*}" ]; then
  TMPDIR=${RUNTIME_DIRECTORY%%:*}
fi

# One management command; prints its answer (the interface serves one client at a time).
# `quit` goes only after the answer had time to arrive: closing early cuts the output off.
# $1 is always built here from validated parts, never taken from the edge as is.
mgmt() {
  { printf '%s\n' "$1"; sleep "${EDGE_MGMT_WAIT_S:-1}"; printf 'quit\n'; } |
    socat -t 5 - "UNIX-CONNECT:$EDGE_MGMT_SOCKET" 2>/dev/null | tr -d '\r' | grep -v '^>'
}

# Sets clients and openvpn ("ok" when the management interface answers load-stats).
probe_openvpn() {
  stats=$(mgmt load-stats)
  clients=$(printf '%s\n' "$stats" | sed -n 's/^SUCCESS: nclients=\([0-9]*\),.*/\1/p' | head -n 1)
  if [ -n "$clients" ]; then
    openvpn=ok
  else
    openvpn=down clients=0
  fi
}

# Removes the items of a batch the edge answered (recorded or rejected), logging rejections.
# $1: list of spool files, $2: the edge's answer.
settle_offline() {
  jq -r '.rejected | if type == "array" then .[] else empty end | select(type == "object") | "\(.index|tostring) \(.error|tostring|.[0:200])"' "$2" 2>/dev/null |
    while read -r idx why; do
      case "$idx" in '' | *[!0-9]*) continue ;; esac
      f=$(sed -n "$((idx + 1))p" "$1")
      [ -n "$f" ] || continue
      u=$(jq -r '.username' "$f" 2>/dev/null | head -c 64)
      edge_log "offline admission of user=$u rejected by the edge: $why (dropped)"
    done
  # Session ids of recorded items, by index (or in order, as older edges answered), so that
  # the client-disconnect hook can end those sessions too.
  jq -r '(.recorded | if type == "array" then .[] else empty end | select(type == "object") | "\(.index|tostring) \(.session_id|tostring)"),
         (.session_ids | if type == "array" then to_entries[] else empty end | "\(.key) \(.value|tostring)")' "$2" 2>/dev/null |
    while read -r idx sid; do
      case "$idx" in '' | *[!0-9]*) continue ;; esac
      edge_valid_session_id "$sid" || continue
      f=$(sed -n "$((idx + 1))p" "$1")
      [ -n "$f" ] || continue
      cip=$(jq -r '.client_ip' "$f" 2>/dev/null) cport=$(jq -r '.client_port|tostring' "$f" 2>/dev/null)
      if ! edge_valid_ip "$cip" || ! edge_valid_port "$cport"; then continue; fi
      printf '%s\n' "$sid" > "$EDGE_STATE_DIR/sessions/$(edge_client_key "$cip" "$cport")"
    done
  xargs rm -f < "$1"
}

# One batch of spooled admissions; returns 1 when the edge is unavailable (keep the rest
# for the next pass).
report_offline_batch() {
  list=$(mktemp) body=$(mktemp) out=$(mktemp) || return 1
  size=20
  for f in "$EDGE_STATE_DIR"/spool/*.json; do
    [ -e "$f" ] || break
    if [ ! -r "$f" ]; then
      edge_log "spooled admission $f is not readable by the agent: kept"
      continue
    fi
    if ! jq -e 'type == "object"' "$f" >/dev/null 2>&1; then
      edge_log "spooled admission $f is not JSON: removed"
      rm -f "$f"
      continue
    fi
    n=$(wc -c < "$f")
    [ $((size + n + 1)) -le "$EDGE_OFFLINE_MAX_BYTES" ] || [ "$size" -eq 20 ] || break
    size=$((size + n + 1))
    printf '%s\n' "$f" >> "$list"
    [ "$(wc -l < "$list")" -lt 100 ] || break
  done
  if [ ! -s "$list" ]; then
    rm -f "$list" "$body" "$out"
    return 1
  fi
  xargs cat < "$list" | jq -cs '{sessions: .}' > "$body"
  status=$(edge_call POST /v1/sessions/offline "$body" "$out")
  rc=0
  case "$status" in
    200)
      settle_offline "$list" "$out"
      edge_log "reported $(wc -l < "$list") spooled admission(s)"
      ;;
    400 | 413 | 415 | 422)
      # An edge that judged the batch as a whole: drop the item it names, or the batch.
      idx=$(jq -r '.error.message // "" | capture("sessions\\[(?<i>[0-9]+)\\]").i // ""' "$out" 2>/dev/null)
      if [ -n "$idx" ] && f=$(sed -n "$((idx + 1))p" "$list") && [ -n "$f" ]; then
        edge_log "offline admission $f rejected by the edge (HTTP $status): dropped"
        rm -f "$f"
      else
        edge_log "spooled admission batch rejected by the edge (HTTP $status): dropped"
        xargs rm -f < "$list"
      fi
      ;;
    *)
      # 5xx, unreachable, 401 (clock, replay), 429, a local fault: nothing wrong with the
      # items; keep them for the next pass, which signs afresh.
      edge_log "spool report failed: $status (kept for the next pass)"
      rc=1
      ;;
  esac
  rm -f "$list" "$body" "$out"
  return $rc
}

report_spool() {
  i=0
  while [ $i -lt 50 ] && report_offline_batch; do i=$((i + 1)); done
}

# Session ends the client-disconnect hook spooled and could not deliver.
report_ends() {
  for f in "$EDGE_STATE_DIR"/ends/*.json; do
    [ -e "$f" ] || return 0
    out=$(mktemp) || return 0
    status=$(edge_call POST /v1/sessions/end "$f" "$out")
    rm -f "$out"
    case "$status" in
      2[0-9][0-9] | 400 | 403 | 404 | 409 | 422) rm -f "$f" ;;
      *)
        edge_log "session end report failed: $status (kept for the next pass)"
        return 0
        ;;
    esac
  done
}

# Kill the disconnect list in $1 (the heartbeat answer); prints the session ids to ack.
disconnect() {
  jq -r '(.disconnect // [])[] | [(.session_id|tostring), (.client_ip|tostring), (.client_port|tostring), (.username // "" | tostring | @base64)] | @tsv' "$1" 2>/dev/null |
    while IFS="$(printf '\t')" read -r id ip port user64; do
      user=$(printf '%s' "$user64" | base64 -d 2>/dev/null | head -c 1024)
      if ! edge_valid_session_id "$id" || ! edge_valid_ip "$ip" || ! edge_valid_port "$port"; then
        edge_log "disconnect item with invalid fields ignored: session=$(printf '%s' "$id" | head -c 64) client=$(printf '%s' "$ip:$port" | head -c 64)"
        continue
      fi
      # Its auth-gen-token must not bring it back (auth-user-pass-verify.sh).
      edge_revoke_token "$(edge_client_key "$ip" "$port")"
      # HALT tells the client not to reconnect (client-kill by client id, found by its real
      # address in `status 3`); `kill ip:port` is the fallback.
      cid=$(mgmt "status 3" | awk -F '\t' -v a="$ip:$port" '$1 == "CLIENT_LIST" && $3 == a { print $11; exit }')
      case "$cid" in
        '' | *[!0-9]*) answer=$(mgmt "kill $ip:$port") ;;
        *) answer=$(mgmt "client-kill $cid HALT") ;;
      esac
      case "$answer" in
        *SUCCESS* | *"not found"* | *failed*)
          # Killed, or already gone: either way the edge can forget it.
          edge_log "disconnect user=$user client=$ip:$port: $(printf '%s' "$answer" | head -n 1)"
          rm -f "$EDGE_STATE_DIR/sessions/$(edge_client_key "$ip" "$port")"
          printf '%s\n' "$id"
          ;;
        *) edge_log "disconnect user=$user client=$ip:$port failed: $(printf '%s' "$answer" | head -n 1) (retried next pass)" ;;
      esac
    done
}

pass() {
  probe_openvpn
  body=$(mktemp) out=$(mktemp) || {
    edge_log "mktemp failed in $TMPDIR"
    return 0
  }
  printf '{"clients":%s,"openvpn":"%s"}' "$clients" "$openvpn" > "$body"
  status=$(edge_call POST "/v1/servers/$EDGE_SERVER_ID/heartbeat" "$body" "$out")
  if [ "$status" = 200 ]; then
    killed=$(disconnect "$out")
    if [ -n "$killed" ]; then
      # shellcheck disable=SC2086 # one validated session id per word
      printf '%s\n' $killed | jq -R . | jq -cs '{session_ids: .}' > "$body"
      status=$(edge_call POST "/v1/servers/$EDGE_SERVER_ID/disconnects/ack" "$body" "$out")
      # shellcheck disable=SC2086
      edge_log "ack of $(printf '%s ' $killed): $status"
    fi
  else
    edge_log "heartbeat failed: $status (openvpn $openvpn)"
  fi
  rm -f "$body" "$out"
  report_spool
  report_ends
  # Token bookkeeping outlives every token it is about, then goes.
  find "$EDGE_STATE_DIR/revoked" "$EDGE_STATE_DIR/tokens" "$EDGE_STATE_DIR/clients" "$EDGE_STATE_DIR/class" \
    -type f -mmin +$((EDGE_TOKEN_LIFETIME_S / 60 + 1)) -exec rm -f {} + 2>/dev/null
}

if [ "${1:-}" = --once ]; then
  pass
  exit 0
fi
while :; do
  pass
  sleep "$EDGE_HEARTBEAT_S"
done
