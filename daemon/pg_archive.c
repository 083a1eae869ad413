/*
 * pg_archive.c - the PostgreSQL store: the item archive and the WebSub subscriptions
 * (store.h), kept as archive.c and websub_store.c keep them in SQLite, for every node.
 *
 * The word index is PostgreSQL's own full-text search: the words of a row (what
 * fw_store_words gives, cut into words as FTS5's ascii tokenizer cuts them: ASCII letters
 * and digits lower-cased, every byte beyond ASCII kept) in the row itself, archive.words, a
 * tsvector made by array_to_tsvector (no parser, no dictionary, no locale: the caller's
 * folding is kept byte for byte), NULL until the row is indexed; a GIN index finds them. A
 * words query (FTS5's syntax, the part store.h names) is parsed here (pg_words_query) and
 * written as tsquery text in which every word is a quoted lexeme, sent as a parameter and
 * cast: no word can be an operator, and nothing of the caller's reaches the SQL text.
 *
 * Several nodes index at once: each takes the oldest rows not indexed that no other node
 * holds (FOR UPDATE SKIP LOCKED), so no row is indexed twice and none is passed over for
 * good (a row another node gave up stays NULL for the next batch). Ids come from an
 * identity column: never reused, so the index needs no mark.
 */
#include "pg_int.h"
#include "text.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FW_TIME_NONE_ INT64_MIN /* item.h's FW_TIME_NONE; the store includes no item.h */
/* Bytes of one word the index keeps (a tsvector lexeme holds at most 2047): a longer word
   is kept as its first WORD_MAX bytes (cut on a UTF-8 boundary) and WORD_CUT, a byte no
   word holds; a query for a longer word looks for that, a prefix for the cut alone. */
#define WORD_MAX 2000
#define WORD_CUT '~'
/* Rows fw_store_archive_each fetches at a time; parentheses a words query nests at most. */
#define EACH_BATCH  "256"
#define EACH_ROWS   256
#define QUERY_DEPTH 1000

const char fw_pg_ddl_archive[] =
    /* the key holds seen and bytes: the walks by id of SINCE, the count and the prune read
       the index alone (once vacuum has marked the pages all-visible) */
    "CREATE TABLE IF NOT EXISTS archive (id bigint GENERATED ALWAYS AS IDENTITY,"
    " seen bigint NOT NULL, bytes bigint NOT NULL, feed text NOT NULL, item text NOT NULL,"
    " published bigint, updated bigint, title text NOT NULL, link text, author text,"
    " summary text, content text, categories text, words tsvector,"
    " PRIMARY KEY (id) INCLUDE (seen, bytes));"
    "CREATE INDEX IF NOT EXISTS archive_words ON archive USING gin (words);"
    "CREATE INDEX IF NOT EXISTS archive_unindexed ON archive (id) WHERE words IS NULL;"
    /* byte order, as SQLite's: websub_each walks them in feed order */
    "CREATE TABLE IF NOT EXISTS websub_subs (token text COLLATE \"C\" PRIMARY KEY,"
    " feed text COLLATE \"C\" NOT NULL, hub text NOT NULL, topic text NOT NULL,"
    " secret text NOT NULL, state text NOT NULL, lease_end bigint NOT NULL DEFAULT 0,"
    " updated bigint NOT NULL DEFAULT 0, last_push bigint NOT NULL DEFAULT 0,"
    " pushes bigint NOT NULL DEFAULT 0, bad_signatures bigint NOT NULL DEFAULT 0);"
    "CREATE INDEX IF NOT EXISTS websub_subs_feed ON websub_subs (feed, token);";

/* ------------------------------------------------------------------ text */

/* A growing string; oom once an append failed. */
struct sbuf {
	char *s;
	size_t len, cap;
	bool oom;
};

static void sput(struct sbuf *b, const char *v, size_t n)
{
	if (b->oom)
		return;
	if (b->len + n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 256;
		char *s;

		while (cap < b->len + n + 1)
			cap *= 2;
		if ((s = realloc(b->s, cap)) == NULL) {
			b->oom = true;
			return;
		}
		b->s = s;
		b->cap = cap;
	}
	memcpy(b->s + b->len, v, n);
	b->len += n;
	b->s[b->len] = 0;
}

static void sputs(struct sbuf *b, const char *v)
{
	sput(b, v, strlen(v));
}

/* ------------------------------------------------------------------ words */

/* Is c part of a word, as FTS5's ascii tokenizer has it (an ASCII letter or digit, or a
   byte beyond ASCII)? */
static bool word_byte(unsigned char c)
{
	return c >= 0x80 || (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') ||
	       (c >= 'A' && c <= 'Z');
}

/* The next word of v[*i, n) into [*start, *end): a run of word bytes, bytes of invalid
   UTF-8 cutting it as separators do (PostgreSQL keeps no such text). false at the end. */
static bool next_word(const char *v, size_t n, size_t *i, size_t *start, size_t *end)
{
	const unsigned char *u = (const unsigned char *)v;
	size_t k = *i, len;

	while (k < n && (!word_byte(u[k]) || (u[k] >= 0x80 && fw_text_utf8_len(u + k, n - k) == 0)))
		k++;
	if (k == n) {
		*i = k;
		return false;
	}
	*start = k;
	while (k < n && word_byte(u[k])) {
		len = u[k] < 0x80 ? 1 : fw_text_utf8_len(u + k, n - k);
		if (len == 0)
			break;
		k += len;
	}
	*end = *i = k;
	return true;
}

/* Append the word w (n bytes) as the index keeps it: ASCII lower-cased, cut to WORD_MAX
   bytes; cut, WORD_CUT follows unless prefix. Returns whether it was cut. */
static bool put_word(struct sbuf *b, const char *w, size_t n, bool prefix)
{
	char low[64];
	size_t keep = n, i = 0;

	if (keep > WORD_MAX) /* a word is valid UTF-8 (next_word): cut on a boundary */
		for (keep = WORD_MAX; keep > 0 && ((unsigned char)w[keep] & 0xc0) == 0x80;)
			keep--;

	while (i < keep) {
		size_t k = 0;

		for (; k < sizeof(low) && i < keep; k++, i++)
			low[k] = w[i] >= 'A' && w[i] <= 'Z' ? (char)(w[i] + 32) : w[i];
		sput(b, low, k);
	}
	if (keep < n && !prefix)
		sput(b, (const char[]){WORD_CUT}, 1);
	return keep < n;
}

/* The words of v, as the index keeps them, space-separated into b. */
static void put_words(struct sbuf *b, const char *v)
{
	size_t i = 0, n = strlen(v), start, end, k = 0;

	while (next_word(v, n, &i, &start, &end)) {
		if (k++)
			sput(b, " ", 1);
		put_word(b, v + start, end - start, false);
	}
}

/* ------------------------------------------------------------------ words queries */

/*
 * A words query in FTS5's syntax, as FTS5 reads it with the archive's index (tokenizer
 * ascii, detail none): strings (barewords or "quoted", "" a quote), each one word at most
 * (more is a phrase: refused), a '*' after one a prefix; a string of no word names
 * nothing (left out of a run of strings, which ANDs them); NEAR of one string; NOT, AND,
 * OR (in that order of binding, left to right) and parentheses. Refused (-EINVAL), as FTS5
 * refuses them: phrases, NEAR of several, column filters, '^', '+', and syntax errors.
 */
enum tok { T_END, T_LP, T_RP, T_STAR, T_COMMA, T_AND, T_OR, T_NOT, T_STR, T_BAD };

struct lex {
	const char *q;
	size_t pos, n;
	enum tok t;
	size_t start, end; /* a string's text (a quoted one: between its quotes) */
	bool quoted;
	int depth;
};

static bool bareword_byte(unsigned char c)
{
	return word_byte(c) || c == '_' || c == 0x1a;
}

/* The next token of l. */
static void lex_next(struct lex *l)
{
	const char *q = l->q;
	size_t i = l->pos;

	while (i < l->n && q[i] && strchr(" \t\n\r\f\v", q[i]))
		i++;
	l->start = l->end = i;
	l->quoted = false;
	if (i == l->n) {
		l->t = T_END;
	} else if (q[i] == '(' || q[i] == ')' || q[i] == '*' || q[i] == ',') {
		l->t = q[i] == '(' ? T_LP : q[i] == ')' ? T_RP : q[i] == '*' ? T_STAR : T_COMMA;
		i++;
	} else if (q[i] == '"') {
		l->quoted = true;
		l->start = ++i;
		while (i < l->n && (q[i] != '"' || (i + 1 < l->n && q[i + 1] == '"')))
			i += q[i] == '"' ? 2 : 1;
		l->t = i < l->n ? T_STR : T_BAD; /* unclosed */
		l->end = i;
		i += i < l->n;
	} else if (bareword_byte((unsigned char)q[i])) {
		while (i < l->n && bareword_byte((unsigned char)q[i]))
			i++;
		l->end = i;
		l->t = T_STR;
		if (i - l->start == 3 && memcmp(q + l->start, "AND", 3) == 0)
			l->t = T_AND;
		else if (i - l->start == 2 && memcmp(q + l->start, "OR", 2) == 0)
			l->t = T_OR;
		else if (i - l->start == 3 && memcmp(q + l->start, "NOT", 3) == 0)
			l->t = T_NOT;
	} else {
		l->t = T_BAD; /* column filters, '^', '+', '-', ':' ... */
	}
	l->pos = i;
}

/* The tsquery of one string (star: a prefix) into *out (malloc()ed; NULL: no word, it
   names nothing). 0, -EINVAL (a phrase), or -ENOMEM. */
static int q_string(const struct lex *l, bool star, char **out)
{
	size_t i = l->start, start, end, s2, e2;
	struct sbuf w = {0}, b = {0};
	bool cut;

	*out = NULL;
	if (!next_word(l->q, l->end, &i, &start, &end))
		return 0;
	if (next_word(l->q, l->end, &i, &s2, &e2))
		return -EINVAL;
	cut = put_word(&w, l->q + start, end - start, star);
	/* a quoted lexeme: no word holds a quote or a backslash, but were one to, doubled it
	   would stay a character of the word */
	sput(&b, "'", 1);
	for (size_t k = 0; k < w.len; k++) {
		if (w.s[k] == '\'' || w.s[k] == '\\')
			sput(&b, w.s + k, 1);
		sput(&b, w.s + k, 1);
	}
	sputs(&b, star || cut ? "':*" : "'");
	free(w.s);
	if (w.oom || b.oom) {
		free(b.s);
		return -ENOMEM;
	}
	*out = b.s;
	return 0;
}

/* *a = "(a OP b)"; frees b (and *a, NULL, on failure). 0 or -ENOMEM. */
static int q_join(char **a, const char *op, char *b)
{
	struct sbuf r = {0};

	sputs(&r, "(");
	sputs(&r, *a);
	sputs(&r, op);
	sputs(&r, b);
	sputs(&r, ")");
	free(*a);
	free(b);
	*a = r.oom ? NULL : r.s;
	if (r.oom)
		free(r.s);
	return r.oom ? -ENOMEM : 0;
}

/*
 * The parser: each function below reads one level of the grammar from l into *out (a
 * tsquery, malloc()ed; NULL when it names nothing). 0, -EINVAL, or -ENOMEM, with *out
 * NULL on failure.
 */
static int q_or(struct lex *l, char **out);

/* Is l at a bareword NEAR, a NEAR group's start, or at a string before a parenthesis
   (which FTS5 refuses)? 1, 0 (neither) or -EINVAL. */
static int q_at_near(const struct lex *l)
{
	struct lex next = *l;

	lex_next(&next);
	if (next.t != T_LP)
		return 0;
	return !l->quoted && l->end - l->start == 4 && memcmp(l->q + l->start, "NEAR", 4) == 0
	           ? 1
	           : -EINVAL;
}

/* NEAR(phrases [, distance]): of one phrase, that phrase (the index keeps no positions:
   of more, FTS5 refuses the query, and so does this); phrases of no word left out. */
static int q_near(struct lex *l, char **out)
{
	int rc = 0, phrases = 0;

	lex_next(l); /* NEAR */
	lex_next(l); /* ( */
	while (rc == 0 && l->t == T_STR) {
		struct lex s = *l;
		char *one = NULL;
		bool star;

		lex_next(l);
		if ((star = l->t == T_STAR))
			lex_next(l);
		phrases++;
		rc = q_string(&s, star, &one);
		if (rc == 0 && one && *out)
			rc = -EINVAL; /* a second phrase of words */
		if (rc == 0 && one)
			*out = one;
		else
			free(one);
	}
	if (rc == 0 && l->t == T_COMMA) {
		lex_next(l);
		if (l->t != T_STR || l->quoted ||
		    strspn(l->q + l->start, "0123456789") < l->end - l->start)
			rc = -EINVAL;
		lex_next(l);
	}
	if (rc == 0 && (l->t != T_RP || phrases == 0))
		rc = -EINVAL;
	if (rc < 0) {
		free(*out);
		*out = NULL;
		return rc;
	}
	lex_next(l);
	return 0;
}

/* A run of strings and NEAR groups, ANDed (one that names nothing is left out). */
static int q_run(struct lex *l, char **out)
{
	int rc = 0;

	while (rc == 0 && l->t == T_STR) {
		struct lex s = *l;
		char *one = NULL;
		bool star;

		if ((rc = q_at_near(l)) == 1) {
			rc = q_near(l, &one);
		} else if (rc == 0) {
			lex_next(l);
			if ((star = l->t == T_STAR))
				lex_next(l);
			rc = q_string(&s, star, &one);
		}
		if (rc == 0 && l->t == T_LP)
			rc = -EINVAL; /* a parenthesis right after a string */
		if (rc < 0)
			free(one);
		else if (one && *out)
			rc = q_join(out, " & ", one);
		else if (one)
			*out = one;
	}
	if (rc < 0) {
		free(*out);
		*out = NULL;
	}
	return rc;
}

/* A parenthesised query, or a run of strings. */
static int q_unit(struct lex *l, char **out)
{
	int rc;

	*out = NULL;
	if (l->t == T_STR)
		return q_run(l, out);
	if (l->t != T_LP || ++l->depth > QUERY_DEPTH)
		return -EINVAL;
	lex_next(l);
	rc = q_or(l, out);
	l->depth--;
	if (rc == 0 && l->t != T_RP) {
		free(*out);
		*out = NULL;
		rc = -EINVAL;
	}
	if (rc == 0)
		lex_next(l);
	return rc;
}

/* unit NOT unit ...: a NOT that names nothing takes nothing away. */
static int q_not(struct lex *l, char **out)
{
	int rc = q_unit(l, out);

	while (rc == 0 && l->t == T_NOT) {
		char *b = NULL;

		lex_next(l);
		if ((rc = q_unit(l, &b)) < 0) {
			free(*out);
			*out = NULL;
		} else if (*out && b) {
			rc = q_join(out, " & !", b);
		} else {
			free(b);
		}
	}
	return rc;
}

/* NOT-terms ANDed: one that names nothing makes the AND name nothing. */
static int q_and(struct lex *l, char **out)
{
	int rc = q_not(l, out);

	while (rc == 0 && l->t == T_AND) {
		char *b = NULL;

		lex_next(l);
		rc = q_not(l, &b);
		if (rc == 0 && *out && b) {
			rc = q_join(out, " & ", b);
		} else {
			free(*out);
			free(b);
			*out = NULL;
		}
	}
	return rc;
}

/* AND-terms ORed: one that names nothing is no alternative. */
static int q_or(struct lex *l, char **out)
{
	int rc = q_and(l, out);

	while (rc == 0 && l->t == T_OR) {
		char *b = NULL;

		lex_next(l);
		if ((rc = q_and(l, &b)) < 0) {
			free(*out);
			*out = NULL;
		} else if (*out && b) {
			rc = q_join(out, " | ", b);
		} else if (b) {
			*out = b;
		}
	}
	return rc;
}

/* The tsquery text of the words query q into *out (malloc()ed; NULL when it names no
   indexed row). 0, -EINVAL (a query FTS5 would refuse), or -ENOMEM. */
static int pg_words_query(const char *q, char **out)
{
	struct lex l = {.q = q, .n = strlen(q)};
	int rc;

	*out = NULL;
	lex_next(&l);
	rc = q_or(&l, out);
	if (rc == 0 && l.t != T_END)
		rc = -EINVAL;
	if (rc < 0) {
		free(*out);
		*out = NULL;
	}
	return rc;
}

/* ------------------------------------------------------------------ transactions */

/* Begin the span of work a function of this file does as one: its own transaction (lazy
   or not) when none is open, else a savepoint of the caller's (so that a failure undoes
   this work alone, as a failed statement does in SQLite). */
static int span_begin(struct fw_pg *p, bool lazy, bool *own)
{
	*own = !p->in_tx && PQtransactionStatus(p->conn) == PQTRANS_IDLE;
	if (*own)
		return lazy ? fw_pg_begin_lazy(&p->base) : fw_pg_begin(&p->base);
	return fw_pg_cmd(p, "SAVEPOINT fw_archive", 0, NULL, NULL);
}

/* End it: kept when ret is 0, undone otherwise (the message of the failure kept). Returns
   ret, or the commit's error. */
static int span_end(struct fw_pg *p, bool own, int ret)
{
	char msg[sizeof(p->msg)];

	if (ret == 0)
		ret = own ? fw_pg_commit(&p->base)
		          : fw_pg_cmd(p, "RELEASE SAVEPOINT fw_archive", 0, NULL, NULL);
	if (ret < 0) {
		memcpy(msg, p->msg, sizeof(msg));
		if (own)
			fw_pg_rollback(&p->base);
		else
			fw_pg_cmd(p,
			          "ROLLBACK TO SAVEPOINT fw_archive; RELEASE SAVEPOINT fw_archive",
			          0, NULL, NULL);
		memcpy(p->msg, msg, sizeof(msg));
	}
	return ret;
}

/* ------------------------------------------------------------------ archive rows */

/* fw_pg_archive_add's outside a transaction, and for a queue of one row (pg_int.h:
   prepared per connection). */
#define ARCHIVE_COLS                                                                               \
	"INSERT INTO archive (feed, item, seen, published, updated, title, link, author, summary," \
	" content, categories, bytes) VALUES "
#define ARCHIVE_VALUES 12 /* an archive row's: $1 ... $12 */
static const struct fw_pg_stmt archive_add_stmt = {
    "fw_archive_add", ARCHIVE_COLS "($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
    ARCHIVE_VALUES, false};

/* The statements of a poll this file runs. */
const struct fw_pg_stmt *const fw_pg_stmts_archive[] = {&archive_add_stmt, NULL};

/* An archive row added in a transaction and not sent yet: its values in one block. */
struct fw_pg_archived {
	char *buf;
	const char *v[ARCHIVE_VALUES];
};

/* Rows one INSERT sends at most: a new item is archived in its poll's transaction, and the
   50 of a cold poll cost the database one statement instead of 50 (a statement's parse,
   bind and round trip cost more than its row). */
#define ARCHIVE_BATCH 128

void fw_pg_archive_drop(struct fw_pg *p)
{
	for (size_t i = 0; i < p->n_queued; i++)
		free(p->queued[i].buf);
	p->n_queued = 0;
}

/* The INSERT of n rows into sql (len bytes: "$NNNN," fits in 8 bytes a value). */
static void many_rows(char *sql, size_t len, size_t n)
{
	char *at = sql;

	for (size_t i = 0; i < n; i++) {
		at += snprintf(at, len - (size_t)(at - sql), "%s(", i ? "," : ARCHIVE_COLS);
		for (size_t k = 0; k < ARCHIVE_VALUES; k++)
			at += snprintf(at, len - (size_t)(at - sql), "$%zu%s",
			               i * ARCHIVE_VALUES + k + 1,
			               k + 1 < ARCHIVE_VALUES ? "," : ")");
	}
}

int fw_pg_archive_send(struct fw_pg *p)
{
	size_t n = p->n_queued, len = sizeof(ARCHIVE_COLS) + n * ARCHIVE_VALUES * 8;
	struct fw_pg_archived *q = p->queued;
	const char **v = malloc(n * sizeof(q->v));
	char *sql = n > 1 ? malloc(len) : NULL;
	int ret = 0;

	/* taken off the queue first: the statement below sends nothing before it */
	p->n_queued = 0;
	if (v == NULL || (n > 1 && sql == NULL))
		ret = fw_pg_fail_msg(p, -ENOMEM, "out of memory");
	for (size_t i = 0; ret == 0 && i < n; i++)
		memcpy(v + i * ARCHIVE_VALUES, q[i].v, sizeof(q[i].v));
	if (ret == 0 && n == 1) {
		ret = fw_pg_run_cmd(p, &archive_add_stmt, v, NULL);
	} else if (ret == 0) {
		many_rows(sql, len, n);
		ret = fw_pg_cmd(p, sql, (int)(n * ARCHIVE_VALUES), v, NULL);
	}
	for (size_t i = 0; i < n; i++)
		free(q[i].buf);
	free(v);
	free(sql);
	return ret;
}

/* A place at the end of the queue, or NULL when out of memory. */
static struct fw_pg_archived *queue_slot(struct fw_pg *p)
{
	if (p->n_queued == p->queued_cap) {
		size_t cap = p->queued_cap ? p->queued_cap * 2 : 16;
		struct fw_pg_archived *q = realloc(p->queued, cap * sizeof(*q));

		if (q == NULL)
			return NULL;
		p->queued = q;
		p->queued_cap = cap;
	}
	return &p->queued[p->n_queued];
}

/* See store.h (fw_store_archive_add). Text that is not UTF-8, which PostgreSQL refuses (and
   with it the caller's transaction), is refused before it is sent: -EINVAL; a row whose
   values pass these checks is one PostgreSQL takes, so in a transaction it is queued, sent
   with the rows after it (pg_int.h). */
int fw_pg_archive_add(struct fw_store *s, const struct fw_archive_row *r)
{
	static const size_t max[6] = {FW_ARCHIVE_TITLE_MAX,  FW_ARCHIVE_LINK_MAX,
	                              FW_ARCHIVE_AUTHOR_MAX, FW_ARCHIVE_TEXT_MAX,
	                              FW_ARCHIVE_TEXT_MAX,   FW_ARCHIVE_CATEGORIES_MAX};
	struct fw_pg *p = fw_pg_of(s);
	char cats[FW_ARCHIVE_CATEGORIES_MAX + 1], *buf, *at;
	const char *link = r->link && strlen(r->link) <= FW_ARCHIVE_LINK_MAX ? r->link : NULL;
	const char *src[6] = {r->title, link, r->author, r->summary, r->content, cats};
	struct fw_pg_archived row, *slot;
	size_t n[6], keys[2], total = 4 * 24;
	int64_t bytes = 0;
	int ret;

	if ((ret = fw_pg_check_key(p, r->feed)) < 0 || (ret = fw_pg_check_key(p, r->item)) < 0)
		return ret;
	fw_store_archive_categories(r, cats);
	total += (keys[0] = strlen(r->feed) + 1) + (keys[1] = strlen(r->item) + 1);
	for (int i = 0; i < 6; i++)
		total += (n[i] = fw_store_cut_len(src[i], max[i])) + 1;
	if ((at = buf = malloc(total)) == NULL)
		return fw_pg_fail_msg(p, -ENOMEM, "out of memory");
	/* title, link, author, summary, content, categories: $6 ... $11; "" is NULL */
	for (int i = 0; i < 6; i++) {
		if (!fw_pg_utf8(src[i], n[i])) {
			free(buf);
			return fw_pg_fail_msg(p, -EINVAL, "an archived item's text is not UTF-8");
		}
		memcpy(at, src[i] ? src[i] : "", n[i]);
		at[n[i]] = 0;
		row.v[5 + i] = n[i] > 0 || i == 0 ? at : NULL; /* the title is NOT NULL */
		at += n[i] + 1;
		bytes += (int64_t)n[i];
	}
	row.v[0] = memcpy(at, r->feed, keys[0]);
	row.v[1] = memcpy(at += keys[0], r->item, keys[1]);
	at += keys[1];
	row.v[2] = fw_pg_i64(at, r->seen);
	row.v[3] = r->published != FW_TIME_NONE_ ? fw_pg_i64(at + 24, r->published) : NULL;
	row.v[4] = r->updated != FW_TIME_NONE_ ? fw_pg_i64(at + 48, r->updated) : NULL;
	row.v[11] = fw_pg_i64(at + 72, bytes + (int64_t)strlen(r->item));
	row.buf = buf;
	if (!p->in_tx) {
		ret = fw_pg_run_cmd(p, &archive_add_stmt, row.v, NULL);
		free(buf);
		return ret;
	}
	if ((slot = queue_slot(p)) == NULL) {
		free(buf);
		return fw_pg_fail_msg(p, -ENOMEM, "out of memory");
	}
	*slot = row;
	return ++p->n_queued < ARCHIVE_BATCH ? 0 : fw_pg_archive_send(p);
}

/* The columns row_visit reads, for a WHERE clause to follow. */
#define COLS                                                                                       \
	"SELECT id, feed, item, seen, published, updated, title, link, author, summary, content,"  \
	" categories FROM archive WHERE "

/* Row i of r (the columns of COLS) to cb; the categories split into an array. */
static int row_visit(struct fw_pg *p, const PGresult *r, int i, fw_store_archive_cb cb, void *arg)
{
	const char *cats = fw_pg_get_str(r, i, 11);
	struct fw_archive_row row = {
	    .id = fw_pg_get_i64(r, i, 0),
	    .feed = fw_pg_get_str(r, i, 1),
	    .item = fw_pg_get_str(r, i, 2),
	    .seen = fw_pg_get_i64(r, i, 3),
	    .published = PQgetisnull(r, i, 4) ? FW_TIME_NONE_ : fw_pg_get_i64(r, i, 4),
	    .updated = PQgetisnull(r, i, 5) ? FW_TIME_NONE_ : fw_pg_get_i64(r, i, 5),
	    .title = fw_pg_get_str(r, i, 6),
	    .link = fw_pg_get_str(r, i, 7),
	    .author = fw_pg_get_str(r, i, 8),
	    .summary = fw_pg_get_str(r, i, 9),
	    .content = fw_pg_get_str(r, i, 10),
	};
	char *copy = NULL, **v = NULL;
	size_t n = 0;
	int ret;

	if (cats && *cats) {
		copy = strdup(cats);
		v = calloc(strlen(cats) / 2 + 2, sizeof(*v));
		if (copy == NULL || v == NULL) {
			free(copy);
			free(v);
			return fw_pg_fail_msg(p, -ENOMEM, "out of memory");
		}
		for (char *c = copy, *nl; c; c = nl ? nl + 1 : NULL) {
			if ((nl = strchr(c, '\n')) != NULL)
				*nl = 0;
			if (*c)
				v[n++] = c;
		}
	}
	row.categories = (const char *const *)v;
	row.n_categories = n;
	ret = cb(&row, arg);
	free(v);
	free(copy);
	return ret;
}

/* CLOSE the cursor name unless the transaction it lives in failed (its rollback closes
   it); p->msg as it was. */
static void cursor_close(struct fw_pg *p, const char *name)
{
	char sql[64], msg[sizeof(p->msg)];

	if (PQtransactionStatus(p->conn) == PQTRANS_INERROR)
		return;
	memcpy(msg, p->msg, sizeof(msg));
	snprintf(sql, sizeof(sql), "CLOSE %s", name);
	fw_pg_cmd(p, sql, 0, NULL, NULL);
	memcpy(p->msg, msg, sizeof(msg));
}

/*
 * Walk the rows of sql (parameters v) through a cursor, EACH_ROWS at a time, so that
 * neither side holds the whole archive and the callback may use the connection (write
 * to other tables, begin and end transactions: outside a transaction the cursor is WITH
 * HOLD, which outlives them). 0, a callback's non-zero return, or -errno.
 */
static int walk(struct fw_pg *p, const char *sql, int n, const char *const *v,
                fw_store_archive_cb cb, void *arg)
{
	static atomic_ulong seq;
	bool hold = PQtransactionStatus(p->conn) == PQTRANS_IDLE;
	char name[40], fetch[80];
	struct sbuf decl = {0};
	PGresult *r;
	int ret = 0, rows = EACH_ROWS;

	snprintf(name, sizeof(name), "fw_archive_%lu", atomic_fetch_add(&seq, 1));
	sputs(&decl, "DECLARE ");
	sputs(&decl, name);
	sputs(&decl, hold ? " NO SCROLL CURSOR WITH HOLD FOR " : " NO SCROLL CURSOR FOR ");
	sputs(&decl, sql);
	if (decl.oom) {
		free(decl.s);
		return fw_pg_fail_msg(p, -ENOMEM, "out of memory");
	}
	r = fw_pg_exec(p, decl.s, n, v, NULL, NULL, &ret);
	free(decl.s);
	if (!r)
		return ret;
	PQclear(r);
	snprintf(fetch, sizeof(fetch), "FETCH FORWARD " EACH_BATCH " FROM %s", name);
	while (ret == 0 && rows == EACH_ROWS) {
		if ((r = fw_pg_exec(p, fetch, 0, NULL, NULL, NULL, &ret)) == NULL)
			break;
		rows = PQntuples(r);
		for (int i = 0; ret == 0 && i < rows; i++)
			ret = row_visit(p, r, i, cb, arg);
		PQclear(r);
	}
	cursor_close(p, name);
	return ret;
}

/* Rows seen at or after $1, as archive.c has them (without an index on seen: the ids say
   the order rows were added in), walking back from the newest row. */
#define SINCE "id > coalesce((SELECT id FROM archive WHERE seen < $1 ORDER BY id DESC LIMIT 1), 0)"

/* See store.h (fw_store_archive_each): the same rows in the same order, the words query
   read as FTS5 reads it (pg_words_query; FTS5's parser stack limits how deep parentheses
   nest, this one does not), the rows walked through a cursor. */
int fw_pg_archive_each(struct fw_store *s, int64_t since, const char *words, fw_store_archive_cb cb,
                       void *arg)
{
	struct fw_pg *p = fw_pg_of(s);
	char num[24], *tsq = NULL;
	const char *v[2] = {fw_pg_i64(num, since), NULL};
	int ret;

	if (words && strnlen(words, FW_STORE_TEXT_MAX + 1) > FW_STORE_TEXT_MAX)
		return fw_pg_fail_msg(p, -E2BIG, "string longer than the store accepts");
	if (words && (ret = pg_words_query(words, &tsq)) < 0)
		return fw_pg_fail_msg(p, ret,
		                      ret == -ENOMEM ? "out of memory"
		                                     : "a words query the archive's index refuses");
	/* rows not indexed yet are candidates whatever their words; tsq NULL names no row */
	v[1] = tsq;
	ret = walk(p,
	           words ? COLS SINCE " AND (words IS NULL OR words @@ $2::tsquery) ORDER BY id"
	                 : COLS SINCE " ORDER BY id",
	           words ? 2 : 1, v, cb, arg);
	free(tsq);
	return ret;
}

/* See store.h (fw_store_archive_count). */
int fw_pg_archive_count(struct fw_store *s, int64_t since, int64_t *n, int64_t *bytes)
{
	struct fw_pg *p = fw_pg_of(s);
	char num[24];
	const char *v[1] = {fw_pg_i64(num, since)};
	int ret = 0;
	PGresult *r =
	    fw_pg_exec(p, "SELECT count(*), coalesce(sum(bytes), 0) FROM archive WHERE " SINCE, 1,
	               v, NULL, NULL, &ret);

	if (!r)
		return ret;
	if (n)
		*n = fw_pg_get_i64(r, 0, 0);
	if (bytes)
		*bytes = fw_pg_get_i64(r, 0, 1);
	PQclear(r);
	return 0;
}

/* ------------------------------------------------------------------ the word index */

/* One batch's words: the ids and the word lists, as array literals. */
struct batch {
	struct fw_pg *p;
	const struct fw_store_words *w;
	struct sbuf ids, words;
};

static int batch_row_cb(const struct fw_archive_row *r, void *arg)
{
	struct batch *b = arg;
	char num[24], *words = NULL;
	int ret = b->w->fn(r, &words, b->w->arg);

	if (ret < 0)
		return fw_pg_fail_msg(b->p, ret, "cannot make the words of an archived item");
	sputs(&b->ids, b->ids.len ? "," : "{");
	sputs(&b->ids, fw_pg_i64(num, r->id));
	/* a word holds no quote, backslash or space: quoted, a list is one element */
	sputs(&b->words, b->words.len ? ",\"" : "{\"");
	put_words(&b->words, words ? words : "");
	sputs(&b->words, "\"");
	free(words);
	return b->ids.oom || b->words.oom ? fw_pg_fail_msg(b->p, -ENOMEM, "out of memory") : 0;
}

/* Index the oldest max rows not indexed that no other node holds. */
static int index_batch(struct fw_pg *p, size_t max, const struct fw_store_words *w, size_t *done)
{
	struct batch b = {.p = p, .w = w};
	char num[24];
	const char *v[2] = {fw_pg_i64(num, max > (1 << 20) ? (1 << 20) : (int64_t)max)};
	int ret = 0, rows;
	int64_t changed = 0;
	PGresult *r =
	    fw_pg_exec(p, COLS "words IS NULL ORDER BY id LIMIT $1 FOR UPDATE SKIP LOCKED", 1, v,
	               NULL, NULL, &ret);

	if (!r)
		return ret;
	rows = PQntuples(r);
	for (int i = 0; ret == 0 && i < rows; i++)
		ret = row_visit(p, r, i, batch_row_cb, &b);
	PQclear(r);
	if (ret == 0 && rows > 0) {
		sputs(&b.ids, "}");
		sputs(&b.words, "}");
		v[0] = b.ids.s;
		v[1] = b.words.s;
		ret = b.ids.oom || b.words.oom
		          ? fw_pg_fail_msg(p, -ENOMEM, "out of memory")
		          : fw_pg_cmd(p,
		                      "UPDATE archive AS a SET words ="
		                      " array_to_tsvector(string_to_array(v.w, ' '))"
		                      " FROM unnest($1::bigint[], $2::text[]) AS v (id, w)"
		                      " WHERE a.id = v.id",
		                      2, v, &changed);
	}
	free(b.ids.s);
	free(b.words.s);
	if (ret == 0)
		*done = (size_t)changed;
	return ret;
}

/* See store.h (fw_store_archive_index): the oldest rows not indexed that no other node is
   indexing (or deleting) right now; a node's own transaction holds them until it ends. */
int fw_pg_archive_index(struct fw_store *s, size_t max, const struct fw_store_words *w,
                        size_t *indexed)
{
	struct fw_pg *p = fw_pg_of(s);
	size_t n = 0;
	bool own, any;
	int ret = 0;
	PGresult *r;

	*indexed = 0;
	if (max == 0)
		return 0;
	/* the loop asks every second: a look at the partial index, no transaction */
	r = fw_pg_exec(p, "SELECT EXISTS (SELECT 1 FROM archive WHERE words IS NULL)", 0, NULL,
	               NULL, NULL, &ret);
	if (!r)
		return ret;
	any = strcmp(PQgetvalue(r, 0, 0), "t") == 0;
	PQclear(r);
	if (!any)
		return 0;
	if ((ret = span_begin(p, true, &own)) < 0)
		return ret;
	ret = span_end(p, own, index_batch(p, max, w, &n));
	if (ret == 0)
		*indexed = n;
	return ret;
}

/* ------------------------------------------------------------------ the prune */

/* One integer of a query (parameters v) into *out; *found (may be NULL when it always
   returns a row) says whether a row came. */
static int one_value(struct fw_pg *p, const char *sql, int n, const char *const *v, int64_t *out,
                     bool *found)
{
	int ret = 0;
	PGresult *r = fw_pg_exec(p, sql, n, v, NULL, NULL, &ret);

	if (!r)
		return ret;
	if (PQntuples(r) > 0)
		*out = fw_pg_get_i64(r, 0, 0);
	if (found)
		*found = PQntuples(r) > 0;
	PQclear(r);
	return 0;
}

/* Delete the rows up to id upto (their words go with them); counted in *deleted. The rows
   of another node's insert that commits late with a lower id are spared by age. */
static int delete_upto(struct fw_pg *p, int64_t upto, int64_t before, int64_t *deleted)
{
	char a[24], b[24];
	const char *v[2] = {fw_pg_i64(a, upto), fw_pg_i64(b, before)};
	int64_t changed = 0;
	int ret = fw_pg_cmd(p, "DELETE FROM archive WHERE id <= $1 AND seen < $2", 2, v, &changed);

	if (ret == 0)
		*deleted += changed;
	return ret;
}

/* By age: the oldest rows, up to n, while they were seen before pr->before. */
static int step_age(struct fw_pg *p, struct fw_store_archive_pruning *pr, int64_t n)
{
	char num[24];
	const char *v[1] = {fw_pg_i64(num, n)};
	int64_t last = 0, old = 0;
	int ret = 0, rows;
	PGresult *r = fw_pg_exec(p, "SELECT id, seen FROM archive ORDER BY id LIMIT $1", 1, v, NULL,
	                         NULL, &ret);

	if (!r)
		return ret;
	rows = PQntuples(r);
	for (int i = 0; i < rows && fw_pg_get_i64(r, i, 1) < pr->before; i++, old++)
		last = fw_pg_get_i64(r, i, 0);
	PQclear(r);
	if (old > 0 && (ret = delete_upto(p, last, pr->before, &pr->deleted)) < 0)
		return ret;
	/* a row young enough, or the end of the table: the age is done */
	if (old < rows || rows < n) {
		pr->phase = pr->max_bytes > 0 ? 1 : 3;
		ret = one_value(p, "SELECT coalesce(max(id), 0) + 1 FROM archive", 0, NULL,
		                &pr->pos, NULL);
		pr->cut = pr->pos; /* nothing fits yet: every row up to the newest goes */
	}
	return ret;
}

/* By size: walk up to n rows back from pr->pos, adding their bytes, until they pass the
   cap: the rows below the last one that fits go. */
static int step_size(struct fw_pg *p, struct fw_store_archive_pruning *pr, int64_t n)
{
	char a[24], b[24];
	const char *v[2] = {fw_pg_i64(a, pr->pos), fw_pg_i64(b, n)};
	int ret = 0, rows;
	PGresult *r =
	    fw_pg_exec(p, "SELECT id, bytes FROM archive WHERE id < $1 ORDER BY id DESC LIMIT $2",
	               2, v, NULL, NULL, &ret);

	if (!r)
		return ret;
	rows = PQntuples(r);
	for (int i = 0; i < rows; i++) {
		int64_t bytes = fw_pg_get_i64(r, i, 1);

		if (pr->sum + bytes > pr->max_bytes) {
			pr->cut = pr->pos; /* the last row that fits (or the snapshot's end) */
			pr->phase = 2;
			break;
		}
		pr->sum += bytes;
		pr->pos = fw_pg_get_i64(r, i, 0);
	}
	PQclear(r);
	if (pr->phase == 1 && rows < n)
		pr->phase = 3; /* every row fits */
	return 0;
}

/* The rows below pr->cut, the oldest n of them at most. */
static int step_cut(struct fw_pg *p, struct fw_store_archive_pruning *pr, int64_t n)
{
	char a[24], b[24];
	const char *v[2] = {fw_pg_i64(a, pr->cut), fw_pg_i64(b, n - 1)};
	int64_t hi = 0;
	bool more = false;
	int ret = one_value(p, "SELECT id FROM archive WHERE id < $1 ORDER BY id LIMIT 1 OFFSET $2",
	                    2, v, &hi, &more);

	/* by size, whatever their age: "before" past every row */
	if (ret == 0)
		ret = delete_upto(p, more ? hi : pr->cut - 1, INT64_MAX, &pr->deleted);
	if (ret == 0 && !more)
		pr->phase = 3;
	return ret;
}

/* See store.h (fw_store_archive_prune_step): the phases of archive.c's; w is not needed (a
   row's words go with the row). Inside the caller's transaction a step is a savepoint. */
int fw_pg_archive_prune_step(struct fw_store *s, struct fw_store_archive_pruning *pr,
                             size_t max_rows, const struct fw_store_words *w, bool *done)
{
	struct fw_pg *p = fw_pg_of(s);
	int64_t n = max_rows < 1 ? 1 : max_rows > (1 << 20) ? (1 << 20) : (int64_t)max_rows;
	struct fw_store_archive_pruning was = *pr;
	bool own = false;
	int ret = span_begin(p, false, &own);

	(void)w;
	*done = false;
	if (ret < 0)
		return ret;
	if (pr->phase == 0)
		ret = step_age(p, pr, n);
	else if (pr->phase == 1)
		ret = step_size(p, pr, n);
	else if (pr->phase == 2)
		ret = step_cut(p, pr, n);
	if (ret == 0 && pr->phase == 3)
		ret = fw_pg_cmd(p,
		                "INSERT INTO meta (k, v) VALUES ('archive_pruned',"
		                " floor(extract(epoch FROM clock_timestamp()))::bigint)"
		                " ON CONFLICT (k) DO UPDATE SET v = EXCLUDED.v",
		                0, NULL, NULL);
	ret = span_end(p, own, ret);
	if (ret < 0)
		*pr = was; /* undone: the same step again next time */
	*done = ret == 0 && pr->phase == 3;
	return ret;
}

/* See store.h (fw_store_archive_last_prune). */
int fw_pg_archive_last_prune(struct fw_store *s, int64_t *when)
{
	return one_value(fw_pg_of(s),
	                 "SELECT coalesce((SELECT v FROM meta WHERE k = 'archive_pruned'), 0)", 0,
	                 NULL, when, NULL);
}

/* ------------------------------------------------------------------ WebSub subscriptions */

/* See store.h (fw_store_websub_save). */
int fw_pg_websub_save(struct fw_store *s, const struct fw_store_websub *w)
{
	struct fw_pg *p = fw_pg_of(s);
	char num[5][24];
	const char *v[11] = {w->token,
	                     w->feed,
	                     w->hub,
	                     w->topic,
	                     w->secret,
	                     w->state,
	                     fw_pg_i64(num[0], w->lease_end),
	                     fw_pg_i64(num[1], w->updated),
	                     fw_pg_i64(num[2], w->last_push),
	                     fw_pg_i64(num[3], w->pushes),
	                     fw_pg_i64(num[4], w->bad_signatures)};
	int ret = 0;

	for (int i = 0; ret == 0 && i < 6; i++)
		ret = fw_pg_check_key(p, v[i]);
	if (ret < 0)
		return ret;
	return fw_pg_cmd(p,
	                 "INSERT INTO websub_subs (token, feed, hub, topic, secret, state,"
	                 " lease_end, updated, last_push, pushes, bad_signatures)"
	                 " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)"
	                 " ON CONFLICT (token) DO UPDATE SET feed = EXCLUDED.feed,"
	                 " hub = EXCLUDED.hub, topic = EXCLUDED.topic, secret = EXCLUDED.secret,"
	                 " state = EXCLUDED.state, lease_end = EXCLUDED.lease_end,"
	                 " updated = EXCLUDED.updated, last_push = EXCLUDED.last_push,"
	                 " pushes = EXCLUDED.pushes, bad_signatures = EXCLUDED.bad_signatures",
	                 11, v, NULL);
}

/* See store.h (fw_store_websub_delete). */
int fw_pg_websub_delete(struct fw_store *s, const char *token)
{
	struct fw_pg *p = fw_pg_of(s);
	const char *v[1] = {token};
	int ret = fw_pg_check_key(p, token);

	return ret < 0 ? ret : fw_pg_cmd(p, "DELETE FROM websub_subs WHERE token = $1", 1, v, NULL);
}

/* See store.h (fw_store_websub_counts). */
int fw_pg_websub_counts(struct fw_store *s, const char *token, int64_t last_push, int64_t pushes,
                        int64_t bad_signatures)
{
	struct fw_pg *p = fw_pg_of(s);
	char num[3][24];
	const char *v[4] = {token, fw_pg_i64(num[0], last_push), fw_pg_i64(num[1], pushes),
	                    fw_pg_i64(num[2], bad_signatures)};
	int ret = fw_pg_check_key(p, token);

	if (ret < 0)
		return ret;
	return fw_pg_cmd(p,
	                 "UPDATE websub_subs SET last_push = $2, pushes = $3, bad_signatures = $4"
	                 " WHERE token = $1",
	                 4, v, NULL);
}

/* A text column, or "". */
static const char *col(const PGresult *r, int row, int i)
{
	const char *v = fw_pg_get_str(r, row, i);

	return v ? v : "";
}

/* See store.h (fw_store_websub_each). */
int fw_pg_websub_each(struct fw_store *s, fw_store_websub_cb cb, void *arg)
{
	struct fw_pg *p = fw_pg_of(s);
	int ret = 0;
	PGresult *r =
	    fw_pg_exec(p,
	               "SELECT token, feed, hub, topic, secret, state, lease_end, updated,"
	               " last_push, pushes, bad_signatures FROM websub_subs"
	               " ORDER BY feed, token",
	               0, NULL, NULL, NULL, &ret);

	if (!r)
		return ret;
	/* the rows are few (one per subscription) and all here: cb may use the store */
	for (int i = 0; ret == 0 && i < PQntuples(r); i++) {
		struct fw_store_websub w = {.token = col(r, i, 0),
		                            .feed = col(r, i, 1),
		                            .hub = col(r, i, 2),
		                            .topic = col(r, i, 3),
		                            .secret = col(r, i, 4),
		                            .state = col(r, i, 5),
		                            .lease_end = fw_pg_get_i64(r, i, 6),
		                            .updated = fw_pg_get_i64(r, i, 7),
		                            .last_push = fw_pg_get_i64(r, i, 8),
		                            .pushes = fw_pg_get_i64(r, i, 9),
		                            .bad_signatures = fw_pg_get_i64(r, i, 10)};

		ret = cb(&w, arg);
	}
	PQclear(r);
	return ret;
}
