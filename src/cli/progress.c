/* Transfer progress on stderr: on a terminal one line per blob, redrawn in
 * place with bytes and rate; otherwise only the step lines. */
#include "cli/cli.h"
#include "registry/registry.h"

#include <stdio.h>
#include <time.h>
#include <unistd.h>

static struct {
	bool tty;
	size_t drawn; /* lines drawn last time */
	double start;
	struct berth_cred_source creds;
} P;

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void on_status(void *ctx, const char *line)
{
	P.drawn = 0;
	fprintf(stderr, "%s\n", line);
}

static void on_progress(void *ctx, const struct berth_blob_job *jobs, size_t n)
{
	if (!P.tty)
		return;
	if (P.drawn)
		fprintf(stderr, "\033[%zuA", P.drawn);
	double secs = now() - P.start;
	for (size_t i = 0; i < n; i++) {
		double mb = (double)jobs[i].received / 1e6;
		fprintf(stderr, "\033[2K  %.19s  %8.1f", jobs[i].digest, mb);
		if (jobs[i].size > 0)
			fprintf(stderr, " / %.1f MB", (double)jobs[i].size / 1e6);
		else
			fputs(" MB", stderr);
		if (secs > 0.05)
			fprintf(stderr, "  %6.1f MB/s", mb / secs);
		fputc('\n', stderr);
	}
	P.drawn = n;
}

void cli_transfer_init(struct berth_transfer_opts *o, struct berth_strv *insecure)
{
	P.tty = isatty(2);
	P.start = now();
	P.drawn = 0;
	P.creds = (struct berth_cred_source){.home = cli_home()};
	cli_insecure_registries(insecure);
	*o = (struct berth_transfer_opts){
	    .creds = &P.creds, .insecure = insecure, .progress = on_progress, .status = on_status};
}

void cli_transfer_done(void)
{
	P.drawn = 0;
}
