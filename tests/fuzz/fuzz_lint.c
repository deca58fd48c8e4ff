/* Fuzz target: the linter's readers of untrusted text. The first byte picks
 * one: the shell splitter (a RUN's script), the .berth-lint config and a
 * `# check=` directive, or a whole Dockerfile through every rule and both
 * report formats. Must never crash, leak or loop; findings must name a rule
 * and a line inside the file. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lint/lint_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int count_lines(const char *p, size_t n)
{
	int lines = 1;
	for (size_t i = 0; i < n; i++)
		lines += p[i] == '\n';
	return lines;
}

static void shell(const char *text, size_t len, uint8_t flags)
{
	char *s = berth_xstrndup(text, len);
	struct berth__sh_script sc;
	bool count = flags & 1;
	berth__sh_script_parse(s, 7, count, &sc);
	int last = 7 + (count ? count_lines(s, strlen(s)) : 1);
	for (size_t i = 0; i < sc.n; i++) {
		if (sc.cmds[i].line < 7 || sc.cmds[i].line > last)
			abort(); /* a command on a line the script does not have */
		for (size_t k = 0; k < sc.cmds[i].argv.n; k++)
			if (!sc.cmds[i].argv.v[k])
				abort();
	}
	berth__sh_script_release(&sc);
	free(s);
}

static void config(const char *text, size_t len)
{
	struct berth_lint_config c;
	berth_lint_config_init(&c);
	struct berth_err *err = NULL;
	if (berth_lint_config_parse(text, len, &c, &err) < 0) {
		if (!err || !err->msg)
			abort();
		berth_err_free(err);
		err = NULL;
	}
	const char *nl = memchr(text, '\n', len);
	char *first = berth_xstrndup(text, nl ? (size_t)(nl - text) : len);
	if (berth_lint_check_directive(first, &c, &err) < 0) {
		if (!err || !err->msg)
			abort();
		berth_err_free(err);
	}
	free(first);
	berth_lint_config_release(&c);
}

static void dockerfile(const char *text, size_t len, uint8_t flags)
{
	struct berth_lint_config cfg;
	berth_lint_config_init(&cfg);
	if (flags & 4)
		berth_strv_push(&cfg.experimental, "all");
	cfg.error_all = flags & 8;
	struct berth_strv args = BERTH_STRV_INIT;
	berth_strv_push(&args, "VERSION=1");
	struct berth_lint_opts o = {
	    .sdk_app = flags & 1,
	    .gpu_app = flags & 2,
	    .config = &cfg,
	    .build_args = (flags & 16) ? &args : NULL,
	};
	struct berth_lint_result r;
	struct berth_err *err = NULL;
	if (berth_lint_dockerfile(text, len, &o, &r, &err) == 0) {
		int lines = count_lines(text, len);
		for (size_t i = 0; i < r.n; i++) {
			const struct berth_lint_finding *f = &r.findings[i];
			if (!f->rule || !f->message || f->line < 0 || f->line > lines + 1)
				abort();
		}
		struct berth_buf out;
		berth_buf_init(&out, BERTH_BUF_UNLIMITED);
		berth_lint_format_text(&r, "Dockerfile", &out);
		berth_lint_format_summary(&r, &out);
		berth_buf_release(&out);
		json_decref(berth_lint_to_json(&r, "Dockerfile"));
		berth_lint_result_release(&r);
	} else {
		if (!err || !err->msg)
			abort();
		berth_err_free(err);
	}
	berth_strv_release(&args);
	berth_lint_config_release(&cfg);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1 || size > 65536)
		return 0;
	const char *p = (const char *)data + 1;
	size_t n = size - 1;
	switch (data[0] % 3) {
	case 0:
		shell(p, n, data[0] / 3);
		break;
	case 1:
		config(p, n);
		break;
	default:
		dockerfile(p, n, data[0] / 3);
	}
	return 0;
}
