/*
 * conf: the configuration file (libconfig syntax) turned into an immutable,
 * validated, refcounted struct am_conf. Everything is checked at load time
 * (unknown keys, types, ranges, CIDRs, socket specs, key files and their
 * modes, the signing table's references), so `authmilter -n`, start-up and
 * SIGHUP catch every error before message time. Errors read
 * "FILE:LINE: what is wrong". DKIM private keys are loaded here (before
 * privileges are dropped) and freed with the config.
 *
 * Threads: a loaded config is never modified; share it with conf_ref() and
 * release with conf_unref() (atomic counts).
 */
#ifndef AM_CONF_H
#define AM_CONF_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include <openssl/evp.h>

#include "err.h"
#include "ipaddr.h"

#define CONF_DEFAULT_FILE   SYSCONFDIR "/authmilter/authmilter.conf"
#define CONF_DEFAULT_SOCKET "inet:8895@127.0.0.1"

enum conf_on_error {
	CONF_TEMPFAIL, /* 451 4.7.x: the MTA retries later */
	CONF_ACCEPT    /* accept without that check's verdict */
};

enum conf_canon { CONF_CANON_SIMPLE, CONF_CANON_RELAXED };

enum conf_alg { CONF_ALG_RSA_SHA256, CONF_ALG_ED25519_SHA256 };

enum conf_quarantine {
	CONF_QUARANTINE_HOLD,  /* smfi_quarantine: Postfix's hold queue */
	CONF_QUARANTINE_HEADER /* accept, say so in Authentication-Results */
};

enum conf_pct {
	CONF_PCT_IGNORE, /* RFC 9989: only pct=0, as t=y (the default) */
	CONF_PCT_SAMPLE  /* RFC 7489 6.6.4: the policy for pct% of failures */
};

enum conf_multi_from {
	CONF_MULTI_FROM_REJECT,   /* 550 5.7.1 (the default) */
	CONF_MULTI_FROM_STRICTEST /* evaluate every domain, apply the worst */
};

struct conf_key {
	char         *name;
	char         *domain;   /* lower case, A-labels */
	char         *selector; /* lower case */
	enum conf_alg alg;
	char         *file;
	unsigned int  bits; /* RSA modulus bits; 256 for Ed25519 */
	EVP_PKEY     *pkey; /* loaded private key */
	/* Sign only while the key record in DNS carries this key's public
	 * half (default dkim.sign.publish_check; see msgauth_publish_check). */
	bool publish_check;
};

struct conf_sign_rule {
	char                   *from; /* pattern over the From address */
	size_t                  nkeys;
	const struct conf_key **keys; /* into am_conf.dkim.sign.keys */
	int                     line;
};

/* How many DKIM-Signature fields one message may make us verify; each
 * costs a key lookup and a hash (RFC 6376 6.1 lets a verifier limit it).
 * 29: each gets an Authentication-Results entry beside the SPF result
 * and DMARC, and a field holds 32 (AUTHRES_MAX_RESULTS), with room to
 * spare. */
#define CONF_MAX_SIGNATURES 29
/* Postfix's milter_command_timeout and milter_content_timeout defaults:
 * MAIL FROM with spf.reject_fail waits at most spf.timeout, which must be
 * below the first; end of message at most message_timeout (or dns.timeout
 * when that is longer), below the second. */
#define CONF_MTA_COMMAND_TIMEOUT 30
#define CONF_MAX_MESSAGE_TIMEOUT 290
/* How many keys one signing-table row may sign with. */
#define CONF_MAX_ROW_KEYS 8

struct am_conf {
	char *file; /* the path it was loaded from */
	/* What the file allows but is probably a mistake, each "FILE:LINE:
	 * ..." for -n, start-up and reloads to print: RSA signing keys under
	 * 2048 bits (RFC 8301 3.2), signing-table rows whose keys cannot align
	 * with the From domains of their pattern. */
	char       **warnings;
	size_t       nwarnings;
	char        *socket;
	char        *socket_path;     /* local:/unix: path; else NULL */
	unsigned int socket_mode;     /* for local sockets; default 0660 */
	char        *user;            /* NULL (""): stay; refused as root */
	char        *pidfile;         /* NULL (""): none */
	int          syslog_facility; /* LOG_MAIL etc. */
	int          log_level;       /* LOG_L_* from log.h */
	char        *authserv_id;     /* default: the host name */
	struct cidr *trusted;         /* relays: verified, never signed for */
	size_t       ntrusted;
	struct cidr *sign_networks; /* signing sources: msgauth_mailfrom */
	size_t       nsign_networks;
	bool         sign_authenticated; /* default true */
	char       **sign_daemon_names;  /* {daemon_name} values */
	size_t       nsign_daemon_names;
	enum conf_on_error on_dns_error;
	enum conf_on_error on_internal_error;
	/* Seconds a message's checks have, from MAIL FROM (see
	 * authmilter.conf(5): below the MTA's milter timeouts). */
	double message_timeout;

	struct {
		char  *unbound_conf; /* NULL: system resolver */
		char  *trust_anchor; /* NULL: none */
		double timeout;      /* seconds */
	} dns;

	struct {
		bool   enabled;
		bool   helo;
		bool   reject_fail;
		bool   received_spf;
		double timeout; /* one evaluation, RFC 7208 4.6.4 */
	} spf;

	struct {
		bool         verify;
		unsigned int min_rsa_bits;   /* default 1024 */
		bool         accept_sha1;    /* default false (RFC 8301) */
		bool         ignore_l;       /* default false */
		unsigned int max_signatures; /* default 10 */
		struct {
			enum conf_canon        header_canon;
			enum conf_canon        body_canon;
			char                 **headers; /* h= candidates */
			size_t                 nheaders;
			char                 **oversign;
			size_t                 noversign;
			struct conf_key       *keys;
			size_t                 nkeys;
			struct conf_sign_rule *table;
			size_t                 ntable;
			/* A message to sign that cannot be: tempfail
			 * (default) or accept (sent unsigned). */
			enum conf_on_error on_error;
			/* authmilter-check domain: an older key is a
			 * warning to rotate (default 180). */
			unsigned int max_key_age_days;
			/* The default of each key's publish_check (false),
			 * and the seconds between two checks (300). */
			bool         publish_check;
			unsigned int publish_interval;
		} sign;
	} dkim;

	struct {
		bool                 enabled;
		bool                 enforce;
		enum conf_quarantine quarantine;
		enum conf_multi_from multiple_from;
		enum conf_pct        pct;
		bool                 require_whole_body; /* default true */
		bool require_signed_instances;           /* default true */
		/* Local policy: a failure is recorded, not enforced (RFC 9990
		 * PolicyOverrideType trusted_forwarder, local_policy). */
		struct cidr *forwarder_nets; /* trusted_forwarders CIDRs */
		size_t       nforwarder_nets;
		char       **forwarder_names; /* the host names, normalized */
		size_t       nforwarder_names;
		char       **exempt_domains; /* author domains, normalized */
		size_t       nexempt_domains;
	} dmarc;

	/* Aggregate reports (RFC 9990): recording is on when the group is
	 * in the file; authmilter-report reads the rest. */
	struct {
		bool         enabled;  /* the reports group is present */
		char        *store;    /* "sqlite:/PATH" or "postgresql://..." */
		char        *org_name; /* report_metadata org_name */
		char        *from;     /* the reporting address: From, email */
		char        *receiver; /* file name, Subject; default: from's
					* domain, normalized */
		char        *extra_contact_info; /* NULL: none */
		char        *sendmail;           /* default /usr/sbin/sendmail */
		unsigned int queue;          /* rows waiting for the writer */
		unsigned int min_messages;   /* fewer: no report (default 1) */
		unsigned int max_per_minute; /* reports sent a minute */
		unsigned int max_rows;       /* records in one report */
		unsigned int max_kbytes;     /* its XML, KiB (REPORT_XML_MAX) */
		/* Destinations never sent to: "user@domain" (that address) or
		 * "domain" (its addresses and those of its subdomains); lower
		 * case, domains normalized. */
		char  **blocklist;
		size_t  nblocklist;
		/* authmilter-report ingest: malformed reports kept here */
		char *quarantine;
	} reports;
};

#define CONF_REPORTS_STORE_DEFAULT "sqlite:/var/lib/authmilter/reports.db"
#define CONF_REPORTS_SENDMAIL      "/usr/sbin/sendmail"
#define CONF_REPORTS_QUARANTINE    "/var/lib/authmilter/quarantine"

/* Loads and validates file, and reads the signing keys (so call it before
 * dropping privileges). Returns NULL with err "FILE:LINE: ..." (or
 * "FILE: ..." when no line applies); the first error stops the load. The
 * result has one reference. A string key set to "" in the file is NULL
 * here (user, pidfile, dns.unbound_conf, dns.trust_anchor), except
 * authserv_id, whose "" means the default. */
struct am_conf *conf_load(const char *file, struct am_err *err);
/* A config with every default and no file, for tools and tests: file is
 * NULL, authserv_id the host name, no signing keys. NULL only on OOM. */
struct am_conf *conf_default(void);
struct am_conf *conf_ref(struct am_conf *);
/* Drops a reference; the last one frees it (keys cleansed). NULL ok. */
void conf_unref(struct am_conf *);
/* Checks a libmilter socket spec: local:PATH or unix:PATH (PATH absolute,
 * shorter than sun_path), inet:PORT[@HOST] or inet6:PORT[@HOST] (PORT
 * 1-65535; HOST an address of that family or a host name; without HOST,
 * every address). Returns 0, or -1 with err 'bad socket "SPEC": why'. */
int conf_socket_check(const char *spec, struct am_err *err);
/* Calls fn with the dotted path of every key the parser accepts
 * ("socket", "dns.timeout", "dkim.sign.keys.file"), in table order: the
 * documentation lint (t/unit/conf-keys-documented.sh) lists them. */
void conf_keys(void (*fn)(const char *path, void *arg), void *arg);
/* True when the client address is in trusted_networks. */
bool conf_trusted(const struct am_conf *, const struct ipaddr *);
/* True when the client address is in sign_networks. */
bool conf_sign_network(const struct am_conf *, const struct ipaddr *);
/* True when name (the MTA's {daemon_name}; NULL: none) is in
 * sign_daemon_names. */
bool conf_sign_daemon(const struct am_conf *, const char *name);
/* True when the client address is in dmarc.trusted_forwarders. */
bool conf_forwarder_network(const struct am_conf *, const struct ipaddr *);
/* True when name (a verified PTR name, any case, trailing dot allowed) is
 * a host name in dmarc.trusted_forwarders. */
bool conf_forwarder_name(const struct am_conf *, const char *name);
/* True when domain (normalized, as msgauth has it) is in
 * dmarc.exempt_domains. */
bool conf_dmarc_exempt(const struct am_conf *, const char *domain);
/* True when dest (a mailto address, local@domain) is on
 * reports.blocklist. */
bool conf_report_blocked(const struct am_conf *, const char *dest);
/* The first signing-table row whose pattern matches addr (local@domain,
 * not NULL; compared case-insensitively; '*' matches any run of
 * characters, including none), or NULL. No recursion: at most
 * strlen(pattern) * strlen(addr) steps. */
const struct conf_sign_rule *conf_sign_match(
    const struct am_conf *, const char *addr);

#endif /* AM_CONF_H */
