/* test_text.c - HTML to plain text, whitespace, UTF-8. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <dirent.h>
#include <errno.h>
#include <stdio.h>

#include <libxml/xmlreader.h>

#include "text.h"

static void html(const char *in, const char *want)
{
	char *got = fw_text_from_html(in, strlen(in), 1 << 20);

	assert_non_null(got);
	if (strcmp(got, want) != 0)
		print_error("in: %s\n", in);
	assert_string_equal(got, want);
	free(got);
}

static void test_html(void **state)
{
	(void)state;
	html("", "");
	html("plain text", "plain text");
	html("<p>Hello <b>World</b></p>", "Hello World");
	html("<p>one</p><p>two</p>", "one two");
	html("a<br>b<br/>c", "a b c");
	html("<div>x</div><div>y</div>", "x y");
	html("in<b>line</b>", "inline");
	html("<script>alert(1)</script>seen<style>p{color:red}</style>", "seen");
	html("<noscript>no</noscript>yes", "yes");
	html("&amp; &lt; &gt; &quot; &#39; &#x41; &#65;", "& < > \" ' A A");
	html("caf&eacute; &mdash; &hellip; &nbsp;x &copy; &euro;",
	     "caf\xc3\xa9 \xe2\x80\x94 \xe2\x80\xa6 x \xc2\xa9 \xe2\x82\xac");
	html("  lots \n\t of   space  ", "lots of space");
	html("AT&T rocks", "AT&T rocks");
	html("?page=1&copy=2", "?page=1&copy=2"); /* no semicolon: not an entity */
	html("a < b and c > d", "a < b and c > d");
	html("<p>unclosed <b>bold", "unclosed bold");
	html("<ul><li>one</li><li>two</li></ul>", "one two");
	html("<table><tr><td>a</td><td>b</td></tr></table>", "a b");
	html("<!-- comment -->text", "text");
	html("<p>x&nbsp;&nbsp;y</p>", "x y");
	html("<meta charset=\"iso-8859-1\"><p>\xc3\xa9</p>", "\xc3\xa9"); /* stays UTF-8 */
}

static void test_cap(void **state)
{
	(void)state;
	char *s = fw_text_from_html("<p>abcdef</p>", 13, 3);
	assert_string_equal(s, "abc");
	free(s);
	/* never cut inside a character */
	s = fw_text_plain("\xc3\xa9\xc3\xa9", 4, 3);
	assert_string_equal(s, "\xc3\xa9");
	free(s);
	s = fw_text_plain("ab   cd", 7, 3);
	assert_string_equal(s, "ab");
	free(s);
	/* huge input, small output, bounded */
	size_t n = 8 << 20;
	char *big = malloc(n);
	assert_non_null(big);
	memset(big, 'x', n);
	s = fw_text_plain(big, n, 1000);
	assert_int_equal(strlen(s), 1000);
	free(s);
	memcpy(big, "<p>", 3);
	s = fw_text_from_html(big, n, 1000);
	assert_int_equal(strlen(s), 1000);
	free(s);
	free(big);
}

static void test_plain(void **state)
{
	(void)state;
	char *s = fw_text_plain("a <b> &amp; c", 13, 100);
	assert_string_equal(s, "a <b> &amp; c"); /* plain means plain */
	free(s);
	/* invalid UTF-8 -> U+FFFD; controls dropped; Unicode spaces collapse */
	s = fw_text_plain("a\xff"
	                  "b\x01"
	                  "c\xc2\xa0"
	                  "d\xe3\x80\x80"
	                  "e\xc2\x85"
	                  "f",
	                  15, 100);
	assert_string_equal(s, "a\xef\xbf\xbd"
	                       "bc d e f");
	free(s);
	s = fw_text_plain("x\xed\xa0\x80y", 5, 100); /* surrogate */
	assert_string_equal(s, "x\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbdy");
	free(s);
	s = fw_text_plain(NULL, 0, 10);
	assert_string_equal(s, "");
	free(s);
}

static void test_collapse(void **state)
{
	(void)state;
	char a[] = "  a \t\n b  c  ";
	assert_string_equal(fw_text_collapse(a), "a b c");
	char b[] = "";
	assert_string_equal(fw_text_collapse(b), "");
	char c[] = "x\xc2\xa0\xc2\xa0y\x07";
	assert_string_equal(fw_text_collapse(c), "x y");
	char d[] = "bad\xff";
	assert_string_equal(fw_text_collapse(d), "bad");
	assert_null(fw_text_collapse(NULL));
}

static void test_has_markup(void **state)
{
	(void)state;
	assert_true(fw_text_has_markup("<b>x</b>", 8));
	assert_true(fw_text_has_markup("a &amp; b", 9));
	assert_true(fw_text_has_markup("&#233;", 6));
	assert_true(fw_text_has_markup("</p>", 4));
	assert_false(fw_text_has_markup("a < b", 5));
	assert_false(fw_text_has_markup("AT&T", 4));
	assert_false(fw_text_has_markup("a & b", 5));
	assert_false(fw_text_has_markup("plain", 5));
	assert_false(fw_text_has_markup("<", 1));
}

/* ---- the fast path against libxml2's HTML parser ---- */

/* The tags the fast path knows (text.c fast_tags), plus some it must leave alone. */
static const char *const fast_names[] = {
    "a",    "abbr", "acronym", "address", "b",   "big",  "blockquote", "br",   "center", "cite",
    "code", "dd",   "del",     "dfn",     "div", "dl",   "dt",         "em",   "font",   "h1",
    "h2",   "h3",   "h4",      "h5",      "h6",  "hr",   "i",          "img",  "ins",    "kbd",
    "li",   "ol",   "p",       "q",       "s",   "samp", "small",      "span", "strike", "strong",
    "sub",  "sup",  "tt",      "u",       "ul",  "var"};
static const char *const other_names[] = {"script",   "style",  "table", "td",   "pre",
                                          "title",    "body",   "html",  "head", "wbr",
                                          "noscript", "option", "figure"};

struct diff_stats {
	size_t n, fast;
};

/* Both paths on one input and cap: same text; counts when the fast path took it. */
static void same(struct diff_stats *st, const char *in, size_t len, size_t cap)
{
	/* text without markup is only cleaned up, by design (no parser: "&#;" stays) */
	if (!fw_text_has_markup(in, len))
		return;
	char *want = fw_text_from_html_libxml2(in, len, cap);
	char *got = fw_text_from_html(in, len, cap);
	char *fast = NULL;
	int r = fw_text_html_fast(in, len, cap, &fast);

	assert_non_null(want);
	assert_non_null(got);
	if (strcmp(want, got) != 0 || (r == 0 && strcmp(want, fast) != 0))
		print_error("in (%zu bytes, cap %zu): %.*s\nlibxml2: %s\nours: %s\n", len, cap,
		            (int)len, in, want, r == 0 ? fast : got);
	assert_string_equal(got, want);
	assert_true(r == 0 || r == -ENOTSUP);
	if (r == 0) {
		assert_string_equal(fast, want);
		st->fast++;
	}
	st->n++;
	free(want);
	free(got);
	free(fast);
}

static void same_str(struct diff_stats *st, const char *in)
{
	same(st, in, strlen(in), 1 << 20);
}

static void test_fast_cases(void **state)
{
	struct diff_stats st = {0};
	static const char *const cases[] = {
	    "text</p>more", "<p>a<p>b", "<li>a<li>b", "<a>x<a>y", "<b>a<div>b</b>c",
	    "<a>x<p>y</a>z", "  <b>x</b> y", "a</b>c", "<p>x</p> y", "a < b <i>x</i>", "a&foo;b<i>",
	    "&#0;x<i>", "x<br/>y<b/>z", "<p/>q", "x&#xFFFE;y<b>", "</p>x", "x<wbr>y</wbr>z",
	    "<P CLASS=\"x\">A<BR>b</P>", "<a href='q>r'>link</a> after",
	    "<img src=\"x.png\" alt=\"&quot;\">caption", "<p>caf&eacute;&nbsp;&#8212;&#x2014;</p>",
	    "x\xef\xbf\xbey<b>", "x\xef\xbf\xbfy<b>", "x\xef\xbf\xbdy<b>", "bad\xff<b>utf</b>",
	    "<b>\xd0\x9f\xd1\x80\xd0\xb8\xd0\xb2\xd0\xb5\xd1\x82</b> Gr\303\274\303\237e",
	    "<ul><li>one<li>two</ul>after", "<dl><dt>t<dd>d</dl>x", "<h1>T</h1>text<h2>U",
	    "<p>a<center>b</center>c", "<font>a<center>b", "<address>a<ul><li>b</address>c",
	    "<p>x<hr>y", "<br>lead", "<span>&amp;</span>&lt;b&gt;", "&#65&#66;", "&amp", "&#x;",
	    "&#;", "&#1114112;", "&#55296;", "&AMP;", "&Eacute;&eacute;", "&hellip;x",
	    "<a\thref=\"x\"\n>y</a >z", "<a href=x>y</a>", "<a href=\"x\"title=\"y\">z</a>",
	    "<b >x</b\t>", "<b/ >x", "<p>x</P>y", "<p>x</q>y", "<b><i>x</b></i>",
	    "\t\n <p>\xc2\xa0x</p>", "x\x01y<b>z</b>", "<div>a</div>\xe2\x80\x83<div>b</div>",
	    "<!-- c -->x<b>", "<?pi x?>y<b>", "<![CDATA[x]]>y", "<b>x<script>s</script>y</b>",
	    "<table><tr><td>a<td>b</table>", "<pre>\nx</pre>", "<title>t</title>x", "a<br></br>b",
	    "<p>x<img></img>y<hr></hr>z", "</b>x<b>", "<b>x</p>y", "<div>a</li>b",
	    /* found by fuzzing: libxml2 drops \f and \v, put_text made spaces of them */
	    "&#8212;^^\f\f^^<br>", "a\vb<b>c</b>", "a\x01\x02b<b>\x1f</b>", "\xef\xbb\xbf&nbsp;",
	    "\xef\xbb\xbfx<b>y</b>", " \xef\xbb\xbfx<b>y</b>", "x\xef\xbb\xbf<b>y",
	    "\x01<img><font>x<center>y<li>z", "\x01 <center>y", "\x01 x<center>y"};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		same_str(&st, cases[i]);
	/* NULs inside (the slow path drops them before libxml2 sees the text) */
	same(&st, "a\0b<b>c</b>", 11, 100);
	same(&st, "<a href=\"\0\">x</a>", 17, 100);
	/* found by fuzzing: the space owed after </p> before bytes that each become U+FFFD
	   overflowed the buffer by one (ASan) */
	char bad[96];
	memset(bad, 0xff, 80);
	memcpy(bad + 80, ">\xc2\xbc\xc2</p>\xbc\x8f\x8f", 11);
	same(&st, bad, 91, 1 << 20);
	/* every pair of known tags, in the shapes where auto-closing shows */
	char buf[256];
	size_t n = sizeof(fast_names) / sizeof(fast_names[0]);
	for (size_t a = 0; a < n; a++) {
		for (size_t b = 0; b < n; b++) {
			const char *y = fast_names[a], *x = fast_names[b];
			snprintf(buf, sizeof(buf), "<%s>w<%s>z</%s>q</%s>v", y, x, x, y);
			same_str(&st, buf);
			snprintf(buf, sizeof(buf), "w<%s>x<%s>y</%s>z", y, x, y);
			same_str(&st, buf);
			snprintf(buf, sizeof(buf), "t</%s>u<%s>v</%s>w", y, x, x);
			same_str(&st, buf);
			snprintf(buf, sizeof(buf), "<%s>a<%s/>b<%s>c</%s>d", y, x, y, y);
			same_str(&st, buf);
		}
	}
	print_message("cases: %zu inputs, %zu by the fast path\n", st.n, st.fast);
	assert_true(st.fast * 3 > st.n); /* a good part takes the fast path */
}

static uint32_t rnd(uint32_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 17;
	*s ^= *s << 5;
	return *s;
}

/* A random fragment from the pieces feed HTML is made of, damage included. */
static size_t random_html(uint32_t *seed, char *buf, size_t size)
{
	static const char *const words[] = {"Putin",
	                                    "summit",
	                                    "Gr\303\274\303\237e",
	                                    "Stra\303\237e",
	                                    "\xd0\x9c\xd0\xbe\xd1\x81\xd0\xba\xd0\xb2\xd0\xb0",
	                                    "\xe4\xb8\xad\xe6\x96\x87",
	                                    " ",
	                                    "  ",
	                                    "\n",
	                                    "\t",
	                                    "\xc2\xa0",
	                                    "\xe2\x80\x83",
	                                    "x",
	                                    "1",
	                                    ">",
	                                    "<",
	                                    "&",
	                                    "&amp;",
	                                    "&lt;",
	                                    "&nbsp;",
	                                    "&eacute;",
	                                    "&#8212;",
	                                    "&#x41;",
	                                    "&#0;",
	                                    "&#xfffe;",
	                                    "&bogus;",
	                                    "&amp",
	                                    "&#",
	                                    "<!-- c -->",
	                                    "<!DOCTYPE html>",
	                                    "\xff",
	                                    "\xef\xbf\xbe",
	                                    "\x01",
	                                    "\f",
	                                    "\v",
	                                    "\r\n",
	                                    "\x7f",
	                                    "\xc2\x85",
	                                    "</",
	                                    "=\"",
	                                    "'",
	                                    "<?x?>",
	                                    ";",
	                                    "/>"};
	size_t len = 0;
	int parts = (int)(rnd(seed) % 24);

	for (int i = 0; i < parts; i++) {
		char piece[96];
		uint32_t k = rnd(seed) % 10;
		const char *name =
		    k == 0 ? other_names[rnd(seed) % (sizeof(other_names) / sizeof(other_names[0]))]
		           : fast_names[rnd(seed) % (sizeof(fast_names) / sizeof(fast_names[0]))];
		switch (rnd(seed) % 8) {
		case 0:
		case 1:
			snprintf(piece, sizeof(piece), "<%s>", name);
			break;
		case 2:
			snprintf(piece, sizeof(piece), "</%s>", name);
			break;
		case 3:
			snprintf(piece, sizeof(piece), "<%s class=\"c\" href='h?a=1&b=2'%s>", name,
			         rnd(seed) % 2 ? "/" : "");
			break;
		case 4:
			snprintf(piece, sizeof(piece), "<%c%s>", name[0] & ~0x20, name + 1);
			break;
		default:
			snprintf(piece, sizeof(piece), "%s",
			         words[rnd(seed) % (sizeof(words) / sizeof(words[0]))]);
			break;
		}
		size_t pl = strlen(piece);
		if (len + pl >= size)
			break;
		memcpy(buf + len, piece, pl);
		len += pl;
	}
	buf[len] = '\0';
	return len;
}

/* A random well-formed fragment of known tags and entities (the fast path's food). */
static size_t random_clean_html(uint32_t *seed, char *buf, size_t size)
{
	static const char *const words[] = {"Putin",
	                                    "summit",
	                                    "Gr\303\274\303\237e",
	                                    "\xd0\x9c\xd0\xbe\xd1\x81\xd0\xba\xd0\xb2\xd0\xb0",
	                                    " ",
	                                    "\n ",
	                                    "&amp;",
	                                    "&lt;",
	                                    "&nbsp;",
	                                    "&eacute;",
	                                    "&#8212;",
	                                    "&#x41;",
	                                    "&quot;",
	                                    ">"};
	size_t nn = sizeof(fast_names) / sizeof(fast_names[0]);
	const char *stack[16];
	size_t sp = 0, len = 0;
	int parts = (int)(rnd(seed) % 32);

	for (int i = 0; i < parts; i++) {
		char piece[96];
		uint32_t k = rnd(seed) % 4;
		if (k == 0 && sp < 16) {
			const char *name = fast_names[rnd(seed) % nn];
			snprintf(piece, sizeof(piece), "<%s%s>", name,
			         rnd(seed) % 2 ? " a=\"1\"" : "");
			stack[sp++] = name;
		} else if (k == 1 && sp > 0) {
			snprintf(piece, sizeof(piece), "</%s>", stack[--sp]);
		} else {
			snprintf(piece, sizeof(piece), "%s",
			         words[rnd(seed) % (sizeof(words) / sizeof(words[0]))]);
		}
		size_t pl = strlen(piece);
		if (len + pl >= size)
			break;
		memcpy(buf + len, piece, pl);
		len += pl;
	}
	buf[len] = '\0';
	return len;
}

static void test_fast_random(void **state)
{
	struct diff_stats st = {0};
	uint32_t seed = 2463534242u;
	char buf[2048];

	(void)state;
	for (int i = 0; i < 20000; i++) {
		size_t len = i % 2 ? random_html(&seed, buf, sizeof(buf))
		                   : random_clean_html(&seed, buf, sizeof(buf));
		same(&st, buf, len, 1 << 20);
		if (i % 10 == 0)
			same(&st, buf, len, rnd(&seed) % 40);
	}
	print_message("random: %zu inputs with markup, %zu by the fast path\n", st.n, st.fast);
	assert_true(st.fast * 5 > st.n); /* the generator makes enough clean input */
}

/* Every text node of the feed fixtures (read with libxml2's reader) through both. */
static void test_fast_fixtures(void **state)
{
	struct diff_stats st = {0};
	DIR *d = opendir(FW_TEST_DATA "/feeds");

	(void)state;
	assert_non_null(d);
	struct dirent *e;
	while ((e = readdir(d)) != NULL) {
		size_t nl = strlen(e->d_name);
		if (nl < 4 || strcmp(e->d_name + nl - 4, ".xml") != 0)
			continue;
		char path[512];
		snprintf(path, sizeof(path), "%s/feeds/%s", FW_TEST_DATA, e->d_name);
		xmlTextReaderPtr r = xmlReaderForFile(path, NULL,
		                                      XML_PARSE_NONET | XML_PARSE_RECOVER |
		                                          XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
		if (!r)
			continue;
		while (xmlTextReaderRead(r) == 1) {
			int t = xmlTextReaderNodeType(r);
			if (t != XML_READER_TYPE_TEXT && t != XML_READER_TYPE_CDATA)
				continue;
			const xmlChar *v = xmlTextReaderConstValue(r);
			if (v)
				same_str(&st, (const char *)v);
		}
		xmlFreeTextReader(r);
	}
	closedir(d);
	print_message("fixtures: %zu fields with markup, %zu by the fast path\n", st.n, st.fast);
	assert_true(st.n >= 5);
	assert_true(st.fast >= 3);
}

/* A cut at cap is the longest prefix of the uncut text that fits, ends on a character
   boundary and does not end with the space before a word that did not fit. */
static void check_cut(const char *in, size_t len, size_t cap)
{
	char *all = fw_text_plain(in, len, 1 << 20);
	char *cut = fw_text_plain(in, len, cap);

	assert_non_null(all);
	assert_non_null(cut);
	size_t m = strlen(all) < cap ? strlen(all) : cap;
	while (m > 0 && (((unsigned char)all[m] & 0xc0) == 0x80 || all[m - 1] == ' '))
		m--;
	if (strlen(cut) != m || memcmp(cut, all, m) != 0)
		print_error("cap %zu: %s -> '%s', uncut '%s'\n", cap, in, cut, all);
	assert_int_equal(strlen(cut), m);
	assert_memory_equal(cut, all, m);
	free(all);
	free(cut);
}

static void test_plain_cut(void **state)
{
	uint32_t seed = 123456789u;
	char buf[2048];

	(void)state;
	for (int i = 0; i < 3000; i++) {
		size_t len = random_html(&seed, buf, sizeof(buf));
		for (size_t cap = 0; cap < 24; cap += 1 + rnd(&seed) % 4)
			check_cut(buf, len, cap);
	}
	check_cut("ab cd", 5, 3);
	check_cut("ab cd", 5, 2);
	check_cut("a  b", 4, 2);
}

/* Bidi controls (U+202A-U+202E, U+2066-U+2069, U+200E, U+200F, U+061C) are dropped by
   the clean-up every text field goes through; other letters beside them stay. */
static void test_bidi(void **state)
{
	static const char in[] = "a\xe2\x80\xaa"
	                         "b\xe2\x80\xab"
	                         "c\xe2\x80\xac"
	                         "d\xe2\x80\xad"
	                         "e\xe2\x80\xae"
	                         "f\xe2\x81\xa6"
	                         "g\xe2\x81\xa7"
	                         "h\xe2\x81\xa8"
	                         "i\xe2\x81\xa9"
	                         "j\xe2\x80\x8e"
	                         "k\xe2\x80\x8f"
	                         "l\xd8\x9c"
	                         "m \xd8\xa8\xd8\x9c\xd8\xa8\xd8\xa8\xd8\xa8\xd8\xa8\xd8\xa8\xd8"
	                         "\xa8\xd8\xa8\xd8\xa8\xd8\xa8 \xe2\x80\x94";
	static const char want[] = "abcdefghijklm \xd8\xa8\xd8\xa8\xd8\xa8\xd8\xa8\xd8\xa8\xd8"
	                           "\xa8\xd8\xa8\xd8\xa8\xd8\xa8\xd8\xa8 \xe2\x80\x94";

	(void)state;
	char *s = fw_text_plain(in, strlen(in), 1 << 20);
	assert_string_equal(s, want);
	free(s);
	s = fw_text_from_html(in, strlen(in), 1 << 20);
	assert_string_equal(s, want);
	free(s);
	html("<p>x&#x202E;y&#8207;z</p>", "xyz");
	html("<p>x&#x202E;y<span>&rlm;z</span>", "xyz");
	char *c = strdup(in);
	assert_string_equal(fw_text_collapse(c), want);
	free(c);
}

static void host_is(const char *url, bool port, const char *want)
{
	char *h = fw_text_url_host(url, port);

	assert_non_null(h);
	assert_string_equal(h, want);
	free(h);
}

/* The host of a URL: lower-cased, user info dropped (to its last '@'), the port kept or not. */
static void test_url_host(void **state)
{
	(void)state;
	host_is("https://News.Example.ORG:8443/feed.xml?x=1", true, "news.example.org:8443");
	host_is("https://News.Example.ORG:8443/feed.xml?x=1", false, "news.example.org");
	host_is("http://user:p@ss@host.example:81#frag", true, "host.example:81");
	host_is("http://user:p@ss@host.example:81#frag", false, "host.example");
	host_is("http://a@b/c@d", true, "b");
	host_is("example.com/feed", false, "example.com");
	host_is("file:///tmp/feed.xml", true, "");
	host_is("", false, "");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_url_host),      cmocka_unit_test(test_html),
	    cmocka_unit_test(test_cap),           cmocka_unit_test(test_plain),
	    cmocka_unit_test(test_collapse),      cmocka_unit_test(test_has_markup),
	    cmocka_unit_test(test_fast_cases),    cmocka_unit_test(test_fast_random),
	    cmocka_unit_test(test_fast_fixtures), cmocka_unit_test(test_plain_cut),
	    cmocka_unit_test(test_bidi),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
