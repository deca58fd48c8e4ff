/* The typed model as JSON, for `berth dockerfile parse --json` and for
 * anything that wants to look at a Dockerfile without linking berth. */
#include "dockerfile/dockerfile_int.h"

static json_t *strv_json(const struct berth_strv *sv)
{
	json_t *a = json_array();
	for (size_t i = 0; i < sv->n; i++)
		json_array_append_new(a, json_string(sv->v[i]));
	return a;
}

static json_t *str_or_null(const char *s)
{
	return s ? json_string(s) : json_null();
}

static json_t *kvs_json(const struct berth_df_kv *kvs, size_t n, const char *kname,
			const char *vname)
{
	json_t *a = json_array();
	for (size_t i = 0; i < n; i++)
		json_array_append_new(a, json_pack("{s:s, s:o}", kname, kvs[i].key, vname,
						   str_or_null(kvs[i].value)));
	return a;
}

static json_t *mount_json(const struct berth_df_mount *m)
{
	static const char *const sharing[] = {"shared", "private", "locked"};
	json_t *o = json_object();
	json_object_set_new(o, "type", json_string(berth__df_mount_type_name(m->type)));
	json_object_set_new(o, "target", str_or_null(m->target));
	if (m->source)
		json_object_set_new(o, "source", json_string(m->source));
	if (m->from) {
		json_object_set_new(o, "from", json_string(m->from));
		json_object_set_new(o, "from_stage",
				    m->from_stage >= 0 ? json_integer(m->from_stage) : json_null());
	}
	if (m->id)
		json_object_set_new(o, "id", json_string(m->id));
	if (m->env)
		json_object_set_new(o, "env", json_string(m->env));
	json_object_set_new(o, "readonly", json_boolean(m->readonly));
	if (m->type == BERTH_DF_MOUNT_SECRET || m->type == BERTH_DF_MOUNT_SSH)
		json_object_set_new(o, "required", json_boolean(m->required));
	if (m->type == BERTH_DF_MOUNT_CACHE)
		json_object_set_new(o, "sharing", json_string(sharing[m->sharing]));
	if (m->mode >= 0) {
		char mode[32];
		snprintf(mode, sizeof(mode), "0%lo", (unsigned long)m->mode);
		json_object_set_new(o, "mode", json_string(mode));
		json_object_set_new(o, "uid", json_integer(m->uid));
		json_object_set_new(o, "gid", json_integer(m->gid));
	}
	if (m->type == BERTH_DF_MOUNT_TMPFS)
		json_object_set_new(o, "size", json_integer(m->size));
	return o;
}

static json_t *heredocs_json(const struct berth_df_node *n)
{
	json_t *a = json_array();
	for (size_t i = 0; i < n->nheredocs; i++) {
		const struct berth_df_heredoc *h = &n->heredocs[i];
		json_array_append_new(a, json_pack("{s:s, s:s, s:b, s:b, s:i}", "name", h->name,
						   "content", h->content, "expand", h->expand,
						   "chomp", h->chomp, "fd", h->fd));
	}
	return a;
}

static void run_json(json_t *o, const struct berth_df_instr *in)
{
	static const char *const net[] = {"default", "none", "host"};
	json_object_set_new(o, "command", strv_json(&in->args));
	json_object_set_new(o, "form", json_string(in->json ? "exec" : "shell"));
	json_t *mounts = json_array();
	for (size_t i = 0; i < in->nmounts; i++)
		json_array_append_new(mounts, mount_json(&in->mounts[i]));
	json_object_set_new(o, "mounts", mounts);
	json_object_set_new(o, "network", json_string(net[in->network]));
	json_object_set_new(o, "security", json_string(in->insecure ? "insecure" : "sandbox"));
	json_object_set_new(o, "arg_env", strv_json(&in->arg_env));
	json_object_set_new(o, "proxy_env", strv_json(&in->proxy_env));
}

static void copy_json(json_t *o, const struct berth_df_instr *in)
{
	json_object_set_new(o, "sources", strv_json(&in->args));
	json_object_set_new(o, "dest", str_or_null(in->resolved));
	if (in->kind == BERTH_DF_COPY) {
		json_object_set_new(o, "from", str_or_null(in->from));
		json_object_set_new(o, "from_stage",
				    in->from_stage >= 0 ? json_integer(in->from_stage)
							: json_null());
		json_object_set_new(o, "parents", json_boolean(in->parents));
	} else {
		json_object_set_new(o, "checksum", str_or_null(in->checksum));
		json_object_set_new(o, "keep_git_dir", json_boolean(in->keep_git_dir));
		json_object_set_new(o, "unpack",
				    in->unpack < 0 ? json_null() : json_boolean(in->unpack));
	}
	json_object_set_new(o, "chown", str_or_null(in->chown));
	json_object_set_new(o, "chmod", str_or_null(in->chmod));
	json_object_set_new(o, "link", json_boolean(in->link));
	json_object_set_new(o, "exclude", strv_json(&in->excludes));
}

static json_t *instr_json(const struct berth_df_instr *in)
{
	json_t *o = json_object();
	json_object_set_new(o, "instruction", json_string(berth_df_kind_name(in->kind)));
	json_object_set_new(o, "line", json_integer(in->line));
	json_object_set_new(o, "end_line", json_integer(in->end_line));
	json_object_set_new(o, "original", json_string(in->node->original));
	switch (in->kind) {
	case BERTH_DF_RUN:
		run_json(o, in);
		break;
	case BERTH_DF_CMD:
	case BERTH_DF_ENTRYPOINT:
	case BERTH_DF_SHELL:
		json_object_set_new(o, "command", strv_json(&in->args));
		json_object_set_new(o, "form", json_string(in->json ? "exec" : "shell"));
		break;
	case BERTH_DF_ENV:
	case BERTH_DF_LABEL:
		json_object_set_new(o, "pairs", kvs_json(in->kvs, in->nkvs, "key", "value"));
		break;
	case BERTH_DF_ARG:
		json_object_set_new(o, "args", kvs_json(in->kvs, in->nkvs, "name", "value"));
		break;
	case BERTH_DF_EXPOSE:
		json_object_set_new(o, "ports", strv_json(&in->args));
		break;
	case BERTH_DF_VOLUME:
		json_object_set_new(o, "paths", strv_json(&in->args));
		break;
	case BERTH_DF_USER:
		json_object_set_new(o, "user", json_string(in->args.v[0]));
		break;
	case BERTH_DF_MAINTAINER:
		json_object_set_new(o, "maintainer", json_string(in->args.v[0]));
		break;
	case BERTH_DF_STOPSIGNAL:
		json_object_set_new(o, "signal", json_string(in->args.v[0]));
		break;
	case BERTH_DF_WORKDIR:
		json_object_set_new(o, "path", json_string(in->args.v[0]));
		json_object_set_new(o, "resolved", json_string(in->resolved));
		break;
	case BERTH_DF_HEALTHCHECK:
		json_object_set_new(o, "test", strv_json(&in->args));
		json_object_set_new(o, "interval_ns", json_integer(in->interval));
		json_object_set_new(o, "timeout_ns", json_integer(in->timeout));
		json_object_set_new(o, "start_period_ns", json_integer(in->start_period));
		json_object_set_new(o, "start_interval_ns", json_integer(in->start_interval));
		json_object_set_new(o, "retries", json_integer(in->retries));
		break;
	case BERTH_DF_ONBUILD:
		json_object_set_new(o, "trigger", json_string(in->args.v[0]));
		break;
	case BERTH_DF_ADD:
	case BERTH_DF_COPY:
		copy_json(o, in);
		break;
	}
	if (in->node->nheredocs)
		json_object_set_new(o, "heredocs", heredocs_json(in->node));
	return o;
}

static json_t *stage_json(const struct berth_df_file *f, const struct berth_df_stage *s)
{
	json_t *o = json_object();
	json_object_set_new(o, "index", json_integer(s->index));
	json_object_set_new(o, "name", str_or_null(s->name));
	json_object_set_new(o, "line", json_integer(s->line));
	json_object_set_new(o, "base", json_string(s->base));
	json_object_set_new(o, "base_stage",
			    s->base_stage >= 0 ? json_integer(s->base_stage) : json_null());
	json_object_set_new(o, "scratch", json_boolean(s->scratch));
	json_object_set_new(o, "platform", str_or_null(s->platform));
	bool needed = false;
	for (size_t i = 0; i < f->norder; i++)
		needed |= f->order[i] == s->index;
	json_object_set_new(o, "needed", json_boolean(needed));
	json_t *deps = json_array();
	for (size_t i = 0; i < s->ndeps; i++)
		json_array_append_new(deps, json_integer(s->deps[i]));
	json_object_set_new(o, "dependencies", deps);
	json_t *instrs = json_array();
	for (size_t i = 0; i < s->n; i++)
		json_array_append_new(instrs, instr_json(&s->instrs[i]));
	json_object_set_new(o, "instructions", instrs);
	json_object_set_new(o, "env", strv_json(&s->env));
	json_object_set_new(o, "workdir", json_string(s->workdir));
	return o;
}

json_t *berth_df_file_to_json(const struct berth_df_file *f)
{
	json_t *o = json_object();
	char esc[2] = {f->ast.escape, 0};
	json_object_set_new(o, "escape", json_string(esc));
	json_object_set_new(o, "syntax", str_or_null(f->ast.syntax));
	json_object_set_new(o, "check", str_or_null(f->ast.check));
	json_object_set_new(o, "meta_args", kvs_json(f->meta_args, f->nmeta, "name", "value"));
	json_t *stages = json_array();
	for (size_t i = 0; i < f->n; i++)
		json_array_append_new(stages, stage_json(f, &f->stages[i]));
	json_object_set_new(o, "stages", stages);
	json_object_set_new(o, "target", json_integer(f->target));
	json_t *order = json_array();
	for (size_t i = 0; i < f->norder; i++)
		json_array_append_new(order, json_integer(f->order[i]));
	json_object_set_new(o, "build_order", order);
	json_object_set_new(o, "unused_build_args", strv_json(&f->unused_build_args));
	json_object_set_new(o, "warnings", strv_json(&f->warnings));
	return o;
}
