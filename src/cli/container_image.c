/* The image half of running a container: find the image in the store
 * (pulling it when it is not there, as `docker run` does), make sure its
 * layers are unpacked, and hand the runtime the layer dirs and config. */
#include "app/app.h"
#include "cli/cli.h"
#include "registry/registry.h"
#include "runtime/runtime.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void cli_recover_runners(void)
{
	struct berth_err *err = NULL;
	int n = 0;
	if (berth_runners_recover(cli_home(), &n, &err) < 0)
		cli_fail(err, NULL);
	else if (n)
		fprintf(stderr, "berth: cleaned up %d container%s left by a berth that died\n", n,
			n == 1 ? "" : "s");
}

bool cli_pull_allowed(void)
{
	const char *p = getenv("BERTH_PULL");
	return !p || strcmp(p, "never") != 0;
}

int cli_pull(struct berth_store *s, const char *ref, const json_t *registries, bool quiet,
	     char digest[BERTH_DIGEST_LEN + 1], struct berth_err **err)
{
	_cleanup_strv_ struct berth_strv insecure = BERTH_STRV_INIT;
	struct berth_transfer_opts t;
	cli_transfer_init(&t, &insecure);
	struct berth_cred_source creds = *t.creds;
	creds.registries = registries;
	t.creds = &creds;
	if (quiet)
		t.status = NULL, t.progress = NULL;
	struct berth_image_entry e;
	int r = berth_pull(s, ref, &t, &e, err);
	cli_transfer_done();
	if (r < 0)
		return r;
	memcpy(digest, e.digest, BERTH_DIGEST_LEN + 1);
	berth_image_entry_release(&e);
	return 0;
}

int cli_container_image(const char *refstr, struct berth_container_opts *o, bool quiet)
{
	_cleanup_free_ char *name = cli_canonical(refstr);
	if (!name)
		return CLI_FAIL;
	struct berth_store *s;
	if (cli_open_store(&s) != CLI_OK)
		return CLI_FAIL;
	struct berth_err *err = NULL;
	int r = berth_app_container_image(s, name, o, &err);
	if (r == -BERTH_E_NOT_FOUND && !cli_pull_allowed()) {
		berth_err_prefix(&err, "'%s' is not in the store (BERTH_PULL=never)", refstr);
	} else if (r == -BERTH_E_NOT_FOUND) {
		berth_err_free(err);
		err = NULL;
		char digest[BERTH_DIGEST_LEN + 1];
		r = cli_pull(s, refstr, NULL, quiet, digest, &err);
		if (r < 0)
			berth_err_prefix(&err, "'%s' is not in the store and pulling it failed",
					 refstr);
		else
			r = berth_app_container_image(s, name, o, &err);
	}
	berth_store_close(s);
	return r < 0 ? cli_fail(err, NULL) : CLI_OK;
}
