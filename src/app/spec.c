/* App specs in and out: from berth.yaml text and from JSON through the one
 * validator, back to canonical JSON (every default filled in), and release. */
#include "app/app_int.h"

#include <errno.h>
#include <limits.h>

void berth_app_spec_release(struct berth_app_spec *s)
{
	free(s->name);
	free(s->dir);
	free(s->dockerfile);
	free(s->dockerfile_path);
	free(s->image_ref);
	free(s->context);
	berth_strv_release(&s->build_args);
	for (size_t i = 0; i < s->nbuild_secrets; i++) {
		free(s->build_secrets[i].id);
		free(s->build_secrets[i].value);
	}
	free(s->build_secrets);
	for (size_t i = 0; i < s->nregistries; i++) {
		free(s->registries[i].host);
		free(s->registries[i].username);
		free(s->registries[i].password);
	}
	free(s->registries);
	berth_strv_release(&s->dockerignore);
	berth_strv_release(&s->command);
	free(s->health.path);
	free(s->health.method);
	free(s->machine_type);
	berth_strv_release(&s->secrets);
	berth_strv_release(&s->data_mounts);
	berth_strv_release(&s->env);
	free(s->sdk_file);
	free(s->sdk_class);
	berth_strv_release(&s->endpoints);
	berth_strv_release(&s->stream_endpoints);
	*s = (struct berth_app_spec){0};
}

/* `dir` made absolute (the working directory when NULL). */
static char *absolute_dir(const char *dir, struct berth_err **err)
{
	char *real = realpath(dir ? dir : ".", NULL);
	if (!real)
		berth_err_sys(err, errno, "app directory '%s'", dir ? dir : ".");
	return real;
}

int berth_app_parse_yaml(const char *text, size_t len, const char *dir, const char *name,
			 struct berth_app_spec *out, struct berth_err **err)
{
	*out = (struct berth_app_spec){0};
	_cleanup_free_ char *abs = absolute_dir(dir, err);
	if (!abs)
		return -BERTH_E_SYS;
	_cleanup_json_ json_t *root = NULL;
	struct berth__app_lines lines;
	int r = berth__app_yaml_parse(text, len, &root, &lines, err);
	if (r < 0)
		return r;
	r = berth__app_validate(root, &lines, true, abs, name, out, err);
	berth__app_lines_release(&lines);
	return r;
}

int berth_app_load_yaml(const char *path, struct berth_app_spec *out, struct berth_err **err)
{
	*out = (struct berth_app_spec){0};
	struct berth_buf b;
	berth_buf_init(&b, BERTH_APP_SPEC_MAX);
	int r = berth_fs_read_file(path, BERTH_APP_SPEC_MAX, &b, err);
	if (r < 0) {
		berth_buf_release(&b);
		return r;
	}
	_cleanup_free_ char *copy = berth_xstrdup(path);
	char *slash = strrchr(copy, '/');
	const char *dir = ".";
	if (slash == copy)
		dir = "/";
	else if (slash) {
		*slash = '\0';
		dir = copy;
	}
	_cleanup_free_ char *abs = absolute_dir(dir, err);
	r = -BERTH_E_SYS;
	if (abs) {
		const char *base = strrchr(abs, '/');
		r = berth_app_parse_yaml(b.data, b.len, abs, base[1] ? base + 1 : NULL, out, err);
	}
	berth_buf_release(&b);
	return r;
}

int berth_app_from_json(const json_t *j, const char *dir, struct berth_app_spec *out,
			struct berth_err **err)
{
	*out = (struct berth_app_spec){0};
	_cleanup_free_ char *abs = absolute_dir(dir, err);
	if (!abs)
		return -BERTH_E_SYS;
	return berth__app_validate(j, NULL, false, abs, NULL, out, err);
}

/* ------------------------------------------------------------ to JSON */

static json_t *seconds(int64_t ms)
{
	if (ms % 1000 == 0)
		return json_integer(ms / 1000);
	return json_real((double)ms / 1000.0);
}

static json_t *strv_json(const struct berth_strv *sv)
{
	json_t *a = json_array();
	for (size_t i = 0; i < sv->n; i++)
		json_array_append_new(a, json_string(sv->v[i]));
	return a;
}

/* "K=V" entries as {"K": "V"}. */
static json_t *env_json(const struct berth_strv *sv)
{
	json_t *o = json_object();
	for (size_t i = 0; i < sv->n; i++) {
		const char *eq = strchr(sv->v[i], '=');
		BUG_ON(!eq);
		_cleanup_free_ char *k = berth_xstrndup(sv->v[i], (size_t)(eq - sv->v[i]));
		json_object_set_new(o, k, json_string(eq + 1));
	}
	return o;
}

static json_t *image_json(const struct berth_app_spec *s)
{
	json_t *o = json_object();
	if (s->dockerfile_path)
		json_object_set_new(o, "dockerfile_path", json_string(s->dockerfile_path));
	else if (s->dockerfile)
		json_object_set_new(o, "dockerfile", json_string(s->dockerfile));
	else if (s->image_ref)
		json_object_set_new(o, "ref", json_string(s->image_ref));
	if (!s->image_ref) {
		if (s->context)
			json_object_set_new(o, "context", json_string(s->context));
		json_object_set_new(o, "build_args", env_json(&s->build_args));
		json_t *sec = json_object();
		for (size_t i = 0; i < s->nbuild_secrets; i++)
			json_object_set_new(sec, s->build_secrets[i].id,
					    json_string(s->build_secrets[i].value));
		json_object_set_new(o, "secrets", sec);
		json_object_set_new(o, "dockerignore",
				    s->has_dockerignore ? strv_json(&s->dockerignore)
							: json_null());
	}
	json_t *regs = json_object();
	for (size_t i = 0; i < s->nregistries; i++)
		json_object_set_new(regs, s->registries[i].host,
				    json_pack("{s:s?, s:s?}", "username", s->registries[i].username,
					      "password", s->registries[i].password));
	json_object_set_new(o, "registries", regs);
	return o;
}

static json_t *run_json(const struct berth_app_spec *s)
{
	json_t *o = json_object();
	if (s->kind == BERTH_APP_SERVER) {
		json_object_set_new(o, "command",
				    s->command.n ? strv_json(&s->command) : json_null());
		json_object_set_new(o, "port", s->port ? json_integer(s->port) : json_null());
	}
	json_object_set_new(o, "env", env_json(&s->env));
	const struct berth_app_health *h = &s->health;
	json_t *ho = json_object();
	json_object_set_new(ho, "path", json_string(h->path ? h->path : "/health"));
	json_object_set_new(ho, "method", json_string(h->method ? h->method : "GET"));
	json_object_set_new(ho, "start_period", seconds(h->start_period_ms));
	json_object_set_new(ho, "timeout", seconds(h->timeout_ms));
	json_object_set_new(ho, "interval", seconds(h->interval_ms));
	json_object_set_new(ho, "failure_threshold", json_integer(h->failure_threshold));
	json_object_set_new(o, "health", ho);
	return o;
}

json_t *berth_app_to_json(const struct berth_app_spec *s)
{
	static const char *const auth[] = {"private", "public", "shared"};
	json_t *o = json_object();
	json_object_set_new(o, "name", json_string(s->name ? s->name : ""));
	if (s->kind == BERTH_APP_SDK)
		json_object_set_new(o, "sdk",
				    json_pack("{s:s, s:s, s:o, s:o}", "file",
					      s->sdk_file ? s->sdk_file : "", "class",
					      s->sdk_class ? s->sdk_class : "", "endpoints",
					      strv_json(&s->endpoints), "stream_endpoints",
					      strv_json(&s->stream_endpoints)));
	json_object_set_new(o, "image", image_json(s));
	json_object_set_new(o, "machine_type",
			    json_string(s->machine_type ? s->machine_type : "S"));
	json_object_set_new(o, "gpus", json_integer(s->gpus));
	if (s->memory || s->cpus > 0) {
		json_t *res = json_object();
		if (s->memory)
			json_object_set_new(res, "memory", json_integer(s->memory));
		if (s->cpus > 0)
			json_object_set_new(res, "cpus", json_real(s->cpus));
		json_object_set_new(o, "resources", res);
	}
	const struct berth_app_scaling *sc = &s->scaling;
	json_object_set_new(
	    o, "scaling",
	    json_pack("{s:i, s:i, s:i, s:i, s:o, s:o}", "min_runners", sc->min_runners,
		      "max_runners", sc->max_runners, "concurrency_buffer", sc->concurrency_buffer,
		      "max_multiplexing", sc->max_multiplexing, "keep_alive",
		      seconds(sc->keep_alive_ms), "scaling_delay", seconds(sc->scaling_delay_ms)));
	json_object_set_new(o, "request_timeout",
			    s->request_timeout_ms ? seconds(s->request_timeout_ms) : json_null());
	json_object_set_new(o, "startup_timeout", seconds(s->startup_timeout_ms));
	json_object_set_new(o, "termination_grace_period", seconds(s->termination_grace_ms));
	json_object_set_new(o, "secrets", strv_json(&s->secrets));
	json_object_set_new(o, "data_mounts", strv_json(&s->data_mounts));
	json_object_set_new(o, "auth",
			    json_string(auth[s->auth <= BERTH_APP_AUTH_SHARED ? s->auth : 0]));
	json_object_set_new(o, "run", run_json(s));
	return o;
}
