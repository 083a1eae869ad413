/* text.h - plain text from feed text: HTML to text, entity decoding, whitespace, UTF-8. Pure. */
#ifndef FW_TEXT_H
#define FW_TEXT_H

#include <stdbool.h>
#include <stddef.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif

/*
 * Turn a fragment of HTML (or plain text that may hold entities) into plain text with
 * libxml2's HTML parser: tags stripped, <script>/<style> dropped, block elements become
 * spaces, every named and numeric entity decoded, whitespace collapsed and trimmed,
 * invalid UTF-8 replaced by U+FFFD, control and bidi control characters (U+061C, U+200E,
 * U+200F, U+202A-U+202E, U+2066-U+2069) dropped. The result is at most `cap` bytes (cut on a character
 * boundary). Returns a malloc()ed string, or NULL on allocation failure.
 */
char *fw_text_from_html(const char *html, size_t len, size_t cap);

/*
 * fw_text_from_html's fast path alone (common well-formed HTML, without libxml2). Returns
 * 0 and a malloc()ed string in *out (the same text fw_text_from_html gives), -ENOTSUP
 * when the input needs libxml2's HTML parser, or -ENOMEM. For tests and benchmarks.
 */
int fw_text_html_fast(const char *html, size_t len, size_t cap, char **out);

/* fw_text_from_html through libxml2's HTML parser only (no fast path): the reference the
   fast path is tested against. Returns a malloc()ed string, or NULL on allocation failure. */
char *fw_text_from_html_libxml2(const char *html, size_t len, size_t cap);

/*
 * Plain text (no markup interpretation): whitespace collapsed and trimmed, invalid UTF-8
 * replaced by U+FFFD, control and bidi control characters dropped (as for
 * fw_text_from_html: every text field of an item goes through this clean-up), at most cap bytes (cut on a character
 * boundary). Returns a malloc()ed string, or NULL on allocation failure.
 */
char *fw_text_plain(const char *s, size_t len, size_t cap);

/* Collapse runs of whitespace to one space and trim, in place; returns s. */
char *fw_text_collapse(char *s);

/* The host of a URL (after "://", else from its start), lower-cased, without user info
   (up to the authority's last '@'), with its ":port" when port is true. May be "".
   Returns a malloc()ed string, or NULL on allocation failure. */
char *fw_text_url_host(const char *url, bool port);

/* True when s (len bytes) looks like it holds markup or entities worth an HTML pass. */
bool fw_text_has_markup(const char *s, size_t len);

/* Length of the UTF-8 sequence at s (n bytes available) if valid (no overlong form, no
   surrogate, at most U+10FFFF), else 0. Inline: it sits on the parser's hot paths. */
static inline size_t fw_text_utf8_len(const unsigned char *s, size_t n)
{
	unsigned char c = s[0];

	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf)
		return n >= 2 && (s[1] & 0xc0) == 0x80 ? 2 : 0;
	if (c >= 0xe0 && c <= 0xef) {
		if (n < 3 || (s[1] & 0xc0) != 0x80 || (s[2] & 0xc0) != 0x80)
			return 0;
		if ((c == 0xe0 && s[1] < 0xa0) || (c == 0xed && s[1] >= 0xa0))
			return 0; /* overlong, surrogate */
		return 3;
	}
	if (c >= 0xf0 && c <= 0xf4) {
		if (n < 4 || (s[1] & 0xc0) != 0x80 || (s[2] & 0xc0) != 0x80 ||
		    (s[3] & 0xc0) != 0x80)
			return 0;
		if ((c == 0xf0 && s[1] < 0x90) || (c == 0xf4 && s[1] >= 0x90))
			return 0;
		return 4;
	}
	return 0;
}

#ifdef __SSE2__
/* The bytes of v in [lo, hi], both ASCII (signed compares: bytes >= 0x80 are never in). */
static inline __m128i fw_text_in_range16(__m128i v, char lo, char hi)
{
	return _mm_and_si128(_mm_cmpgt_epi8(v, _mm_set1_epi8((char)(lo - 1))),
	                     _mm_cmplt_epi8(v, _mm_set1_epi8((char)(hi + 1))));
}

/* Bit mask of the bytes of v that belong to a complete two-byte UTF-8 character whose
   lead byte is lead_min (>= 0xc2) to 0xdf, both of its bytes inside v. */
static inline unsigned fw_text_pairs16(__m128i v, unsigned char lead_min)
{
	/* flipping the top bit puts lead and continuation bytes in a signed ASCII range */
	__m128i x = _mm_xor_si128(v, _mm_set1_epi8((char)0x80));
	unsigned lead =
	    (unsigned)_mm_movemask_epi8(fw_text_in_range16(x, (char)(lead_min ^ 0x80), 0x5f));
	unsigned cont = (unsigned)_mm_movemask_epi8(fw_text_in_range16(x, 0x00, 0x3f));
	unsigned pairs = lead & (cont >> 1);

	return pairs | (pairs << 1);
}
#endif

#endif
