/* `berth run`'s check of a built image: what lint cannot see in the
 * Dockerfile (python3 reachable inside the image, the CUDA environment,
 * caches the layers keep) printed before the runner starts. It runs on every
 * run, so it only reads: the unpacked layers and the config. */
#include "cli/validate_image.h"

#include "app/app.h"
#include "cli/cli.h"
#include "image/image.h"
#include "lint/lint.h"

#include <stdio.h>
#include <time.h>

int cli_validate_app_image(const struct berth_app_spec *spec, const char *ref)
{
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	struct berth_err *err = NULL;
	struct berth_store *s = NULL;
	struct berth_image_entry e = {0};
	struct berth_lint_image_result res = {0};
	struct berth_lint_image_opts o = {
	    .sdk_app = spec->kind == BERTH_APP_SDK,
	    .gpus = spec->gpus,
	};
	if (berth_store_open(cli_home(), &s, &err) < 0 ||
	    berth_store_lookup(s, ref, &e, &err) < 0 ||
	    berth_lint_image(s, e.digest, &o, &res, &err) < 0) {
		fprintf(stderr, "berth: note: the image was not checked: %s\n",
			err ? err->msg : "unknown error");
		berth_err_free(err);
		berth_image_entry_release(&e);
		berth_store_close(s);
		return CLI_OK;
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	double ms = (double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e6;
	_cleanup_buf_ struct berth_buf out;
	berth_buf_init(&out, BERTH_BUF_UNLIMITED);
	berth_lint_image_format_text(&res, "berth:", &out);
	fwrite(out.data, 1, out.len, stderr);
	for (size_t i = 0; i < res.notes.n; i++)
		fprintf(stderr, "berth: note: %s\n", res.notes.v[i]);
	bool stop = berth_lint_image_failed(&res, false) && spec->kind == BERTH_APP_SDK;
	if (res.n)
		fprintf(stderr, "berth: image checked in %.1f ms: %zu finding%s%s\n", ms, res.n,
			res.n == 1 ? "" : "s",
			stop ? "; not starting the app, which would fail (see the fix above)" : "");
	berth_lint_image_result_release(&res);
	berth_image_entry_release(&e);
	berth_store_close(s);
	return stop ? CLI_FAIL : CLI_OK;
}
