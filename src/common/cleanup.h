/* Cleanup attributes for owning locals (the crun/systemd idiom): the
 * variable is released when it goes out of scope; hand ownership out with
 * steal_pointer(). */
#ifndef BERTH_COMMON_CLEANUP_H
#define BERTH_COMMON_CLEANUP_H

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

static inline void berth__freep(void *p)
{
	free(*(void **)p);
}
static inline void berth__closep(int *fd)
{
	if (*fd >= 0)
		close(*fd);
}
static inline void berth__fclosep(FILE **f)
{
	if (*f)
		fclose(*f);
}

#define _cleanup_(fn)    __attribute__((cleanup(fn)))
#define _cleanup_free_   _cleanup_(berth__freep)
#define _cleanup_close_  _cleanup_(berth__closep)
#define _cleanup_fclose_ _cleanup_(berth__fclosep)

#endif
