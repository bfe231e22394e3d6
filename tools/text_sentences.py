"""The tokenizer parity corpus of tools/make_text_goldens.py (written to tests/data/text/sentences.jsonl).

Each entry is one Python string; the file stores one JSON string per line (so empty strings, tabs,
newlines and control characters are representable). Hand-written sentences in many scripts and
languages, then edge cases (normalisation, control characters, special-token text, long words around
WordPiece's max_input_chars_per_word = 100, an over-long text of > 600 tokens), then systematic
variants (case, spacing, single characters of many scripts and of ASCII punctuation).
"""

from __future__ import annotations

NATURAL = [
    # English and other Latin-script languages
    "The quick brown fox jumps over the lazy dog.",
    "A sentence embedding maps text to a fixed-size vector.",
    "Tokenizers split text into sub-word units before the encoder sees it.",
    "She sells sea shells by the sea shore, doesn't she?",
    "I can't believe it's already 2024; time flies!",
    "Dr. Smith arrived at 9:30 a.m. with three colleagues.",
    "The U.S.A. and the U.K. signed the agreement in Geneva.",
    "Please e-mail your résumé to the hiring manager by Friday.",
    "Café au lait, crème brûlée and a croissant, s'il vous plaît.",
    "Le cœur a ses raisons que la raison ne connaît point.",
    "Où est la bibliothèque la plus proche d'ici ?",
    "¿Dónde está la estación de tren? ¡Muchas gracias!",
    "El niño comió una manzana y después durmió la siesta.",
    "A pequena cidade fica perto do rio, não é?",
    "Ich möchte gerne ein Glas Wasser, bitte.",
    "Die Straße ist sehr lang und führt zum Fluss.",
    "Größenverhältnisse und Maßstäbe: STRASSE, Straße, GROẞ.",
    "Donaudampfschifffahrtsgesellschaftskapitänsmütze",
    "Het weer is vandaag mooi, maar morgen gaat het regenen.",
    "Jag älskar att läsa böcker på sommaren.",
    "Ærøskøbing ligger på en ø i Danmark.",
    "Hvað heitir þú? Ég heiti Þórður.",
    "Zażółć gęślą jaźń.",
    "Příliš žluťoučký kůň úpěl ďábelské ódy.",
    "Árvíztűrő tükörfúrógép.",
    "Mâine vom merge la munte, în Brașov, cu prietenii.",
    "Tiếng Việt có nhiều dấu thanh: à, á, ả, ã, ạ.",
    "Bu akşam İstanbul'da ılık bir rüzgâr esiyor.",
    "IĞDIR, ISPARTA ve İZMİR büyük harflerle yazıldı.",
    "Karibu sana, habari za asubuhi?",
    "Saya suka makan nasi goreng setiap pagi.",
    "Kumusta ka? Mabuti naman, salamat.",
    "Aloha ʻāina: ka ʻōlelo Hawaiʻi.",
    "Lorem ipsum dolor sit amet, consectetur adipiscing elit.",
    # Cyrillic
    "Привет, мир! Как у тебя дела?",
    "Съешь же ещё этих мягких французских булок.",
    "ЁЛКА и ёлка, ЙОГУРТ и йогурт.",
    "Україна, Київ, їжачок і ґанок.",
    "Здраво, свете! Ђорђе и Џејн.",
    "Сайн байна уу? Монгол хэл.",
    # Greek
    "Καλημέρα κόσμε, τι κάνεις;",
    "ΟΔΟΣ, οδός, ΣΟΦΟΣ ΛΟΓΟΣ.",
    "Ξεσκεπάζω την ψυχοφθόρα βδελυγμία.",
    # Semitic and other right-to-left scripts
    "مرحبا بالعالم، كيف حالك اليوم؟",
    "مَرْحَبًا بِكُمْ فِي الْمَدْرَسَةِ.",
    "اللغة العربية جميلة جداً ١٢٣٤٥٦٧٨٩٠.",
    "سلام دنیا، حال شما چطور است؟",
    "یہ اردو زبان کا ایک جملہ ہے۔",
    "שלום עולם, מה שלומך?",
    "שָׁלוֹם וּבְרָכָה לְכֻלָּם.",
    "ܫܠܡܐ ܥܠܡܐ",
    # Indic
    "नमस्ते दुनिया, आप कैसे हैं?",
    "मुझे हिंदी में पढ़ना अच्छा लगता है।",
    "হ্যালো বিশ্ব, তুমি কেমন আছো?",
    "வணக்கம் உலகம், நீங்கள் எப்படி இருக்கிறீர்கள்?",
    "నమస్కారం ప్రపంచం",
    "ನಮಸ್ಕಾರ ಜಗತ್ತು",
    "നമസ്കാരം ലോകം",
    "ਸਤ ਸ੍ਰੀ ਅਕਾਲ ਦੁਨੀਆ",
    "નમસ્તે દુનિયા",
    "ନମସ୍କାର ବିଶ୍ୱ",
    "ආයුබෝවන් ලෝකය",
    "नेपाल हिमालयको देश हो।",
    # Southeast Asian
    "สวัสดีชาวโลก วันนี้อากาศดีมาก",
    "ภาษาไทยไม่มีการเว้นวรรคระหว่างคำ",
    "ສະບາຍດີໂລກ",
    "សួស្តីពិភពលោក",
    "မင်္ဂလာပါ ကမ္ဘာလောက",
    # CJK
    "你好，世界！今天天气很好。",
    "我喜欢学习自然语言处理。",
    "這是一個繁體中文的句子。",
    "北京是中华人民共和国的首都。",
    "こんにちは世界、お元気ですか？",
    "私は毎朝コーヒーを飲みます。",
    "カタカナとひらがなと漢字が混ざっています。",
    "ｶﾀｶﾅ ﾊﾝｶｸ と 全角カタカナ",
    "東京タワーは１９５８年に完成しました。",
    "안녕하세요 세계, 반갑습니다.",
    "저는 한국어를 공부하고 있어요.",
    "서울은 대한민국의 수도입니다.",
    # other scripts
    "Բարեւ աշխարհ",
    "გამარჯობა მსოფლიო",
    "ሰላም ዓለም",
    "བཀྲ་ཤིས་བདེ་ལེགས།",
    "ᎣᏏᏲ ᎡᎶᎯ",
    "ᠰᠠᠶᠢᠨ ᠪᠠᠶᠢᠨ᠎ᠠ ᠤᠤ",
    "ⴰⵣⵓⵍ ⴰⵎⴰⴹⴰⵍ",
    "Ꭰ Ꭱ Ꭲ ᐊᐃᐅ ᚠᚢᚦ",
    # code, numbers, web
    "Visit https://example.com/path/to/page?query=1&lang=en#section for details.",
    "Write to someone.name+tag@example.org or call +1 (555) 010-9999.",
    "The price rose from $1,299.99 to €1.349,00 (≈ 3.8%).",
    "Pi is approximately 3.14159265358979323846.",
    "x = (a + b) * c / d - e ^ f; if x >= 10 && y != 0 { return; }",
    "def f(x): return x ** 2  # square",
    "C++ and C# are different languages; so are F# and F*.",
    "#MachineLearning @openai_fan RT: 100% agree!!!",
    "The file is /usr/local/lib/python3.11/site-packages/foo.py:42.",
    "Version 2.0.1-beta+build.123 was released on 2023-07-15T12:34:56Z.",
    "ISBN 978-3-16-148410-0, DOI 10.1000/182.",
    "Temperatures: -40°C = -40°F, 100°C = 212°F.",
    "Ratios like 1:2:3 and fractions like ½, ¾ and ⅞.",
    "Roman numerals: Ⅰ Ⅱ Ⅲ Ⅳ Ⅻ ⅿ.",
    "Superscripts and subscripts: x² + y³ = z⁴, H₂O, CO₂.",
    "Ligatures: ﬁne ﬂower ﬀ ﬃ ﬄ Ĳ ĳ œuvre.",
    "Fullwidth: ＡＢＣ ａｂｃ １２３ ！？",
    "Math: ∀x ∈ ℝ, ∃y: x² ≤ y ∧ ¬(y < 0) ⇒ ∑ᵢ aᵢ ≠ ∞.",
    "Mathematical letters: 𝐁𝐨𝐥𝐝 𝑰𝒕𝒂𝒍𝒊𝒄 𝔉𝔯𝔞𝔨𝔱𝔲𝔯 𝕯𝖔𝖚𝖇𝖑𝖊.",
    "Quotes: «guillemets», „Anführungszeichen“, “curly” and ‘single’ — dashes – too…",
    "Currency: $ € £ ¥ ₹ ₽ ₩ ₪ ₿ ¢.",
    "Arrows and shapes: → ← ↑ ↓ ⇄ ■ □ ● ○ ★ ☆ ♠ ♥ ♦ ♣.",
    "Box drawing: ┌─┬─┐ │ │ │ └─┴─┘",
    "Braille: ⠓⠑⠇⠇⠕ ⠺⠕⠗⠇⠙",
    # emoji
    "I love pizza 🍕 and ice cream 🍦!",
    "Great job 👍🏽👏🏿🙌",
    "Family: 👨‍👩‍👧‍👦 and couple 👩‍❤️‍👨.",
    "Flags: 🇩🇪 🇯🇵 🇺🇸 🇧🇷 🏴‍☠️",
    "Keycaps: 1️⃣ 2️⃣ #️⃣ and hearts ❤️ ♥ ❤",
    "Smileys😀😃😄😁without spaces",
    "🤖🧠💡🚀",
    "Emoji with text: the weather is ☀️ then 🌧️ then ⛈️.",
]

EDGE = [
    "",
    " ",
    "   ",
    "\t",
    "\n",
    "\r\n",
    "  leading and trailing spaces  ",
    "multiple     spaces    between   words",
    "tab\tseparated\tcolumns\there",
    "line one\nline two\r\nline three\rline four",
    "vertical\x0btab and form\x0cfeed",
    "null\x00byte inside",
    "bell\x07 and escape\x1b[31mred\x1b[0m",
    "delete\x7fchar and C1 \x85 next line \x9f",
    "zero\u200bwidth\u200cnon\u200djoiner",
    "byte\ufefforder mark and \ufffd replacement",
    "soft\u00adhyphen and word\u2060joiner",
    "no\u00a0break\u00a0space and thin\u2009space and ideographic\u3000space",
    "line\u2028separator and paragraph\u2029separator",
    "left-to-right\u200emark and right-to-left\u200fmark \u202aembedding\u202c",
    "private use \ue000\uf8ff and \U000f0000",
    "noncharacters \ufdd0 \uffff",
    "e\u0301 versus \u00e9, a\u0308 versus \u00e4, n\u0303 versus \u00f1",
    "Cafe\u0301 au lait and cafe\u0301ine",
    "Z\u0351\u0358a\u0300\u0301\u0302l\u0303\u0304g\u0305\u0306o\u0307\u0308 text",
    "combining at start: \u0301abc",
    "Å (A + ring) vs \u212b (angstrom sign) vs A\u030a",
    "\u1e9b\u0323 long s with dots",
    "ǅ ǈ ǋ titlecase digraphs",
    "Compatibility ideographs: \uf900 \uf901 \ufa0e and \u2f00 kangxi radical",
    "CJK extension B: \U00020000 \U0002a6d6 and extension A: \u3400",
    "Hangul jamo: \u1100\u1161\u11a8 versus \uac01, compatibility \u3131\u314f",
    "Halfwidth hangul: \uffa1\uffc2",
    "Hello世界mixed你好scripts",
    "abc123def 123abc abc123",
    "HELLO World, hElLo WoRlD, iPhone, McDonald's",
    "don't won't can't I'm you're they'll we'd",
    "...!!!???,,,;;;:::---___***",
    "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~",
    "¡¿§¶·•†‡‰′″‴※‼⁇⁈⁉",
    "word.word,word;word:word!word?word",
    "(parentheses) [brackets] {braces} <angles>",
    "[CLS] [SEP] [MASK] [PAD] [UNK]",
    "hello [SEP] world [MASK] again",
    "lowercase [cls] [sep] [mask] are not special",
    "<s> </s> <pad> <unk> <mask>",
    "hello</s>world<mask>",
    "##suffix ##ing and ## alone",
    "\u2581 (sentencepiece's space symbol) \u2581\u2581x",
    "a" * 100,
    "a" * 101,
    "b" * 150,
    "ab" * 60,
    "x" * 99 + " " + "y" * 101,
    "supercalifragilisticexpialidocious" * 3,
    "pneumonoultramicroscopicsilicovolcanoconiosis is a long word",
    "\u00e9" * 101,
    "e\u0301" * 60,
    "\u4e2d" * 120,
    "\u3042" * 101,
    "\uc548\ub155" * 40,
    "\U0001f600" * 101,
    "1234567890" * 12,
    "-" * 120,
    "https://example.com/" + "very-long-path-segment/" * 6 + "index.html",
    "A" * 50 + "\u0301" * 60,
]

# a text of > 600 WordPiece tokens (and > 512, so truncation matters)
LONG_PARAGRAPH = (
    "Natural language processing systems often need to handle documents that are much longer than the "
    "maximum sequence length of the encoder. In that case the input is either truncated, split into "
    "overlapping windows, or summarised first. Each choice has consequences for the quality of the "
    "resulting embeddings, and none of them is free. "
)
LONG_TEXTS = [
    LONG_PARAGRAPH * 10,
    " ".join(f"word{i}" for i in range(300)),
    "日本語の文章はとても長くなることがあります。" * 30,
    "Ünïcödé ñörmälïzätïön öf àççéntéd léttérs. " * 40,
]

# one word (or phrase) per script / block, each on its own line
SCRIPT_SAMPLES = [
    "Latin: façade", "Latin Extended: ǂǃ ɐɔə", "IPA: ˈfəʊnətɪk", "Greek: λόγος", "Coptic: ⲛⲟⲩⲧⲉ",
    "Cyrillic: слово", "Armenian: բառ", "Hebrew: מילה", "Arabic: كلمة", "Syriac: ܡܠܬܐ", "Thaana: ބަސް",
    "NKo: ߞߊ߲", "Devanagari: शब्द", "Bengali: শব্দ", "Gurmukhi: ਸ਼ਬਦ", "Gujarati: શબ્દ", "Oriya: ଶବ୍ଦ",
    "Tamil: சொல்", "Telugu: పదం", "Kannada: ಪದ", "Malayalam: വാക്ക്", "Sinhala: වචනය", "Thai: คำ",
    "Lao: ຄຳ", "Tibetan: ཚིག", "Myanmar: စကားလုံး", "Georgian: სიტყვა", "Hangul: 단어", "Ethiopic: ቃል",
    "Cherokee: ᎧᏁᎢᏍᏗ", "Canadian Syllabics: ᐅᖃᐅᓯᖅ", "Ogham: ᚃᚓᚐᚏ", "Runic: ᚱᚢᚾ", "Khmer: ពាក្យ",
    "Mongolian: ᠦᠭᠡ", "Hiragana: ことば", "Katakana: コトバ", "Bopomofo: ㄅㄆㄇ", "Han: 词语", "Yi: ꀀꀁ",
    "Javanese: ꦲꦏ꧀ꦱꦫ", "Balinese: ᬅᬓ᭄ᬱᬭ", "Tifinagh: ⵜⴰⵡⴰⵍⵜ", "Vai: ꕙꔤ", "Gothic: 𐌰𐌲𐌲𐌹𐌻𐌰",
    "Old Italic: 𐌀𐌁𐌂", "Cuneiform: 𒀀𒀁", "Egyptian: 𓀀𓁐", "Linear B: 𐀀𐀁", "Deseret: 𐐔𐐯𐑅𐐨𐑉𐐯𐐻",
]

CASE_VARIANTS_OF = [
    "Straße", "İstanbul", "ΟΔΟΣ", "ǅemal", "ﬁle", "Ǆ", "ß", "ẞ", "İ", "ı", "I", "Σ", "ς", "σ", "ŉ",
    "ΐ", "ǰ", "Ő", "Ÿ", "Ωmega",
]


def build() -> list[str]:
    out: list[str] = []
    out += NATURAL
    out += EDGE
    out += LONG_TEXTS
    out += SCRIPT_SAMPLES
    for w in CASE_VARIANTS_OF:
        out += [w, w.upper(), w.lower()]
    # every printable ASCII punctuation character alone, and glued to words
    punct = "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~"
    out += [c for c in punct]
    out += [f"left{c}right" for c in punct[:16]]
    # numbers
    out += ["0", "7", "42", "1000000", "3.0", "-17", "1e-9", "0x1F", "12:00", "2024-01-01", "١٢٣", "१२३", "๑๒๓", "一二三"]
    # spacing variants of a few sentences
    for s in NATURAL[:6]:
        out += [" " + s + " ", s.upper(), s.replace(" ", "\t"), s.replace(" ", "")]
    seen: set[str] = set()
    unique = []
    for s in out:
        if s not in seen:
            seen.add(s)
            unique.append(s)
    return unique
