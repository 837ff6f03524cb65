/*
 * milter_client: the MTA side of the milter protocol (see milter_client.h).
 *
 * Wire format (Sendmail libmilter/docs, mfdef.h; Postfix milter8.c): every
 * packet is a 32-bit big-endian length, counting the command byte, then the
 * command byte, then the data. Strings are NUL-terminated; OPTNEG carries
 * three 32-bit words (version, actions, protocol), optionally followed in
 * the filter's answer by SETSYMLIST pairs (32-bit stage, string).
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>

#include <libmilter/mfapi.h>
#include <libmilter/mfdef.h>

#include "buf.h"
#include "str.h"
#include "milter_client.h"

/* Flush the output buffer once it holds this much, so that batched
 * no-reply packets (SMFIP_NR_HDR headers) do not pile up. */
#define MC_OUT_FLUSH (64 * 1024)
/* A command we build: a header field or a macro list. Postfix's own
 * header_size_limit is 100 kB; a few MB leave room for hostile tests. */
#define MC_MAX_CMD (8 * 1024 * 1024)
/* SMFIR_PROGRESS replies accepted while waiting for one reply; each wait
 * is bounded by the timeout, this bounds the loop (Postfix milter8.c
 * "XXX Bound the loop iteration count"). */
#define MC_MAX_PROGRESS 100000
/* End-of-message actions kept; each also counts against the byte cap. */
#define MC_MAX_ACTIONS 100000

struct mc_macro {
	char *name;
	char *value;
};

struct mc_stage {
	struct mc_macro *v;
	size_t           n, cap;
	char            *symlist; /* SMFIR_SETSYMLIST, NULL: send all */
};

/* An action as kept: the public view, whose strings point at name and
 * value. */
struct mc_action {
	struct milter_client_action pub;
	char                       *name;
	char                       *value;
};

struct milter_client {
	struct milter_client_params p;
	int                         fd;
	bool                        broken; /* closed after an error */
	bool                        skip_body;
	uint32_t                    version, actions, protocol;
	struct buf                  out; /* packets not yet written */
	struct buf                  cmd; /* the command being built */
	struct buf                  mac; /* its SMFIC_MACRO packet */
	bool                        pkt_err;
	struct buf                  in; /* data of the last reply packet */
	char                        rbuf[16384]; /* read, not yet used */
	size_t                      rpos, rlen;
	struct buf                  text;
	struct mc_stage             stage[MILTER_CLIENT_NSTAGES];
	struct mc_action           *act;
	size_t                      nact, capact, actbytes;
};

static const char *
mc_cmd_name(char cmd)
{
	switch (cmd) {
	case SMFIC_OPTNEG:
		return "optneg";
	case SMFIC_CONNECT:
		return "connect";
	case SMFIC_HELO:
		return "helo";
	case SMFIC_MAIL:
		return "mail";
	case SMFIC_RCPT:
		return "rcpt";
	case SMFIC_DATA:
		return "data";
	case SMFIC_HEADER:
		return "header";
	case SMFIC_EOH:
		return "eoh";
	case SMFIC_BODY:
		return "body";
	case SMFIC_BODYEOB:
		return "eom";
	default:
		return "?";
	}
}

const char *
milter_client_verdict_name(enum milter_client_verdict v)
{
	switch (v) {
	case MILTER_CLIENT_CONTINUE:
		return "continue";
	case MILTER_CLIENT_ACCEPT:
		return "accept";
	case MILTER_CLIENT_REJECT:
		return "reject";
	case MILTER_CLIENT_TEMPFAIL:
		return "tempfail";
	case MILTER_CLIENT_DISCARD:
		return "discard";
	case MILTER_CLIENT_REPLYCODE:
		return "replycode";
	case MILTER_CLIENT_SKIP:
		return "skip";
	case MILTER_CLIENT_SHUTDOWN:
		return "shutdown";
	case MILTER_CLIENT_CONN_FAIL:
		return "connfail";
	case MILTER_CLIENT_NOREPLY:
		return "noreply";
	case MILTER_CLIENT_NOTSENT:
		return "notsent";
	}
	return "?";
}

struct milter_client *
milter_client_new(const struct milter_client_params *params)
{
	struct milter_client *mc;

	if ((mc = calloc(1, sizeof(*mc))) == NULL)
		return NULL;
	if (params != NULL)
		mc->p = *params;
	if (mc->p.timeout_ms == 0)
		mc->p.timeout_ms = MILTER_CLIENT_TIMEOUT_MS;
	if (mc->p.actions == 0)
		mc->p.actions = SMFI_CURR_ACTS;
	if (mc->p.protocol == 0)
		mc->p.protocol = SMFI_CURR_PROT;
	if (mc->p.max_reply == 0)
		mc->p.max_reply = MILTER_CLIENT_MAX_REPLY;
	if (mc->p.chunk == 0 || mc->p.chunk > MILTER_CLIENT_CHUNK)
		mc->p.chunk = MILTER_CLIENT_CHUNK;
	mc->fd = -1;
	buf_init(&mc->out, MC_OUT_FLUSH + MC_MAX_CMD + 5);
	buf_init(&mc->cmd, MC_MAX_CMD);
	buf_init(&mc->mac, MC_MAX_CMD);
	buf_init(&mc->in, mc->p.max_reply);
	buf_init(&mc->text, mc->p.max_reply);
	return mc;
}

static void
mc_clear_actions(struct milter_client *mc)
{
	size_t i;

	for (i = 0; i < mc->nact; i++) {
		free(mc->act[i].name);
		free(mc->act[i].value);
	}
	mc->nact = 0;
	mc->actbytes = 0;
}

static void
mc_shut(struct milter_client *mc)
{
	if (mc->fd >= 0)
		close(mc->fd);
	mc->fd = -1;
	mc->rpos = mc->rlen = 0;
	buf_reset(&mc->out);
}

void
milter_client_free(struct milter_client *mc)
{
	size_t i, j;

	if (mc == NULL)
		return;
	mc_shut(mc);
	mc_clear_actions(mc);
	free(mc->act);
	for (i = 0; i < MILTER_CLIENT_NSTAGES; i++) {
		for (j = 0; j < mc->stage[i].n; j++) {
			free(mc->stage[i].v[j].name);
			free(mc->stage[i].v[j].value);
		}
		free(mc->stage[i].v);
		free(mc->stage[i].symlist);
	}
	buf_free(&mc->out);
	buf_free(&mc->cmd);
	buf_free(&mc->mac);
	buf_free(&mc->in);
	buf_free(&mc->text);
	free(mc);
}

/* Every error after the connection exists goes through here: the socket
 * is closed because the two sides are out of step (as Postfix's
 * milter8_comm_error). Returns -1. */
static int mc_fail(struct milter_client *mc, struct am_err *err,
    const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static int
mc_fail(struct milter_client *mc, struct am_err *err, const char *fmt, ...)
{
	char    msg[AM_ERR_MAX];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	mc_shut(mc);
	mc->broken = true;
	return am_err_set(err, "%s", msg);
}

static int
mc_ready(struct milter_client *mc, struct am_err *err)
{
	if (mc->fd < 0)
		return am_err_set(err, "milter connection is %s",
		    mc->broken ? "closed after an error" : "not open");
	return 0;
}

/* Waits until fd is readable (POLLIN) or writable (POLLOUT). */
static int
mc_wait(struct milter_client *mc, short events, struct am_err *err)
{
	struct pollfd pfd = {.fd = mc->fd, .events = events};
	int           n;

	for (;;) {
		n = poll(&pfd, 1, (int)mc->p.timeout_ms);
		if (n > 0)
			return 0;
		if (n == 0)
			return mc_fail(mc, err,
			    "timeout after %u ms %s the filter",
			    mc->p.timeout_ms,
			    events == POLLIN ? "waiting for" : "writing to");
		if (errno != EINTR)
			return mc_fail(mc, err, "poll: %s", strerror(errno));
	}
}

static int
mc_flush(struct milter_client *mc, struct am_err *err)
{
	size_t  off = 0;
	ssize_t n;

	while (off < mc->out.len) {
		n = send(mc->fd, mc->out.data + off, mc->out.len - off,
		    MSG_NOSIGNAL);
		if (n > 0) {
			off += (size_t)n;
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			if (mc_wait(mc, POLLOUT, err) < 0)
				return -1;
			continue;
		}
		return mc_fail(mc, err, "write to filter: %s",
		    n < 0 ? strerror(errno) : "nothing written");
	}
	buf_reset(&mc->out);
	return 0;
}

static int
mc_read_full(struct milter_client *mc, void *p, size_t n, struct am_err *err)
{
	char   *cp = p;
	size_t  k;
	ssize_t r;

	while (n > 0) {
		if (mc->rpos < mc->rlen) {
			k = mc->rlen - mc->rpos < n ? mc->rlen - mc->rpos : n;
			memcpy(cp, mc->rbuf + mc->rpos, k);
			mc->rpos += k;
			cp += k;
			n -= k;
			continue;
		}
		/* Replies are small and come in bursts at end of message:
		 * read what is there, one system call for several. */
		r = recv(mc->fd, mc->rbuf, sizeof(mc->rbuf), 0);
		if (r > 0) {
			mc->rpos = 0;
			mc->rlen = (size_t)r;
			continue;
		}
		if (r == 0)
			return mc_fail(mc, err, "filter closed the connection");
		if (errno == EINTR)
			continue;
		if (errno == EAGAIN || errno == EWOULDBLOCK) {
			if (mc_wait(mc, POLLIN, err) < 0)
				return -1;
			continue;
		}
		return mc_fail(
		    mc, err, "read from filter: %s", strerror(errno));
	}
	return 0;
}

static uint32_t
mc_get32(const unsigned char *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	       (uint32_t)p[2] << 8 | (uint32_t)p[3];
}

/* Reads one packet: its command into *cmd_r and its data into mc->in
 * (with a spare NUL after it). Writes pending packets first. */
static int
mc_read_packet(struct milter_client *mc, char *cmd_r, struct am_err *err)
{
	unsigned char hdr[5];
	char          chunk[16384];
	uint32_t      len;
	size_t        left, n;

	if (mc_flush(mc, err) < 0)
		return -1;
	if (mc_read_full(mc, hdr, 4, err) < 0)
		return -1;
	len = mc_get32(hdr);
	if (len < 1)
		return mc_fail(mc, err, "reply packet of length 0");
	if (len - 1 > mc->p.max_reply)
		return mc_fail(mc, err, "reply packet of %lu bytes is over %zu",
		    (unsigned long)len, mc->p.max_reply);
	if (mc_read_full(mc, hdr + 4, 1, err) < 0)
		return -1;
	*cmd_r = (char)hdr[4];
	buf_reset(&mc->in);
	if (mc->in.data == NULL && buf_append(&mc->in, "", 0) < 0)
		return mc_fail(mc, err, "out of memory");
	for (left = len - 1; left > 0; left -= n) {
		n = left < sizeof(chunk) ? left : sizeof(chunk);
		if (mc_read_full(mc, chunk, n, err) < 0)
			return -1;
		if (buf_append(&mc->in, chunk, n) < 0)
			return mc_fail(mc, err, "out of memory");
	}
	return 0;
}

/* Building a packet: pkt_* pieces into a buffer, then pkt_put(). A failed
 * append (the MC_MAX_CMD ceiling) is remembered and reported by pkt_put(). */
static void
pkt_bytes(struct milter_client *mc, struct buf *b, const void *p, size_t n)
{
	if (buf_append(b, p, n) < 0)
		mc->pkt_err = true;
}

static void
pkt_str(struct milter_client *mc, struct buf *b, const char *s)
{
	pkt_bytes(mc, b, s, strlen(s) + 1);
}

static void
pkt_u32(struct milter_client *mc, struct buf *b, uint32_t v)
{
	unsigned char w[4] = {(unsigned char)(v >> 24),
	    (unsigned char)(v >> 16), (unsigned char)(v >> 8),
	    (unsigned char)v};

	pkt_bytes(mc, b, w, 4);
}

/* Queues the packet; flushes when the buffer grows past MC_OUT_FLUSH. */
static int
pkt_put(
    struct milter_client *mc, const struct buf *b, char cmd, struct am_err *err)
{
	unsigned char hdr[5];
	uint32_t      len = (uint32_t)b->len + 1;

	if (mc->pkt_err) {
		mc->pkt_err = false;
		return am_err_set(err, "%s command over %d bytes",
		    mc_cmd_name(cmd), MC_MAX_CMD);
	}
	hdr[0] = (unsigned char)(len >> 24);
	hdr[1] = (unsigned char)(len >> 16);
	hdr[2] = (unsigned char)(len >> 8);
	hdr[3] = (unsigned char)len;
	hdr[4] = (unsigned char)cmd;
	if (buf_append(&mc->out, hdr, 5) < 0 ||
	    buf_append(&mc->out, b->len ? b->data : "", b->len) < 0)
		return mc_fail(mc, err, "out of memory");
	if (mc->out.len >= MC_OUT_FLUSH)
		return mc_flush(mc, err);
	return 0;
}

/* True when name appears in the space-separated list; "{x}" and "x" are
 * the same macro, as for smfi_getsymval(). */
static bool
mc_in_symlist(const char *list, const char *name)
{
	const char *p = list, *w;
	size_t      wn, nn = strlen(name);

	if (nn >= 2 && name[0] == '{' && name[nn - 1] == '}') {
		name++;
		nn -= 2;
	}
	while (*p != '\0') {
		while (*p == ' ' || *p == ',')
			p++;
		for (w = p; *p != '\0' && *p != ' ' && *p != ','; p++)
			;
		wn = (size_t)(p - w);
		if (wn >= 2 && w[0] == '{' && w[wn - 1] == '}') {
			w++;
			wn -= 2;
		}
		if (wn == nn && wn > 0 && memcmp(w, name, nn) == 0)
			return true;
	}
	return false;
}

/* Queues SMFIC_MACRO for the stage of event cmd, when it has any. */
static int
mc_put_macros(struct milter_client *mc, enum milter_client_stage st, char cmd,
    struct am_err *err)
{
	const struct mc_stage *s = &mc->stage[st];
	size_t                 i, n = 0;

	buf_reset(&mc->mac);
	pkt_bytes(mc, &mc->mac, &cmd, 1);
	for (i = 0; i < s->n; i++) {
		if (s->symlist != NULL &&
		    !mc_in_symlist(s->symlist, s->v[i].name))
			continue;
		pkt_str(mc, &mc->mac, s->v[i].name);
		pkt_str(mc, &mc->mac, s->v[i].value);
		n++;
	}
	if (n == 0)
		return 0;
	return pkt_put(mc, &mc->mac, SMFIC_MACRO, err);
}

int
milter_client_macro(struct milter_client *mc, enum milter_client_stage st,
    const char *name, const char *value)
{
	struct mc_stage *s;
	struct mc_macro *v;
	char            *dup;
	size_t           i, cap;

	if ((unsigned int)st >= MILTER_CLIENT_NSTAGES || name == NULL)
		return -1;
	s = &mc->stage[st];
	for (i = 0; i < s->n; i++)
		if (strcmp(s->v[i].name, name) == 0)
			break;
	if (value == NULL) {
		if (i == s->n)
			return 0;
		free(s->v[i].name);
		free(s->v[i].value);
		memmove(&s->v[i], &s->v[i + 1], (s->n - i - 1) * sizeof(*s->v));
		s->n--;
		return 0;
	}
	if ((dup = strdup(value)) == NULL)
		return -1;
	if (i < s->n) {
		free(s->v[i].value);
		s->v[i].value = dup;
		return 0;
	}
	if (s->n == s->cap) {
		cap = s->cap ? s->cap * 2 : 8;
		if ((v = realloc(s->v, cap * sizeof(*v))) == NULL) {
			free(dup);
			return -1;
		}
		s->v = v;
		s->cap = cap;
	}
	if ((s->v[s->n].name = strdup(name)) == NULL) {
		free(dup);
		return -1;
	}
	s->v[s->n++].value = dup;
	return 0;
}

/* Connects a non-blocking socket, waiting at most the timeout. */
static int
mc_connect_addr(struct milter_client *mc, int family, const struct sockaddr *sa,
    socklen_t salen, const char *spec, struct am_err *err)
{
	struct timeval tv = {.tv_sec = mc->p.timeout_ms / 1000,
	    .tv_usec = (mc->p.timeout_ms % 1000) * 1000};
	int            fd, soerr = 0, one = 1;
	socklen_t      len = sizeof(soerr);

	if ((fd = socket(family, SOCK_STREAM, 0)) < 0)
		return am_err_set(err, "socket: %s", strerror(errno));
	mc->fd = fd;
	if (fcntl(fd, F_SETFD, FD_CLOEXEC) < 0)
		goto syserr;
	if (family == AF_UNIX) {
		/* A non-blocking connect to a full unix backlog fails with
		 * EAGAIN instead of waiting: connect blocking, bounded by
		 * SO_SNDTIMEO. */
		if (setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)) <
		    0)
			goto syserr;
		if (connect(fd, sa, salen) < 0) {
			soerr = errno;
			mc_shut(mc);
			return am_err_set(err, "connect to %s: %s", spec,
			    soerr == EAGAIN ? "timeout" : strerror(soerr));
		}
		if (fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) < 0)
			goto syserr;
		return 0;
	}
	if (mc->p.nodelay &&
	    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)) < 0)
		goto syserr;
	if (fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) < 0)
		goto syserr;
	if (connect(fd, sa, salen) < 0) {
		if (errno != EINPROGRESS) {
			soerr = errno;
			mc_shut(mc);
			return am_err_set(
			    err, "connect to %s: %s", spec, strerror(soerr));
		}
		if (mc_wait(mc, POLLOUT, err) < 0)
			return -1;
		if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &len) < 0)
			soerr = errno;
		if (soerr != 0) {
			mc_shut(mc);
			return am_err_set(
			    err, "connect to %s: %s", spec, strerror(soerr));
		}
	}
	return 0;
syserr:
	soerr = errno;
	mc_shut(mc);
	return am_err_set(err, "socket setup: %s", strerror(soerr));
}

static int
mc_connect_spec(struct milter_client *mc, const char *spec, struct am_err *err)
{
	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	struct addrinfo    hints = {.ai_socktype = SOCK_STREAM}, *res, *ai;
	const char        *path = NULL, *at;
	char               port[16], host[256];
	size_t             n;
	int                rc;

	if (strncmp(spec, "local:", 6) == 0 || strncmp(spec, "unix:", 5) == 0)
		path = strchr(spec, ':') + 1;
	else if (spec[0] == '/')
		path = spec;
	if (path != NULL) {
		if (str_lcpy(sun.sun_path, path, sizeof(sun.sun_path)) >=
		    sizeof(sun.sun_path))
			return am_err_set(
			    err, "socket path too long: %s", path);
		return mc_connect_addr(mc, AF_UNIX, (struct sockaddr *)&sun,
		    sizeof(sun), spec, err);
	}
	if (strncmp(spec, "inet:", 5) == 0) {
		hints.ai_family = AF_INET;
		spec += 5;
	} else if (strncmp(spec, "inet6:", 6) == 0) {
		hints.ai_family = AF_INET6;
		spec += 6;
	} else {
		return am_err_set(err,
		    "bad socket \"%s\": want local:/path, "
		    "inet:PORT@HOST or inet6:PORT@HOST",
		    spec);
	}
	if ((at = strchr(spec, '@')) == NULL || at == spec ||
	    (size_t)(at - spec) >= sizeof(port))
		return am_err_set(
		    err, "bad socket \"%s\": want PORT@HOST", spec);
	memcpy(port, spec, (size_t)(at - spec));
	port[at - spec] = '\0';
	at++;
	n = strlen(at);
	if (n >= 2 && at[0] == '[' && at[n - 1] == ']') {
		at++;
		n -= 2;
	}
	if (n == 0 || n >= sizeof(host))
		return am_err_set(err, "bad host in socket \"%s\"", spec);
	memcpy(host, at, n);
	host[n] = '\0';
	if ((rc = getaddrinfo(host, port, &hints, &res)) != 0)
		return am_err_set(
		    err, "%s port %s: %s", host, port, gai_strerror(rc));
	rc = -1;
	for (ai = res; ai != NULL && rc < 0; ai = ai->ai_next)
		rc = mc_connect_addr(
		    mc, ai->ai_family, ai->ai_addr, ai->ai_addrlen, host, err);
	freeaddrinfo(res);
	return rc;
}

/* OPTNEG answer: version, actions, protocol, then SETSYMLIST pairs
 * (Postfix milter8_connect "Secondary negotiations"). */
static int
mc_negotiate(struct milter_client *mc, struct am_err *err)
{
	const unsigned char *p, *end, *nul;
	uint32_t             st;
	char                 cmd;
	char                *list;

	buf_reset(&mc->cmd);
	pkt_u32(mc, &mc->cmd, MILTER_CLIENT_VERSION);
	pkt_u32(mc, &mc->cmd, mc->p.actions);
	pkt_u32(mc, &mc->cmd, mc->p.protocol);
	if (pkt_put(mc, &mc->cmd, SMFIC_OPTNEG, err) < 0 ||
	    mc_read_packet(mc, &cmd, err) < 0)
		return -1;
	if (cmd != SMFIC_OPTNEG)
		return mc_fail(mc, err, "OPTNEG answered with '%c'", cmd);
	if (mc->in.len < MILTER_OPTLEN)
		return mc_fail(
		    mc, err, "OPTNEG answer of %zu bytes", mc->in.len);
	p = (const unsigned char *)mc->in.data;
	end = p + mc->in.len;
	mc->version = mc_get32(p);
	mc->actions = mc_get32(p + 4);
	mc->protocol = mc_get32(p + 8);
	if (mc->version < 2 || mc->version > MILTER_CLIENT_VERSION)
		return mc_fail(mc, err, "filter protocol version %lu",
		    (unsigned long)mc->version);
	if ((mc->actions & mc->p.actions) != mc->actions)
		return mc_fail(mc, err, "filter actions 0x%lx not within 0x%lx",
		    (unsigned long)mc->actions, (unsigned long)mc->p.actions);
	/* Steps we did not offer stay ours to send (Postfix only logs). */
	mc->protocol &= mc->p.protocol;
	for (p += MILTER_OPTLEN; p < end; p = nul + 1) {
		if (end - p < 5 ||
		    (nul = memchr(p + 4, '\0', (size_t)(end - p - 4))) == NULL)
			return mc_fail(mc, err, "malformed SETSYMLIST data");
		st = mc_get32(p);
		if (st >= MILTER_CLIENT_NSTAGES)
			continue; /* Postfix ignores unknown stages too. */
		if ((list = strdup((const char *)p + 4)) == NULL)
			return mc_fail(mc, err, "out of memory");
		free(mc->stage[st].symlist);
		mc->stage[st].symlist = list;
	}
	return 0;
}

int
milter_client_open(
    struct milter_client *mc, const char *spec, struct am_err *err)
{
	if (mc->fd >= 0)
		return am_err_set(err, "milter connection already open");
	mc->broken = false;
	mc->skip_body = false;
	if (mc_connect_spec(mc, spec, err) < 0)
		return -1;
	mc->broken = false; /* an earlier address may have timed out */
	return mc_negotiate(mc, err);
}

uint32_t
milter_client_version(const struct milter_client *mc)
{
	return mc->version;
}

uint32_t
milter_client_actions(const struct milter_client *mc)
{
	return mc->actions;
}

uint32_t
milter_client_protocol(const struct milter_client *mc)
{
	return mc->protocol;
}

const char *
milter_client_symlist(
    const struct milter_client *mc, enum milter_client_stage st)
{
	if ((unsigned int)st >= MILTER_CLIENT_NSTAGES)
		return NULL;
	return mc->stage[st].symlist;
}

/* Appends an end-of-message action; consecutive REPLBODY packets make one
 * body, as Postfix reads them. */
static int
mc_add_action(struct milter_client *mc, enum milter_client_action_type type,
    uint32_t index, const char *name, const char *value, size_t len,
    struct am_err *err)
{
	struct mc_action *a;
	char             *v;
	size_t            cap, nlen = name ? strlen(name) : 0;

	if (len > MILTER_CLIENT_MAX_EDITS - mc->actbytes ||
	    nlen > MILTER_CLIENT_MAX_EDITS - mc->actbytes - len)
		return mc_fail(
		    mc, err, "actions over %d bytes", MILTER_CLIENT_MAX_EDITS);
	mc->actbytes += len + nlen;
	if (type == MILTER_CLIENT_REPLBODY && mc->nact > 0 &&
	    mc->act[mc->nact - 1].pub.type == MILTER_CLIENT_REPLBODY) {
		a = &mc->act[mc->nact - 1];
		if ((v = realloc(a->value, a->pub.len + len + 1)) == NULL)
			return mc_fail(mc, err, "out of memory");
		memcpy(v + a->pub.len, value, len);
		a->pub.len += len;
		v[a->pub.len] = '\0';
		a->value = v;
		a->pub.value = v;
		return 0;
	}
	if (mc->nact >= MC_MAX_ACTIONS)
		return mc_fail(mc, err, "over %d actions", MC_MAX_ACTIONS);
	if (mc->nact == mc->capact) {
		cap = mc->capact ? mc->capact * 2 : 16;
		if ((a = realloc(mc->act, cap * sizeof(*a))) == NULL)
			return mc_fail(mc, err, "out of memory");
		mc->act = a;
		mc->capact = cap;
	}
	a = &mc->act[mc->nact];
	a->name = str_ndup(name ? name : "", nlen);
	a->value = str_ndup(value ? value : "", value ? len : 0);
	if (a->name == NULL || a->value == NULL) {
		free(a->name);
		free(a->value);
		return mc_fail(mc, err, "out of memory");
	}
	a->pub.type = type;
	a->pub.index = index;
	a->pub.name = a->name;
	a->pub.value = a->value;
	a->pub.len = value ? len : 0;
	mc->nact++;
	return 0;
}

/* Splits reply data into NUL-terminated strings: *nstr_r of them (at most
 * max), each pointing into mc->in. The data must end with a NUL. */
static bool
mc_strings(struct milter_client *mc, size_t off, const char **s, size_t max,
    size_t *nstr_r)
{
	const char *p = mc->in.data + off, *end = mc->in.data + mc->in.len;
	const char *nul;
	size_t      n = 0;

	if (off > mc->in.len)
		return false;
	while (p < end) {
		if (n == max ||
		    (nul = memchr(p, '\0', (size_t)(end - p))) == NULL)
			return false;
		s[n++] = p;
		p = nul + 1;
	}
	*nstr_r = n;
	return true;
}

/* One end-of-message modification request: checks that it was negotiated
 * and that its data has the documented shape, then keeps it. */
static int
mc_edit(struct milter_client *mc, char cmd, struct am_err *err)
{
	const char                    *s[3];
	size_t                         n = 0, off = 0;
	uint32_t                       need, index = 0;
	enum milter_client_action_type type;

	switch (cmd) {
	case SMFIR_ADDHEADER:
		type = MILTER_CLIENT_ADDHEADER;
		need = SMFIF_ADDHDRS;
		break;
	case SMFIR_INSHEADER:
		type = MILTER_CLIENT_INSHEADER;
		need = SMFIF_ADDHDRS;
		off = 4;
		break;
	case SMFIR_CHGHEADER:
		type = MILTER_CLIENT_CHGHEADER;
		need = SMFIF_CHGHDRS;
		off = 4;
		break;
	case SMFIR_ADDRCPT:
		type = MILTER_CLIENT_ADDRCPT;
		need = SMFIF_ADDRCPT;
		break;
	case SMFIR_ADDRCPT_PAR:
		type = MILTER_CLIENT_ADDRCPT_PAR;
		need = SMFIF_ADDRCPT_PAR;
		break;
	case SMFIR_DELRCPT:
		type = MILTER_CLIENT_DELRCPT;
		need = SMFIF_DELRCPT;
		break;
	case SMFIR_CHGFROM:
		type = MILTER_CLIENT_CHGFROM;
		need = SMFIF_CHGFROM;
		break;
	case SMFIR_REPLBODY:
		type = MILTER_CLIENT_REPLBODY;
		need = SMFIF_CHGBODY;
		break;
	case SMFIR_QUARANTINE:
		type = MILTER_CLIENT_QUARANTINE;
		need = SMFIF_QUARANTINE;
		break;
	default:
		return mc_fail(mc, err, "unknown reply '%c' to eom", cmd);
	}
	if ((mc->actions & need) == 0)
		return mc_fail(mc, err,
		    "reply '%c' without its action 0x%lx "
		    "negotiated",
		    cmd, (unsigned long)need);
	if (type == MILTER_CLIENT_REPLBODY)
		return mc_add_action(
		    mc, type, 0, NULL, mc->in.data, mc->in.len, err);
	if (off > 0) {
		if (mc->in.len < off)
			return mc_fail(mc, err, "short '%c' reply", cmd);
		index = mc_get32((const unsigned char *)mc->in.data);
	}
	if (!mc_strings(mc, off, s, 2, &n) || n == 0)
		return mc_fail(mc, err, "malformed '%c' reply", cmd);
	switch (type) {
	case MILTER_CLIENT_ADDHEADER:
	case MILTER_CLIENT_INSHEADER:
	case MILTER_CLIENT_CHGHEADER:
		if (n != 2 || s[0][0] == '\0')
			return mc_fail(mc, err, "malformed '%c' reply", cmd);
		break;
	case MILTER_CLIENT_ADDRCPT:
	case MILTER_CLIENT_DELRCPT:
	case MILTER_CLIENT_QUARANTINE:
		if (n != 1)
			return mc_fail(mc, err, "malformed '%c' reply", cmd);
		break;
	default: /* ADDRCPT_PAR, CHGFROM: the ESMTP arguments are optional */
		break;
	}
	return mc_add_action(mc, type, index, s[0], n > 1 ? s[1] : "",
	    n > 1 ? strlen(s[1]) : 0, err);
}

/* An SMTP reply from SMFIR_REPLYCODE: "4xx" or "5xx", then ' ' or '-', and
 * an enhanced status code of the same class (Postfix milter8_event). */
static bool
mc_replycode_ok(const char *s, size_t n)
{
	return n >= 5 && (s[0] == '4' || s[0] == '5') && str_isdigit(s[1]) &&
	       str_isdigit(s[2]) && (s[3] == ' ' || s[3] == '-') &&
	       s[4] == s[0];
}

/* Reads replies to event until a final one (Postfix milter8_event). */
static int
mc_reply(struct milter_client *mc, char event, struct milter_client_reply *r,
    struct am_err *err)
{
	char   cmd;
	size_t progress = 0;

	buf_reset(&mc->text);
	r->text = "";
	for (;;) {
		if (mc_read_packet(mc, &cmd, err) < 0)
			return -1;
		switch (cmd) {
		case SMFIR_PROGRESS:
			if (++progress > MC_MAX_PROGRESS)
				return mc_fail(mc, err,
				    "over %d progress replies",
				    MC_MAX_PROGRESS);
			break;
		case SMFIR_CONTINUE:
			r->verdict = MILTER_CLIENT_CONTINUE;
			break;
		case SMFIR_ACCEPT:
			r->verdict = MILTER_CLIENT_ACCEPT;
			break;
		case SMFIR_REJECT:
			r->verdict = MILTER_CLIENT_REJECT;
			break;
		case SMFIR_TEMPFAIL:
			r->verdict = MILTER_CLIENT_TEMPFAIL;
			break;
		case SMFIR_DISCARD:
			r->verdict = MILTER_CLIENT_DISCARD;
			break;
		case SMFIR_SHUTDOWN:
			r->verdict = MILTER_CLIENT_SHUTDOWN;
			break;
		case SMFIR_CONN_FAIL:
			r->verdict = MILTER_CLIENT_CONN_FAIL;
			break;
		case SMFIR_SKIP:
			/* libmilter allows SMFIS_SKIP in xxfi_body only. */
			if (event != SMFIC_BODY)
				return mc_fail(mc, err, "skip reply to %s",
				    mc_cmd_name(event));
			r->verdict = MILTER_CLIENT_SKIP;
			mc->skip_body = true;
			break;
		case SMFIR_REPLYCODE:
			if (mc->in.len == 0 ||
			    mc->in.data[mc->in.len - 1] != '\0' ||
			    !mc_replycode_ok(mc->in.data, mc->in.len - 1))
				return mc_fail(mc, err,
				    "malformed reply code to %s",
				    mc_cmd_name(event));
			if (buf_append(&mc->text, mc->in.data, mc->in.len - 1) <
			    0)
				return mc_fail(mc, err, "out of memory");
			r->verdict = MILTER_CLIENT_REPLYCODE;
			r->text = buf_cstr(&mc->text);
			return 0;
		default:
			if (event != SMFIC_BODYEOB)
				return mc_fail(mc, err,
				    "unexpected reply '%c' to %s", cmd,
				    mc_cmd_name(event));
			if (mc_edit(mc, cmd, err) < 0)
				return -1;
			continue;
		}
		if (mc->in.len != 0)
			return mc_fail(mc, err,
			    "reply '%c' with %zu data bytes", cmd, mc->in.len);
		if (cmd != SMFIR_PROGRESS)
			return 0;
	}
}

/* One event: macros (sent even when the event is not, as Postfix does for
 * the envelope stages), the command unless the filter declined it
 * (no_flag), and its reply unless the filter said it sends none. */
static int
mc_event(struct milter_client *mc, enum milter_client_stage stage,
    bool macros_always, char cmd, uint32_t no_flag, uint32_t nr_flag,
    struct milter_client_reply *r, struct am_err *err)
{
	bool skip = (mc->protocol & no_flag) != 0;

	r->text = "";
	if ((macros_always || !skip) && mc_put_macros(mc, stage, cmd, err) < 0)
		return -1;
	if (skip) {
		r->verdict = MILTER_CLIENT_NOTSENT;
		return 0;
	}
	if (pkt_put(mc, &mc->cmd, cmd, err) < 0)
		return -1;
	if ((mc->protocol & nr_flag) != 0) {
		r->verdict = MILTER_CLIENT_NOREPLY;
		return 0;
	}
	return mc_reply(mc, cmd, r, err);
}

int
milter_client_connect(struct milter_client *mc, const char *hostname,
    const char *addr, unsigned int port, struct milter_client_reply *r,
    struct am_err *err)
{
	unsigned char a6[16];
	unsigned char p[2] = {(unsigned char)(port >> 8), (unsigned char)port};
	char          family;

	if (mc_ready(mc, err) < 0)
		return -1;
	if (addr == NULL)
		family = SMFIA_UNKNOWN;
	else if (inet_pton(AF_INET, addr, a6) == 1)
		family = SMFIA_INET;
	else if (inet_pton(AF_INET6, addr, a6) == 1)
		family = SMFIA_INET6;
	else if (addr[0] == '/')
		family = SMFIA_UNIX;
	else
		return am_err_set(err, "bad client address \"%s\"", addr);
	if (port > 65535)
		return am_err_set(err, "bad client port %u", port);
	buf_reset(&mc->cmd);
	pkt_str(mc, &mc->cmd, hostname);
	pkt_bytes(mc, &mc->cmd, &family, 1);
	if (family != SMFIA_UNKNOWN) {
		if (family == SMFIA_UNIX)
			p[0] = p[1] = 0;
		pkt_bytes(mc, &mc->cmd, p, 2);
		pkt_str(mc, &mc->cmd, addr);
	}
	return mc_event(mc, MILTER_CLIENT_CONNECT, true, SMFIC_CONNECT,
	    SMFIP_NOCONNECT, SMFIP_NR_CONN, r, err);
}

int
milter_client_helo(struct milter_client *mc, const char *name,
    struct milter_client_reply *r, struct am_err *err)
{
	if (mc_ready(mc, err) < 0)
		return -1;
	buf_reset(&mc->cmd);
	pkt_str(mc, &mc->cmd, name);
	return mc_event(mc, MILTER_CLIENT_HELO, true, SMFIC_HELO, SMFIP_NOHELO,
	    SMFIP_NR_HELO, r, err);
}

static int
mc_envelope(struct milter_client *mc, enum milter_client_stage stage, char cmd,
    uint32_t no_flag, uint32_t nr_flag, const char *const *argv,
    struct milter_client_reply *r, struct am_err *err)
{
	size_t i;

	if (mc_ready(mc, err) < 0)
		return -1;
	if (argv == NULL || argv[0] == NULL)
		return am_err_set(
		    err, "%s without an address", mc_cmd_name(cmd));
	buf_reset(&mc->cmd);
	for (i = 0; argv[i] != NULL; i++)
		pkt_str(mc, &mc->cmd, argv[i]);
	return mc_event(mc, stage, true, cmd, no_flag, nr_flag, r, err);
}

int
milter_client_mail(struct milter_client *mc, const char *const *argv,
    struct milter_client_reply *r, struct am_err *err)
{
	mc_clear_actions(mc);
	mc->skip_body = false;
	return mc_envelope(mc, MILTER_CLIENT_MAIL, SMFIC_MAIL, SMFIP_NOMAIL,
	    SMFIP_NR_MAIL, argv, r, err);
}

int
milter_client_rcpt(struct milter_client *mc, const char *const *argv,
    struct milter_client_reply *r, struct am_err *err)
{
	return mc_envelope(mc, MILTER_CLIENT_RCPT, SMFIC_RCPT, SMFIP_NORCPT,
	    SMFIP_NR_RCPT, argv, r, err);
}

int
milter_client_data(
    struct milter_client *mc, struct milter_client_reply *r, struct am_err *err)
{
	if (mc_ready(mc, err) < 0)
		return -1;
	buf_reset(&mc->cmd);
	return mc_event(mc, MILTER_CLIENT_DATA, true, SMFIC_DATA, SMFIP_NODATA,
	    SMFIP_NR_DATA, r, err);
}

int
milter_client_header(struct milter_client *mc, const char *name,
    const char *value, struct milter_client_reply *r, struct am_err *err)
{
	if (mc_ready(mc, err) < 0)
		return -1;
	/* Sendmail eats one space (not a tab) after the colon; Postfix
	 * copies that unless the filter asked for SMFIP_HDR_LEADSPC. */
	if ((mc->protocol & SMFIP_HDR_LEADSPC) == 0 && value[0] == ' ')
		value++;
	buf_reset(&mc->cmd);
	pkt_str(mc, &mc->cmd, name);
	pkt_str(mc, &mc->cmd, value);
	return mc_event(mc, MILTER_CLIENT_EOH, false, SMFIC_HEADER,
	    SMFIP_NOHDRS, SMFIP_NR_HDR, r, err);
}

int
milter_client_eoh(
    struct milter_client *mc, struct milter_client_reply *r, struct am_err *err)
{
	if (mc_ready(mc, err) < 0)
		return -1;
	buf_reset(&mc->cmd);
	return mc_event(mc, MILTER_CLIENT_EOH, false, SMFIC_EOH, SMFIP_NOEOH,
	    SMFIP_NR_EOH, r, err);
}

int
milter_client_body(struct milter_client *mc, const void *p, size_t n,
    struct milter_client_reply *r, struct am_err *err)
{
	const char *cp = p;
	size_t      k;

	if (mc_ready(mc, err) < 0)
		return -1;
	r->verdict = MILTER_CLIENT_NOTSENT;
	r->text = "";
	while (n > 0 && !mc->skip_body) {
		k = n < mc->p.chunk ? n : mc->p.chunk;
		buf_reset(&mc->cmd);
		pkt_bytes(mc, &mc->cmd, cp, k);
		if (mc_event(mc, MILTER_CLIENT_EOM, false, SMFIC_BODY,
			SMFIP_NOBODY, SMFIP_NR_BODY, r, err) < 0)
			return -1;
		if (r->verdict != MILTER_CLIENT_CONTINUE &&
		    r->verdict != MILTER_CLIENT_NOREPLY)
			break;
		cp += k;
		n -= k;
	}
	return 0;
}

int
milter_client_eom(
    struct milter_client *mc, struct milter_client_reply *r, struct am_err *err)
{
	if (mc_ready(mc, err) < 0)
		return -1;
	mc_clear_actions(mc);
	mc->skip_body = false;
	buf_reset(&mc->cmd);
	return mc_event(
	    mc, MILTER_CLIENT_EOM, true, SMFIC_BODYEOB, 0, 0, r, err);
}

size_t
milter_client_nactions(const struct milter_client *mc)
{
	return mc->nact;
}

const struct milter_client_action *
milter_client_action(const struct milter_client *mc, size_t i)
{
	return i < mc->nact ? &mc->act[i].pub : NULL;
}

int
milter_client_abort(struct milter_client *mc, struct am_err *err)
{
	if (mc_ready(mc, err) < 0)
		return -1;
	mc_clear_actions(mc);
	mc->skip_body = false;
	buf_reset(&mc->cmd);
	if (pkt_put(mc, &mc->cmd, SMFIC_ABORT, err) < 0)
		return -1;
	return mc_flush(mc, err);
}

int
milter_client_quit(struct milter_client *mc, struct am_err *err)
{
	if (mc_ready(mc, err) < 0)
		return -1;
	buf_reset(&mc->cmd);
	if (pkt_put(mc, &mc->cmd, SMFIC_QUIT, err) < 0)
		return -1;
	return milter_client_close(mc, err);
}

int
milter_client_close(struct milter_client *mc, struct am_err *err)
{
	int rc;

	if (mc_ready(mc, err) < 0)
		return -1;
	rc = mc_flush(mc, err);
	mc_shut(mc);
	return rc;
}
