/* Functions banned in berth (git's banned.h): unbounded copies and formats,
 * and non-reentrant tokenisers. Included into every translation unit by the
 * Makefile; use berth_buf, snprintf, memcpy with a checked length, strtok_r. */
#ifndef BERTH_COMMON_BANNED_H
#define BERTH_COMMON_BANNED_H

#include <stdio.h>
#include <string.h>

#define BANNED(func) sorry_##func##_is_banned_in_berth

#undef strcpy
#define strcpy(x, y) BANNED(strcpy)
#undef strcat
#define strcat(x, y) BANNED(strcat)
#undef strncpy
#define strncpy(x, y, n) BANNED(strncpy)
#undef strncat
#define strncat(x, y, n) BANNED(strncat)
#undef sprintf
#define sprintf(...) BANNED(sprintf)
#undef vsprintf
#define vsprintf(...) BANNED(vsprintf)
#undef strtok
#define strtok(x, y) BANNED(strtok)
#undef gets
#define gets(x) BANNED(gets)

#endif
