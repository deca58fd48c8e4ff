/* busybox: Debian's static busybox (busybox-static) with a link in /bin for
 * each applet it lists, the users and groups of Docker's busybox image, and
 * the directories programs expect. A dynamic busybox is refused: it would
 * need the host's C library inside the image. */
#include "base/base_int.h"

#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define BUSYBOX_LIST_MAX (64u << 10) /* `busybox --list`: about 3 KiB */

static const char passwd[] = "root:x:0:0:root:/root:/bin/sh\n"
			     "daemon:x:1:1:daemon:/usr/sbin:/bin/false\n"
			     "bin:x:2:2:bin:/bin:/bin/false\n"
			     "sys:x:3:3:sys:/dev:/bin/false\n"
			     "sync:x:4:100:sync:/bin:/bin/sync\n"
			     "mail:x:8:8:mail:/var/spool/mail:/bin/false\n"
			     "www-data:x:33:33:www-data:/var/www:/bin/false\n"
			     "operator:x:37:37:Operator:/var:/bin/false\n"
			     "nobody:x:65534:65534:nobody:/home:/bin/false\n";

static const char group[] = "root:x:0:\n"
			    "daemon:x:1:\n"
			    "bin:x:2:\n"
			    "sys:x:3:\n"
			    "adm:x:4:\n"
			    "tty:x:5:\n"
			    "disk:x:6:\n"
			    "wheel:x:10:root\n"
			    "mail:x:8:\n"
			    "www-data:x:33:\n"
			    "operator:x:37:\n"
			    "staff:x:50:\n"
			    "users:x:100:\n"
			    "nogroup:x:65534:\n";

/* True when `fd` is an ELF file without a PT_INTERP program header (no
 * dynamic loader: static). *elf says whether it is ELF at all. */
static bool elf_static(int fd, bool *elf)
{
	*elf = false;
	Elf64_Ehdr eh;
	if (pread(fd, &eh, sizeof(eh), 0) != (ssize_t)sizeof(eh) ||
	    memcmp(eh.e_ident, ELFMAG, SELFMAG) != 0)
		return false;
	*elf = true;
	if (eh.e_ident[EI_CLASS] == ELFCLASS32) {
		Elf32_Ehdr e32;
		if (pread(fd, &e32, sizeof(e32), 0) != (ssize_t)sizeof(e32))
			return false;
		for (unsigned i = 0; i < e32.e_phnum && i < 4096; i++) {
			Elf32_Phdr ph;
			if (pread(fd, &ph, sizeof(ph),
				  (off_t)(e32.e_phoff + (size_t)i * e32.e_phentsize)) !=
			    (ssize_t)sizeof(ph))
				return false;
			if (ph.p_type == PT_INTERP)
				return false;
		}
		return true;
	}
	if (eh.e_ident[EI_CLASS] != ELFCLASS64)
		return false;
	for (unsigned i = 0; i < eh.e_phnum && i < 4096; i++) {
		Elf64_Phdr ph;
		if (pread(fd, &ph, sizeof(ph),
			  (off_t)(eh.e_phoff + (uint64_t)i * eh.e_phentsize)) !=
		    (ssize_t)sizeof(ph))
			return false;
		if (ph.p_type == PT_INTERP)
			return false;
	}
	return true;
}

int berth_base_find_busybox(const char *path, char **out, struct berth_err **err)
{
	static const char *const where[] = {"/bin/busybox", "/usr/bin/busybox"};
	*out = NULL;
	const char *found = path;
	for (size_t i = 0; !found && i < BERTH_ARRAY_SIZE(where); i++)
		if (access(where[i], X_OK) == 0)
			found = where[i];
	if (!found)
		return berth_err_set(err, BERTH_E_NOT_FOUND,
				     "busybox is not installed: apt-get install busybox-static");
	_cleanup_close_ int fd = open(found, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return berth_err_sys(err, errno, "open '%s'", found);
	bool elf;
	if (!elf_static(fd, &elf))
		return berth_err_set(err, BERTH_E_UNSUPPORTED,
				     "'%s' is %s: the image needs a static busybox; "
				     "apt-get install busybox-static",
				     found, elf ? "dynamically linked" : "not an ELF program");
	*out = berth_xstrdup(found);
	return 0;
}

/* The version in busybox's banner ("BusyBox v1.35.0 (Debian 1:1.35.0-4+b3)
 * multi-call binary."), or NULL. free(). */
static char *busybox_version(const char *bin)
{
	char *const argv[] = {(char *)bin, (char *)"--help", NULL};
	_cleanup_buf_ struct berth_buf out, errb;
	berth_buf_init(&out, BUSYBOX_LIST_MAX);
	berth_buf_init(&errb, BUSYBOX_LIST_MAX);
	struct berth_spawn sp = BERTH_SPAWN_INIT;
	sp.argv = argv;
	sp.capture_out = &out;
	sp.capture_err = &errb;
	int status;
	if (berth_spawn_run(&sp, &status, NULL) < 0)
		return NULL;
	const char *text = out.len ? out.data : errb.data;
	const char *v = text ? strstr(text, "BusyBox v") : NULL;
	if (!v)
		return NULL;
	v += 9;
	size_t n = 0;
	while ((v[n] >= '0' && v[n] <= '9') || v[n] == '.')
		n++;
	return n > 0 && n < 32 ? berth_xstrndup(v, n) : NULL;
}

static int copy_binary(const char *src, int rootfd, struct berth_err **err)
{
	_cleanup_close_ int in = open(src, O_RDONLY | O_CLOEXEC);
	if (in < 0)
		return berth_err_sys(err, errno, "open '%s'", src);
	_cleanup_close_ int out = berth_fs_open_beneath(
	    rootfd, "/bin/busybox", O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0755, err);
	if (out < 0)
		return -1;
	char buf[65536];
	for (;;) {
		ssize_t n = read(in, buf, sizeof(buf));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return berth_err_sys(err, errno, "read '%s'", src);
		if (n == 0)
			break;
		for (ssize_t off = 0; off < n;) {
			ssize_t w = write(out, buf + off, (size_t)(n - off));
			if (w < 0 && errno == EINTR)
				continue;
			if (w < 0)
				return berth_err_sys(err, errno, "copy '%s' into the image", src);
			off += w;
		}
	}
	if (fchmod(out, 0755) < 0)
		return berth_err_sys(err, errno, "chmod /bin/busybox");
	return 0;
}

/* A symlink /bin/APPLET -> busybox for each applet `busybox --list` names.
 * *count gets how many. */
static int applet_links(const char *bin, int rootfd, size_t *count, struct berth_err **err)
{
	char *const argv[] = {(char *)bin, (char *)"--list", NULL};
	_cleanup_buf_ struct berth_buf out;
	berth_buf_init(&out, BUSYBOX_LIST_MAX);
	struct berth_spawn sp = BERTH_SPAWN_INIT;
	sp.argv = argv;
	sp.capture_out = &out;
	int status;
	if (berth_spawn_run(&sp, &status, err) < 0)
		return berth_err_prefix(err, "list busybox's applets");
	if (status != 0 || out.len == 0)
		return berth_err_set(err, BERTH_E_SYS,
				     "'%s --list' exited with status %d and listed nothing", bin,
				     status);
	_cleanup_close_ int bindir =
	    berth_fs_open_beneath(rootfd, "/bin", O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0, err);
	if (bindir < 0)
		return -1;
	*count = 0;
	for (char *line = out.data; line && *line;) {
		char *nl = strchr(line, '\n');
		if (nl)
			*nl = '\0';
		bool name_ok =
		    *line && !strchr(line, '/') && strcmp(line, ".") && strcmp(line, "..");
		if (name_ok && strcmp(line, "busybox")) {
			if (symlinkat("busybox", bindir, line) < 0 && errno != EEXIST)
				return berth_err_sys(err, errno, "link /bin/%s", line);
			(*count)++;
		}
		line = nl ? nl + 1 : NULL;
	}
	return 0;
}

static int build_rootfs(const char *bin, const char *dir, size_t *applets, struct berth_err **err)
{
	_cleanup_close_ int rootfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (rootfd < 0)
		return berth_err_sys(err, errno, "open '%s'", dir);
	static const struct {
		const char *path;
		mode_t mode;
	} dirs[] = {{"/bin", 0755},
		    {"/dev", 0755},
		    {"/etc", 0755},
		    {"/home", 0755},
		    {"/proc", 0755},
		    {"/root", 0700},
		    {"/sys", 0755},
		    {"/tmp", 01777},
		    {"/usr", 0755},
		    {"/usr/sbin", 0755},
		    {"/var", 0755},
		    {"/var/spool", 0755},
		    {"/var/spool/mail", 0755},
		    {"/var/www", 0755}};
	for (size_t i = 0; i < BERTH_ARRAY_SIZE(dirs); i++) {
		if (berth_fs_mkdir_beneath(rootfd, dirs[i].path, dirs[i].mode, err) < 0)
			return -1;
		/* mkdir's mode went through the umask, and 1777 needs chmod. */
		_cleanup_close_ int fd = berth_fs_open_beneath(
		    rootfd, dirs[i].path, O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0, err);
		if (fd < 0 || fchmod(fd, dirs[i].mode) < 0)
			return fd < 0 ? -1 : berth_err_sys(err, errno, "chmod '%s'", dirs[i].path);
	}
	if (copy_binary(bin, rootfd, err) < 0 || applet_links(bin, rootfd, applets, err) < 0 ||
	    berth__base_put(rootfd, "/etc/passwd", passwd, 0644, err) < 0 ||
	    berth__base_put(rootfd, "/etc/group", group, 0644, err) < 0)
		return -1;
	return 0;
}

int berth__base_busybox(struct berth_store *s, const struct berth_base_spec *spec,
			const struct berth_base_opts *o, struct berth_base_result *out,
			struct berth_err **err)
{
	_cleanup_free_ char *bin = NULL;
	if (berth_base_find_busybox(o->busybox, &bin, err) < 0)
		return -1;
	int64_t epoch = o->source_date_epoch;
	if (epoch < 0) {
		/* The binary's date: dpkg keeps the package's, so the same
		 * busybox-static gives the same image. */
		struct stat st;
		if (stat(bin, &st) < 0)
			return berth_err_sys(err, errno, "stat '%s'", bin);
		epoch = (int64_t)st.st_mtime;
	}
	_cleanup_free_ char *version = busybox_version(bin);
	berth__base_step(o, "busybox %s from %s: applets, users and groups", version ? version : "",
			 bin);
	_cleanup_free_ char *dir = berth_store_layer_scratch(s, "base", err);
	if (!dir)
		return -1;
	size_t applets = 0;
	int r = build_rootfs(bin, dir, &applets, err);
	_cleanup_strv_ struct berth_strv tags = BERTH_STRV_INIT;
	if (r == 0) {
		if (o->tag) {
			berth_strv_push(&tags, o->tag);
		} else {
			berth_strv_push(&tags, "docker.io/library/busybox:latest");
			if (version)
				berth_strv_pushf(&tags, "docker.io/library/busybox:%s", version);
		}
		_cleanup_json_ json_t *config =
		    json_pack("{s:[s], s:[s]}", "Env", BERTH__BASE_PATH, "Cmd", "sh");
		_cleanup_free_ char *by = berth_xasprintf("berth base create %s: %s (%zu applets)",
							  spec->name, bin, applets);
		struct berth__base_image img = {.rootfs = dir,
						.epoch = epoch,
						.config = config,
						.created_by = by,
						.tags = &tags};
		berth__base_step(o, "pack the system as one layer");
		r = berth__base_commit(s, &img, out, err);
	}
	if (r < 0)
		berth_fs_remove_tree(AT_FDCWD, dir, NULL);
	return r;
}
