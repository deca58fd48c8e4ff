/* Reading layer blobs: media type -> compression, and a reader that turns a
 * gzip, zstd or plain blob into tar bytes while hashing both what it read
 * (the blob digest) and what it produced (the DiffID). */
#include "image/image.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <unistd.h>
#include <zlib.h>
#include <zstd.h>

#define READER_CHUNK (128u << 10) /* bytes read from the fd at a time */

int berth_compression_of(const char *media_type)
{
	static const struct {
		const char *media_type;
		enum berth_compression compression;
	} types[] = {
	    {BERTH_MT_OCI_LAYER, BERTH_COMPRESS_NONE},
	    {BERTH_MT_OCI_LAYER_GZIP, BERTH_COMPRESS_GZIP},
	    {BERTH_MT_OCI_LAYER_ZSTD, BERTH_COMPRESS_ZSTD},
	    {"application/vnd.oci.image.layer.nondistributable.v1.tar", BERTH_COMPRESS_NONE},
	    {"application/vnd.oci.image.layer.nondistributable.v1.tar+gzip", BERTH_COMPRESS_GZIP},
	    {"application/vnd.oci.image.layer.nondistributable.v1.tar+zstd", BERTH_COMPRESS_ZSTD},
	    {BERTH_MT_DOCKER_LAYER, BERTH_COMPRESS_GZIP},
	    {BERTH_MT_DOCKER_FOREIGN, BERTH_COMPRESS_GZIP},
	    /* Uncompressed Docker layers: not in the schema 2 spec, but
	     * containerd accepts and some tools write them. */
	    {"application/vnd.docker.image.rootfs.diff.tar", BERTH_COMPRESS_NONE},
	    {"application/vnd.docker.image.rootfs.foreign.diff.tar", BERTH_COMPRESS_NONE},
	};
	if (!media_type)
		return -1;
	for (size_t i = 0; i < BERTH_ARRAY_SIZE(types); i++)
		if (strcmp(media_type, types[i].media_type) == 0)
			return (int)types[i].compression;
	return -1;
}

struct berth_layer_reader {
	int fd; /* borrowed */
	enum berth_compression compression;
	struct berth_sha256 raw;   /* the bytes read from fd */
	struct berth_sha256 plain; /* the tar bytes handed out */
	uint8_t *in;               /* READER_CHUNK bytes read from fd */
	size_t in_pos, in_len;     /* unconsumed input is in[in_pos, in_len) */
	bool in_eof;               /* fd reached its end */
	bool ended;                /* the whole stream was read and checked */
	bool failed;               /* a read failed; the stream is unusable */
	z_stream z;
	bool z_ready;
	bool member_done; /* gzip: the last member ended; another may follow */
	bool frame_done;  /* zstd: the last frame ended and was flushed */
	ZSTD_DStream *zd;
	char digest[BERTH_DIGEST_LEN + 1];
	char diff_id[BERTH_DIGEST_LEN + 1];
};

/* One read(2) from fd appended to the input buffer, hashed as it comes;
 * sets in_eof at the end of fd. */
static int read_more(struct berth_layer_reader *r, struct berth_err **err)
{
	for (;;) {
		ssize_t n = read(r->fd, r->in + r->in_len, READER_CHUNK - r->in_len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return berth_err_sys(err, errno, "read layer blob");
		if (n == 0)
			r->in_eof = true;
		berth_sha256_update(&r->raw, r->in + r->in_len, (size_t)n);
		r->in_len += (size_t)n;
		return 0;
	}
}

/* Refill the input buffer when it is empty. Returns 0 (in_eof set at the
 * end of fd) or a negative code. */
static int reader_fill(struct berth_layer_reader *r, struct berth_err **err)
{
	if (r->in_pos < r->in_len || r->in_eof)
		return 0;
	r->in_pos = r->in_len = 0;
	return read_more(r, err);
}

/* Read until at least `want` bytes are buffered or fd ends (for magic). */
static int reader_prefetch(struct berth_layer_reader *r, size_t want, struct berth_err **err)
{
	while (r->in_len < want && !r->in_eof)
		if (read_more(r, err) < 0)
			return -BERTH_E_SYS;
	return 0;
}

static enum berth_compression detect_compression(const uint8_t *p, size_t len)
{
	static const uint8_t gzip_magic[] = {0x1f, 0x8b};
	static const uint8_t zstd_magic[] = {0x28, 0xb5, 0x2f, 0xfd};
	if (len >= sizeof(gzip_magic) && memcmp(p, gzip_magic, sizeof(gzip_magic)) == 0)
		return BERTH_COMPRESS_GZIP;
	if (len >= sizeof(zstd_magic) && memcmp(p, zstd_magic, sizeof(zstd_magic)) == 0)
		return BERTH_COMPRESS_ZSTD;
	return BERTH_COMPRESS_NONE;
}

void berth_layer_reader_free(struct berth_layer_reader *r)
{
	if (!r)
		return;
	if (r->z_ready)
		inflateEnd(&r->z);
	ZSTD_freeDStream(r->zd);
	berth_sha256_release(&r->raw);
	berth_sha256_release(&r->plain);
	free(r->in);
	free(r);
}

static void reader_freep(struct berth_layer_reader **r)
{
	berth_layer_reader_free(*r);
}

int berth_layer_reader_new(int fd, int compression, struct berth_layer_reader **out,
			   struct berth_err **err)
{
	if (compression != -1 && compression != BERTH_COMPRESS_NONE &&
	    compression != BERTH_COMPRESS_GZIP && compression != BERTH_COMPRESS_ZSTD)
		return berth_err_set(err, BERTH_E_INVALID, "layer reader: unknown compression %d",
				     compression);
	_cleanup_(reader_freep) struct berth_layer_reader *r = berth_xcalloc(1, sizeof(*r));
	r->fd = fd;
	r->in = berth_xmalloc(READER_CHUNK);
	berth_sha256_init(&r->raw);
	berth_sha256_init(&r->plain);

	if (compression == -1) {
		int rc = reader_prefetch(r, 4, err);
		if (rc < 0)
			return rc;
		compression = (int)detect_compression(r->in, r->in_len);
	}
	r->compression = (enum berth_compression)compression;

	if (r->compression == BERTH_COMPRESS_GZIP) {
		/* 16 + MAX_WBITS: gzip wrapper only, trailer CRC checked. */
		int zr = inflateInit2(&r->z, 16 + MAX_WBITS);
		if (zr == Z_MEM_ERROR)
			berth_oom();
		if (zr != Z_OK)
			return berth_err_set(err, BERTH_E_INTERNAL, "layer reader: zlib: %s",
					     r->z.msg ? r->z.msg : "cannot initialise");
		r->z_ready = true;
	} else if (r->compression == BERTH_COMPRESS_ZSTD) {
		r->zd = ZSTD_createDStream();
		if (!r->zd)
			berth_oom();
		/* The default window limit (128 MiB) stays: a larger one would
		 * let a hostile blob make us allocate gigabytes. */
	}
	*out = steal_pointer(&r);
	return 0;
}

/* A library message as the tail of ours: lower-case first letter. */
static int corrupt(struct berth_err **err, const char *what, const char *why)
{
	char first = why && *why ? (char)tolower((unsigned char)*why) : '?';
	return berth_err_set(err, BERTH_E_INVALID, "%s stream is corrupt: %c%s", what, first,
			     why && *why ? why + 1 : "");
}

static ssize_t read_plain(struct berth_layer_reader *r, uint8_t *buf, size_t len,
			  struct berth_err **err)
{
	if (r->in_pos < r->in_len) {
		size_t n = r->in_len - r->in_pos;
		if (n > len)
			n = len;
		memcpy(buf, r->in + r->in_pos, n);
		r->in_pos += n;
		return (ssize_t)n;
	}
	if (r->in_eof)
		return 0;
	/* Straight into the caller's buffer: no copy for plain tars. */
	for (;;) {
		ssize_t n = read(r->fd, buf, len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return berth_err_sys(err, errno, "read layer blob");
		}
		if (n == 0)
			r->in_eof = true;
		berth_sha256_update(&r->raw, buf, (size_t)n);
		return n;
	}
}

static ssize_t read_gzip(struct berth_layer_reader *r, uint8_t *buf, size_t len,
			 struct berth_err **err)
{
	r->z.next_out = buf;
	r->z.avail_out = len > UINT_MAX ? UINT_MAX : (uInt)len;
	uInt avail = r->z.avail_out;
	for (;;) {
		int rc = reader_fill(r, err);
		if (rc < 0)
			return rc;
		if (r->member_done) {
			if (r->in_pos == r->in_len)
				return 0; /* ended after a whole member */
			/* Concatenated members (pigz, appended layers): the
			 * next must be a gzip member too, as Go's reader
			 * insists; trailing garbage fails the header check. */
			inflateReset(&r->z);
			r->member_done = false;
		}
		r->z.next_in = r->in + r->in_pos;
		uInt in_avail = (uInt)(r->in_len - r->in_pos);
		r->z.avail_in = in_avail;
		int zr = inflate(&r->z, Z_NO_FLUSH);
		r->in_pos += in_avail - r->z.avail_in;
		size_t produced = avail - r->z.avail_out;
		if (zr == Z_STREAM_END) {
			r->member_done = true;
		} else if (zr == Z_BUF_ERROR && !produced) {
			/* No progress: inflate needs input. At the end of fd
			 * that means the stream stopped mid-member. */
			if (r->in_pos < r->in_len)
				return corrupt(err, "gzip", "inflate made no progress");
			if (r->in_eof)
				return berth_err_set(err, BERTH_E_INVALID,
						     "gzip stream is truncated");
		} else if (zr == Z_BUF_ERROR) {
			/* Output was made; the next call goes on. */
		} else if (zr == Z_MEM_ERROR) {
			berth_oom();
		} else if (zr != Z_OK) {
			return corrupt(err, "gzip", r->z.msg ? r->z.msg : "bad data");
		}
		if (produced)
			return (ssize_t)produced;
	}
}

static ssize_t read_zstd(struct berth_layer_reader *r, uint8_t *buf, size_t len,
			 struct berth_err **err)
{
	ZSTD_outBuffer out = {buf, len, 0};
	for (;;) {
		int rc = reader_fill(r, err);
		if (rc < 0)
			return rc;
		ZSTD_inBuffer in = {r->in, r->in_len, r->in_pos};
		size_t zr = ZSTD_decompressStream(r->zd, &out, &in);
		bool progress = in.pos != r->in_pos || out.pos;
		r->in_pos = in.pos;
		if (ZSTD_isError(zr))
			return corrupt(err, "zstd", ZSTD_getErrorName(zr));
		/* 0: a frame is complete and flushed. Another may follow
		 * (the stream starts it by itself); a call without input
		 * afterwards only asks for the next frame's header. */
		if (progress)
			r->frame_done = zr == 0;
		if (out.pos)
			return (ssize_t)out.pos;
		if (r->in_eof && r->in_pos == r->in_len) {
			if (!r->frame_done)
				return berth_err_set(err, BERTH_E_INVALID,
						     "zstd stream is truncated");
			return 0;
		}
	}
}

ssize_t berth_layer_reader_read(struct berth_layer_reader *r, void *buf, size_t len,
				struct berth_err **err)
{
	if (r->failed)
		return berth_err_set(err, BERTH_E_INVALID, "layer stream already failed");
	if (r->ended || len == 0)
		return 0;
	ssize_t n;
	switch (r->compression) {
	case BERTH_COMPRESS_GZIP:
		n = read_gzip(r, buf, len, err);
		break;
	case BERTH_COMPRESS_ZSTD:
		n = read_zstd(r, buf, len, err);
		break;
	default:
		n = read_plain(r, buf, len, err);
		break;
	}
	if (n < 0) {
		r->failed = true;
		return n;
	}
	if (n == 0) {
		r->ended = true;
		berth_sha256_final_digest(&r->raw, r->digest);
		berth_sha256_final_digest(&r->plain, r->diff_id);
		return 0;
	}
	berth_sha256_update(&r->plain, buf, (size_t)n);
	return n;
}

void berth_layer_reader_digests(struct berth_layer_reader *r, char digest[BERTH_DIGEST_LEN + 1],
				char diff_id[BERTH_DIGEST_LEN + 1])
{
	/* Digests of part of a stream would be wrong digests. */
	if (!r->ended)
		BUG("layer reader digests asked for before the end of the stream");
	if (digest)
		memcpy(digest, r->digest, sizeof(r->digest));
	if (diff_id)
		memcpy(diff_id, r->diff_id, sizeof(r->diff_id));
}
