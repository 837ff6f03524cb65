/*
 * libFuzzer target for authmilter-report ingest's whole path without the
 * store: mail bytes -> MIME walk -> transfer decoding -> gzip, zip or XML
 * -> records. Invariants: every outcome is one of the three statuses with
 * a reason when not OK; an OK report has the fields store_rx_add() needs
 * (org, a printable report_id of 1..STORE_RX_ID_MAX bytes, a policy
 * domain, begin <= end, at least one record); the rows pass gives exactly
 * the records the check counted, with their counts; the document never
 * passes max_xml. Limits are smaller than the defaults so that a run
 * stays fast.
 */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "report_parse.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct sum {
	uint64_t n, messages;
};

static int
count(void *arg, const struct report_row *r, uint64_t c)
{
	struct sum *s = arg;

	if (r->ndkim > REPORT_MAX_DKIM ||
	    strnlen(r->source_ip, sizeof(r->source_ip)) >= sizeof(r->source_ip))
		abort();
	s->n++;
	s->messages += c;
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const struct report_parse_params params = {
	    .max_mail = 1 << 20, .max_xml = 4 << 20, .max_rows = 10000};
	struct report_parse rp;
	struct am_err       err;
	struct sum          s = {0, 0};
	size_t              i, n;
	int                 st;

	report_parse_init(&rp);
	st = report_parse_mail((const char *)data, size, &params, &rp, &err);
	if (st != REPORT_PARSE_OK && st != REPORT_PARSE_NONE &&
	    st != REPORT_PARSE_BAD && st != -1)
		abort();
	if (rp.xml.len > params.max_xml)
		abort();
	if ((st == REPORT_PARSE_NONE || st == REPORT_PARSE_BAD) &&
	    rp.reason[0] == '\0')
		abort();
	if (st == REPORT_PARSE_OK) {
		n = strnlen(rp.rep.report_id, sizeof(rp.rep.report_id));
		if (n == 0 || n > STORE_RX_ID_MAX || rp.rep.org[0] == '\0' ||
		    rp.rep.pol.domain[0] == '\0' || rp.rep.end < rp.rep.begin ||
		    rp.records == 0)
			abort();
		for (i = 0; i < n; i++)
			if ((unsigned char)rp.rep.report_id[i] < 0x20 ||
			    (unsigned char)rp.rep.report_id[i] >= 0x7f)
				abort();
		if (report_parse_rows(&rp, &params, count, &s, &err) != 0 ||
		    s.n != rp.records || s.messages != rp.messages)
			abort();
	}
	report_parse_free(&rp);
	return 0;
}
