/*
 * libFuzzer target for the report writer's handling of hostile text: the
 * input, split at NUL bytes, fills the free-text metadata, the row's
 * strings and the mail's header values and text. Invariants: the XML is
 * always written and parses strictly (well-formed UTF-8, no forbidden
 * characters); no text node holds a control character; a mail is made
 * only from header values without CR or LF, and none of its lines is
 * longer than 998 characters.
 */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <libxml/parser.h>
#include <libxml/tree.h>

#include "report_xml.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define NFIELDS 10

static void
check_text(xmlNodePtr n)
{
	const unsigned char *s;

	for (; n != NULL; n = n->next) {
		if (n->type == XML_TEXT_NODE && n->content != NULL)
			for (s = n->content; *s != '\0'; s++)
				if ((*s < 0x20 && *s != '\n') || *s == 0x7f)
					abort(); /* only indentation LFs */
		check_text(n->children);         /* depth is the schema's, 5 */
	}
}

static void
copy(char *dst, size_t size, const char *src)
{
	size_t n = strlen(src);

	if (n >= size)
		n = size - 1;
	memcpy(dst, src, n);
	dst[n] = '\0';
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char                    *in, *f[NFIELDS];
	struct report_meta       m = {.org_name = "org",
		  .email = "a@b.example",
		  .report_id = "id1",
		  .begin = 0,
		  .end = 86399};
	struct report_policy_pub pol;
	struct report_row        r;
	struct report_mail_in    mi;
	struct report_xml       *x;
	struct buf               xml, mail;
	struct am_err            err;
	xmlDocPtr                doc;
	size_t                   i, k, line;

	if (size > 65536 || (in = malloc(size + 1)) == NULL)
		return 0;
	memcpy(in, data, size);
	in[size] = '\0';
	for (i = 0, k = 0; i < NFIELDS; i++) {
		f[i] = in + k;
		k += strlen(in + k);
		if (k < size)
			k++;
	}
	if (f[0][0] != '\0')
		m.org_name = f[0];
	m.error = f[1];
	m.extra_contact_info = f[2];
	memset(&pol, 0, sizeof(pol));
	strcpy(pol.domain, "example.com");
	copy(pol.fo, sizeof(pol.fo), f[3]);
	memset(&r, 0, sizeof(r));
	copy(r.header_from, sizeof(r.header_from), f[4]);
	copy(r.source_ip, sizeof(r.source_ip), f[5]);
	r.ndkim = 1;
	copy(r.dkim[0].selector, sizeof(r.dkim[0].selector), f[6]);
	copy(r.dkim[0].domain, sizeof(r.dkim[0].domain), f[4]);
	r.has_spf = true;
	copy(r.spf_domain, sizeof(r.spf_domain), f[5]);

	buf_init(&xml, 0);
	if ((x = report_xml_begin(&m, &pol, &err)) == NULL ||
	    report_xml_add(x, &r, 1, &err) < 0 ||
	    report_xml_end(x, &xml, &err) < 0)
		abort();
	doc = xmlReadMemory(xml.data, (int)xml.len, "r.xml", NULL,
	    XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
	if (doc == NULL)
		abort();
	check_text(xmlDocGetRootElement(doc));
	xmlFreeDoc(doc);

	memset(&mi, 0, sizeof(mi));
	mi.from = f[7][0] ? f[7] : "a@b.example";
	mi.to = f[8][0] ? f[8] : "c@d.example";
	mi.subject = "Report Domain: example.com Submitter: b.example";
	mi.file_name = "b.example!example.com!0!86399!id1.xml.gz";
	mi.message_id_domain = "b.example";
	mi.text = f[9];
	mi.gz = &xml;
	buf_init(&mail, 0);
	if (report_mail(&mi, &mail, &err) == 0) {
		if (strpbrk(mi.from, "\r\n") != NULL ||
		    strpbrk(mi.to, "\r\n") != NULL || strchr(mi.text, '\r'))
			abort();
		for (i = 0, line = 0; i < mail.len; i++) {
			line = mail.data[i] == '\n' ? 0 : line + 1;
			if (line > 998 || mail.data[i] == '\r')
				abort();
		}
	} else if (mail.len != 0) {
		abort();
	}
	buf_free(&mail);
	buf_free(&xml);
	free(in);
	return 0;
}
