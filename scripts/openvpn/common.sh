# Shared by the vpn-edge OpenVPN scripts: configuration, logging, validation with the edge's
# own rules, JSON escaping, state paths and the spool.
# shellcheck shell=sh

# Byte semantics for tr, sed, awk and od whatever the caller's locale.
LC_ALL=C
export LC_ALL

EDGE_LIB_DIR=${EDGE_LIB_DIR:-$(dirname "$0")}
. "$EDGE_LIB_DIR/edge-lib.sh"

# Syslog when there is one, else stderr, which is OpenVPN's log for the hooks and the
# journal for the agent (README: "Where the logs are").
EDGE_SYSLOG_SOCKET=${EDGE_SYSLOG_SOCKET:-/dev/log}
edge_log() {
  # Never log passwords: callers pass only usernames, addresses and outcomes. Control
  # characters are dropped so that a username cannot forge a log line.
  _line=$(printf '%s' "$*" | tr -d '\000-\037\177')
  if [ -S "$EDGE_SYSLOG_SOCKET" ] && logger -u "$EDGE_SYSLOG_SOCKET" -t vpn-edge -- "$_line" 2>/dev/null; then
    return 0
  fi
  printf 'vpn-edge[%s]: %s\n' "$$" "$_line" >&2
}

# A configuration error: logged, and the caller fails (exit 1 is "deny" for the auth hook;
# `${X:?}` would exit 2, which OpenVPN reads as "deferred" and waits hand-window for).
edge_die() {
  edge_log "$*"
  exit 1
}

VPN_EDGE_CONF=${VPN_EDGE_CONF:-/etc/openvpn/vpn-edge.conf}
if [ -r "$VPN_EDGE_CONF" ]; then
  # shellcheck disable=SC1090
  . "$VPN_EDGE_CONF" || edge_die "cannot read $VPN_EDGE_CONF"
fi
[ -n "${EDGE_URL:-}" ] || edge_die "EDGE_URL is not set (is $VPN_EDGE_CONF readable by this user?)"
[ -n "${EDGE_SERVER_ID:-}" ] || edge_die "EDGE_SERVER_ID is not set in $VPN_EDGE_CONF"
[ -n "${EDGE_SERVER_KEY:-}" ] || edge_die "EDGE_SERVER_KEY is not set in $VPN_EDGE_CONF"
EDGE_STATE_DIR=${EDGE_STATE_DIR:-/var/lib/vpn-edge}
EDGE_FAIL_OPEN=${EDGE_FAIL_OPEN:-open}
export EDGE_URL EDGE_SERVER_ID EDGE_SERVER_KEY EDGE_TIMEOUT_S

# The state directory is shared by the hooks (OpenVPN's user, group vpn-edge) and the agent
# (root): group-readable files in setgid directories that `install` creates 2770.
umask 007
mkdir -p "$EDGE_STATE_DIR/sessions" "$EDGE_STATE_DIR/spool" "$EDGE_STATE_DIR/ends" \
  "$EDGE_STATE_DIR/revoked" "$EDGE_STATE_DIR/tokens" "$EDGE_STATE_DIR/clients" \
  "$EDGE_STATE_DIR/class" "$EDGE_STATE_DIR/tmp" 2>/dev/null
TMPDIR="$EDGE_STATE_DIR/tmp"
export TMPDIR

# edge_valid_text MAXBYTES < bytes: the edge's rule for usernames and passwords
# (shared/src/auth.rs `printable`): 1..MAXBYTES bytes of well-formed UTF-8 without a
# control character (Unicode Cc: U+0000..U+001F, U+007F..U+009F; U+0085 included).
edge_valid_text() {
  od -An -v -tu1 | awk -v max="$1" '
    { for (i = 1; i <= NF; i++) b[n++] = $i + 0 }
    END {
      if (n < 1 || n > max) exit 1
      i = 0
      while (i < n) {
        c = b[i]
        if (c < 128) { cp = c; len = 1 }
        else if (c >= 194 && c <= 223) { cp = c - 192; len = 2 }
        else if (c >= 224 && c <= 239) { cp = c - 224; len = 3 }
        else if (c >= 240 && c <= 244) { cp = c - 240; len = 4 }
        else exit 1
        if (i + len > n) exit 1
        for (k = 1; k < len; k++) {
          d = b[i + k]
          if (d < 128 || d > 191) exit 1
          cp = cp * 64 + d - 128
        }
        if (len == 3 && (cp < 2048 || (cp >= 55296 && cp <= 57343))) exit 1
        if (len == 4 && (cp < 65536 || cp > 1114111)) exit 1
        if (cp < 32 || (cp >= 127 && cp <= 159)) exit 1
        i += len
      }
      exit 0
    }'
}

# An IPv4 or IPv6 literal, nothing else (no port, no zone, no brackets).
edge_valid_ip() {
  case "$1" in '' | *[!0-9A-Fa-f:.]*) return 1 ;; esac
  [ ${#1} -le 45 ] || return 1
  printf '%s\n' "$1" | awk '
    function v4(s,   p, n, i) {
      n = split(s, p, ".")
      if (n != 4) return 0
      for (i = 1; i <= 4; i++) if (p[i] !~ /^[0-9]+$/ || length(p[i]) > 3 || p[i] + 0 > 255) return 0
      return 1
    }
    {
      s = $0
      if (s !~ /:/) exit !v4(s)
      if (s ~ /:::/) exit 1
      dbl = gsub(/::/, "::", s)
      if (dbl > 1) exit 1
      n = split(s, g, ":")
      groups = 0
      for (i = 1; i <= n; i++) {
        if (g[i] == "") continue
        if (i == n && g[i] ~ /\./) { if (!v4(g[i])) exit 1; groups += 2; continue }
        if (g[i] !~ /^[0-9A-Fa-f]+$/ || length(g[i]) > 4) exit 1
        groups++
      }
      if (s ~ /^:[^:]/ || s ~ /[^:]:$/) exit 1
      if (dbl) exit !(groups <= 7)
      exit !(groups == 8)
    }'
}

# A TCP/UDP port 1..65535, decimal without leading zeros.
edge_valid_port() {
  case "$1" in '' | 0* | *[!0-9]*) return 1 ;; esac
  [ ${#1} -le 5 ] && [ "$1" -ge 1 ] && [ "$1" -le 65535 ]
}

# A session id as the edge issues them (shared/src/types.rs `SessionId`): 1..64 of
# A-Z a-z 0-9 - _.
edge_valid_session_id() {
  case "$1" in '' | *[!A-Za-z0-9_-]*) return 1 ;; esac
  [ ${#1} -le 64 ]
}

# A JSON string literal of $1, which the caller has validated (no control characters):
# only the backslash and the quote need escaping.
edge_json_str() {
  printf '"%s"' "$(printf '%s' "$1" | sed -e 's/\\/\\\\/g' -e 's/"/\\"/g')"
}

# A file name for a client address ($1 ip, $2 port) that a shell cannot misread.
edge_client_key() {
  printf '%s_%s' "$1" "$2" | tr -c 'A-Za-z0-9._:-' '_'
}

# auth-gen-token bookkeeping, all under $EDGE_STATE_DIR (see auth-user-pass-verify.sh):
#   class/<client>    origin|degraded: how the login at this address was admitted
#   clients/<client>  SHA-256 of the token session id of the client at this address
#   tokens/<sha>      origin|degraded for that token session
#   revoked/<sha>     that token no longer admits anyone
# edge_revoke_token CLIENT_KEY [degraded-only]: revokes the token of the client at that
# address (all of them, or only degraded ones), and forgets the address.
edge_revoke_token() {
  _sha=$(cat "$EDGE_STATE_DIR/clients/$1" 2>/dev/null)
  case "$_sha" in
    '' | *[!0-9a-f]*) ;;
    *)
      if [ -z "${2:-}" ] || [ "$(cat "$EDGE_STATE_DIR/tokens/$_sha" 2>/dev/null)" != origin ]; then
        : > "$EDGE_STATE_DIR/revoked/$_sha" || edge_log "cannot revoke a token"
      fi
      ;;
  esac
  rm -f "$EDGE_STATE_DIR/clients/$1" "$EDGE_STATE_DIR/class/$1"
}

# edge_spool_put DIR PREFIX CONTENT: writes CONTENT as DIR/PREFIX-<random>.json, atomically
# (readers only ever see complete files), and fails when anything failed: mktemp, a full
# disk, a permission. The caller must not promise what it could not write down.
edge_spool_put() {
  _t=$(mktemp "$1/.new-$2-XXXXXX" 2>/dev/null) || return 1
  _new=$1/${_t##*/.new-}.json
  # mktemp makes 0600; the agent reads it by group (it has no capability to override).
  if chmod 0660 "$_t" 2>/dev/null && printf '%s\n' "$3" 2>/dev/null > "$_t" && mv -f "$_t" "$_new" 2>/dev/null; then
    # shellcheck disable=SC2034 # read by the caller
    EDGE_SPOOLED=$_new
    return 0
  fi
  rm -f "$_t"
  return 1
}
