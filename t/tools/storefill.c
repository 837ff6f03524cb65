/*
 * storefill: adds rows to a report store through store_add(), as the
 * daemon's writer thread would, for the tests and the benchmark.
 *
 *	storefill STORE --domain D --when EPOCH [options]
 *
 *	STORE			a store spec ("sqlite:/PATH",
 *"postgresql://...")
 *	--domain D		the policy domain (also header_from, the DKIM d=
 *				and the SPF domain)
 *	--when EPOCH		the rows' evaluation time (UTC epoch seconds):
 *				the period is its UTC day
 *	--sources N		N distinct source IPs, one row each (1); source
 *				i is 198.18.0.0 + FIRST + i (RFC 2544 space,
 *				198.18.0.0/15), so FIRST + N <= 131072
 *	--first-source FIRST	the first source's offset (0), for adding
 *				other sources to a period in a later run
 *	--count C		each row counted C times (1); N * C at most
 *				INT64_MAX, the store's bound
 *	--rua URI		the published rua (mailto:dmarc@D)
 *	--p none|quarantine|reject  the published p (reject)
 *	--batch B		rows per store_add() call, one transaction each
 *				(1000)
 *	--repeat R		adds the N rows R times over (1): with C = 1,
 *				one row per message in batches of B, as the
 *				writer thread sees a busy day
 *
 * Every row is the same DMARC pass (DKIM aligned, s=s1; SPF pass for D;
 * envelope_to mx.test) but for its source IP. Prints one line,
 * "storefill: N rows, M messages, K batches" (N distinct rows, M = N * C *
 * R), and exits 0; 1 when the
 * store fails (the batches before stay added), 2 on a usage error.
 */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "report.h"
#include "store.h"

#define SOURCES_MAX (1u << 17) /* 198.18.0.0/15 */
#define BATCH_MAX   100000

static void usage(void) __attribute__((noreturn));

static void
usage(void)
{
	fputs("usage: storefill STORE --domain D --when EPOCH [--sources N] "
	      "[--first-source FIRST]\n"
	      "       [--count C] [--rua URI] [--p none|quarantine|reject] "
	      "[--batch B] [--repeat R]\n",
	    stderr);
	exit(2);
}

/* A whole decimal number in [min, max]; usage() otherwise. */
static uint64_t
number(const char *s, uint64_t min, uint64_t max)
{
	char              *end;
	unsigned long long v;

	if (s == NULL || *s < '0' || *s > '9')
		usage();
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno != 0 || *end != '\0' || v < min || v > max)
		usage();
	return (uint64_t)v;
}

/* Copies s into dst (size bytes); usage() when it does not fit. */
static void
copy(char *dst, size_t size, const char *s)
{
	size_t n = strlen(s);

	if (n >= size)
		usage();
	memcpy(dst, s, n + 1);
}

int
main(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"domain", required_argument, NULL, 'd'},
	    {"when", required_argument, NULL, 'w'},
	    {"sources", required_argument, NULL, 'n'},
	    {"first-source", required_argument, NULL, 'f'},
	    {"count", required_argument, NULL, 'c'},
	    {"rua", required_argument, NULL, 'r'},
	    {"p", required_argument, NULL, 'p'},
	    {"batch", required_argument, NULL, 'b'},
	    {"repeat", required_argument, NULL, 'R'},
	    {NULL, 0, NULL, 0},
	};
	const char        *spec, *domain = NULL, *rua = NULL;
	uint64_t           sources = 1, first = 0, count = 1, batch = 1000;
	uint64_t           repeat = 1, i, k, pass, nb = 0;
	int64_t            when = -1;
	int                policy = REPORT_POLICY_REJECT, c;
	struct report_row *rows = NULL;
	uint64_t          *counts = NULL;
	struct store      *st;
	struct am_err      err;
	int                rc = 0;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'd':
			domain = optarg;
			break;
		case 'w':
			when = (int64_t)number(optarg, 0, INT64_MAX);
			break;
		case 'n':
			sources = number(optarg, 1, SOURCES_MAX);
			break;
		case 'f':
			first = number(optarg, 0, SOURCES_MAX - 1);
			break;
		case 'c':
			count = number(optarg, 1, INT64_MAX);
			break;
		case 'r':
			rua = optarg;
			break;
		case 'p':
			policy = report_policy_parse(optarg);
			if (policy <= REPORT_POLICY_UNSPEC)
				usage();
			break;
		case 'b':
			batch = number(optarg, 1, BATCH_MAX);
			break;
		case 'R':
			repeat = number(optarg, 1, UINT32_MAX);
			break;
		default:
			usage();
		}
	}
	if (optind + 1 != argc || domain == NULL || *domain == '\0' ||
	    when < 0 || first + sources > SOURCES_MAX ||
	    count > (uint64_t)INT64_MAX / sources / repeat)
		usage();
	spec = argv[optind];
	if (batch > sources)
		batch = sources;
	if ((rows = calloc(batch, sizeof(*rows))) == NULL ||
	    (counts = calloc(batch, sizeof(*counts))) == NULL) {
		fputs("storefill: out of memory\n", stderr);
		free(rows);
		return 1;
	}
	for (k = 0; k < batch; k++) {
		struct report_row *r = &rows[k];

		r->when = when;
		copy(r->pol.domain, sizeof(r->pol.domain), domain);
		r->pol.p = (enum report_policy)policy;
		if (rua != NULL)
			copy(r->pol.rua, sizeof(r->pol.rua), rua);
		else if (snprintf(r->pol.rua, sizeof(r->pol.rua),
			     "mailto:dmarc@%s",
			     domain) >= (int)sizeof(r->pol.rua))
			usage();
		r->disposition = REPORT_DIS_PASS;
		r->dkim_aligned = true;
		copy(r->header_from, sizeof(r->header_from), domain);
		copy(r->envelope_from, sizeof(r->envelope_from), domain);
		copy(r->envelope_to, sizeof(r->envelope_to), "mx.test");
		r->ndkim = 1;
		copy(r->dkim[0].domain, sizeof(r->dkim[0].domain), domain);
		copy(r->dkim[0].selector, sizeof(r->dkim[0].selector), "s1");
		r->dkim[0].result = REPORT_AUTH_PASS;
		r->has_spf = true;
		copy(r->spf_domain, sizeof(r->spf_domain), domain);
		r->spf_result = REPORT_AUTH_PASS;
		counts[k] = count;
	}
	if ((st = store_open(spec, &err)) == NULL) {
		fprintf(stderr, "storefill: %s\n", err.msg);
		free(rows);
		free(counts);
		return 1;
	}
	for (pass = 0; pass < repeat && rc == 0; pass++) {
		for (i = 0; i < sources && rc == 0; i += k) {
			for (k = 0; k < batch && i + k < sources; k++) {
				uint64_t a = first + i + k;

				snprintf(rows[k].source_ip,
				    sizeof(rows[k].source_ip), "198.%u.%u.%u",
				    (unsigned)(18 + (a >> 16)),
				    (unsigned)((a >> 8) & 0xff),
				    (unsigned)(a & 0xff));
			}
			if (store_add(st, rows, counts, (size_t)k, &err) < 0) {
				fprintf(stderr, "storefill: %s\n", err.msg);
				rc = 1;
			} else
				nb++;
		}
	}
	store_close(st);
	free(rows);
	free(counts);
	if (rc == 0)
		printf("storefill: %" PRIu64 " rows, %" PRIu64
		       " messages, %" PRIu64 " batches\n",
		    sources, sources * count * repeat, nb);
	return rc;
}
