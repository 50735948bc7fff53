#!/bin/sh
# OpenVPN auth-user-pass-verify hook (via-file, deferred): asks vpn-edge whether a user may
# connect, without ever blocking the OpenVPN server on a slow edge. See server.conf.example.
#
# OpenVPN deletes the credentials file when this script returns, so it is read first; the
# decision is made in the background and written to $auth_control_file (1 allow, 0 deny).
#
# Admits only when someone who may decide said yes (README "On each OpenVPN server"):
#  - the edge answered 200 {"decision":"allow","session_id":…};
#  - the edge is unavailable (curl: connection failure or timeout; or HTTP 5xx), the local
#    fail-open rule is `open`, the credentials pass the edge's own validation, and the
#    admission was written to the spool (the agent reports it for re-verification);
#  - a TLS renegotiation or reconnect presenting a valid auth-gen-token (session_state
#    Authenticated) of a session this server admitted, unless that token was revoked.
# Everything else denies: a local fault (mktemp, a full disk, an unreadable config), a
# 3xx or 4xx, an answer that is not what the edge sends, invalid credentials.
set -u
. "$(dirname "$0")/common.sh"

credfile=$(eval "printf '%s' \"\${$#}\"")
ip=${untrusted_ip:-${untrusted_ip6:-}}
port=${untrusted_port:-}
if ! edge_valid_ip "$ip" || ! edge_valid_port "$port"; then
  edge_die "auth deny: OpenVPN gave no valid client address"
fi
client="$ip:$port"

{
  IFS= read -r user || true
  IFS= read -r pass || true
} < "$credfile" || edge_die "auth deny client=$client: cannot read the credentials file"

# The edge refuses what it cannot store; so does a local admission (a username the edge
# would refuse would poison the whole spool report).
if ! printf '%s' "$user" | edge_valid_text 256; then
  edge_log "auth deny client=$client: invalid username"
  exit 1
fi
if ! printf '%s' "$pass" | edge_valid_text 1024; then
  edge_log "auth deny user=$user client=$client: invalid password"
  exit 1
fi

# auth-gen-token with external-auth: OpenVPN checked the token and tells us the verdict.
key=$(edge_client_key "$ip" "$port")
case "${session_state:-}" in
  Authenticated)
    # A renegotiation or reconnect of a session this server admitted: answered here, no edge
    # call and no new degraded admission, if this server knows how the token's session was
    # admitted (tokens/, or class/ of this address on its first renegotiation) and it was
    # not revoked (the edge had it disconnected, or a degraded session ended: its user must
    # log in again, so the edge hears of it).
    toksha=$(printf '%s' "${session_id:-}" | edge_sha256_hex)
    if [ -z "${session_id:-}" ] || [ -e "$EDGE_STATE_DIR/revoked/$toksha" ]; then
      edge_log "auth deny user=$user client=$client: revoked or unknown auth token"
      exit 1
    fi
    class=$(cat "$EDGE_STATE_DIR/tokens/$toksha" 2>/dev/null || cat "$EDGE_STATE_DIR/class/$key" 2>/dev/null)
    case "$class" in
      origin | degraded) ;;
      *)
        edge_log "auth deny user=$user client=$client: auth token of a session this server did not admit"
        exit 1
        ;;
    esac
    if ! printf '%s\n' "$class" > "$EDGE_STATE_DIR/tokens/$toksha" ||
      ! printf '%s\n' "$toksha" > "$EDGE_STATE_DIR/clients/$key"; then
      edge_log "auth deny user=$user client=$client: cannot record the token's session"
      exit 1
    fi
    edge_log "auth allow user=$user client=$client source=token"
    exit 0
    ;;
  Expired | ExpiredEmptyUser | Invalid | AuthenticatedEmptyUser)
    # The password field holds a token, not a password: never send it to the edge. (An
    # empty username cannot be checked against the revocations: a full login it is.)
    edge_log "auth deny user=$user client=$client: auth token ${session_state}"
    exit 1
    ;;
esac
# A new login from this address: forget what a previous session here left.
rm -f "$EDGE_STATE_DIR/class/$key" "$EDGE_STATE_DIR/clients/$key"

control=${auth_control_file:-}
[ -n "$control" ] || edge_die "auth deny user=$user client=$client: auth_control_file not set (deferred auth needs OpenVPN 2.6)"
reason_file=${auth_failed_reason_file:-}

body=$(mktemp) || edge_die "auth deny user=$user client=$client: mktemp failed in $TMPDIR"
out=$(mktemp) || { rm -f "$body"; edge_die "auth deny user=$user client=$client: mktemp failed in $TMPDIR"; }
cn=${common_name:-}
if [ -n "$cn" ] && printf '%s' "$cn" | edge_valid_text 256; then
  cn_field=",\"common_name\":$(edge_json_str "$cn")"
else
  cn_field=
fi
if ! printf '{"username":%s,"password":%s,"client_ip":"%s","client_port":%s%s}' \
  "$(edge_json_str "$user")" "$(edge_json_str "$pass")" "$ip" "$port" "$cn_field" > "$body"; then
  rm -f "$body" "$out"
  edge_die "auth deny user=$user client=$client: cannot write the request"
fi

answer() { # 1 allow | 0 deny, then the log line
  if [ "$1" = 0 ] && [ -n "$reason_file" ]; then
    printf 'AUTH_FAILED' > "$reason_file" 2>/dev/null
  fi
  printf '%s' "$1" > "$control" || edge_log "cannot write auth_control_file"
  shift
  edge_log "$@"
  rm -f "$body" "$out"
}

admit_locally() { # $1: what the edge did
  if [ "$EDGE_FAIL_OPEN" != open ]; then
    answer 0 "auth deny user=$user client=$client: edge unavailable ($1), fail-open is closed"
    return
  fi
  now=$(date +%s)
  item=$(printf '{"username":%s,"password":%s,"client_ip":"%s","client_port":%s,"admitted_at":%s}' \
    "$(edge_json_str "$user")" "$(edge_json_str "$pass")" "$ip" "$port" "$now")
  # No admission that is not written down: the spool is how the edge learns of it.
  if edge_spool_put "$EDGE_STATE_DIR/spool" "$now-$key" "$item"; then
    printf 'degraded\n' > "$EDGE_STATE_DIR/class/$key"
    answer 1 "auth allow user=$user client=$client source=local-fail-open (edge $1)"
  else
    answer 0 "auth deny user=$user client=$client: edge unavailable ($1) and the spool could not be written"
  fi
}

decide() {
  status=$(edge_call POST /v1/auth "$body" "$out")
  case "$status" in
    200)
      verdict=$(jq -r 'if .decision == "allow" and (.session_id | type) == "string" then "allow \(.session_id)"
        elif .decision == "deny" then "deny \(.source // "" | tostring | .[0:32])" else "malformed" end' "$out" 2>/dev/null)
      case "$verdict" in
        "allow "*)
          session=${verdict#allow }
          if ! edge_valid_session_id "$session"; then
            answer 0 "auth deny user=$user client=$client: the edge's answer has a malformed session id"
            return
          fi
          printf '%s\n' "$session" > "$EDGE_STATE_DIR/sessions/$key" ||
            edge_log "cannot record the session of $client: its end will not be reported"
          source=$(jq -r '.source // "" | tostring | .[0:32]' "$out" 2>/dev/null)
          # How renegotiations on this session's auth-gen-token are treated (above).
          case "$source" in origin) class=origin ;; *) class=degraded ;; esac
          printf '%s\n' "$class" > "$EDGE_STATE_DIR/class/$key"
          answer 1 "auth allow user=$user client=$client source=$source"
          ;;
        "deny "*) answer 0 "auth deny user=$user client=$client source=${verdict#deny }" ;;
        *) answer 0 "auth deny user=$user client=$client: malformed answer from the edge" ;;
      esac
      ;;
    net) admit_locally "unreachable" ;;
    5[0-9][0-9]) admit_locally "HTTP $status" ;;
    [1-4][0-9][0-9]) answer 0 "auth deny user=$user client=$client: edge answered HTTP $status" ;;
    *) answer 0 "auth deny user=$user client=$client: local failure calling the edge ($status)" ;;
  esac
}

# Deferred: answer OpenVPN at once, decide in the background. stderr stays OpenVPN's log.
(decide) </dev/null >/dev/null &
exit 2
