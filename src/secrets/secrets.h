/* secrets/ — the secret store: named values kept encrypted at rest in the
 * state directory (libsodium secretbox, key in $BERTH_HOME/secrets.key) and
 * the `$NAME` references that resolve against it. This is the module's one
 * public header.
 *
 * A handle is used by one thread at a time; several handles (in one process
 * or many) may share a home: writes are SQLite transactions. */
#ifndef BERTH_SECRETS_H
#define BERTH_SECRETS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/err.h"

struct berth_secrets; /* opaque */

#define BERTH_SECRET_VALUE_MAX (64u << 10) /* bytes */
#define BERTH_SECRET_NAME_MAX  128
#define BERTH_SECRET_KEY_LEN   32 /* bytes in secrets.key */

/* Open the store of $BERTH_HOME (`home`, made 0700 when missing): the table
 * `secrets` in home/berth.db (created when missing; WAL) and the key
 * home/secrets.key (32 random bytes, created atomically on first use with
 * mode 0600; concurrent first opens agree on one key). An existing key file
 * that is not a regular file of 32 bytes, or that group or others may access,
 * is an error that says what is wrong and what to do. Close with
 * berth_secrets_close(), which wipes the key from memory. */
int berth_secrets_open(const char *home, struct berth_secrets **out, struct berth_err **err);
void berth_secrets_close(struct berth_secrets *s);

/* Names: [A-Za-z_][A-Za-z0-9_]*, at most BERTH_SECRET_NAME_MAX bytes. The
 * functions below answer anything else with BERTH_E_INVALID naming it. */
bool berth_secret_name_valid(const char *name);

/* Store `len` bytes (binary-safe, at most BERTH_SECRET_VALUE_MAX, else
 * BERTH_E_LIMIT) under `name`, replacing any value it had: `created` is kept,
 * `updated` becomes now. The value is only read. */
int berth_secrets_set(struct berth_secrets *s, const char *name, const void *value, size_t len,
		      struct berth_err **err);

/* One name and value for berth_secrets_set_many(); all borrowed. */
struct berth_secret_pair {
	const char *name;
	const void *value;
	size_t len;
};

/* Set every pair in one transaction: all are stored or, on any error
 * (invalid or repeated name, value over the limit, disk), none is. Names are
 * checked before anything is written. */
int berth_secrets_set_many(struct berth_secrets *s, const struct berth_secret_pair *pairs, size_t n,
			   struct berth_err **err);

/* Decrypt `name`'s value. *value: a NUL-terminated copy (binary-safe, *len
 * its length) that the caller frees with berth_secret_free(). Errors:
 * BERTH_E_NOT_FOUND "secret 'NAME' is not set; set it with: berth secrets set
 * NAME=..."; BERTH_E_INTERNAL when the row does not decrypt with the key file
 * (replaced key, damaged row) or holds another name's value (rows swapped). */
int berth_secrets_get(struct berth_secrets *s, const char *name, char **value, size_t *len,
		      struct berth_err **err);
/* Wipe (sodium_memzero, len + 1 bytes) then free a value from get or
 * resolve. NULL is a no-op. */
void berth_secret_free(char *value, size_t len);

/* Forget `name`. BERTH_E_NOT_FOUND when it is not set. */
int berth_secrets_unset(struct berth_secrets *s, const char *name, struct berth_err **err);

struct berth_secret_info {
	char *name;               /* owned */
	int64_t created, updated; /* seconds since the epoch */
};

/* Every secret's name and dates, never values, sorted by name (bytewise).
 * *out is an array of *n entries (NULL when 0): release each with
 * berth_secret_info_release(), then free() the array. */
int berth_secrets_list(struct berth_secrets *s, struct berth_secret_info **out, size_t *n,
		       struct berth_err **err);
void berth_secret_info_release(struct berth_secret_info *i);

/* A value that may name a secret: "$NAME" or "${NAME}" (NAME valid) is
 * looked up, with the errors of get; anything else ("plain", "$", "$1x",
 * "${a-b}", "x$NAME") is copied as is. *out and *len as from get: free with
 * berth_secret_free(). */
int berth_secrets_resolve(struct berth_secrets *s, const char *ref, char **out, size_t *len,
			  struct berth_err **err);

#endif
