/* The admin API of API keys: POST /v1/keys makes one (its secret in the
 * answer, the only time it is shown), GET /v1/keys lists them without
 * secrets, DELETE /v1/keys/{id} revokes one. While no key exists the first
 * may be made without a key (http.c lets SRV_ADMIN routes through then). */
#include "server/server_int.h"

#include <string.h>

static void keys_create(struct srv_req *rq, struct srv_resp *rs)
{
	enum srv_scope scope = SRV_ADMIN;
	const char *description = NULL;
	_cleanup_json_ json_t *body = NULL;
	if (rq->body_len) {
		body = srv_body_json(rq, rs);
		if (!body)
			return;
		json_t *s = json_object_get(body, "scope");
		json_t *d = json_object_get(body, "description");
		if (s && !json_is_null(s)) {
			const char *v = json_string_value(s);
			if (v && !strcmp(v, "admin"))
				scope = SRV_ADMIN;
			else if (v && !strcmp(v, "invoke"))
				scope = SRV_INVOKE;
			else {
				srv_error(rs, 400, "invalid",
					  "\"scope\" is \"admin\" or \"invoke\"");
				return;
			}
		}
		if (d && !json_is_null(d)) {
			if (!json_is_string(d)) {
				srv_error(rs, 400, "invalid", "\"description\" must be a string");
				return;
			}
			description = json_string_value(d);
		}
		const char *k;
		json_t *v;
		json_object_foreach(body, k, v)
		{
			if (strcmp(k, "scope") != 0 && strcmp(k, "description") != 0) {
				srv_error(rs, 400, "invalid",
					  "unknown field \"%s\": a key has \"scope\" and "
					  "\"description\"",
					  k);
				return;
			}
		}
	}
	_cleanup_free_ char *id = NULL, *key = NULL;
	struct berth_err *err = NULL;
	if (srv_keys_create(rq->srv, scope, description, &id, &key, &err) < 0) {
		srv_fail(rs, err);
		return;
	}
	json_t *j = json_pack("{s:s, s:s, s:s, s:o}", "id", id, "key", key, "scope",
			      scope == SRV_ADMIN ? "admin" : "invoke", "description",
			      description ? json_string(description) : json_null());
	explicit_bzero(key, strlen(key));
	srv_json(rs, 201, j);
}

static void keys_list(struct srv_req *rq, struct srv_resp *rs)
{
	_cleanup_free_ char *all = srv_query(rq, "all");
	struct berth_err *err = NULL;
	json_t *keys = srv_keys_list(rq->srv, all && strcmp(all, "0") != 0, &err);
	if (!keys) {
		srv_fail(rs, err);
		return;
	}
	srv_json(rs, 200, json_pack("{s:o}", "keys", keys));
}

static void keys_revoke(struct srv_req *rq, struct srv_resp *rs)
{
	const char *id = rq->params[0];
	struct berth_err *err = NULL;
	if (srv_keys_revoke(rq->srv, id, &err) < 0) {
		srv_fail(rs, err);
		return;
	}
	srv_json(rs, 200, json_pack("{s:s, s:b}", "id", id, "revoked", 1));
}

const struct srv_route srv_routes_keys[] = {
    {"POST", "/v1/keys", SRV_ADMIN, keys_create, NULL, NULL},
    {"GET", "/v1/keys", SRV_ADMIN, keys_list, NULL, NULL},
    {"DELETE", "/v1/keys/{id}", SRV_ADMIN, keys_revoke, NULL, NULL},
    {0},
};
