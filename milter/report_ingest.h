/*
 * report_ingest: authmilter-report ingest, the aggregate reports other
 * receivers send about our domains, into the store (store_rx_*).
 *
 *   authmilter-report [-c CONF] ingest [--now EPOCH] [PATH]
 *
 * Without PATH one mail is read on standard input (a pipe alias); PATH is
 * a maildir (its new/ and cur/, in name order) or an mbox file, for a
 * backlog. Each mail is one of: a new report (stored), a duplicate (same
 * org and report_id: logged), no report (logged) or a malformed report
 * (kept in reports.quarantine with its reason, logged). Lines go to
 * syslog (LOG_MAIL, ident authmilter-report) and stderr.
 *
 * Exit status: 0 for every mail handled, whatever its content, so that a
 * pipe alias never bounces a report; EX_TEMPFAIL (75) when the
 * configuration, the store or the quarantine directory fails, so that the
 * MTA keeps the mail and tries again; 1 when PATH cannot be read.
 */
#ifndef AM_REPORT_INGEST_H
#define AM_REPORT_INGEST_H

#include <stdint.h>

#define INGEST_EX_TEMPFAIL 75 /* sysexits.h EX_TEMPFAIL */

/* Runs the command; returns the exit status. path NULL: standard input. */
int report_ingest(const char *conf_file, const char *path, int64_t now);

#endif /* AM_REPORT_INGEST_H */
