/* Sizes as people write them (see size.h). */
#include "common/size.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

int berth_parse_size(const char *s, int64_t *out)
{
	char *end;
	errno = 0;
	double v = strtod(s, &end);
	if (errno || end == s || !(v >= 0) || strchr(" \t\n", *s))
		return -1;
	static const char units[] = "kmgt";
	double mult = 1;
	const char *u = *end ? strchr(units, *end | 0x20) : NULL;
	if (u) {
		for (const char *p = units; p <= u; p++)
			mult *= 1024.0;
		end++;
		if (*end == 'i')
			end++;
	}
	if (*end == 'b' || *end == 'B')
		end++;
	if (*end || v * mult > 9e18)
		return -1;
	*out = (int64_t)(v * mult);
	return 0;
}
