/* Conformance suite over BuildKit's parser test data: every positive case's
 * dump must equal its `result` byte for byte, every negative case must fail,
 * and the line-number case must report BuildKit's spans. */
#include <dirent.h>
#include <stdlib.h>

#include "dockerfile/dockerfile.h"
#include "conformance/conformance.h"
#include "tap.h"

static int read_file(const char *path, struct berth_buf *out)
{
	struct berth_err *err = NULL;
	int r = berth_fs_read_file(path, BERTH_DF_MAX_SIZE, out, &err);
	if (r < 0) {
		printf("# %s\n", err->msg);
		berth_err_free(err);
	}
	return r;
}

static int cmp_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Sorted case directory names under dir. */
static void list_cases(const char *dir, struct berth_strv *names)
{
	DIR *d = opendir(dir);
	if (!d)
		return;
	struct dirent *e;
	while ((e = readdir(d)))
		if (e->d_name[0] != '.')
			berth_strv_push(names, e->d_name);
	closedir(d);
	if (names->n)
		qsort(names->v, names->n, sizeof(char *), cmp_names);
}

static void positive(const char *base)
{
	_cleanup_strv_ struct berth_strv names = BERTH_STRV_INIT;
	_cleanup_free_ char *dir = berth_xasprintf("%s/testfiles", base);
	list_cases(dir, &names);
	if (names.n != 33) /* a test point only when the data is incomplete */
		tap_ok(false, "buildkit-parser: 33 positive cases found (%zu)", names.n);
	for (size_t i = 0; i < names.n; i++) {
		_cleanup_free_ char *df = berth_xasprintf("%s/%s/Dockerfile", dir, names.v[i]);
		_cleanup_free_ char *res = berth_xasprintf("%s/%s/result", dir, names.v[i]);
		_cleanup_buf_ struct berth_buf in, want, got;
		berth_buf_init(&in, BERTH_DF_MAX_SIZE);
		berth_buf_init(&want, BERTH_DF_MAX_SIZE);
		berth_buf_init(&got, BERTH_BUF_UNLIMITED);
		if (read_file(df, &in) < 0 || read_file(res, &want) < 0) {
			tap_ok(false, "buildkit-parser/%s (unreadable)", names.v[i]);
			continue;
		}
		struct berth_df_ast ast;
		struct berth_err *err = NULL;
		if (berth_df_parse(in.data, in.len, &ast, &err) < 0) {
			tap_ok(false, "buildkit-parser/%s", names.v[i]);
			printf("#   line %d: %s\n", err->line, err->msg);
			berth_err_free(err);
			continue;
		}
		berth_df_dump(&ast, &got);
		berth_buf_addch(&got, '\n');
		bool eq = got.len == want.len && memcmp(got.data, want.data, got.len) == 0;
		if (!tap_ok(eq, "buildkit-parser/%s", names.v[i])) {
			tap_diag("got ", got.data);
			tap_diag("want", want.data);
		}
		berth_df_ast_release(&ast);
	}
}

static void negative(const char *base)
{
	_cleanup_strv_ struct berth_strv names = BERTH_STRV_INIT;
	_cleanup_free_ char *dir = berth_xasprintf("%s/testfiles-negative", base);
	list_cases(dir, &names);
	if (names.n != 4)
		tap_ok(false, "buildkit-parser: 4 negative cases found (%zu)", names.n);
	for (size_t i = 0; i < names.n; i++) {
		_cleanup_free_ char *df = berth_xasprintf("%s/%s/Dockerfile", dir, names.v[i]);
		_cleanup_buf_ struct berth_buf in;
		berth_buf_init(&in, BERTH_DF_MAX_SIZE);
		if (read_file(df, &in) < 0) {
			tap_ok(false, "buildkit-parser/negative/%s (unreadable)", names.v[i]);
			continue;
		}
		struct berth_df_ast ast;
		struct berth_err *err = NULL;
		int r = berth_df_parse(in.data, in.len, &ast, &err);
		tap_ok(r < 0, "buildkit-parser/negative/%s fails: %s", names.v[i],
		       err ? err->msg : "(parsed)");
		if (r == 0)
			berth_df_ast_release(&ast);
		berth_err_free(err);
	}
}

static void line_numbers(const char *base)
{
	_cleanup_free_ char *df = berth_xasprintf("%s/testfile-line/Dockerfile", base);
	_cleanup_buf_ struct berth_buf in;
	berth_buf_init(&in, BERTH_DF_MAX_SIZE);
	struct berth_df_ast ast;
	struct berth_err *err = NULL;
	if (read_file(df, &in) < 0 || berth_df_parse(in.data, in.len, &ast, &err) < 0) {
		tap_ok(false, "buildkit-parser/testfile-line parses");
		berth_err_free(err);
		return;
	}
	static const int want[3][2] = {{5, 5}, {11, 12}, {17, 31}};
	bool ok = ast.start_line == 5 && ast.end_line == 31 && ast.n == 3;
	for (size_t i = 0; ok && i < 3; i++)
		ok = ast.nodes[i].start_line == want[i][0] && ast.nodes[i].end_line == want[i][1];
	if (!tap_ok(ok, "buildkit-parser/testfile-line spans")) {
		printf("#   root %d..%d, %zu children:", ast.start_line, ast.end_line, ast.n);
		for (size_t i = 0; i < ast.n; i++)
			printf(" (%d,%d)", ast.nodes[i].start_line, ast.nodes[i].end_line);
		putchar('\n');
	}
	berth_df_ast_release(&ast);
}

int conf_buildkit_parser(const char *dir)
{
	_cleanup_free_ char *base = berth_xasprintf("%s/buildkit-parser", dir);
	positive(base);
	negative(base);
	line_numbers(base);
	return tap_done();
}
