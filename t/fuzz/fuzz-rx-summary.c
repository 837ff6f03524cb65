/*
 * libFuzzer target for rx_summary: the input is a list of records, each
 * "flags count org NUL ip NUL" (flags: bit 0 DKIM-aligned, bit 1
 * SPF-aligned, bits 2-3 disposition, bits 4-7 day; count: one byte, 255
 * meaning 2^64 - 1), fed as rows of reports, then the summary is finished
 * and written three ways. Invariants: no crash, leak or read past the
 * input (ASan), and the escaping holds whatever the bytes: the JSON is
 * printable ASCII with no raw '<', '>' or '&', and an escaped string
 * carries no '<', '>', '"' or '\'' into the page. Our SPF answer and
 * PTR name are made from the IP's bytes, so that hostile PTR names reach
 * the writers too.
 */
#include "config.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "report.h"
#include "rx_summary.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static enum rx_spf
spf(void *arg, const char *ip)
{
	(void)arg;
	return (enum rx_spf)((unsigned char)ip[0] % 3);
}

static bool
ptr(void *arg, const char *ip, char *out, size_t size)
{
	(void)arg;
	if (ip[0] % 2 == 0)
		return false;
	snprintf(out, size, "%s<\"'&>", ip);
	return true;
}

static void
check_json(const struct buf *b)
{
	size_t i;

	for (i = 0; i < b->len; i++) {
		unsigned char c = (unsigned char)b->data[i];

		if ((c < 0x20 && c != '\n') || c >= 0x7f || c == '<' ||
		    c == '>' || c == '&')
			abort();
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct report_policy_pub pol;
	struct rx_summary_params p = {.domain = "example.com",
	    .since = 1767225600,
	    .now = 1767225600 + 15 * 86400,
	    .max_sources = 64,
	    .max_checked = 8,
	    .max_listed = 8,
	    .spf_auth = spf,
	    .ptr_name = ptr};
	struct rx_summary       *s = rx_summary_new(&p);
	const uint8_t           *q = data, *end = data + size;
	struct buf               b;
	size_t                   i;

	if (s == NULL)
		return 0;
	memset(&pol, 0, sizeof(pol));
	pol.p = REPORT_POLICY_QUARANTINE;
	while (end - q >= 2) {
		struct report_row r;
		struct rx_meta    m;
		char              org[RX_ORG_MAX + 1];
		unsigned          flags = q[0];
		uint64_t          count = q[1] == 255 ? UINT64_MAX : q[1];
		size_t            n;

		q += 2;
		memset(&r, 0, sizeof(r));
		for (n = 0; q + n < end && q[n] != 0 && n < RX_ORG_MAX; n++)
			org[n] = (char)q[n];
		org[n] = '\0';
		q += n + (q + n < end);
		for (n = 0; q + n < end && q[n] != 0 && n < REPORT_IP_MAX; n++)
			r.source_ip[n] = (char)q[n];
		q += n + (q + n < end);
		r.dkim_aligned = flags & 1;
		r.spf_aligned = flags & 2;
		r.disposition = (enum report_disposition)((flags >> 2) & 3);
		pol.testing = flags & 0x80;
		m.org = org;
		m.report_id = NULL;
		m.begin = p.since + (int64_t)((flags >> 4) & 15) * 86400;
		m.end = m.begin + 86399;
		m.pol = &pol;
		if (rx_summary_add(s, &m, &r, count, NULL) < 0)
			abort();
	}
	if (rx_summary_finish(s, NULL) < 0)
		abort();
	buf_init(&b, 0);
	if (rx_summary_json(s, &b) < 0)
		abort();
	check_json(&b);
	buf_reset(&b);
	if (rx_summary_text(s, &b) < 0 || rx_summary_html(s, &b) < 0)
		abort();
	/* The escapers alone, on the whole input. */
	buf_reset(&b);
	if (rx_json_str(&b, (const char *)data, size) < 0)
		abort();
	check_json(&b);
	buf_reset(&b);
	if (rx_html_str(&b, (const char *)data, size) < 0)
		abort();
	for (i = 0; i < b.len; i++)
		if (strchr("<>\"'", b.data[i]) != NULL && b.data[i] != '\0')
			abort();
	buf_free(&b);
	rx_summary_free(s);
	return 0;
}
