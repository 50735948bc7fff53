# Shared by the vpn-edge OpenVPN scripts: configuration, JSON escaping, state paths.
# shellcheck shell=sh

. "$(dirname "$0")/edge-lib.sh"

VPN_EDGE_CONF=${VPN_EDGE_CONF:-/etc/openvpn/vpn-edge.conf}
# shellcheck disable=SC1090
[ -r "$VPN_EDGE_CONF" ] && . "$VPN_EDGE_CONF"
: "${EDGE_URL:?EDGE_URL is not set (see vpn-edge.conf.example)}"
: "${EDGE_SERVER_ID:?EDGE_SERVER_ID is not set}"
: "${EDGE_SERVER_KEY:?EDGE_SERVER_KEY is not set}"
EDGE_STATE_DIR=${EDGE_STATE_DIR:-/var/lib/vpn-edge}
EDGE_FAIL_OPEN=${EDGE_FAIL_OPEN:-open}
export EDGE_URL EDGE_SERVER_ID EDGE_SERVER_KEY EDGE_TIMEOUT_S

umask 077
mkdir -p "$EDGE_STATE_DIR/sessions" "$EDGE_STATE_DIR/spool" "$EDGE_STATE_DIR/tmp"
TMPDIR="$EDGE_STATE_DIR/tmp"
export TMPDIR

# A JSON string literal of $1. OpenVPN gives printable text without CR/LF; escape the two
# characters JSON needs and drop any control character that slipped through.
edge_json_str() {
  printf '"%s"' "$(printf '%s' "$1" | tr -d '\000-\037' | sed -e 's/\\/\\\\/g' -e 's/"/\\"/g')"
}

# A file name for a client address ($1 ip, $2 port) that a shell cannot misread.
edge_client_key() {
  printf '%s_%s' "$1" "$2" | tr -c 'A-Za-z0-9._:-' '_'
}

edge_log() {
  # Never log passwords: callers pass only usernames, addresses and outcomes.
  logger -t vpn-edge -- "$*" 2>/dev/null || printf 'vpn-edge: %s\n' "$*" >&2
}
