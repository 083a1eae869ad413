#!/usr/bin/env python3
"""Deterministic benchmark data for the watchlist matcher.

gen.py aliases N OUT   N realistic multilingual aliases (names, places), one a line
gen.py text MB OUT     about MB megabytes of news-like multilingual text, one item a line
"""
import random
import sys

LAT_ON = ["b", "ch", "d", "f", "g", "h", "k", "l", "m", "n", "p", "r", "s", "sch", "t", "v",
          "w", "z", "br", "kr", "st", "tr"]
LAT_NU = ["a", "e", "i", "o", "u", "ei", "au", "ö", "ü", "ä", "é", "ia", "ou"]
CYR_ON = ["б", "в", "г", "д", "ж", "з", "к", "л", "м", "н", "п", "р", "с", "т", "х", "ш",
          "ч", "пр", "ст", "кр"]
CYR_NU = ["а", "е", "и", "о", "у", "ы", "я", "ю", "ё", "ій", "ї"]
HANGUL = "가나다라마바사아자차카타파하김박이최정강조윤장임한오서신권황안송류홍전고문손양배백허남심노하곽성차주우구민유나진지엄채원천방공현함변염여추도소석선설마길연위표명기반왕금옥육인맹제모탁국어은편용예경봉사부황"
HAN = "的一是在不了有和人这中大为上个国我以要他时来用们生到作地于出就分对成会可主发年动同工也能下过子说产种面而方后多定行学法所民得经十三之进着等部度家电力里如水化高自二理起小物现实加量都两体制机当使点从业本去把性好应开它合还因由其些然前外天政四日那社义事平形相全表间样与关各重新线内数正心反你明看原又么利比或但质气第向道命此变条只没结解问意建月公无系军很情者最立代想已通并提直题党程展五果料象员革位入常文总次品式活设及管特件长求老头基资边流路级少图山统接知较将组见计别她手角期根论运农指几九区强放决西被干做必战先回则任取据处队南给色光门即保治北造百规热领七海口东导器压志世金增争济阶油思术极交受联什认六共权收证改清己美再采转更单风切打白教速花带安场身车例真务具万每目至达走积示议声报斗完类八离华名确才科张信马节话米整空元况今集温传土许步群广石记需段研界拉林律叫且究观越织装影算低持音众书布复容儿须际商非验连断深难近矿千周委素技备半办青省列习响约支般史感劳便团往酸历市克何除消构府称太准精值号率族维划选标写存候毛亲快效斯院查江型眼王按格养易置派层片始却专状育厂京识适属圆包火住调满县局照参红细引听该铁价严"
KANA = "アイウエオカキクケコサシスセソタチツテトナニヌネノハヒフヘホマミムメモヤユヨラリルレロワンガギグゲゴザジズゼゾダデドバビブベボパピプペポー"

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


def lat_word(r, syl):
    return "".join(r.choice(LAT_ON) + r.choice(LAT_NU) for _ in range(syl)).capitalize()


def cyr_word(r, syl):
    return "".join(r.choice(CYR_ON) + r.choice(CYR_NU) for _ in range(syl)).capitalize()


def alias(r):
    k = r.random()
    if k < 0.45:
        return lat_word(r, r.randint(2, 3)) + " " + lat_word(r, r.randint(2, 4))
    if k < 0.60:
        return lat_word(r, r.randint(3, 4))
    if k < 0.80:
        return cyr_word(r, r.randint(2, 3)) + " " + cyr_word(r, r.randint(2, 4))
    if k < 0.88:
        return "".join(r.choice(HANGUL) for _ in range(r.randint(2, 4)))
    if k < 0.95:
        return "".join(r.choice(HAN) for _ in range(r.randint(2, 4)))
    return "".join(r.choice(KANA) for _ in range(r.randint(3, 5)))


def aliases(n, out):
    r = random.Random(4)
    seen = set()
    with open(out, "w", encoding="utf-8") as f:
        while len(seen) < n:
            a = alias(r)
            if a in seen:
                continue
            seen.add(a)
            f.write(a + "\n")


def sentence(r, names):
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
        return "".join(r.choice(HAN) for _ in range(r.randint(15, 40))) + "。"
    else:
        return "".join(r.choice(KANA + HAN) for _ in range(r.randint(15, 40))) + "。"
    if r.random() < 0.5:
        ws.insert(r.randint(0, len(ws)), lat_word(r, 2) if r.random() < 0.5 else cyr_word(r, 2))
    if r.random() < 0.1:
        ws.insert(r.randint(0, len(ws)), r.choice(names))
    return " ".join(ws).capitalize() + r.choice([".", ",", ";", "!", "?", " —"])


def text(mb, out):
    r = random.Random(7)
    a = random.Random(4)
    names = [alias(a) for _ in range(2000)]
    total = 0
    with open(out, "w", encoding="utf-8") as f:
        while total < mb * 1000000:
            item = " ".join(sentence(r, names) for _ in range(r.randint(3, 25)))
            line = item + "\n"
            total += len(line.encode())
            f.write(line)


if __name__ == "__main__":
    if len(sys.argv) != 4 or sys.argv[1] not in ("aliases", "text"):
        sys.exit(__doc__)
    if sys.argv[1] == "aliases":
        aliases(int(sys.argv[2]), sys.argv[3])
    else:
        text(float(sys.argv[2]), sys.argv[3])
