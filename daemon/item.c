/* item.c - one feed item, normalised: JSON in and out, content hash, stable identity. */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "date.h"
#include "item.h"
#include "text.h"

/* Caps on what fw_item_from_json accepts (the parse room caps its own output). */
#define FW_ITEM_MAX_FIELD      (1024 * 1024)
#define FW_ITEM_MAX_CATEGORIES 256

/*
 * A new, empty item: strings NULL (they read as absent), dates FW_TIME_NONE. Returns the
 * item (caller frees with fw_item_free) or NULL on allocation failure.
 */
struct fw_item *fw_item_new(void)
{
	struct fw_item *item = calloc(1, sizeof(*item));

	if (!item)
		return NULL;
	item->published = FW_TIME_NONE;
	item->updated = FW_TIME_NONE;
	item->fetched = FW_TIME_NONE;
	item->pushed = FW_TIME_NONE;
	return item;
}

/* Free an item and everything it owns. Accepts NULL; returns NULL. */
struct fw_item *fw_item_free(struct fw_item *item)
{
	if (!item)
		return NULL;
	free(item->title);
	free(item->link);
	free(item->id);
	free(item->author);
	free(item->summary);
	free(item->content);
	for (size_t i = 0; i < item->n_categories; i++)
		free(item->categories[i]);
	free(item->categories);
	free(item);
	return NULL;
}

/* The JSON text being built: one growing buffer. */
struct jbuf {
	char *buf;
	size_t len, size;
	bool oom;
};

static bool jb_reserve(struct jbuf *j, size_t more)
{
	if (j->oom)
		return false;
	if (more <= j->size - j->len)
		return true;
	size_t want = j->size ? j->size : 256;
	while (want - j->len < more) {
		if (want > SIZE_MAX / 2) {
			j->oom = true;
			return false;
		}
		want *= 2;
	}
	char *b = realloc(j->buf, want);
	if (!b) {
		j->oom = true;
		return false;
	}
	j->buf = b;
	j->size = want;
	return true;
}

static void jb_put(struct jbuf *j, const char *s, size_t n)
{
	if (jb_reserve(j, n)) {
		memcpy(j->buf + j->len, s, n);
		j->len += n;
	}
}

/* Eight bytes at a time (SWAR): any byte >= 0x80, < 0x20, '"' or '\\' among s[0..7]? */
static inline bool json_special8(const unsigned char *s)
{
	const uint64_t ones = UINT64_C(0x0101010101010101), highs = ones * 0x80;
	uint64_t x, q, b;

	memcpy(&x, s, 8);
	q = x ^ (ones * '"');
	b = x ^ (ones * '\\');
	return ((x | ((x - ones * 0x20) & ~x) | ((q - ones) & ~q) | ((b - ones) & ~b)) & highs) !=
	       0;
}

/* Length of the valid UTF-8 sequence at s (n bytes) by jansson's rules (no overlong
   forms, no surrogates, nothing above U+10FFFF), else 0. */
static size_t utf8_seq_len(const unsigned char *s, size_t n)
{
	unsigned char c = s[0];
	size_t k;

	if (c >= 0xc2 && c <= 0xdf)
		k = 2;
	else if (c >= 0xe0 && c <= 0xef)
		k = 3;
	else if (c >= 0xf0 && c <= 0xf4)
		k = 4;
	else
		return 0;
	if (n < k)
		return 0;
	for (size_t m = 1; m < k; m++) {
		if ((s[m] & 0xc0) != 0x80)
			return 0;
	}
	if ((c == 0xe0 && s[1] < 0xa0) || (c == 0xed && s[1] >= 0xa0) ||
	    (c == 0xf0 && s[1] < 0x90) || (c == 0xf4 && s[1] >= 0x90))
		return 0;
	return k;
}

/* A JSON string for s, escaped the way jansson's json_dumps escapes: '"', '\\' and the
   C0 controls only ("\b\f\n\r\t" by name, others as \u00XX). false (and nothing kept)
   when s is not valid UTF-8. */
static bool jb_escaped(struct jbuf *j, const char *s, size_t n)
{
	static const char hex[] = "0123456789ABCDEF";
	const unsigned char *u = (const unsigned char *)s;
	size_t i = 0, start = j->len;

	if (!jb_reserve(j, n + 2))
		return true;
	j->buf[j->len++] = '"';
	while (i < n) {
		size_t k = i;
		for (;;) {
			while (n - k >= 8 && !json_special8(u + k))
				k += 8;
			while (k < n && u[k] >= 0x20 && u[k] < 0x80 && u[k] != '"' && u[k] != '\\')
				k++;
			/* two-byte characters (Latin, Greek, Cyrillic, ...) back to back */
			while (n - k >= 2 && u[k] >= 0xc2 && u[k] <= 0xdf &&
			       (u[k + 1] & 0xc0) == 0x80)
				k += 2;
			if (k < n && u[k] >= 0x20 && u[k] < 0x80 && u[k] != '"' && u[k] != '\\')
				continue;
			if (k == n || u[k] < 0x80)
				break;
			size_t m = utf8_seq_len(u + k, n - k);
			if (m == 0) {
				j->len = start;
				return false;
			}
			k += m;
		}
		jb_put(j, s + i, k - i);
		if (k == n)
			break;
		char esc[6] = {'\\', 0, '0', '0', 0, 0};
		size_t w = 2;
		switch (u[k]) {
		case '"':
		case '\\':
			esc[1] = (char)u[k];
			break;
		case '\b':
			esc[1] = 'b';
			break;
		case '\f':
			esc[1] = 'f';
			break;
		case '\n':
			esc[1] = 'n';
			break;
		case '\r':
			esc[1] = 'r';
			break;
		case '\t':
			esc[1] = 't';
			break;
		default:
			esc[1] = 'u';
			esc[4] = hex[u[k] >> 4];
			esc[5] = hex[u[k] & 15];
			w = 6;
			break;
		}
		jb_put(j, esc, w);
		i = k + 1;
	}
	jb_put(j, "\"", 1);
	return true;
}

/* A JSON string for s (NULL -> null when nullable, else ""); bad UTF-8 is repaired as
   fw_text_plain repairs it (what jansson, which refuses such strings, was given). */
static void jb_str(struct jbuf *j, const char *s, bool nullable)
{
	if (!s) {
		if (nullable)
			jb_put(j, "null", 4);
		else
			jb_put(j, "\"\"", 2);
		return;
	}
	size_t n = strlen(s);
	if (jb_escaped(j, s, n))
		return;
	char *fixed = fw_text_plain(s, n, n * 3);
	if (!fixed) {
		j->oom = true;
		return;
	}
	jb_escaped(j, fixed, strlen(fixed));
	free(fixed);
}

static void jb_date(struct jbuf *j, int64_t t)
{
	char buf[32];

	if (t == FW_TIME_NONE) {
		jb_put(j, "null", 4);
		return;
	}
	const char *s = fw_date_format(t, buf, sizeof(buf));
	jb_escaped(j, s, strlen(s));
}

/*
 * Serialise item as one compact JSON object with the keys, in order: title link id
 * published updated author summary content categories (the text jansson's
 * json_dumps(JSON_COMPACT) gave, byte for byte; written by hand into one buffer because
 * building a jansson tree per item cost a third of `feedwatch parse`). Returns 0 and a
 * malloc()ed string (no newline) in *out owned by the caller, or -ENOMEM.
 */
int fw_item_to_json(const struct fw_item *item, char **out)
{
	struct jbuf j = {0};
	size_t guess = 192;
	const char *const strs[] = {item->title,  item->link,    item->id,
	                            item->author, item->summary, item->content};

	for (size_t i = 0; i < sizeof(strs) / sizeof(strs[0]); i++)
		guess += strs[i] ? strlen(strs[i]) + strlen(strs[i]) / 8 : 0;
	if (!jb_reserve(&j, guess))
		return -ENOMEM;
	jb_put(&j, "{\"title\":", 9);
	jb_str(&j, item->title, false);
	jb_put(&j, ",\"link\":", 8);
	jb_str(&j, item->link, true);
	jb_put(&j, ",\"id\":", 6);
	jb_str(&j, item->id, true);
	jb_put(&j, ",\"published\":", 13);
	jb_date(&j, item->published);
	jb_put(&j, ",\"updated\":", 11);
	jb_date(&j, item->updated);
	jb_put(&j, ",\"author\":", 10);
	jb_str(&j, item->author, true);
	jb_put(&j, ",\"summary\":", 11);
	jb_str(&j, item->summary, false);
	jb_put(&j, ",\"content\":", 11);
	jb_str(&j, item->content, false);
	jb_put(&j, ",\"categories\":[", 15);
	for (size_t i = 0; i < item->n_categories; i++) {
		if (i > 0)
			jb_put(&j, ",", 1);
		jb_str(&j, item->categories[i], false);
	}
	jb_put(&j, "]}", 3); /* with the NUL */
	if (j.oom) {
		free(j.buf);
		return -ENOMEM;
	}
	*out = j.buf;
	return 0;
}

/* Copy a string member of o (absent, null or not a string -> NULL, *bad on wrong type). */
static int take_str(json_t *o, const char *key, char **dst, bool *bad)
{
	json_t *v = json_object_get(o, key);

	*dst = NULL;
	if (!v || json_is_null(v))
		return 0;
	if (!json_is_string(v)) {
		*bad = true;
		return 0;
	}
	*dst = fw_text_plain(json_string_value(v), json_string_length(v), FW_ITEM_MAX_FIELD);
	return *dst ? 0 : -ENOMEM;
}

static void take_date(json_t *o, const char *key, int64_t *dst, bool *bad)
{
	json_t *v = json_object_get(o, key);

	if (!v || json_is_null(v))
		return;
	if (!json_is_string(v) || fw_date_parse(json_string_value(v), dst) < 0)
		*bad = true;
}

/*
 * Read one object in the `parse` JSON format; missing or null keys are absent. Returns 0
 * and a new item in *out (caller frees; id filled by fw_item_ensure_id if absent),
 * -EINVAL when text is not such an object, or -ENOMEM.
 */
int fw_item_from_json(const char *text, size_t len, struct fw_item **out)
{
	json_error_t err;
	json_t *o = json_loadb(text, len, JSON_REJECT_DUPLICATES, &err);
	struct fw_item *item = NULL;
	bool bad = false;
	int r = -EINVAL;

	if (!o || !json_is_object(o))
		goto out;
	r = -ENOMEM;
	item = fw_item_new();
	if (!item)
		goto out;
	if (take_str(o, "title", &item->title, &bad) < 0 ||
	    take_str(o, "link", &item->link, &bad) < 0 || take_str(o, "id", &item->id, &bad) < 0 ||
	    take_str(o, "author", &item->author, &bad) < 0 ||
	    take_str(o, "summary", &item->summary, &bad) < 0 ||
	    take_str(o, "content", &item->content, &bad) < 0)
		goto out;
	take_date(o, "published", &item->published, &bad);
	take_date(o, "updated", &item->updated, &bad);
	json_t *cats = json_object_get(o, "categories");
	if (cats && !json_is_null(cats)) {
		if (!json_is_array(cats) || json_array_size(cats) > FW_ITEM_MAX_CATEGORIES) {
			bad = true;
		} else if (json_array_size(cats) > 0) {
			item->categories = calloc(json_array_size(cats), sizeof(char *));
			if (!item->categories)
				goto out;
			size_t i;
			json_t *c;
			json_array_foreach(cats, i, c)
			{
				if (!json_is_string(c)) {
					bad = true;
					break;
				}
				char *s = fw_text_plain(json_string_value(c), json_string_length(c),
				                        FW_ITEM_MAX_FIELD);
				if (!s)
					goto out;
				item->categories[item->n_categories++] = s;
			}
		}
	}
	r = -EINVAL;
	if (bad)
		goto out;
	r = -ENOMEM;
	if ((!item->title && !(item->title = strdup(""))) ||
	    (!item->summary && !(item->summary = strdup(""))) ||
	    (!item->content && !(item->content = strdup(""))) || fw_item_ensure_id(item) < 0)
		goto out;
	*out = item;
	item = NULL;
	r = 0;
out:
	fw_item_free(item);
	json_decref(o);
	return r;
}

/* FNV-1a 64 over a length-prefixed field, so ("ab","c") and ("a","bc") differ. */
static uint64_t fnv_field(uint64_t h, const void *data, size_t len)
{
	const unsigned char *p = data;
	uint64_t n = len;

	for (int i = 0; i < 8; i++) {
		h ^= (n >> (8 * i)) & 0xff;
		h *= 0x100000001b3ULL;
	}
	for (size_t i = 0; i < len; i++) {
		h ^= p[i];
		h *= 0x100000001b3ULL;
	}
	return h;
}

static uint64_t fnv_str(uint64_t h, const char *s)
{
	return s ? fnv_field(h, s, strlen(s)) : fnv_field(h, "\xff", 1);
}

static uint64_t fnv_i64(uint64_t h, int64_t v)
{
	unsigned char b[8];

	for (int i = 0; i < 8; i++)
		b[i] = (unsigned char)((uint64_t)v >> (8 * i));
	return fnv_field(h, b, sizeof(b));
}

/* See item.h. */
int64_t fw_item_date(const struct fw_item *item)
{
	return item->published != FW_TIME_NONE ? item->published : item->updated;
}

/*
 * 64-bit FNV-1a hash of the item's content (title, link, dates, author, summary, content,
 * categories), byte-order independent: it changes when the item is edited.
 */
uint64_t fw_item_hash(const struct fw_item *item)
{
	uint64_t h = 0xcbf29ce484222325ULL;

	h = fnv_str(h, item->title);
	h = fnv_str(h, item->link);
	h = fnv_i64(h, item->published);
	h = fnv_i64(h, item->updated);
	h = fnv_str(h, item->author);
	h = fnv_str(h, item->summary);
	h = fnv_str(h, item->content);
	h = fnv_i64(h, (int64_t)item->n_categories);
	for (size_t i = 0; i < item->n_categories; i++)
		h = fnv_str(h, item->categories[i]);
	return h;
}

/* ---- SHA-256 (FIPS 180-4), enough for the id hash ---- */

struct sha256 {
	uint32_t h[8];
	unsigned char block[64];
	size_t fill;
	uint64_t total;
};

static const uint32_t sha_k[64] = {
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2};

static uint32_t ror(uint32_t x, int n)
{
	return (x >> n) | (x << (32 - n));
}

static void sha_block(struct sha256 *c, const unsigned char *b)
{
	uint32_t w[64], s[8];

	for (int i = 0; i < 16; i++)
		w[i] = (uint32_t)b[4 * i] << 24 | (uint32_t)b[4 * i + 1] << 16 |
		       (uint32_t)b[4 * i + 2] << 8 | b[4 * i + 3];
	for (int i = 16; i < 64; i++) {
		uint32_t s0 = ror(w[i - 15], 7) ^ ror(w[i - 15], 18) ^ (w[i - 15] >> 3);
		uint32_t s1 = ror(w[i - 2], 17) ^ ror(w[i - 2], 19) ^ (w[i - 2] >> 10);
		w[i] = w[i - 16] + s0 + w[i - 7] + s1;
	}
	memcpy(s, c->h, sizeof(s));
	for (int i = 0; i < 64; i++) {
		uint32_t t1 = s[7] + (ror(s[4], 6) ^ ror(s[4], 11) ^ ror(s[4], 25)) +
		              ((s[4] & s[5]) ^ (~s[4] & s[6])) + sha_k[i] + w[i];
		uint32_t t2 = (ror(s[0], 2) ^ ror(s[0], 13) ^ ror(s[0], 22)) +
		              ((s[0] & s[1]) ^ (s[0] & s[2]) ^ (s[1] & s[2]));
		memmove(s + 1, s, 7 * sizeof(s[0]));
		s[4] += t1;
		s[0] = t1 + t2;
	}
	for (int i = 0; i < 8; i++)
		c->h[i] += s[i];
}

static void sha_init(struct sha256 *c)
{
	static const uint32_t iv[8] = {0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
	                               0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19};

	memcpy(c->h, iv, sizeof(iv));
	c->fill = 0;
	c->total = 0;
}

static void sha_update(struct sha256 *c, const void *data, size_t len)
{
	const unsigned char *p = data;

	c->total += len;
	while (len > 0) {
		size_t n = 64 - c->fill < len ? 64 - c->fill : len;
		memcpy(c->block + c->fill, p, n);
		c->fill += n;
		p += n;
		len -= n;
		if (c->fill == 64) {
			sha_block(c, c->block);
			c->fill = 0;
		}
	}
}

static void sha_final(struct sha256 *c, unsigned char out[32])
{
	uint64_t bits = c->total * 8;
	unsigned char pad = 0x80, zero = 0, len[8];

	sha_update(c, &pad, 1);
	while (c->fill != 56)
		sha_update(c, &zero, 1);
	for (int i = 0; i < 8; i++)
		len[i] = (unsigned char)(bits >> (56 - 8 * i));
	sha_update(c, len, 8);
	for (int i = 0; i < 8; i++) {
		out[4 * i] = (unsigned char)(c->h[i] >> 24);
		out[4 * i + 1] = (unsigned char)(c->h[i] >> 16);
		out[4 * i + 2] = (unsigned char)(c->h[i] >> 8);
		out[4 * i + 3] = (unsigned char)c->h[i];
	}
}

/* Exposed for the unit test's known-answer check (declared in item.h). */
void fw_item_sha256(const void *data, size_t len, unsigned char out[32])
{
	struct sha256 c;

	sha_init(&c);
	sha_update(&c, data, len);
	sha_final(&c, out);
}

/* "sha:" + the hex of a finished SHA-256, as a new string; NULL on allocation failure. */
static char *sha_id(struct sha256 *c)
{
	static const char hex[] = "0123456789abcdef";
	unsigned char d[32];
	char *id = malloc(4 + 64 + 1);

	sha_final(c, d);
	if (!id)
		return NULL;
	memcpy(id, "sha:", 4);
	for (int i = 0; i < 32; i++) {
		id[4 + 2 * i] = hex[d[i] >> 4];
		id[4 + 2 * i + 1] = hex[d[i] & 15];
	}
	id[68] = '\0';
	return id;
}

/*
 * Give the item an id if it has none (NULL or ""): the link, else "sha:" + SHA-256 hex of
 * title, date (published, else updated, as RFC 3339) and summary, each NUL-terminated;
 * content joins in when title and summary are both empty, so content-only items differ.
 * An id (given or taken from the link) longer than FW_ITEM_ID_MAX bytes becomes "sha:" +
 * SHA-256 hex of it: still stable and unique, and it fits the store's keys. Deterministic
 * across runs and machines. Returns 0 or -ENOMEM.
 */
int fw_item_ensure_id(struct fw_item *item)
{
	struct sha256 c;
	char date[32] = "", *id;

	sha_init(&c);
	if (item->id && item->id[0]) {
		if (strnlen(item->id, FW_ITEM_ID_MAX + 1) <= FW_ITEM_ID_MAX)
			return 0;
		sha_update(&c, item->id, strlen(item->id));
	} else if (item->link && item->link[0]) {
		if (strnlen(item->link, FW_ITEM_ID_MAX + 1) <= FW_ITEM_ID_MAX) {
			if (!(id = strdup(item->link)))
				return -ENOMEM;
			free(item->id);
			item->id = id;
			return 0;
		}
		sha_update(&c, item->link, strlen(item->link));
	} else {
		int64_t t = item->published != FW_TIME_NONE ? item->published : item->updated;
		const char *title = item->title ? item->title : "";
		const char *summary = item->summary ? item->summary : "";

		if (t != FW_TIME_NONE)
			fw_date_format(t, date, sizeof(date));
		sha_update(&c, title, strlen(title) + 1);
		sha_update(&c, date, strlen(date) + 1);
		sha_update(&c, summary, strlen(summary) + 1);
		if (!title[0] && !summary[0] && item->content)
			sha_update(&c, item->content, strlen(item->content) + 1);
	}
	if (!(id = sha_id(&c)))
		return -ENOMEM;
	free(item->id);
	item->id = id;
	return 0;
}
