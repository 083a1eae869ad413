/*
 * textbuf.h - a growing text buffer with a cap, shared by the plugins that build messages
 * (webhook, email). Header-only: a plugin links no daemon code and no other plugin, so each
 * compiles its own copy of these few static functions.
 *
 * Appends past max are dropped whole and set full; an allocation failure sets oom and the
 * text is lost (the caller checks oom once, at the end). The text is NUL-terminated after
 * every append.
 */
#ifndef FW_PLUGIN_TEXTBUF_H
#define FW_PLUGIN_TEXTBUF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

struct fw_textbuf {
	char *p;
	size_t len, cap, max;
	bool oom;  /* out of memory: the text is lost */
	bool full; /* an append would have passed max and was dropped */
};

/* Append n bytes of s (dropped whole when they would pass max). */
static inline void fw_textbuf_add(struct fw_textbuf *b, const char *s, size_t n)
{
	if (b->oom || b->len + n > b->max) {
		b->full = true;
		return;
	}
	if (b->len + n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 256;
		char *p;

		while (cap < b->len + n + 1)
			cap *= 2;
		p = realloc(b->p, cap);
		if (p == NULL) {
			b->oom = true;
			return;
		}
		b->p = p;
		b->cap = cap;
	}
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = 0;
}

/* Append the string s. */
static inline void fw_textbuf_puts(struct fw_textbuf *b, const char *s)
{
	fw_textbuf_add(b, s, strlen(s));
}

#endif
