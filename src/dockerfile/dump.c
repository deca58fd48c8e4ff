/* BuildKit's AST dump: the s-expression format of the parser test data,
 * with Go's strconv.Quote for every string. */
#include "dockerfile/dockerfile_int.h"

/* Decode one UTF-8 sequence at s (n bytes left). Returns its length and sets
 * *cp, or returns 0 for an invalid or truncated sequence. */
static size_t utf8_decode(const unsigned char *s, size_t n, uint32_t *cp)
{
	if (s[0] < 0x80) {
		*cp = s[0];
		return 1;
	}
	size_t len;
	uint32_t c, min;
	if ((s[0] & 0xE0) == 0xC0) {
		len = 2, c = s[0] & 0x1F, min = 0x80;
	} else if ((s[0] & 0xF0) == 0xE0) {
		len = 3, c = s[0] & 0x0F, min = 0x800;
	} else if ((s[0] & 0xF8) == 0xF0) {
		len = 4, c = s[0] & 0x07, min = 0x10000;
	} else {
		return 0;
	}
	if (n < len)
		return 0;
	for (size_t i = 1; i < len; i++) {
		if ((s[i] & 0xC0) != 0x80)
			return 0;
		c = (c << 6) | (s[i] & 0x3F);
	}
	if (c < min || c > 0x10FFFF || (c >= 0xD800 && c <= 0xDFFF))
		return 0;
	*cp = c;
	return len;
}

/* Go's unicode.IsPrint for code points >= 0x80, approximated without the
 * Unicode tables: C1 controls, the non-ASCII spaces, format characters,
 * private use and noncharacters are not printable; everything else is. */
static bool go_is_print(uint32_t c)
{
	if (c < 0xA0 || c == 0xA0 || c == 0xAD)
		return false;
	if ((c >= 0x2000 && c <= 0x200F) || (c >= 0x2028 && c <= 0x202F) ||
	    (c >= 0x205F && c <= 0x206F) || c == 0x3000 || c == 0xFEFF || c == 0x1680)
		return false;
	if ((c >= 0xE000 && c <= 0xF8FF) || (c >= 0xFFF0 && c <= 0xFFFB) ||
	    (c & 0xFFFE) == 0xFFFE || c >= 0xF0000)
		return false;
	return true;
}

void berth_df_go_quote(struct berth_buf *out, const char *str, size_t len)
{
	static const char hex[] = "0123456789abcdef";
	const unsigned char *s = (const unsigned char *)str;
	berth_buf_addch(out, '"');
	for (size_t i = 0; i < len;) {
		uint32_t c;
		size_t n = utf8_decode(s + i, len - i, &c);
		if (n == 0) {
			berth_buf_addf(out, "\\x%c%c", hex[s[i] >> 4], hex[s[i] & 15]);
			i++;
			continue;
		}
		i += n;
		if (c == '"' || c == '\\') {
			berth_buf_addch(out, '\\');
			berth_buf_addch(out, (char)c);
		} else if (c >= 0x20 && c < 0x7F) {
			berth_buf_addch(out, (char)c);
		} else if (c >= 0x80 && go_is_print(c)) {
			berth_buf_add(out, s + i - n, n);
		} else {
			switch (c) {
			case '\a':
				berth_buf_addstr(out, "\\a");
				break;
			case '\b':
				berth_buf_addstr(out, "\\b");
				break;
			case '\f':
				berth_buf_addstr(out, "\\f");
				break;
			case '\n':
				berth_buf_addstr(out, "\\n");
				break;
			case '\r':
				berth_buf_addstr(out, "\\r");
				break;
			case '\t':
				berth_buf_addstr(out, "\\t");
				break;
			case '\v':
				berth_buf_addstr(out, "\\v");
				break;
			default:
				if (c < 0x20 || c == 0x7F)
					berth_buf_addf(out, "\\x%02x", c);
				else if (c < 0x10000)
					berth_buf_addf(out, "\\u%04x", c);
				else
					berth_buf_addf(out, "\\U%08x", c);
			}
		}
	}
	berth_buf_addch(out, '"');
}

void berth_df_dump_node(const struct berth_df_node *n, struct berth_buf *out)
{
	berth_buf_addstr(out, n->keyword);
	if (n->flags.n) {
		berth_buf_addstr(out, " [");
		for (size_t i = 0; i < n->flags.n; i++) {
			if (i)
				berth_buf_addch(out, ' ');
			berth_df_go_quote(out, n->flags.v[i], strlen(n->flags.v[i]));
		}
		berth_buf_addch(out, ']');
	}
	if (n->sub) {
		berth_buf_addstr(out, " (");
		berth_df_dump_node(n->sub, out);
		berth_buf_addch(out, ')');
	}
	for (size_t i = 0; i < n->args.n; i++) {
		berth_buf_addch(out, ' ');
		berth_df_go_quote(out, n->args.v[i], n->arg_lens[i]);
	}
}

void berth_df_dump(const struct berth_df_ast *ast, struct berth_buf *out)
{
	for (size_t i = 0; i < ast->n; i++) {
		if (i)
			berth_buf_addch(out, '\n');
		berth_buf_addch(out, '(');
		berth_df_dump_node(&ast->nodes[i], out);
		berth_buf_addch(out, ')');
	}
}
