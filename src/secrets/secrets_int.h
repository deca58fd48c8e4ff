/* Internals shared by the files of secrets/: libsodium start-up and the key
 * file. Included by nothing outside src/secrets. */
#ifndef BERTH_SECRETS_INT_H
#define BERTH_SECRETS_INT_H

#include "secrets/secrets.h"

/* sodium_init(), once per process (thread-safe). */
int berth__secrets_sodium_init(struct berth_err **err);

/* Fill key with the BERTH_SECRET_KEY_LEN bytes of home/secrets.key, creating
 * the file (random bytes, mode 0600) when it is missing. When several
 * processes create it at once, one file wins and all of them use it. */
int berth__secrets_key_load(const char *home, unsigned char *key, struct berth_err **err);

#endif
