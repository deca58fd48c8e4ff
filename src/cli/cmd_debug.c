/* `berth debug ...`: hidden verbs that expose internals to test scripts.
 *   berth debug expand [--words] [-e K=V]... WORD   shell-word expansion
 *   berth debug app-spec APP                         the app spec as JSON */
#include "app/app.h"
#include "cli/cli.h"
#include "dockerfile/dockerfile.h"

#include <getopt.h>
#include <stdio.h>
#include <string.h>

static int expand(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"words", no_argument, NULL, 'w'},
	    {"env", required_argument, NULL, 'e'},
	    {"escape", required_argument, NULL, 'x'},
	    {0},
	};
	bool words = false;
	char esc = '\\';
	_cleanup_strv_ struct berth_strv env = BERTH_STRV_INIT;
	int c;
	optind = 1;
	while ((c = getopt_long(argc, argv, "e:", opts, NULL)) != -1) {
		switch (c) {
		case 'w':
			words = true;
			break;
		case 'e':
			berth_strv_push(&env, optarg);
			break;
		case 'x':
			esc = optarg[0];
			break;
		default:
			return cli_usage("debug", "invalid option");
		}
	}
	if (optind + 1 != argc)
		return cli_usage("debug", "expand takes exactly one WORD");
	struct berth_shlex lx = {
	    .escape = esc, .lookup = berth_shlex_env_lookup, .lookup_ctx = &env};
	struct berth_err *err = NULL;
	if (words) {
		_cleanup_strv_ struct berth_strv out = BERTH_STRV_INIT;
		if (berth_shlex_words(&lx, argv[optind], &out, &err) < 0)
			return cli_fail(err, NULL);
		for (size_t i = 0; i < out.n; i++)
			printf("%s\n", out.v[i]);
		return CLI_OK;
	}
	_cleanup_free_ char *out = NULL;
	if (berth_shlex_word(&lx, argv[optind], &out, &err) < 0)
		return cli_fail(err, NULL);
	printf("%s\n", out);
	return CLI_OK;
}

/* APP as berth_app_load reads it, every default filled in. */
static int app_spec(int argc, char **argv)
{
	if (argc != 2)
		return cli_usage("debug", "app-spec takes exactly one APP");
	struct berth_err *err = NULL;
	struct berth_app_spec spec;
	if (berth_app_load(argv[1], NULL, &spec, &err) < 0)
		return cli_fail(err, NULL);
	json_t *j = berth_app_to_json(&spec);
	char *text = json_dumps(j, JSON_SORT_KEYS | JSON_INDENT(2));
	printf("%s\n", text);
	free(text);
	json_decref(j);
	berth_app_spec_release(&spec);
	return CLI_OK;
}

int cmd_debug(int argc, char **argv)
{
	if (argc >= 2 && !strcmp(argv[1], "expand"))
		return expand(argc - 1, argv + 1);
	if (argc >= 2 && !strcmp(argv[1], "app-spec"))
		return app_spec(argc - 1, argv + 1);
	return cli_usage("debug", "usage: berth debug expand [--words] [-e K=V]... WORD\n"
				  "       berth debug app-spec APP");
}
