/* Sizes as people write them: "512m", "4G", "2GiB", "1.5g", "67108864". */
#ifndef BERTH_COMMON_SIZE_H
#define BERTH_COMMON_SIZE_H

#include <stdint.h>

/* A number of bytes with an optional suffix, binary in every spelling
 * (k, m, g, t; upper or lower case, with "i" and/or "b" after: "4G",
 * "4Gi", "4GiB", "4gb" are all 4 * 2^30). 0 and *out, or -1 when s is not
 * such a size. */
int berth_parse_size(const char *s, int64_t *out);

#endif
