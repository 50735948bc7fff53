#!/bin/sh
# OpenVPN auth-user-pass-verify hook (via-file, deferred): asks vpn-edge whether a user may
# connect, without ever blocking the OpenVPN server on a slow edge.
#
#   script-security 2
#   auth-user-pass-verify /usr/local/lib/vpn-edge/auth-user-pass-verify.sh via-file
#   tmp-dir /dev/shm
#
# OpenVPN deletes the credentials file when this script returns, so it is read first; the
# decision is made in the background and written to $auth_control_file (1 allow, 0 deny).
# If the edge cannot be reached, EDGE_FAIL_OPEN=open admits the user and spools the
# admission; the agent reports it to the edge (/v1/sessions/offline) for re-verification.
set -u
. "$(dirname "$0")/common.sh"

credfile=$(eval "printf '%s' \"\${$#}\"")
control=${auth_control_file:?auth_control_file not set: enable deferred auth (OpenVPN 2.6)}
reason_file=${auth_failed_reason_file:-}
ip=${untrusted_ip:-${untrusted_ip6:-}}
port=${untrusted_port:-0}

body=$(mktemp) out=$(mktemp)
{
  IFS= read -r user || true
  IFS= read -r pass || true
} < "$credfile"
printf '{"username":%s,"password":%s,"client_ip":%s,"client_port":%s,"common_name":%s}' \
  "$(edge_json_str "$user")" "$(edge_json_str "$pass")" "$(edge_json_str "$ip")" "$port" \
  "$(edge_json_str "${common_name:-$user}")" > "$body"

decide() {
  status=$(edge_call POST /v1/auth "$body" "$out")
  case "$status" in
    200)
      decision=$(sed -n 's/.*"decision":"\([a-z]*\)".*/\1/p' "$out")
      source=$(sed -n 's/.*"source":"\([a-z]*\)".*/\1/p' "$out")
      session=$(sed -n 's/.*"session_id":"\([0-9a-f]*\)".*/\1/p' "$out")
      if [ "$decision" = allow ]; then
        [ -n "$session" ] && printf '%s\n' "$session" > "$EDGE_STATE_DIR/sessions/$(edge_client_key "$ip" "$port")"
        edge_log "auth allow user=$user client=$ip:$port source=$source"
        printf 1 > "$control"
      else
        edge_log "auth deny user=$user client=$ip:$port source=$source"
        [ -n "$reason_file" ] && printf 'AUTH_FAILED' > "$reason_file"
        printf 0 > "$control"
      fi
      ;;
    4*)
      # The edge understood and refused the request itself (a bad field): deny.
      edge_log "auth deny user=$user client=$ip:$port edge said HTTP $status"
      printf 0 > "$control"
      ;;
    *)
      # The edge is unreachable or failing: the local fail-open rule.
      if [ "$EDGE_FAIL_OPEN" = open ]; then
        spool="$EDGE_STATE_DIR/spool/$(date +%s)-$(edge_client_key "$ip" "$port").json"
        printf '{"username":%s,"password":%s,"client_ip":%s,"client_port":%s,"admitted_at":%s}\n' \
          "$(edge_json_str "$user")" "$(edge_json_str "$pass")" "$(edge_json_str "$ip")" "$port" "$(date +%s)" > "$spool"
        edge_log "auth allow user=$user client=$ip:$port source=local-fail-open (edge HTTP $status)"
        printf 1 > "$control"
      else
        edge_log "auth deny user=$user client=$ip:$port edge unreachable, fail-open is closed"
        printf 0 > "$control"
      fi
      ;;
  esac
  rm -f "$body" "$out"
}

# Deferred: answer OpenVPN at once, decide in the background.
( decide ) </dev/null >/dev/null 2>&1 &
exit 2
