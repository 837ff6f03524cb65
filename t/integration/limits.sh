#!/bin/sh
# Header fields up to and past our limits through the real daemon: fields
# of 60 KB, 100 KiB (Postfix's header_size_limit) and 1 MiB reach the
# filter (libmilter's packet limit is raised past HDR_MAX_BYTES), and one
# past our own limit gets a 552 reply and a log line, never a reset. And
# an MTA that refuses the deletion of a forged field gets a tempfail,
# even with on_internal_error = "accept".
. "$top_srcdir/t/lib/common.sh"
. "$top_srcdir/t/integration/lib.sh"

cat > "$T_TMP/zone.json" <<'EOZ'
{
 "client.test": [{"type": "TXT", "data": "v=spf1 ip4:192.0.2.1 -all"}]
}
EOZ
t_dns_start "$T_TMP/zone.json"
am_conf "$T_TMP/am.conf" 'on_internal_error = "accept";'
am_start "$T_TMP/am.conf" || { t_fail "daemon starts"; t_done; exit 1; }
t_ok "daemon starts"

# big_field BYTES: a message whose X-Big field has a value of BYTES bytes
# (after the colon, in 998-byte folded lines).
big_field() {
	$PY - "$1" <<'EOP'
import sys
n = int(sys.argv[1])
sys.stdout.write("From: a@client.test\nSubject: big field\nX-Big:")
left = n
first = True
while left > 0:
    take = min(left, 998 if first else 997)
    if first:
        sys.stdout.write(" " + "x" * (take - 1))
    else:
        sys.stdout.write("\n\t" + "x" * (take - 2))
    left -= take
    first = False
sys.stdout.write("\n\nhello\n")
EOP
}

# check SIZE NAME WANT-EOM [WANT-LOG-REGEX]
check() {
	big_field "$1" > "$T_TMP/big.eml"
	out=$(miltc_run --mail-from a@client.test --queue-id "Q$1" \
	    < "$T_TMP/big.eml" 2>&1)
	t_eq "$2: end of message" \
	    "$(printf '%s\n' "$out" | grep -E '^reply eom:|miltc:' | head -n 1)" "$3"
	if [ -n "${4:-}" ]; then
		if wait_log "$4"; then
			t_ok "$2: log line"
		else
			t_fail "$2: log line" "$(tail -n 3 "$T_TMP/am.log")"
		fi
	fi
}

check 60000 "60 KB field" "reply eom: accept" "Q60000: .*action=accept"
check 102400 "100 KiB field" "reply eom: accept" "Q102400: .*action=accept"
check 1048576 "1 MiB field" \
    "reply eom: reject 552 5.3.4 Message header exceeds 1000 fields or 1048576 bytes (at X-Big, a field of 1048582 bytes)" \
    'Q1048576: .*action=reject reply="552 5\.3\.4 Message header exceeds 1000 fields or 1048576 bytes \(at X-Big, a field of 1048582 bytes\)"$'
check 3145728 "3 MiB field" \
    "reply eom: reject 552 5.3.4 Message header exceeds 1000 fields or 1048576 bytes (at X-Big, a field of 3145734 bytes)" \
    'Q3145728: .*action=reject reply="552 5\.3\.4 Message header exceeds .* \(at X-Big, a field of 3145734 bytes\)"$'
# The daemon still serves.
out=$(printf 'From: a@client.test\nSubject: hi\n\nhello\n' | miltc_run --mail-from a@client.test)
t_eq "a normal message after them" \
    "$(printf '%s\n' "$out" | grep '^reply eom:')" "reply eom: accept"

# An MTA that did not grant SMFIF_CHGHDRS (0x10): the forged field cannot
# be deleted, so the message must not be accepted.
out=$(printf '%s\n' 'Authentication-Results: mx.test; dkim=pass header.d=bank.test' \
    'From: a@client.test' 'Subject: forged' '' 'body' |
    miltc_run --mail-from a@client.test --actions 0x121)
t_eq "forged field, deletion refused: tempfail" \
    "$(printf '%s\n' "$out" | grep '^reply eom:' | cut -d' ' -f1-3)" "reply eom: tempfail"
am_stop
t_done
