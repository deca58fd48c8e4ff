/* What every store-using verb needs: where the state directory is, opening
 * the store, the configured insecure registries, and reference names. */
#include "cli/cli.h"
#include "image/image.h"
#include "registry/registry.h"

#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

const char *cli_home(void)
{
	static char *home;
	if (home)
		return home;
	const char *env = getenv("BERTH_HOME");
	if (env && *env) {
		home = berth_xstrdup(env);
	} else if (geteuid() == 0) {
		home = berth_xstrdup("/var/lib/berth");
	} else {
		const char *h = getenv("HOME");
		struct passwd *pw = h ? NULL : getpwuid(geteuid());
		home = berth_xasprintf("%s/.local/share/berth", h ? h : pw ? pw->pw_dir : "/tmp");
	}
	return home;
}

int cli_open_store(struct berth_store **out)
{
	struct berth_err *err = NULL;
	if (berth_store_open(cli_home(), out, &err) < 0)
		return cli_fail(err, NULL);
	return CLI_OK;
}

void cli_insecure_registries(struct berth_strv *out)
{
	_cleanup_free_ char *path = berth_xasprintf("%s/config.json", cli_home());
	if (access(path, F_OK) < 0)
		return;
	_cleanup_buf_ struct berth_buf b;
	berth_buf_init(&b, BERTH_JSON_MAX);
	struct berth_err *err = NULL;
	_cleanup_json_ json_t *j = NULL;
	if (berth_fs_read_file(path, BERTH_JSON_MAX, &b, &err) == 0)
		j = berth_json_loadb(b.data, b.len, path, &err);
	if (!j) {
		fprintf(stderr, "berth: warning: %s\n", err->msg);
		berth_err_free(err);
		return;
	}
	size_t i;
	json_t *h;
	json_array_foreach(json_object_get(j, "insecure_registries"), i, h) if (json_is_string(h))
	    berth_strv_push(out, json_string_value(h));
}

char *cli_canonical(const char *refstr)
{
	struct berth_ref ref;
	struct berth_err *err = NULL;
	if (berth_ref_parse(refstr, &ref, &err) < 0) {
		cli_fail(err, NULL);
		return NULL;
	}
	char *s = berth_ref_string(&ref);
	berth_ref_release(&ref);
	return s;
}
