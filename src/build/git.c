/* ADD of a git repository, BuildKit's way: `URL#ref:subdir` (a .git URL
 * over http(s), git@host:path, git:// or ssh://), the ref resolved to a
 * commit with `git ls-remote` (a full commit id is taken as it is), the
 * commit checked out by the host's git into a directory of the build's own,
 * without .git unless asked. Git runs with no terminal prompts; over ssh
 * in batch mode, with the --ssh agent when there is one. */
#include "build/build_int.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#define GIT_OUTPUT_MAX (4u << 20)  /* what git prints that the builder reads */
#define GIT_ERROR_MAX  (64u << 10) /* git's stderr kept for a message */

extern char **environ;

bool berth__git_source(const char *src)
{
	if (!strncmp(src, "git@", 4) || !strncmp(src, "git://", 6) || !strncmp(src, "ssh://", 6))
		return true;
	if (strncmp(src, "http://", 7) != 0 && strncmp(src, "https://", 8) != 0)
		return false;
	size_t len = strcspn(src, "#");
	return len > 4 && !strncmp(src + len - 4, ".git", 4);
}

static bool is_commit(const char *s)
{
	size_t n = strlen(s);
	if (n != 40 && n != 64)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!isxdigit((unsigned char)s[i]) || isupper((unsigned char)s[i]))
			return false;
	return true;
}

int berth__git_parse(const char *src, struct berth__git_ref *out, struct berth_err **err)
{
	*out = (struct berth__git_ref){0};
	const char *hash = strchr(src, '#');
	out->remote = berth_xstrndup(src, hash ? (size_t)(hash - src) : strlen(src));
	if (hash) {
		const char *colon = strchr(hash + 1, ':');
		out->ref =
		    berth_xstrndup(hash + 1, colon ? (size_t)(colon - hash - 1) : strlen(hash + 1));
		if (colon && colon[1])
			out->subdir = berth_xstrdup(colon + 1);
	}
	if (!*out->remote || out->remote[0] == '-' || (out->ref && out->ref[0] == '-')) {
		berth__git_ref_release(out);
		return berth_err_set(err, BERTH_E_INVALID,
				     "git source '%s': give URL[#REF[:SUBDIR]]", src);
	}
	return 0;
}

void berth__git_ref_release(struct berth__git_ref *g)
{
	free(g->remote);
	free(g->ref);
	free(g->subdir);
	*g = (struct berth__git_ref){0};
}

/* Run git with args; stdout into out (may be NULL). A failure says what
 * git printed on stderr. */
static int git(const char *ssh_sock, const char *cwd, struct berth_buf *out, struct berth_err **err,
	       const char *what, const char *const *args)
{
	_cleanup_strv_ struct berth_strv env = BERTH_STRV_INIT;
	for (char **e = environ; *e; e++)
		berth_strv_push(&env, *e);
	berth_env_set(&env, "GIT_TERMINAL_PROMPT", "0");
	berth_env_set(&env, "LC_ALL", "C");
	if (!getenv("GIT_SSH_COMMAND"))
		berth_env_set(&env, "GIT_SSH_COMMAND", "ssh -o BatchMode=yes -o ConnectTimeout=20");
	if (ssh_sock)
		berth_env_set(&env, "SSH_AUTH_SOCK", ssh_sock);
	_cleanup_strv_ struct berth_strv argv = BERTH_STRV_INIT;
	berth_strv_push(&argv, "git");
	/* A repository's submodules never read this host's files. */
	berth_strv_push(&argv, "-c");
	berth_strv_push(&argv, "protocol.file.allow=never");
	for (const char *const *a = args; *a; a++)
		berth_strv_push(&argv, *a);
	_cleanup_buf_ struct berth_buf errbuf;
	berth_buf_init(&errbuf, GIT_ERROR_MAX);
	struct berth_spawn sp = BERTH_SPAWN_INIT;
	sp.argv = argv.v;
	sp.envp = env.v;
	sp.cwd = cwd;
	sp.capture_out = out;
	sp.capture_err = &errbuf;
	/* What git writes gets the usual 644/755, whatever the builder's. */
	mode_t old = umask(022);
	int status = 0;
	int r = berth_spawn_run(&sp, &status, err);
	umask(old);
	if (r < 0)
		return berth_err_prefix(err, "%s: run git (apt-get install git)", what);
	if (status != 0) {
		while (errbuf.len &&
		       (errbuf.data[errbuf.len - 1] == '\n' || errbuf.data[errbuf.len - 1] == '\r'))
			errbuf.data[--errbuf.len] = '\0';
		const char *msg = errbuf.len ? errbuf.data : "no message";
		const char *last = strrchr(msg, '\n');
		return berth_err_set(err, BERTH_E_INVALID, "%s: git %s failed (exit %d): %s", what,
				     !strcmp(args[0], "-c") ? args[2] : args[0], status,
				     last ? last + 1 : msg);
	}
	return 0;
}

int berth__git_resolve(const struct berth__git_ref *g, const char *ssh_sock, char **commit,
		       struct berth_err **err)
{
	const char *ref = g->ref && *g->ref ? g->ref : "HEAD";
	if (is_commit(ref)) {
		*commit = berth_xstrdup(ref);
		return 0;
	}
	_cleanup_buf_ struct berth_buf out;
	berth_buf_init(&out, GIT_OUTPUT_MAX);
	const char *args[] = {"ls-remote", "--", g->remote, ref, NULL};
	if (git(ssh_sock, NULL, &out, err, g->remote, args) < 0)
		return -1;
	/* BuildKit takes the first line's object. */
	const char *line = out.data ? out.data : "";
	size_t n = strcspn(line, "\t");
	_cleanup_free_ char *sha = berth_xstrndup(line, n);
	if (!line[n] || !is_commit(sha))
		return berth_err_set(err, BERTH_E_NOT_FOUND,
				     "git '%s' has no ref '%s' (git ls-remote found none)",
				     g->remote, ref);
	*commit = steal_pointer(&sha);
	return 0;
}

int berth__git_checkout(const struct berth__git_ref *g, const char *commit, const char *dir,
			bool keep_git_dir, const char *ssh_sock, struct berth_err **err)
{
	const char *clone[] = {"clone", "-q", "--no-checkout", "--", g->remote, dir, NULL};
	if (git(ssh_sock, NULL, NULL, err, g->remote, clone) < 0)
		return -1;
	const char *co[] = {"-c", "advice.detachedHead=false", "checkout", "-q", commit, NULL};
	if (git(ssh_sock, dir, NULL, NULL, g->remote, co) < 0) {
		/* Not under a ref the clone fetched: ask for the commit itself. */
		const char *fetch[] = {"fetch", "-q", "origin", commit, NULL};
		if (git(ssh_sock, dir, NULL, err, g->remote, fetch) < 0 ||
		    git(ssh_sock, dir, NULL, err, g->remote, co) < 0)
			return -1;
	}
	_cleanup_free_ char *modules = berth_xasprintf("%s/.gitmodules", dir);
	if (access(modules, F_OK) == 0) {
		const char *sub[] = {"submodule", "update", "-q", "--init", "--recursive", NULL};
		if (git(ssh_sock, dir, NULL, err, g->remote, sub) < 0)
			return -1;
	}
	if (!keep_git_dir) {
		_cleanup_close_ int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (fd < 0)
			return berth_err_sys(err, errno, "open '%s'", dir);
		if (berth_fs_remove_tree(fd, ".git", err) < 0)
			return -1;
	}
	return 0;
}
