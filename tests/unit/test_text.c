/* test_text.c - HTML to plain text, whitespace, UTF-8. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

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

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_html),       cmocka_unit_test(test_cap),
	    cmocka_unit_test(test_plain),      cmocka_unit_test(test_collapse),
	    cmocka_unit_test(test_has_markup),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
