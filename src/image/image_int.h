/* Internals shared by the files of image/; included by nothing outside the
 * module. */
#ifndef BERTH_IMAGE_INT_H
#define BERTH_IMAGE_INT_H

#include "image/image.h"

#include <locale.h>
#include <sqlite3.h>

/* The store's database connection (berth.db), for the module's other files. */
sqlite3 *berth__store_db(struct berth_store *s);

/* libarchive converts names through the thread's locale (pax "path" records,
 * hdrcharset). Applying and creating layers both run under C.UTF-8, whatever
 * main chose, so names stay byte-exact and the same tree always gives the
 * same tar. Use with _cleanup_(berth__locale_leave). */
struct berth__locale_scope {
	locale_t loc, old;
};

static inline void berth__locale_enter(struct berth__locale_scope *s)
{
	s->loc = newlocale(LC_CTYPE_MASK, "C.UTF-8", (locale_t)0);
	s->old = s->loc ? uselocale(s->loc) : (locale_t)0;
}

static inline void berth__locale_leave(struct berth__locale_scope *s)
{
	if (s->loc) {
		uselocale(s->old);
		freelocale(s->loc);
	}
}

#endif
