/* `berth image inspect|rm|save|load|ls`: look at and move stored images. */
#include "cli/cli.h"
#include "lint/lint.h"
#include "registry/registry.h"

#include <getopt.h>
#include <stdio.h>
#include <string.h>

static const char usage[] =
    "usage: berth image inspect REF\n"
    "       berth image inspect --layers [--format table|json] REF\n"
    "       berth image rm REF...\n"
    "       berth image save REF -o DIR|FILE.tar\n"
    "       berth image load DIR|FILE.tar [-t NAME:TAG]\n"
    "       berth image ls\n"
    "\n"
    "inspect prints JSON: the manifest digest, the config and each layer with its\n"
    "DiffID and chain id; with --layers, a table of each layer: its compressed and\n"
    "unpacked size, the step that made it and its largest files (--format json\n"
    "for scripts). save writes an OCI image layout (a directory, or an\n"
    "oci-archive when the name ends in .tar); load reads one, verifying blobs.\n";

/* Read a stored image: entry, manifest and config. */
static int load(struct berth_store *s, const char *refstr, struct berth_image_entry *e,
		struct berth_manifest *m, struct berth_image_config *cfg, struct berth_err **err)
{
	_cleanup_free_ char *name = cli_canonical(refstr);
	if (!name)
		return -BERTH_E_INVALID;
	if (berth_store_lookup(s, name, e, err) < 0)
		return -BERTH_E_NOT_FOUND;
	if (berth_image_load(s, e->digest, m, cfg, err) < 0) {
		berth_image_entry_release(e);
		return -BERTH_E_INVALID;
	}
	return 0;
}

static int inspect(struct berth_store *s, const char *ref)
{
	struct berth_image_entry e;
	struct berth_manifest m;
	struct berth_image_config cfg;
	struct berth_err *err = NULL;
	if (load(s, ref, &e, &m, &cfg, &err) < 0)
		return err ? cli_fail(err, NULL) : CLI_FAIL;
	json_t *layers = json_array();
	char chain[BERTH_DIGEST_LEN + 1] = "";
	for (size_t i = 0; i < m.nlayers; i++) {
		const char *diff = i < cfg.diff_ids.n ? cfg.diff_ids.v[i] : NULL;
		if (diff)
			berth_chain_id(*chain ? chain : NULL, diff, chain);
		json_array_append_new(
		    layers, json_pack("{s:s, s:s, s:I, s:o, s:o, s:b}", "digest",
				      m.layers[i].digest, "media_type", m.layers[i].media_type,
				      "size", (json_int_t)m.layers[i].size, "diff_id",
				      diff ? json_string(diff) : json_null(), "chain_id",
				      diff ? json_string(chain) : json_null(), "unpacked",
				      diff && berth_store_layer_ready(s, chain)));
	}
	_cleanup_json_ json_t *o =
	    json_pack("{s:s, s:s, s:s, s:I, s:{s:s, s:I}, s:O, s:o}", "name", e.name, "digest",
		      e.digest, "media_type", e.media_type, "size", (json_int_t)e.size,
		      "config_descriptor", "digest", m.config.digest, "size",
		      (json_int_t)m.config.size, "config", cfg.json, "layers", layers);
	_cleanup_buf_ struct berth_buf out;
	berth_buf_init(&out, BERTH_BUF_UNLIMITED);
	berth_json_dump_pretty(o, &out);
	fwrite(out.data, 1, out.len, stdout);
	berth_manifest_release(&m);
	berth_image_config_release(&cfg);
	berth_image_entry_release(&e);
	return CLI_OK;
}

/* --- inspect --layers --- */

/* Files listed per layer. */
#define LAYERS_TOP 5
/* Width of the step column in the table. */
#define LAYERS_STEP_WIDTH 64

static void human_size(int64_t n, char *out, size_t len)
{
	const char *units[] = {"B", "kB", "MB", "GB", "TB"};
	double v = (double)n;
	size_t u = 0;
	while (v >= 1000 && u + 1 < BERTH_ARRAY_SIZE(units)) {
		v /= 1000;
		u++;
	}
	snprintf(out, len, u ? "%.1f %s" : "%.0f %s", v, units[u]);
}

static int inspect_layers(struct berth_store *s, const char *ref, bool json)
{
	_cleanup_free_ char *name = cli_canonical(ref);
	if (!name)
		return CLI_FAIL;
	struct berth_image_entry e;
	struct berth_err *err = NULL;
	if (berth_store_lookup(s, name, &e, &err) < 0)
		return cli_fail(err, NULL);
	struct berth_lint_layer_stats *st = NULL;
	size_t n = 0;
	int r = berth_lint_layer_stats(s, e.digest, LAYERS_TOP, &st, &n, &err);
	if (r == -BERTH_E_NOT_FOUND) { /* not unpacked yet (loaded, or pushed only) */
		berth_err_free(err);
		err = NULL;
		r = berth_image_unpack(s, e.digest, NULL, NULL, &err);
		if (r == 0)
			r = berth_lint_layer_stats(s, e.digest, LAYERS_TOP, &st, &n, &err);
	}
	if (r < 0) {
		berth_image_entry_release(&e);
		return cli_fail(err, NULL);
	}
	int64_t comp = 0, unp = 0, files = 0;
	for (size_t i = 0; i < n; i++) {
		comp += st[i].compressed;
		unp += st[i].unpacked;
		files += st[i].files;
	}
	_cleanup_buf_ struct berth_buf out;
	berth_buf_init(&out, BERTH_BUF_UNLIMITED);
	if (json) {
		json_t *layers = json_array();
		for (size_t i = 0; i < n; i++) {
			json_t *big = json_array();
			for (size_t k = 0; k < st[i].nlargest; k++)
				json_array_append_new(
				    big, json_pack("{s:s?, s:I}", "path", st[i].largest[k].path,
						   "size", (json_int_t)st[i].largest[k].size));
			_cleanup_free_ char *step = berth_lint_step_text(st[i].step, 0);
			json_t *o = json_pack(
			    "{s:I, s:s, s:s, s:s, s:s, s:I, s:I, s:I, s:I, s:b, s:s?, s:s?, s:o}",
			    "index", (json_int_t)(i + 1), "digest", st[i].digest, "media_type",
			    st[i].media_type, "diff_id", st[i].diff_id, "chain_id", st[i].chain_id,
			    "compressed_size", (json_int_t)st[i].compressed, "unpacked_size",
			    (json_int_t)st[i].unpacked, "files", (json_int_t)st[i].files,
			    "whiteouts", (json_int_t)st[i].whiteouts, "truncated", st[i].truncated,
			    "created_by", st[i].step, "step", step, "largest", big);
			json_array_append_new(layers, o ? o : json_null());
		}
		_cleanup_json_ json_t *o =
		    json_pack("{s:s, s:s, s:I, s:I, s:I, s:o}", "name", e.name, "digest", e.digest,
			      "compressed_size", (json_int_t)comp, "unpacked_size", (json_int_t)unp,
			      "files", (json_int_t)files, "layers", layers);
		berth_json_dump_pretty(o, &out);
	} else {
		berth_buf_addf(&out, "%-5s %10s %10s %7s  %s\n", "LAYER", "COMPRESSED", "UNPACKED",
			       "FILES", "STEP");
		char a[32], b[32];
		for (size_t i = 0; i < n; i++) {
			human_size(st[i].compressed, a, sizeof(a));
			human_size(st[i].unpacked, b, sizeof(b));
			_cleanup_free_ char *step =
			    berth_lint_step_text(st[i].step, LAYERS_STEP_WIDTH);
			berth_buf_addf(&out, "%-5zu %10s %10s%s %7lld  %s", i + 1, a, b,
				       st[i].truncated ? "+" : " ", (long long)st[i].files,
				       step ? step : "(no history)");
			if (st[i].whiteouts)
				berth_buf_addf(&out, " (deletes %lld path%s)",
					       (long long)st[i].whiteouts,
					       st[i].whiteouts == 1 ? "" : "s");
			berth_buf_addch(&out, '\n');
			for (size_t k = 0; k < st[i].nlargest; k++) {
				human_size(st[i].largest[k].size, a, sizeof(a));
				berth_buf_addf(&out, "%-5s %10s  %s\n", "", a,
					       st[i].largest[k].path);
			}
		}
		human_size(comp, a, sizeof(a));
		human_size(unp, b, sizeof(b));
		berth_buf_addf(&out, "%-5s %10s %10s  %7lld  %zu layer%s of %s\n", "TOTAL", a, b,
			       (long long)files, n, n == 1 ? "" : "s", ref);
	}
	fwrite(out.data, 1, out.len, stdout);
	berth_lint_layer_stats_free(st, n);
	berth_image_entry_release(&e);
	return CLI_OK;
}

static int rm(struct berth_store *s, int argc, char **argv)
{
	int status = CLI_OK;
	for (int i = 1; i < argc; i++) {
		_cleanup_free_ char *name = cli_canonical(argv[i]);
		struct berth_err *err = NULL;
		int64_t freed = 0;
		if (!name || berth_store_remove_image(s, name, &freed, &err) < 0) {
			status = err ? cli_fail(err, NULL) : CLI_FAIL;
			continue;
		}
		printf("removed %s (%.1f MB freed)\n", argv[i], (double)freed / 1e6);
	}
	return status;
}

static int save(struct berth_store *s, int argc, char **argv)
{
	const char *out = NULL;
	int c;
	optind = 1;
	while ((c = getopt(argc, argv, "o:")) != -1) {
		if (c != 'o')
			return cli_usage("image", "save: invalid option");
		out = optarg;
	}
	if (!out || optind + 1 != argc)
		return cli_usage("image", "save takes REF and -o DIR|FILE.tar");
	_cleanup_free_ char *name = cli_canonical(argv[optind]);
	if (!name)
		return CLI_FAIL;
	struct berth_image_entry e;
	struct berth_err *err = NULL;
	if (berth_store_lookup(s, name, &e, &err) < 0)
		return cli_fail(err, NULL);
	struct berth_ref ref;
	char *tagname = NULL;
	if (berth_ref_parse(name, &ref, NULL) == 0) {
		tagname = berth_ref_familiar(&ref);
		berth_ref_release(&ref);
	}
	size_t len = strlen(out);
	bool archive = len > 4 && !strcmp(out + len - 4, ".tar");
	int r = berth_layout_save(s, e.digest, tagname, out, archive, &err);
	free(tagname);
	berth_image_entry_release(&e);
	return r < 0 ? cli_fail(err, NULL) : CLI_OK;
}

struct load_ctx {
	struct berth_store *s;
	const char *tag; /* -t */
	int count;
};

static int load_one(void *ctx, const char *ref_name, const struct berth_descriptor *d,
		    struct berth_err **err)
{
	struct load_ctx *l = ctx;
	const char *want = l->tag ? l->tag : ref_name;
	if (l->tag && l->count > 0)
		return berth_err_set(err, BERTH_E_INVALID,
				     "the layout holds several images; -t names only one");
	if (!want || (!l->tag && !strpbrk(want, ":/")))
		return berth_err_set(err, BERTH_E_INVALID,
				     "the layout names image %s only as '%s'; give it a name with "
				     "-t NAME:TAG",
				     d->digest, want ? want : "");
	struct berth_ref ref;
	if (berth_ref_parse(want, &ref, err) < 0)
		return -BERTH_E_INVALID;
	_cleanup_free_ char *name = berth_ref_string(&ref);
	_cleanup_free_ char *fam = berth_ref_familiar(&ref);
	berth_ref_release(&ref);
	int r = berth_image_unpack(l->s, d->digest, NULL, NULL, err);
	/* The size `berth images` shows: manifest, config and layers. */
	int64_t size = d->size;
	struct berth_manifest m = {0};
	struct berth_image_config cfg = {0};
	if (r == 0 && (r = berth_image_load(l->s, d->digest, &m, &cfg, err)) == 0) {
		size += m.config.size;
		for (size_t i = 0; i < m.nlayers; i++)
			size += m.layers[i].size;
	}
	berth_manifest_release(&m);
	berth_image_config_release(&cfg);
	if (r == 0)
		r = berth_store_tag(l->s, name, d->digest,
				    *d->media_type ? d->media_type : BERTH_MT_OCI_MANIFEST, size,
				    err);
	if (r == 0) {
		printf("loaded %s %s\n", fam, d->digest);
		l->count++;
	}
	return r;
}

static int load_cmd(struct berth_store *s, int argc, char **argv)
{
	struct load_ctx l = {.s = s};
	int c;
	optind = 1;
	while ((c = getopt(argc, argv, "t:")) != -1) {
		if (c != 't')
			return cli_usage("image", "load: invalid option");
		l.tag = optarg;
	}
	if (optind + 1 != argc)
		return cli_usage("image", "load takes DIR or FILE.tar");
	struct berth_err *err = NULL;
	if (berth_layout_load(s, argv[optind], load_one, &l, &err) < 0)
		return cli_fail(err, NULL);
	return CLI_OK;
}

int cmd_image(int argc, char **argv)
{
	if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
		fputs(usage, argc < 2 ? stderr : stdout);
		return argc < 2 ? CLI_USAGE : CLI_OK;
	}
	const char *sub = argv[1];
	if (!strcmp(sub, "ls"))
		return cmd_images(argc - 1, argv + 1);
	if (strcmp(sub, "inspect") && strcmp(sub, "rm") && strcmp(sub, "save") &&
	    strcmp(sub, "load"))
		return cli_usage("image", "unknown subcommand '%s'", sub);
	bool layers = false, json = false;
	const char *iref = NULL;
	if (!strcmp(sub, "inspect")) {
		const char *format = NULL;
		for (int i = 2; i < argc; i++) {
			if (!strcmp(argv[i], "--layers"))
				layers = true;
			else if (!strcmp(argv[i], "--format") && i + 1 < argc)
				format = argv[++i];
			else if (!strncmp(argv[i], "--format=", 9))
				format = argv[i] + 9;
			else if (argv[i][0] == '-' || iref)
				return cli_usage("image",
						 iref && argv[i][0] != '-'
						     ? "inspect takes one REF"
						     : "inspect: unknown option '%s'",
						 argv[i]);
			else
				iref = argv[i];
		}
		if (!iref)
			return cli_usage("image", "inspect takes one REF");
		if (format && !layers)
			return cli_usage("image", "--format goes with --layers");
		if (format && strcmp(format, "table") && strcmp(format, "json"))
			return cli_usage("image", "--format must be table or json, not '%s'",
					 format);
		json = format && !strcmp(format, "json");
	}
	if (!strcmp(sub, "rm") && argc < 3)
		return cli_usage("image", "rm takes at least one REF");
	struct berth_store *s;
	if (cli_open_store(&s) != CLI_OK)
		return CLI_FAIL;
	int r = layers                    ? inspect_layers(s, iref, json)
		: !strcmp(sub, "inspect") ? inspect(s, iref)
		: !strcmp(sub, "rm")      ? rm(s, argc - 1, argv + 1)
		: !strcmp(sub, "save")    ? save(s, argc - 1, argv + 1)
					  : load_cmd(s, argc - 1, argv + 1);
	berth_store_close(s);
	return r;
}
