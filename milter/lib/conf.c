/*
 * conf: libconfig -> struct am_conf. The accepted keys live in static
 * tables, one per group (name, type, setter or field), so the walker is
 * generic and the documentation lint can list every key (conf_keys()).
 * The first error stops the load and reads "FILE:LINE: what is wrong",
 * with the line of the offending setting.
 */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <libconfig.h>
#include <openssl/err.h>
#include <openssl/pem.h>

#include "buf.h"
#include "conf.h"
#include "store.h"
#include "log.h"
#include "mailaddr.h"
#include "str.h"

/* Facility codes as the system's syslog header defines them (glibc and
 * the BSDs: facility number << 3). milter/lib includes no syslog header
 * (t/unit/lint.sh); t/unit/test-conf.c checks these against it. */
#define CONF_LOG_MAIL   (2 << 3)
#define CONF_LOG_DAEMON (3 << 3)
#define CONF_LOG_LOCAL0 (16 << 3)

/* RFC 8301 3.2: signers use at least 1024-bit RSA keys, and verifiers
 * must handle 1024 to 4096 bits; a minimum above 4096 would refuse
 * signatures the RFC says verifiers accept. */
#define CONF_RSA_MIN_BITS     1024
#define CONF_RSA_MAX_MIN_BITS 4096
/* RFC 8301 3.2: signers SHOULD use at least 2048 bits (a warning). */
#define CONF_RSA_SIGN_BITS 2048
/* Room for a dotted key path such as "dkim.sign.keys.algorithm". */
#define CONF_PATH_MAX 96

/* The refcount lives beside the public struct; am_conf comes first so a
 * pointer to it is a pointer to the whole. */
struct conf_obj {
	struct am_conf c;
	atomic_uint    refs;
};

/* One load in progress. */
struct ld {
	struct am_conf         *c;
	struct am_err          *err;
	const char             *file;
	const config_setting_t *keys;  /* dkim.sign.keys, resolved after */
	const config_setting_t *table; /* dkim.sign.table, after the keys */
	const config_setting_t *trusted_set; /* trusted_networks in the file */
	bool                    sign_networks_set;
};

enum opt_type {
	OT_STR,   /* string */
	OT_BOOL,  /* true or false */
	OT_INT,   /* integer, stored as unsigned int in [min, max] */
	OT_NUM,   /* integer or float, stored as double in [min, max] */
	OT_STRS,  /* array of strings */
	OT_GROUP, /* { ... }: walked with sub */
	OT_LIST   /* ( { ... }, ... ): each element walked with sub */
};

struct opt;
typedef int opt_set_fn(struct ld *, const config_setting_t *, void *base,
    const struct opt *, const char *path);

struct opt_name {
	const char *name;
	int         value;
};

struct opt {
	const char            *name;
	enum opt_type          type;
	opt_set_fn            *set; /* NULL: store by type at off */
	size_t                 off; /* into the walk's base */
	double                 min, max;
	const struct opt      *sub;   /* OT_GROUP, OT_LIST */
	const struct opt_name *names; /* OT_STR with set_enum */
};

static const char *const default_sign_headers[] = {"From", "Reply-To",
    "Subject", "Date", "To", "Cc", "Message-ID", "In-Reply-To", "References",
    "MIME-Version", "Content-Type", "Content-Transfer-Encoding", "List-Id",
    "List-Unsubscribe", "List-Unsubscribe-Post"};
static const char *const default_oversign[] = {"From", "Subject", "Date"};
static const char *const default_trusted[] = {"127.0.0.0/8", "::1/128"};

_Static_assert(sizeof(enum conf_on_error) == sizeof(int) &&
		   sizeof(enum conf_quarantine) == sizeof(int) &&
		   sizeof(enum conf_multi_from) == sizeof(int) &&
		   sizeof(enum conf_pct) == sizeof(int) &&
		   sizeof(enum conf_alg) == sizeof(int),
    "set_enum stores an int");

/* --- errors --- */

static int ld_err(struct ld *, const config_setting_t *, const char *, ...)
    __attribute__((format(printf, 3, 4)));

/* file is the one libconfig names: an @include'd file as written in the
 * directive (libconfig 1.5 opens it as written, so relative to the
 * working directory: the manual asks for absolute paths). */
static int
ld_err_at(struct ld *ld, const char *file, unsigned int line, const char *msg)
{
	if (file == NULL)
		file = ld->file;
	if (line == 0)
		return am_err_set(ld->err, "%s: %s", file, msg);
	return am_err_set(ld->err, "%s:%u: %s", file, line, msg);
}

static int
ld_err(struct ld *ld, const config_setting_t *s, const char *fmt, ...)
{
	char    msg[AM_ERR_MAX];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (s == NULL)
		return ld_err_at(ld, NULL, 0, msg);
	return ld_err_at(ld, config_setting_source_file(s),
	    (unsigned int)config_setting_source_line(s), msg);
}

static int
ld_oom(struct ld *ld)
{
	return am_err_set(ld->err, "%s: out of memory", ld->file);
}

static int ld_warn(struct ld *, const config_setting_t *, const char *, ...)
    __attribute__((format(printf, 3, 4)));

/* Adds "FILE:LINE: warning: ..." to the config's warnings. Returns 0, -1
 * on OOM. */
static int
ld_warn(struct ld *ld, const config_setting_t *s, const char *fmt, ...)
{
	char    msg[AM_ERR_MAX], *w, **v;
	size_t  n = ld->c->nwarnings;
	va_list ap;
	int     len;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	len = asprintf(&w, "%s:%u: warning: %s",
	    config_setting_source_file(s) ? config_setting_source_file(s)
					  : ld->file,
	    (unsigned int)config_setting_source_line(s), msg);
	if (len < 0)
		return ld_oom(ld);
	if ((v = realloc(ld->c->warnings, (n + 1) * sizeof(*v))) == NULL) {
		free(w);
		return ld_oom(ld);
	}
	v[n] = w;
	ld->c->warnings = v;
	ld->c->nwarnings = n + 1;
	return 0;
}

/* --- syntax checks --- */

/* RFC 5322 3.6.8: ftext is printable US-ASCII except ':'. */
static bool
field_name_ok(const char *s)
{
	if (*s == '\0')
		return false;
	for (; *s != '\0'; s++)
		if ((unsigned char)*s < 33 || (unsigned char)*s > 126 ||
		    *s == ':')
			return false;
	return true;
}

/* Our names for keys and users: letters, digits, '.', '-', '_'. */
static bool
word_ok(const char *s)
{
	if (*s == '\0' || *s == '-')
		return false;
	for (; *s != '\0'; s++)
		if (!str_isalnum((unsigned char)*s) && *s != '.' && *s != '-' &&
		    *s != '_')
			return false;
	return true;
}

/* RFC 8601 2.5: authserv-id is a value, in practice the host name; we
 * accept a domain-like token so it never needs quoting. */
static bool
authserv_id_ok(const char *s)
{
	return strlen(s) <= MAILADDR_DOMAIN_MAX && word_ok(s);
}

static bool
port_ok(const char *p, size_t n)
{
	unsigned long v = 0;
	size_t        i;

	if (n == 0 || n > 5)
		return false;
	for (i = 0; i < n; i++) {
		if (!str_isdigit((unsigned char)p[i]))
			return false;
		v = v * 10 + (unsigned long)(p[i] - '0');
	}
	return v >= 1 && v <= 65535;
}

/* Postfix writes its side of a milter socket inet:HOST:PORT, the milter's
 * side is inet:PORT@HOST: an administrator coming from main.cf writes the
 * former. Returns true, with the spelling meant in fix, for HOST:PORT
 * (spec is what follows "inet:" or "inet6:"). */
static bool
postfix_spelling(const char *spec, const char *type, char *fix, size_t size)
{
	const char *colon = strrchr(spec, ':'), *host = spec;
	size_t      n;

	if (strchr(spec, '@') != NULL || colon == NULL || colon == spec ||
	    !port_ok(colon + 1, strlen(colon + 1)))
		return false;
	n = (size_t)(colon - spec);
	/* Postfix's [::1]:PORT: the milter side takes the bare address. */
	if (n >= 2 && host[0] == '[' && host[n - 1] == ']') {
		host++;
		n -= 2;
	}
	snprintf(fix, size, "%s%s@%.*s", type, colon + 1, (int)n, host);
	return true;
}

/* Why spec is not a socket we can listen on, or NULL; a message that
 * quotes the spec is written to buf. */
static const char *
socket_why(const char *spec, char *buf, size_t size)
{
	const struct sockaddr_un *un = NULL;
	const char               *at, *host;
	bool                      v6;
	unsigned char             addr[16];
	char                      fix[300];

	if (strncmp(spec, "local:", 6) == 0 || strncmp(spec, "unix:", 5) == 0) {
		const char *path = strchr(spec, ':') + 1;

		if (path[0] != '/')
			return "the path must be absolute";
		if (strlen(path) >= sizeof(un->sun_path))
			return "the path is too long for a socket";
		return NULL;
	}
	if (strncmp(spec, "inet:", 5) == 0) {
		v6 = false;
		spec += 5;
	} else if (strncmp(spec, "inet6:", 6) == 0) {
		v6 = true;
		spec += 6;
	} else {
		return "expected local:PATH, unix:PATH, inet:PORT@HOST or "
		       "inet6:PORT@HOST";
	}
	at = strchr(spec, '@');
	if (postfix_spelling(spec, v6 ? "inet6:" : "inet:", fix, sizeof(fix))) {
		snprintf(buf, size,
		    "HOST:PORT is how Postfix names the milter; "
		    "authmilter listens on PORT@HOST: write \"%s\"",
		    fix);
		return buf;
	}
	if (!port_ok(spec, at ? (size_t)(at - spec) : strlen(spec)))
		return "the port must be 1-65535";
	if (at == NULL)
		return NULL;
	host = at + 1;
	if (strchr(host, ':') != NULL) {
		if (!v6)
			return "an IPv6 address needs inet6:";
		if (inet_pton(AF_INET6, host, addr) != 1)
			return "bad IPv6 address";
		return NULL;
	}
	if (host[0] != '\0' && strspn(host, "0123456789.") == strlen(host)) {
		if (v6)
			return "an IPv4 address needs inet:";
		if (inet_pton(AF_INET, host, addr) != 1)
			return "bad IPv4 address";
		return NULL;
	}
	if (!mailaddr_domain_valid(host, strlen(host)))
		return "bad host name";
	return NULL;
}

int
conf_socket_check(const char *spec, struct am_err *err)
{
	char        buf[400];
	const char *why = socket_why(spec, buf, sizeof(buf));

	if (why != NULL)
		return am_err_set(err, "bad socket \"%s\": %s", spec, why);
	return 0;
}

/* --- setters --- */

#define AT(base, off, type) ((type *)(void *)((char *)(base) + (off)))

static int
set_string(struct ld *ld, char **dst, const char *v)
{
	char *p = strdup(v);

	if (p == NULL)
		return ld_oom(ld);
	free(*dst);
	*dst = p;
	return 0;
}

/* "" means "none": NULL. */
static int
set_string_or_null(struct ld *ld, char **dst, const char *v)
{
	if (*v != '\0')
		return set_string(ld, dst, v);
	free(*dst);
	*dst = NULL;
	return 0;
}

static int
set_generic(struct ld *ld, const config_setting_t *s, void *base,
    const struct opt *o, const char *path)
{
	long long v;
	double    d;

	switch (o->type) {
	case OT_BOOL:
		*AT(base, o->off, bool) = config_setting_get_bool(s) != 0;
		return 0;
	case OT_INT:
		v = config_setting_get_int64(s);
		if ((double)v < o->min || (double)v > o->max)
			return ld_err(ld, s, "%s must be %.0f-%.0f (got %lld)",
			    path, o->min, o->max, v);
		*AT(base, o->off, unsigned int) = (unsigned int)v;
		return 0;
	case OT_NUM:
		d = config_setting_type(s) == CONFIG_TYPE_FLOAT
			? config_setting_get_float(s)
			: (double)config_setting_get_int64(s);
		if (!(d >= o->min && d <= o->max))
			return ld_err(ld, s, "%s must be %g-%g (got %g)", path,
			    o->min, o->max, d);
		*AT(base, o->off, double) = d;
		return 0;
	case OT_STR:
		return set_string(
		    ld, AT(base, o->off, char *), config_setting_get_string(s));
	default:
		return ld_err(ld, s, "%s: internal error: no setter", path);
	}
}

static int
set_enum(struct ld *ld, const config_setting_t *s, void *base,
    const struct opt *o, const char *path)
{
	const char            *v = config_setting_get_string(s);
	const struct opt_name *n;
	struct buf             b;
	int                    rc;

	for (n = o->names; n->name != NULL; n++)
		if (strcmp(v, n->name) == 0) {
			memcpy(AT(base, o->off, int), &n->value, sizeof(int));
			return 0;
		}
	buf_init(&b, AM_ERR_MAX);
	for (n = o->names; n->name != NULL; n++)
		buf_printf(&b, "%s%s", n == o->names ? "" : ", ", n->name);
	rc = ld_err(
	    ld, s, "%s must be one of %s (got \"%s\")", path, buf_cstr(&b), v);
	buf_free(&b);
	return rc;
}

static int
set_socket(struct ld *ld, const config_setting_t *s, void *base,
    const struct opt *o, const char *path)
{
	const char   *v = config_setting_get_string(s);
	struct am_err e;

	(void)base, (void)o, (void)path;
	if (conf_socket_check(v, &e) < 0)
		return ld_err(ld, s, "%s", e.msg);
	if (set_string(ld, &ld->c->socket, v) < 0)
		return -1;
	free(ld->c->socket_path);
	ld->c->socket_path = NULL;
	if (strncmp(v, "local:", 6) == 0 || strncmp(v, "unix:", 5) == 0)
		return set_string(ld, &ld->c->socket_path, strchr(v, ':') + 1);
	return 0;
}

static int
set_socket_mode(struct ld *ld, const config_setting_t *s, void *base,
    const struct opt *o, const char *path)
{
	const char  *v = config_setting_get_string(s);
	unsigned int mode = 0;
	size_t       n = strlen(v), i;

	(void)base, (void)o;
	if (n < 3 || n > 4 || (n == 4 && v[0] != '0'))
		goto bad;
	for (i = 0; i < n; i++) {
		if (v[i] < '0' || v[i] > '7')
			goto bad;
		mode = mode * 8 + (unsigned int)(v[i] - '0');
	}
	ld->c->socket_mode = mode;
	return 0;
bad:
	return ld_err(ld, s,
	    "%s must be an octal permission string like \"0660\" (got \"%s\")",
	    path, v);
}

static int
set_user(struct ld *ld, const config_setting_t *s, void *base,
    const struct opt *o, const char *path)
{
	const char *v = config_setting_get_string(s);

	(void)base, (void)o;
	if (*v != '\0' && (!word_ok(v) || strlen(v) > 32))
		return ld_err(ld, s, "bad %s \"%s\"", path, v);
	return set_string_or_null(ld, &ld->c->user, v);
}

static int
set_pidfile(struct ld *ld, const config_setting_t *s, void *base,
    const struct opt *o, const char *path)
{
	const char *v = config_setting_get_string(s);

	(void)base, (void)o;
	if (*v != '\0' && *v != '/')
		return ld_err(
		    ld, s, "%s must be an absolute path (got \"%s\")", path, v);
	return set_string_or_null(ld, &ld->c->pidfile, v);
}

static int
set_authserv_id(struct ld *ld, const config_setting_t *s, void *base,
    const struct opt *o, const char *path)
{
	const char *v = config_setting_get_string(s);

	(void)base, (void)o;
	if (*v == '\0')
		return 0; /* the default, the host name, stays */
	if (!authserv_id_ok(v))
		return ld_err(ld, s,
		    "bad %s \"%s\": use letters, digits, '.', '-', '_'", path,
		    v);
	return set_string(ld, &ld->c->authserv_id, v);
}

static void free_strv(char **v, size_t n);

/* An array of CIDRs into *list_r and *n_r (replacing the default). */
static int
set_cidrs(struct ld *ld, const config_setting_t *s, const char *path,
    struct cidr **list_r, size_t *n_r)
{
	int          n = config_setting_length(s), i;
	struct cidr *list;

	list = calloc(n > 0 ? (size_t)n : 1, sizeof(*list));
	if (list == NULL)
		return ld_oom(ld);
	for (i = 0; i < n; i++) {
		const config_setting_t *e =
		    config_setting_get_elem(s, (unsigned)i);
		const char *v = config_setting_get_string(e);

		if (!cidr_parse(&list[i], v)) {
			free(list);
			return ld_err(ld, e, "bad CIDR \"%s\" in %s", v, path);
		}
	}
	free(*list_r);
	*list_r = list;
	*n_r = (size_t)n;
	return 0;
}

static int
set_trusted(struct ld *ld, const config_setting_t *s, void *base,
    const struct opt *o, const char *path)
{
	(void)base, (void)o;
	ld->trusted_set = s;
	return set_cidrs(ld, s, path, &ld->c->trusted, &ld->c->ntrusted);
}

static int
set_sign_networks(struct ld *ld, const config_setting_t *s, void *base,
    const struct opt *o, const char *path)
{
	(void)base, (void)o;
	ld->sign_networks_set = true;
	return set_cidrs(
	    ld, s, path, &ld->c->sign_networks, &ld->c->nsign_networks);
}

/* sign_daemon_names: the values of the MTA's {daemon_name} macro whose
 * mail is signed; compared exactly (Postfix passes the text of
 * milter_macro_daemon_name as written). */
static int
set_daemon_names(struct ld *ld, const config_setting_t *s, void *base,
    const struct opt *o, const char *path)
{
	int    n = config_setting_length(s), i;
	char **v;

	(void)base, (void)o;
	if ((v = calloc(n > 0 ? (size_t)n : 1, sizeof(*v))) == NULL)
		return ld_oom(ld);
	for (i = 0; i < n; i++) {
		const config_setting_t *e =
		    config_setting_get_elem(s, (unsigned)i);
		const char *d = config_setting_get_string(e);
		const char *q;

		for (q = d; *q > ' ' && *q < 0x7f; q++)
			;
		if (*d == '\0' || *q != '\0' || strlen(d) > 255) {
			free_strv(v, (size_t)i);
			return ld_err(ld, e,
			    "bad daemon name \"%s\" in %s: 1-255 printable "
			    "characters, no space",
			    d, path);
		}
		if ((v[i] = strdup(d)) == NULL) {
			free_strv(v, (size_t)i);
			return ld_oom(ld);
		}
	}
	free_strv(ld->c->sign_daemon_names, ld->c->nsign_daemon_names);
	ld->c->sign_daemon_names = v;
	ld->c->nsign_daemon_names = (size_t)n;
	return 0;
}

/* dmarc.trusted_forwarders: each entry a CIDR (the client's address) or
 * a host name (the client's forward-confirmed reverse DNS name). */
static int
set_forwarders(struct ld *ld, const config_setting_t *s, void *base,
    const struct opt *o, const char *path)
{
	int          n = config_setting_length(s), i;
	struct cidr *nets;
	char       **names, norm[MAILADDR_DOMAIN_MAX + 1];
	size_t       nn = 0, nh = 0;

	(void)base, (void)o;
	nets = calloc(n > 0 ? (size_t)n : 1, sizeof(*nets));
	names = calloc(n > 0 ? (size_t)n : 1, sizeof(*names));
	if (nets == NULL || names == NULL) {
		free(nets);
		free(names);
		return ld_oom(ld);
	}
	for (i = 0; i < n; i++) {
		const config_setting_t *e =
		    config_setting_get_elem(s, (unsigned)i);
		const char *v = config_setting_get_string(e);

		if (cidr_parse(&nets[nn], v)) {
			nn++;
			continue;
		}
		if (strchr(v, ':') != NULL || strchr(v, '/') != NULL ||
		    !mailaddr_domain_normalize(v, strlen(v), norm) ||
		    strchr(norm, '.') == NULL) {
			free(nets);
			free_strv(names, nh);
			return ld_err(ld, e,
			    "bad %s entry \"%s\": a CIDR or a host name", path,
			    v);
		}
		if ((names[nh] = strdup(norm)) == NULL) {
			free(nets);
			free_strv(names, nh);
			return ld_oom(ld);
		}
		nh++;
	}
	free(ld->c->dmarc.forwarder_nets);
	free_strv(ld->c->dmarc.forwarder_names, ld->c->dmarc.nforwarder_names);
	ld->c->dmarc.forwarder_nets = nets;
	ld->c->dmarc.nforwarder_nets = nn;
	ld->c->dmarc.forwarder_names = names;
	ld->c->dmarc.nforwarder_names = nh;
	return 0;
}

/* dmarc.exempt_domains: author domains, lower-case A-labels. */
static int
set_exempt(struct ld *ld, const config_setting_t *s, void *base,
    const struct opt *o, const char *path)
{
	int    n = config_setting_length(s), i;
	char **v, norm[MAILADDR_DOMAIN_MAX + 1];

	(void)base, (void)o;
	if ((v = calloc(n > 0 ? (size_t)n : 1, sizeof(*v))) == NULL)
		return ld_oom(ld);
	for (i = 0; i < n; i++) {
		const config_setting_t *e =
		    config_setting_get_elem(s, (unsigned)i);
		const char *d = config_setting_get_string(e);

		if (!mailaddr_domain_normalize(d, strlen(d), norm)) {
			free_strv(v, (size_t)i);
			return ld_err(
			    ld, e, "bad domain \"%s\" in %s", d, path);
		}
		if ((v[i] = strdup(norm)) == NULL) {
			free_strv(v, (size_t)i);
			return ld_oom(ld);
		}
	}
	free_strv(ld->c->dmarc.exempt_domains, ld->c->dmarc.nexempt_domains);
	ld->c->dmarc.exempt_domains = v;
	ld->c->dmarc.nexempt_domains = (size_t)n;
	return 0;
}

/* dns.unbound_conf and dns.trust_anchor: "" is none, anything else must
 * be a readable regular file now, not at the first DNS query. */
static int
set_readable_file(struct ld *ld, const config_setting_t *s, void *base,
    const struct opt *o, const char *path)
{
	const char *v = config_setting_get_string(s);
	struct stat st;
	int         fd;

	if (*v != '\0') {
		if ((fd = open(
			 v, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK)) < 0)
			return ld_err(ld, s, "cannot read %s \"%s\": %s", path,
			    v, strerror(errno));
		if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
			close(fd);
			return ld_err(
			    ld, s, "%s \"%s\" is not a regular file", path, v);
		}
		close(fd);
	}
	return set_string_or_null(ld, AT(base, o->off, char *), v);
}

static int
set_canon(struct ld *ld, const config_setting_t *s, void *base,
    const struct opt *o, const char *path)
{
	static const struct {
		const char     *name;
		enum conf_canon h, b;
	} forms[] = {
	    /* RFC 6376 3.5 c=: "X" alone is X for the header, simple for
	     * the body. */
	    {"simple", CONF_CANON_SIMPLE, CONF_CANON_SIMPLE},
	    {"relaxed", CONF_CANON_RELAXED, CONF_CANON_SIMPLE},
	    {"simple/simple", CONF_CANON_SIMPLE, CONF_CANON_SIMPLE},
	    {"simple/relaxed", CONF_CANON_SIMPLE, CONF_CANON_RELAXED},
	    {"relaxed/simple", CONF_CANON_RELAXED, CONF_CANON_SIMPLE},
	    {"relaxed/relaxed", CONF_CANON_RELAXED, CONF_CANON_RELAXED},
	};
	const char *v = config_setting_get_string(s);
	size_t      i;

	(void)base, (void)o;
	for (i = 0; i < sizeof(forms) / sizeof(forms[0]); i++)
		if (strcmp(v, forms[i].name) == 0) {
			ld->c->dkim.sign.header_canon = forms[i].h;
			ld->c->dkim.sign.body_canon = forms[i].b;
			return 0;
		}
	return ld_err(ld, s,
	    "%s must be HEADER/BODY, each simple or relaxed (got \"%s\")", path,
	    v);
}

static void
free_strv(char **v, size_t n)
{
	size_t i;

	if (v == NULL)
		return;
	for (i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

/* An array of header field names; duplicates (ignoring case) refused. */
static int
set_fields(struct ld *ld, const config_setting_t *s, const char *path,
    bool need_from, char ***v_r, size_t *n_r)
{
	int    n = config_setting_length(s), i, j;
	char **v;
	bool   from = false;

	v = calloc(n > 0 ? (size_t)n : 1, sizeof(*v));
	if (v == NULL)
		return ld_oom(ld);
	for (i = 0; i < n; i++) {
		const config_setting_t *e =
		    config_setting_get_elem(s, (unsigned)i);
		const char *h = config_setting_get_string(e);

		if (!field_name_ok(h)) {
			free_strv(v, (size_t)i);
			return ld_err(ld, e,
			    "bad header field name \"%s\" in %s", h, path);
		}
		for (j = 0; j < i; j++)
			if (str_casecmp_eq(v[j], h)) {
				free_strv(v, (size_t)i);
				return ld_err(ld, e,
				    "duplicate header field \"%s\" in %s", h,
				    path);
			}
		if ((v[i] = strdup(h)) == NULL) {
			free_strv(v, (size_t)i);
			return ld_oom(ld);
		}
		from = from || str_casecmp_eq(h, "From");
	}
	/* RFC 6376 5.4: the From header field MUST be signed. */
	if (need_from && !from) {
		free_strv(v, (size_t)n);
		return ld_err(
		    ld, s, "%s must contain \"From\" (RFC 6376 5.4)", path);
	}
	free_strv(*v_r, *n_r);
	*v_r = v;
	*n_r = (size_t)n;
	return 0;
}

static int
set_headers(struct ld *ld, const config_setting_t *s, void *base,
    const struct opt *o, const char *path)
{
	(void)base, (void)o;
	return set_fields(ld, s, path, true, &ld->c->dkim.sign.headers,
	    &ld->c->dkim.sign.nheaders);
}

static int
set_oversign(struct ld *ld, const config_setting_t *s, void *base,
    const struct opt *o, const char *path)
{
	(void)base, (void)o;
	return set_fields(ld, s, path, false, &ld->c->dkim.sign.oversign,
	    &ld->c->dkim.sign.noversign);
}

/* The keys list and the table are resolved after the walk: the table
 * points into the keys, whichever comes first in the file. */
static int
set_keys(struct ld *ld, const config_setting_t *s, void *base,
    const struct opt *o, const char *path)
{
	(void)base, (void)o, (void)path;
	ld->keys = s;
	return 0;
}

static int
set_table(struct ld *ld, const config_setting_t *s, void *base,
    const struct opt *o, const char *path)
{
	(void)base, (void)o, (void)path;
	ld->table = s;
	return 0;
}

static int
set_key_name(struct ld *ld, const config_setting_t *s, void *base,
    const struct opt *o, const char *path)
{
	const char *v = config_setting_get_string(s);

	(void)o;
	if (!word_ok(v))
		return ld_err(ld, s,
		    "bad %s \"%s\": use letters, digits, '.', '-', '_'", path,
		    v);
	return set_string(ld, &((struct conf_key *)base)->name, v);
}

static int
set_dns_name(struct ld *ld, const config_setting_t *s, void *base,
    const struct opt *o, const char *path)
{
	const char *v = config_setting_get_string(s);
	char        norm[MAILADDR_DOMAIN_MAX + 1], *n;

	/* Lower-case A-labels (RFC 6376 3.5 wants them in d= and s=). */
	if (!mailaddr_domain_normalize(v, strlen(v), norm))
		return ld_err(ld, s, "bad %s \"%s\"", path, v);
	/* RFC 6376 3.5: d= is sub-domain 1*("." sub-domain). */
	if (o->off == offsetof(struct conf_key, domain) &&
	    strchr(norm, '.') == NULL)
		return ld_err(ld, s,
		    "bad %s \"%s\": a signing domain has at least two labels "
		    "(RFC 6376 3.5)",
		    path, v);
	if ((n = strdup(norm)) == NULL)
		return ld_oom(ld);
	free(*AT(base, o->off, char *));
	*AT(base, o->off, char *) = n;
	return 0;
}

static int
set_key_file(struct ld *ld, const config_setting_t *s, void *base,
    const struct opt *o, const char *path)
{
	const char *v = config_setting_get_string(s);

	(void)o;
	if (*v != '/')
		return ld_err(
		    ld, s, "%s must be an absolute path (got \"%s\")", path, v);
	return set_string(ld, &((struct conf_key *)base)->file, v);
}

static int
set_row_from(struct ld *ld, const config_setting_t *s, void *base,
    const struct opt *o, const char *path)
{
	const char *v = config_setting_get_string(s);
	const char *p;

	(void)o;
	for (p = v; *p != '\0'; p++)
		if ((unsigned char)*p < 33 || (unsigned char)*p > 126)
			break;
	if (*v == '\0' || *p != '\0')
		return ld_err(ld, s,
		    "bad %s pattern \"%s\": printable ASCII without spaces",
		    path, v);
	return set_string(ld, &((struct conf_sign_rule *)base)->from, v);
}

static int
set_row_keys(struct ld *ld, const config_setting_t *s, void *base,
    const struct opt *o, const char *path)
{
	(void)ld, (void)s, (void)base, (void)o, (void)path;
	/* Resolved against the key names in load_table(). */
	return 0;
}

/* --- reports --- */

static int
set_report_store(struct ld *ld, const config_setting_t *s, void *base,
    const struct opt *o, const char *path)
{
	const char *v = config_setting_get_string(s);

	(void)base, (void)o;
	if (!store_spec_valid(v))
		return ld_err(ld, s,
		    "bad %s \"%s\": use \"sqlite:/ABSOLUTE/PATH\" or "
		    "\"postgresql://...\"",
		    path, v);
	return set_string(ld, &ld->c->reports.store, v);
}

/* local@domain, printable ASCII without spaces or specials that a header
 * field or a command line would have to quote; *dom_r: the domain. */
static bool
report_addr_ok(const char *v, const char **dom_r)
{
	const char *at = strrchr(v, '@'), *p;

	if (at == NULL || at == v || at[1] == '\0')
		return false;
	for (p = v; p < at; p++)
		if ((unsigned char)*p <= ' ' || (unsigned char)*p > '~' ||
		    strchr("\"(),:;<>@[\\]", *p) != NULL)
			return false;
	if (!mailaddr_domain_valid(at + 1, strlen(at + 1)))
		return false;
	*dom_r = at + 1;
	return true;
}

static int
set_report_from(struct ld *ld, const config_setting_t *s, void *base,
    const struct opt *o, const char *path)
{
	const char *v = config_setting_get_string(s), *dom;

	(void)base, (void)o;
	if (!report_addr_ok(v, &dom))
		return ld_err(ld, s,
		    "bad %s \"%s\": an address local@domain, no display name",
		    path, v);
	return set_string(ld, &ld->c->reports.from, v);
}

static int
set_report_receiver(struct ld *ld, const config_setting_t *s, void *base,
    const struct opt *o, const char *path)
{
	const char *v = config_setting_get_string(s);
	char        norm[MAILADDR_DOMAIN_MAX + 1];

	(void)base, (void)o;
	if (!mailaddr_domain_normalize(v, strlen(v), norm))
		return ld_err(ld, s, "bad %s \"%s\": a domain", path, v);
	return set_string(ld, &ld->c->reports.receiver, norm);
}

/* Free text that goes into the XML and nowhere else: printable, one line. */
static int
set_report_text(struct ld *ld, const config_setting_t *s, void *base,
    const struct opt *o, const char *path)
{
	const char *v = config_setting_get_string(s), *p;

	for (p = v; *p != '\0'; p++)
		if ((unsigned char)*p < ' ' || *p == 0x7f)
			return ld_err(ld, s,
			    "%s must be one line without control characters",
			    path);
	if (strlen(v) > 255)
		return ld_err(ld, s, "%s is longer than 255 bytes", path);
	if (o->off == offsetof(struct am_conf, reports.org_name) && *v == '\0')
		return ld_err(ld, s, "%s must not be empty", path);
	return set_string_or_null(ld, AT(base, o->off, char *), v);
}

/* reports.sendmail, reports.quarantine: absolute paths. */
static int
set_report_path(struct ld *ld, const config_setting_t *s, void *base,
    const struct opt *o, const char *path)
{
	const char *v = config_setting_get_string(s);

	if (*v != '/')
		return ld_err(
		    ld, s, "%s must be an absolute path (got \"%s\")", path, v);
	return set_string(ld, AT(base, o->off, char *), v);
}

/* reports.blocklist: addresses or domains, lower case. */
static int
set_report_blocklist(struct ld *ld, const config_setting_t *s, void *base,
    const struct opt *o, const char *path)
{
	int    n = config_setting_length(s), i;
	char **v, norm[MAILADDR_DOMAIN_MAX + 1];

	(void)base, (void)o;
	if ((v = calloc(n > 0 ? (size_t)n : 1, sizeof(*v))) == NULL)
		return ld_oom(ld);
	for (i = 0; i < n; i++) {
		const config_setting_t *e =
		    config_setting_get_elem(s, (unsigned)i);
		const char *d = config_setting_get_string(e), *dom;
		char       *q;

		if (strchr(d, '@') != NULL) {
			if (!report_addr_ok(d, &dom)) {
				free_strv(v, (size_t)i);
				return ld_err(
				    ld, e, "bad address \"%s\" in %s", d, path);
			}
			v[i] = strdup(d);
		} else if (mailaddr_domain_normalize(d, strlen(d), norm))
			v[i] = strdup(norm);
		else {
			free_strv(v, (size_t)i);
			return ld_err(
			    ld, e, "bad domain \"%s\" in %s", d, path);
		}
		if (v[i] == NULL) {
			free_strv(v, (size_t)i);
			return ld_oom(ld);
		}
		for (q = v[i]; *q != '\0'; q++)
			*q = (char)str_tolower((unsigned char)*q);
	}
	free_strv(ld->c->reports.blocklist, ld->c->reports.nblocklist);
	ld->c->reports.blocklist = v;
	ld->c->reports.nblocklist = (size_t)n;
	return 0;
}

/* The group is present: recording is on, and what a report needs must be
 * there (no default fits every site). */
static int
check_reports(struct ld *ld, const config_t *cf)
{
	const config_setting_t *g = config_lookup(cf, "reports");
	struct am_conf         *c = ld->c;
	const char             *dom;
	char                    norm[MAILADDR_DOMAIN_MAX + 1];

	if (g == NULL)
		return 0;
	c->reports.enabled = true;
	if (c->reports.org_name == NULL)
		return ld_err(ld, g,
		    "reports.org_name is missing (the "
		    "reporting organization's name)");
	if (c->reports.from == NULL)
		return ld_err(ld, g,
		    "reports.from is missing (the address "
		    "reports are sent from)");
	if (c->reports.receiver == NULL) {
		(void)report_addr_ok(c->reports.from, &dom);
		if (!mailaddr_domain_normalize(dom, strlen(dom), norm))
			return ld_err(ld, g,
			    "reports.from: no usable domain for "
			    "reports.receiver");
		if (set_string(ld, &c->reports.receiver, norm) < 0)
			return -1;
	}
	return 0;
}

/* --- tables --- */

static const struct opt_name on_error_names[] = {
    {"tempfail", CONF_TEMPFAIL}, {"accept", CONF_ACCEPT}, {NULL, 0}};
static const struct opt_name facility_names[] = {
    {"mail", CONF_LOG_MAIL},
    {"daemon", CONF_LOG_DAEMON},
    {"local0", CONF_LOG_LOCAL0 + (0 << 3)},
    {"local1", CONF_LOG_LOCAL0 + (1 << 3)},
    {"local2", CONF_LOG_LOCAL0 + (2 << 3)},
    {"local3", CONF_LOG_LOCAL0 + (3 << 3)},
    {"local4", CONF_LOG_LOCAL0 + (4 << 3)},
    {"local5", CONF_LOG_LOCAL0 + (5 << 3)},
    {"local6", CONF_LOG_LOCAL0 + (6 << 3)},
    {"local7", CONF_LOG_LOCAL0 + (7 << 3)},
    {NULL, 0},
};
static const struct opt_name level_names[] = {{"err", LOG_L_ERR},
    {"warning", LOG_L_WARNING}, {"notice", LOG_L_NOTICE}, {"info", LOG_L_INFO},
    {"debug", LOG_L_DEBUG}, {NULL, 0}};
static const struct opt_name alg_names[] = {{"rsa-sha256", CONF_ALG_RSA_SHA256},
    {"ed25519-sha256", CONF_ALG_ED25519_SHA256}, {NULL, 0}};
static const struct opt_name quarantine_names[] = {
    {"hold", CONF_QUARANTINE_HOLD}, {"header", CONF_QUARANTINE_HEADER},
    {NULL, 0}};
static const struct opt_name multi_from_names[] = {
    {"reject", CONF_MULTI_FROM_REJECT},
    {"strictest", CONF_MULTI_FROM_STRICTEST}, {NULL, 0}};
static const struct opt_name pct_names[] = {
    {"ignore", CONF_PCT_IGNORE}, {"sample", CONF_PCT_SAMPLE}, {NULL, 0}};

#define C(f) offsetof(struct am_conf, f)
#define K(f) offsetof(struct conf_key, f)
/* Shorthands for the common rows, used as {STR("name", setter)}. */
#define STR(n, fn) .name = (n), .type = OT_STR, .set = (fn)
#define BOOL(n, f) .name = (n), .type = OT_BOOL, .off = (f)
#define ENUM(n, f, v)                                                          \
	.name = (n), .type = OT_STR, .set = set_enum, .off = (f), .names = (v)

static const struct opt dns_opts[] = {
    {.name = "unbound_conf",
	.type = OT_STR,
	.set = set_readable_file,
	.off = C(dns.unbound_conf)},
    {.name = "trust_anchor",
	.type = OT_STR,
	.set = set_readable_file,
	.off = C(dns.trust_anchor)},
    {.name = "timeout",
	.type = OT_NUM,
	.off = C(dns.timeout),
	.min = 0.1,
	.max = 60},
    {.name = NULL},
};

static const struct opt spf_opts[] = {
    {BOOL("enabled", C(spf.enabled))},
    {BOOL("helo", C(spf.helo))},
    {BOOL("reject_fail", C(spf.reject_fail))},
    {BOOL("received_spf", C(spf.received_spf))},
    {.name = "timeout",
	.type = OT_NUM,
	.off = C(spf.timeout),
	.min = 1,
	.max = 290},
    {.name = NULL},
};

static const struct opt key_opts[] = {
    {STR("name", set_key_name)},
    {.name = "domain", .type = OT_STR, .set = set_dns_name, .off = K(domain)},
    {.name = "selector",
	.type = OT_STR,
	.set = set_dns_name,
	.off = K(selector)},
    {ENUM("algorithm", K(alg), alg_names)},
    {STR("file", set_key_file)},
    {BOOL("publish_check", K(publish_check))},
    {.name = NULL},
};

static const struct opt row_opts[] = {
    {STR("from", set_row_from)},
    {.name = "keys", .type = OT_STRS, .set = set_row_keys},
    {.name = NULL},
};

static const struct opt sign_opts[] = {
    {STR("canonicalization", set_canon)},
    {.name = "headers", .type = OT_STRS, .set = set_headers},
    {.name = "oversign", .type = OT_STRS, .set = set_oversign},
    {.name = "keys", .type = OT_LIST, .set = set_keys, .sub = key_opts},
    {.name = "table", .type = OT_LIST, .set = set_table, .sub = row_opts},
    {ENUM("on_error", C(dkim.sign.on_error), on_error_names)},
    {.name = "max_key_age_days",
	.type = OT_INT,
	.off = C(dkim.sign.max_key_age_days),
	.min = 1,
	.max = 36500},
    {BOOL("publish_check", C(dkim.sign.publish_check))},
    {.name = "publish_interval",
	.type = OT_INT,
	.off = C(dkim.sign.publish_interval),
	.min = 1,
	.max = 86400},
    {.name = NULL},
};

static const struct opt dkim_opts[] = {
    {BOOL("verify", C(dkim.verify))},
    {.name = "min_rsa_bits",
	.type = OT_INT,
	.off = C(dkim.min_rsa_bits),
	.min = CONF_RSA_MIN_BITS,
	.max = CONF_RSA_MAX_MIN_BITS},
    {BOOL("accept_sha1", C(dkim.accept_sha1))},
    {BOOL("ignore_l", C(dkim.ignore_l))},
    {.name = "max_signatures",
	.type = OT_INT,
	.off = C(dkim.max_signatures),
	.min = 1,
	.max = CONF_MAX_SIGNATURES},
    {.name = "sign", .type = OT_GROUP, .sub = sign_opts},
    {.name = NULL},
};

static const struct opt dmarc_opts[] = {
    {BOOL("enabled", C(dmarc.enabled))},
    {BOOL("enforce", C(dmarc.enforce))},
    {ENUM("quarantine", C(dmarc.quarantine), quarantine_names)},
    {ENUM("multiple_from", C(dmarc.multiple_from), multi_from_names)},
    {ENUM("pct", C(dmarc.pct), pct_names)},
    {BOOL("require_whole_body", C(dmarc.require_whole_body))},
    {BOOL("require_signed_instances", C(dmarc.require_signed_instances))},
    {.name = "trusted_forwarders", .type = OT_STRS, .set = set_forwarders},
    {.name = "exempt_domains", .type = OT_STRS, .set = set_exempt},
    {.name = NULL},
};

static const struct opt reports_opts[] = {
    {STR("store", set_report_store)},
    {.name = "org_name",
	.type = OT_STR,
	.set = set_report_text,
	.off = C(reports.org_name)},
    {STR("from", set_report_from)},
    {STR("receiver", set_report_receiver)},
    {.name = "extra_contact_info",
	.type = OT_STR,
	.set = set_report_text,
	.off = C(reports.extra_contact_info)},
    {.name = "sendmail",
	.type = OT_STR,
	.set = set_report_path,
	.off = C(reports.sendmail)},
    {.name = "queue",
	.type = OT_INT,
	.off = C(reports.queue),
	.min = 16,
	.max = 1000000},
    {.name = "min_messages",
	.type = OT_INT,
	.off = C(reports.min_messages),
	.min = 1,
	.max = 1000000},
    {.name = "max_per_minute",
	.type = OT_INT,
	.off = C(reports.max_per_minute),
	.min = 1,
	.max = 6000},
    {.name = "max_rows",
	.type = OT_INT,
	.off = C(reports.max_rows),
	.min = 1,
	.max = 1000000},
    {.name = "max_kbytes",
	.type = OT_INT,
	.off = C(reports.max_kbytes),
	.min = 64,
	.max = 65536},
    {.name = "blocklist", .type = OT_STRS, .set = set_report_blocklist},
    {.name = "quarantine",
	.type = OT_STR,
	.set = set_report_path,
	.off = C(reports.quarantine)},
    {.name = NULL},
};

static const struct opt top_opts[] = {
    {STR("socket", set_socket)},
    {STR("socket_mode", set_socket_mode)},
    {STR("user", set_user)},
    {STR("pidfile", set_pidfile)},
    {ENUM("syslog_facility", C(syslog_facility), facility_names)},
    {ENUM("log_level", C(log_level), level_names)},
    {STR("authserv_id", set_authserv_id)},
    {.name = "trusted_networks", .type = OT_STRS, .set = set_trusted},
    {.name = "sign_networks", .type = OT_STRS, .set = set_sign_networks},
    {BOOL("sign_authenticated", C(sign_authenticated))},
    {.name = "sign_daemon_names", .type = OT_STRS, .set = set_daemon_names},
    {ENUM("on_dns_error", C(on_dns_error), on_error_names)},
    {ENUM("on_internal_error", C(on_internal_error), on_error_names)},
    {.name = "message_timeout",
	.type = OT_NUM,
	.off = C(message_timeout),
	.min = 1,
	.max = CONF_MAX_MESSAGE_TIMEOUT},
    {.name = "dns", .type = OT_GROUP, .sub = dns_opts},
    {.name = "spf", .type = OT_GROUP, .sub = spf_opts},
    {.name = "dkim", .type = OT_GROUP, .sub = dkim_opts},
    {.name = "dmarc", .type = OT_GROUP, .sub = dmarc_opts},
    {.name = "reports", .type = OT_GROUP, .sub = reports_opts},
    {.name = NULL},
};

#undef C
#undef K
#undef STR
#undef BOOL
#undef ENUM

/* The time limits against the MTA's (authmilter.conf(5)): with
 * spf.reject_fail the SPF wait is inside the MAIL FROM callback, which
 * Postfix gives up on after milter_command_timeout (30 s). (An SPF
 * evaluation longer than message_timeout is simply cut by the latter.) */
static int
check_times(struct ld *ld, const config_t *cf)
{
	const struct am_conf   *c = ld->c;
	const config_setting_t *s = config_lookup(cf, "spf.timeout");

	if (c->spf.reject_fail && c->spf.timeout >= CONF_MTA_COMMAND_TIMEOUT)
		return ld_err(ld, s ? s : config_lookup(cf, "spf.reject_fail"),
		    "spf.timeout (%g) must be below %d with spf.reject_fail: "
		    "the MAIL FROM reply waits for SPF, and Postfix's "
		    "milter_command_timeout is %d s",
		    c->spf.timeout, CONF_MTA_COMMAND_TIMEOUT,
		    CONF_MTA_COMMAND_TIMEOUT);
	return 0;
}

/* --- the walk --- */

static int
check_type(struct ld *ld, const config_setting_t *s, const struct opt *o,
    const char *path)
{
	int t = config_setting_type(s), i, n;

	switch (o->type) {
	case OT_STR:
		if (t != CONFIG_TYPE_STRING)
			return ld_err(ld, s, "%s must be a string", path);
		return 0;
	case OT_BOOL:
		if (t != CONFIG_TYPE_BOOL)
			return ld_err(ld, s, "%s must be true or false", path);
		return 0;
	case OT_INT:
		if (t != CONFIG_TYPE_INT && t != CONFIG_TYPE_INT64)
			return ld_err(ld, s, "%s must be an integer", path);
		return 0;
	case OT_NUM:
		if (!config_setting_is_number(s))
			return ld_err(ld, s, "%s must be a number", path);
		return 0;
	case OT_STRS:
		if (t != CONFIG_TYPE_ARRAY && t != CONFIG_TYPE_LIST)
			return ld_err(ld, s,
			    "%s must be an array of strings [\"...\", ...]",
			    path);
		n = config_setting_length(s);
		for (i = 0; i < n; i++) {
			const config_setting_t *e =
			    config_setting_get_elem(s, (unsigned)i);

			if (config_setting_type(e) != CONFIG_TYPE_STRING)
				return ld_err(ld, e,
				    "%s must be an array of strings "
				    "[\"...\", ...]",
				    path);
		}
		return 0;
	case OT_GROUP:
		if (t != CONFIG_TYPE_GROUP)
			return ld_err(
			    ld, s, "%s must be a group { ... }", path);
		return 0;
	case OT_LIST:
		if (t != CONFIG_TYPE_LIST)
			return ld_err(ld, s,
			    "%s must be a list of groups ( { ... }, ... )",
			    path);
		n = config_setting_length(s);
		for (i = 0; i < n; i++) {
			const config_setting_t *e =
			    config_setting_get_elem(s, (unsigned)i);

			if (config_setting_type(e) != CONFIG_TYPE_GROUP)
				return ld_err(ld, e,
				    "%s must be a list of groups "
				    "( { ... }, ... )",
				    path);
		}
		return 0;
	}
	return 0;
}

/* Walks the members of group g with table tab, storing into base. The
 * recursion follows our static tables (OT_GROUP), never the input: an
 * unknown or mistyped group stops the walk. */
static int
walk(struct ld *ld, const config_setting_t *g, const struct opt *tab,
    void *base, const char *gpath)
{
	int i, n = config_setting_length(g);

	for (i = 0; i < n; i++) {
		const config_setting_t *s =
		    config_setting_get_elem(g, (unsigned)i);
		const char       *name = config_setting_name(s);
		const struct opt *o;
		char              path[CONF_PATH_MAX];
		int               rc;

		if (name == NULL)
			return ld_err(ld, s, "unnamed setting in %s",
			    *gpath ? gpath : "the top level");
		for (o = tab; o->name != NULL; o++)
			if (strcmp(o->name, name) == 0)
				break;
		if (o->name == NULL) {
			if (*gpath == '\0')
				return ld_err(
				    ld, s, "unknown key \"%s\"", name);
			return ld_err(
			    ld, s, "unknown key \"%s\" in %s", name, gpath);
		}
		snprintf(path, sizeof(path), "%s%s%s", gpath, *gpath ? "." : "",
		    o->name);
		if (check_type(ld, s, o, path) < 0)
			return -1;
		if (o->type == OT_GROUP)
			rc = walk(ld, s, o->sub, base, path);
		else if (o->set != NULL)
			rc = o->set(ld, s, base, o, path);
		else
			rc = set_generic(ld, s, base, o, path);
		if (rc < 0)
			return -1;
	}
	return 0;
}

static int
no_passphrase(char *buf, int size, int rwflag, void *u)
{
	(void)buf, (void)size, (void)rwflag, (void)u;
	return -1; /* never prompt: encrypted keys are refused */
}

/* True, after the error, when a key file's mode lets others read it: a
 * DKIM key readable by others lets them sign as the domain. Its group may
 * read it when that is user's group, at mode 0640 (the layout OpenDKIM
 * documents: root:opendkim 0640); nothing for others, no group write. */
static bool
key_mode_refused(struct ld *ld, const char *file, const struct stat *st,
    const config_setting_t *fs)
{
	const char          *user = ld->c->user;
	const struct passwd *pw = user != NULL ? getpwnam(user) : NULL;
	unsigned int         mode = (unsigned int)(st->st_mode & 07777);

	if ((mode & 027) != 0) {
		ld_err(ld, fs,
		    "key file \"%s\" is readable by group or others (mode "
		    "%04o); chmod 600 it",
		    file, mode);
		return true;
	}
	if ((mode & 040) != 0 && (pw == NULL || st->st_gid != pw->pw_gid)) {
		ld_err(ld, fs,
		    "key file \"%s\" is readable by group %u (mode %04o), not "
		    "the group of user %s; chmod 600 it, or chgrp it to that "
		    "group",
		    file, (unsigned int)st->st_gid, mode,
		    user != NULL ? user : "(none set)");
		return true;
	}
	return false;
}

/* Opens, checks and reads one private key. The file must be ours alone:
 * a DKIM key readable by others lets them sign as the domain. */
static int
load_key(struct ld *ld, struct conf_key *k, const config_setting_t *fs)
{
	struct stat st;
	FILE       *fp;
	EVP_PKEY   *pkey;
	int         fd, id, bits;
	bool        want_rsa = k->alg == CONF_ALG_RSA_SHA256;

	fd = open(k->file, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0)
		return ld_err(ld, fs, "cannot open key file \"%s\": %s",
		    k->file, strerror(errno));
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		return ld_err(
		    ld, fs, "key file \"%s\" is not a regular file", k->file);
	}
	if (key_mode_refused(ld, k->file, &st, fs)) {
		close(fd);
		return -1;
	}
	if ((fp = fdopen(fd, "r")) == NULL) {
		close(fd);
		return ld_oom(ld);
	}
	/* PEM_read_PrivateKey takes PKCS#8 and the traditional RSA form. */
	pkey = PEM_read_PrivateKey(fp, NULL, no_passphrase, NULL);
	fclose(fp);
	ERR_clear_error();
	if (pkey == NULL)
		return ld_err(ld, fs,
		    "key file \"%s\" does not hold an unencrypted PEM private "
		    "key",
		    k->file);
	id = EVP_PKEY_get_base_id(pkey);
	if (want_rsa ? id != EVP_PKEY_RSA : id != EVP_PKEY_ED25519) {
		EVP_PKEY_free(pkey);
		return ld_err(ld, fs,
		    "key file \"%s\" is not an %s key, as "
		    "algorithm \"%s\" needs",
		    k->file, want_rsa ? "RSA" : "Ed25519",
		    want_rsa ? "rsa-sha256" : "ed25519-sha256");
	}
	bits = EVP_PKEY_get_bits(pkey);
	if (want_rsa && bits < CONF_RSA_MIN_BITS) {
		EVP_PKEY_free(pkey);
		return ld_err(ld, fs,
		    "key file \"%s\" holds a %d-bit RSA key (RFC 8301: at "
		    "least 1024 bits)",
		    k->file, bits);
	}
	k->pkey = pkey;
	k->bits = bits > 0 ? (unsigned int)bits : 0;
	/* RFC 8301 3.2: signers MUST use at least 1024 bits and SHOULD use
	 * at least 2048; verifiers accept 1024, so it is not an error. */
	if (want_rsa && bits < CONF_RSA_SIGN_BITS)
		return ld_warn(ld, fs,
		    "key \"%s\" is a %d-bit RSA key; RFC 8301 asks signers "
		    "for at least %d bits",
		    k->name, bits, CONF_RSA_SIGN_BITS);
	return 0;
}

static void
key_clear(struct conf_key *k)
{
	free(k->name);
	free(k->domain);
	free(k->selector);
	free(k->file);
	EVP_PKEY_free(k->pkey); /* OpenSSL cleanses the key material */
	memset(k, 0, sizeof(*k));
}

static int
need(struct ld *ld, const config_setting_t *g, const void *field,
    const char *key, const char *what)
{
	if (field != NULL)
		return 0;
	return ld_err(ld, g, "missing \"%s\" in %s", key, what);
}

static int
load_keys(struct ld *ld)
{
	static const char      *what = "dkim.sign.keys entry";
	const config_setting_t *l = ld->keys;
	struct am_conf         *c = ld->c;
	unsigned int            n = (unsigned int)config_setting_length(l), i;
	size_t                  j;

	if (n == 0)
		return 0;
	if ((c->dkim.sign.keys = calloc(n, sizeof(struct conf_key))) == NULL)
		return ld_oom(ld);
	for (i = 0; i < n; i++) {
		const config_setting_t *g = config_setting_get_elem(l, i);
		struct conf_key        *k = &c->dkim.sign.keys[i];

		c->dkim.sign.nkeys = i + 1; /* so conf_unref frees it */
		/* The table-wide default (the walk is over: set already). */
		k->publish_check = c->dkim.sign.publish_check;
		if (walk(ld, g, key_opts, k, "dkim.sign.keys") < 0)
			return -1;
		if (need(ld, g, k->name, "name", what) < 0 ||
		    need(ld, g, k->domain, "domain", what) < 0 ||
		    need(ld, g, k->selector, "selector", what) < 0 ||
		    need(ld, g, k->file, "file", what) < 0)
			return -1;
		for (j = 0; j < i; j++)
			if (strcmp(c->dkim.sign.keys[j].name, k->name) == 0)
				return ld_err(ld,
				    config_setting_get_member(g, "name"),
				    "duplicate key name \"%s\" in "
				    "dkim.sign.keys (first at line %u)",
				    k->name,
				    (unsigned int)config_setting_source_line(
					config_setting_get_elem(
					    l, (unsigned int)j)));
		if (load_key(ld, k, config_setting_get_member(g, "file")) < 0)
			return -1;
	}
	return 0;
}

static const struct conf_key *
find_key(const struct am_conf *c, const char *name)
{
	size_t i;

	for (i = 0; i < c->dkim.sign.nkeys; i++)
		if (strcmp(c->dkim.sign.keys[i].name, name) == 0)
			return &c->dkim.sign.keys[i];
	return NULL;
}

/* The domain a From pattern confines its addresses to, or NULL when it
 * names none: "*@example.org" and "*@*.example.org" give "example.org",
 * "*" and "*@*" NULL. */
static const char *
pattern_domain(const char *pattern)
{
	const char *d = strrchr(pattern, '@');

	if (d == NULL)
		return NULL;
	for (d++; d[0] == '*' && d[1] == '.'; d += 2)
		;
	return d[0] == '\0' || strchr(d, '*') != NULL ? NULL : d;
}

/* The last two labels of a name ("example.com" of "a.b.example.com"). */
static const char *
last_two_labels(const char *d)
{
	const char *p = d + strlen(d);
	int         dots = 0;

	while (p > d)
		if (*--p == '.' && ++dots == 2)
			return p + 1;
	return d;
}

/* False when d= of key can never align with from under relaxed DMARC
 * alignment (RFC 9989 4.4: the same Organizational Domain). Which names
 * are Organizational Domains takes the DNS tree walk, so this errs on the
 * side of silence: only names that differ in their last two labels are
 * said not to align. */
static bool
may_align(const char *from, const char *d)
{
	return strcasecmp(last_two_labels(from), last_two_labels(d)) == 0;
}

static int
load_table(struct ld *ld)
{
	static const char      *what = "dkim.sign.table row";
	const config_setting_t *l = ld->table;
	struct am_conf         *c = ld->c;
	unsigned int            n = (unsigned int)config_setting_length(l), i;

	if (n == 0)
		return 0;
	if ((c->dkim.sign.table = calloc(n, sizeof(struct conf_sign_rule))) ==
	    NULL)
		return ld_oom(ld);
	for (i = 0; i < n; i++) {
		const config_setting_t *g = config_setting_get_elem(l, i);
		const config_setting_t *ks;
		struct conf_sign_rule  *r = &c->dkim.sign.table[i];
		unsigned int            nk, j;

		c->dkim.sign.ntable = i + 1;
		r->line = (int)config_setting_source_line(g);
		if (walk(ld, g, row_opts, r, "dkim.sign.table") < 0)
			return -1;
		ks = config_setting_get_member(g, "keys");
		if (need(ld, g, r->from, "from", what) < 0 ||
		    need(ld, g, ks, "keys", what) < 0)
			return -1;
		if ((nk = (unsigned int)config_setting_length(ks)) == 0)
			return ld_err(ld, ks,
			    "dkim.sign.table.keys must name at least one key");
		if (nk > CONF_MAX_ROW_KEYS)
			return ld_err(ld, ks,
			    "dkim.sign.table.keys names %u keys; at most %d",
			    nk, CONF_MAX_ROW_KEYS);
		if ((r->keys = calloc(nk, sizeof(*r->keys))) == NULL)
			return ld_oom(ld);
		for (j = 0; j < nk; j++) {
			const config_setting_t *e =
			    config_setting_get_elem(ks, j);
			const char *name = config_setting_get_string(e);
			size_t      m;

			if ((r->keys[j] = find_key(c, name)) == NULL)
				return ld_err(ld, e,
				    "unknown signing key \"%s\" in "
				    "dkim.sign.table",
				    name);
			for (m = 0; m < j; m++)
				if (r->keys[m] == r->keys[j])
					return ld_err(ld, e,
					    "key \"%s\" listed twice in "
					    "dkim.sign.table row",
					    name);
			r->nkeys = j + 1;
			if (pattern_domain(r->from) != NULL &&
			    !may_align(
				pattern_domain(r->from), r->keys[j]->domain) &&
			    ld_warn(ld, e,
				"key \"%s\" signs d=%s, which does not align "
				"with From domain %s of pattern \"%s\": DMARC "
				"will not count it",
				name, r->keys[j]->domain,
				pattern_domain(r->from), r->from) < 0)
				return -1;
		}
	}
	return 0;
}

/* The reports are mail from reports.from, and RFC 9990 receivers check
 * them with DMARC like any other: authmilter-report signs them with the
 * signing-table row for that address. None, or one whose keys cannot
 * align with its domain, leaves DMARC to SPF alone (a warning). */
static int
check_report_signing(struct ld *ld, const config_t *cf)
{
	const struct am_conf        *c = ld->c;
	const config_setting_t      *s = config_lookup(cf, "reports.from");
	const struct conf_sign_rule *r;
	const char                  *dom;
	size_t                       i;

	if (!c->reports.enabled || c->reports.from == NULL || s == NULL)
		return 0;
	if ((r = conf_sign_match(c, c->reports.from)) == NULL)
		return ld_warn(ld, s,
		    "reports.from %s has no signing-table row: "
		    "authmilter-report sends no report unsigned (it would "
		    "fail DMARC at receivers)",
		    c->reports.from);
	dom = strrchr(c->reports.from, '@') + 1;
	for (i = 0; i < r->nkeys; i++)
		if (may_align(dom, r->keys[i]->domain))
			return 0;
	return ld_warn(ld, s,
	    "reports.from %s is signed by the dkim.sign.table row of line %d, "
	    "whose keys do not align with %s: reports fail DMARC at "
	    "receivers (unless SPF aligns)",
	    c->reports.from, r->line, dom);
}

/* --- life cycle --- */

static char *
default_authserv_id(void)
{
	char host[MAILADDR_DOMAIN_MAX + 2];

	if (gethostname(host, sizeof(host)) < 0)
		host[0] = '\0';
	host[sizeof(host) - 1] = '\0';
	if (!authserv_id_ok(host))
		return strdup("localhost");
	return strdup(host);
}

static char **
strv_dup(const char *const *src, size_t n)
{
	char **v = calloc(n, sizeof(*v));
	size_t i;

	if (v == NULL)
		return NULL;
	for (i = 0; i < n; i++)
		if ((v[i] = strdup(src[i])) == NULL) {
			free_strv(v, i);
			return NULL;
		}
	return v;
}

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

static struct conf_obj *
conf_new(void)
{
	struct conf_obj *o = calloc(1, sizeof(*o));
	struct am_conf  *c;
	size_t           i;

	if (o == NULL)
		return NULL;
	atomic_init(&o->refs, 1);
	c = &o->c;
	c->socket_mode = 0660;
	c->syslog_facility = CONF_LOG_MAIL;
	c->log_level = LOG_L_INFO;
	c->on_dns_error = CONF_TEMPFAIL;
	c->on_internal_error = CONF_TEMPFAIL;
	c->dns.timeout = 5.0;
	c->spf.enabled = true;
	c->spf.helo = true;
	c->spf.reject_fail = false;
	c->spf.received_spf = true;
	c->spf.timeout = 20.0;
	c->message_timeout = 60.0;
	c->dkim.verify = true;
	c->dkim.min_rsa_bits = CONF_RSA_MIN_BITS;
	c->dkim.accept_sha1 = false;
	c->dkim.ignore_l = false;
	c->dkim.max_signatures = 10;
	c->dkim.sign.header_canon = CONF_CANON_RELAXED;
	c->dkim.sign.on_error = CONF_TEMPFAIL;
	c->dkim.sign.max_key_age_days = 180;
	c->dkim.sign.publish_check = false;
	c->dkim.sign.publish_interval = 300;
	c->dkim.sign.body_canon = CONF_CANON_RELAXED;
	c->dmarc.enabled = true;
	c->dmarc.enforce = true;
	c->dmarc.quarantine = CONF_QUARANTINE_HOLD;
	c->dmarc.multiple_from = CONF_MULTI_FROM_REJECT;
	c->dmarc.pct = CONF_PCT_IGNORE;
	c->dmarc.require_whole_body = true;
	c->dmarc.require_signed_instances = true;
	c->reports.queue = 10000;
	c->reports.min_messages = 1;
	c->reports.max_per_minute = 30;
	c->reports.max_rows = 100000;
	c->reports.max_kbytes = 65536;
	c->reports.store = strdup(CONF_REPORTS_STORE_DEFAULT);
	c->reports.sendmail = strdup(CONF_REPORTS_SENDMAIL);
	c->reports.quarantine = strdup(CONF_REPORTS_QUARANTINE);
	c->socket = strdup(CONF_DEFAULT_SOCKET);
	c->user = strdup("authmilter");
	c->authserv_id = default_authserv_id();
	c->trusted = calloc(NELEM(default_trusted), sizeof(*c->trusted));
	c->sign_networks =
	    calloc(NELEM(default_trusted), sizeof(*c->sign_networks));
	c->sign_authenticated = true;
	c->dkim.sign.headers =
	    strv_dup(default_sign_headers, NELEM(default_sign_headers));
	c->dkim.sign.oversign =
	    strv_dup(default_oversign, NELEM(default_oversign));
	if (c->dkim.sign.headers != NULL)
		c->dkim.sign.nheaders = NELEM(default_sign_headers);
	if (c->dkim.sign.oversign != NULL)
		c->dkim.sign.noversign = NELEM(default_oversign);
	if (c->socket == NULL || c->user == NULL || c->authserv_id == NULL ||
	    c->reports.store == NULL || c->reports.sendmail == NULL ||
	    c->reports.quarantine == NULL || c->trusted == NULL ||
	    c->sign_networks == NULL || c->dkim.sign.headers == NULL ||
	    c->dkim.sign.oversign == NULL) {
		conf_unref(c);
		return NULL;
	}
	for (i = 0; i < NELEM(default_trusted); i++) {
		if (cidr_parse(&c->trusted[i], default_trusted[i]))
			c->ntrusted++;
		if (cidr_parse(&c->sign_networks[i], default_trusted[i]))
			c->nsign_networks++;
	}
	return o;
}

struct am_conf *
conf_default(void)
{
	struct conf_obj *o = conf_new();

	return o ? &o->c : NULL;
}

struct am_conf *
conf_load(const char *file, struct am_err *err)
{
	struct conf_obj *o;
	struct ld        ld = {.err = err, .file = file};
	config_t         cf;
	FILE            *fp;
	struct stat      st;
	int              rc = -1;

	/* libconfig says only "file I/O error": open it first for errno. */
	if ((fp = fopen(file, "r")) == NULL) {
		am_err_set(err, "%s: %s", file, strerror(errno));
		return NULL;
	}
	if (fstat(fileno(fp), &st) < 0 || !S_ISREG(st.st_mode)) {
		fclose(fp);
		am_err_set(err, "%s: not a regular file", file);
		return NULL;
	}
	fclose(fp);
	if ((o = conf_new()) == NULL) {
		am_err_set(err, "%s: out of memory", file);
		return NULL;
	}
	ld.c = &o->c;
	if ((ld.c->file = strdup(file)) == NULL) {
		ld_oom(&ld);
		conf_unref(ld.c);
		return NULL;
	}
	config_init(&cf);
	if (!config_read_file(&cf, file)) {
		/* Also a missing @include file: libconfig's text says which. */
		ld_err_at(&ld, config_error_file(&cf),
		    config_error_line(&cf) > 0
			? (unsigned int)config_error_line(&cf)
			: 0,
		    config_error_text(&cf) ? config_error_text(&cf)
					   : "cannot read");
		goto out;
	}
	if (walk(&ld, config_root_setting(&cf), top_opts, ld.c, "") < 0)
		goto out;
	if (check_times(&ld, &cf) < 0 || check_reports(&ld, &cf) < 0)
		goto out;
	/* Before wave 3, trusted_networks made mail outbound: a file that
	 * lists relays there and says nothing of sign_networks may expect
	 * them to be signed for. */
	if (ld.trusted_set != NULL && !ld.sign_networks_set &&
	    ld_warn(&ld, ld.trusted_set,
		"trusted_networks no longer makes mail signed: list the "
		"networks whose mail is signed in sign_networks (default: "
		"loopback only)") < 0)
		goto out;
	if (ld.keys != NULL && load_keys(&ld) < 0)
		goto out;
	if (ld.table != NULL && load_table(&ld) < 0)
		goto out;
	if (check_report_signing(&ld, &cf) < 0)
		goto out;
	rc = 0;
out:
	config_destroy(&cf);
	if (rc < 0) {
		conf_unref(ld.c);
		return NULL;
	}
	return ld.c;
}

bool
conf_report_blocked(const struct am_conf *c, const char *dest)
{
	const char *at = strrchr(dest, '@');
	size_t      i;

	for (i = 0; i < c->reports.nblocklist; i++) {
		const char *b = c->reports.blocklist[i];

		if (strchr(b, '@') != NULL
			? str_casecmp_eq(b, dest)
			: at != NULL && str_domain_under(at + 1, b))
			return true;
	}
	return false;
}

struct am_conf *
conf_ref(struct am_conf *c)
{
	if (c != NULL)
		atomic_fetch_add_explicit(&((struct conf_obj *)(void *)c)->refs,
		    1, memory_order_relaxed);
	return c;
}

void
conf_unref(struct am_conf *c)
{
	struct conf_obj *o = (struct conf_obj *)(void *)c;
	size_t           i;

	if (c == NULL)
		return;
	/* Release/acquire: whoever frees sees every other thread's reads. */
	if (atomic_fetch_sub_explicit(&o->refs, 1, memory_order_acq_rel) != 1)
		return;
	free(c->file);
	free_strv(c->warnings, c->nwarnings);
	free(c->socket);
	free(c->socket_path);
	free(c->user);
	free(c->pidfile);
	free(c->authserv_id);
	free(c->trusted);
	free(c->sign_networks);
	free_strv(c->sign_daemon_names, c->nsign_daemon_names);
	free(c->dmarc.forwarder_nets);
	free_strv(c->dmarc.forwarder_names, c->dmarc.nforwarder_names);
	free_strv(c->dmarc.exempt_domains, c->dmarc.nexempt_domains);
	free(c->reports.store);
	free(c->reports.org_name);
	free(c->reports.from);
	free(c->reports.receiver);
	free(c->reports.extra_contact_info);
	free(c->reports.sendmail);
	free(c->reports.quarantine);
	free_strv(c->reports.blocklist, c->reports.nblocklist);
	free(c->dns.unbound_conf);
	free(c->dns.trust_anchor);
	free_strv(c->dkim.sign.headers, c->dkim.sign.nheaders);
	free_strv(c->dkim.sign.oversign, c->dkim.sign.noversign);
	for (i = 0; i < c->dkim.sign.nkeys; i++)
		key_clear(&c->dkim.sign.keys[i]);
	free(c->dkim.sign.keys);
	for (i = 0; i < c->dkim.sign.ntable; i++) {
		free(c->dkim.sign.table[i].from);
		free(c->dkim.sign.table[i].keys);
	}
	free(c->dkim.sign.table);
	free(o);
}

/* --- queries --- */

static bool
in_cidrs(const struct cidr *list, size_t n, const struct ipaddr *ip)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (cidr_match(&list[i], ip))
			return true;
	return false;
}

bool
conf_trusted(const struct am_conf *c, const struct ipaddr *ip)
{
	return in_cidrs(c->trusted, c->ntrusted, ip);
}

bool
conf_sign_network(const struct am_conf *c, const struct ipaddr *ip)
{
	return in_cidrs(c->sign_networks, c->nsign_networks, ip);
}

bool
conf_sign_daemon(const struct am_conf *c, const char *name)
{
	size_t i;

	if (name == NULL)
		return false;
	for (i = 0; i < c->nsign_daemon_names; i++)
		if (strcmp(c->sign_daemon_names[i], name) == 0)
			return true;
	return false;
}

bool
conf_forwarder_network(const struct am_conf *c, const struct ipaddr *ip)
{
	return in_cidrs(c->dmarc.forwarder_nets, c->dmarc.nforwarder_nets, ip);
}

bool
conf_forwarder_name(const struct am_conf *c, const char *name)
{
	char   norm[MAILADDR_DOMAIN_MAX + 1];
	size_t i;

	if (!mailaddr_domain_normalize(name, strlen(name), norm))
		return false;
	for (i = 0; i < c->dmarc.nforwarder_names; i++)
		if (strcmp(c->dmarc.forwarder_names[i], norm) == 0)
			return true;
	return false;
}

bool
conf_dmarc_exempt(const struct am_conf *c, const char *domain)
{
	size_t i;

	for (i = 0; i < c->dmarc.nexempt_domains; i++)
		if (strcmp(c->dmarc.exempt_domains[i], domain) == 0)
			return true;
	return false;
}

/* The classic two-pointer glob: on a mismatch, go back to just after the
 * last '*' and let it swallow one more character. No recursion; at most
 * O(len(pattern) * len(s)) steps. */
static bool
glob_ieq(const char *p, const char *s)
{
	const char *star = NULL, *resume = NULL;

	while (*s != '\0') {
		if (*p == '*') {
			star = p++;
			resume = s;
		} else if (*p != '\0' && str_tolower((unsigned char)*p) ==
					     str_tolower((unsigned char)*s)) {
			p++;
			s++;
		} else if (star != NULL) {
			p = star + 1;
			s = ++resume;
		} else {
			return false;
		}
	}
	while (*p == '*')
		p++;
	return *p == '\0';
}

const struct conf_sign_rule *
conf_sign_match(const struct am_conf *c, const char *addr)
{
	size_t i;

	for (i = 0; i < c->dkim.sign.ntable; i++)
		if (glob_ieq(c->dkim.sign.table[i].from, addr))
			return &c->dkim.sign.table[i];
	return NULL;
}

static void
keys_walk(const struct opt *tab, const char *gpath,
    void (*fn)(const char *, void *), void  *arg)
{
	const struct opt *o;
	char              path[CONF_PATH_MAX];

	for (o = tab; o->name != NULL; o++) {
		snprintf(path, sizeof(path), "%s%s%s", gpath, *gpath ? "." : "",
		    o->name);
		fn(path, arg);
		if (o->sub != NULL)
			keys_walk(o->sub, path, fn, arg);
	}
}

void
conf_keys(void (*fn)(const char *path, void *arg), void *arg)
{
	keys_walk(top_opts, "", fn, arg);
}
