/*
 * authmilter-keygen: makes a DKIM signing key (RFC 6376, RFC 8301, RFC
 * 8463), writes the private key as unencrypted PKCS#8 PEM to
 * DIR/SELECTOR.key with mode 0600, or 0640 for --owner USER:GROUP (never
 * over an existing file), and prints
 * the TXT record to publish at SELECTOR._domainkey.DOMAIN and the matching
 * authmilter.conf snippet.
 *
 * Exit status: 0 done, 1 I/O or OpenSSL failure, 2 usage.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <grp.h>
#include <limits.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/bio.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "buf.h"
#include "mailaddr.h"
#include "str.h"

#define PROG "authmilter-keygen"

#define EXIT_IO    1
#define EXIT_USAGE 2

/* RFC 8301 3.2: signers MUST use RSA keys of at least 1024 bits and SHOULD
 * use at least 2048. */
#define KEYGEN_RSA_MIN_BITS     1024
#define KEYGEN_RSA_SHOULD_BITS  2048
#define KEYGEN_RSA_DEFAULT_BITS 2048
/* RFC 8301 3.2: verifiers need only handle keys up to 4096 bits, so a larger
 * key earns a warning. Beyond 8192 bits generation takes minutes and the
 * TXT record no longer fits a plain 1232-octet UDP answer. */
#define KEYGEN_RSA_VERIFY_BITS 4096
#define KEYGEN_RSA_MAX_BITS    8192
/* RFC 8463 3: an Ed25519 public key is 32 octets. */
#define KEYGEN_ED25519_PUB_LEN 32
/* RFC 1035 3.3: a character-string holds at most 255 octets; a longer TXT
 * value is published as several strings that verifiers join (RFC 6376
 * 3.6.2.2). */
#define KEYGEN_TXT_STRING_MAX 255
/* RFC 1035 2.3.4 and RFC 1034 3.1: a name of at most 253 octets without its
 * trailing dot, labels of 1 to 63. */
#define KEYGEN_NAME_MAX 253

enum keygen_alg { KEYGEN_RSA, KEYGEN_ED25519 };

struct keygen_opts {
	char           *domain;   /* lower-case A-labels */
	char           *selector; /* lower-case */
	enum keygen_alg alg;
	unsigned int    bits;
	const char     *dir;
	/* --owner USER[:GROUP]: the key file's owner, group and mode (0600,
	 * or 0640 when a group that reads it is named); uid -1: ours. */
	uid_t  uid;
	gid_t  gid;
	mode_t mode;
};

static void usage_exit(void) __attribute__((noreturn));
static void errx_usage(const char *fmt, ...)
    __attribute__((format(printf, 1, 2), noreturn));
static void warnx(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void warn_ssl(const char *what);

static void
usage_exit(void)
{
	fprintf(stderr, "usage: " PROG " -d domain [-s selector] "
			"[-a rsa|ed25519] [-b bits] [-D dir]\n"
			"                         [-o|--owner user[:group]]\n");
	exit(EXIT_USAGE);
}

static void
errx_usage(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fputs(PROG ": ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
	exit(EXIT_USAGE);
}

static void
warnx(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fputs(PROG ": ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
}

/* Reports the oldest queued OpenSSL error after what. */
static void
warn_ssl(const char *what)
{
	char          msg[256];
	unsigned long e = ERR_get_error();

	if (e == 0) {
		warnx("%s failed", what);
		return;
	}
	ERR_error_string_n(e, msg, sizeof(msg));
	warnx("%s failed: %s", what, msg);
	ERR_clear_error();
}

/* A name as typed (A-labels or U-labels; one trailing dot allowed when
 * root_ok, for a domain) to lower-case A-labels, as the config loader does:
 * RFC 6376 3.5 wants A-labels in d= and s=. Returns NULL when it is not a
 * name; exits on OOM. */
static char *
name_norm(const char *in, bool root_ok)
{
	char   out[MAILADDR_DOMAIN_MAX + 1], *p;
	size_t n = strlen(in);

	if ((!root_ok && n > 0 && in[n - 1] == '.') ||
	    !mailaddr_domain_normalize(in, n, out))
		return NULL;
	if ((p = strdup(out)) == NULL) {
		warnx("out of memory");
		exit(EXIT_IO);
	}
	return p;
}

/* Digits only, no sign, no overflow past KEYGEN_RSA_MAX_BITS * 10. */
static bool
parse_bits(const char *s, unsigned int *bits_r)
{
	unsigned long v = 0;

	if (*s == '\0')
		return false;
	for (; *s != '\0'; s++) {
		if (!str_isdigit((unsigned char)*s))
			return false;
		v = v * 10 + (unsigned long)(*s - '0');
		/* Saturate: anything this large is refused later. */
		if (v > 10UL * KEYGEN_RSA_MAX_BITS)
			v = 10UL * KEYGEN_RSA_MAX_BITS;
	}
	*bits_r = (unsigned int)v;
	return true;
}

/* A selector named after the month (UTC), 's' for RSA and 'e' for Ed25519,
 * so the two keys of one rotation never share a name. */
static char *
dated_selector(enum keygen_alg alg)
{
	char      sel[16], *p;
	time_t    now = time(NULL);
	struct tm tm;

	if (gmtime_r(&now, &tm) == NULL ||
	    strftime(sel + 1, sizeof(sel) - 1, "%Y%m", &tm) == 0) {
		warnx("cannot format the date");
		exit(EXIT_IO);
	}
	sel[0] = alg == KEYGEN_ED25519 ? 'e' : 's';
	if ((p = str_ndup(sel, strlen(sel))) == NULL) {
		warnx("out of memory");
		exit(EXIT_IO);
	}
	return p;
}

/* USER[:GROUP] for --owner: the file belongs to USER and its primary
 * group, mode 0600; with GROUP it belongs to that group, mode 0640 (the
 * layout where root owns the key and the daemon's group reads it). */
static void
parse_owner(const char *arg, struct keygen_opts *o)
{
	const char          *colon = strchr(arg, ':');
	char                 user[256];
	const struct passwd *pw;
	const struct group  *gr;
	size_t               n = colon ? (size_t)(colon - arg) : strlen(arg);

	if (n == 0 || n >= sizeof(user) || (colon != NULL && colon[1] == '\0'))
		errx_usage("bad --owner \"%s\": want user or user:group", arg);
	memcpy(user, arg, n);
	user[n] = '\0';
	if ((pw = getpwnam(user)) == NULL)
		errx_usage("--owner: no user \"%s\"", user);
	o->uid = pw->pw_uid;
	o->gid = pw->pw_gid;
	o->mode = S_IRUSR | S_IWUSR;
	if (colon != NULL) {
		if ((gr = getgrnam(colon + 1)) == NULL)
			errx_usage("--owner: no group \"%s\"", colon + 1);
		o->gid = gr->gr_gid;
		o->mode |= S_IRGRP;
	}
}

static void
parse_args(int argc, char **argv, struct keygen_opts *o)
{
	static const struct option longopts[] = {
	    {"owner", required_argument, NULL, 'o'}, {NULL, 0, NULL, 0}};
	const char *domain = NULL, *selector = NULL, *alg = "rsa";
	bool        have_bits = false;
	int         ch;

	o->dir = ".";
	o->uid = (uid_t)-1;
	o->gid = (gid_t)-1;
	o->mode = S_IRUSR | S_IWUSR;
	while ((ch = getopt_long(
		    argc, argv, "a:b:d:D:ho:s:", longopts, NULL)) != -1) {
		switch (ch) {
		case 'o':
			parse_owner(optarg, o);
			break;
		case 'a':
			alg = optarg;
			break;
		case 'b':
			if (!parse_bits(optarg, &o->bits))
				errx_usage("bad key size \"%s\"", optarg);
			have_bits = true;
			break;
		case 'd':
			domain = optarg;
			break;
		case 'D':
			o->dir = optarg;
			break;
		case 's':
			selector = optarg;
			break;
		case 'h':
		default:
			usage_exit();
		}
	}
	if (optind != argc || domain == NULL)
		usage_exit();

	if (strcmp(alg, "rsa") == 0)
		o->alg = KEYGEN_RSA;
	else if (strcmp(alg, "ed25519") == 0)
		o->alg = KEYGEN_ED25519;
	else
		errx_usage("unknown algorithm \"%s\" (rsa or ed25519)", alg);

	if (o->alg == KEYGEN_ED25519 && have_bits)
		errx_usage("-b applies to rsa only: Ed25519 keys are 256 bits");
	if (o->alg == KEYGEN_RSA) {
		if (!have_bits)
			o->bits = KEYGEN_RSA_DEFAULT_BITS;
		if (o->bits < KEYGEN_RSA_MIN_BITS)
			errx_usage(
			    "%u-bit RSA refused: RFC 8301 3.2 requires at "
			    "least %u bits",
			    o->bits, KEYGEN_RSA_MIN_BITS);
		if (o->bits > KEYGEN_RSA_MAX_BITS)
			errx_usage("%u-bit RSA refused: at most %u bits",
			    o->bits, KEYGEN_RSA_MAX_BITS);
		if (o->bits < KEYGEN_RSA_SHOULD_BITS)
			warnx("warning: %u-bit RSA is weak; RFC 8301 3.2 says "
			      "signers SHOULD use at least %u bits",
			    o->bits, KEYGEN_RSA_SHOULD_BITS);
		else if (o->bits > KEYGEN_RSA_VERIFY_BITS)
			warnx("warning: RFC 8301 3.2 requires verifiers to "
			      "handle keys only up to %u bits; some may not "
			      "verify %u-bit signatures",
			    KEYGEN_RSA_VERIFY_BITS, o->bits);
	} else {
		o->bits = 256;
	}

	if ((o->domain = name_norm(domain, true)) == NULL)
		errx_usage("bad domain \"%s\": want letters, digits and "
			   "hyphens in dot-separated labels",
		    domain);
	if (selector == NULL)
		o->selector = dated_selector(o->alg);
	else
		o->selector = name_norm(selector, false);
	if (o->selector == NULL)
		errx_usage("bad selector \"%s\": want letters, digits and "
			   "hyphens in dot-separated labels (RFC 6376 3.1)",
		    selector);
	/* SELECTOR._domainkey.DOMAIN must itself be a name. */
	if (strlen(o->selector) + strlen("._domainkey.") + strlen(o->domain) >
	    KEYGEN_NAME_MAX)
		errx_usage("%s._domainkey.%s is longer than %u octets",
		    o->selector, o->domain, KEYGEN_NAME_MAX);
}

static EVP_PKEY *
generate(const struct keygen_opts *o)
{
	EVP_PKEY *pkey;

	if (o->alg == KEYGEN_RSA)
		pkey = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)o->bits);
	else
		pkey = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
	if (pkey == NULL)
		warn_ssl("key generation");
	return pkey;
}

/* RFC 6376 3.6.1 p=: base64 of the public key. For RSA the DER
 * SubjectPublicKeyInfo (what verifiers expect in practice; erratum 3017),
 * for Ed25519 the raw 32-octet key (RFC 8463 4.2). Returns 0 or -1. */
static int
public_b64(EVP_PKEY *pkey, enum keygen_alg alg, struct buf *out)
{
	unsigned char        raw[KEYGEN_ED25519_PUB_LEN];
	unsigned char       *der = NULL;
	unsigned char       *b64 = NULL;
	const unsigned char *src;
	size_t               len;
	int                  rc = -1;

	if (alg == KEYGEN_RSA) {
		int n = i2d_PUBKEY(pkey, &der);

		if (n <= 0) {
			warn_ssl("public key encoding");
			return -1;
		}
		src = der;
		len = (size_t)n;
	} else {
		len = sizeof(raw);
		if (EVP_PKEY_get_raw_public_key(pkey, raw, &len) != 1 ||
		    len != KEYGEN_ED25519_PUB_LEN) {
			warn_ssl("public key encoding");
			return -1;
		}
		src = raw;
	}
	/* EVP_EncodeBlock writes 4 characters per 3 octets and a NUL; len is
	 * at most a few kilobytes here. */
	if ((b64 = malloc((len + 2) / 3 * 4 + 1)) == NULL) {
		warnx("out of memory");
		goto out;
	}
	EVP_EncodeBlock(b64, src, (int)len);
	if (buf_append_str(out, (const char *)b64) < 0) {
		warnx("out of memory");
		goto out;
	}
	rc = 0;
out:
	free(b64);
	OPENSSL_free(der);
	return rc;
}

/* Writes all of p to fd; returns 0 or -1 with errno. */
static int
write_all(int fd, const char *p, size_t n)
{
	while (n > 0) {
		ssize_t w = write(fd, p, n);

		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/* Writes the private key as PKCS#8 PEM to a new file path, mode 0600 even
 * under umask 0; refuses an existing file (O_EXCL also refuses a symlink).
 * The owner, group and mode of o are set before a byte of the key is
 * written. The PEM text lives in secure heap memory, cleansed when freed.
 * Returns 0, or -1 after a message (and the half-written file removed). */
static int
write_key(EVP_PKEY *pkey, const char *path, const struct keygen_opts *o)
{
	BIO  *bio;
	char *pem = NULL;
	long  pemlen;
	int   fd, rc = -1, saved;

	if ((bio = BIO_new(BIO_s_secmem())) == NULL) {
		warn_ssl("BIO_new");
		return -1;
	}
	if (PEM_write_bio_PrivateKey(bio, pkey, NULL, NULL, 0, NULL, NULL) !=
		1 ||
	    (pemlen = BIO_get_mem_data(bio, &pem)) <= 0) {
		warn_ssl("PEM encoding");
		BIO_free(bio);
		return -1;
	}
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
	    S_IRUSR | S_IWUSR);
	if (fd < 0) {
		if (errno == EEXIST)
			warnx("%s exists: not overwriting it", path);
		else
			warnx("cannot create %s: %s", path, strerror(errno));
		BIO_free(bio);
		return -1;
	}
	if ((o->uid != (uid_t)-1 && fchown(fd, o->uid, o->gid) < 0) ||
	    fchmod(fd, o->mode) < 0 || write_all(fd, pem, (size_t)pemlen) < 0 ||
	    fsync(fd) < 0) {
		saved = errno;
		warnx("cannot write %s: %s", path, strerror(saved));
		(void)close(fd);
		(void)unlink(path);
		goto out;
	}
	if (close(fd) < 0) {
		warnx("cannot write %s: %s", path, strerror(errno));
		(void)unlink(path);
		goto out;
	}
	rc = 0;
out:
	BIO_free(bio);
	return rc;
}

/* The TXT record in zone-file form: the value cut into quoted strings of
 * at most KEYGEN_TXT_STRING_MAX octets (the value is base64 and tags, so
 * nothing needs escaping). */
static void
print_txt(const struct keygen_opts *o, const char *value)
{
	size_t len = strlen(value), off;

	printf("; DKIM key record (RFC 6376 3.6.1): publish in the zone of "
	       "%s\n",
	    o->domain);
	printf("%s._domainkey.%s. IN TXT (", o->selector, o->domain);
	for (off = 0; off < len; off += KEYGEN_TXT_STRING_MAX) {
		size_t n = len - off;

		if (n > KEYGEN_TXT_STRING_MAX)
			n = KEYGEN_TXT_STRING_MAX;
		printf(
		    "%s\"%.*s\"", off == 0 ? " " : "\n\t", (int)n, value + off);
	}
	printf(" )\n");
}

static void
print_conf(const struct keygen_opts *o, const char *file)
{
	const char *alg =
	    o->alg == KEYGEN_RSA ? "rsa-sha256" : "ed25519-sha256";

	printf("\n# authmilter.conf, inside dkim.sign: add the key to \"keys\" "
	       "and name it in a\n# \"table\" row (a row may list several "
	       "keys, e.g. RSA and Ed25519).\n");
	printf("keys = (\n");
	printf("\t{ name = \"%s-%s\"; domain = \"%s\"; selector = \"%s\";\n",
	    o->domain, o->selector, o->domain, o->selector);
	printf("\t  algorithm = \"%s\"; file = \"%s\";\n", alg, file);
	printf("\t  publish_check = true; }\n");
	printf(");\n");
	printf("table = (\n");
	printf("\t{ from = \"*@%s\"; keys = [\"%s-%s\"]; }\n", o->domain,
	    o->domain, o->selector);
	printf(");\n");
}

/* The rotation steps (authmilter.conf(5), dkim.sign.keys.publish_check):
 * with publish_check the new key listed first takes over by itself once
 * its record is visible, so the steps need no timing. */
static void
print_rotation(const struct keygen_opts *o)
{
	printf("\n# Rotation (replacing a key in use; the old one signs until "
	       "this one is published):\n"
	       "# 1. Publish the TXT record above; keep the old key's record.\n"
	       "# 2. Add the key entry above to dkim.sign.keys, put its name "
	       "first in the\n"
	       "#    table row, in front of the old key's: keys = "
	       "[\"%s-%s\", \"OLD\"];\n"
	       "#    and reload: systemctl reload authmilter (or kill -HUP).\n"
	       "# 3. Check the record: authmilter-check domain %s\n"
	       "# 4. Wait for this line in the log (checked every "
	       "dkim.sign.publish_interval s):\n"
	       "#    DKIM key %s-%s (s=%s d=%s): published at "
	       "%s._domainkey.%s; signing with it\n"
	       "# 5. A week later (signed mail in flight is verified with the "
	       "old record),\n"
	       "#    remove the old key from the row and dkim.sign.keys, "
	       "reload, then delete\n"
	       "#    its TXT record.\n",
	    o->domain, o->selector, o->domain, o->domain, o->selector,
	    o->selector, o->domain, o->selector, o->domain);
}

int
main(int argc, char **argv)
{
	struct keygen_opts o = {0};
	struct buf         value;
	struct stat        st;
	EVP_PKEY          *pkey = NULL;
	char               path[PATH_MAX], abs[PATH_MAX];
	const char        *shown;
	int                n, status = EXIT_IO;

	parse_args(argc, argv, &o);
	buf_init(&value, 0);

	n = snprintf(path, sizeof(path), "%s/%s.key", o.dir, o.selector);
	if (n < 0 || (size_t)n >= sizeof(path)) {
		warnx("key file path too long");
		goto out;
	}
	/* A friendly early refusal; O_EXCL in write_key() is the real
	 * guard. */
	if (lstat(path, &st) == 0) {
		warnx("%s exists: not overwriting it", path);
		goto out;
	}
	if ((pkey = generate(&o)) == NULL)
		goto out;
	if (write_key(pkey, path, &o) < 0)
		goto out;
	/* The config wants an absolute path (the daemon runs elsewhere). */
	shown = path;
	if (realpath(path, abs) != NULL)
		shown = abs;

	if (buf_printf(&value, "v=DKIM1; k=%s; p=",
		o.alg == KEYGEN_RSA ? "rsa" : "ed25519") < 0 ||
	    public_b64(pkey, o.alg, &value) < 0)
		goto out;
	print_txt(&o, buf_cstr(&value));
	print_conf(&o, shown);
	print_rotation(&o);
	if (fflush(stdout) != 0 || ferror(stdout)) {
		warnx("cannot write to standard output: %s", strerror(errno));
		goto out;
	}
	fprintf(stderr, PROG ": wrote %s (%s, %u bits, mode %04o)\n", shown,
	    o.alg == KEYGEN_RSA ? "rsa" : "ed25519", o.bits,
	    (unsigned int)o.mode);
	status = 0;
out:
	EVP_PKEY_free(pkey);
	buf_free(&value);
	free(o.domain);
	free(o.selector);
	return status;
}
