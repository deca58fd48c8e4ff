/* Times berth's Dockerfile front end in-process for bench/parse: reads one file, then parses it
 * repeatedly with berth_df_parse() (the parser layer) and berth_df_load() (parser, instruction
 * model and expansion), and prints the median throughput of several rounds as key=value lines. */
#include "dockerfile/dockerfile.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <time.h>

#define BENCH_ROUNDS_DEFAULT 5
#define BENCH_ROUNDS_MAX     99
#define BENCH_ROUND_NS       1000000000.0 /* each timed round lasts about a second */
#define BENCH_CALIBRATE_NS   (BENCH_ROUND_NS / 10)

/* One timed operation: parse the bytes and free the result; returns the
 * number of top-level instructions, or exits on a parse error. */
typedef size_t (*bench_fn)(const char *data, size_t len);

static double now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static void die_err(const char *what, struct berth_err *err)
{
	fprintf(stderr, "parse_bench: %s: line %d: %s\n", what, err ? err->line : 0,
		err && err->msg ? err->msg : "unknown error");
	berth_err_free(err);
	exit(1);
}

static size_t run_parse(const char *data, size_t len)
{
	struct berth_df_ast ast;
	struct berth_err *err = NULL;
	if (berth_df_parse(data, len, &ast, &err) < 0)
		die_err("berth_df_parse", err);
	size_t n = ast.n;
	berth_df_ast_release(&ast);
	return n;
}

static size_t run_load(const char *data, size_t len)
{
	struct berth_df_file f;
	struct berth_err *err = NULL;
	if (berth_df_load(data, len, NULL, &f, &err) < 0)
		die_err("berth_df_load", err);
	size_t n = f.n; /* stages */
	berth_df_file_release(&f);
	return n;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

static long max_rss_kib(void)
{
	struct rusage ru;
	if (getrusage(RUSAGE_SELF, &ru) < 0)
		return -1;
	return ru.ru_maxrss;
}

/* Calibrate an iteration count that fills a round (doubling until a batch
 * takes a tenth of it, then scaling), time `rounds` rounds and print the
 * median, minimum and maximum MB/s (10^6 bytes per second) under `name`. */
static void bench(const char *name, bench_fn fn, const char *data, size_t len, int rounds)
{
	double mbs[BENCH_ROUNDS_MAX];
	size_t count = fn(data, len); /* warm-up */
	long iters = 1;
	for (;;) {
		double t0 = now_ns();
		for (long i = 0; i < iters; i++)
			fn(data, len);
		double el = now_ns() - t0;
		if (el >= BENCH_CALIBRATE_NS) {
			iters = (long)((double)iters * BENCH_ROUND_NS / el);
			if (iters < 1)
				iters = 1;
			break;
		}
		iters *= 2;
	}
	for (int r = 0; r < rounds; r++) {
		double t0 = now_ns();
		for (long i = 0; i < iters; i++)
			fn(data, len);
		double el = now_ns() - t0;
		mbs[r] = (double)len * (double)iters / (el / 1e9) / 1e6;
	}
	qsort(mbs, (size_t)rounds, sizeof(mbs[0]), cmp_double);
	printf("%s_count=%zu\n%s_iters=%ld\n", name, count, name, iters);
	printf("%s_mbs=%.1f\n%s_min_mbs=%.1f\n%s_max_mbs=%.1f\n", name, mbs[rounds / 2], name,
	       mbs[0], name, mbs[rounds - 1]);
	printf("%s_max_rss_kib=%ld\n", name, max_rss_kib());
	fflush(stdout);
}

int main(int argc, char **argv)
{
	if (argc < 2 || argc > 3) {
		fprintf(stderr, "usage: parse_bench FILE [ROUNDS]\n");
		return 2;
	}
	int rounds = BENCH_ROUNDS_DEFAULT;
	if (argc == 3) {
		char *end;
		errno = 0;
		long v = strtol(argv[2], &end, 10);
		if (errno || *end || v < 1 || v > BENCH_ROUNDS_MAX) {
			fprintf(stderr, "parse_bench: rounds must be 1..%d\n", BENCH_ROUNDS_MAX);
			return 2;
		}
		rounds = (int)v;
	}

	struct berth_buf file _cleanup_buf_;
	struct berth_err *err = NULL;
	berth_buf_init(&file, BERTH_DF_MAX_SIZE);
	if (berth_fs_read_file(argv[1], BERTH_DF_MAX_SIZE, &file, &err) < 0)
		die_err(argv[1], err);

	printf("bytes=%zu\nrounds=%d\nstart_max_rss_kib=%ld\n", file.len, rounds, max_rss_kib());
	/* The parser runs first so that parse_max_rss_kib is its own peak. */
	bench("parse", run_parse, file.data, file.len, rounds);
	bench("load", run_load, file.data, file.len, rounds);
	return 0;
}
