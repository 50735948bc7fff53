# vpn-edge client library for POSIX sh: HMAC request signing and signed calls with curl.
# Sourced by the OpenVPN hook scripts, the agent and scripts/signed-request.
#
# Secrets never appear on a command line (ps shows those): keys are handled by shell
# builtins and reach openssl and curl only through pipes and files.
#
# Needs: EDGE_URL, EDGE_SERVER_ID, EDGE_SERVER_KEY (hex, from scripts/server-key).

# Hex of stdin, no separators.
edge_hex() { od -An -v -tx1 | tr -d ' \n'; }

# printf format of octal escapes for the hex bytes $1, each XOR-ed with $2, padded with
# zero bytes to $3 bytes.
_edge_fmt() {
  _k=$1 _x=$2 _n=$3 _out='' _i=0
  while [ $_i -lt "$_n" ]; do
    _b=${_k%"${_k#??}"}
    _k=${_k#??}
    [ -n "$_b" ] || _b=00
    _out="$_out$(printf '\\%03o' $((0x$_b ^ _x)))"
    _i=$((_i + 1))
  done
  printf '%s' "$_out"
}

# HMAC-SHA256 of stdin under the hex key $1 (any length); prints lowercase hex.
edge_hmac_hex() {
  _key=$1
  if [ ${#_key} -gt 128 ]; then
    # Keys longer than the block are hashed first (RFC 2104).
    _fmt=$(_edge_fmt "$_key" 0 $((${#_key} / 2)))
    # shellcheck disable=SC2059
    _key=$(printf "$_fmt" | openssl dgst -sha256 -r | cut -c1-64)
  fi
  _ipad=$(_edge_fmt "$_key" 54 64)
  _opad=$(_edge_fmt "$_key" 92 64)
  # shellcheck disable=SC2059 # the pads are printf formats of octal escapes by design
  { printf "$_opad"; { printf "$_ipad"; cat; } | openssl dgst -sha256 -binary; } | openssl dgst -sha256 -r | cut -c1-64
}

edge_sha256_hex() { openssl dgst -sha256 -r | cut -c1-64; }

# edge_call METHOD PATH BODYFILE OUTFILE -> prints what happened, for callers to classify:
#   the HTTP status (200, 302, 404, 503, ...) when the edge answered;
#   "net"     when the edge could not be reached: DNS failure, refused or reset connection,
#             empty reply, timeout (curl exit 6, 7, 28, 52, 55, 56);
#   "err<N>"  for anything else, which is a local fault (a temporary file that could not be
#             written, a bad URL, a TLS or CA problem: curl exit N).
# Only "net" and 5xx mean "the edge is unavailable" (README: "On each OpenVPN server").
# The body is read from a file so that passwords never pass through argv. Each call signs
# afresh with the current second, so a retry is never a replay of an earlier request.
edge_call() {
  _m=$1 _p=$2 _bf=$3 _of=$4
  _ts=$(date +%s)
  _bh=$(edge_sha256_hex < "$_bf") || { printf 'errbody'; return 0; }
  _sig=$(printf '%s\n%s\n%s\n%s' "$_ts" "$_m" "$_p" "$_bh" | edge_hmac_hex "$EDGE_SERVER_KEY")
  case "$_bh$_sig" in *[!0-9a-f]* | '') printf 'errsign'; return 0 ;; esac
  [ ${#_sig} -eq 64 ] || { printf 'errsign'; return 0; }
  # Headers go through a file (curl -H @file) so nothing secret is in argv.
  _hf=$(mktemp "${TMPDIR:-/tmp}/edge-h.XXXXXX") || { printf 'errtmp'; return 0; }
  if ! {
    printf 'Content-Type: application/json\n'
    printf 'X-Edge-Server: %s\n' "$EDGE_SERVER_ID"
    printf 'X-Edge-Timestamp: %s\n' "$_ts"
    printf 'X-Edge-Signature: %s\n' "$_sig"
  } > "$_hf"; then
    rm -f "$_hf"
    printf 'errtmp'
    return 0
  fi
  _code=$(curl -sS -o "$_of" -w '%{http_code}' --max-time "${EDGE_TIMEOUT_S:-5}" \
    -X "$_m" -H "@$_hf" --data-binary "@$_bf" "$EDGE_URL$_p" 2>/dev/null)
  _rc=$?
  rm -f "$_hf"
  case "$_rc" in
    0) case "$_code" in [1-5][0-9][0-9]) printf '%s' "$_code" ;; *) printf 'errcode' ;; esac ;;
    6 | 7 | 28 | 52 | 55 | 56) printf 'net' ;;
    *) printf 'err%s' "$_rc" ;;
  esac
}
