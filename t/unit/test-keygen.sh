#!/bin/sh
# authmilter-keygen: key file mode and no-overwrite, the TXT record (strings
# of at most 255 octets whose p= is the key's public half), RFC 8301 key
# sizes, Ed25519 keys of 32 octets, dated selectors, name checks; the
# config lines (publish_check = true) and the rotation steps, exactly.
. "${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}/t/lib/common.sh"
KG=$top_builddir/milter/authmilter-keygen
D=$T_TMP/keys
mkdir "$D"

# txt_strings OUT: the quoted strings of the TXT record, one a line.
txt_strings() {
	awk '/_domainkey\..* IN TXT \(/ { on = 1 } on { print } on && / \)$/ { on = 0 }' "$1" |
	    grep -o '"[^"]*"' | sed 's/^"//; s/"$//'
}
# txt_value OUT: the strings joined.
txt_value() {
	txt_strings "$1" | tr -d '\n'
}
# max_len OUT: the longest string.
max_len() {
	txt_strings "$1" | awk '{ if (length($0) > m) m = length($0) } END { print m + 0 }'
}
# p_of VALUE: the p= tag's value.
p_of() {
	printf '%s\n' "$1" | sed -n 's/.*p=\([A-Za-z0-9+\/=]*\).*/\1/p'
}
mode_of() {
	stat -c %a "$1"
}

# --- RSA 2048 by default, under umask 0 ---
out=$T_TMP/rsa.out
(umask 0 && "$KG" -d Example.TEST -s sel1 -D "$D" >"$out" 2>"$T_TMP/rsa.err")
t_eq "rsa default: exit 0" "$?" 0
t_eq "rsa default: key mode 0600 under umask 0" "$(mode_of "$D/sel1.key")" 600
t_eq "rsa default: PKCS#8 PEM" "$(head -1 "$D/sel1.key")" \
    "-----BEGIN PRIVATE KEY-----"
t_eq "rsa default: 2048 bits" \
    "$(openssl pkey -in "$D/sel1.key" -noout -text 2>/dev/null | sed -n '1s/.*(\([0-9]*\) bit.*/\1/p')" \
    2048
t_eq "rsa default: no warning" "$(grep -c warning "$T_TMP/rsa.err")" 0
t_eq "rsa default: owner name lower-cased" \
    "$(grep -c '^sel1\._domainkey\.example\.test\. IN TXT (' "$out")" 1
t_eq "rsa default: strings of at most 255 octets" \
    "$([ "$(max_len "$out")" -le 255 ] && echo yes)" yes
t_eq "rsa default: split in two strings" "$(txt_strings "$out" | wc -l)" 2
v=$(txt_value "$out")
t_eq "rsa default: tags" "${v%%p=*}" "v=DKIM1; k=rsa; "
want=$(openssl pkey -in "$D/sel1.key" -pubout -outform DER 2>/dev/null | base64 -w0)
t_eq "rsa default: p= is the key's SubjectPublicKeyInfo" "$(p_of "$v")" "$want"
t_eq "rsa default: config key entry" \
    "$(grep -c "name = \"example.test-sel1\"; domain = \"example.test\"; selector = \"sel1\";" "$out")" 1
t_eq "rsa default: config algorithm and absolute file" \
    "$(grep -c "algorithm = \"rsa-sha256\"; file = \"$D/sel1.key\";" "$out")" 1
t_eq "rsa default: config table row" \
    "$(grep -c 'from = "\*@example.test"; keys = \["example.test-sel1"\];' "$out")" 1
t_eq "rsa default: first string is 255 octets exactly" \
    "$(txt_strings "$out" | head -1 | awk '{ print length($0) }')" 255
# Everything after the record, exactly: the config lines (the key with
# publish_check, the row) and the rotation steps.
cat >"$T_TMP/rsa.want" <<EOF

# authmilter.conf, inside dkim.sign: add the key to "keys" and name it in a
# "table" row (a row may list several keys, e.g. RSA and Ed25519).
keys = (
	{ name = "example.test-sel1"; domain = "example.test"; selector = "sel1";
	  algorithm = "rsa-sha256"; file = "$D/sel1.key";
	  publish_check = true; }
);
table = (
	{ from = "*@example.test"; keys = ["example.test-sel1"]; }
);

# Rotation (replacing a key in use; the old one signs until this one is published):
# 1. Publish the TXT record above; keep the old key's record.
# 2. Add the key entry above to dkim.sign.keys, put its name first in the
#    table row, in front of the old key's: keys = ["example.test-sel1", "OLD"];
#    and reload: systemctl reload authmilter (or kill -HUP).
# 3. Check the record: authmilter-check domain example.test
# 4. Wait for this line in the log (checked every dkim.sign.publish_interval s):
#    DKIM key example.test-sel1 (s=sel1 d=example.test): published at sel1._domainkey.example.test; signing with it
# 5. A week later (signed mail in flight is verified with the old record),
#    remove the old key from the row and dkim.sign.keys, reload, then delete
#    its TXT record.
EOF
sed '1,/ )$/d' "$out" >"$T_TMP/rsa.got"
if diff -u "$T_TMP/rsa.want" "$T_TMP/rsa.got" >"$T_TMP/rsa.diff"; then
	t_ok "rsa default: config lines and rotation steps, exactly"
else
	t_fail "rsa default: config lines and rotation steps, exactly" "$(cat "$T_TMP/rsa.diff")"
fi
t_eq "rsa default: the record is the 3 lines before them" \
    "$(sed -n '1,/ )$/p' "$out" | wc -l)" 3

# --- never overwrite ---
cp "$D/sel1.key" "$T_TMP/sel1.copy"
"$KG" -d example.test -s sel1 -D "$D" >"$T_TMP/again.out" 2>"$T_TMP/again.err"
t_eq "existing key file: exit 1" "$?" 1
t_eq "existing key file: says so" \
    "$(grep -c '^authmilter-keygen: .*sel1.key exists' "$T_TMP/again.err")" 1
t_eq "existing key file: untouched" \
    "$(cmp -s "$D/sel1.key" "$T_TMP/sel1.copy" && echo same)" same
t_eq "existing key file: no record printed" "$(wc -c <"$T_TMP/again.out")" 0
ln -s "$T_TMP/target" "$D/link.key"
"$KG" -d example.test -s link -D "$D" >/dev/null 2>&1
t_eq "symlink in the way: exit 1" "$?" 1
t_eq "symlink in the way: target not created" \
    "$([ -e "$T_TMP/target" ] && echo created || echo absent)" absent

# --- RFC 8301 sizes ---
"$KG" -d example.test -s s1024 -b 1024 -D "$D" >"$T_TMP/1024.out" \
    2>"$T_TMP/1024.err"
t_eq "rsa 1024: exit 0" "$?" 0
t_eq "rsa 1024: warns" \
    "$(grep -c '^authmilter-keygen: warning: 1024-bit RSA' "$T_TMP/1024.err")" 1
t_eq "rsa 1024: one string" "$(txt_strings "$T_TMP/1024.out" | wc -l)" 1
want=$(openssl pkey -in "$D/s1024.key" -pubout -outform DER 2>/dev/null | base64 -w0)
t_eq "rsa 1024: p= matches" "$(p_of "$(txt_value "$T_TMP/1024.out")")" "$want"
"$KG" -d example.test -s s512 -b 512 -D "$D" >/dev/null 2>"$T_TMP/512.err"
t_eq "rsa 512: exit 2" "$?" 2
t_eq "rsa 512: cites RFC 8301" "$(grep -c 'RFC 8301' "$T_TMP/512.err")" 1
t_eq "rsa 512: no file" "$([ -e "$D/s512.key" ] && echo yes || echo no)" no
"$KG" -d example.test -s s1023 -b 1023 -D "$D" >/dev/null 2>&1
t_eq "rsa 1023: exit 2" "$?" 2
"$KG" -d example.test -s s9000 -b 8193 -D "$D" >/dev/null 2>&1
t_eq "rsa 8193: exit 2" "$?" 2
"$KG" -d example.test -s sx -b 2048x -D "$D" >/dev/null 2>&1
t_eq "rsa bits not a number: exit 2" "$?" 2
"$KG" -d example.test -s s4096 -b 4096 -D "$D" >"$T_TMP/4096.out" 2>/dev/null
t_eq "rsa 4096: exit 0" "$?" 0
t_eq "rsa 4096: strings of at most 255 octets" \
    "$([ "$(max_len "$T_TMP/4096.out")" -le 255 ] && echo yes)" yes
t_eq "rsa 4096: three strings" "$(txt_strings "$T_TMP/4096.out" | wc -l)" 3
want=$(openssl pkey -in "$D/s4096.key" -pubout -outform DER 2>/dev/null | base64 -w0)
t_eq "rsa 4096: p= matches" "$(p_of "$(txt_value "$T_TMP/4096.out")")" "$want"

# --- Ed25519 ---
"$KG" -d example.test -s ed1 -a ed25519 -D "$D" >"$T_TMP/ed.out" \
    2>/dev/null
t_eq "ed25519: exit 0" "$?" 0
t_eq "ed25519: key mode 0600" "$(mode_of "$D/ed1.key")" 600
v=$(txt_value "$T_TMP/ed.out")
t_eq "ed25519: tags" "${v%%p=*}" "v=DKIM1; k=ed25519; "
t_eq "ed25519: public key is 32 octets" \
    "$(p_of "$v" | base64 -d | wc -c)" 32
# The SubjectPublicKeyInfo of an Ed25519 key is a 12-octet prefix and the
# raw key (RFC 8410 4).
want=$(openssl pkey -in "$D/ed1.key" -pubout -outform DER 2>/dev/null |
    tail -c 32 | base64 -w0)
t_eq "ed25519: p= is the raw public key" "$(p_of "$v")" "$want"
t_eq "ed25519: config algorithm" \
    "$(grep -c 'algorithm = "ed25519-sha256";' "$T_TMP/ed.out")" 1
# The printed snippets, pasted into dkim.sign, make a config the daemon
# accepts (key files, modes, algorithms and the table's key names).
snippet() {
	sed -n '/^keys = (/,/^);/p; /^table = (/,/^);/p' "$1"
}
# -n reads the keys as the daemon's user, as every reload does.
[ "$(id -u)" -eq 0 ] && chown nobody "$D"/*.key
for o in rsa ed; do
	{
		[ "$(id -u)" -eq 0 ] && echo 'user = "nobody";'
		echo 'dkim: { sign: {'
		snippet "$T_TMP/$o.out"
		echo '}; };'
	} >"$T_TMP/$o.conf"
	t_eq "$o: config snippet passes authmilter -n" \
	    "$("$top_builddir/milter/authmilter" -n -c "$T_TMP/$o.conf" 2>&1)" \
	    "$T_TMP/$o.conf: configuration OK"
done
"$KG" -d example.test -s ed2 -a ed25519 -b 2048 -D "$D" >/dev/null 2>&1
t_eq "ed25519 with -b: exit 2" "$?" 2
"$KG" -d example.test -s x -a dsa -D "$D" >/dev/null 2>&1
t_eq "unknown algorithm: exit 2" "$?" 2

# --- dated selectors (UTC month; checked on both sides of the run) ---
before=$(date -u +%Y%m)
"$KG" -d example.test -D "$D" >"$T_TMP/dated.out" 2>/dev/null
rc=$?
"$KG" -d example.test -a ed25519 -D "$D" >"$T_TMP/dated-ed.out" 2>/dev/null
rc="$rc $?"
after=$(date -u +%Y%m)
t_eq "dated selectors: exit 0" "$rc" "0 0"
sel=$(sed -n 's/^\([^.]*\)\._domainkey\..*/\1/p' "$T_TMP/dated.out")
t_eq "dated rsa selector sYYYYMM" \
    "$([ "$sel" = "s$before" ] || [ "$sel" = "s$after" ] && echo yes)" yes
t_eq "dated rsa key file" "$([ -f "$D/$sel.key" ] && echo yes)" yes
sel=$(sed -n 's/^\([^.]*\)\._domainkey\..*/\1/p' "$T_TMP/dated-ed.out")
t_eq "dated ed25519 selector eYYYYMM" \
    "$([ "$sel" = "e$before" ] || [ "$sel" = "e$after" ] && echo yes)" yes

# --- names ---
"$KG" -d example.test -s a.b-2.c -D "$D" >"$T_TMP/dots.out" 2>/dev/null
t_eq "selector with dots (RFC 6376 3.1): exit 0" "$?" 0
t_eq "selector with dots: owner" \
    "$(grep -c '^a\.b-2\.c\._domainkey\.example\.test\. IN TXT' "$T_TMP/dots.out")" 1
"$KG" -d example.test. -s trail -D "$D" >"$T_TMP/trail.out" 2>/dev/null
t_eq "domain with trailing dot: accepted" \
    "$(grep -c 'domain = "example.test";' "$T_TMP/trail.out")" 1
for bad in "-x.test" "x-.test" "a..test" "a_b.test" ".test" "" \
    "$(printf 'a%.0s' $(seq 64)).test"; do
	"$KG" -d "$bad" -s ok -D "$D" >/dev/null 2>"$T_TMP/bad.err"
	t_eq "bad domain \"$bad\": exit 2" "$?" 2
done
for bad in "../x" "a/b" "-s" "s_1" "s..1" "s." ".s" "s 1"; do
	"$KG" -d example.test -s "$bad" -D "$D" >/dev/null 2>&1
	t_eq "bad selector \"$bad\": exit 2" "$?" 2
done
t_eq "bad selector: no file escaped the directory" \
    "$(ls "$T_TMP" | grep -c '^x.key$')" 0
"$KG" -s x -D "$D" >/dev/null 2>&1
t_eq "no -d: exit 2" "$?" 2
"$KG" -d example.test -s x -D "$D" extra >/dev/null 2>&1
t_eq "stray argument: exit 2" "$?" 2
"$KG" -d example.test -s nodir -D "$T_TMP/missing" >/dev/null \
    2>"$T_TMP/nodir.err"
t_eq "missing directory: exit 1" "$?" 1
t_eq "missing directory: message" \
    "$(grep -c '^authmilter-keygen: cannot create' "$T_TMP/nodir.err")" 1

# --- --owner: the key belongs to the daemon's user (0600), or to root and
# the user's group (0640, the OpenDKIM layout); -n accepts both for that
# user ---
"$KG" -d example.test -s own0 -D "$D" --owner no-such-user >/dev/null \
    2>"$T_TMP/own.err"
t_eq "--owner unknown user: exit 2" "$?" 2
t_eq "--owner unknown user: message" "$(cat "$T_TMP/own.err")" \
    'authmilter-keygen: --owner: no user "no-such-user"'
if [ "$(id -u)" -ne 0 ]; then
	t_skip "--owner nobody and root:nogroup" "changing a file's owner needs root"
else
	ngroup=$(id -gn nobody)
	"$KG" -d example.test -s own1 -D "$D" --owner nobody >/dev/null 2>&1
	t_eq "--owner nobody: owner, group, mode" \
	    "$(stat -c '%U %G %a' "$D/own1.key")" "nobody $ngroup 600"
	"$KG" -d example.test -s own2 -D "$D" -o "root:$ngroup" >/dev/null \
	    2>"$T_TMP/own2.err"
	t_eq "--owner root:GROUP: owner, group, mode" \
	    "$(stat -c '%U %G %a' "$D/own2.key")" "root $ngroup 640"
	t_eq "--owner root:GROUP: says mode 0640" \
	    "$(grep -c 'mode 0640)$' "$T_TMP/own2.err")" 1
	for k in own1 own2; do
		cat > "$T_TMP/$k.conf" <<EOC
user = "nobody";
dkim: { sign: {
	keys = ( { name = "k"; domain = "example.test"; selector = "$k"; file = "$D/$k.key"; } );
	table = ( { from = "*@example.test"; keys = ["k"]; } );
}; };
EOC
		t_eq "-n accepts the $k key for user nobody" \
		    "$("$top_builddir/milter/authmilter" -n -c "$T_TMP/$k.conf" 2>&1)" \
		    "$T_TMP/$k.conf: configuration OK"
	done
fi

# --- authmilter-check sign with the key just made: signs what a table row
# matches, and says so (exit 1) when it signs nothing ---
CHECK=$top_builddir/milter/authmilter-check
cat > "$T_TMP/sign.conf" <<EOC
dkim: { sign: {
	keys = ( { name = "k"; domain = "example.test"; selector = "sel1"; file = "$D/sel1.key"; } );
	table = ( { from = "*@example.test"; keys = ["k"]; } );
}; };
EOC
printf 'From: a@example.test\nSubject: s\n\nbody\n' |
    "$CHECK" sign -c "$T_TMP/sign.conf" >"$T_TMP/signed.out" 2>"$T_TMP/signed.err"
t_eq "check sign: exit 0 when signed" "$?" 0
t_eq "check sign: one signature, s=sel1" \
    "$(grep -c '^DKIM-Signature:.* s=sel1;' "$T_TMP/signed.out")" 1
printf 'From: a@other.test\nSubject: s\n\nbody\n' |
    "$CHECK" sign -c "$T_TMP/sign.conf" >"$T_TMP/unsigned.out" 2>"$T_TMP/unsigned.err"
t_eq "check sign: exit 1 when no row matches" "$?" 1
t_eq "check sign: ... says why" \
    "$(grep -c 'not signed: no dkim.sign.table row matches the From address' "$T_TMP/unsigned.err")" 1
t_eq "check sign: ... and still prints the message, unsigned" \
    "$(tr -d '\r' < "$T_TMP/unsigned.out" | tr '\n' '|')" "From: a@other.test|Subject: s||body|"

t_done
