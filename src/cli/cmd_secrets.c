/* `berth secrets set|list|unset`: named values kept encrypted in the state
 * directory, for `$NAME` references in app configuration. Values go in and
 * are never printed. */
#include "cli/cli.h"
#include "secrets/secrets.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static const char usage[] =
    "usage: berth secrets set NAME=VALUE...\n"
    "       berth secrets list [--json]\n"
    "       berth secrets unset NAME...\n"
    "\n"
    "Secrets are kept encrypted in $BERTH_HOME/berth.db with the key\n"
    "$BERTH_HOME/secrets.key (mode 0600; back it up: without it they are lost).\n"
    "App settings refer to them as $NAME or ${NAME}.\n"
    "\n"
    "set stores every pair or, on any error, none. NAME: letters, digits and '_',\n"
    "not starting with a digit. NAME=- reads the value from standard input, as is\n"
    "(a trailing newline included): prefer it to keep values out of the shell's\n"
    "history and the process list, e.g.  printf %s \"$TOKEN\" | berth secrets set TOKEN=-\n"
    "Values are at most 64 KiB.\n"
    "\n"
    "list prints names and dates, never values (--json: name, created and updated\n"
    "in seconds since the epoch). unset removes the names given.\n";

/* Parse the options of a subcommand that has only --help (and --json when
 * json is not NULL). Returns -1 to go on, else the exit status. */
static int sub_options(int argc, char **argv, bool *json)
{
	static const struct option opts[] = {
	    {"json", no_argument, NULL, 'j'},
	    {"help", no_argument, NULL, 'h'},
	    {0},
	};
	int c;
	optind = 1;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		if (c == 'h') {
			fputs(usage, stdout);
			return CLI_OK;
		}
		if (c != 'j' || !json)
			return cli_usage("secrets", "%s: invalid option", argv[0]);
		*json = true;
	}
	return -1;
}

/* Standard input, at most BERTH_SECRET_VALUE_MAX bytes, into one buffer that
 * berth_secret_free() wipes (realloc would leave copies behind). */
static int read_stdin(char **out, size_t *len, struct berth_err **err)
{
	char *buf = berth_xmalloc(BERTH_SECRET_VALUE_MAX + 1);
	size_t n = 0;
	for (;;) {
		ssize_t r = read(STDIN_FILENO, buf + n, BERTH_SECRET_VALUE_MAX + 1 - n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			int e = errno;
			berth_secret_free(buf, BERTH_SECRET_VALUE_MAX);
			return berth_err_sys(err, e, "read standard input");
		}
		if (r == 0)
			break;
		n += (size_t)r;
		if (n > BERTH_SECRET_VALUE_MAX) {
			berth_secret_free(buf, BERTH_SECRET_VALUE_MAX);
			return berth_err_set(err, BERTH_E_LIMIT,
					     "standard input is larger than the limit of %u bytes "
					     "for a secret",
					     BERTH_SECRET_VALUE_MAX);
		}
	}
	buf[n] = '\0';
	*out = buf;
	*len = n;
	return 0;
}

static int open_store(struct berth_secrets **s)
{
	struct berth_err *err = NULL;
	if (berth_secrets_open(cli_home(), s, &err) < 0)
		return cli_fail(err, NULL);
	return CLI_OK;
}

static int usage_bad_name(const char *name)
{
	return cli_usage("secrets",
			 "invalid secret name '%.*s%s': use letters, digits and '_', not "
			 "starting with a digit, at most %d characters; nothing was changed",
			 BERTH_SECRET_NAME_MAX, name,
			 strlen(name) > BERTH_SECRET_NAME_MAX ? "..." : "", BERTH_SECRET_NAME_MAX);
}

static int set(int argc, char **argv)
{
	int rc = sub_options(argc, argv, NULL);
	if (rc >= 0)
		return rc;
	if (optind == argc)
		return cli_usage("secrets", "set takes NAME=VALUE pairs");
	size_t n = (size_t)(argc - optind);
	_cleanup_free_ struct berth_secret_pair *pairs = berth_xcalloc(n, sizeof(*pairs));
	_cleanup_strv_ struct berth_strv names = BERTH_STRV_INIT;
	size_t from_stdin = n; /* the pair that reads standard input, if any */
	/* Every pair is checked before anything is read or written. */
	for (size_t i = 0; i < n; i++) {
		const char *arg = argv[optind + (int)i];
		const char *eq = strchr(arg, '=');
		if (!eq)
			return cli_usage("secrets", "'%s' is not NAME=VALUE; nothing was set", arg);
		berth_strv_push_owned(&names, berth_xstrndup(arg, (size_t)(eq - arg)));
		const char *name = names.v[i];
		if (!berth_secret_name_valid(name))
			return usage_bad_name(name);
		for (size_t j = 0; j < i; j++)
			if (!strcmp(names.v[j], name))
				return cli_usage("secrets", "secret '%s' is given twice", name);
		if (!strcmp(eq + 1, "-")) {
			if (from_stdin < n)
				return cli_usage("secrets",
						 "only one NAME=- can read standard input");
			from_stdin = i;
		}
		pairs[i] = (struct berth_secret_pair){name, eq + 1, strlen(eq + 1)};
	}
	struct berth_err *err = NULL;
	char *input = NULL;
	size_t input_len = 0;
	if (from_stdin < n) {
		if (read_stdin(&input, &input_len, &err) < 0)
			return cli_fail(err, NULL);
		pairs[from_stdin].value = input;
		pairs[from_stdin].len = input_len;
	}
	struct berth_secrets *s = NULL;
	rc = open_store(&s);
	if (rc == CLI_OK && berth_secrets_set_many(s, pairs, n, &err) < 0)
		rc = cli_fail(err, NULL);
	berth_secrets_close(s);
	berth_secret_free(input, input_len);
	if (rc != CLI_OK)
		return rc;
	for (size_t i = 0; i < n; i++)
		printf("set %s\n", names.v[i]);
	return CLI_OK;
}

static int list(int argc, char **argv)
{
	bool as_json = false;
	int rc = sub_options(argc, argv, &as_json);
	if (rc >= 0)
		return rc;
	if (optind != argc)
		return cli_usage("secrets", "list takes no arguments");
	struct berth_secrets *s;
	if (open_store(&s) != CLI_OK)
		return CLI_FAIL;
	struct berth_secret_info *v = NULL;
	size_t n = 0;
	struct berth_err *err = NULL;
	int r = berth_secrets_list(s, &v, &n, &err);
	berth_secrets_close(s);
	if (r < 0)
		return cli_fail(err, NULL);
	_cleanup_json_ json_t *arr = as_json ? json_array() : NULL;
	if (!as_json)
		printf("%-32s  %-19s  %s\n", "NAME", "CREATED", "UPDATED");
	for (size_t i = 0; i < n; i++) {
		if (as_json) {
			json_array_append_new(arr, json_pack("{s:s, s:I, s:I}", "name", v[i].name,
							     "created", (json_int_t)v[i].created,
							     "updated", (json_int_t)v[i].updated));
		} else {
			char created[32], updated[32];
			time_t c = (time_t)v[i].created, u = (time_t)v[i].updated;
			strftime(created, sizeof(created), "%Y-%m-%d %H:%M:%S", localtime(&c));
			strftime(updated, sizeof(updated), "%Y-%m-%d %H:%M:%S", localtime(&u));
			printf("%-32s  %-19s  %s\n", v[i].name, created, updated);
		}
		berth_secret_info_release(&v[i]);
	}
	free(v);
	if (arr) {
		_cleanup_buf_ struct berth_buf out;
		berth_buf_init(&out, BERTH_BUF_UNLIMITED);
		berth_json_dump_pretty(arr, &out);
		fwrite(out.data, 1, out.len, stdout);
	}
	return CLI_OK;
}

static int unset(int argc, char **argv)
{
	int rc = sub_options(argc, argv, NULL);
	if (rc >= 0)
		return rc;
	if (optind == argc)
		return cli_usage("secrets", "unset takes NAME...");
	for (int i = optind; i < argc; i++)
		if (!berth_secret_name_valid(argv[i]))
			return usage_bad_name(argv[i]);
	struct berth_secrets *s;
	if (open_store(&s) != CLI_OK)
		return CLI_FAIL;
	/* Like rm: each name on its own; a missing one does not stop the rest. */
	rc = CLI_OK;
	for (int i = optind; i < argc; i++) {
		struct berth_err *err = NULL;
		if (berth_secrets_unset(s, argv[i], &err) < 0)
			rc = cli_fail(err, NULL);
		else
			printf("unset %s\n", argv[i]);
	}
	berth_secrets_close(s);
	return rc;
}

int cmd_secrets(int argc, char **argv)
{
	if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
		fputs(usage, argc < 2 ? stderr : stdout);
		return argc < 2 ? CLI_USAGE : CLI_OK;
	}
	const char *sub = argv[1];
	if (!strcmp(sub, "set"))
		return set(argc - 1, argv + 1);
	if (!strcmp(sub, "list"))
		return list(argc - 1, argv + 1);
	if (!strcmp(sub, "unset"))
		return unset(argc - 1, argv + 1);
	return cli_usage("secrets", "unknown subcommand '%s'", sub);
}
