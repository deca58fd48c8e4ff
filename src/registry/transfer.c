/* Moving images between a registry and the store: `berth pull` resolves a
 * reference, stores the manifest and config, downloads the missing layers in
 * parallel into verified blobs, unpacks each layer into layers/<chain-id>
 * (checking its DiffID against the config) with one thread per core, and tags
 * the image; `berth push` uploads blobs the registry lacks, then the manifest. */
#include "registry/registry.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

__attribute__((format(printf, 2, 3))) static void status(const struct berth_transfer_opts *o,
							 const char *fmt, ...)
{
	if (!o || !o->status)
		return;
	va_list ap;
	va_start(ap, fmt);
	_cleanup_free_ char *line = berth_xvasprintf(fmt, ap);
	va_end(ap);
	o->status(o->ctx, line);
}

/* A session with the registry of `ref`, with credentials looked up. */
static int open_session(const struct berth_ref *ref, const struct berth_transfer_opts *o,
			struct berth_registry **out, struct berth_err **err)
{
	struct berth_cred cred = {0};
	const char *origin = NULL;
	if (o && o->creds && berth_creds_lookup(o->creds, ref->domain, &cred, &origin, err) < 0)
		return -BERTH_E_INVALID;
	struct berth_registry_opts ro = {
	    .insecure = o && o->insecure && berth_strv_contains(o->insecure, ref->domain),
	    .cred = cred,
	};
	int r = berth_registry_new(berth_ref_api_host(ref), &ro, out, err);
	berth_cred_release(&cred);
	return r;
}

/* --- downloading into blobs --- */

/* Called when a blob has been committed to the store (from the thread
 * that runs the download). */
typedef void (*blob_stored_fn)(void *ctx, const char *digest);

struct blob_sink {
	struct berth_store *s;
	const char *digest;
	int64_t size;
	struct berth_blob_writer *w;
	bool stored;
	blob_stored_fn on_stored;
	void *on_stored_ctx;
};

/* Writes into a blob writer and commits it as soon as the last byte is in,
 * so the layer can be unpacked while other blobs still download. A digest
 * mismatch is not the sink's error: the client sees it too, resets the sink
 * and retries. */
static int sink_write(void *ctx, const void *data, size_t len, struct berth_err **err)
{
	struct blob_sink *b = ctx;
	if (!b->w && berth_blob_writer_new(b->s, b->digest, b->size, &b->w, err) < 0)
		return -BERTH_E_SYS;
	if (berth_blob_write(b->w, data, len, err) < 0)
		return -BERTH_E_INVALID;
	if (b->size < 0 || berth_blob_writer_size(b->w) != b->size)
		return 0;
	struct berth_err *e = NULL;
	int r = berth_blob_commit(steal_pointer(&b->w), NULL, &e);
	berth_err_free(e);
	if (r == 0) {
		b->stored = true;
		if (b->on_stored)
			b->on_stored(b->on_stored_ctx, b->digest);
	}
	return 0;
}

static int sink_reset(void *ctx, struct berth_err **err)
{
	struct blob_sink *b = ctx;
	berth_blob_abort(b->w);
	b->w = NULL;
	b->stored = false;
	return 0;
}

/* Download the descriptors that are not in the store yet; on_stored (may
 * be NULL) hears of each blob as it lands. */
static int fetch_missing(struct berth_store *s, struct berth_registry *reg, const char *repo,
			 const struct berth_descriptor *descs, size_t n,
			 const struct berth_transfer_opts *o, blob_stored_fn on_stored,
			 void *on_stored_ctx, struct berth_err **err)
{
	struct berth_blob_job *jobs = berth_xcalloc(n, sizeof(*jobs));
	struct blob_sink *sinks = berth_xcalloc(n, sizeof(*sinks));
	size_t k = 0;
	for (size_t i = 0; i < n; i++) {
		if (berth_blob_exists(s, descs[i].digest))
			continue;
		sinks[k] = (struct blob_sink){.s = s,
					      .digest = descs[i].digest,
					      .size = descs[i].size,
					      .on_stored = on_stored,
					      .on_stored_ctx = on_stored_ctx};
		jobs[k] = (struct berth_blob_job){.digest = descs[i].digest,
						  .size = descs[i].size,
						  .sink = sink_write,
						  .reset = sink_reset,
						  .ctx = &sinks[k]};
		k++;
	}
	int r = 0;
	if (k) {
		status(o, "downloading %zu blob%s", k, k == 1 ? "" : "s");
		r = berth_registry_fetch_blobs(reg, repo, jobs, k, o ? o->progress : NULL,
					       o ? o->ctx : NULL, err);
	}
	for (size_t i = 0; i < k; i++) {
		bool stored = sinks[i].stored;
		if (r == 0 && !stored) {
			/* An empty blob never reaches the sink. */
			r = sinks[i].w ? berth_blob_commit(steal_pointer(&sinks[i].w), NULL, err)
				       : berth_blob_put(s, "", 0, jobs[i].digest, NULL, err);
			if (r == 0 && on_stored)
				on_stored(on_stored_ctx, jobs[i].digest);
		}
		berth_blob_abort(sinks[i].w);
		berth_err_free(jobs[i].err);
	}
	free(jobs);
	free(sinks);
	return r;
}

/* --- unpacking --- */

struct unpack_job {
	struct berth_store *s;
	const struct berth_descriptor *layer;
	const char *diff_id;
	char chain[BERTH_DIGEST_LEN + 1];
	int result;
	struct berth_err *err;
};

static int unpack_one(struct unpack_job *j, struct berth_err **err)
{
	if (berth_store_layer_ready(j->s, j->chain))
		return 0;
	_cleanup_close_ int fd = berth_blob_open(j->s, j->layer->digest, err);
	if (fd < 0)
		return fd;
	int comp = berth_compression_of(j->layer->media_type);
	if (comp < 0)
		return berth_err_set(err, BERTH_E_UNSUPPORTED,
				     "layer %s: unsupported media type '%s'", j->layer->digest,
				     j->layer->media_type);
	_cleanup_free_ char *final = berth_store_layer_dir(j->s, j->chain);
	_cleanup_free_ char *tmp =
	    berth_xasprintf("%s/layers/%d-%s", berth_store_home(j->s), (int)getpid(), j->chain + 7);
	if (mkdir(tmp, 0755) < 0 && errno != EEXIST)
		return berth_err_sys(err, errno, "create '%s'", tmp);
	_cleanup_close_ int dirfd = open(tmp, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dirfd < 0)
		return berth_err_sys(err, errno, "open '%s'", tmp);
	struct berth_layer_reader *rd;
	int r = berth_layer_reader_new(fd, comp, &rd, err);
	if (r == 0) {
		struct berth_apply_opts ao = {.keep_owners = geteuid() == 0,
					      .overlay_whiteouts = true};
		r = berth_layer_apply(rd, dirfd, &ao, err);
		char digest[BERTH_DIGEST_LEN + 1], diff_id[BERTH_DIGEST_LEN + 1];
		if (r == 0) {
			berth_layer_reader_digests(rd, digest, diff_id);
			if (strcmp(diff_id, j->diff_id))
				r = berth_err_set(err, BERTH_E_INVALID,
						  "layer %s: uncompressed digest %s does not match "
						  "the config's diff_id %s",
						  j->layer->digest, diff_id, j->diff_id);
		}
		berth_layer_reader_free(rd);
	}
	if (r == 0 && rename(tmp, final) < 0 && errno != ENOTEMPTY && errno != EEXIST)
		r = berth_err_sys(err, errno, "move layer into '%s'", final);
	if (r < 0 || berth_store_layer_ready(j->s, j->chain))
		berth_fs_remove_tree(AT_FDCWD, tmp, NULL); /* failed, or lost a race */
	if (r < 0)
		berth_err_prefix(err, "unpack layer %s", j->layer->digest);
	return r;
}

/* Layers are unpacked by one worker per core as soon as their blob is in
 * the store: before a pull starts for those already there, the others as
 * their downloads finish. */
struct unpack_queue {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct unpack_job *jobs;
	bool *ready, *taken;
	size_t n;
	bool closed; /* no more layers will become ready */
	pthread_t th[16];
	size_t nthreads;
};

static void *unpack_worker(void *arg)
{
	struct unpack_queue *q = arg;
	pthread_mutex_lock(&q->lock);
	for (;;) {
		size_t i = 0;
		while (i < q->n && (!q->ready[i] || q->taken[i]))
			i++;
		if (i == q->n) {
			if (q->closed)
				break;
			pthread_cond_wait(&q->cond, &q->lock);
			continue;
		}
		q->taken[i] = true;
		pthread_mutex_unlock(&q->lock);
		q->jobs[i].result = unpack_one(&q->jobs[i], &q->jobs[i].err);
		pthread_mutex_lock(&q->lock);
	}
	pthread_mutex_unlock(&q->lock);
	return NULL;
}

static void unpack_mark_ready(void *ctx, const char *digest)
{
	struct unpack_queue *q = ctx;
	pthread_mutex_lock(&q->lock);
	for (size_t i = 0; i < q->n; i++)
		if (!strcmp(q->jobs[i].layer->digest, digest))
			q->ready[i] = true;
	pthread_cond_broadcast(&q->cond);
	pthread_mutex_unlock(&q->lock);
}

static int unpack_start(struct unpack_queue *q, struct berth_store *s,
			const struct berth_manifest *m, const struct berth_image_config *cfg,
			struct berth_err **err)
{
	memset(q, 0, sizeof(*q));
	if (cfg->diff_ids.n != m->nlayers)
		return berth_err_set(err, BERTH_E_INVALID,
				     "image has %zu layers but its config lists %zu diff_ids",
				     m->nlayers, cfg->diff_ids.n);
	q->n = m->nlayers;
	q->jobs = berth_xcalloc(q->n, sizeof(*q->jobs));
	q->ready = berth_xcalloc(q->n, sizeof(bool));
	q->taken = berth_xcalloc(q->n, sizeof(bool));
	pthread_mutex_init(&q->lock, NULL);
	pthread_cond_init(&q->cond, NULL);
	const char *parent = NULL;
	for (size_t i = 0; i < q->n; i++) {
		struct unpack_job *j = &q->jobs[i];
		j->s = s;
		j->layer = &m->layers[i];
		j->diff_id = cfg->diff_ids.v[i];
		berth_chain_id(parent, j->diff_id, j->chain);
		parent = j->chain;
		q->ready[i] = berth_blob_exists(s, j->layer->digest);
	}
	long cores = sysconf(_SC_NPROCESSORS_ONLN);
	size_t want = cores > 1 ? (size_t)cores : 1;
	if (want > q->n)
		want = q->n;
	if (want > BERTH_ARRAY_SIZE(q->th))
		want = BERTH_ARRAY_SIZE(q->th);
	for (; q->nthreads < want; q->nthreads++)
		if (pthread_create(&q->th[q->nthreads], NULL, unpack_worker, q) != 0)
			break;
	return 0;
}

/* Close the queue, wait for the workers (or do the work here when none
 * could start) and collect the first error. `failed`: the download failed,
 * so layers never made ready are not an error of their own. */
static int unpack_finish(struct unpack_queue *q, bool failed, struct berth_err **err)
{
	pthread_mutex_lock(&q->lock);
	q->closed = true;
	pthread_cond_broadcast(&q->cond);
	pthread_mutex_unlock(&q->lock);
	if (q->nthreads == 0 && q->n)
		unpack_worker(q);
	for (size_t i = 0; i < q->nthreads; i++)
		pthread_join(q->th[i], NULL);
	int r = 0;
	for (size_t i = 0; i < q->n; i++) {
		if (!failed && !q->taken[i] && r == 0)
			r = berth_err_set(err, BERTH_E_INTERNAL, "layer %s was never unpacked",
					  q->jobs[i].layer->digest);
		if (q->jobs[i].result < 0 && r == 0) {
			r = q->jobs[i].result;
			if (err && !*err)
				*err = steal_pointer(&q->jobs[i].err);
		}
		berth_err_free(q->jobs[i].err);
	}
	if (q->jobs) {
		pthread_mutex_destroy(&q->lock);
		pthread_cond_destroy(&q->cond);
	}
	free(q->jobs);
	free(q->ready);
	free(q->taken);
	return r;
}

int berth_image_unpack(struct berth_store *s, const char *manifest_digest,
		       berth_status_fn status_fn, void *ctx, struct berth_err **err)
{
	struct berth_manifest m;
	struct berth_image_config cfg;
	if (berth_image_load(s, manifest_digest, &m, &cfg, err) < 0)
		return -BERTH_E_INVALID;
	struct berth_transfer_opts o = {.status = status_fn, .ctx = ctx};
	struct unpack_queue q;
	if (m.nlayers)
		status(&o, "unpacking %zu layer%s", m.nlayers, m.nlayers == 1 ? "" : "s");
	int r = unpack_start(&q, s, &m, &cfg, err);
	if (r == 0)
		r = unpack_finish(&q, false, err);
	berth_manifest_release(&m);
	berth_image_config_release(&cfg);
	return r;
}

/* --- the pull --- */

/* Fetch the manifest `ref` and store its exact bytes. */
static int fetch_manifest(struct berth_store *s, struct berth_registry *reg, const char *repo,
			  const char *ref, struct berth_manifest *m,
			  char digest[BERTH_DIGEST_LEN + 1], int64_t *len, struct berth_err **err)
{
	_cleanup_buf_ struct berth_buf body;
	berth_buf_init(&body, BERTH_MANIFEST_MAX);
	_cleanup_free_ char *media_type = NULL;
	if (berth_registry_get_manifest(reg, repo, ref, &body, &media_type, digest, err) < 0 ||
	    berth_manifest_parse(body.data, body.len, media_type, m, err) < 0)
		return -BERTH_E_INVALID;
	*len = (int64_t)body.len;
	if (berth_blob_put(s, body.data, body.len, digest, NULL, err) < 0) {
		berth_manifest_release(m);
		return -BERTH_E_SYS;
	}
	return 0;
}

static int pull_image(struct berth_store *s, const struct berth_ref *ref,
		      struct berth_registry *reg, const struct berth_transfer_opts *o,
		      struct berth_image_entry *out, struct berth_err **err)
{
	const char *os = o && o->os ? o->os : "linux";
	const char *arch = o && o->arch ? o->arch : "amd64";
	struct berth_manifest m;
	char digest[BERTH_DIGEST_LEN + 1];
	int64_t mlen;
	if (fetch_manifest(s, reg, ref->path, berth_ref_api_ref(ref), &m, digest, &mlen, err) < 0)
		return -BERTH_E_INVALID;
	if (m.kind == BERTH_MANIFEST_INDEX) {
		const struct berth_descriptor *d;
		if (berth_manifest_select(&m, os, arch, NULL, &d, err) < 0) {
			berth_manifest_release(&m);
			return -BERTH_E_NOT_FOUND;
		}
		char want[BERTH_DIGEST_LEN + 1];
		snprintf(want, sizeof(want), "%s", d->digest);
		berth_manifest_release(&m);
		status(o, "index: %s/%s is %s", os, arch, want);
		if (fetch_manifest(s, reg, ref->path, want, &m, digest, &mlen, err) < 0)
			return -BERTH_E_INVALID;
		if (m.kind != BERTH_MANIFEST_IMAGE) {
			berth_manifest_release(&m);
			return berth_err_set(err, BERTH_E_INVALID, "index entry %s is not an image",
					     want);
		}
	}
	status(o, "manifest %s: %zu layer%s", digest, m.nlayers, m.nlayers == 1 ? "" : "s");
	int r = 0;
	for (size_t i = 0; i < m.nlayers && r == 0; i++)
		if (!berth_layer_media_type_ok(m.layers[i].media_type))
			r = berth_err_set(err, BERTH_E_UNSUPPORTED,
					  "layer %s has the unsupported media type '%s'",
					  m.layers[i].digest, m.layers[i].media_type);
	if (r == 0)
		r = fetch_missing(s, reg, ref->path, &m.config, 1, o, NULL, NULL, err);
	struct berth_image_config cfg = {0};
	if (r == 0) {
		_cleanup_buf_ struct berth_buf cb;
		berth_buf_init(&cb, BERTH_CONFIG_MAX);
		r = berth_blob_read(s, m.config.digest, BERTH_CONFIG_MAX, &cb, err);
		if (r == 0)
			r = berth_image_config_parse(cb.data, cb.len, &cfg, err);
	}
	/* Unpack workers start now and take each layer as it lands. */
	struct unpack_queue q;
	if (r == 0)
		r = unpack_start(&q, s, &m, &cfg, err);
	if (r == 0) {
		r = fetch_missing(s, reg, ref->path, m.layers, m.nlayers, o, unpack_mark_ready, &q,
				  err);
		int u = unpack_finish(&q, r < 0, r < 0 ? NULL : err);
		if (r == 0)
			r = u;
		if (r == 0)
			status(o, "unpacked %zu layer%s", m.nlayers, m.nlayers == 1 ? "" : "s");
	}
	int64_t size = mlen + m.config.size;
	for (size_t i = 0; i < m.nlayers; i++)
		size += m.layers[i].size;
	if (r == 0) {
		_cleanup_free_ char *name = berth_ref_string(ref);
		r = berth_store_tag(s, name, digest, m.media_type, size, err);
		if (r == 0 && out)
			r = berth_store_lookup(s, name, out, err);
	}
	berth_image_config_release(&cfg);
	berth_manifest_release(&m);
	return r;
}

int berth_pull(struct berth_store *s, const char *refstr, const struct berth_transfer_opts *o,
	       struct berth_image_entry *out, struct berth_err **err)
{
	struct berth_ref ref;
	if (berth_ref_parse(refstr, &ref, err) < 0)
		return -BERTH_E_INVALID;
	struct berth_registry *reg = NULL;
	int r = open_session(&ref, o, &reg, err);
	if (r == 0)
		r = pull_image(s, &ref, reg, o, out, err);
	if (r < 0) {
		_cleanup_free_ char *fam = berth_ref_familiar(&ref);
		berth_err_prefix(err, "pull '%s'", fam);
	}
	berth_registry_free(reg);
	berth_ref_release(&ref);
	return r;
}

/* --- push --- */

int berth_push(struct berth_store *s, const char *local, const char *remote,
	       const struct berth_transfer_opts *o, struct berth_err **err)
{
	struct berth_ref lref, rref;
	if (berth_ref_parse(local, &lref, err) < 0)
		return -BERTH_E_INVALID;
	if (berth_ref_parse(remote ? remote : local, &rref, err) < 0) {
		berth_ref_release(&lref);
		return -BERTH_E_INVALID;
	}
	_cleanup_free_ char *lname = berth_ref_string(&lref);
	_cleanup_free_ char *rfam = berth_ref_familiar(&rref);
	struct berth_image_entry e = {0};
	struct berth_manifest m = {0};
	struct berth_registry *reg = NULL;
	_cleanup_buf_ struct berth_buf mb;
	berth_buf_init(&mb, BERTH_MANIFEST_MAX);
	int r = berth_store_lookup(s, lname, &e, err);
	if (r == 0)
		r = berth_blob_read(s, e.digest, BERTH_MANIFEST_MAX, &mb, err);
	if (r == 0)
		r = berth_manifest_parse(mb.data, mb.len, NULL, &m, err);
	if (r == 0 && m.kind != BERTH_MANIFEST_IMAGE)
		r = berth_err_set(err, BERTH_E_UNSUPPORTED, "'%s' is an index; push an image",
				  local);
	if (r == 0)
		r = open_session(&rref, o, &reg, err);
	/* Layers and config first, the manifest last. */
	for (size_t i = 0; r == 0 && i <= m.nlayers; i++) {
		const struct berth_descriptor *d = i < m.nlayers ? &m.layers[i] : &m.config;
		_cleanup_close_ int fd = berth_blob_open(s, d->digest, err);
		if (fd < 0) {
			r = fd;
			break;
		}
		bool uploaded = false;
		r = berth_registry_push_blob(reg, rref.path, d->digest, d->size, fd,
					     strcmp(lref.domain, rref.domain) ? NULL : lref.path,
					     &uploaded, err);
		if (r == 0)
			status(o, "%s %s", uploaded ? "pushed" : "exists", d->digest);
	}
	if (r == 0)
		r = berth_registry_put_manifest(reg, rref.path, berth_ref_api_ref(&rref), mb.data,
						mb.len, m.media_type, err);
	if (r == 0)
		status(o, "pushed %s %s", rfam, e.digest);
	else
		berth_err_prefix(err, "push '%s'", rfam);
	berth_registry_free(reg);
	berth_manifest_release(&m);
	berth_image_entry_release(&e);
	berth_ref_release(&lref);
	berth_ref_release(&rref);
	return r;
}
