/*
 * Unit tests for conf: the sample config, every error with its message
 * and line, defaults, trusted networks and the signing table. Files go in
 * a mkdtemp directory; test keys are made here with OpenSSL.
 *
 * "test-conf --list-keys" prints every accepted key path instead, for
 * t/unit/conf-keys-documented.sh.
 */
#include "config.h"

#include <errno.h>
#include <ftw.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include <openssl/encoder.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include "buf.h"
#include "conf.h"
#include "log.h"
#include "test.h"

static char dir[64];

/* Replaces every "@D@" in s with the temp directory; caller frees. */
static char *
subst(const char *s)
{
	struct buf  b;
	const char *p;

	buf_init(&b, 0);
	while ((p = strstr(s, "@D@")) != NULL) {
		buf_append(&b, s, (size_t)(p - s));
		buf_append_str(&b, dir);
		s = p + 3;
	}
	buf_append_str(&b, s);
	return buf_take(&b);
}

/* Writes text (after subst) to dir/name with mode; returns the path. */
static char *
write_file(const char *name, const char *text, mode_t mode)
{
	char *path, *body = subst(text);
	FILE *fp;

	if (asprintf(&path, "%s/%s", dir, name) < 0)
		abort();
	if ((fp = fopen(path, "w")) == NULL) {
		perror(path);
		abort();
	}
	fputs(body, fp);
	fclose(fp);
	chmod(path, mode);
	free(body);
	return path;
}

enum key_form { KF_PKCS8, KF_TRADITIONAL, KF_PUBLIC, KF_ENCRYPTED };

static void
write_key(const char *name, EVP_PKEY *k, enum key_form form, mode_t mode)
{
	char             *path;
	FILE             *fp;
	OSSL_ENCODER_CTX *ectx;
	int               ok = 0;

	if (asprintf(&path, "%s/%s", dir, name) < 0)
		abort();
	if ((fp = fopen(path, "w")) == NULL)
		abort();
	switch (form) {
	case KF_PKCS8:
		ok = PEM_write_PrivateKey(fp, k, NULL, NULL, 0, NULL, NULL);
		break;
	case KF_TRADITIONAL:
		/* "BEGIN RSA PRIVATE KEY", the PKCS#1 form. */
		ectx = OSSL_ENCODER_CTX_new_for_pkey(k,
		    OSSL_KEYMGMT_SELECT_KEYPAIR, "PEM", "type-specific", NULL);
		ok = ectx != NULL && OSSL_ENCODER_to_fp(ectx, fp);
		OSSL_ENCODER_CTX_free(ectx);
		break;
	case KF_PUBLIC:
		ok = PEM_write_PUBKEY(fp, k);
		break;
	case KF_ENCRYPTED:
		ok = PEM_write_PrivateKey(fp, k, EVP_aes_128_cbc(),
		    (const unsigned char *)"secret", 6, NULL, NULL);
		break;
	}
	fclose(fp);
	if (!ok) {
		fprintf(stderr, "cannot write %s\n", path);
		abort();
	}
	chmod(path, mode);
	free(path);
}

static void
make_keys(void)
{
	EVP_PKEY *r512 = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)512);
	EVP_PKEY *r1024 = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)1024);
	EVP_PKEY *r2048 = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
	EVP_PKEY *ed = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
	char     *fifo;

	if (r512 == NULL || r1024 == NULL || r2048 == NULL || ed == NULL) {
		fprintf(stderr, "key generation failed\n");
		abort();
	}
	write_key("rsa512.key", r512, KF_PKCS8, 0600);
	write_key("rsa1024.key", r1024, KF_PKCS8, 0600);
	write_key("rsa2048.key", r2048, KF_TRADITIONAL, 0600);
	write_key("ed.key", ed, KF_PKCS8, 0400);
	write_key("open.key", r1024, KF_PKCS8, 0644);
	write_key("group.key", r1024, KF_PKCS8, 0640);
	write_key("gwrite.key", r1024, KF_PKCS8, 0660);
	write_key("pub.pem", r1024, KF_PUBLIC, 0600);
	write_key("enc.key", r1024, KF_ENCRYPTED, 0600);
	free(write_file("junk.key", "not a key\n", 0600));
	free(write_file("unbound.conf", "server:\n", 0644));
	free(write_file("anchor.key", ". DS 20326 8 2 00\n", 0644));
	if (asprintf(&fifo, "%s/fifo", dir) < 0 || mkfifo(fifo, 0600) < 0)
		abort();
	free(fifo);
	EVP_PKEY_free(r512);
	EVP_PKEY_free(r1024);
	EVP_PKEY_free(r2048);
	EVP_PKEY_free(ed);
}

/* Loads text as dir/name; returns the config or NULL with err. */
static struct am_conf *
load_text(const char *name, const char *text, struct am_err *err)
{
	char           *path = write_file(name, text, 0644);
	struct am_conf *c = conf_load(path, err);

	free(path);
	return c;
}

/* --- errors: each case is one config, its line and its message --- */

#define KEYS_HEAD "dkim: { sign: { keys = (\n"
#define KEYS_TAIL "); }; };\n"

static const struct {
	const char *name;
	const char *text;
	int         line; /* 0: "FILE: msg" */
	const char *msg;
} bad[] = {
    {"syntax error", "socket = \"inet:1@localhost\";\ndns: { timeout = ; };\n",
	2, "syntax error"},
    {"duplicate setting", "user = \"a\";\nuser = \"b\";\n", 2,
	"duplicate setting name"},
    {"unknown top-level key",
	"socket = \"inet:1@localhost\";\n\nsockett = 1;\n", 3,
	"unknown key \"sockett\""},
    {"unknown key in dns", "dns: {\n  timeout = 5;\n  timout = 5;\n};\n", 3,
	"unknown key \"timout\" in dns"},
    {"unknown key in dkim.sign", "dkim: {\n sign: {\n  header = [];\n };\n};\n",
	3, "unknown key \"header\" in dkim.sign"},
    {"unknown key in a key entry",
	KEYS_HEAD "{ name = \"a\";\n selecter = \"s\"; }\n" KEYS_TAIL, 3,
	"unknown key \"selecter\" in dkim.sign.keys"},
    {"unknown key in a table row",
	"dkim: { sign: { table = (\n{ form = \"*\"; }\n); }; };\n", 2,
	"unknown key \"form\" in dkim.sign.table"},
    {"string expected", "socket = 8895;\n", 1, "socket must be a string"},
    {"bool expected", "spf: {\n enabled = \"yes\";\n};\n", 2,
	"spf.enabled must be true or false"},
    {"number expected", "dns: { timeout = \"5\"; };\n", 1,
	"dns.timeout must be a number"},
    {"integer expected", "dkim: { min_rsa_bits = 2048.0; };\n", 1,
	"dkim.min_rsa_bits must be an integer"},
    {"group expected", "dkim = true;\n", 1, "dkim must be a group { ... }"},
    {"array expected", "trusted_networks = \"127.0.0.1\";\n", 1,
	"trusted_networks must be an array of strings [\"...\", ...]"},
    {"array of strings expected", "trusted_networks = [1, 2];\n", 1,
	"trusted_networks must be an array of strings [\"...\", ...]"},
    {"list expected", "dkim: { sign: { keys = { }; }; };\n", 1,
	"dkim.sign.keys must be a list of groups ( { ... }, ... )"},
    {"list of groups expected", "dkim: { sign: { keys = (\n\"a\" ); }; };\n", 2,
	"dkim.sign.keys must be a list of groups ( { ... }, ... )"},
    {"timeout too small", "dns: { timeout = 0.05; };\n", 1,
	"dns.timeout must be 0.1-60 (got 0.05)"},
    {"timeout too large", "dns: { timeout = 61; };\n", 1,
	"dns.timeout must be 0.1-60 (got 61)"},
    {"message_timeout past the MTA's", "message_timeout = 300;\n", 1,
	"message_timeout must be 1-290 (got 300)"},
    {"spf.reject_fail waits past the MTA's command timeout",
	"spf: {\n reject_fail = true;\n timeout = 30;\n};\n", 3,
	"spf.timeout (30) must be below 30 with spf.reject_fail: the MAIL "
	"FROM reply waits for SPF, and Postfix's milter_command_timeout is "
	"30 s"},
    {"min_rsa_bits below RFC 8301", "dkim: { min_rsa_bits = 512; };\n", 1,
	"dkim.min_rsa_bits must be 1024-4096 (got 512)"},
    {"max_signatures zero", "dkim: { max_signatures = 0; };\n", 1,
	"dkim.max_signatures must be 1-29 (got 0)"},
    {"max_signatures past what one A-R field holds",
	"dkim: { max_signatures = 30; };\n", 1,
	"dkim.max_signatures must be 1-29 (got 30)"},
    {"bad CIDR prefix",
	"trusted_networks = [\"127.0.0.0/8\",\n  \"10.0.0.0/33\"];\n", 2,
	"bad CIDR \"10.0.0.0/33\" in trusted_networks"},
    {"bad CIDR address", "trusted_networks = [\"10.0.0/8\"];\n", 1,
	"bad CIDR \"10.0.0/8\" in trusted_networks"},
    {"bad IPv6 CIDR", "trusted_networks = [\"::1/129\"];\n", 1,
	"bad CIDR \"::1/129\" in trusted_networks"},
    {"bad CIDR in sign_networks", "sign_networks = [\"10.0.0.0/40\"];\n", 1,
	"bad CIDR \"10.0.0.0/40\" in sign_networks"},
    {"sign_authenticated not a bool", "sign_authenticated = \"yes\";\n", 1,
	"sign_authenticated must be true or false"},
    {"daemon name with a space",
	"sign_daemon_names = [\"ORIGINATING\",\n \"a b\"];\n", 2,
	"bad daemon name \"a b\" in sign_daemon_names: 1-255 printable "
	"characters, no space"},
    {"trusted_forwarders: neither CIDR nor host name",
	"dmarc: { trusted_forwarders = [\"192.0.2.0/33\"]; };\n", 1,
	"bad dmarc.trusted_forwarders entry \"192.0.2.0/33\": a CIDR or a "
	"host name"},
    {"trusted_forwarders: a single label",
	"dmarc: { trusted_forwarders = [\"localhost\"]; };\n", 1,
	"bad dmarc.trusted_forwarders entry \"localhost\": a CIDR or a host "
	"name"},
    {"reports: org_name missing",
	"\nreports: { from = \"r@example.net\"; };\n", 2,
	"reports.org_name is missing (the reporting organization's name)"},
    {"reports: from missing", "reports: { org_name = \"X\"; };\n", 1,
	"reports.from is missing (the address reports are sent from)"},
    {"reports: from with a display name",
	"reports: { org_name = \"X\"; from = \"R <r@example.net>\"; };\n", 1,
	"bad reports.from \"R <r@example.net>\": an address local@domain, "
	"no display name"},
    {"reports: unknown store",
	"reports: { org_name = \"X\"; from = \"r@example.net\";\n"
	"  store = \"mysql://x\"; };\n", 2,
	"bad reports.store \"mysql://x\": use \"sqlite:/ABSOLUTE/PATH\" or "
	"\"postgresql://...\""},
    {"reports: relative sqlite path",
	"reports: { store = \"sqlite:r.db\"; };\n", 1,
	"bad reports.store \"sqlite:r.db\": use \"sqlite:/ABSOLUTE/PATH\" or "
	"\"postgresql://...\""},
    {"reports: org_name with a newline",
	"reports: { org_name = \"a\\nb\"; };\n", 1,
	"reports.org_name must be one line without control characters"},
    {"reports: blocklist entry not a domain",
	"reports: { blocklist = [\"a..b\"]; };\n", 1,
	"bad domain \"a..b\" in reports.blocklist"},
    {"exempt_domains: not a domain",
	"dmarc: { exempt_domains = [\"a..b\"]; };\n", 1,
	"bad domain \"a..b\" in dmarc.exempt_domains"},
    {"empty daemon name", "sign_daemon_names = [\"\"];\n", 1,
	"bad daemon name \"\" in sign_daemon_names: 1-255 printable "
	"characters, no space"},
    {"socket port 0", "socket = \"inet:0@127.0.0.1\";\n", 1,
	"bad socket \"inet:0@127.0.0.1\": the port must be 1-65535"},
    {"socket port too large", "socket = \"inet:65536@localhost\";\n", 1,
	"bad socket \"inet:65536@localhost\": the port must be 1-65535"},
    {"socket port not a number", "socket = \"inet:smtp@localhost\";\n", 1,
	"bad socket \"inet:smtp@localhost\": the port must be 1-65535"},
    {"socket in Postfix's spelling", "socket = \"inet:127.0.0.1:18897\";\n", 1,
	"bad socket \"inet:127.0.0.1:18897\": HOST:PORT is how Postfix names "
	"the milter; authmilter listens on PORT@HOST: write "
	"\"inet:18897@127.0.0.1\""},
    {"socket in Postfix's IPv6 spelling", "socket = \"inet6:[::1]:18897\";\n",
	1,
	"bad socket \"inet6:[::1]:18897\": HOST:PORT is how Postfix names "
	"the milter; authmilter listens on PORT@HOST: write "
	"\"inet6:18897@::1\""},
    {"socket relative path", "socket = \"local:run/a.sock\";\n", 1,
	"bad socket \"local:run/a.sock\": the path must be absolute"},
    {"socket unknown type", "socket = \"tcp:25\";\n", 1,
	"bad socket \"tcp:25\": expected local:PATH, unix:PATH, "
	"inet:PORT@HOST or inet6:PORT@HOST"},
    {"socket IPv6 under inet", "socket = \"inet:8895@::1\";\n", 1,
	"bad socket \"inet:8895@::1\": an IPv6 address needs inet6:"},
    {"socket IPv4 under inet6", "socket = \"inet6:8895@127.0.0.1\";\n", 1,
	"bad socket \"inet6:8895@127.0.0.1\": an IPv4 address needs inet:"},
    {"socket bad IPv4", "socket = \"inet:8895@300.1.1.1\";\n", 1,
	"bad socket \"inet:8895@300.1.1.1\": bad IPv4 address"},
    {"socket bad host", "socket = \"inet:8895@bad_host\";\n", 1,
	"bad socket \"inet:8895@bad_host\": bad host name"},
    {"socket empty host", "socket = \"inet:8895@\";\n", 1,
	"bad socket \"inet:8895@\": bad host name"},
    {"socket_mode not octal", "socket_mode = \"0690\";\n", 1,
	"socket_mode must be an octal permission string like \"0660\" "
	"(got \"0690\")"},
    {"socket_mode as an integer", "socket_mode = 660;\n", 1,
	"socket_mode must be a string"},
    {"bad user", "user = \"mail user\";\n", 1, "bad user \"mail user\""},
    {"relative pidfile", "pidfile = \"run/a.pid\";\n", 1,
	"pidfile must be an absolute path (got \"run/a.pid\")"},
    {"bad facility", "syslog_facility = \"auth\";\n", 1,
	"syslog_facility must be one of mail, daemon, local0, local1, "
	"local2, local3, local4, local5, local6, local7 (got \"auth\")"},
    {"bad log level", "log_level = \"verbose\";\n", 1,
	"log_level must be one of err, warning, notice, info, debug (got "
	"\"verbose\")"},
    {"bad on_dns_error", "on_dns_error = \"reject\";\n", 1,
	"on_dns_error must be one of tempfail, accept (got \"reject\")"},
    {"bad on_internal_error", "on_internal_error = \"\";\n", 1,
	"on_internal_error must be one of tempfail, accept (got \"\")"},
    {"bad authserv_id", "authserv_id = \"mx;example\";\n", 1,
	"bad authserv_id \"mx;example\": use letters, digits, '.', '-', '_'"},
    {"missing unbound_conf", "dns: {\n unbound_conf = \"@D@/nope.conf\";\n};\n",
	2,
	"cannot read dns.unbound_conf \"@D@/nope.conf\": No such file or "
	"directory"},
    {"trust_anchor is a directory", "dns: { trust_anchor = \"@D@\"; };\n", 1,
	"dns.trust_anchor \"@D@\" is not a regular file"},
    {"bad dmarc.quarantine", "dmarc: { quarantine = \"drop\"; };\n", 1,
	"dmarc.quarantine must be one of hold, header (got \"drop\")"},
    {"bad dmarc.multiple_from", "dmarc: { multiple_from = \"first\"; };\n", 1,
	"dmarc.multiple_from must be one of reject, strictest (got \"first\")"},
    {"bad dmarc.pct", "dmarc: { pct = \"apply\"; };\n", 1,
	"dmarc.pct must be one of ignore, sample (got \"apply\")"},
    {"bad canonicalization",
	"dkim: { sign: { canonicalization = \"relaxed/strict\"; }; };\n", 1,
	"dkim.sign.canonicalization must be HEADER/BODY, each simple or "
	"relaxed (got \"relaxed/strict\")"},
    {"headers without From",
	"dkim: { sign: {\n headers = [\"To\", \"Subject\"]; }; };\n", 2,
	"dkim.sign.headers must contain \"From\" (RFC 6376 5.4)"},
    {"header name with a colon",
	"dkim: { sign: { headers = [\"From\",\n \"Subject:\"]; }; };\n", 2,
	"bad header field name \"Subject:\" in dkim.sign.headers"},
    {"header name with a space",
	"dkim: { sign: { oversign = [\"X Foo\"]; }; };\n", 1,
	"bad header field name \"X Foo\" in dkim.sign.oversign"},
    {"duplicate header name",
	"dkim: { sign: { headers = [\"From\", \"from\"]; }; };\n", 1,
	"duplicate header field \"from\" in dkim.sign.headers"},
    {"key entry without selector",
	KEYS_HEAD "{ name = \"a\"; domain = \"example.com\";\n"
		  "  file = \"@D@/rsa1024.key\"; }\n" KEYS_TAIL,
	2, "missing \"selector\" in dkim.sign.keys entry"},
    {"key entry without name",
	KEYS_HEAD "{ domain = \"example.com\"; selector = \"s\";\n"
		  "  file = \"@D@/rsa1024.key\"; }\n" KEYS_TAIL,
	2, "missing \"name\" in dkim.sign.keys entry"},
    {"duplicate key names",
	KEYS_HEAD
	"{ name = \"a\"; domain = \"example.com\"; selector = \"s1\";"
	" file = \"@D@/rsa1024.key\"; },\n"
	"{ name = \"a\"; domain = \"example.com\"; selector = \"s2\";"
	" file = \"@D@/ed.key\"; algorithm = \"ed25519-sha256\"; }\n" KEYS_TAIL,
	3, "duplicate key name \"a\" in dkim.sign.keys (first at line 2)"},
    {"bad key name", KEYS_HEAD "{ name = \"a b\"; }\n" KEYS_TAIL, 2,
	"bad dkim.sign.keys.name \"a b\": use letters, digits, '.', '-', '_'"},
    {"bad algorithm",
	KEYS_HEAD "{ name = \"a\";\n algorithm = \"rsa-sha1\"; }\n" KEYS_TAIL,
	3,
	"dkim.sign.keys.algorithm must be one of rsa-sha256, ed25519-sha256 "
	"(got \"rsa-sha1\")"},
    {"bad domain with a space",
	KEYS_HEAD "{ domain = \"exa mple.com\"; }\n" KEYS_TAIL, 2,
	"bad dkim.sign.keys.domain \"exa mple.com\""},
    {"bad domain with a leading hyphen",
	KEYS_HEAD "{ domain = \"-example.com\"; }\n" KEYS_TAIL, 2,
	"bad dkim.sign.keys.domain \"-example.com\""},
    {"bad domain with an empty label",
	KEYS_HEAD "{ domain = \"example..com\"; }\n" KEYS_TAIL, 2,
	"bad dkim.sign.keys.domain \"example..com\""},
    {"bad domain with a 64-octet label",
	KEYS_HEAD
	"{ domain = \"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	"aaaaaaaaaaaaaa.com\"; }\n" KEYS_TAIL,
	2,
	"bad dkim.sign.keys.domain "
	"\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	"aaaaaaaaaaaaaaaaaaaaa.com\""},
    {"single-label signing domain",
	KEYS_HEAD "{ domain = \"localhost\"; }\n" KEYS_TAIL, 2,
	"bad dkim.sign.keys.domain \"localhost\": a signing domain has at "
	"least two labels (RFC 6376 3.5)"},
    {"bad IDN domain, sanitized in the message",
	KEYS_HEAD "{ domain = \"\xe2\x98\x83.example\"; }\n" KEYS_TAIL, 2,
	"bad dkim.sign.keys.domain \"???.example\""},
    {"unbound_conf is a FIFO", "dns: { unbound_conf = \"@D@/fifo\"; };\n", 1,
	"dns.unbound_conf \"@D@/fifo\" is not a regular file"},
    {"key file is a FIFO",
	KEYS_HEAD
	"{ name = \"a\"; domain = \"example.com\"; selector = \"s\";\n"
	"  file = \"@D@/fifo\"; }\n" KEYS_TAIL,
	3, "key file \"@D@/fifo\" is not a regular file"},
    {"bad selector", KEYS_HEAD "{ selector = \"s_1\"; }\n" KEYS_TAIL, 2,
	"bad dkim.sign.keys.selector \"s_1\""},
    {"relative key file", KEYS_HEAD "{ file = \"keys/a.key\"; }\n" KEYS_TAIL, 2,
	"dkim.sign.keys.file must be an absolute path (got \"keys/a.key\")"},
    {"missing key file",
	KEYS_HEAD
	"{ name = \"a\"; domain = \"example.com\"; selector = \"s\";\n"
	"  file = \"@D@/none.key\"; }\n" KEYS_TAIL,
	3, "cannot open key file \"@D@/none.key\": No such file or directory"},
    {"key file readable by others",
	KEYS_HEAD
	"{ name = \"a\"; domain = \"example.com\"; selector = \"s\";\n"
	"  file = \"@D@/open.key\"; }\n" KEYS_TAIL,
	3,
	"key file \"@D@/open.key\" is readable by group or others (mode "
	"0644); chmod 600 it"},
    {"key file writable by group",
	KEYS_HEAD
	"{ name = \"a\"; domain = \"example.com\"; selector = \"s\";\n"
	"  file = \"@D@/gwrite.key\"; }\n" KEYS_TAIL,
	3,
	"key file \"@D@/gwrite.key\" is readable by group or others (mode "
	"0660); chmod 600 it"},
    {"key file is a directory",
	KEYS_HEAD
	"{ name = \"a\"; domain = \"example.com\"; selector = \"s\";\n"
	"  file = \"@D@\"; }\n" KEYS_TAIL,
	3, "key file \"@D@\" is not a regular file"},
    {"key file holds a public key",
	KEYS_HEAD
	"{ name = \"a\"; domain = \"example.com\"; selector = \"s\";\n"
	"  file = \"@D@/pub.pem\"; }\n" KEYS_TAIL,
	3,
	"key file \"@D@/pub.pem\" does not hold an unencrypted PEM private "
	"key"},
    {"key file is not PEM",
	KEYS_HEAD
	"{ name = \"a\"; domain = \"example.com\"; selector = \"s\";\n"
	"  file = \"@D@/junk.key\"; }\n" KEYS_TAIL,
	3,
	"key file \"@D@/junk.key\" does not hold an unencrypted PEM private "
	"key"},
    {"key file is encrypted",
	KEYS_HEAD
	"{ name = \"a\"; domain = \"example.com\"; selector = \"s\";\n"
	"  file = \"@D@/enc.key\"; }\n" KEYS_TAIL,
	3,
	"key file \"@D@/enc.key\" does not hold an unencrypted PEM private "
	"key"},
    {"RSA key for ed25519-sha256",
	KEYS_HEAD
	"{ name = \"a\"; domain = \"example.com\"; selector = \"s\";\n"
	"  algorithm = \"ed25519-sha256\";\n"
	"  file = \"@D@/rsa1024.key\"; }\n" KEYS_TAIL,
	4,
	"key file \"@D@/rsa1024.key\" is not an Ed25519 key, as algorithm "
	"\"ed25519-sha256\" needs"},
    {"Ed25519 key for rsa-sha256",
	KEYS_HEAD
	"{ name = \"a\"; domain = \"example.com\"; selector = \"s\";\n"
	"  file = \"@D@/ed.key\"; }\n" KEYS_TAIL,
	3,
	"key file \"@D@/ed.key\" is not an RSA key, as algorithm "
	"\"rsa-sha256\" needs"},
    {"RSA key under 1024 bits",
	KEYS_HEAD
	"{ name = \"a\"; domain = \"example.com\"; selector = \"s\";\n"
	"  file = \"@D@/rsa512.key\"; }\n" KEYS_TAIL,
	3,
	"key file \"@D@/rsa512.key\" holds a 512-bit RSA key (RFC 8301: at "
	"least 1024 bits)"},
    {"table row names an unknown key",
	"dkim: { sign: {\n"
	"keys = ( { name = \"a\"; domain = \"example.com\"; selector = \"s\";"
	" file = \"@D@/rsa1024.key\"; } );\n"
	"table = ( { from = \"*@example.com\";\n"
	"  keys = [\"a\",\n \"b\"]; } );\n"
	"}; };\n",
	5, "unknown signing key \"b\" in dkim.sign.table"},
    {"table before keys still resolves, unknown key reported",
	"dkim: { sign: {\n"
	"table = ( { from = \"*\"; keys = [\"x\"]; } );\n"
	"keys = ( );\n"
	"}; };\n",
	2, "unknown signing key \"x\" in dkim.sign.table"},
    {"table row without from",
	"dkim: { sign: { table = (\n { keys = [\"a\"]; }\n); }; };\n", 2,
	"missing \"from\" in dkim.sign.table row"},
    {"table row without keys",
	"dkim: { sign: { table = (\n { from = \"*\"; }\n); }; };\n", 2,
	"missing \"keys\" in dkim.sign.table row"},
    {"table row with no key",
	"dkim: { sign: { table = (\n { from = \"*\";\n keys = [ ]; }\n); }; "
	"};\n",
	3, "dkim.sign.table.keys must name at least one key"},
    {"table row with a space in from",
	"dkim: { sign: { table = (\n { from = \"a b\"; }\n); }; };\n", 2,
	"bad dkim.sign.table.from pattern \"a b\": printable ASCII without "
	"spaces"},
    {"table row lists a key twice",
	"dkim: { sign: {\n"
	"keys = ( { name = \"a\"; domain = \"example.com\"; selector = \"s\";"
	" file = \"@D@/rsa1024.key\"; } );\n"
	"table = ( { from = \"*\"; keys = [\"a\", \"a\"]; } );\n"
	"}; };\n",
	3, "key \"a\" listed twice in dkim.sign.table row"},
    {"table row with 9 keys",
	"dkim: { sign: {\n"
	"keys = ( { name = \"a\"; domain = \"example.com\"; selector = \"s\";"
	" file = \"@D@/rsa1024.key\"; } );\n"
	"table = ( { from = \"*\";\n"
	" keys = [\"a\", \"b\", \"c\", \"d\", \"e\", \"f\", \"g\", \"h\", "
	"\"i\"]; } );\n"
	"}; };\n",
	4, "dkim.sign.table.keys names 9 keys; at most 8"},
};

static void
test_errors(void)
{
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct am_err   err = {{0}};
		struct am_conf *c;
		char           *want, *msg, *path;

		t_case(bad[i].name);
		if (asprintf(&path, "%s/bad.conf", dir) < 0)
			abort();
		msg = subst(bad[i].msg);
		if (asprintf(&want, "%s:%d: %s", path, bad[i].line, msg) < 0)
			abort();
		c = load_text("bad.conf", bad[i].text, &err);
		t_assert(c == NULL);
		t_assert_str_eq(err.msg, want);
		conf_unref(c);
		free(want);
		free(msg);
		free(path);
	}
}

/* Key file groups: the daemon user's group may read a key at 0640
 * (root:authmilter, as OpenDKIM documents its keys); another group is refused.
 * The user is the one running the test, so it runs as root or not. */
static void
test_key_owner(void)
{
	const struct passwd *pw = getpwuid(geteuid());
	struct am_err        err = {{0}};
	struct am_conf      *c;
	char                *key, *text, *want;

	if (pw == NULL)
		abort();
	key = subst("@D@/group.key");
	if (asprintf(&text,
		"user = \"%s\";\n" KEYS_HEAD
		"{ name = \"a\"; domain = \"example.com\"; selector = \"s\";\n"
		"  file = \"%s\"; }\n" KEYS_TAIL,
		pw->pw_name, key) < 0)
		abort();

	t_case("key file at 0640 in the user's group is accepted");
	if (chown(key, (uid_t)-1, pw->pw_gid) < 0)
		abort();
	c = load_text("own.conf", text, &err);
	t_assert_str_eq(err.msg, "");
	t_assert(c != NULL && c->dkim.sign.nkeys == 1);
	conf_unref(c);

	t_case("key file at 0640 in another group is refused");
	if (geteuid() != 0) {
		t_skip("chgrp to a group we are not in needs root");
	} else {
		if (chown(key, (uid_t)-1, pw->pw_gid + 4242) < 0)
			abort();
		c = load_text("own.conf", text, &err);
		t_assert(c == NULL);
		if (asprintf(&want,
			"%s/own.conf:4: key file \"%s\" is readable by group "
			"%u (mode 0640), not the group of user %s; chmod 600 "
			"it, or chgrp it to that group",
			dir, key, (unsigned int)pw->pw_gid + 4242,
			pw->pw_name) < 0)
			abort();
		t_assert_str_eq(err.msg, want);
		free(want);
	}

	free(text);
	free(key);
}

static void
test_file_errors(void)
{
	struct am_err   err = {{0}};
	struct am_conf *c;
	char           *want;

	t_case("a missing config file");
	c = conf_load("/nonexistent/authmilter.conf", &err);
	t_assert(c == NULL);
	t_assert_str_eq(
	    err.msg, "/nonexistent/authmilter.conf: No such file or directory");

	t_case("a config path that is a directory");
	c = conf_load(dir, &err);
	t_assert(c == NULL);
	if (asprintf(&want, "%s: not a regular file", dir) < 0)
		abort();
	t_assert_str_eq(err.msg, want);
	free(want);

	t_case("an error in an included file names that file");
	free(write_file("inc.conf", "dns: {\n timeout = 100;\n};\n", 0644));
	c = load_text(
	    "main.conf", "user = \"\";\n@include \"@D@/inc.conf\"\n", &err);
	t_assert(c == NULL);
	if (asprintf(&want,
		"%s/inc.conf:2: dns.timeout must be 0.1-60 (got 100)", dir) < 0)
		abort();
	t_assert_str_eq(err.msg, want);
	free(want);

	t_case("a syntax error in an included file names that file");
	free(write_file("inc.conf", "dns: {\n timeout = ;\n};\n", 0644));
	c = load_text(
	    "main.conf", "user = \"\";\n@include \"@D@/inc.conf\"\n", &err);
	t_assert(c == NULL);
	if (asprintf(&want, "%s/inc.conf:2: syntax error", dir) < 0)
		abort();
	t_assert_str_eq(err.msg, want);
	free(want);

	t_case("a missing included file");
	c = load_text(
	    "main.conf", "user = \"\";\n@include \"@D@/none.conf\"\n", &err);
	t_assert(c == NULL);
	if (asprintf(&want, "%s/main.conf:2: cannot open include file", dir) <
	    0)
		abort();
	t_assert_str_eq(err.msg, want);
	free(want);

	t_case("an included file's settings apply");
	free(write_file("inc.conf", "dns: {\n timeout = 7;\n};\n", 0644));
	c = load_text(
	    "main.conf", "user = \"\";\n@include \"@D@/inc.conf\"\n", &err);
	t_assert(c != NULL);
	if (c != NULL)
		t_assert(c->dns.timeout == 7.0);
	conf_unref(c);
}

/* --- defaults and a full config --- */

static void
check_defaults(const struct am_conf *c)
{
	static const char *hdrs[] = {"From", "Reply-To", "Subject", "Date",
	    "To", "Cc", "Message-ID", "In-Reply-To", "References",
	    "MIME-Version", "Content-Type", "Content-Transfer-Encoding",
	    "List-Id", "List-Unsubscribe", "List-Unsubscribe-Post"};
	char               host[256] = "";
	size_t             i;

	gethostname(host, sizeof(host) - 1);
	t_assert_str_eq(c->socket, "inet:8895@127.0.0.1");
	t_assert(c->socket_path == NULL);
	t_assert_int_eq(c->socket_mode, 0660);
	t_assert_str_eq(c->user, "authmilter");
	t_assert(c->pidfile == NULL);
	t_assert_int_eq(c->syslog_facility, LOG_MAIL);
	t_assert_int_eq(c->log_level, LOG_L_INFO);
	t_assert_str_eq(c->authserv_id, host);
	t_assert_int_eq(c->ntrusted, 2);
	t_assert_int_eq(c->nsign_networks, 2);
	t_assert(c->sign_authenticated);
	t_assert_int_eq(c->nsign_daemon_names, 0);
	t_assert(!conf_sign_daemon(c, NULL) && !conf_sign_daemon(c, ""));
	t_assert_int_eq(c->on_dns_error, CONF_TEMPFAIL);
	t_assert_int_eq(c->on_internal_error, CONF_TEMPFAIL);
	t_assert(c->dns.unbound_conf == NULL);
	t_assert(c->dns.trust_anchor == NULL);
	t_assert(c->dns.timeout == 5.0);
	t_assert(c->spf.timeout == 20.0 && c->message_timeout == 60.0);
	t_assert(c->spf.enabled && c->spf.helo && !c->spf.reject_fail &&
		 c->spf.received_spf);
	t_assert(c->dkim.verify && !c->dkim.accept_sha1 && !c->dkim.ignore_l);
	t_assert_int_eq(c->dkim.min_rsa_bits, 1024);
	t_assert_int_eq(c->dkim.max_signatures, 10);
	t_assert_int_eq(c->dkim.sign.header_canon, CONF_CANON_RELAXED);
	t_assert_int_eq(c->dkim.sign.body_canon, CONF_CANON_RELAXED);
	t_assert_int_eq(c->dkim.sign.nheaders, 15);
	for (i = 0; i < c->dkim.sign.nheaders && i < 15; i++)
		t_assert_str_eq(c->dkim.sign.headers[i], hdrs[i]);
	t_assert_int_eq(c->dkim.sign.noversign, 3);
	if (c->dkim.sign.noversign == 3) {
		t_assert_str_eq(c->dkim.sign.oversign[0], "From");
		t_assert_str_eq(c->dkim.sign.oversign[1], "Subject");
		t_assert_str_eq(c->dkim.sign.oversign[2], "Date");
	}
	t_assert_int_eq(c->dkim.sign.nkeys, 0);
	t_assert_int_eq(c->dkim.sign.ntable, 0);
	t_assert(c->dmarc.enabled && c->dmarc.enforce);
	t_assert_int_eq(c->dmarc.quarantine, CONF_QUARANTINE_HOLD);
	t_assert_int_eq(c->dmarc.multiple_from, CONF_MULTI_FROM_REJECT);
	t_assert_int_eq(c->dmarc.pct, CONF_PCT_IGNORE);
	t_assert(c->dmarc.require_whole_body);
	t_assert(c->dmarc.require_signed_instances);
}

static void
test_defaults(void)
{
	struct am_conf *c = conf_default(), *c2;
	struct am_err   err = {{0}};

	t_case("conf_default: every default");
	t_assert(c != NULL);
	if (c == NULL)
		return;
	t_assert(c->file == NULL);
	check_defaults(c);

	t_case("an empty file gives the defaults");
	c2 = load_text("empty.conf", "# nothing\n", &err);
	t_assert_str_eq(err.msg, "");
	t_assert(c2 != NULL);
	if (c2 != NULL)
		check_defaults(c2);
	conf_unref(c2);

	t_case("conf_ref and conf_unref count");
	t_assert(conf_ref(c) == c);
	conf_unref(c); /* still one reference: ASan would see a use after */
	t_assert_str_eq(c->socket, "inet:8895@127.0.0.1");
	conf_unref(c);
	conf_unref(NULL);
}

static const char *full_conf =
    "socket = \"local:/run/authmilter/a.sock\";\n"
    "socket_mode = \"0600\";\n"
    "user = \"\";\n"
    "pidfile = \"/run/authmilter.pid\";\n"
    "syslog_facility = \"local3\";\n"
    "log_level = \"debug\";\n"
    "authserv_id = \"mx.example.net\";\n"
    "trusted_networks = [\"192.0.2.0/24\", \"2001:db8::/32\"];\n"
    "sign_networks = [\"198.51.100.0/24\"];\n"
    "sign_authenticated = false;\n"
    "sign_daemon_names = [\"ORIGINATING\", \"submission\"];\n"
    "on_dns_error = \"accept\";\n"
    "on_internal_error = \"accept\";\n"
    "dns: { unbound_conf = \"@D@/unbound.conf\";\n"
    "       trust_anchor = \"@D@/anchor.key\"; timeout = 2; };\n"
    "spf: { enabled = false; helo = false; reject_fail = true;\n"
    "       received_spf = false; };\n"
    "dkim: {\n"
    "  verify = false; min_rsa_bits = 2048; accept_sha1 = true;\n"
    "  ignore_l = true; max_signatures = 3;\n"
    "  sign: {\n"
    "    canonicalization = \"relaxed\";\n"
    "    headers = [\"from\", \"To\"];\n"
    "    oversign = [];\n"
    "    table = (\n"
    "      { from = \"*@example.com\";   keys = [\"ex-rsa\", \"ex-ed\"]; },\n"
    "      { from = \"*@*.example.com\"; keys = [\"ex-old\"]; },\n"
    "      { from = \"Boss@Corp.Example\"; keys = [\"ex-ed\"]; }\n"
    "    );\n"
    "    keys = (\n"
    "      { name = \"ex-rsa\"; domain = \"Example.COM\"; selector = "
    "\"S2026A\";\n"
    "        file = \"@D@/rsa2048.key\"; },\n"
    "      { name = \"ex-old\"; domain = \"b\xc3\xbc"
    "cher.example.\";\n"
    "        selector = \"old\"; algorithm = \"rsa-sha256\";\n"
    "        file = \"@D@/rsa1024.key\"; },\n"
    "      { name = \"ex-ed\"; domain = \"example.com\"; selector = "
    "\"e2026a\";\n"
    "        algorithm = \"ed25519-sha256\"; file = \"@D@/ed.key\"; }\n"
    "    );\n"
    "  };\n"
    "};\n"
    "dmarc: { enabled = false; enforce = false; quarantine = \"header\";\n"
    "         multiple_from = \"strictest\"; pct = \"sample\";\n"
    "         require_whole_body = false;\n"
    "         require_signed_instances = false; };\n";

static void
test_full(void)
{
	struct am_err   err = {{0}};
	struct am_conf *c;
	char           *s;

	t_case("a full config: every key set");
	c = load_text("full.conf", full_conf, &err);
	t_assert_str_eq(err.msg, "");
	t_assert(c != NULL);
	if (c == NULL)
		return;
	t_assert_str_eq(c->socket, "local:/run/authmilter/a.sock");
	t_assert_str_eq(c->socket_path, "/run/authmilter/a.sock");
	t_assert_int_eq(c->socket_mode, 0600);
	t_assert(c->user == NULL);
	t_assert_str_eq(c->pidfile, "/run/authmilter.pid");
	t_assert_int_eq(c->syslog_facility, LOG_LOCAL3);
	t_assert_int_eq(c->log_level, LOG_L_DEBUG);
	t_assert_str_eq(c->authserv_id, "mx.example.net");
	t_assert_int_eq(c->ntrusted, 2);
	t_assert_int_eq(c->nsign_networks, 1);
	t_assert(!c->sign_authenticated);
	t_assert_int_eq(c->nsign_daemon_names, 2);
	t_assert(conf_sign_daemon(c, "submission"));
	t_assert(!conf_sign_daemon(c, "Submission"));
	t_assert_int_eq(c->on_dns_error, CONF_ACCEPT);
	t_assert_int_eq(c->on_internal_error, CONF_ACCEPT);
	s = subst("@D@/unbound.conf");
	t_assert_str_eq(c->dns.unbound_conf, s);
	free(s);
	s = subst("@D@/anchor.key");
	t_assert_str_eq(c->dns.trust_anchor, s);
	free(s);
	t_assert(c->dns.timeout == 2.0);
	t_assert(!c->spf.enabled && !c->spf.helo && c->spf.reject_fail &&
		 !c->spf.received_spf);
	t_assert(!c->dkim.verify && c->dkim.accept_sha1 && c->dkim.ignore_l);
	t_assert_int_eq(c->dkim.min_rsa_bits, 2048);
	t_assert_int_eq(c->dkim.max_signatures, 3);
	t_assert_int_eq(c->dkim.sign.header_canon, CONF_CANON_RELAXED);
	t_assert_int_eq(c->dkim.sign.body_canon, CONF_CANON_SIMPLE);
	t_assert_int_eq(c->dkim.sign.nheaders, 2);
	t_assert_int_eq(c->dkim.sign.noversign, 0);
	t_assert(!c->dmarc.enabled && !c->dmarc.enforce);
	t_assert_int_eq(c->dmarc.quarantine, CONF_QUARANTINE_HEADER);
	t_assert_int_eq(c->dmarc.multiple_from, CONF_MULTI_FROM_STRICTEST);
	t_assert_int_eq(c->dmarc.pct, CONF_PCT_SAMPLE);
	t_assert(!c->dmarc.require_whole_body);
	t_assert(!c->dmarc.require_signed_instances);
	/* ex-old: 1024 bits, and d=xn--bcher-kva.example under the
	 * example.com row; ex-ed (example.com) signs for Corp.Example. */
	t_assert_int_eq(c->nwarnings, 3);

	t_case("a full config: keys loaded and normalized");
	t_assert_int_eq(c->dkim.sign.nkeys, 3);
	if (c->dkim.sign.nkeys == 3) {
		const struct conf_key *k = c->dkim.sign.keys;

		t_assert_str_eq(k[0].name, "ex-rsa");
		t_assert_str_eq(k[0].domain, "example.com");
		t_assert_str_eq(k[0].selector, "s2026a");
		t_assert_int_eq(k[0].alg, CONF_ALG_RSA_SHA256);
		t_assert_int_eq(k[0].bits, 2048); /* traditional PEM */
		t_assert(k[0].pkey != NULL);
		t_assert_str_eq(k[1].domain, "xn--bcher-kva.example");
		t_assert_int_eq(k[1].bits, 1024); /* PKCS#8 */
		t_assert_int_eq(k[2].alg, CONF_ALG_ED25519_SHA256);
		t_assert_int_eq(k[2].bits, 256);
		t_assert(k[2].pkey != NULL &&
			 EVP_PKEY_get_base_id(k[2].pkey) == EVP_PKEY_ED25519);
	}

	t_case("a full config: the table points at the keys");
	t_assert_int_eq(c->dkim.sign.ntable, 3);
	if (c->dkim.sign.ntable == 3 && c->dkim.sign.nkeys == 3) {
		const struct conf_sign_rule *r = c->dkim.sign.table;

		t_assert_int_eq(r[0].nkeys, 2);
		t_assert(r[0].keys[0] == &c->dkim.sign.keys[0]);
		t_assert(r[0].keys[1] == &c->dkim.sign.keys[2]);
		t_assert_int_eq(r[0].line, 26);
		t_assert_int_eq(r[1].nkeys, 1);
		t_assert(r[1].keys[0] == &c->dkim.sign.keys[1]);
	}
	conf_unref(c);
}

/* What loads but is probably wrong: warnings with file and line, in the
 * order of the file's checks (keys first, then the table). */
static void
test_warnings(void)
{
	static const char *text =
	    "dkim: { sign: {\n"
	    "  keys = (\n"
	    "    { name = \"small\"; domain = \"example.com\"; selector = "
	    "\"s1\";\n"
	    "      file = \"@D@/rsa1024.key\"; },\n"
	    "    { name = \"big\"; domain = \"mail.example.com\"; selector = "
	    "\"s2\";\n"
	    "      file = \"@D@/rsa2048.key\"; },\n"
	    "    { name = \"ed\"; domain = \"example.com\"; selector = "
	    "\"e1\";\n"
	    "      file = \"@D@/ed.key\"; algorithm = \"ed25519-sha256\"; }\n"
	    "  );\n"
	    "  table = (\n"
	    "    { from = \"*@Example.ORG\"; keys = [\"ed\",\n"
	    "        \"big\"]; },\n"
	    "    { from = \"*@*.example.com\"; keys = [\"big\"]; },\n"
	    "    { from = \"*@example.com\"; keys = [\"big\", \"small\"]; },\n"
	    "    { from = \"*@*\"; keys = [\"ed\"]; },\n"
	    "    { from = \"*\"; keys = [\"ed\"]; }\n"
	    "  );\n"
	    "}; };\n";
	struct am_err   err = {{0}};
	struct am_conf *c;
	char           *want[3];
	size_t          i;

	t_case("warnings: a small RSA signing key, rows that cannot align");
	c = load_text("warn.conf", text, &err);
	t_assert_str_eq(err.msg, "");
	if (c == NULL)
		return;
	want[0] =
	    subst("@D@/warn.conf:4: warning: key \"small\" is a 1024-bit "
		  "RSA key; RFC 8301 asks signers for at least 2048 bits");
	want[1] = subst("@D@/warn.conf:11: warning: key \"ed\" signs "
			"d=example.com, which does not align with From domain "
			"Example.ORG of pattern \"*@Example.ORG\": DMARC will "
			"not count it");
	want[2] =
	    subst("@D@/warn.conf:12: warning: key \"big\" signs "
		  "d=mail.example.com, which does not align with From "
		  "domain Example.ORG of pattern \"*@Example.ORG\": DMARC "
		  "will not count it");
	t_assert_int_eq(c->nwarnings, 3);
	for (i = 0; i < 3; i++) {
		if (i < c->nwarnings)
			t_assert_str_eq(c->warnings[i], want[i]);
		free(want[i]);
	}
	conf_unref(c);
}

#define PUB_KEYS(v)                                                        \
	"  keys = (\n"                                                     \
	"    { name = \"a\"; domain = \"example.com\"; selector = \"s1\";\n"  \
	"      file = \"@D@/rsa2048.key\"; },\n"                            \
	"    { name = \"b\"; domain = \"example.com\"; selector = \"s2\";\n"  \
	"      file = \"@D@/rsa2048.key\"; publish_check = " v "; }\n"      \
	"  );\n"

/* dkim.sign.publish_check: the table-wide default reaches every key
 * wherever it stands in the group, a key's own setting wins; the
 * interval defaults to 300. */
static void
test_publish_check(void)
{
	struct am_err   err = {{0}};
	struct am_conf *c;

	t_case("publish_check: off by default, a key may turn it on");
	c = load_text("pub1.conf",
	    "dkim: { sign: {\n" PUB_KEYS("true") "}; };\n", &err);
	t_assert_str_eq(err.msg, "");
	if (c != NULL) {
		t_assert(!c->dkim.sign.publish_check);
		t_assert_int_eq(c->dkim.sign.publish_interval, 300);
		t_assert(c->dkim.sign.nkeys == 2 &&
			 !c->dkim.sign.keys[0].publish_check &&
			 c->dkim.sign.keys[1].publish_check);
		conf_unref(c);
	}

	t_case("publish_check: the table-wide default, after the keys");
	c = load_text("pub2.conf",
	    "dkim: { sign: {\n" PUB_KEYS("false") "  publish_check = true;\n"
	    "  publish_interval = 7;\n}; };\n",
	    &err);
	t_assert_str_eq(err.msg, "");
	if (c != NULL) {
		t_assert(c->dkim.sign.publish_check);
		t_assert_int_eq(c->dkim.sign.publish_interval, 7);
		t_assert(c->dkim.sign.nkeys == 2 &&
			 c->dkim.sign.keys[0].publish_check &&
			 !c->dkim.sign.keys[1].publish_check);
		conf_unref(c);
	}

	t_case("publish_interval: 0 is refused");
	c = load_text("pub3.conf",
	    "dkim: { sign: { publish_interval = 0; }; };\n", &err);
	t_assert(c == NULL);
	t_assert(strstr(err.msg, "dkim.sign.publish_interval must be "
				 "1-86400 (got 0)") != NULL);
	conf_unref(c);
}

static void
test_sample(void)
{
	const char *top =
	    getenv("top_srcdir") ? getenv("top_srcdir") : TOP_SRCDIR;
	struct am_err   err = {{0}};
	struct am_conf *c;
	char           *path;

	t_case("the sample conf/authmilter.conf loads");
	if (asprintf(&path, "%s/conf/authmilter.conf", top) < 0)
		abort();
	c = conf_load(path, &err);
	t_assert_str_eq(err.msg, "");
	t_assert(c != NULL);
	if (c != NULL) {
		t_assert_str_eq(c->socket, "inet:8895@127.0.0.1");
		t_assert_str_eq(c->user, "authmilter");
		t_assert_int_eq(c->dkim.sign.nkeys, 0);
		t_assert_int_eq(c->dkim.sign.nheaders, 15);
		t_assert_int_eq(c->ntrusted, 2);
	}
	conf_unref(c);
	free(path);
}

/* --- queries --- */

static bool
trusted(const struct am_conf *c, const char *a)
{
	struct ipaddr ip;

	if (!ipaddr_parse(&ip, a))
		abort();
	return conf_trusted(c, &ip);
}

static void
test_trusted(void)
{
	struct am_conf *c = conf_default();
	struct am_err   err = {{0}};

	t_case("trusted: the default loopback networks");
	t_assert(trusted(c, "127.0.0.1"));
	t_assert(trusted(c, "127.255.0.9"));
	t_assert(trusted(c, "::1"));
	t_assert(trusted(c, "::ffff:127.0.0.5")); /* mapped: IPv4 */
	t_assert(!trusted(c, "128.0.0.1"));
	t_assert(!trusted(c, "::2"));
	t_assert(!trusted(c, "192.0.2.1"));
	conf_unref(c);

	t_case("trusted: a configured list replaces the default");
	c = load_text("trusted.conf",
	    "trusted_networks = [\"192.0.2.0/25\", \"2001:db8::/32\", "
	    "\"198.51.100.7\"];\n",
	    &err);
	t_assert(c != NULL);
	if (c == NULL)
		return;
	t_assert(trusted(c, "192.0.2.127"));
	t_assert(!trusted(c, "192.0.2.128"));
	t_assert(trusted(c, "2001:db8:1::5"));
	t_assert(!trusted(c, "2001:db9::1"));
	t_assert(trusted(c, "198.51.100.7"));
	t_assert(!trusted(c, "198.51.100.8"));
	t_assert(!trusted(c, "127.0.0.1"));
	conf_unref(c);

	t_case("trusted: an empty list trusts nobody");
	c = load_text("trusted.conf", "trusted_networks = [];\n", &err);
	t_assert(c != NULL);
	if (c != NULL) {
		t_assert_int_eq(c->ntrusted, 0);
		t_assert(!trusted(c, "127.0.0.1"));
	}
	conf_unref(c);
}

static bool
sign_net(const struct am_conf *c, const char *a)
{
	struct ipaddr ip;

	if (!ipaddr_parse(&ip, a))
		abort();
	return conf_sign_network(c, &ip);
}

/* Direction (issue 13): sign_networks apart from trusted_networks, and a
 * warning for a file written when trusted_networks meant "sign". */
static void
test_direction(void)
{
	struct am_conf *c = conf_default();
	struct am_err   err = {{0}};
	char           *want;

	t_case("sign_networks: loopback by default");
	t_assert(sign_net(c, "127.0.0.1") && sign_net(c, "::1"));
	t_assert(!sign_net(c, "192.0.2.1"));
	conf_unref(c);

	t_case("sign_networks: apart from trusted_networks");
	c = load_text("direction.conf",
	    "trusted_networks = [\"192.0.2.0/24\"];\n"
	    "sign_networks = [\"198.51.100.0/24\"];\n",
	    &err);
	t_assert(c != NULL);
	if (c == NULL)
		return;
	t_assert(trusted(c, "192.0.2.9") && !sign_net(c, "192.0.2.9"));
	t_assert(sign_net(c, "198.51.100.9") && !trusted(c, "198.51.100.9"));
	t_assert(!sign_net(c, "127.0.0.1"));
	t_assert_int_eq(c->nwarnings, 0);
	conf_unref(c);

	t_case("trusted_networks without sign_networks: a warning");
	c = load_text("direction.conf",
	    "# relays\ntrusted_networks = [\"192.0.2.0/24\"];\n", &err);
	t_assert(c != NULL);
	if (c == NULL)
		return;
	want = subst("@D@/direction.conf:2: warning: trusted_networks no "
		     "longer makes mail signed: list the networks whose mail "
		     "is signed in sign_networks (default: loopback only)");
	t_assert_int_eq(c->nwarnings, 1);
	if (c->nwarnings == 1)
		t_assert_str_eq(c->warnings[0], want);
	t_assert(sign_net(c, "127.0.0.1") && !sign_net(c, "192.0.2.9"));
	free(want);
	conf_unref(c);

	t_case("dmarc.trusted_forwarders and exempt_domains: parsed");
	c = load_text("exempt.conf",
	    "dmarc: { trusted_forwarders = [\"192.0.2.64/30\", "
	    "\"Lists.Example.ORG.\", \"2001:db8::1\"];\n"
	    "  exempt_domains = [\"Example.NET\"]; };\n",
	    &err);
	t_assert_str_eq(err.msg, "");
	t_assert(c != NULL);
	if (c == NULL)
		return;
	t_assert_int_eq(c->dmarc.nforwarder_nets, 2);
	t_assert_int_eq(c->dmarc.nforwarder_names, 1);
	t_assert(conf_forwarder_name(c, "lists.example.org."));
	t_assert(conf_forwarder_name(c, "LISTS.example.org"));
	t_assert(!conf_forwarder_name(c, "x.lists.example.org"));
	{
		struct ipaddr ip;

		t_assert(ipaddr_parse(&ip, "192.0.2.67") &&
			 conf_forwarder_network(c, &ip));
		t_assert(ipaddr_parse(&ip, "192.0.2.68") &&
			 !conf_forwarder_network(c, &ip));
	}
	t_assert(conf_dmarc_exempt(c, "example.net"));
	t_assert(!conf_dmarc_exempt(c, "sub.example.net"));
	conf_unref(c);

	t_case("reports: absent means off, with defaults");
	c = conf_default();
	t_assert(c != NULL && !c->reports.enabled);
	if (c != NULL) {
		t_assert_str_eq(c->reports.store,
		    "sqlite:/var/lib/authmilter/reports.db");
		t_assert_str_eq(c->reports.sendmail, "/usr/sbin/sendmail");
		t_assert_int_eq(c->reports.queue, 10000);
	}
	conf_unref(c);

	t_case("reports: the group, receiver from the from domain, blocklist");
	c = load_text("reports.conf",
	    "reports: { org_name = \"Example Mail\"; "
	    "from = \"dmarc@Mail.Example.NET\";\n"
	    "  store = \"postgresql://am@/reports?host=/run/pg\";\n"
	    "  blocklist = [\"Spam.Example\", \"Bad@Other.Example\"]; };\n",
	    &err);
	t_assert_str_eq(err.msg, "");
	t_assert(c != NULL);
	if (c == NULL)
		return;
	t_assert(c->reports.enabled);
	t_assert_str_eq(c->reports.receiver, "mail.example.net");
	t_assert_str_eq(c->reports.store, "postgresql://am@/reports?host=/run/pg");
	t_assert(conf_report_blocked(c, "x@spam.example"));
	t_assert(conf_report_blocked(c, "x@a.SPAM.example"));
	t_assert(!conf_report_blocked(c, "x@notspam.example"));
	t_assert(conf_report_blocked(c, "bad@other.example"));
	t_assert(!conf_report_blocked(c, "good@other.example"));
	/* No signing table: test_report_signing() has the text. */
	t_assert_int_eq(c->nwarnings, 1);
	conf_unref(c);
}

/* One warning for a reports group whose from address the signing table
 * does not sign, or signs only with keys that cannot align. */
static const struct {
	const char *name;
	const char *table;   /* the dkim.sign.table rows */
	const char *warning; /* NULL: none */
} report_signing[] = {
    {"reports.from without a signing table", NULL,
	"@D@/rsign.conf:3: warning: reports.from dmarc@Mail.Example.NET has "
	"no signing-table row: authmilter-report sends no report unsigned "
	"(it would fail DMARC at receivers)"},
    {"reports.from matched by no row",
	"{ from = \"*@example.org\"; keys = [\"rsa\"]; }",
	"@D@/rsign.conf:3: warning: reports.from dmarc@Mail.Example.NET has "
	"no signing-table row: authmilter-report sends no report unsigned "
	"(it would fail DMARC at receivers)"},
    {"reports.from matched by a row whose keys cannot align",
	"{ from = \"*@example.org\"; keys = [\"rsa\"]; },\n"
	"  { from = \"*\"; keys = [\"org\", \"rsa\"]; }",
	"@D@/rsign.conf:3: warning: reports.from dmarc@Mail.Example.NET is "
	"signed by the dkim.sign.table row of line 14, whose keys do not "
	"align with Mail.Example.NET: reports fail DMARC at receivers "
	"(unless SPF aligns)"},
    {"reports.from signed with an aligned key (the parent domain)",
	"{ from = \"*@*example.net\"; keys = [\"org\", \"net\"]; }", NULL},
    {"reports.from signed by the first matching row, case-blind",
	"{ from = \"DMARC@mail.example.net\"; keys = [\"net\"]; },\n"
	"  { from = \"*\"; keys = [\"org\"]; }",
	NULL},
};

static void
test_report_signing(void)
{
	size_t i;

	for (i = 0; i < sizeof(report_signing) / sizeof(report_signing[0]);
	     i++) {
		struct am_err   err = {{0}};
		struct am_conf *c;
		struct buf      b;
		char           *text, *want;

		buf_init(&b, 0);
		buf_append_str(&b, "# reports\n"
				   "reports: { org_name = \"Example Mail\";\n"
				   "  from = \"dmarc@Mail.Example.NET\"; };\n");
		if (report_signing[i].table != NULL) {
			buf_append_str(&b,
			    "dkim: { sign: {\n"
			    "  keys = (\n"
			    "    { name = \"net\"; domain = \"example.net\";\n"
			    "      selector = \"s1\"; file = "
			    "\"@D@/rsa2048.key\"; },\n"
			    "    { name = \"org\"; domain = \"example.org\";\n"
			    "      selector = \"s1\"; file = "
			    "\"@D@/rsa2048.key\"; },\n"
			    "    { name = \"rsa\"; domain = \"example.org\";\n"
			    "      selector = \"s2\"; file = "
			    "\"@D@/rsa2048.key\"; });\n"
			    "  table = (\n  ");
			buf_append_str(&b, report_signing[i].table);
			buf_append_str(&b, "\n  );\n}; };\n");
		}
		text = buf_take(&b);
		t_case(report_signing[i].name);
		c = load_text("rsign.conf", text, &err);
		free(text);
		t_assert_str_eq(err.msg, "");
		if (c == NULL)
			continue;
		if (report_signing[i].warning == NULL) {
			t_assert_int_eq(c->nwarnings, 0);
		} else {
			want = subst(report_signing[i].warning);
			t_assert_int_eq(c->nwarnings, 1);
			if (c->nwarnings == 1)
				t_assert_str_eq(c->warnings[0], want);
			free(want);
		}
		conf_unref(c);
	}
}

static const struct {
	const char *name;
	const char *addr;
	int         row; /* -1: no match */
} matches[] = {
    {"sign_match: *@domain", "alice@example.com", 0},
    {"sign_match: case-insensitive", "ALICE@Example.COM", 0},
    {"sign_match: * matches an empty local part", "@example.com", 0},
    {"sign_match: *@*.domain, a subdomain", "bob@mail.example.com", 1},
    {"sign_match: *@*.domain, two labels deep", "bob@a.b.example.com", 1},
    {"sign_match: suffix must match to the end", "bob@example.com.evil", -1},
    {"sign_match: lookalike domain", "bob@notexample.com", -1},
    {"sign_match: exact address", "boss@corp.example", 2},
    {"sign_match: exact address, other case", "BOSS@CORP.EXAMPLE", 2},
    {"sign_match: exact address, other user", "boss2@corp.example", -1},
    {"sign_match: no row", "someone@elsewhere.example", -1},
    {"sign_match: empty address", "", -1},
};

static void
test_sign_match(void)
{
	struct am_err   err = {{0}};
	struct am_conf *c = load_text("full.conf", full_conf, &err);
	size_t          i;
	char            long_addr[4096];
	clock_t         t0;

	t_case("sign_match: the config loads");
	t_assert(c != NULL);
	if (c == NULL)
		return;
	for (i = 0; i < sizeof(matches) / sizeof(matches[0]); i++) {
		const struct conf_sign_rule *r;

		t_case(matches[i].name);
		r = conf_sign_match(c, matches[i].addr);
		if (matches[i].row < 0)
			t_assert(r == NULL);
		else
			t_assert(r == &c->dkim.sign.table[matches[i].row]);
	}
	conf_unref(c);

	t_case("sign_match: many stars against a long address stay fast");
	c = load_text("stars.conf",
	    "dkim: { sign: {\n"
	    "keys = ( { name = \"a\"; domain = \"example.com\"; selector = "
	    "\"s\"; file = \"@D@/ed.key\"; algorithm = \"ed25519-sha256\"; } "
	    ");\n"
	    "table = ( { from = \"*a*a*a*a*a*a*a*a*a*a*a*a*b\"; keys = "
	    "[\"a\"]; "
	    "},\n { from = \"*\"; keys = [\"a\"]; } );\n"
	    "}; };\n",
	    &err);
	t_assert_str_eq(err.msg, "");
	t_assert(c != NULL);
	if (c == NULL)
		return;
	memset(long_addr, 'a', sizeof(long_addr) - 1);
	long_addr[sizeof(long_addr) - 1] = '\0';
	t0 = clock();
	t_assert(conf_sign_match(c, long_addr) == &c->dkim.sign.table[1]);
	t_assert((double)(clock() - t0) / CLOCKS_PER_SEC < 2.0);
	long_addr[sizeof(long_addr) - 2] = 'b';
	t_assert(conf_sign_match(c, long_addr) == &c->dkim.sign.table[0]);
	conf_unref(c);
}

static const struct {
	const char *spec;
	bool        ok;
} sockets[] = {
    {"inet:8895@127.0.0.1", true},
    {"inet:8895@localhost", true},
    {"inet:8895", true},
    {"inet6:8895@::1", true},
    {"inet6:1@mail.example", true},
    {"local:/run/authmilter/authmilter.sock", true},
    {"unix:/tmp/a", true},
    {"inet:65535@127.0.0.1", true},
    {"inet:", false},
    {"inet:-1@localhost", false},
    {"inet:08895x@localhost", false},
    {"local:", false},
    {"", false},
    {"inet6:8895@::1::2", false},
    {"local:/"
     "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
     "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
	false},
};

static void
test_socket_check(void)
{
	size_t i;

	t_case("conf_socket_check: libmilter socket specs");
	for (i = 0; i < sizeof(sockets) / sizeof(sockets[0]); i++) {
		struct am_err err = {{0}};
		int           rc = conf_socket_check(sockets[i].spec, &err);

		if (!t_assert_int_eq(rc, sockets[i].ok ? 0 : -1))
			printf("  spec \"%s\": %s\n", sockets[i].spec, err.msg);
	}
}

static const struct {
	const char *name;
	int         value;
} facilities[] = {
    {"mail", LOG_MAIL},
    {"daemon", LOG_DAEMON},
    {"local0", LOG_LOCAL0},
    {"local1", LOG_LOCAL1},
    {"local2", LOG_LOCAL2},
    {"local3", LOG_LOCAL3},
    {"local4", LOG_LOCAL4},
    {"local5", LOG_LOCAL5},
    {"local6", LOG_LOCAL6},
    {"local7", LOG_LOCAL7},
};

static const struct {
	const char *name;
	int         value;
} levels[] = {
    {"err", LOG_L_ERR},
    {"warning", LOG_L_WARNING},
    {"notice", LOG_L_NOTICE},
    {"info", LOG_L_INFO},
    {"debug", LOG_L_DEBUG},
};

/* conf.c keeps <syslog.h> out of milter/lib: its facility codes must be
 * the system's. */
static void
test_names(void)
{
	struct am_err   err = {{0}};
	struct am_conf *c;
	char           *text;
	size_t          i;

	t_case("syslog_facility: every name is the <syslog.h> code");
	for (i = 0; i < sizeof(facilities) / sizeof(facilities[0]); i++) {
		if (asprintf(&text, "syslog_facility = \"%s\";\n",
			facilities[i].name) < 0)
			abort();
		c = load_text("names.conf", text, &err);
		t_assert(c != NULL);
		if (c != NULL &&
		    !t_assert_int_eq(c->syslog_facility, facilities[i].value))
			printf("  facility %s\n", facilities[i].name);
		conf_unref(c);
		free(text);
	}

	t_case("log_level: every name is its LOG_L_ level");
	for (i = 0; i < sizeof(levels) / sizeof(levels[0]); i++) {
		if (asprintf(&text, "log_level = \"%s\";\n", levels[i].name) <
		    0)
			abort();
		c = load_text("names.conf", text, &err);
		t_assert(c != NULL);
		if (c != NULL)
			t_assert_int_eq(c->log_level, levels[i].value);
		conf_unref(c);
		free(text);
	}

	t_case("canonicalization: each form and its RFC 6376 3.5 meaning");
	{
		static const struct {
			const char     *text;
			enum conf_canon h, b;
		} forms[] = {
		    {"simple", CONF_CANON_SIMPLE, CONF_CANON_SIMPLE},
		    {"relaxed", CONF_CANON_RELAXED, CONF_CANON_SIMPLE},
		    {"simple/relaxed", CONF_CANON_SIMPLE, CONF_CANON_RELAXED},
		    {"relaxed/simple", CONF_CANON_RELAXED, CONF_CANON_SIMPLE},
		    {"relaxed/relaxed", CONF_CANON_RELAXED, CONF_CANON_RELAXED},
		    {"simple/simple", CONF_CANON_SIMPLE, CONF_CANON_SIMPLE},
		};

		for (i = 0; i < sizeof(forms) / sizeof(forms[0]); i++) {
			if (asprintf(&text,
				"dkim: { sign: { canonicalization = \"%s\"; "
				"}; };\n",
				forms[i].text) < 0)
				abort();
			c = load_text("names.conf", text, &err);
			t_assert(c != NULL);
			if (c != NULL) {
				t_assert_int_eq(
				    c->dkim.sign.header_canon, forms[i].h);
				t_assert_int_eq(
				    c->dkim.sign.body_canon, forms[i].b);
			}
			conf_unref(c);
			free(text);
		}
	}
}

static void
print_key(const char *path, void *arg)
{
	(void)arg;
	printf("%s\n", path);
}

static int
rm_entry(const char *p, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st, (void)flag, (void)ftw;
	return remove(p);
}

int
main(int argc, char **argv)
{
	int rc;

	if (argc == 2 && strcmp(argv[1], "--list-keys") == 0) {
		conf_keys(print_key, NULL);
		return 0;
	}
	snprintf(dir, sizeof(dir), "%s/am-conf.XXXXXX",
	    getenv("TMPDIR") && strlen(getenv("TMPDIR")) < 40 ? getenv("TMPDIR")
							      : "/tmp");
	if (mkdtemp(dir) == NULL) {
		perror("mkdtemp");
		return 1;
	}
	make_keys();
	test_errors();
	test_file_errors();
	test_key_owner();
	test_defaults();
	test_full();
	test_warnings();
	test_publish_check();
	test_names();
	test_sample();
	test_trusted();
	test_direction();
	test_report_signing();
	test_sign_match();
	test_socket_check();
	rc = t_done();
	nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	return rc;
}
