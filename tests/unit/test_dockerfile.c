/* Unit tests for dockerfile/: parser details the data files do not pin down
 * (directives, comments, heredoc fields, line numbers, limits), Go quoting,
 * durations, the instruction model's defaults, and ownership (ASan). */
#include "dockerfile/dockerfile.h"
#include "tap.h"

#include <stdlib.h>

static int parse(const char *src, struct berth_df_ast *ast, struct berth_err **err)
{
	return berth_df_parse(src, strlen(src), ast, err);
}

static void test_directives(void)
{
	struct berth_df_ast ast;
	struct berth_err *err = NULL;
	tap_is_int(parse("# syntax = docker/dockerfile:1.7\n#CHECK=skip=all\n# escape=`\nFROM "
			 "a\nRUN x `\n y\n",
			 &ast, &err),
		   0, "directives parse");
	tap_is_str(ast.syntax, "docker/dockerfile:1.7", "syntax directive value trimmed");
	tap_is_str(ast.check, "skip=all", "check directive, key case-insensitive");
	tap_is_int(ast.escape, '`', "escape directive changes the escape token");
	tap_is_str(ast.nodes[1].args.v[0], "x  y", "backtick continues the line");
	berth_df_ast_release(&ast);

	tap_is_int(parse("# unknown=1\n# escape=`\nFROM a\nRUN x `\n", &ast, &err), 0,
		   "an unknown directive ends directive scanning");
	tap_is_int(ast.escape, '\\', "escape after an unknown directive is a comment");
	berth_df_ast_release(&ast);

	tap_ok(parse("# escape=``\nFROM a\n", &ast, &err) < 0 && err->line == 1,
	       "a two-character escape is an error on line 1");
	tap_is_str(err ? err->msg : NULL, "invalid escape token '``' does not match ` or \\",
		   "escape error text");
	berth_err_free(err);
}

static void test_comments_and_lines(void)
{
	struct berth_df_ast ast;
	struct berth_err *err = NULL;
	const char *src = "# about the base\n# second line\nFROM a\n\n#\n# reset above\nRUN b \\\n"
			  "  # skipped comment\n  c\n";
	tap_is_int(parse(src, &ast, &err), 0, "comments parse");
	tap_is_int(ast.nodes[0].comments.n, 2, "comments above FROM are kept");
	tap_is_str(ast.nodes[0].comments.v[1], "second line", "comment text without '#'");
	tap_is_int(ast.nodes[1].comments.n, 1, "an empty '#' line resets the comments");
	tap_is_str(ast.nodes[1].args.v[0], "b   c", "a comment inside a continuation is skipped");
	tap_is_int(ast.nodes[1].start_line, 7, "start line");
	tap_is_int(ast.nodes[1].end_line, 9, "end line counts the skipped comment");
	tap_is_str(ast.nodes[1].original, "RUN b   c", "original keeps the joined text");
	berth_df_ast_release(&ast);
}

static void test_heredoc_fields(void)
{
	struct berth_df_ast ast;
	struct berth_err *err = NULL;
	tap_is_int(parse("FROM a\nCOPY <<-\"A\" 3<<B /d/\n\tx\n\tA\nb\nB\nRUN ok\n", &ast, &err), 0,
		   "two heredocs on COPY");
	const struct berth_df_node *n = &ast.nodes[1];
	tap_is_int(n->nheredocs, 2, "both heredocs found");
	tap_ok(n->heredocs[0].chomp && !n->heredocs[0].expand, "<<-\"A\" chomps, no expansion");
	tap_is_str(n->heredocs[0].content, "\tx\n", "body keeps tabs (stripped when used)");
	tap_is_int(n->heredocs[1].fd, 3, "3<<B has fd 3");
	tap_is_int(n->end_line, 6, "heredoc lines count in the span");
	tap_is_str(ast.nodes[2].keyword, "run", "parsing resumes after the bodies");
	berth_df_ast_release(&ast);

	tap_is_int(parse("FROM a\nRUN <<EOF\r\nwindows\r\nEOF\r\n", &ast, &err), 0,
		   "CRLF terminator matches");
	tap_is_str(ast.nodes[1].heredocs[0].content, "windows\r\n", "body is raw bytes");
	berth_df_ast_release(&ast);
}

static void test_limits_and_errors(void)
{
	struct berth_df_ast ast;
	struct berth_err *err = NULL;
	size_t len = BERTH_DF_MAX_LINE + 10;
	char *big = malloc(len + 1);
	memcpy(big, "FROM a\nRUN ", 11);
	memset(big + 11, 'x', len - 11);
	big[len] = '\0';
	tap_ok(berth_df_parse(big, len, &ast, &err) == -BERTH_E_LIMIT,
	       "over-long line is a limit error");
	tap_is_int(err ? err->line : 0, 2, "the long line is named");
	berth_err_free(err);
	err = NULL;
	big[BERTH_DF_MAX_LINE + 7] = '\0'; /* exactly the limit */
	tap_is_int(berth_df_parse(big, strlen(big), &ast, &err), 0, "a line at the limit parses");
	berth_df_ast_release(&ast);
	free(big);

	tap_ok(parse("\xef\xbb\xbf# only a comment\n", &ast, &err) < 0,
	       "BOM + comment: no instructions");
	tap_is_str(err ? err->msg : NULL, "file with no instructions", "empty-file message");
	berth_err_free(err);
	err = NULL;
	tap_ok(parse("FROM a\nCMD [\"a\", 1]\n", &ast, &err) < 0 && err->line == 2,
	       "a non-string JSON element is an error on its line");
	berth_err_free(err);
	err = NULL;
	tap_is_int(parse("FROM a\nCMD [\"a\"] trailing\n", &ast, &err), 0,
		   "text after a JSON array is ignored, like Go's decoder");
	tap_ok(ast.nodes[1].json && ast.nodes[1].args.n == 1, "still exec form");
	berth_df_ast_release(&ast);
	tap_is_int(berth_df_parse("FROM a", 6, &ast, NULL), 0,
		   "no trailing newline; err may be NULL");
	berth_df_ast_release(&ast);
	tap_ok(berth_df_parse("", 0, &ast, NULL) < 0, "failure with err NULL does not crash");
}

static void test_go_quote(void)
{
	struct berth_buf b;
	berth_buf_init(&b, 1024);
	static const struct {
		const char *in;
		size_t len;
		const char *want;
	} cases[] = {
	    {"a\"b\\c", 5, "\"a\\\"b\\\\c\""},
	    {"\a\b\f\n\r\t\v", 7, "\"\\a\\b\\f\\n\\r\\t\\v\""},
	    {"\x00\x01\x7f", 3, "\"\\x00\\x01\\x7f\""},
	    {"\xe2\x99\xa5", 3, "\"\xe2\x99\xa5\""},
	    {"\xc2\xa0", 2, "\"\\u00a0\""},
	    {"\xff", 1, "\"\\xff\""},
	    {"\xf0\x9f\x98\x80", 4, "\"\xf0\x9f\x98\x80\""},
	    {"\xef\xbb\xbf", 3, "\"\\ufeff\""},
	};
	for (size_t i = 0; i < BERTH_ARRAY_SIZE(cases); i++) {
		berth_buf_reset(&b);
		berth_df_go_quote(&b, cases[i].in, cases[i].len);
		tap_is_str(b.data, cases[i].want, "go quote case %zu", i);
	}
	berth_buf_release(&b);
}

static void test_durations(void)
{
	static const struct {
		const char *in;
		int64_t ns;
	} good[] = {
	    {"0", 0},
	    {"1ns", 1},
	    {"1.5s", 1500000000},
	    {"1m30s", 90000000000LL},
	    {"2h", 7200000000000LL},
	    {"500ms", 500000000},
	    {"3us", 3000},
	    {"3\xc2\xb5s", 3000},
	    {".5s", 500000000},
	};
	for (size_t i = 0; i < BERTH_ARRAY_SIZE(good); i++) {
		int64_t ns = -1;
		tap_ok(berth_df_parse_duration(good[i].in, &ns, NULL) == 0 && ns == good[i].ns,
		       "duration '%s' = %lld", good[i].in, (long long)good[i].ns);
	}
	static const char *const bad[] = {"", "5", "1x", "s", "1.2.3s", "-", "1h-2m"};
	for (size_t i = 0; i < BERTH_ARRAY_SIZE(bad); i++) {
		int64_t ns;
		tap_ok(berth_df_parse_duration(bad[i], &ns, NULL) < 0, "duration '%s' is rejected",
		       bad[i]);
	}
}

static void test_model(void)
{
	const char *src = "ARG IMG=busybox\nFROM ${IMG} AS base\nWORKDIR /w\n"
			  "RUN --mount=type=cache,target=c --mount=type=secret,id=s x\n"
			  "FROM base\nCOPY --from=base /a b\n";
	struct berth_df_file f;
	struct berth_err *err = NULL;
	tap_is_int(berth_df_load(src, strlen(src), NULL, &f, &err), 0, "model loads");
	tap_is_int(f.n, 2, "two stages");
	tap_is_str(f.stages[0].base, "busybox", "FROM expanded with the global ARG");
	const struct berth_df_instr *run = &f.stages[0].instrs[1];
	tap_is_str(run->mounts[0].target, "/w/c", "relative cache target joins WORKDIR");
	tap_is_str(run->mounts[0].id, "/w/c", "cache id defaults to the target");
	tap_is_str(run->mounts[1].target, "/run/secrets/s", "secret default target");
	tap_is_int(run->mounts[1].mode, 0400, "secret default mode");
	tap_is_int(f.stages[1].base_stage, 0, "FROM base is a stage");
	tap_is_str(f.stages[1].instrs[0].resolved, "b", "COPY dest kept as written");
	tap_is_str(f.stages[1].workdir, "/w", "WORKDIR is inherited from the base stage");
	tap_is_int(f.norder, 2, "both stages needed");
	berth_df_file_release(&f);

	tap_ok(berth_df_load("FROM a\nRUN\n", 11, NULL, &f, &err) < 0,
	       "RUN without a command fails");
	tap_is_str(err ? err->msg : NULL, "RUN requires at least one argument", "RUN error text");
	berth_err_free(err);
}

int main(void)
{
	test_directives();
	test_comments_and_lines();
	test_heredoc_fields();
	test_limits_and_errors();
	test_go_quote();
	test_durations();
	test_model();
	return tap_done();
}
