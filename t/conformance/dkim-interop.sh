#!/bin/sh
# DKIM interop, both directions, through the real DNS path (RFC 6376, RFC
# 8463): messages signed by authmilter-check verify with Debian's dkimpy
# (python3-dkim) and Mail::DKIM (libmail-dkim-perl, RSA only); messages
# signed by those two verify as pass with authmilter-check; and dkimpy and
# Mail::DKIM verify each other, which proves the harness. Tampered
# messages (a body byte, a signed header, a second From where From is
# oversigned) fail everywhere.
#
# Keys: authmilter-keygen, a fresh set per run, published in the loopback
# DNS zone. Matrix: rsa-sha256 1024/2048/4096 and ed25519-sha256 x
# simple/simple, relaxed/relaxed, relaxed/simple x t/data/interop/*.eml,
# plus multiple signatures. One line per case, then "N passed, N failed".
. "${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}/t/lib/common.sh"

HELPER_PY=$top_srcdir/t/conformance/dkim_interop.py
HELPER_PL=$top_srcdir/t/conformance/dkim_interop.pl
case "${PERL:-no}" in no | "") PERL=/usr/bin/perl ;; esac
KEYGEN=$top_builddir/milter/authmilter-keygen
CHECK=$top_builddir/milter/authmilter-check
DOM=example.test
KEYS="rsa1024 rsa2048 rsa4096 ed25519"
CANONS="simple/simple relaxed/relaxed relaxed/simple"
cd "$T_TMP" || exit 1
mkdir keys msg conf am py pl tam out

alg_of() {
	case "$1" in ed*) echo ed25519-sha256 ;; *) echo rsa-sha256 ;; esac
}
is_rsa() {
	case "$1" in rsa*) return 0 ;; *) return 1 ;; esac
}
# Short canonicalization names for file names.
c_of() {
	case "$1" in
	simple/simple) echo ss ;;
	relaxed/relaxed) echo rr ;;
	relaxed/simple) echo rs ;;
	esac
}
# pl_expect CANON MESSAGE: what a Mail::DKIM signature or verification
# gives. RFC 6376 3.4.3: the "simple" body canonicalization adds a CRLF to
# a body that does not end in one; Mail::DKIM, whose API takes SMTP-form
# input that always ends in CRLF, does not, so its simple-body hash of
# such a body differs from everyone else's. Over SMTP the body always ends
# in CRLF; in these files it does not, and RFC 6376 decides.
pl_expect() {
	case "$1 $2" in
	*/simple\ no-final-crlf) echo fail ;;
	*) echo pass ;;
	esac
}
spec() { # KEY CANON: one signing spec for the helpers' sign-batch
	echo "$(alg_of "$1"):$1:$DOM:$T_TMP/keys/$1.key:$2"
}
# report CASES RESULTS: one t_ok/t_fail per result line ("ok<TAB>NAME" or
# "FAIL<TAB>NAME<TAB>why"), and a FAIL for every case with no result line
# (a helper that died).
report() {
	while IFS='	' read -r st name why; do
		if [ "$st" = ok ]; then
			t_ok "$name"
		else
			t_fail "$name" "$why"
		fi
	done <"$2"
	cut -f1 "$1" | sort >"$1.names"
	cut -f2 "$2" | sort >"$2.names"
	comm -23 "$1.names" "$2.names" >"$2.missing"
	while IFS= read -r name; do
		t_fail "$name" "no result (the verifier stopped; see its stderr)"
	done <"$2.missing"
}

# --- keys and zone ---
for k in $KEYS; do
	case $k in
	ed25519) args="-a ed25519" ;;
	*) args="-b ${k#rsa}" ;;
	esac
	# shellcheck disable=SC2086
	("$KEYGEN" -d $DOM -s "$k" $args -D keys >"keys/$k.out" \
	    2>"keys/$k.err"; echo $? >"keys/$k.rc") &
done
wait
for k in $KEYS; do
	t_eq "keygen $k" "$(cat "keys/$k.rc") $(stat -c %a "keys/$k.key" \
	    2>/dev/null)" "0 600"
done
$PY "$HELPER_PY" zone zone.json keys/*.out || { t_fail "zone"; t_done; exit; }
t_dns_start "$T_TMP/zone.json"

MSGS=""
for f in "$top_srcdir"/t/data/interop/*.eml; do
	m=$(basename "$f" .eml)
	MSGS="$MSGS $m"
	$PY "$HELPER_PY" crlf "$f" "msg/$m.eml"
done
# The key size changes only the RSA arithmetic, not the canonicalization:
# 1024- and 4096-bit keys sign three of the messages, the others all.
msgs_for() {
	case "$1" in
	rsa1024 | rsa4096) echo plain long-headers utf8 ;;
	*) echo "$MSGS" ;;
	esac
}

# --- authmilter-check sign: one config per key list and canonicalization ---
# write_conf NAME CANON KEY...
write_conf() {
	name=$1 canon=$2
	shift 2
	keys="" list=""
	for k in $KEYS; do
		keys="$keys${keys:+,
}		{ name = \"$k\"; domain = \"$DOM\"; selector = \"$k\";
		  algorithm = \"$(alg_of "$k")\"; file = \"$T_TMP/keys/$k.key\"; }"
	done
	for k in "$@"; do
		list="$list${list:+, }\"$k\""
	done
	cat >"conf/$name.conf" <<EOC
authserv_id = "mx.example.test";
user = "";
sign_networks = ["127.0.0.0/8"];
dns: { unbound_conf = "$DNS_CONF"; };
dkim: {
	sign: {
		canonicalization = "$canon";
		headers = ["From", "To", "Cc", "Subject", "Date", "Message-ID",
		    "Reply-To", "MIME-Version", "Content-Type",
		    "Content-Transfer-Encoding"];
		oversign = ["From"];
		keys = (
$keys
		);
		table = ( { from = "*@$DOM"; keys = [$list]; } );
	};
};
EOC
}
# authmilter-check runs are mostly start-up latency: they go through
# xargs -P, each job a "sh -c" script with its arguments.
export CHECK PERL DNS_CONF
JOBS=4
# CONF IN OUT: authmilter-check sign, its output with CRLF line ends.
AM_SIGN='
if "$CHECK" sign -c "conf/$1.conf" --from-ip 127.0.0.1 <"$2" >"$3.tmp" \
    2>"$3.err" && [ -s "$3.tmp" ]; then
	"$PERL" -pe "s/\\r?\\n\\z/\\r\\n/" "$3.tmp" >"$3"
else
	{ echo "authmilter-check sign -c conf/$1.conf < $2: exit $?"
	  head -3 "$3.err"; } >>am/errors
fi
rm -f "$3.tmp"'
# IN OUT ERR: authmilter-check message, inbound from a client outside
# sign_networks.
AM_VERIFY='
[ -f "$1" ] || exit 0
"$CHECK" message --ip 192.0.2.1 --helo mail.example.net \
    --mail-from alice@example.test --dns-conf "$DNS_CONF" \
    --authserv-id mx.example.test <"$1" >"$2" 2>"$3"
echo $? >"$2.rc"'
am_sign() {
	echo "$1 $2 $3" >>am.jobs
}
am_run() { # JOBFILE SCRIPT ARGS-PER-JOB
	xargs -P $JOBS -n "$3" sh -c "$2" sh <"$1"
}

# --- Mail::DKIM signs (RSA), and the first link of chain 1 ---
: >pl.specs
for k in $KEYS; do
	is_rsa "$k" || continue
	for c in $CANONS; do
		for m in $(msgs_for $k); do
			printf '%s\t%s\t%s\n' "msg/$m.eml" \
			    "pl/$k.$(c_of $c).$m.eml" "$(spec $k $c)" >>pl.specs
		done
	done
done
printf '%s\t%s\t%s\n' msg/plain.eml pl/chain1.eml \
    "$(spec rsa2048 relaxed/simple)" >>pl.specs
$PERL "$HELPER_PL" sign-batch <pl.specs 2>pl.err || t_fail "Mail::DKIM signing" "$(head -3 pl.err)"

# --- dkimpy signs, multiple signatures, chain 1's second link ---
: >py.specs
for k in $KEYS; do
	for c in $CANONS; do
		for m in $(msgs_for $k); do
			printf '%s\t%s\t%s\n' "msg/$m.eml" \
			    "py/$k.$(c_of $c).$m.eml" "$(spec $k $c)" >>py.specs
		done
	done
done
for c in simple/simple relaxed/relaxed; do
	for m in plain utf8; do
		printf '%s\t%s\t%s\n' "msg/$m.eml" "py/multi.$(c_of $c).$m.eml" \
		    "$(spec rsa2048 $c),$(spec ed25519 $c)" >>py.specs
	done
done
printf '%s\t%s\t%s\n' pl/chain1.eml py/chain1.eml \
    "$(spec ed25519 relaxed/relaxed)" >>py.specs
$PY "$HELPER_PY" sign-batch <py.specs 2>py.err || t_fail "dkimpy signing" "$(head -3 py.err)"

# --- authmilter-check signs; chain 1's last link, chain 2's first ---
: >am/errors
: >am.jobs
for k in $KEYS; do
	for c in $CANONS; do
		write_conf "$k.$(c_of $c)" "$c" "$k"
		for m in $(msgs_for $k); do
			am_sign "$k.$(c_of $c)" "msg/$m.eml" "am/$k.$(c_of $c).$m.eml"
		done
	done
done
for c in simple/simple relaxed/relaxed; do
	write_conf "multi.$(c_of $c)" "$c" rsa2048 ed25519
	for m in plain utf8; do
		am_sign "multi.$(c_of $c)" "msg/$m.eml" "am/multi.$(c_of $c).$m.eml"
	done
done
am_sign rsa4096.ss py/chain1.eml am/chain1.eml
am_sign rsa2048.rr msg/plain.eml am/chain2.eml
am_run am.jobs "$AM_SIGN" 3
if [ -s am/errors ]; then
	echo "authmilter-check sign failures (first lines):"
	head -6 am/errors | sed 's/^/  /'
fi

# --- chain 2: authmilter, then dkimpy, then Mail::DKIM ---
printf '%s\t%s\t%s\n' am/chain2.eml py/chain2.eml \
    "$(spec ed25519 relaxed/simple)" | $PY "$HELPER_PY" sign-batch 2>>py.err
printf '%s\t%s\t%s\n' py/chain2.eml pl/chain2.eml \
    "$(spec rsa1024 simple/simple)" | $PERL "$HELPER_PL" sign-batch 2>>pl.err

# --- tampering: a body byte, a signed header, a second From ---
: >tamper.specs
for s in am py pl; do
	for k in rsa2048 ed25519; do
		[ $s = pl ] && ! is_rsa $k && continue
		for c in ss rr; do
			for t in body header from; do
				printf '%s\t%s\t%s\n' $t "$s/$k.$c.plain.eml" \
				    "tam/$s.$k.$c.$t.eml" >>tamper.specs
			done
		done
	done
done
$PY "$HELPER_PY" tamper-batch <tamper.specs || t_fail "tampering" "helper failed"

# --- cases: NAME<TAB>FILE<TAB>EXPECT for each verifier ---
: >v-py.cases
: >v-pl.cases
: >v-am.cases
for k in $KEYS; do
	for c in $CANONS; do
		cc=$(c_of $c)
		for m in $(msgs_for $k); do
			f="$k.$cc.$m.eml"
			printf 'authmilter>dkimpy %s %s %s\t%s\tpass\n' \
			    $k $c $m "am/$f" >>v-py.cases
			printf 'dkimpy>authmilter %s %s %s\t%s\tpass\n' \
			    $k $c $m "py/$f" >>v-am.cases
			is_rsa $k || continue
			e=$(pl_expect $c $m)
			printf 'authmilter>mail-dkim %s %s %s\t%s\t%s\n' \
			    $k $c $m "am/$f" $e >>v-pl.cases
			printf 'mail-dkim>authmilter %s %s %s\t%s\t%s\n' \
			    $k $c $m "pl/$f" $e >>v-am.cases
			printf 'mail-dkim>dkimpy %s %s %s\t%s\t%s\n' \
			    $k $c $m "pl/$f" $e >>v-py.cases
			printf 'dkimpy>mail-dkim %s %s %s\t%s\t%s\n' \
			    $k $c $m "py/$f" $e >>v-pl.cases
		done
	done
done
for c in simple/simple relaxed/relaxed; do
	for m in plain utf8; do
		f="multi.$(c_of $c).$m.eml"
		printf 'authmilter>dkimpy rsa+ed25519 %s %s\t%s\tpass pass\n' \
		    $c $m "am/$f" >>v-py.cases
		printf 'authmilter>mail-dkim rsa+ed25519 %s %s\t%s\tpass *\n' \
		    $c $m "am/$f" >>v-pl.cases
		printf 'dkimpy>authmilter rsa+ed25519 %s %s\t%s\tpass pass\n' \
		    $c $m "py/$f" >>v-am.cases
	done
done
# Chain 1, top to bottom: authmilter rsa4096, dkimpy ed25519, Mail::DKIM
# rsa2048. Chain 2: Mail::DKIM rsa1024, dkimpy ed25519, authmilter rsa2048.
for ch in chain1 chain2; do
	f=am/$ch.eml
	[ $ch = chain2 ] && f=pl/$ch.eml
	printf 'three signers %s>authmilter\t%s\tpass pass pass\n' $ch $f >>v-am.cases
	printf 'three signers %s>dkimpy\t%s\tpass pass pass\n' $ch $f >>v-py.cases
	printf 'three signers %s>mail-dkim\t%s\tpass * pass\n' $ch $f >>v-pl.cases
done
for s in am py pl; do
	for k in rsa2048 ed25519; do
		[ $s = pl ] && ! is_rsa $k && continue
		for c in ss rr; do
			for t in body header from; do
				f="tam/$s.$k.$c.$t.eml"
				case $s in
				am)
					printf 'tampered %s: authmilter>dkimpy %s %s\t%s\tfail\n' \
					    $t $k $c "$f" >>v-py.cases
					is_rsa $k && printf 'tampered %s: authmilter>mail-dkim %s %s\t%s\tfail\n' \
					    $t $k $c "$f" >>v-pl.cases
					;;
				py)
					printf 'tampered %s: dkimpy>authmilter %s %s\t%s\tfail\n' \
					    $t $k $c "$f" >>v-am.cases
					;;
				pl)
					printf 'tampered %s: mail-dkim>authmilter %s %s\t%s\tfail\n' \
					    $t $k $c "$f" >>v-am.cases
					;;
				esac
			done
		done
	done
done

# --- verify: the three verifiers side by side ---
$PY "$HELPER_PY" verify-batch --port "$T_DNS_PORT" <v-py.cases \
    >v-py.results 2>v-py.err &
V_PY=$!
$PERL "$HELPER_PL" verify-batch --port "$T_DNS_PORT" <v-pl.cases \
    >v-pl.results 2>v-pl.err &
V_PL=$!
: >ar.cases
: >ar.jobs
i=0
while IFS='	' read -r name f expect; do
	i=$((i + 1))
	echo "$f out/$i.ar out/$i.err" >>ar.jobs
	printf '%s\t%s\t%s\t%s\n' "$name" "$f" "out/$i.ar" "$expect" >>ar.cases
done <v-am.cases
am_run ar.jobs "$AM_VERIFY" 3
wait $V_PY $V_PL
report v-py.cases v-py.results
report v-pl.cases v-pl.results
# authmilter-check's Authentication-Results are read by the Python helper.
$PY "$HELPER_PY" ar-batch <ar.cases >v-am.results 2>v-am.err
report ar.cases v-am.results

t_done
