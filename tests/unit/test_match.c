/*
 * test_match.c - the watchlist matcher: a table of queries against item texts in English,
 * German, Russian, Ukrainian, Korean, Chinese and Japanese (operators, fields, word
 * boundaries, prefixes, normalisation, traps), compile errors with their columns, alias
 * diagnostics, explanations, and the founding example from tests/data/match.
 */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <utf8proc.h>

#include "fold.h"
#include "match.h"
#include "match_int.h" /* the entry points of query.c and ac.c */

#define SHY  "\xC2\xAD"     /* U+00AD soft hyphen */
#define ZWSP "\xE2\x80\x8B" /* U+200B */
#define WJ   "\xE2\x81\xA0" /* U+2060 */
#define BOM  "\xEF\xBB\xBF" /* U+FEFF */
#define NBSP "\xC2\xA0"

static const char *const a_putin[] = {"Putin", "Vladimir Putin", "Wladimir Putin", "Путин*"};
static const char *const a_nk[] = {"North Korea", "DPRK",      "Pyongyang",
                                   "Pjöngjang",   "Nordkorea", "КНДР"};
static const char *const a_sk[] = {"South Korea", "Südkorea", "Республика Корея"};
static const char *const a_kim[] = {"Kim Jong*", "김정은", "金正恩"};
static const char *const a_kremlin[] = {"Kremlin", "Кремл*", "Kreml"};
static const char *const a_zel[] = {"Zelensky*", "Selenskyj", "Зеленськ*", "Зеленск*"};
static const char *const a_nord[] = {"Nord Korea"};
static const char *const a_strasse[] = {"Hauptstraße"};
static const char *const a_putin_ko[] = {"푸틴"};
static const char *const a_nk_ko[] = {"북한"};
static const char *const a_putin_zh[] = {"普京"};
static const char *const a_putin_ja[] = {"プーチン"};
/* a prefix on every word: the case forms of inflected languages */
static const char *const a_nk_ru[] = {"Северн* Коре*", "КНДР"};
static const char *const a_nk_uk[] = {"Північн* Коре*"};
static const char *const a_nk_de[] = {"Nord* Korea*"};
static const char *const a_kju[] = {"Kim* Jong Un", "Kim* 正恩"};
static const char *const a_nk_both[] = {"Северн* Коре*", "Северн*"};

#define ENT(n, a)                                                                                  \
	{                                                                                          \
		n, a, sizeof(a) / sizeof(a[0])                                                     \
	}
static const struct fw_match_entity ents[] = {
    ENT("putin", a_putin),       ENT("north_korea", a_nk),
    ENT("south_korea", a_sk),    ENT("kim", a_kim),
    ENT("kremlin", a_kremlin),   ENT("zelensky", a_zel),
    ENT("nord_korea", a_nord),   ENT("strasse", a_strasse),
    ENT("putin_ko", a_putin_ko), ENT("north_korea_ko", a_nk_ko),
    ENT("putin_zh", a_putin_zh), ENT("putin_ja", a_putin_ja),
    ENT("nk_ru", a_nk_ru),       ENT("nk_uk", a_nk_uk),
    ENT("nk_de", a_nk_de),       ENT("kju", a_kju),
    ENT("nk_both", a_nk_both),
};
#define N_ENTS (sizeof(ents) / sizeof(ents[0]))

struct mcase {
	const char *q;
	const char *title;
	const char *summary;
	const char *content;
	const char *author;
	const char *cat1;
	const char *cat2;
	int want;
};

#define M(q, title, want)                                                                          \
	{                                                                                          \
		q, title, "", "", NULL, NULL, NULL, want                                           \
	}
#define C(q, title, content, want)                                                                 \
	{                                                                                          \
		q, title, "", content, NULL, NULL, NULL, want                                      \
	}
#define F(q, t, s, c, a, c1, c2, want)                                                             \
	{                                                                                          \
		q, t, s, c, a, c1, c2, want                                                        \
	}

static const struct mcase cases[] = {
    /* English: entities, word boundaries */
    M("@putin", "Putin arrives in Pyongyang", 1),
    M("@putin", "Rasputin the mad monk", 0),
    M("@putin", "Putinism explained", 0),
    M("@putin", "Putin's visit", 1),
    M("@putin", "PUTIN", 1),
    M("@putin", "putin.", 1),
    M("@putin", "(Putin)", 1),
    M("@putin", "Putin\xE2\x80\x94Kim talks", 1),
    M("@putin", "Vladimir  Putin", 1),
    M("@putin", "Poutine recipe", 0),
    C("@putin", "News", "speech by vladimir putin today", 1),
    M("@north_korea", "North-Korea tests a missile", 1),
    M("@north_korea", "North\nKorea", 1),
    M("@north_korea", "North Korean leader", 0),
    M("@north_korea", "South Korea and Japan", 0),
    M("@south_korea", "South Korea and Japan", 1),
    M("@north_korea", "DPRK", 1),
    M("@north_korea", "dprk's envoy", 1),
    M("@north_korea", "Korea, North", 0),
    M("@north_korea", "Pyongyang's answer", 1),
    M("@north_korea", "North" NBSP "Korea", 1),
    M("@north_korea", "North\xE2\x80\x94Korea", 1),
    M("@north_korea", "NorthKorea", 0),
    /* German */
    M("@north_korea", "Nordkorea droht", 1),
    M("@north_korea", "Reise nach Pjöngjang", 1),
    M("@north_korea", "Reise nach Pjongjang", 1),
    M("@north_korea", "PJÖNGJANG", 1),
    M("@putin", "Wladimir Putin reist nach Nordkorea", 1),
    M("@nord_korea", "Nord-Korea", 1),
    M("@nord_korea", "Nord Korea", 1),
    M("@nord_korea", "Nordkorea", 0),
    M("@strasse", "Die Hauptstrasse ist gesperrt", 1),
    M("@strasse", "HAUPTSTRASSE", 1),
    M("@strasse",
      "HAUPTSTRA\xE1\xBA\x9E"
      "E",
      1), /* capital sharp s U+1E9E */
    M("@strasse", "Hauptstraßenbahn", 0),
    M("@south_korea", "Südkorea", 1),
    M("@south_korea", "Sudkorea", 1),
    M("@south_korea", "SÜDKOREA", 1),
    M("Müller", "Thomas Mueller", 0),
    M("Müller", "Thomas Muller", 1),
    M("muller", "Thomas MÜLLER", 1),
    M("@kremlin", "Sprecher des Kreml", 1),
    /* Russian */
    M("@putin", "Путин прибыл в Пхеньян", 1),
    M("@putin", "встреча с Путиным", 1),
    M("@putin", "ПУТИНУ", 1),
    M("@putin", "Распутин", 0),
    M("@putin", "путинизм", 1), /* Путин* is a prefix: it also covers путинизм */
    M("@putin", "Пу" SHY "тин", 1),
    M("@kremlin", "в Кремле", 1),
    M("@kremlin", "Kremlins", 0),
    M("Путин", "путин", 1),
    M("ёлка", "елка", 1),
    M("елка", "ЁЛКА", 1),
    M("йод", "иод", 1), /* й folds to и: documented */
    M("@north_korea", "визит в КНДР", 1),
    M("@north_korea", "кндр", 1),
    M("@south_korea", "Республика Корея", 1),
    M("@south_korea", "республики корея", 0),
    /* Ukrainian */
    M("@zelensky", "Зеленський заявив", 1),
    M("@zelensky", "Зеленського", 1),
    M("@zelensky", "Selenskyj", 1),
    M("@zelensky", "Zelenskyy", 1),
    M("@zelensky", "Зелений", 0),
    M("Київ", "КИЇВ", 1),
    M("Київ", "Киів", 1),
    M("їжак", "іжак", 1),
    M("Київ", "Київщина", 0),
    /* Korean: words take particles, an alias matches at a word start */
    M("@putin_ko", "푸틴 대통령", 1),
    M("@putin_ko", "푸틴이 방문", 1),
    M("@putin_ko", "푸틴은", 1),
    M("@putin_ko", "라스푸틴", 0),
    M("@north_korea_ko", "북한을 방문", 1),
    M("@north_korea_ko", "남북한", 0),
    M("김정은", "김정은 위원장", 1),
    M("김정은", "김정", 0),
    M("\"김정은 위원장\"", "김정은 위원장이", 1),
    M("@putin_ko AND @north_korea_ko", "푸틴, 북한 방문", 1),
    M("@kim", "김정은 위원장", 1),
    /* Chinese: no boundaries */
    M("@putin_zh", "普京访问朝鲜", 1),
    M("@putin_zh", "普京", 1),
    M("@putin_zh", "俄罗斯总统普京", 1),
    M("@putin_zh", "普通话", 0),
    M("朝鲜", "普京访问朝鲜", 1),
    M("@putin_zh AND 朝鲜", "普京访问朝鲜", 1),
    M("普京 NEAR/1 朝鲜", "普京访问朝鲜", 0),
    M("普京 NEAR/2 朝鲜", "普京访问朝鲜", 1),
    M("@putin_zh", "ＰＵＴＩＮ普京", 1),
    M("Putin", "Putin普京", 1),
    M("@kim", "金正恩会见普京", 1),
    /* Japanese */
    M("@putin_ja", "プーチン大統領が北朝鮮を訪問", 1),
    M("北朝鮮", "プーチン大統領が北朝鮮を訪問", 1),
    M("@putin_ja", "ﾌﾟｰﾁﾝ", 1), /* halfwidth katakana */
    M("がす", "かす", 0),       /* voicing marks are kept */
    M("ガス", "ｶﾞｽ", 1),
    M("東京", "東京都", 1),
    M("プーチン NEAR/4 北朝鮮", "プーチン大統領が北朝鮮", 1),
    M("プーチン NEAR/3 北朝鮮", "プーチン大統領が北朝鮮", 0),
    /* operators */
    M("@putin AND @north_korea", "Putin in Pyongyang", 1),
    M("@putin AND @north_korea", "Putin in Moscow", 0),
    M("@putin @north_korea", "Putin in Pyongyang", 1),
    M("@putin @north_korea", "Putin in Moscow", 0),
    M("@putin OR @north_korea", "Putin in Moscow", 1),
    M("@putin OR @north_korea", "Kim in Pyongyang", 1),
    M("@putin OR @north_korea", "Biden in Washington", 0),
    M("@putin AND NOT @north_korea", "Putin in Moscow", 1),
    M("@putin AND NOT @north_korea", "Putin in Pyongyang", 0),
    M("@putin NOT @north_korea", "Putin in Pyongyang", 0),
    M("@putin AND (@north_korea OR @south_korea)", "Putin and South Korea", 1),
    M("@putin AND (@north_korea OR @south_korea)", "Putin and Japan", 0),
    M("@putin OR @kim AND @north_korea", "Putin alone", 1),
    M("(@putin OR @kim) AND @north_korea", "Putin alone", 0),
    M("@kim AND @north_korea OR @putin", "Kim Jong Un in Pyongyang", 1),
    M("NOT @south_korea AND @north_korea", "Pyongyang", 1),
    M("NOT @south_korea AND @north_korea", "Pyongyang and South Korea", 0),
    M("@putin AND NOT (@south_korea OR @kremlin)", "Putin speaks", 1),
    M("@putin AND NOT (@south_korea OR @kremlin)", "Putin in the Kremlin", 0),
    M("NOT NOT @putin", "Putin", 1),
    M("putin kim", "Putin meets Kim", 1),
    M("putin kim", "Putin meets Lavrov", 0),
    M("putin and kim", "Putin meets Kim", 0), /* lower-case "and" is a word */
    M("\"north korea\"", "North-Korea", 1),
    M("\"north korea\"", "North Korean", 0),
    M("\"north korea*\"", "North Korean", 1),
    M("korea*", "Koreans", 1),
    M("korea*", "Nordkorea", 0),
    M("@kim", "Kim Jong Un", 1),
    M("@kim", "Kim Jong-un", 1),
    M("@kim", "Kim Jongun", 1),
    M("@kim", "Kim Yo Jong", 0),
    M("@kim", "Kim Il Sung", 0),
    M("@kim", "金正恩", 1),
    /* NEAR */
    M("@putin NEAR/3 @north_korea", "Putin arrives in North Korea", 1),
    M("@putin NEAR/1 @north_korea", "Putin arrives in North Korea", 0),
    M("@putin NEAR/2 @north_korea", "Putin arrives in North Korea", 1),
    M("@north_korea NEAR/2 @putin", "Putin arrives in North Korea", 1),
    M("@putin NEAR/0 @north_korea", "Putin Pyongyang", 1),
    M("@putin NEAR/0 @north_korea", "Putin in Pyongyang", 0),
    C("@putin NEAR/10 @north_korea", "Putin speaks", "Pyongyang replies", 0),
    M("@putin NEAR/5 (@north_korea OR @south_korea)", "Putin warns South Korea", 1),
    M("@putin NEAR @north_korea", "Putin a b c d e f g h i j Pyongyang", 1),
    M("@putin NEAR @north_korea", "Putin a b c d e f g h i j k Pyongyang", 0),
    M("title:(@putin NEAR/1 kim)", "Putin and Kim", 1),
    M("putin NEAR/2 \"kim jong un\"", "Putin greeted Kim Jong Un", 1),
    M("@putin NEAR/1 kim NEAR/1 lavrov", "Putin, Kim, Lavrov", 1),
    M("@putin NEAR/1 kim NEAR/1 lavrov", "Putin, Kim, and the rest of them, Lavrov", 0),
    /* fields */
    F("title:@putin", "Putin", "", "", NULL, NULL, NULL, 1),
    F("title:@putin", "News", "", "Putin", NULL, NULL, NULL, 0),
    F("content:@putin", "News", "", "Putin", NULL, NULL, NULL, 1),
    F("summary:@putin", "News", "Putin", "", NULL, NULL, NULL, 1),
    F("summary:@putin", "News", "", "Putin", NULL, NULL, NULL, 0),
    F("author:putin", "News", "", "", "Vladimir Putin", NULL, NULL, 1),
    F("@putin", "News", "", "", "Vladimir Putin", NULL, NULL, 0),
    F("author:putin", "Putin", "", "", "Someone", NULL, NULL, 0),
    F("category:@north_korea", "News", "", "", NULL, "North Korea", NULL, 1),
    F("@north_korea", "News", "", "", NULL, "Asia", "North Korea", 1),
    F("category:@north_korea", "News", "", "North Korea", NULL, "Asia", NULL, 0),
    F("title:(@putin OR @kremlin)", "Kremlin says", "", "", NULL, NULL, NULL, 1),
    F("title:(@putin OR @kremlin)", "News", "", "Kremlin says", NULL, NULL, NULL, 0),
    F("title:@putin AND content:@north_korea", "Putin", "", "Pyongyang", NULL, NULL, NULL, 1),
    F("title:@putin AND content:@north_korea", "Pyongyang", "", "Putin", NULL, NULL, NULL, 0),
    F("title:\"north korea\"", "North Korea", "", "", NULL, NULL, NULL, 1),
    F("@putin NEAR/3 @north_korea", "News", "", "", NULL, "Putin", "North Korea", 0),
    F("title:(@putin AND NOT @kremlin)", "Putin", "", "Kremlin", NULL, NULL, NULL, 1),
    F("title:(@putin AND NOT @kremlin)", "Putin in the Kremlin", "", "", NULL, NULL, NULL, 0),
    F("title: @putin", "Putin", "", "", NULL, NULL, NULL, 1),
    F("category:ukraine", "News", "", "", NULL, "World", "Ukraine", 1),
    /* normalisation */
    M("@putin", "Pu" SHY "tin", 1),
    M("@putin", "Pu" ZWSP "tin", 1),
    M("@putin", BOM "Putin", 1),
    M("@putin", "Pu" WJ "tin", 1),
    M("@putin", "Pu\xE2\x80\x8Dtin", 1), /* zero-width joiner */
    M("putin", "ＰＵＴＩＮ", 1),
    M("putin", "Ｐｕｔｉｎ", 1),
    M("café", "CAFE", 1),
    M("cafe", "Café", 1),
    M("cafe", "Cafe\xCC\x81", 1),
    M("ﬁnance", "finance", 1),
    M("finance", "ﬁnance", 1),
    M("naïve", "NAIVE", 1),
    M("Ελλάδα", "ΕΛΛΑΔΑ", 1),
    M("σοφος", "ΣΟΦΟΣ", 1),
    M("istanbul", "İSTANBUL", 1),
    M("@putin", "Putin\xE2\x80\x99s visit", 1),
    M("@putin", "Putin2024", 0),
    M("@putin", "#Putin", 1),
    M("@putin", "@Putin", 1),
    M("@putin", "putin_fan", 1),
    M("g7", "G7 summit", 1),
    M("\"10 30\"", "at 10:30", 1),
    M("@putin", "P\xFFutin", 0), /* invalid UTF-8 is a separator */
    M("@putin", "x \xFFPutin", 1),
    /* traps */
    M("@putin AND @north_korea", "Putin visits South Korea", 0),
    M("@south_korea", "North Korea", 0),
    M("\"South Korea\"", "South-Korea", 1),
    M("@putin", "RASPUTIN", 0),
    M("putin*", "Putinism", 1),
    M("putin", "Putinism", 0),
    M("@putin", "Put in", 0),
    M("@putin", "", 0),
    /* a prefix on every word: Russian case forms */
    M("@nk_ru", "Северная Корея", 1),
    M("@nk_ru", "визит в Северную Корею", 1),
    M("@nk_ru", "новости Северной Кореи", 1),
    M("@nk_ru", "о Северной Корее", 1),
    M("@nk_ru", "с Северной Кореей", 1),
    M("@nk_ru", "СЕВЕРНОЮ КОРЕЕЮ", 1),
    M("@nk_ru", "Северной\nКореи", 1),
    M("@nk_ru", "Северной-Кореи", 1),
    M("@nk_ru", "Южной Кореи", 0),
    M("@nk_ru", "Северной Америки", 0),
    M("@nk_ru", "Северной и Южной Кореи", 0),
    M("@nk_ru", "Северокорейский лидер", 0),
    M("@nk_ru", "Кореи Северной", 0),
    M("@nk_ru", "Северной", 0),
    M("@nk_ru", "Северной Кор", 0),
    M("@nk_ru", "Северный Кореец", 1),
    M("@nk_ru", "ЮжноСеверной Кореи", 0),
    /* Ukrainian: ї folds to і, є stays */
    M("@nk_uk", "Північна Корея", 1),
    M("@nk_uk", "до Північної Кореї", 1),
    M("@nk_uk", "у Північній Кореї", 1),
    M("@nk_uk", "Північну Корею", 1),
    M("@nk_uk", "з Північною Кореєю", 1),
    M("@nk_uk", "Південної Кореї", 0),
    M("@nk_uk", "Північної Америки", 0),
    /* German */
    M("@nk_de", "Nord-Koreas Raketen", 1),
    M("@nk_de", "Nord Korea", 1),
    M("@nk_de", "Nordische Koreaner", 1),
    M("@nk_de", "Nordkorea", 0),
    M("@nk_de", "Süd-Korea", 0),
    M("@nk_de", "Korea Nord", 0),
    /* a prefix on an inner word, exact words after it; Han and Hangul after Latin */
    M("@kju", "Kim Jong Un", 1),
    M("@kju", "Kims Jong Un visit", 1),
    M("@kju", "Kim Jong Unification", 0),
    M("@kju", "Kim Jong", 0),
    M("@kju", "Kim Jongs Un", 0),
    M("@kju", "Kimi正恩说", 1),
    M("\"kim* 정은\"", "Kim 정은이", 1),
    M("\"kim* 정은\"", "Kimi정은", 1),
    M("\"kim* 정은\"", "Kim 정", 0),
    M("@nk_both", "Северной", 1),
    M("@nk_both", "Северной Кореи", 1),
    /* query words and phrases */
    M("\"северн* коре*\"", "Северной Кореи", 1),
    M("\"северн* коре*\"", "Южной Кореи", 0),
    M("\"kim* jong*\"", "Kims Jongs", 1),
    M("\"kim* jong*\"", "Kim Il Sung", 0),
    M("\"kim* jong\"", "Kim Jong-un", 1),
    M("\"kim* jong\"", "Kim Jongun", 0),
    M("\"kim* jong un\"", "Kimmy Jong Un", 1),
    M("\"kim* 正恩\"", "Kim正恩", 1),
    /* with NEAR and field scopes */
    M("@putin NEAR/2 @nk_ru", "Путин прибыл в Северную Корею", 1),
    M("@putin NEAR/1 @nk_ru", "Путин прибыл в Северную Корею", 0),
    M("@nk_ru NEAR/0 @putin", "Путин Северной Кореи", 1),
    M("@nk_ru NEAR/0 @putin", "Северной Кореи Путин", 1),
    M("\"северн* коре*\" NEAR/1 \"путин*\"", "Северной Кореи и Путина", 1),
    M("\"северн* коре*\" NEAR/0 \"путин*\"", "Северной Кореи и Путина", 0),
    F("title:@nk_ru", "Северной Кореи", "", "", NULL, NULL, NULL, 1),
    F("title:@nk_ru", "Новости", "", "Северной Кореи", NULL, NULL, NULL, 0),
    F("content:\"північн* коре*\"", "Новини", "", "Північної Кореї", NULL, NULL, NULL, 1),
    F("category:@nk_de", "News", "", "", NULL, "Asien", "Nord-Korea", 1),
    F("title:@nk_ru AND NOT content:@nk_uk", "Северной Кореи", "", "Північної Кореї", NULL, NULL,
      NULL, 0),
};

static struct fw_matcher *compile1(const char *q, struct fw_match_diag *d, size_t *nd, int *rc)
{
	struct fw_match_watchlist wl = {"w", q};
	struct fw_match_spec spec = {ents, N_ENTS, &wl, 1};
	struct fw_matcher *m = NULL;

	*rc = fw_match_compile(&spec, &m, d, 8, nd);
	return m;
}

static void test_table(void **state)
{
	int failures = 0;

	(void)state;
	assert_true(sizeof(cases) / sizeof(cases[0]) >= 150);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct mcase *c = &cases[i];
		struct fw_match_diag d[8];
		size_t nd = 0;
		int rc;
		struct fw_matcher *m = compile1(c->q, d, &nd, &rc);
		char *cats[2];
		struct fw_item it = {0};
		struct fw_match_result res = {0};

		if (rc != 0) {
			printf("case %zu: compile '%s' failed: %s (col %zu)\n", i, c->q,
			       nd ? d[0].message : "?", nd ? d[0].column : 0);
			failures++;
			continue;
		}
		it.title = (char *)c->title;
		it.summary = (char *)c->summary;
		it.content = (char *)c->content;
		it.author = (char *)c->author;
		if (c->cat1) {
			cats[it.n_categories++] = (char *)c->cat1;
		}
		if (c->cat2) {
			cats[it.n_categories++] = (char *)c->cat2;
		}
		it.categories = cats;
		assert_int_equal(fw_match_item(m, &it, &res), 0);
		if ((int)res.n_watchlists != c->want) {
			printf("case %zu: '%s' on title '%s' content '%s': got %zu, want %d\n", i,
			       c->q, c->title, c->content, res.n_watchlists, c->want);
			failures++;
		} else if (c->want && res.n_explain == 0) {
			printf("case %zu: '%s' matched without explanation\n", i, c->q);
			failures++;
		}
		fw_match_result_clear(&res);
		fw_matcher_free(m);
	}
	assert_int_equal(failures, 0);
}

struct ecase {
	const char *q;
	size_t col;
	const char *msg;
};

static const struct ecase errors[] = {
    {"", 1, "empty query"},
    {"   ", 1, "empty query"},
    {"@nobody", 1, "unknown entity 'nobody'"},
    {"@putin AND @nobody", 12, "unknown entity"},
    {"@putin AND", 11, "expected a term"},
    {"(@putin", 8, "expected ')'"},
    {"@putin)", 7, "unmatched ')'"},
    {"pu*tin", 3, "only at the end"},
    {"*", 1, "must follow a word"},
    {"\"kim*jong\"", 5, "only at the end"},
    {"\"kim *jong\"", 6, "must follow a word"},
    {"\"kim-* jong\"", 6, "must follow a word"},
    {"kim**", 4, "only at the end"},
    {"@putin*", 7, "cannot follow an entity"},
    {"NOT @putin", 1, "can never match"},
    {"@putin AND NOT @putin", 12, "both required and excluded"},
    {"@putin NOT @putin", 8, "both required and excluded"},
    {"@putin OR NOT @kim", 11, "can never match"},
    {"@putin AND NOT (@kim) AND NOT @putin", 27, "both required and excluded"},
    {"putin AND NOT putin", 11, "both required and excluded"},
    {"\"north korea\" AND NOT \"North  Korea\"", 19, "both required and excluded"},
    {"\"unterminated", 1, "unterminated"},
    {"foo:bar", 1, "unknown field"},
    {"title:", 7, "expected a term or '('"},
    {"title:NOT x", 7, "expected a term or '('"},
    {"@putin NEAR/x @kim", 13, "expected a number"},
    {"@putin NEAR/ @kim", 13, "expected a number"},
    {"@putin NEAR/2000 @kim", 13, "larger than 1000"},
    {"(@putin AND @kim) NEAR/3 @kremlin", 2, "NEAR needs terms"},
    {"NOT @putin NEAR/3 @kim", 1, "NEAR needs terms"},
    {"()", 2, "empty parentheses"},
    {"title:(content:@putin)", 8, "can never match"},
    {"AND @putin", 1, "expected a term, found 'AND'"},
    {"@putin OR OR @kim", 11, "expected a term, found 'OR'"},
    {"---", 1, "no letters or digits"},
    {"\"a\"b", 4, "after the closing quote"},
    {"@", 1, "expected an entity name"},
    {"@putin AND \"\"", 13, "no letters or digits"},
    {"@putin NEAR/3", 14, "expected a term"},
    {"((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((@putin))))))))))"
     "))))))))))))))))))))))))))))))))))))))))))))))))))))))))))",
     65, "nested too deeply"},
};

static void test_errors(void **state)
{
	int failures = 0;

	(void)state;
	for (size_t i = 0; i < sizeof(errors) / sizeof(errors[0]); i++) {
		const struct ecase *e = &errors[i];
		struct fw_match_diag d[8];
		size_t nd = 0;
		int rc;
		struct fw_matcher *m = compile1(e->q, d, &nd, &rc);

		if (rc != -EINVAL || m || nd < 1) {
			printf("error case %zu '%s': rc %d, %zu diags\n", i, e->q, rc, nd);
			failures++;
			fw_matcher_free(m);
			continue;
		}
		if (d[0].severity != FW_MATCH_ERROR || d[0].where != FW_MATCH_IN_WATCHLIST ||
		    d[0].index != 0 || d[0].column != e->col || !strstr(d[0].message, e->msg)) {
			printf("error case %zu '%s': col %zu '%s', want col %zu '%s'\n", i, e->q,
			       d[0].column, d[0].message, e->col, e->msg);
			failures++;
		}
	}
	assert_int_equal(failures, 0);
}

static int compile_aliases(const char *const *al, size_t n, struct fw_match_diag *d, size_t *nd,
                           struct fw_matcher **m)
{
	struct fw_match_entity e = {"e", al, n};
	struct fw_match_watchlist wl = {"w", "@e"};
	struct fw_match_spec spec = {&e, 1, &wl, 1};

	*m = NULL;
	return fw_match_compile(&spec, m, d, 8, nd);
}

static void test_alias_diags(void **state)
{
	static const char *const empty[] = {"Putin", ""};
	static const char *const dash[] = {"\xE2\x80\x94"};
	static const char *const star[] = {"Pu*tin"};
	static const char *const mid[] = {"Kim*Jong"};
	static const char *const dash_star[] = {"Kim-* Jong"};
	static const char *const mixed[] = {"Путин"
	                                    "Putin"};
	static const char *const hangul[] = {"Kim Jong Un"
	                                     "김정은"};
	static const char *const fine[] = {"Vladimir Putin", "東京タワー",    "Путин*",
	                                   "金正恩",         "Северн* Коре*", "Kim* Jong*",
	                                   "Cafe\xCC\x81* x"};
	struct fw_match_diag d[8];
	size_t nd;
	struct fw_matcher *m;

	(void)state;
	assert_int_equal(compile_aliases(empty, 2, d, &nd, &m), -EINVAL);
	assert_null(m);
	assert_int_equal(nd, 1);
	assert_int_equal(d[0].where, FW_MATCH_IN_ENTITY);
	assert_int_equal(d[0].alias, 1);
	assert_non_null(strstr(d[0].message, "empty alias"));

	assert_int_equal(compile_aliases(dash, 1, d, &nd, &m), -EINVAL);
	assert_non_null(strstr(d[0].message, "no letters or digits"));
	assert_int_equal(compile_aliases(star, 1, d, &nd, &m), -EINVAL);
	assert_non_null(strstr(d[0].message, "only at the end"));
	assert_int_equal(compile_aliases(mid, 1, d, &nd, &m), -EINVAL);
	assert_non_null(strstr(d[0].message, "only at the end"));
	assert_int_equal(compile_aliases(dash_star, 1, d, &nd, &m), -EINVAL);
	assert_non_null(strstr(d[0].message, "must follow a word"));
	assert_int_equal(compile_aliases(NULL, 0, d, &nd, &m), -EINVAL);
	assert_non_null(strstr(d[0].message, "no aliases"));

	/* libconfig joins "Путин" "Putin" when the comma is missing: a warning, not an error */
	assert_int_equal(compile_aliases(mixed, 1, d, &nd, &m), 0);
	assert_non_null(m);
	assert_int_equal(nd, 1);
	assert_int_equal(d[0].severity, FW_MATCH_WARNING);
	assert_int_equal(d[0].alias, 0);
	assert_non_null(strstr(d[0].message, "Cyrillic and Latin"));
	m = fw_matcher_free(m);
	assert_int_equal(compile_aliases(hangul, 1, d, &nd, &m), 0);
	assert_int_equal(nd, 1);
	assert_non_null(strstr(d[0].message, "Latin and Hangul"));
	m = fw_matcher_free(m);
	assert_int_equal(compile_aliases(fine, 7, d, &nd, &m), 0);
	assert_int_equal(nd, 0);
	m = fw_matcher_free(m);
	assert_null(fw_matcher_free(NULL));
}

static void test_entity_diags(void **state)
{
	static const char *const a[] = {"A"};
	struct fw_match_entity e[2] = {{"x", a, 1}, {"x", a, 1}};
	struct fw_match_watchlist wl[2] = {{"w1", "@nope"}, {"w2", "@x AND"}};
	struct fw_match_spec spec = {e, 2, wl, 2};
	struct fw_match_diag d[8];
	size_t nd = 0;
	struct fw_matcher *m = NULL;

	(void)state;
	assert_int_equal(fw_match_compile(&spec, &m, d, 8, &nd), -EINVAL);
	assert_null(m);
	assert_int_equal(nd, 3);
	assert_int_equal(d[0].where, FW_MATCH_IN_ENTITY);
	assert_non_null(strstr(d[0].message, "defined twice"));
	assert_int_equal(d[1].where, FW_MATCH_IN_WATCHLIST);
	assert_int_equal(d[1].index, 0);
	assert_int_equal(d[2].index, 1);
	assert_int_equal(d[2].column, 7);
	/* diags are counted past max_diags */
	assert_int_equal(fw_match_compile(&spec, &m, d, 1, &nd), -EINVAL);
	assert_int_equal(nd, 3);
}

static char *read_fixture(const char *name)
{
	char path[512];
	FILE *f;
	char *buf;
	long n;

	snprintf(path, sizeof(path), "%s/match/%s", FW_TEST_DATA, name);
	f = fopen(path, "rb");
	assert_non_null(f);
	assert_int_equal(fseek(f, 0, SEEK_END), 0);
	n = ftell(f);
	assert_true(n > 0);
	rewind(f);
	buf = malloc((size_t)n + 1);
	assert_non_null(buf);
	assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
	buf[n] = '\0';
	fclose(f);
	return buf;
}

static const struct fw_match_explain *find_explain(const struct fw_match_result *r,
                                                   const char *term)
{
	for (size_t i = 0; i < r->n_explain; i++) {
		if (strcmp(r->explain[i].term, term) == 0) {
			return &r->explain[i];
		}
	}
	return NULL;
}

/* The founding example: the seed article fires @putin AND @north_korea. */
static void test_seed(void **state)
{
	char *text = read_fixture("putin-north-korea-2024-06-18.txt");
	char *nl = strchr(text, '\n');
	struct fw_item it = {0};
	struct fw_match_result res = {0};
	struct fw_match_diag d[8];
	size_t nd;
	int rc;
	struct fw_matcher *m = compile1("@putin AND @north_korea", d, &nd, &rc);
	const struct fw_match_explain *e;

	(void)state;
	assert_int_equal(rc, 0);
	assert_int_equal(nd, 0);
	assert_non_null(nl);
	*nl = '\0';
	it.title = text;
	it.summary = (char *)"";
	it.content = nl + 1;
	assert_int_equal(fw_match_item(m, &it, &res), 0);
	assert_int_equal(res.n_watchlists, 1);
	assert_int_equal(res.watchlists[0], 0);
	assert_int_equal(res.n_explain, 2);
	e = find_explain(&res, "@putin");
	assert_non_null(e);
	assert_string_equal(e->field, "title");
	assert_string_equal(e->alias, "Putin");
	assert_string_equal(e->text, "Putin");
	assert_non_null(strstr(e->snippet, "Russian President Putin has arrived"));
	e = find_explain(&res, "@north_korea");
	assert_non_null(e);
	assert_string_equal(e->field, "title");
	assert_string_equal(e->alias, "North Korea");
	assert_string_equal(e->text, "North Korea");
	assert_int_equal(e->watchlist, 0);

	/* the content alone fires too, and the explanation points into it */
	it.title = (char *)"";
	assert_int_equal(fw_match_item(m, &it, &res), 0);
	assert_int_equal(res.n_watchlists, 1);
	e = find_explain(&res, "@putin");
	assert_non_null(e);
	assert_string_equal(e->field, "content");
	assert_string_equal(e->text, "Putin");
	assert_non_null(strstr(e->snippet, "Putin"));
	assert_true(strlen(e->snippet) < 140);
	assert_null(strchr(e->snippet, '\n'));
	assert_null(strstr(e->snippet, "  "));
	fw_match_result_clear(&res);
	assert_int_equal(res.n_explain, 0);
	fw_matcher_free(m);
	free(text);
}

static struct fw_matcher *must_compile(const char *q)
{
	struct fw_match_diag d[8];
	size_t nd;
	int rc;
	struct fw_matcher *m = compile1(q, d, &nd, &rc);

	assert_int_equal(rc, 0);
	return m;
}

/* Two different words, one of them excluded: a query that can match (the check once took
   every word for the same term, refusing 'putin AND NOT kim'). */
static void test_not_word(void **state)
{
	static const char *const queries[] = {"putin AND NOT kim", "@putin AND NOT kim",
	                                      "\"north korea\" AND NOT \"south korea\"",
	                                      "putin AND NOT putin*"};
	struct fw_item it = {0};
	struct fw_match_result res = {0};

	(void)state;
	it.summary = (char *)"";
	it.content = (char *)"";
	for (size_t i = 0; i < 3; i++) {
		struct fw_matcher *m = must_compile(queries[i]);

		it.title = (char *)"Putin in North Korea";
		assert_int_equal(fw_match_item(m, &it, &res), 0);
		assert_int_equal(res.n_watchlists, 1);
		it.title = (char *)"Putin and Kim in South Korea";
		assert_int_equal(fw_match_item(m, &it, &res), 0);
		assert_int_equal(res.n_watchlists, 0);
		fw_match_result_clear(&res);
		fw_matcher_free(m);
	}
	/* a prefix is another term than the word: "putins" would match, "putin" not */
	fw_matcher_free(must_compile(queries[3]));
}

static void test_explain(void **state)
{
	struct fw_item it = {0};
	struct fw_match_result res = {0};
	struct fw_matcher *m;
	const struct fw_match_explain *e;
	char *cats[1] = {(char *)"Nord" SHY "korea"};
	char longtext[2048];

	(void)state;
	it.title = (char *)"";
	it.summary = (char *)"";
	it.content = (char *)"Встреча с ПУТИНЫМ в Кремле";
	m = must_compile("@putin AND NOT @south_korea");
	assert_int_equal(fw_match_item(m, &it, &res), 0);
	assert_int_equal(res.n_watchlists, 1);
	assert_int_equal(res.n_explain, 1); /* NOT terms give none */
	e = &res.explain[0];
	assert_string_equal(e->term, "@putin");
	assert_string_equal(e->alias, "Путин*");
	assert_string_equal(e->field, "content");
	assert_string_equal(e->text, "ПУТИНЫМ");
	assert_string_equal(e->snippet, "Встреча с ПУТИНЫМ в Кремле");
	m = fw_matcher_free(m);

	/* text as written keeps invisible characters and the original case */
	it.content = (char *)"Today Pu" SHY "TIN spoke";
	m = must_compile("putin");
	assert_int_equal(fw_match_item(m, &it, &res), 0);
	assert_int_equal(res.n_explain, 1);
	assert_string_equal(res.explain[0].term, "putin");
	assert_string_equal(res.explain[0].alias, "putin");
	assert_string_equal(res.explain[0].text, "Pu" SHY "TIN");
	m = fw_matcher_free(m);

	/* OR: only the branch that is true */
	it.content = (char *)"Talks in Pyongyang";
	m = must_compile("@putin OR @north_korea OR \"kim jong\"");
	assert_int_equal(fw_match_item(m, &it, &res), 0);
	assert_int_equal(res.n_explain, 1);
	assert_string_equal(res.explain[0].term, "@north_korea");
	assert_string_equal(res.explain[0].alias, "Pyongyang");
	m = fw_matcher_free(m);

	/* author and category fields */
	it.author = (char *)"Vladimir Putin";
	it.categories = cats;
	it.n_categories = 1;
	m = must_compile("author:@putin AND category:@north_korea");
	assert_int_equal(fw_match_item(m, &it, &res), 0);
	assert_int_equal(res.n_explain, 2);
	e = find_explain(&res, "@putin");
	assert_string_equal(e->field, "author");
	assert_string_equal(e->alias, "Vladimir Putin");
	assert_string_equal(e->text, "Vladimir Putin");
	e = find_explain(&res, "@north_korea");
	assert_string_equal(e->field, "category");
	assert_string_equal(e->text, "Nord" SHY "korea");
	m = fw_matcher_free(m);
	it.author = NULL;
	it.n_categories = 0;

	/* Korean particles: the text runs to the end of the word; Han inside a run */
	it.content = (char *)"러시아의 푸틴이 북한을 방문했다";
	m = must_compile("@putin_ko NEAR/0 @north_korea_ko");
	assert_int_equal(fw_match_item(m, &it, &res), 0);
	assert_int_equal(res.n_explain, 2);
	assert_string_equal(find_explain(&res, "@putin_ko")->text, "푸틴이");
	assert_string_equal(find_explain(&res, "@north_korea_ko")->text, "북한을");
	m = fw_matcher_free(m);
	it.content = (char *)"俄罗斯总统普京访问朝鲜";
	m = must_compile("@putin_zh");
	assert_int_equal(fw_match_item(m, &it, &res), 0);
	assert_string_equal(res.explain[0].text, "普京");
	m = fw_matcher_free(m);

	/* NEAR explains both sides, inside the span that satisfied it */
	it.content = (char *)"Kim said nothing. Later Putin met Kim Jong Un.";
	m = must_compile("@putin NEAR/1 @kim");
	assert_int_equal(fw_match_item(m, &it, &res), 0);
	assert_int_equal(res.n_explain, 2);
	assert_string_equal(find_explain(&res, "@kim")->text, "Kim Jong");
	m = fw_matcher_free(m);

	/* a prefix on every word: the text spans the whole alias match, as written */
	it.content = (char *)"Визит Путина в Северную  Корею завершён";
	m = must_compile("@nk_ru NEAR/3 @putin");
	assert_int_equal(fw_match_item(m, &it, &res), 0);
	assert_int_equal(res.n_explain, 2);
	e = find_explain(&res, "@nk_ru");
	assert_string_equal(e->alias, "Северн* Коре*");
	assert_string_equal(e->text, "Северную  Корею");
	assert_string_equal(find_explain(&res, "@putin")->text, "Путина");
	m = fw_matcher_free(m);
	it.content = (char *)"Nach Nord-Koreas Test; Kims Jong Un spricht";
	m = must_compile("@nk_de AND \"kim* jong*\" AND @kju");
	assert_int_equal(fw_match_item(m, &it, &res), 0);
	assert_int_equal(res.n_explain, 3);
	assert_string_equal(find_explain(&res, "@nk_de")->text, "Nord-Koreas");
	assert_string_equal(find_explain(&res, "\"kim* jong*\"")->text, "Kims Jong");
	e = find_explain(&res, "@kju");
	assert_string_equal(e->alias, "Kim* Jong Un");
	assert_string_equal(e->text, "Kims Jong Un");
	m = fw_matcher_free(m);
	it.content = (char *)"Північною Кореєю";
	m = must_compile("\"Північн* Коре*\"");
	assert_int_equal(fw_match_item(m, &it, &res), 0);
	assert_string_equal(res.explain[0].text, "Північною Кореєю");
	m = fw_matcher_free(m);

	/* a long field: the snippet is about 100 characters around the match, cut on
	   character boundaries, whitespace collapsed */
	snprintf(longtext, sizeof(longtext), "%s Путину   сообщили\n\nо визите %s",
	         "Длинный текст о политике и экономике, в котором много слов до имени, "
	         "чтобы обрезка сниппета была видна в тесте",
	         "и ещё много слов после имени, которые тоже не помещаются в сниппет "
	         "целиком, потому что он короткий");
	it.content = longtext;
	m = must_compile("@putin");
	assert_int_equal(fw_match_item(m, &it, &res), 0);
	e = &res.explain[0];
	assert_string_equal(e->text, "Путину");
	assert_non_null(strstr(e->snippet, "Путину сообщили о визите"));
	assert_memory_equal(e->snippet, "\xE2\x80\xA6", 3);
	assert_memory_equal(e->snippet + strlen(e->snippet) - 3, "\xE2\x80\xA6", 3);
	{
		size_t chars = 0;

		for (const char *p = e->snippet; *p; p++) {
			chars += ((unsigned char)*p & 0xC0) != 0x80;
		}
		assert_true(chars >= 90 && chars <= 106);
	}
	fw_match_result_clear(&res);
	fw_matcher_free(m);
}

static void test_many_watchlists(void **state)
{
	struct fw_match_watchlist wl[5] = {
	    {"a", "@putin"},
	    {"b", "@kim AND NOT @putin"},
	    {"c", "@north_korea"},
	    {"d", "title:\"north korea\""},
	    {"e", "putin NEAR/2 pyongyang"},
	};
	struct fw_match_spec spec = {ents, N_ENTS, wl, 5};
	struct fw_match_diag d[4];
	size_t nd;
	struct fw_matcher *m = NULL;
	struct fw_item it = {0};
	struct fw_match_result res = {0};

	(void)state;
	assert_int_equal(fw_match_compile(&spec, &m, d, 4, &nd), 0);
	assert_int_equal(fw_matcher_watchlists(m), 5);
	assert_string_equal(fw_matcher_watchlist_name(m, 3), "d");
	assert_null(fw_matcher_watchlist_name(m, 5));
	assert_true(fw_matcher_memory(m) > 0);
	it.title = (char *)"North Korea: Putin lands in Pyongyang";
	it.summary = (char *)"";
	it.content = (char *)"Kim Jong Un met him.";
	assert_int_equal(fw_match_item(m, &it, &res), 0);
	assert_int_equal(res.n_watchlists, 4);
	assert_int_equal(res.watchlists[0], 0);
	assert_int_equal(res.watchlists[1], 2);
	assert_int_equal(res.watchlists[2], 3);
	assert_int_equal(res.watchlists[3], 4);
	for (size_t i = 0; i < res.n_explain; i++) {
		assert_true(res.explain[i].watchlist != 1);
	}
	/* the result is reusable: cleared by the next call */
	it.title = (char *)"Nothing here";
	assert_int_equal(fw_match_item(m, &it, &res), 0);
	assert_int_equal(res.n_watchlists, 1);
	assert_int_equal(res.watchlists[0], 1);
	fw_match_result_clear(&res);
	fw_matcher_free(m);
}

/* The folded form of ASCII text, written the slow and obvious way: " word word ". */
static size_t fold_model(const char *t, size_t n, char *out)
{
	size_t o = 0;
	int in_word = 0;

	out[o++] = ' ';
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)t[i];
		int w = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');

		if (w && !in_word && o > 1) {
			out[o++] = ' ';
		}
		if (w) {
			out[o++] = (char)(c >= 'A' && c <= 'Z' ? c + 32 : c);
		}
		in_word = w;
	}
	if (o > 1) {
		out[o++] = ' ';
	}
	out[o] = '\0';
	return o;
}

/*
 * ASCII folding (the 16-byte block path and the byte path) equals the model on random
 * text of letters, digits, single and repeated spaces and punctuation, and the map points
 * every output letter at the input character it came from.
 */
static void test_fold_ascii(void **state)
{
	static const char alpha[] =
	    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
	struct fw_fold *f = NULL;
	struct fw_fold_buf b = {0};
	char text[700], want[1500];
	unsigned seed = 12345;

	(void)state;
	assert_int_equal(fw_fold_new(&f), 0);
	for (int round = 0; round < 3000; round++) {
		size_t n = (size_t)(round % 650), wl;
		unsigned punct =
		    1 + (unsigned)round % 40; /* 1 in punct characters is not a letter */

		for (size_t i = 0; i < n; i++) {
			seed = seed * 1103515245u + 12345u;
			if ((seed >> 16) % punct == 0) {
				text[i] = " ,.-!\t\n;"[(seed >> 8) % 8];
			} else {
				text[i] = alpha[(seed >> 16) % (sizeof(alpha) - 1)];
			}
		}
		wl = fold_model(text, n, want);
		assert_int_equal(fw_fold_text(f, text, n, &b, round & 1), 0);
		assert_int_equal(b.len, wl);
		assert_memory_equal(b.s, want, wl + 1);
		for (size_t k = 0; (round & 1) && k < b.len; k++) {
			if (b.s[k] != ' ') {
				assert_true(b.map[k] < n);
				assert_int_equal(b.s[k], want[k]);
				assert_true(b.s[k] == text[b.map[k]] ||
				            b.s[k] == text[b.map[k]] + 32);
			}
		}
	}
	fw_fold_buf_clear(&b);
}

/*
 * The folded form and map of text in alphabetic scripts, the slow and obvious way with
 * utf8proc: every character decomposed and case-folded, the diacritics U+0300-U+036F
 * dropped, letters and digits kept, the rest one space between words. A byte maps to the
 * character it came from; a space to the character after it.
 */
static size_t fold_model_alpha(const char *t, size_t n, char *out, uint32_t *map)
{
	size_t o = 0, i = 0;
	int in_word = 0;

	out[o] = ' ';
	map[o++] = 0;
	while (i < n) {
		utf8proc_int32_t cp, d[8];
		utf8proc_ssize_t l = utf8proc_iterate((const utf8proc_uint8_t *)t + i,
		                                      (utf8proc_ssize_t)(n - i), &cp);
		utf8proc_ssize_t nd;
		int bc = 0;

		assert_true(l > 0);
		nd = utf8proc_decompose_char(
		    cp, d, 8, UTF8PROC_COMPAT | UTF8PROC_CASEFOLD | UTF8PROC_DECOMPOSE, &bc);
		assert_true(nd > 0 && nd <= 8);
		for (utf8proc_ssize_t k = 0; k < nd; k++) {
			utf8proc_category_t c = utf8proc_category(d[k]);
			int w = (c >= UTF8PROC_CATEGORY_LU && c <= UTF8PROC_CATEGORY_LO) ||
			        c == UTF8PROC_CATEGORY_ND;

			if (d[k] >= 0x300 && d[k] <= 0x36F) {
				continue;
			}
			if (w && !in_word && o > 1) {
				out[o] = ' ';
				map[o++] = (uint32_t)i;
			}
			if (w) {
				utf8proc_ssize_t b =
				    utf8proc_encode_char(d[k], (utf8proc_uint8_t *)out + o);

				for (utf8proc_ssize_t j = 0; j < b; j++) {
					map[o++] = (uint32_t)i;
				}
			}
			in_word = w;
		}
		i += (size_t)l;
	}
	if (o > 1) {
		out[o] = ' ';
		map[o++] = (uint32_t)n;
	}
	out[o] = '\0';
	return o;
}

/*
 * The block paths (16 bytes of ASCII and Cyrillic at once) and the character-by-character
 * path fold as the model: random text over letters that fold in place (А-Я, а-я, є, і, ї),
 * ones that do not (Ё, Й, й, ѐ, ђ, ö, ß), punctuation and runs of spaces, with and without
 * the map.
 */
static void test_fold_alpha(void **state)
{
	static const char *const alpha[] = {
	    "a", "z", "Q", "7", " ", " ", " ", ",", ".", "А", "П", "Р", "Я", "а", "п",  "р", "я",
	    "ж", "Ж", "є", "і", "ї", "Є", "Ё", "ё", "Й", "й", "Ѐ", "ђ", "ö", "ß", "\t", "—", "«"};
	struct fw_fold *f = NULL;
	struct fw_fold_buf b = {0};
	char text[1200], want[2600];
	uint32_t map[2600];
	unsigned seed = 99;

	(void)state;
	assert_int_equal(fw_fold_new(&f), 0);
	for (int round = 0; round < 3000; round++) {
		size_t n = 0, wl, chars = (size_t)(round % 300);
		unsigned other = 2 + (unsigned)round % 30; /* 1 in other: any of the alphabet */

		for (size_t c = 0; c < chars; c++) {
			const char *a;

			seed = seed * 1103515245u + 12345u;
			/* mostly what the block takes, so that its runs are long */
			a = alpha[(seed >> 16) % other
			              ? (seed >> 8) % 22 /* the first 22 */
			              : (seed >> 8) % (sizeof(alpha) / sizeof(alpha[0]))];
			memcpy(text + n, a, strlen(a));
			n += strlen(a);
		}
		wl = fold_model_alpha(text, n, want, map);
		assert_int_equal(fw_fold_text(f, text, n, &b, 1), 0);
		assert_int_equal(b.len, wl);
		assert_memory_equal(b.s, want, wl + 1);
		assert_memory_equal(b.map, map, wl * sizeof(*map));
		assert_int_equal(fw_fold_text(f, text, n, &b, 0), 0);
		assert_memory_equal(b.s, want, wl + 1);
	}
	fw_fold_buf_clear(&b);
}

/* The ideographs and Hangul syllables fw_fold_class_of takes without a look-up are letters. */
static void test_fold_class_blocks(void **state)
{
	(void)state;
	for (int32_t cp = 0x4E00; cp <= 0x9FFF; cp++) {
		assert_int_equal(utf8proc_category(cp), UTF8PROC_CATEGORY_LO);
		assert_int_equal(fw_fold_class_of(cp), FW_FOLD_CJK);
	}
	for (int32_t cp = 0xAC00; cp <= 0xD7A3; cp++) {
		assert_int_equal(utf8proc_category(cp), UTF8PROC_CATEGORY_LO);
		assert_int_equal(fw_fold_class_of(cp), FW_FOLD_HANGUL);
	}
	assert_int_equal(fw_fold_class_of(0x4DFF), FW_FOLD_SEP); /* a hexagram: a symbol */
	assert_int_equal(fw_fold_class_of(0x3400), FW_FOLD_CJK);
}

/*
 * Characters that fold to many (U+FDFA: 18 code points) followed by long ASCII runs: the
 * output outgrows the input, and the ASCII run must still stay inside the buffer (it once
 * wrote past it). ASan is the judge; the result is checked too.
 */
static void test_fold_room(void **state)
{
	struct fw_fold *f = NULL;
	struct fw_fold_buf b = {0};
	char *t = malloc(3 * 200 + 700 + 40);

	(void)state;
	assert_non_null(t);
	assert_int_equal(fw_fold_new(&f), 0);
	for (int k = 0; k < 200; k += 3) {
		for (int a = 100; a < 700; a += 37) {
			for (int pre = 0; pre < 40; pre += 13) {
				size_t n = (size_t)pre;

				memset(t, 'b', n);
				for (int j = 0; j < k; j++) {
					memcpy(t + n, "\xEF\xB7\xBA", 3);
					n += 3;
				}
				memset(t + n, 'a', (size_t)a);
				n += (size_t)a;
				assert_int_equal(fw_fold_text(f, t, n, &b, (k + a) & 1), 0);
				assert_true(b.len >= (size_t)a + 2);
				assert_int_equal(b.s[b.len - 1], ' ');
				assert_int_equal(b.s[b.len - 2], 'a');
			}
		}
	}
	fw_fold_buf_clear(&b);
	free(t);
}

/*
 * The prefilter, with a small table and with a large one, and the plain automaton find the
 * same: the same watchlists compiled alone, beside 5,000 unrelated aliases (a table 4 times
 * larger) and beside the one-letter alias "q" (a head too short to prefilter: the automaton
 * scans every position) match random texts made of the aliases' words with the same result.
 */
static void test_prefilter_same(void **state)
{
	static const char *const words[] = {
	    "Putin",    "putina", "Путина", "North", "Korea",  "Kim",  "Jong",     "Un",
	    "DPRK",     "Nord",   "korea",  "КНДР",  "北朝鲜", "普京", "Kremlin",  "Кремле",
	    "Rasputin", "South",  "and",    "the",   "-",      ",",    "普京访问", "Pjöngjang"};
	static const char *const short_alias[] = {"q"};
	char junk_s[5000][16];
	const char *junk[5000];
	struct fw_match_entity e2[N_ENTS + 1], e3[N_ENTS + 1];
	struct fw_match_watchlist wl[5] = {
	    {"a", "@putin AND @north_korea"},
	    {"b", "@kim OR @kremlin"},
	    {"c", "@putin NEAR/3 @north_korea"},
	    {"d", "\"north korea\" OR putin*"},
	    {"e", "@junk"}, /* only in the others: never matches the texts */
	};
	struct fw_match_spec small = {ents, N_ENTS, wl, 4}, big = {e2, N_ENTS + 1, wl, 5},
	                     plain = {e3, N_ENTS + 1, wl, 5};
	struct fw_match_diag d[4];
	size_t nd;
	struct fw_matcher *m[3] = {NULL, NULL, NULL};
	unsigned seed = 7;
	char text[512];

	(void)state;
	for (size_t i = 0; i < 5000; i++) {
		snprintf(junk_s[i], sizeof(junk_s[i]), "zq%zux", i * 7919);
		junk[i] = junk_s[i];
	}
	memcpy(e2, ents, sizeof(ents));
	e2[N_ENTS].name = "junk";
	e2[N_ENTS].aliases = junk;
	e2[N_ENTS].n_aliases = 5000;
	memcpy(e3, e2, sizeof(e2));
	e3[N_ENTS].aliases = short_alias;
	e3[N_ENTS].n_aliases = 1;
	assert_int_equal(fw_match_compile(&small, &m[0], d, 4, &nd), 0);
	assert_int_equal(fw_match_compile(&big, &m[1], d, 4, &nd), 0);
	assert_int_equal(fw_match_compile(&plain, &m[2], d, 4, &nd), 0);
	for (int round = 0; round < 2000; round++) {
		struct fw_item it = {0};
		struct fw_match_result r[3] = {{0}, {0}, {0}};
		size_t n = 0;

		while (n < 300) {
			const char *w;

			seed = seed * 1103515245u + 12345u;
			w = words[(seed >> 16) % (sizeof(words) / sizeof(words[0]))];
			n += (size_t)snprintf(text + n, sizeof(text) - n, "%s%s", w,
			                      (seed >> 8) % 5 ? " " : "");
		}
		it.title = (char *)"";
		it.summary = text;
		it.content = (char *)"";
		for (int k = 0; k < 3; k++) {
			assert_int_equal(fw_match_item(m[k], &it, &r[k]), 0);
		}
		for (int k = 1; k < 3; k++) {
			assert_int_equal(r[0].n_watchlists, r[k].n_watchlists);
			assert_memory_equal(r[0].watchlists, r[k].watchlists,
			                    r[0].n_watchlists * sizeof(*r[0].watchlists));
			assert_int_equal(r[0].n_explain, r[k].n_explain);
			for (size_t i = 0; i < r[0].n_explain; i++) {
				assert_string_equal(r[0].explain[i].text, r[k].explain[i].text);
				assert_string_equal(r[0].explain[i].alias, r[k].explain[i].alias);
			}
		}
		for (int k = 0; k < 3; k++) {
			fw_match_result_clear(&r[k]);
		}
	}
	for (int k = 0; k < 3; k++) {
		fw_matcher_free(m[k]);
	}
}

struct thr {
	const struct fw_matcher *m;
	const struct fw_item *it;
	int ok;
};

static void *thr_main(void *arg)
{
	struct thr *t = arg;

	t->ok = 1;
	for (int i = 0; i < 200; i++) {
		struct fw_match_result res = {0};

		if (fw_match_item(t->m, t->it, &res) != 0 || res.n_watchlists != 1 ||
		    res.n_explain != 2) {
			t->ok = 0;
		}
		fw_match_result_clear(&res);
	}
	return NULL;
}

/* One matcher shared by threads matching at once. */
static void test_threads(void **state)
{
	struct fw_matcher *m = must_compile("@putin AND @north_korea");
	struct fw_item it = {0};
	pthread_t th[4];
	struct thr t[4];

	(void)state;
	it.title = (char *)"Putin in Pyongyang";
	it.summary = (char *)"";
	it.content = (char *)"Путин прибыл в КНДР";
	for (int i = 0; i < 4; i++) {
		t[i].m = m;
		t[i].it = &it;
		assert_int_equal(pthread_create(&th[i], NULL, thr_main, &t[i]), 0);
	}
	for (int i = 0; i < 4; i++) {
		assert_int_equal(pthread_join(th[i], NULL), 0);
		assert_true(t[i].ok);
	}
	fw_matcher_free(m);
}

/*
 * query.c on its own: aliases become patterns with their boundaries and prefixes, a query
 * a tree over atoms, and a broken query a diagnostic with its column.
 */
static void test_query_parts(void **state)
{
	static const char *const al[] = {"Северн* Коре*", "Putin"};
	const struct fw_match_entity e[] = {{"nk", al, 2}};
	const struct fw_match_watchlist w[] = {{"a", "@nk AND title:\"kim jong*\""},
	                                       {"b", "@nk NEAR/x y"}};
	const struct fw_match_spec sp = {e, 1, w, 2};
	struct fw_match_diag d[4];
	struct cc c = {0};
	uint32_t roots[2];
	const struct qnode *root, *k0, *k1;

	(void)state;
	c.spec = &sp;
	c.diags = d;
	c.max_diags = 4;
	assert_int_equal(fw_fold_new(&c.fold), 0);
	assert_int_equal(fw_query_entities(&c), 0);
	assert_int_equal(c.n_errors, 0);
	assert_int_equal(c.pe.n, 2);
	assert_string_equal(c.pe.v[0].s, " северн* коре");
	assert_int_equal(c.pe.v[0].hlen, strlen(" северн"));
	assert_true(c.pe.v[0].lead && !c.pe.v[0].trail && c.pe.v[0].extend);
	assert_string_equal(c.pe.v[1].s, " putin ");
	assert_int_equal(c.pe.v[1].hlen, c.pe.v[1].len);
	assert_true(c.pe.v[1].lead && c.pe.v[1].trail && !c.pe.v[1].extend);
	assert_int_equal(c.pe.v[1].ref.atom, 0);
	assert_int_equal(c.pe.v[1].ref.alias, 1);

	assert_int_equal(fw_query_watchlists(&c, roots), 0);
	assert_int_not_equal(roots[0], NONE);
	root = &c.q.v[roots[0]];
	assert_int_equal(root->kind, Q_AND);
	assert_int_equal(root->n, 2);
	k0 = &c.q.v[c.kids.v[root->a]];
	k1 = &c.q.v[c.kids.v[root->a + 1]];
	assert_int_equal(k0->kind, Q_TERM);
	assert_int_equal(k0->a, 0); /* the entity */
	assert_int_equal(k0->mask, MASK_DEFAULT);
	assert_int_equal(k1->kind, Q_TERM);
	assert_int_equal(k1->mask, 1u << F_TITLE);
	assert_int_equal(k1->col, 15); /* the phrase, after its scope */
	assert_int_equal(c.lits.n, 1);
	assert_string_equal(c.lits.v[0].s, " kim jong");
	assert_true(c.lits.v[0].extend);

	assert_int_equal(roots[1], NONE);
	assert_int_equal(c.n_errors, 1);
	assert_int_equal(d[0].where, FW_MATCH_IN_WATCHLIST);
	assert_int_equal(d[0].index, 1);
	assert_int_equal(d[0].column, 10);
	assert_string_equal(d[0].message, "expected a number after 'NEAR/'");

	for (size_t i = 0; i < c.pe.n; i++) {
		free(c.pe.v[i].s);
	}
	for (size_t i = 0; i < c.lits.n; i++) {
		free(c.lits.v[i].s);
	}
	free(c.pe.v);
	free(c.lits.v);
	free(c.q.v);
	free(c.kids.v);
	free(c.keys);
	fw_fold_buf_clear(&c.fb);
	fw_fold_free(c.fold);
}

/* Whether occ holds [s, s + len) of the folded text for (atom, alias). */
static int has_occ(const struct occvec *o, uint32_t atom, uint32_t alias, uint32_t s, size_t len)
{
	for (size_t i = 0; i < o->n; i++) {
		if (o->v[i].atom == atom && o->v[i].alias == alias && o->v[i].field == 3 &&
		    o->v[i].s == s && o->v[i].e == s + len) {
			return 1;
		}
	}
	return 0;
}

/*
 * ac.c on its own: the scan of a folded field reports every alias that occurs, at its
 * bytes (a prefix to the end of its word), and nothing else.
 */
static void test_ac_scan(void **state)
{
	static const char t[] = "Vladimir PUTIN met Путина in Pyongyang, not Rasputin.";
	struct fw_matcher *m = must_compile("@putin OR @north_korea");
	struct fw_fold_buf b = {0};
	struct occvec o = {0};
	const char *f;

	(void)state;
	assert_int_equal(fw_fold_text(m->fold, t, strlen(t), &b, 0), 0);
	f = b.s;
	assert_string_equal(f, " vladimir putin met путина in pyongyang not rasputin ");
	assert_int_equal(fw_ac_scan(m, 3, (const uint8_t *)f, b.len, &o), 0);
	assert_int_equal(o.n, 4);
	assert_true(has_occ(&o, 0, 1, 1, strlen("vladimir putin")));
	assert_true(has_occ(&o, 0, 0, (uint32_t)(strstr(f, "putin") - f), strlen("putin")));
	assert_true(has_occ(&o, 0, 3, (uint32_t)(strstr(f, "путина") - f), strlen("путина")));
	assert_true(has_occ(&o, 1, 2, (uint32_t)(strstr(f, "pyongyang") - f), strlen("pyongyang")));
	free(o.v);
	fw_fold_buf_clear(&b);
	fw_matcher_free(m);
}

/* fw_match_words: the FTS5 query of a watchlist's candidates, folded as the matcher folds
   (diacritics, case, ß), prefixes kept, NOT and unspaced scripts narrowing nothing. */
static void test_words(void **state)
{
	static const struct {
		const char *q, *want; /* want NULL: no narrowing */
	} wcases[] = {
	    {"@strasse", "((\"hauptstrasse\"))"}, /* ß folded as the matcher folds it */
	    {"Pjöngjang", "(\"pjongjang\")"},
	    {"\"north korea\" AND putin*", "((\"north\" AND \"korea\") AND (\"putin\"*))"},
	    {"@nk_de OR kim", "(((\"nord\"* AND \"korea\"*)) OR (\"kim\"))"},
	    {"putin AND NOT kim", "((\"putin\"))"},
	    {"putin NEAR/3 title:kim", "((\"putin\") AND (\"kim\"))"},
	    {"putin OR @putin_zh", NULL},             /* Han: no spaces between words */
	    {"putin AND @putin_ko", "((\"putin\"))"}, /* Hangul narrows nothing */
	    {"@kju", NULL},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(wcases) / sizeof(wcases[0]); i++) {
		struct fw_matcher *m = must_compile(wcases[i].q);
		char *got = (char *)"unset";

		assert_int_equal(fw_match_words(m, 0, &got), 0);
		if ((got == NULL) != (wcases[i].want == NULL) ||
		    (got && strcmp(got, wcases[i].want) != 0))
			fail_msg("%s: got %s, want %s", wcases[i].q, got ? got : "NULL",
			         wcases[i].want ? wcases[i].want : "NULL");
		free(got);
		fw_matcher_free(m);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_table),           cmocka_unit_test(test_words),
	    cmocka_unit_test(test_errors),          cmocka_unit_test(test_alias_diags),
	    cmocka_unit_test(test_entity_diags),    cmocka_unit_test(test_seed),
	    cmocka_unit_test(test_not_word),        cmocka_unit_test(test_explain),
	    cmocka_unit_test(test_many_watchlists), cmocka_unit_test(test_threads),
	    cmocka_unit_test(test_fold_ascii),      cmocka_unit_test(test_fold_room),
	    cmocka_unit_test(test_fold_alpha),      cmocka_unit_test(test_fold_class_blocks),
	    cmocka_unit_test(test_prefilter_same),  cmocka_unit_test(test_query_parts),
	    cmocka_unit_test(test_ac_scan),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
