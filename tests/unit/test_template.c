/* test_template.c - plugins/common/template.h: checking and rendering alert templates. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "../../plugins/common/template.h"

static const char *alert_json =
    "{\"id\":\"a1\",\"watchlist\":\"war\",\"priority\":\"high\","
    "\"feed\":{\"name\":\"world\",\"url\":\"https://example.org/w.rss\"},"
    "\"item\":{\"title\":\"Tanks & <troops> cross\",\"link\":\"https://example.org/a?b=1&c=2\","
    "\"published\":\"2024-06-18T19:44:00Z\",\"author\":null,\"summary\":\"The summary.\","
    "\"categories\":[\"World\",\"Europe\"]},"
    "\"explain\":[{\"term\":\"@army\",\"alias\":\"tank*\",\"field\":\"title\",\"text\":\"Tanks\","
    "\"snippet\":\"Tanks & troops\"},{\"term\":\"cross\",\"field\":\"title\",\"text\":\"cross\","
    "\"snippet\":\"cross\"}],"
    "\"story\":{\"id\":\"s-0123\",\"new\":false,\"items\":7,\"feeds\":5,\"title\":\"Story\"}}";

static json_t *alert(void)
{
	json_t *a = json_loads(alert_json, 0, NULL);

	assert_non_null(a);
	return a;
}

static char *render(const char *tpl, json_t *a, fw_template_escape_fn esc, size_t max, int *rc,
                    bool *full)
{
	struct fw_textbuf b = {.max = max};

	*rc = fw_template_render(tpl, a, esc, NULL, &b);
	if (full)
		*full = b.full;
	if (b.p == NULL)
		return strdup("");
	return b.p;
}

static void expect(const char *tpl, fw_template_escape_fn esc, const char *want)
{
	json_t *a = alert();
	int rc;
	char *s = render(tpl, a, esc, 4096, &rc, NULL);

	assert_int_equal(rc, 0);
	assert_string_equal(s, want);
	free(s);
	json_decref(a);
}

static void test_fields(void **state)
{
	(void)state;
	expect("{watchlist}: {title}", NULL, "war: Tanks & <troops> cross");
	expect("{feed}|{link}|{published}|{author}|{priority}", NULL,
	       "world|https://example.org/a?b=1&c=2|2024-06-18T19:44:00Z||high");
	expect("{why}", NULL, "@army \"Tanks\" in title; cross \"cross\" in title");
	expect("{snippet}", NULL, "The summary."); /* both hits are in the title */
	expect("{categories}", NULL, "World, Europe");
	expect("{story.id} +{story.items} from {story.feeds}: {story.title}", NULL,
	       "s-0123 +7 from 5: Story");
	expect("{{literal}} {{{title}}}", NULL, "{literal} {Tanks & <troops> cross}");
	expect("", NULL, "");
	expect("no fields", NULL, "no fields");
}

static void test_snippet(void **state)
{
	json_t *a = alert();
	int rc;
	char *s;

	(void)state;
	json_object_set_new(json_array_get(json_object_get(a, "explain"), 1), "field",
	                    json_string("summary"));
	s = render("{snippet}", a, NULL, 4096, &rc, NULL);
	assert_string_equal(s, "cross"); /* the first hit outside the title */
	free(s);
	json_decref(a);
}

static void test_absent(void **state)
{
	json_t *a = json_loads("{\"item\":{\"summary\":\"sum\"}}", 0, NULL);
	int rc;
	char *s = render("[{title}|{priority}|{story.items}|{snippet}|{why}|{categories}]", a, NULL,
	                 4096, &rc, NULL);

	(void)state;
	assert_int_equal(rc, 0);
	assert_string_equal(s, "[|normal||sum||]");
	free(s);
	json_decref(a);
}

static void test_escape(void **state)
{
	(void)state;
	/* literal text is escaped too: a template is plain text in every format */
	expect("<{title}> & {link}", fw_template_escape_html,
	       "&lt;Tanks &amp; &lt;troops&gt; cross&gt; &amp; https://example.org/a?b=1&amp;c=2");
}

static void check_err(const char *tpl, const char *want)
{
	char err[200] = "";
	json_t *a = alert();
	struct fw_textbuf b = {.max = 100};

	assert_int_equal(fw_template_check(tpl, err, sizeof(err)), -EINVAL);
	assert_string_equal(err, want);
	assert_int_equal(fw_template_render(tpl, a, NULL, NULL, &b), -EINVAL);
	assert_null(b.p);
	json_decref(a);
}

static void test_check(void **state)
{
	char err[200] = "";

	(void)state;
	assert_int_equal(fw_template_check("{watchlist}: {title} {{x}}", err, sizeof(err)), 0);
	check_err("{titel}", "unknown template field {titel} at column 1 (did you mean {title}?)");
	check_err("x {Story.Items}",
	          "unknown template field {Story.Items} at column 3 (did you mean {story.items}?)");
	check_err("{bogusfield}", "unknown template field {bogusfield} at column 1");
	check_err("{}", "unknown template field {} at column 1");
	check_err("a } b", "unbalanced '}' at column 3 (write '}}' for a brace)");
	check_err("a {title", "unclosed '{' at column 3 (write '{{' for a brace)");
	check_err("{ti{tle}", "unclosed '{' at column 1 (write '{{' for a brace)");
}

static void test_caps(void **state)
{
	char big[FW_TEMPLATE_MAX + 2], err[200];
	json_t *a = alert();
	char *title = malloc(3 * FW_TEMPLATE_FIELD_MAX + 1), *s;
	int rc;
	bool full;

	(void)state;
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = 0;
	assert_int_equal(fw_template_check(big, err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "template longer than 1024 bytes");

	/* a field is cut at FW_TEMPLATE_FIELD_MAX on a character boundary, with an ellipsis */
	for (size_t i = 0; i < 3 * FW_TEMPLATE_FIELD_MAX; i += 3)
		memcpy(title + i, "\xe2\x82\xac", 3); /* the euro sign */
	title[3 * FW_TEMPLATE_FIELD_MAX] = 0;
	json_object_set_new(json_object_get(a, "item"), "title", json_string(title));
	s = render("{title}", a, NULL, 1 << 20, &rc, &full);
	assert_int_equal(rc, 0);
	assert_false(full);
	assert_int_equal(strlen(s), FW_TEMPLATE_FIELD_MAX - FW_TEMPLATE_FIELD_MAX % 3 + 3);
	assert_memory_equal(s + strlen(s) - 3, "\xe2\x80\xa6", 3);
	free(s);

	/* the output cap never cuts a character or an escape in half */
	json_object_set_new(json_object_get(a, "item"), "title", json_string("a&\xe2\x82\xac&b"));
	s = render("{title}", a, fw_template_escape_html, 7, &rc, &full);
	assert_int_equal(rc, 0);
	assert_true(full);
	assert_string_equal(s, "a&amp;");
	free(s);
	s = render("{title}", a, NULL, 3, &rc, &full);
	assert_true(full);
	assert_string_equal(s, "a&");
	free(s);
	free(title);
	json_decref(a);
}

static void test_priority(void **state)
{
	json_t *a = json_object();

	(void)state;
	assert_int_equal(fw_template_priority(a), 1);
	assert_null(fw_template_get(a, "title"));
	json_object_set_new(a, "priority", json_string("urgent"));
	assert_int_equal(fw_template_priority(a), 3);
	json_object_set_new(a, "priority", json_string("low"));
	assert_int_equal(fw_template_priority(a), 0);
	json_object_set_new(a, "priority", json_string("bogus"));
	assert_int_equal(fw_template_priority(a), 1);
	json_object_set_new(a, "template", json_pack("{s:s}", "title", "{title}!"));
	assert_string_equal(fw_template_get(a, "title"), "{title}!");
	assert_null(fw_template_get(a, "body"));
	json_decref(a);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_fields),   cmocka_unit_test(test_snippet),
	    cmocka_unit_test(test_absent),   cmocka_unit_test(test_escape),
	    cmocka_unit_test(test_check),    cmocka_unit_test(test_caps),
	    cmocka_unit_test(test_priority),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
