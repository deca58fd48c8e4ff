/* berth.yaml through libyaml's event parser into a jansson tree, with a side
 * table of the line of every value. Plain scalars resolve as YAML 1.2's core
 * schema; anchors are kept and aliases share the anchored value, counted each
 * time they are used, so a document that expands past the node limit is
 * refused before anything large exists. */
#include "app/app_int.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include "app/yaml_api.h"

#define TAG_PREFIX "tag:yaml.org,2002:"

void berth__app_lines_release(struct berth__app_lines *l)
{
	for (size_t i = 0; i < l->n; i++) {
		free(l->v[i].key);
		free(l->v[i].raw);
	}
	free(l->v);
	free(l->slots);
	*l = (struct berth__app_lines){0};
}

static size_t pos_hash(const json_t *parent, const char *key, size_t index)
{
	uint64_t h = (uint64_t)(uintptr_t)parent * 0x9e3779b97f4a7c15u;
	if (key) {
		for (const unsigned char *p = (const unsigned char *)key; *p; p++)
			h = (h ^ *p) * 0x100000001b3u;
	} else {
		h ^= (index + 1) * 0xff51afd7ed558ccdu;
	}
	return (size_t)(h ^ (h >> 29));
}

static bool pos_is(const struct berth__app_pos *p, const json_t *parent, const char *key,
		   size_t index)
{
	if (p->parent != parent)
		return false;
	return key ? p->key && !strcmp(p->key, key) : !p->key && p->index == index;
}

const struct berth__app_pos *berth__app_lines_find(const struct berth__app_lines *l,
						   const json_t *parent, const char *key,
						   size_t index)
{
	if (!l || !l->nslots)
		return NULL;
	size_t mask = l->nslots - 1;
	for (size_t i = pos_hash(parent, key, index) & mask; l->slots[i]; i = (i + 1) & mask) {
		const struct berth__app_pos *p = &l->v[l->slots[i] - 1];
		if (pos_is(p, parent, key, index))
			return p;
	}
	return NULL;
}

static void slots_insert(struct berth__app_lines *l, size_t entry)
{
	const struct berth__app_pos *p = &l->v[entry];
	size_t mask = l->nslots - 1;
	size_t i = pos_hash(p->parent, p->key, p->index) & mask;
	while (l->slots[i])
		i = (i + 1) & mask;
	l->slots[i] = entry + 1;
}

static void lines_add(struct berth__app_lines *l, const json_t *parent, const char *key,
		      size_t index, int line, const char *raw)
{
	l->v = berth_xgrow(l->v, sizeof(*l->v), l->n + 1, &l->cap);
	l->v[l->n++] = (struct berth__app_pos){
	    .parent = parent,
	    .key = key ? berth_xstrdup(key) : NULL,
	    .index = index,
	    .line = line,
	    .raw = raw ? berth_xstrdup(raw) : NULL,
	};
	if (l->n * 2 > l->nslots) {
		free(l->slots);
		l->nslots = l->nslots ? l->nslots * 2 : 64;
		l->slots = berth_xcalloc(l->nslots, sizeof(*l->slots));
		for (size_t i = 0; i < l->n; i++)
			slots_insert(l, i);
	} else {
		slots_insert(l, l->n - 1);
	}
}

struct anchor {
	char *name;
	json_t *node; /* a reference */
	char *raw;    /* the text of a number scalar, or NULL */
	size_t nodes; /* values it stands for, aliases inside counted expanded */
	int height;   /* 1 for a scalar */
};

struct yconv {
	yaml_parser_t p;
	const char *text;
	size_t len;
	struct berth__app_lines *lines;
	struct anchor *anchors;
	size_t nanchors, canchors;
	size_t nodes; /* values so far, aliases expanded */
	struct berth_err **err;
};

/* What parse_node hands back: the value and what an anchor on it records. */
struct node {
	json_t *v;
	char *raw;
	size_t nodes;
	int height;
};

static int mark_line(yaml_mark_t m)
{
	return m.line >= (size_t)INT32_MAX ? INT32_MAX : (int)m.line + 1;
}

static int offset_line(const struct yconv *c, size_t off)
{
	int line = 1;
	for (size_t i = 0; i < off && i < c->len; i++)
		line += c->text[i] == '\n';
	return line;
}

static int parser_error(struct yconv *c)
{
	yaml_parser_t *p = &c->p;
	if (p->error == YAML_MEMORY_ERROR)
		berth_oom();
	const char *problem = p->problem ? p->problem : "invalid yaml";
	if (p->error == YAML_READER_ERROR)
		return berth_err_set_line(c->err, BERTH_E_INVALID,
					  offset_line(c, p->problem_offset),
					  "yaml: %s at byte %zu (a berth.yaml is UTF-8 text)",
					  problem, p->problem_offset);
	int line = mark_line(p->problem_mark);
	if (p->context && mark_line(p->context_mark) != line)
		return berth_err_set_line(c->err, BERTH_E_INVALID, line, "yaml: %s (%s on line %d)",
					  problem, p->context, mark_line(p->context_mark));
	if (p->context)
		return berth_err_set_line(c->err, BERTH_E_INVALID, line, "yaml: %s (%s)", problem,
					  p->context);
	return berth_err_set_line(c->err, BERTH_E_INVALID, line, "yaml: %s", problem);
}

static int next(struct yconv *c, yaml_event_t *ev)
{
	if (!yaml_parser_parse(&c->p, ev))
		return parser_error(c);
	return 0;
}

/* --- YAML 1.2 core schema for plain scalars --- */

enum kind { K_STR, K_NULL, K_BOOL, K_INT, K_FLOAT };

static bool all_of(const char *s, const char *set)
{
	return *s && s[strspn(s, set)] == '\0';
}

static bool is_core_float(const char *s)
{
	if (*s == '-' || *s == '+')
		s++;
	size_t ip = strspn(s, "0123456789");
	s += ip;
	if (*s == '.') {
		size_t fp = strspn(s + 1, "0123456789");
		if (!ip && !fp)
			return false;
		s += 1 + fp;
	} else if (!ip) {
		return false;
	}
	if (*s == 'e' || *s == 'E') {
		s++;
		if (*s == '-' || *s == '+')
			s++;
		if (!all_of(s, "0123456789"))
			return false;
		s += strlen(s);
	}
	return *s == '\0';
}

/* An integer, or the nearest double when it does not fit in 64 bits. */
static json_t *core_int(const char *digits, int base, bool neg)
{
	errno = 0;
	unsigned long long u = strtoull(digits, NULL, base);
	if (errno != ERANGE && u <= (unsigned long long)INT64_MAX)
		return json_integer(neg ? -(json_int_t)u : (json_int_t)u);
	if (errno != ERANGE && neg && u == (unsigned long long)INT64_MAX + 1)
		return json_integer(INT64_MIN);
	double d = 0;
	for (const char *p = digits; *p; p++)
		d = d * base +
		    (double)(isdigit((unsigned char)*p) ? *p - '0' : (*p | 0x20) - 'a' + 10);
	return json_real(neg ? -d : d);
}

/* Resolve a plain scalar: null, bool, int, float or string. NULL (with
 * K_STR) means "a string": that includes .inf and .nan, which JSON cannot
 * hold, and floats too large for a double. */
static json_t *resolve_plain(const char *s, enum kind *kind)
{
	static const char *const nulls[] = {"", "~", "null", "Null", "NULL"};
	static const char *const trues[] = {"true", "True", "TRUE"};
	static const char *const falses[] = {"false", "False", "FALSE"};
	for (size_t i = 0; i < BERTH_ARRAY_SIZE(nulls); i++)
		if (!strcmp(s, nulls[i]))
			return *kind = K_NULL, json_null();
	for (size_t i = 0; i < BERTH_ARRAY_SIZE(trues); i++) {
		if (!strcmp(s, trues[i]))
			return *kind = K_BOOL, json_true();
		if (!strcmp(s, falses[i]))
			return *kind = K_BOOL, json_false();
	}
	const char *d = s + (*s == '-' || *s == '+');
	if (all_of(d, "0123456789"))
		return *kind = K_INT, core_int(d, 10, *s == '-');
	if (!strncmp(s, "0o", 2) && all_of(s + 2, "01234567"))
		return *kind = K_INT, core_int(s + 2, 8, false);
	if (!strncmp(s, "0x", 2) && all_of(s + 2, "0123456789abcdefABCDEF"))
		return *kind = K_INT, core_int(s + 2, 16, false);
	if (is_core_float(s)) {
		double v = strtod(s, NULL);
		if (isfinite(v))
			return *kind = K_FLOAT, json_real(v);
	}
	*kind = K_STR;
	return NULL;
}

static const char *describe_kind(enum kind k)
{
	switch (k) {
	case K_NULL:
		return "null";
	case K_BOOL:
		return "bool";
	case K_INT:
		return "int";
	case K_FLOAT:
		return "float";
	default:
		return "str";
	}
}

static int scalar_value(struct yconv *c, yaml_event_t *ev, struct node *o)
{
	const char *s = (const char *)ev->data.scalar.value;
	size_t len = ev->data.scalar.length;
	int line = mark_line(ev->start_mark);
	if (memchr(s, '\0', len))
		return berth_err_set_line(c->err, BERTH_E_INVALID, line,
					  "a string holds a NUL character");
	const char *tag = (const char *)ev->data.scalar.tag;
	bool plain = ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
	enum kind kind = K_STR;
	json_t *v = NULL;
	if (tag && strcmp(tag, "!") && strcmp(tag, TAG_PREFIX "str")) {
		/* !!null, !!bool, !!int, !!float: the text must be one. */
		static const char *const tags[] = {"null", "bool", "int", "float"};
		size_t i = 0;
		for (; i < BERTH_ARRAY_SIZE(tags); i++)
			if (!strncmp(tag, TAG_PREFIX, strlen(TAG_PREFIX)) &&
			    !strcmp(tag + strlen(TAG_PREFIX), tags[i]))
				break;
		if (i == BERTH_ARRAY_SIZE(tags))
			return berth_err_set_line(c->err, BERTH_E_UNSUPPORTED, line,
						  "unsupported tag '%s' (berth.yaml knows !!str, "
						  "!!int, !!float, !!bool and !!null)",
						  tag);
		v = resolve_plain(s, &kind);
		bool match = !strcmp(tags[i], describe_kind(kind)) ||
			     (kind == K_INT && !strcmp(tags[i], "float"));
		if (!match) {
			json_decref(v);
			return berth_err_set_line(c->err, BERTH_E_INVALID, line,
						  "'%s' is not a valid !!%s", s, tags[i]);
		}
		if (kind == K_INT && !strcmp(tags[i], "float")) {
			json_t *r = json_real(strtod(s, NULL));
			json_decref(v);
			v = r;
			kind = K_FLOAT;
		}
	} else if (plain && !tag) {
		v = resolve_plain(s, &kind);
	}
	if (!v) {
		v = json_stringn(s, len);
		if (!v)
			return berth_err_set_line(c->err, BERTH_E_INVALID, line,
						  "a string is not valid UTF-8");
	}
	o->v = v;
	o->raw = kind == K_INT || kind == K_FLOAT ? berth_xstrdup(s) : NULL;
	return 0;
}

static const char *event_anchor(const yaml_event_t *ev)
{
	switch (ev->type) {
	case YAML_SCALAR_EVENT:
		return (const char *)ev->data.scalar.anchor;
	case YAML_SEQUENCE_START_EVENT:
		return (const char *)ev->data.sequence_start.anchor;
	case YAML_MAPPING_START_EVENT:
		return (const char *)ev->data.mapping_start.anchor;
	default:
		return NULL;
	}
}

static void anchor_add(struct yconv *c, const char *name, const struct node *n)
{
	c->anchors = berth_xgrow(c->anchors, sizeof(*c->anchors), c->nanchors + 1, &c->canchors);
	c->anchors[c->nanchors++] = (struct anchor){
	    .name = berth_xstrdup(name),
	    .node = json_incref(n->v),
	    .raw = n->raw ? berth_xstrdup(n->raw) : NULL,
	    .nodes = n->nodes,
	    .height = n->height,
	};
}

static int count_node(struct yconv *c, size_t n, int line)
{
	if (n > BERTH_APP_YAML_MAX_NODES - c->nodes)
		return berth_err_set_line(c->err, BERTH_E_LIMIT, line,
					  "the document holds more than %u values (each use of an "
					  "alias counts all the values it stands for)",
					  BERTH_APP_YAML_MAX_NODES);
	c->nodes += n;
	return 0;
}

static void node_release(struct node *n)
{
	json_decref(n->v);
	free(n->raw);
	*n = (struct node){0};
}

static int parse_node(struct yconv *c, yaml_event_t *ev, int depth, struct node *o);

static int parse_alias(struct yconv *c, yaml_event_t *ev, int depth, struct node *o)
{
	const char *name = (const char *)ev->data.alias.anchor;
	int line = mark_line(ev->start_mark);
	const struct anchor *a = NULL;
	for (size_t i = c->nanchors; i-- > 0;) {
		if (!strcmp(c->anchors[i].name, name)) {
			a = &c->anchors[i];
			break;
		}
	}
	if (!a)
		return berth_err_set_line(c->err, BERTH_E_INVALID, line,
					  "alias '*%s' names no anchor '&%s' before it", name,
					  name);
	/* The alias itself was counted as one value; it stands for a->nodes. */
	int r = count_node(c, a->nodes - 1, line);
	if (r < 0)
		return r;
	if (depth + a->height - 1 > BERTH_APP_YAML_MAX_DEPTH)
		return berth_err_set_line(c->err, BERTH_E_LIMIT, line,
					  "alias '*%s' nests values deeper than %d levels", name,
					  BERTH_APP_YAML_MAX_DEPTH);
	o->v = json_incref(a->node);
	o->raw = a->raw ? berth_xstrdup(a->raw) : NULL;
	o->nodes = a->nodes;
	o->height = a->height;
	return 0;
}

static int parse_sequence(struct yconv *c, int depth, struct node *o)
{
	json_t *arr = json_array();
	o->v = arr;
	for (size_t i = 0;; i++) {
		yaml_event_t ev;
		int r = next(c, &ev);
		if (r < 0)
			return r;
		if (ev.type == YAML_SEQUENCE_END_EVENT) {
			yaml_event_delete(&ev);
			return 0;
		}
		struct node child = {0};
		r = parse_node(c, &ev, depth + 1, &child);
		int line = mark_line(ev.start_mark);
		yaml_event_delete(&ev);
		if (r < 0) {
			node_release(&child);
			return r;
		}
		lines_add(c->lines, arr, NULL, i, line, child.raw);
		json_array_append(arr, child.v);
		o->nodes += child.nodes;
		if (child.height + 1 > o->height)
			o->height = child.height + 1;
		node_release(&child);
	}
}

/* The text of a mapping key: a scalar, never an alias or a collection. */
static int mapping_key(struct yconv *c, yaml_event_t *ev, const json_t *obj, char **key)
{
	int line = mark_line(ev->start_mark);
	if (ev->type == YAML_ALIAS_EVENT)
		return berth_err_set_line(c->err, BERTH_E_UNSUPPORTED, line,
					  "an alias cannot be a key ('*%s')",
					  (const char *)ev->data.alias.anchor);
	if (ev->type != YAML_SCALAR_EVENT)
		return berth_err_set_line(
		    c->err, BERTH_E_INVALID, line, "a key must be a plain string, not a %s",
		    ev->type == YAML_MAPPING_START_EVENT ? "mapping" : "list");
	const char *s = (const char *)ev->data.scalar.value;
	size_t len = ev->data.scalar.length;
	if (memchr(s, '\0', len))
		return berth_err_set_line(c->err, BERTH_E_INVALID, line,
					  "a key holds a NUL character");
	if (ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE && !strcmp(s, "<<"))
		return berth_err_set_line(c->err, BERTH_E_UNSUPPORTED, line,
					  "merge keys ('<<') are not supported: write the keys out "
					  "or use an alias for the whole value");
	if (json_object_get(obj, s)) {
		const struct berth__app_pos *first = berth__app_lines_find(c->lines, obj, s, 0);
		return berth_err_set_line(c->err, BERTH_E_INVALID, line,
					  "duplicate key '%s' (first on line %d)", s,
					  first ? first->line : 0);
	}
	int r = count_node(c, 1, line);
	if (r < 0)
		return r;
	*key = berth_xstrndup(s, len);
	return 0;
}

static int parse_mapping(struct yconv *c, int depth, struct node *o)
{
	json_t *obj = json_object();
	o->v = obj;
	for (;;) {
		yaml_event_t kev, vev;
		int r = next(c, &kev);
		if (r < 0)
			return r;
		if (kev.type == YAML_MAPPING_END_EVENT) {
			yaml_event_delete(&kev);
			return 0;
		}
		_cleanup_free_ char *key = NULL;
		r = mapping_key(c, &kev, obj, &key);
		int line = mark_line(kev.start_mark);
		yaml_event_delete(&kev);
		if (r < 0)
			return r;
		r = next(c, &vev);
		if (r < 0)
			return r;
		struct node child = {0};
		r = parse_node(c, &vev, depth + 1, &child);
		yaml_event_delete(&vev);
		if (r < 0) {
			node_release(&child);
			return r;
		}
		if (json_object_set(obj, key, child.v) < 0) {
			node_release(&child);
			return berth_err_set_line(c->err, BERTH_E_INVALID, line,
						  "a key is not valid UTF-8");
		}
		lines_add(c->lines, obj, key, 0, line, child.raw);
		o->nodes += child.nodes + 1; /* the key counted too */
		if (child.height + 1 > o->height)
			o->height = child.height + 1;
		node_release(&child);
	}
}

/* ev is the node's first event (the caller deletes it). On error o may hold
 * a partial value: the caller releases it. */
static int parse_node(struct yconv *c, yaml_event_t *ev, int depth, struct node *o)
{
	int line = mark_line(ev->start_mark);
	if (depth > BERTH_APP_YAML_MAX_DEPTH)
		return berth_err_set_line(c->err, BERTH_E_LIMIT, line,
					  "values nest deeper than %d levels",
					  BERTH_APP_YAML_MAX_DEPTH);
	int r = count_node(c, 1, line);
	if (r < 0)
		return r;
	*o = (struct node){.nodes = 1, .height = 1};
	switch (ev->type) {
	case YAML_ALIAS_EVENT:
		return parse_alias(c, ev, depth, o);
	case YAML_SCALAR_EVENT:
		r = scalar_value(c, ev, o);
		break;
	case YAML_SEQUENCE_START_EVENT:
		r = parse_sequence(c, depth, o);
		break;
	case YAML_MAPPING_START_EVENT:
		r = parse_mapping(c, depth, o);
		break;
	default:
		return berth_err_set_line(c->err, BERTH_E_INTERNAL, line,
					  "yaml: unexpected event %d", (int)ev->type);
	}
	if (r < 0)
		return r;
	const char *anchor = event_anchor(ev);
	if (anchor)
		anchor_add(c, anchor, o);
	return 0;
}

static const char *describe_top(const json_t *v)
{
	switch (json_typeof(v)) {
	case JSON_ARRAY:
		return "a list";
	case JSON_STRING:
		return "a string";
	case JSON_INTEGER:
	case JSON_REAL:
		return "a number";
	default:
		return "a boolean";
	}
}

/* Expect an event of `type`: a second document where the stream should end
 * is the user's mistake, anything else a bug. */
static int expect(struct yconv *c, yaml_event_type_t type)
{
	yaml_event_t ev;
	int r = next(c, &ev);
	if (r < 0)
		return r;
	bool ok = ev.type == type;
	int line = mark_line(ev.start_mark);
	yaml_event_type_t got = ev.type;
	yaml_event_delete(&ev);
	if (ok)
		return 0;
	if (type == YAML_STREAM_END_EVENT && got == YAML_DOCUMENT_START_EVENT)
		return berth_err_set_line(c->err, BERTH_E_INVALID, line,
					  "a berth.yaml holds one document: remove the second, "
					  "which starts on line %d",
					  line);
	return berth_err_set_line(c->err, BERTH_E_INTERNAL, line, "yaml: unexpected event %d",
				  (int)got);
}

static int parse_document(struct yconv *c, json_t **out)
{
	int r = expect(c, YAML_STREAM_START_EVENT);
	if (r < 0)
		return r;
	yaml_event_t ev;
	if ((r = next(c, &ev)) < 0)
		return r;
	if (ev.type == YAML_STREAM_END_EVENT) {
		yaml_event_delete(&ev);
		return berth_err_set_line(c->err, BERTH_E_INVALID, 1,
					  "the document is empty: a berth.yaml is a mapping of "
					  "keys such as 'name:' and 'image:'");
	}
	bool doc = ev.type == YAML_DOCUMENT_START_EVENT;
	yaml_event_delete(&ev);
	if (!doc)
		return berth_err_set(c->err, BERTH_E_INTERNAL, "yaml: no document start");
	if ((r = next(c, &ev)) < 0)
		return r;
	struct node root = {0};
	int line = mark_line(ev.start_mark);
	r = parse_node(c, &ev, 1, &root);
	yaml_event_delete(&ev);
	if (r == 0 && json_is_null(root.v))
		r = berth_err_set_line(c->err, BERTH_E_INVALID, 1,
				       "the document is empty: a berth.yaml is a mapping of "
				       "keys such as 'name:' and 'image:'");
	else if (r == 0 && !json_is_object(root.v))
		r = berth_err_set_line(c->err, BERTH_E_INVALID, line,
				       "the top level must be a mapping of keys such as 'name:' "
				       "and 'image:', got %s",
				       describe_top(root.v));
	if (r == 0)
		r = expect(c, YAML_DOCUMENT_END_EVENT);
	if (r == 0)
		r = expect(c, YAML_STREAM_END_EVENT);
	if (r < 0) {
		node_release(&root);
		return r;
	}
	lines_add(c->lines, NULL, NULL, 0, line, NULL);
	*out = root.v;
	free(root.raw);
	return 0;
}

int berth__app_yaml_parse(const char *text, size_t len, json_t **out,
			  struct berth__app_lines *lines, struct berth_err **err)
{
	*out = NULL;
	*lines = (struct berth__app_lines){0};
	if (len > BERTH_APP_SPEC_MAX)
		return berth_err_set(err, BERTH_E_LIMIT,
				     "the document is larger than the limit of %u bytes",
				     BERTH_APP_SPEC_MAX);
	struct yconv c = {.text = text, .len = len, .lines = lines, .err = err};
	if (!yaml_parser_initialize(&c.p))
		berth_oom();
	yaml_parser_set_input_string(&c.p, (const unsigned char *)text, len);
	int r = parse_document(&c, out);
	yaml_parser_delete(&c.p);
	for (size_t i = 0; i < c.nanchors; i++) {
		free(c.anchors[i].name);
		free(c.anchors[i].raw);
		json_decref(c.anchors[i].node);
	}
	free(c.anchors);
	if (r < 0)
		berth__app_lines_release(lines);
	return r;
}
