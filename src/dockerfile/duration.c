/* Go's time.ParseDuration, for HEALTHCHECK flags: "300ms", "1.5h", "2h45m";
 * a bare "0" is allowed; every other number needs a unit. */
#include "dockerfile/dockerfile_int.h"

#include <ctype.h>

static const struct {
	const char *unit;
	int64_t ns;
} units[] = {
    {"ns", 1},       {"us", 1000},      {"\xc2\xb5s", 1000},  {"\xce\xbcs", 1000},
    {"ms", 1000000}, {"s", 1000000000}, {"m", 60000000000LL}, {"h", 3600000000000LL},
};

int berth_df_parse_duration(const char *s, int64_t *ns, struct berth_err **err)
{
	const char *orig = s;
	bool neg = false;
	if (*s == '-' || *s == '+')
		neg = *s++ == '-';
	if (!strcmp(s, "0")) {
		*ns = 0;
		return 0;
	}
	if (!*s)
		goto bad;
	double total = 0;
	while (*s) {
		if (!isdigit((unsigned char)*s) && *s != '.')
			goto bad;
		double v = 0, scale = 1;
		bool digits = false, frac = false;
		for (; isdigit((unsigned char)*s) || (*s == '.' && !frac); s++) {
			if (*s == '.') {
				frac = true;
				continue;
			}
			digits = true;
			if (frac)
				v += (*s - '0') * (scale /= 10);
			else
				v = v * 10 + (*s - '0');
		}
		if (!digits)
			goto bad;
		size_t best = 0;
		int64_t mul = 0;
		for (size_t i = 0; i < BERTH_ARRAY_SIZE(units); i++) {
			size_t n = strlen(units[i].unit);
			if (!strncmp(s, units[i].unit, n) && n > best) {
				best = n;
				mul = units[i].ns;
			}
		}
		if (!best)
			return berth_err_set(
			    err, BERTH_E_INVALID,
			    "missing or unknown unit in duration '%s' (use ns, us, ms, "
			    "s, m or h)",
			    orig);
		s += best;
		total += v * (double)mul;
		if (total > 9.2e18)
			return berth_err_set(err, BERTH_E_INVALID,
					     "invalid duration '%s': too large", orig);
	}
	*ns = (int64_t)(neg ? -total : total);
	return 0;
bad:
	return berth_err_set(err, BERTH_E_INVALID, "invalid duration '%s'", orig);
}
