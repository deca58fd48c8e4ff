/* Unit tests for secrets/: values round-trip (binary, empty, at and over the
 * limit), the key file is made private and checked, a replaced key or rows
 * swapped between names are reported, plaintext never reaches berth.db or its
 * WAL, `$NAME` references resolve, and several stores share one home. */
#include "common/common.h"
#include "fixture.h"
#include "image/image.h"
#include "secrets/secrets.h"
#include "tap.h"

#include <dirent.h>
#include <sodium.h>
#include <sqlite3.h>
#include <sys/wait.h>
#include <time.h>

/* Open the store of `home` or bail out: later tests need it. */
static struct berth_secrets *must_open(const char *home)
{
	struct berth_secrets *s = NULL;
	struct berth_err *e = NULL;
	if (berth_secrets_open(home, &s, &e) < 0) {
		printf("Bail out! open the secret store in '%s': %s\n", home, e->msg);
		exit(1);
	}
	return s;
}

/* Passes when r and err are the error `code` whose message holds `needle`
 * (if any). Frees err. */
static void expect_err(int r, struct berth_err *e, enum berth_err_code code, const char *needle,
		       const char *what)
{
	bool ok = r == -(int)code && e && e->code == code && (!needle || strstr(e->msg, needle));
	if (!tap_ok(ok, "%s", what)) {
		printf("#   got  %d (%s)\n#   want %d (%s)\n", r,
		       e ? berth_err_code_name(e->code) : "-", -(int)code,
		       berth_err_code_name(code));
		tap_diag("message", e ? e->msg : NULL);
		tap_diag("wanted in it", needle);
	}
	berth_err_free(e);
}

static void expect_ok(int r, struct berth_err *e, const char *what)
{
	if (!tap_ok(r == 0 && !e, "%s", what))
		tap_diag("error", e ? e->msg : NULL);
	berth_err_free(e);
}

/* Passes when `name` holds exactly want/wlen (and is NUL-terminated). */
static void expect_value(struct berth_secrets *s, const char *name, const void *want, size_t wlen,
			 const char *what)
{
	char *v = NULL;
	size_t len = 0;
	struct berth_err *e = NULL;
	int r = berth_secrets_get(s, name, &v, &len, &e);
	bool ok = r == 0 && len == wlen && (!wlen || memcmp(v, want, wlen) == 0) && v[len] == '\0';
	if (!tap_ok(ok, "%s", what)) {
		printf("#   got  %zu bytes (r %d)\n#   want %zu bytes\n", len, r, wlen);
		tap_diag("error", e ? e->msg : NULL);
	}
	berth_err_free(e);
	berth_secret_free(v, len);
}

static void set_str(struct berth_secrets *s, const char *name, const char *value)
{
	struct berth_err *e = NULL;
	if (berth_secrets_set(s, name, value, strlen(value), &e) < 0) {
		printf("Bail out! set '%s': %s\n", name, e->msg);
		exit(1);
	}
}

/* Run SQL on home/berth.db behind the store's back. */
static void sql(const char *home, const char *stmt)
{
	_cleanup_free_ char *path = berth_xasprintf("%s/berth.db", home);
	sqlite3 *db = NULL;
	char *msg = NULL;
	if (sqlite3_open(path, &db) != SQLITE_OK ||
	    sqlite3_exec(db, stmt, NULL, NULL, &msg) != SQLITE_OK) {
		printf("Bail out! sql '%s': %s\n", stmt, msg ? msg : sqlite3_errmsg(db));
		exit(1);
	}
	sqlite3_close(db);
}

/* Whether the file at path (missing: no) contains the bytes of needle. */
static bool file_has(const char *path, const char *needle)
{
	_cleanup_buf_ struct berth_buf b;
	berth_buf_init(&b, BERTH_BUF_UNLIMITED);
	struct berth_err *e = NULL;
	if (berth_fs_read_file(path, 1u << 30, &b, &e) < 0) {
		berth_err_free(e);
		return false;
	}
	return memmem(b.data, b.len, needle, strlen(needle)) != NULL;
}

static off_t file_size(const char *path)
{
	struct stat st;
	return stat(path, &st) == 0 ? st.st_size : -1;
}

static void random_hex(char *out, size_t bytes)
{
	unsigned char raw[64];
	BUG_ON(bytes > sizeof(raw));
	randombytes_buf(raw, bytes);
	sodium_bin2hex(out, bytes * 2 + 1, raw, bytes);
}

static void test_key_file(void)
{
	const char *home = fixture_path("key");
	struct berth_secrets *s = must_open(home); /* makes home too */
	struct stat st;
	tap_ok(stat(home, &st) == 0 && (st.st_mode & 07777) == 0700, "home is made 0700");
	const char *key = fixture_path("key/secrets.key");
	tap_ok(stat(key, &st) == 0 && S_ISREG(st.st_mode), "secrets.key is created");
	tap_is_int(st.st_mode & 07777, 0600, "secrets.key has mode 0600");
	tap_is_int(st.st_size, 32, "secrets.key holds 32 bytes");
	set_str(s, "K", "v");
	berth_secrets_close(s);

	/* Reopening keeps the key: the value still decrypts. */
	s = must_open(home);
	expect_value(s, "K", "v", 1, "a reopened store reads what was set");
	berth_secrets_close(s);

	struct berth_err *e = NULL;
	fixture_must(chmod(key, 0644) == 0, key);
	int r = berth_secrets_open(home, &s, &e);
	expect_err(r, e, BERTH_E_INVALID, "chmod 600", "a key file with mode 0644 is refused");
	e = NULL;
	fixture_must(chmod(key, 0640) == 0, key);
	r = berth_secrets_open(home, &s, &e);
	expect_err(r, e, BERTH_E_INVALID, "(mode 0640)", "the refusal says the mode");
	fixture_must(chmod(key, 0600) == 0, key);
	s = must_open(home);
	expect_value(s, "K", "v", 1, "after chmod 600 the store opens");
	berth_secrets_close(s);

	const char *home2 = fixture_path("short");
	fixture_put_dir(home2);
	const char *key2 = fixture_path("short/secrets.key");
	fixture_put_file(key2, "0123456789012345678901234567890"); /* 31 */
	fixture_must(chmod(key2, 0600) == 0, key2);
	e = NULL;
	r = berth_secrets_open(home2, &s, &e);
	expect_err(r, e, BERTH_E_INVALID, "holds 31 bytes, not 32",
		   "a key file of the wrong length is refused");
	fixture_put_file(key2, "0123456789012345678901234567890123"); /* 34 */
	e = NULL;
	r = berth_secrets_open(home2, &s, &e);
	expect_err(r, e, BERTH_E_INVALID, "restore it from a backup",
		   "a long key file is refused, saying what to do");
	tap_is_int(file_size(key2), 34, "a refused key file is left alone");

	const char *home3 = fixture_path("dirkey");
	fixture_put_dir(home3);
	fixture_put_dir(fixture_path("dirkey/secrets.key"));
	e = NULL;
	r = berth_secrets_open(home3, &s, &e);
	tap_ok(r < 0 && e && strstr(e->msg, "secrets.key"), "a directory as key file is refused");
	berth_err_free(e);
}

static void test_round_trip(const char *home)
{
	struct berth_secrets *s = must_open(home);
	static const char bin[] = "a\0b\0\xff\x01\0";
	struct berth_err *e = NULL;
	expect_ok(berth_secrets_set(s, "BIN", bin, sizeof(bin), &e), e, "set a binary value");
	expect_value(s, "BIN", bin, sizeof(bin), "a value with NULs round-trips");

	e = NULL;
	expect_ok(berth_secrets_set(s, "EMPTY", NULL, 0, &e), e, "set an empty value");
	expect_value(s, "EMPTY", "", 0, "an empty value round-trips");

	char *big = berth_xmalloc(BERTH_SECRET_VALUE_MAX + 1);
	randombytes_buf(big, BERTH_SECRET_VALUE_MAX + 1);
	e = NULL;
	expect_ok(berth_secrets_set(s, "MAX", big, BERTH_SECRET_VALUE_MAX, &e), e,
		  "set a value of exactly BERTH_SECRET_VALUE_MAX bytes");
	expect_value(s, "MAX", big, BERTH_SECRET_VALUE_MAX, "the largest value round-trips");
	e = NULL;
	int r = berth_secrets_set(s, "OVER", big, BERTH_SECRET_VALUE_MAX + 1, &e);
	expect_err(r, e, BERTH_E_LIMIT, "'OVER'", "one byte over the limit is LIMIT, naming it");
	e = NULL;
	r = berth_secrets_set(s, "MAX", big, BERTH_SECRET_VALUE_MAX + 1, &e);
	expect_err(r, e, BERTH_E_LIMIT, NULL, "an over-limit overwrite is refused");
	expect_value(s, "MAX", big, BERTH_SECRET_VALUE_MAX, "and leaves the old value");
	free(big);
	char *v = NULL;
	size_t len = 0;
	e = NULL;
	r = berth_secrets_get(s, "OVER", &v, &len, &e);
	expect_err(r, e, BERTH_E_NOT_FOUND,
		   "secret 'OVER' is not set; set it with: berth secrets set OVER=...",
		   "nothing was stored for the refused value; the error says how to set it");

	/* Overwrite: updated moves, created stays. */
	set_str(s, "OW", "one");
	sql(home, "UPDATE secrets SET created = 1000, updated = 2000 WHERE name = 'OW'");
	set_str(s, "OW", "two");
	expect_value(s, "OW", "two", 3, "an overwrite replaces the value");
	struct berth_secret_info *list = NULL;
	size_t n = 0;
	e = NULL;
	expect_ok(berth_secrets_list(s, &list, &n, &e), e, "list");
	bool found = false;
	for (size_t i = 0; i < n; i++) {
		if (!strcmp(list[i].name, "OW")) {
			found = true;
			tap_is_int(list[i].created, 1000, "an overwrite keeps created");
			tap_ok(list[i].updated >= (int64_t)time(NULL) - 60,
			       "an overwrite sets updated to now (%lld)",
			       (long long)list[i].updated);
		}
		berth_secret_info_release(&list[i]);
	}
	free(list);
	tap_ok(found, "list has the overwritten secret");

	/* Unset. */
	e = NULL;
	expect_ok(berth_secrets_unset(s, "OW", &e), e, "unset a secret");
	e = NULL;
	r = berth_secrets_get(s, "OW", &v, &len, &e);
	expect_err(r, e, BERTH_E_NOT_FOUND, "'OW'", "an unset secret is gone");
	e = NULL;
	r = berth_secrets_unset(s, "OW", &e);
	expect_err(r, e, BERTH_E_NOT_FOUND, "secret 'OW' is not set",
		   "unset of a missing secret is NOT_FOUND naming it");
	berth_secrets_close(s);
}

static void test_names_and_list(const char *home)
{
	static const struct {
		const char *name;
		bool valid;
	} names[] = {
	    {"A", true},     {"_", true},    {"a_b_9", true}, {"DB_PASSWORD", true},
	    {"", false},     {"1A", false},  {"A-B", false},  {"A B", false},
	    {"A.B", false},  {"$A", false},  {"A=", false},   {"\xc3\xa9", false},
	    {"A\tB", false}, {"{A}", false},
	};
	for (size_t i = 0; i < BERTH_ARRAY_SIZE(names); i++)
		tap_is_int(berth_secret_name_valid(names[i].name), names[i].valid,
			   "name '%s' is %svalid", names[i].name, names[i].valid ? "" : "in");
	char longest[BERTH_SECRET_NAME_MAX + 2];
	memset(longest, 'N', sizeof(longest) - 1);
	longest[sizeof(longest) - 1] = '\0';
	tap_ok(!berth_secret_name_valid(longest), "a name of %d bytes is invalid",
	       BERTH_SECRET_NAME_MAX + 1);
	longest[BERTH_SECRET_NAME_MAX] = '\0';
	tap_ok(berth_secret_name_valid(longest), "a name of %d bytes is valid",
	       BERTH_SECRET_NAME_MAX);

	struct berth_secrets *s = must_open(home);
	struct berth_err *e = NULL;
	int r = berth_secrets_set(s, "A-B", "x", 1, &e);
	expect_err(r, e, BERTH_E_INVALID, "invalid secret name 'A-B'", "set refuses 'A-B'");
	char *v = NULL;
	size_t len = 0;
	e = NULL;
	r = berth_secrets_get(s, "9", &v, &len, &e);
	expect_err(r, e, BERTH_E_INVALID, "'9'", "get refuses '9'");
	e = NULL;
	r = berth_secrets_unset(s, "", &e);
	expect_err(r, e, BERTH_E_INVALID, "''", "unset refuses ''");

	/* set_many is all-or-nothing, names checked first. */
	struct berth_secret_pair bad_name[] = {{"GOOD1", "1", 1}, {"bad name", "2", 1}};
	e = NULL;
	r = berth_secrets_set_many(s, bad_name, 2, &e);
	expect_err(r, e, BERTH_E_INVALID, "'bad name'", "set_many with one bad name fails");
	static char over[BERTH_SECRET_VALUE_MAX + 1];
	struct berth_secret_pair too_big[] = {{"GOOD1", "1", 1}, {"BIG", over, sizeof(over)}};
	e = NULL;
	r = berth_secrets_set_many(s, too_big, 2, &e);
	expect_err(r, e, BERTH_E_LIMIT, "'BIG'", "set_many with one value over the limit fails");
	struct berth_secret_pair twice[] = {{"GOOD1", "1", 1}, {"GOOD1", "2", 1}};
	e = NULL;
	r = berth_secrets_set_many(s, twice, 2, &e);
	expect_err(r, e, BERTH_E_INVALID, "given twice", "set_many with a repeated name fails");
	e = NULL;
	r = berth_secrets_get(s, "GOOD1", &v, &len, &e);
	expect_err(r, e, BERTH_E_NOT_FOUND, NULL, "a failed set_many stored nothing");

	/* A write that fails half way (a trigger stands in for a full disk)
	 * rolls back the pairs written before it. */
	sql(home, "CREATE TRIGGER fail_write BEFORE INSERT ON secrets WHEN NEW.name = 'FAIL'"
		  " BEGIN SELECT RAISE(ABORT, 'injected failure'); END");
	struct berth_secret_pair half[] = {{"GOOD1", "1", 1}, {"FAIL", "2", 1}};
	e = NULL;
	r = berth_secrets_set_many(s, half, 2, &e);
	expect_err(r, e, BERTH_E_SYS, "store secret 'FAIL': injected failure",
		   "a write failing half way is an error naming the secret");
	e = NULL;
	r = berth_secrets_get(s, "GOOD1", &v, &len, &e);
	expect_err(r, e, BERTH_E_NOT_FOUND, NULL, "and the pairs before it are rolled back");
	sql(home, "DROP TRIGGER fail_write");
	struct berth_secret_pair pairs[] = {
	    {"b", "1", 1}, {"A", "2", 1}, {"_x", "3", 1}, {"a1", "4", 1}, {"B", "5", 1}};
	e = NULL;
	expect_ok(berth_secrets_set_many(s, pairs, BERTH_ARRAY_SIZE(pairs), &e), e,
		  "set_many of five pairs");
	expect_value(s, "a1", "4", 1, "set_many stored each value");

	struct berth_secret_info *list = NULL;
	size_t n = 0;
	e = NULL;
	expect_ok(berth_secrets_list(s, &list, &n, &e), e, "list");
	_cleanup_buf_ struct berth_buf names_got;
	berth_buf_init(&names_got, BERTH_BUF_UNLIMITED);
	for (size_t i = 0; i < n; i++) {
		berth_buf_addf(&names_got, "%s%s", i ? "," : "", list[i].name);
		berth_secret_info_release(&list[i]);
	}
	free(list);
	tap_is_str(names_got.data, "A,B,_x,a1,b", "list is sorted by name (bytewise)");
	berth_secrets_close(s);

	/* An empty store lists nothing. */
	s = must_open(fixture_path("empty"));
	list = NULL;
	n = 99;
	e = NULL;
	expect_ok(berth_secrets_list(s, &list, &n, &e), e, "list an empty store");
	tap_ok(n == 0 && !list, "an empty store has no entries");
	berth_secrets_close(s);
}

static void test_tamper(const char *home)
{
	struct berth_secrets *s = must_open(home);
	set_str(s, "ALPHA", "alpha-value");
	set_str(s, "BETA", "beta-value");
	berth_secrets_close(s);

	/* A row moved under another name decrypts but names the other one. */
	sql(home, "UPDATE secrets SET"
		  " nonce = (SELECT nonce FROM secrets WHERE name = 'BETA'),"
		  " box = (SELECT box FROM secrets WHERE name = 'BETA') WHERE name = 'ALPHA'");
	s = must_open(home);
	char *v = NULL;
	size_t len = 0;
	struct berth_err *e = NULL;
	int r = berth_secrets_get(s, "ALPHA", &v, &len, &e);
	expect_err(r, e, BERTH_E_INTERNAL, "another secret ('BETA')",
		   "a row swapped between names is detected");
	expect_value(s, "BETA", "beta-value", 10, "the other row still reads");
	set_str(s, "ALPHA", "alpha-value");
	expect_value(s, "ALPHA", "alpha-value", 11, "setting it again repairs it");

	/* A flipped byte in the box. */
	sql(home, "UPDATE secrets SET box = X'00' || substr(box, 2) WHERE name = 'ALPHA'");
	e = NULL;
	r = berth_secrets_get(s, "ALPHA", &v, &len, &e);
	expect_err(r, e, BERTH_E_INTERNAL,
		   "berth secrets set ALPHA=", "a damaged box is an error saying how to repair it");
	sql(home, "UPDATE secrets SET nonce = X'0102' WHERE name = 'BETA'");
	e = NULL;
	r = berth_secrets_get(s, "BETA", &v, &len, &e);
	expect_err(r, e, BERTH_E_INTERNAL, "nonce", "a short nonce is an error");
	sql(home, "UPDATE secrets SET box = X'0102' WHERE name = 'BETA'");
	e = NULL;
	r = berth_secrets_get(s, "BETA", &v, &len, &e);
	expect_err(r, e, BERTH_E_INTERNAL, "'BETA'", "a short box is an error");
	set_str(s, "ALPHA", "alpha-value");
	berth_secrets_close(s);

	/* Another key: every row fails, with the clear message. */
	_cleanup_free_ char *key = berth_xasprintf("%s/secrets.key", home);
	unsigned char other[32];
	randombytes_buf(other, sizeof(other));
	fixture_must(berth_fs_write_atomic(AT_FDCWD, key, other, sizeof(other), 0600, NULL) == 0,
		     key);
	s = must_open(home);
	e = NULL;
	r = berth_secrets_get(s, "ALPHA", &v, &len, &e);
	expect_err(r, e, BERTH_E_INTERNAL, "was secrets.key replaced?",
		   "a replaced key makes get fail with the clear message");
	struct berth_secret_info *list = NULL;
	size_t n = 0;
	e = NULL;
	expect_ok(berth_secrets_list(s, &list, &n, &e), e, "list works without the right key");
	for (size_t i = 0; i < n; i++)
		berth_secret_info_release(&list[i]);
	free(list);
	e = NULL;
	expect_ok(berth_secrets_unset(s, "BETA", &e), e, "unset works without the right key");
	set_str(s, "ALPHA", "new");
	expect_value(s, "ALPHA", "new", 3, "set under the new key then reads");
	berth_secrets_close(s);
}

static void test_no_plaintext(const char *home)
{
	char marker[2 * 24 + 1], name[6 + 2 * 8 + 1];
	random_hex(marker, 24);
	memcpy(name, "NAME_", 5);
	random_hex(name + 5, 8);
	_cleanup_free_ char *db = berth_xasprintf("%s/berth.db", home);
	_cleanup_free_ char *wal = berth_xasprintf("%s/berth.db-wal", home);

	struct berth_secrets *s = must_open(home);
	set_str(s, name, marker);
	/* Enough other writes that pages go around; then one overwrite. */
	for (int i = 0; i < 20; i++) {
		char other[16];
		snprintf(other, sizeof(other), "FILL_%d", i);
		set_str(s, other, marker);
	}
	set_str(s, name, "replaced");
	tap_ok(file_size(wal) > 0, "the WAL holds data while the store is open");
	tap_ok(file_has(db, name) || file_has(wal, name), "the name is in the files (control)");
	tap_ok(!file_has(wal, marker), "the value is not in berth.db-wal");
	tap_ok(!file_has(db, marker), "the value is not in berth.db");
	berth_secrets_close(s);
	tap_ok(file_has(db, name), "the name is in berth.db after close (control)");
	tap_ok(!file_has(db, marker) && !file_has(wal, marker),
	       "the value is in neither file after close");
}

static void test_resolve(const char *home)
{
	struct berth_secrets *s = must_open(home);
	set_str(s, "TOKEN", "t0k3n");
	static const struct {
		const char *ref, *want;
	} cases[] = {
	    {"$TOKEN", "t0k3n"},
	    {"${TOKEN}", "t0k3n"},
	    {"literal", "literal"},
	    {"", ""},
	    {"$", "$"},
	    {"${}", "${}"},
	    {"$1x", "$1x"},
	    {"${TOKEN", "${TOKEN"},
	    {"x$TOKEN", "x$TOKEN"},
	    {"${TOKEN}x", "${TOKEN}x"},
	    {"$TOKEN-x", "$TOKEN-x"},
	    {"${a-b}", "${a-b}"},
	};
	for (size_t i = 0; i < BERTH_ARRAY_SIZE(cases); i++) {
		char *v = NULL;
		size_t len = 0;
		struct berth_err *e = NULL;
		int r = berth_secrets_resolve(s, cases[i].ref, &v, &len, &e);
		tap_ok(r == 0 && len == strlen(v), "resolve '%s' succeeds", cases[i].ref);
		tap_is_str(v, cases[i].want, "resolve '%s'", cases[i].ref);
		berth_err_free(e);
		berth_secret_free(v, len);
	}
	const char *missing[] = {"$MISSING", "${MISSING}"};
	for (size_t i = 0; i < BERTH_ARRAY_SIZE(missing); i++) {
		char *v = NULL;
		size_t len = 0;
		struct berth_err *e = NULL;
		int r = berth_secrets_resolve(s, missing[i], &v, &len, &e);
		tap_ok(!v, "resolve '%s' gives no value", missing[i]);
		char what[64];
		snprintf(what, sizeof(what), "resolve '%s' is NOT_FOUND naming MISSING",
			 missing[i]);
		expect_err(
		    r, e, BERTH_E_NOT_FOUND,
		    "secret 'MISSING' is not set; set it with: berth secrets set MISSING=...",
		    what);
	}
	berth_secrets_close(s);
}

static void test_shared_home(const char *home)
{
	struct berth_secrets *a = must_open(home), *b = must_open(home);
	set_str(a, "SHARED", "from-a");
	expect_value(b, "SHARED", "from-a", 6, "a second store reads what the first set");
	set_str(b, "SHARED", "from-b");
	expect_value(a, "SHARED", "from-b", 6, "and the first reads the second's overwrite");
	struct berth_err *e = NULL;
	expect_ok(berth_secrets_unset(b, "SHARED", &e), e, "the second unsets");
	char *v = NULL;
	size_t len = 0;
	e = NULL;
	int r = berth_secrets_get(a, "SHARED", &v, &len, &e);
	expect_err(r, e, BERTH_E_NOT_FOUND, NULL, "the first sees it gone");
	berth_secrets_close(b);
	berth_secrets_close(a);

	/* berth.db is shared with the image store, in either order of creation. */
	const char *homes[] = {home, fixture_path("images-first")};
	for (size_t i = 0; i < BERTH_ARRAY_SIZE(homes); i++) {
		struct berth_store *img = NULL;
		struct berth_secrets *sec = NULL;
		e = NULL;
		r = i == 0 ? 0 : berth_store_open(homes[i], &img, &e);
		if (r == 0)
			r = berth_secrets_open(homes[i], &sec, &e);
		if (r == 0 && !img)
			r = berth_store_open(homes[i], &img, &e);
		if (r == 0)
			r = berth_secrets_set(sec, "WITH_IMAGES", "x", 1, &e);
		struct berth_image_entry *imgs = NULL;
		size_t nimgs = 0;
		if (r == 0)
			r = berth_store_list(img, &imgs, &nimgs, &e);
		expect_ok(r, e,
			  i == 0 ? "the image store opens on a berth.db made by the secrets"
				 : "the secret store opens on a berth.db made by the images");
		free(imgs);
		berth_store_close(img);
		berth_secrets_close(sec);
	}

	/* Processes opening a fresh home at once agree on one key. */
	const char *fresh = fixture_path("race");
	enum { N = 6 };
	pid_t pids[N];
	for (int i = 0; i < N; i++) {
		pids[i] = fork();
		fixture_must(pids[i] >= 0, "fork");
		if (pids[i] == 0) {
			struct berth_secrets *c = NULL;
			char name[16];
			snprintf(name, sizeof(name), "C%d", i);
			int ok = berth_secrets_open(fresh, &c, NULL) == 0 &&
				 berth_secrets_set(c, name, name, strlen(name), NULL) == 0;
			berth_secrets_close(c);
			_exit(ok ? 0 : 1);
		}
	}
	int failed = 0;
	for (int i = 0; i < N; i++) {
		int status;
		waitpid(pids[i], &status, 0);
		failed += !WIFEXITED(status) || WEXITSTATUS(status) != 0;
	}
	tap_is_int(failed, 0, "%d processes open a fresh home and set a secret at once", N);
	struct berth_secrets *s = must_open(fresh);
	int readable = 0;
	for (int i = 0; i < N; i++) {
		char name[16];
		snprintf(name, sizeof(name), "C%d", i);
		char *got = NULL;
		size_t got_len = 0;
		if (berth_secrets_get(s, name, &got, &got_len, NULL) == 0 && !strcmp(got, name))
			readable++;
		berth_secret_free(got, got_len);
	}
	berth_secrets_close(s);
	tap_is_int(readable, N, "all their secrets decrypt with the one key file");
	DIR *d = opendir(fresh);
	fixture_must(d != NULL, fresh);
	int temps = 0;
	struct dirent *de;
	while ((de = readdir(d)))
		temps += strstr(de->d_name, ".tmp") != NULL;
	closedir(d);
	tap_is_int(temps, 0, "no temporary key files are left");
}

int main(void)
{
	fixture_init("secrets");
	if (sodium_init() < 0) {
		puts("Bail out! sodium_init");
		return 1;
	}
	berth_secrets_close(NULL);
	berth_secret_free(NULL, 0);
	test_key_file();
	test_round_trip(fixture_path("home"));
	test_names_and_list(fixture_path("names"));
	test_tamper(fixture_path("tamper"));
	test_no_plaintext(fixture_path("plain"));
	test_resolve(fixture_path("home"));
	test_shared_home(fixture_path("shared"));

	struct berth_err *e = NULL;
	tap_is_int(fixture_cleanup(&e), 0, "clean up the test directory");
	berth_err_free(e);
	return tap_done();
}
