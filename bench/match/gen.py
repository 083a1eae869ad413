#!/usr/bin/env python3
"""Deterministic benchmark data for the watchlist matcher.

gen.py aliases N OUT   the first N of a fixed list of 100,000 realistic multilingual aliases
                       (names, places; some with a prefix '*' on every word, as Russian
                       "Северн* Коре*"), one a line
gen.py grep IN OUT     the same list for grep -F: the '*' removed
gen.py text MB OUT     about MB megabytes of news-like multilingual text, one item a line

The text is the same whatever the alias count, and so is what matches in it: about 3% of
the items mention one of the first 10 aliases (which every alias list holds), as inflected
forms where the alias is a prefix. The rest of the names in the text are decoys: made like
aliases, but checked to match none of the 100,000 (nor their prefixes), so a larger list
makes the scanning work harder without making more items match.
"""
import random
import sys

LAT_ON = ["b", "ch", "d", "f", "g", "h", "k", "l", "m", "n", "p", "r", "s", "sch", "t", "v",
          "w", "z", "br", "kr", "st", "tr"]
LAT_NU = ["a", "e", "i", "o", "u", "ei", "au", "ö", "ü", "ä", "é", "ia", "ou"]
CYR_ON = ["б", "в", "г", "д", "ж", "з", "к", "л", "м", "н", "п", "р", "с", "т", "х", "ш",
          "ч", "пр", "ст", "кр"]
CYR_NU = ["а", "е", "и", "о", "у", "ы", "я", "ю", "ё", "ій", "ї"]
CYR_END = ["ая", "ой", "ую", "ого", "ому", "ым", "а", "у", "ом", "е"]
HANGUL = "가나다라마바사아자차카타파하김박이최정강조윤장임한오서신권황안송류홍전고문손양배백허남심노하곽성차주우구민유나진지엄채원천방공현함변염여추도소석선설마길연위표명기반왕금옥육인맹제모탁국어은편용예경봉사부황"
HAN = "的一是在不了有和人这中大为上个国我以要他时来用们生到作地于出就分对成会可主发年动同工也能下过子说产种面而方后多定行学法所民得经十三之进着等部度家电力里如水化高自二理起小物现实加量都两体制机当使点从业本去把性好应开它合还因由其些然前外天政四日那社义事平形相全表间样与关各重新线内数正心反你明看原又么利比或但质气第向道命此变条只没结解问意建月公无系军很情者最立代想已通并提直题党程展五果料象员革位入常文总次品式活设及管特件长求老头基资边流路级少图山统接知较将组见计别她手角期根论运农指几九区强放决西被干做必战先回则任取据处队南给色光门即保治北造百规热领七海口东导器压志世金增争济阶油思术极交受联什认六共权收证改清己美再采转更单风切打白教速花带安场身车例真务具万每目至达走积示议声报斗完类八离华名确才科张信马节话米整空元况今集温传土许步群广石记需段研界拉林律叫且究观越织装影算低持音众书布复容儿须际商非验连断深难近矿千周委素技备半办青省列习响约支般史感劳便团往酸历市克何除消构府称太准精值号率族维划选标写存候毛亲快效斯院查江型眼王按格养易置派层片始却专状育厂京识适属圆包火住调满县局照参红细引听该铁价严"
HAN_TEXT = HAN[:320]
HAN_NAME = "".join(c for c in HAN[320:] if c not in HAN_TEXT)  # a name starts with one of
# these: never found in the running text
KATA = "アイウエオカキクケコサシスセソタチツテトナニヌネノハヒフヘホマミムメモヤユヨラリルレロワンガギグゲゴザジズゼゾダデドバビブベボパピプペポー"
HIRA = "あいうえおかきくけこさしすせそたちつてとなにぬねのはひふへほまみむめもやゆよらりるれろわをんがぎぐげござじずぜぞだでどばびぶべぼ"

WORDS_EN = ("the of and to in a is that for on with as by at from government minister said "
            "president talks visit military economic sanctions report city people week new "
            "agreement security council election party war peace trade market energy").split()
WORDS_DE = ("der die und das nicht mit von zu den ist auch sich Regierung Minister sagte "
            "Besuch Wirtschaft Sanktionen Stadt Woche Abkommen Sicherheitsrat Straße Grüße "
            "Präsident Verhandlungen über für").split()
WORDS_RU = ("и в не на что с по это как из у за президент министр правительство визит "
            "экономика санкции город неделя соглашение безопасность выборы переговоры войны "
            "мира торговля заявил сообщил").split()
WORDS_UK = ("і в не на що з по це як із у за президент міністр уряд візит економіка санкції "
            "місто тиждень угода безпека вибори переговори заявив повідомив їхній").split()
WORDS_KO = ("대통령 정부 장관 방문 경제 제재 도시 주간 협정 안보 선거 회담 전쟁 평화 무역 "
            "시장 에너지 발표했다 말했다 보도했다 이 그 것은 있다 없다").split()

N_ALIASES_MAX = 100000
N_WATCHED = 10
ITEM_HIT_SHARE = 0.03


def lat_word(r, syl):
    return "".join(r.choice(LAT_ON) + r.choice(LAT_NU) for _ in range(syl)).capitalize()


def cyr_word(r, syl):
    return "".join(r.choice(CYR_ON) + r.choice(CYR_NU) for _ in range(syl)).capitalize()


def hangul_name(r):
    while True:
        a = "".join(r.choice(HANGUL) for _ in range(r.randint(2, 4)))
        # Hangul aliases match word starts: keep clear of the text's own words
        if not any(w.startswith(a) for w in WORDS_KO):
            return a


def alias(r):
    k = r.random()
    if k < 0.45:
        return lat_word(r, r.randint(2, 3)) + " " + lat_word(r, r.randint(2, 4))
    if k < 0.60:
        return lat_word(r, r.randint(3, 4))
    if k < 0.72:
        return cyr_word(r, r.randint(2, 3)) + " " + cyr_word(r, r.randint(2, 4))
    if k < 0.80:
        # inflected: a prefix on every word, as "Северн* Коре*"
        return cyr_word(r, r.randint(2, 3)) + "* " + cyr_word(r, r.randint(2, 3)) + "*"
    if k < 0.88:
        return hangul_name(r)
    if k < 0.95:
        return r.choice(HAN_NAME) + "".join(r.choice(HAN) for _ in range(r.randint(1, 3)))
    return "".join(r.choice(KATA) for _ in range(r.randint(3, 5)))


def alias_list():
    r = random.Random(4)
    seen = set()
    out = []
    while len(out) < N_ALIASES_MAX:
        a = alias(r)
        if a.lower() in seen:
            continue
        seen.add(a.lower())
        out.append(a)
    return out


def aliases(n, out):
    with open(out, "w", encoding="utf-8") as f:
        for a in alias_list()[:n]:
            f.write(a + "\n")


def grep_list(src, out):
    with open(src, encoding="utf-8") as f, open(out, "w", encoding="utf-8") as g:
        for line in f:
            g.write(line.replace("*", ""))


class Index:
    """Enough of the matcher's rules to tell whether a decoy would match an alias."""

    def __init__(self, al):
        self.exact = set()
        self.star = {}
        self.sub = set()
        for a in al:
            a = a.lower()
            if "*" in a:
                ws = a.replace("*", "").split()
                self.star.setdefault(ws[0], []).append(ws)
            elif a[0] in HANGUL or a[0] in HAN or a[0] in KATA:
                self.sub.add(a)
            else:
                self.exact.add(a)

    def hits(self, name):
        n = name.lower()
        if n in self.exact:
            return True
        ws = n.split()
        for i in range(1, len(ws[0]) + 1):
            for st in self.star.get(ws[0][:i], ()):
                if len(st) <= len(ws) and all(w.startswith(p) for w, p in zip(ws, st)):
                    return True
        for i in range(len(n)):
            for j in range(i + 1, min(len(n), i + 6) + 1):
                if n[i:j] in self.sub:
                    return True
        return False


def inflect(r, a):
    """The watched alias as it may be written in a text."""
    if "*" in a:
        return " ".join(w.replace("*", "") + r.choice(CYR_END) for w in a.split())
    return a


def decoys(al, n):
    idx = Index(al)
    r = random.Random(99)
    out = []
    while len(out) < n:
        d = alias(r).replace("*", "")
        if not idx.hits(d):
            out.append(d)
    return out


def sentence(r, decoy):
    k = r.random()
    if k < 0.35:
        ws = [r.choice(WORDS_EN) for _ in range(r.randint(8, 20))]
    elif k < 0.55:
        ws = [r.choice(WORDS_DE) for _ in range(r.randint(8, 18))]
    elif k < 0.75:
        ws = [r.choice(WORDS_RU) for _ in range(r.randint(8, 18))]
    elif k < 0.82:
        ws = [r.choice(WORDS_UK) for _ in range(r.randint(8, 18))]
    elif k < 0.90:
        ws = [r.choice(WORDS_KO) for _ in range(r.randint(5, 12))]
    elif k < 0.96:
        return "".join(r.choice(HAN_TEXT) for _ in range(r.randint(15, 40))) + "。"
    else:
        return "".join(r.choice(HIRA + HAN_TEXT) for _ in range(r.randint(15, 40))) + "。"
    if r.random() < 0.3:
        ws.insert(r.randint(0, len(ws)), r.choice(decoy))
    return " ".join(ws).capitalize() + r.choice([".", ",", ";", "!", "?", " —"])


def text(mb, out):
    al = alias_list()
    watched = al[:N_WATCHED]
    decoy = decoys(al, 3000)
    r = random.Random(7)
    total = 0
    with open(out, "w", encoding="utf-8") as f:
        while total < mb * 1000000:
            ss = [sentence(r, decoy) for _ in range(r.randint(3, 25))]
            if r.random() < ITEM_HIT_SHARE:
                i = r.randrange(len(ss))
                ss[i] = ss[i] + " " + inflect(r, r.choice(watched)) + "."
            line = " ".join(ss) + "\n"
            total += len(line.encode())
            f.write(line)


if __name__ == "__main__":
    if len(sys.argv) != 4 or sys.argv[1] not in ("aliases", "grep", "text"):
        sys.exit(__doc__)
    if sys.argv[1] == "aliases":
        aliases(int(sys.argv[2]), sys.argv[3])
    elif sys.argv[1] == "grep":
        grep_list(sys.argv[2], sys.argv[3])
    else:
        text(float(sys.argv[2]), sys.argv[3])
