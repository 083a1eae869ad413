/* item.c - one feed item, normalised: JSON in and out, content hash, stable identity. */
#include <errno.h>
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

/* A JSON string for s (NULL -> null when nullable, else ""); repairs bad UTF-8. */
static json_t *jstr(const char *s, bool nullable)
{
	if (!s)
		return nullable ? json_null() : json_string("");
	json_t *j = json_string(s);
	if (j)
		return j;
	char *fixed = fw_text_plain(s, strlen(s), strlen(s) * 3);
	if (!fixed)
		return NULL;
	j = json_string(fixed);
	free(fixed);
	return j;
}

static json_t *jdate(int64_t t)
{
	char buf[32];

	if (t == FW_TIME_NONE)
		return json_null();
	return json_string(fw_date_format(t, buf, sizeof(buf)));
}

/*
 * Serialise item as one compact JSON object with the keys, in order: title link id
 * published updated author summary content categories. Returns 0 and a malloc()ed string
 * (no newline) in *out owned by the caller, or -ENOMEM.
 */
int fw_item_to_json(const struct fw_item *item, char **out)
{
	json_t *o = json_object(), *cats = json_array();
	int r = -ENOMEM;

	if (!o || !cats)
		goto out;
	for (size_t i = 0; i < item->n_categories; i++) {
		if (json_array_append_new(cats, jstr(item->categories[i], false)) < 0)
			goto out;
	}
	if (json_object_set_new(o, "title", jstr(item->title, false)) < 0 ||
	    json_object_set_new(o, "link", jstr(item->link, true)) < 0 ||
	    json_object_set_new(o, "id", jstr(item->id, true)) < 0 ||
	    json_object_set_new(o, "published", jdate(item->published)) < 0 ||
	    json_object_set_new(o, "updated", jdate(item->updated)) < 0 ||
	    json_object_set_new(o, "author", jstr(item->author, true)) < 0 ||
	    json_object_set_new(o, "summary", jstr(item->summary, false)) < 0 ||
	    json_object_set_new(o, "content", jstr(item->content, false)) < 0)
		goto out;
	if (json_object_set(o, "categories", cats) < 0)
		goto out;
	/* jansson keeps insertion order (>= 2.8), which is the contract's key order */
	char *s = json_dumps(o, JSON_COMPACT);
	if (!s)
		goto out;
	*out = s;
	r = 0;
out:
	json_decref(cats);
	json_decref(o);
	return r;
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

/*
 * Give the item an id if it has none (NULL or ""): the link, else "sha:" + SHA-256 hex of
 * title, date (published, else updated, as RFC 3339) and summary, each NUL-terminated;
 * content joins in when title and summary are both empty, so content-only items differ.
 * Deterministic across runs and machines. Returns 0 or -ENOMEM.
 */
int fw_item_ensure_id(struct fw_item *item)
{
	static const char hex[] = "0123456789abcdef";
	struct sha256 c;
	unsigned char d[32];
	char date[32] = "";

	if (item->id && item->id[0])
		return 0;
	if (item->link && item->link[0]) {
		char *id = strdup(item->link);
		if (!id)
			return -ENOMEM;
		free(item->id);
		item->id = id;
		return 0;
	}
	int64_t t = item->published != FW_TIME_NONE ? item->published : item->updated;
	if (t != FW_TIME_NONE)
		fw_date_format(t, date, sizeof(date));
	const char *title = item->title ? item->title : "";
	const char *summary = item->summary ? item->summary : "";
	sha_init(&c);
	sha_update(&c, title, strlen(title) + 1);
	sha_update(&c, date, strlen(date) + 1);
	sha_update(&c, summary, strlen(summary) + 1);
	if (!title[0] && !summary[0] && item->content)
		sha_update(&c, item->content, strlen(item->content) + 1);
	sha_final(&c, d);
	char *id = malloc(4 + 64 + 1);
	if (!id)
		return -ENOMEM;
	memcpy(id, "sha:", 4);
	for (int i = 0; i < 32; i++) {
		id[4 + 2 * i] = hex[d[i] >> 4];
		id[4 + 2 * i + 1] = hex[d[i] & 15];
	}
	id[68] = '\0';
	free(item->id);
	item->id = id;
	return 0;
}
