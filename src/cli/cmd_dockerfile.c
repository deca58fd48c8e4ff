/* `berth dockerfile parse`: parse a Dockerfile and print BuildKit's AST dump,
 * the typed model as JSON (--json), or the stages a target needs (--target). */
#include "cli/cli.h"
#include "dockerfile/dockerfile.h"

#include <getopt.h>
#include <stdio.h>
#include <string.h>

static const char parse_usage[] =
    "usage: berth dockerfile parse [-f FILE|-] [--json] [--target NAME] [--build-arg K=V]...\n"
    "\n"
    "  -f, --file FILE      the Dockerfile (default ./Dockerfile; - reads stdin)\n"
    "      --json           print the typed model: stages, instructions with their\n"
    "                       arguments expanded where BuildKit expands them, and\n"
    "                       each stage's dependencies\n"
    "      --target NAME    build target; without --json prints the stages it\n"
    "                       needs, in build order\n"
    "      --build-arg K=V  a build argument (repeatable; K alone takes $K)\n"
    "      --platform P     target platform (default linux/amd64)\n"
    "\n"
    "Without --json or --target, prints BuildKit's parser dump, one line per\n"
    "instruction. A parse error exits 1 as 'berth: FILE:LINE: message'.\n";

static int parse(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"file", required_argument, NULL, 'f'},
	    {"json", no_argument, NULL, 'j'},
	    {"target", required_argument, NULL, 't'},
	    {"build-arg", required_argument, NULL, 'b'},
	    {"platform", required_argument, NULL, 'p'},
	    {"help", no_argument, NULL, 'h'},
	    {0},
	};
	const char *file = "Dockerfile", *target = NULL, *platform = NULL;
	bool json = false;
	_cleanup_strv_ struct berth_strv build_args = BERTH_STRV_INIT;
	int c;
	optind = 1;
	while ((c = getopt_long(argc, argv, "f:h", opts, NULL)) != -1) {
		switch (c) {
		case 'f':
			file = optarg;
			break;
		case 'j':
			json = true;
			break;
		case 't':
			target = optarg;
			break;
		case 'b':
			berth_strv_push(&build_args, optarg);
			break;
		case 'p':
			platform = optarg;
			break;
		case 'h':
			fputs(parse_usage, stdout);
			return CLI_OK;
		default:
			return cli_usage("dockerfile parse", "invalid option");
		}
	}
	if (optind < argc)
		return cli_usage("dockerfile parse", "unexpected argument '%s'", argv[optind]);

	const char *shown = strcmp(file, "-") ? file : "<stdin>";
	struct berth_err *err = NULL;
	_cleanup_buf_ struct berth_buf in;
	berth_buf_init(&in, BERTH_DF_MAX_SIZE);
	if (berth_fs_read_file(file, BERTH_DF_MAX_SIZE, &in, &err) < 0)
		return cli_fail(err, NULL);

	_cleanup_buf_ struct berth_buf out;
	berth_buf_init(&out, BERTH_BUF_UNLIMITED);
	if (!json && !target) {
		struct berth_df_ast ast;
		if (berth_df_parse(in.data, in.len, &ast, &err) < 0)
			return cli_fail(err, shown);
		berth_df_dump(&ast, &out);
		berth_buf_addch(&out, '\n');
		for (size_t i = 0; i < ast.nwarnings; i++)
			fprintf(stderr, "berth: %s:%d: warning: %s\n", shown, ast.warnings[i].line,
				ast.warnings[i].msg);
		berth_df_ast_release(&ast);
	} else {
		struct berth_df_options opt = {
		    .build_args = &build_args, .target = target, .platform = platform};
		struct berth_df_file f;
		if (berth_df_load(in.data, in.len, &opt, &f, &err) < 0)
			return cli_fail(err, shown);
		if (json) {
			_cleanup_json_ json_t *j = berth_df_file_to_json(&f);
			berth_json_dump_pretty(j, &out);
		} else {
			for (size_t i = 0; i < f.norder; i++) {
				const struct berth_df_stage *s = &f.stages[f.order[i]];
				berth_buf_addf(&out, "%d %s\n", s->index, s->name ? s->name : "-");
			}
		}
		for (size_t i = 0; i < f.unused_build_args.n; i++)
			fprintf(stderr, "berth: warning: build-arg '%s' was not consumed\n",
				f.unused_build_args.v[i]);
		berth_df_file_release(&f);
	}
	fwrite(out.data, 1, out.len, stdout);
	return CLI_OK;
}

int cmd_dockerfile(int argc, char **argv)
{
	if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
		fputs(parse_usage, argc < 2 ? stderr : stdout);
		return argc < 2 ? CLI_USAGE : CLI_OK;
	}
	if (!strcmp(argv[1], "parse"))
		return parse(argc - 1, argv + 1);
	return cli_usage("dockerfile", "unknown subcommand '%s' (try 'parse')", argv[1]);
}
