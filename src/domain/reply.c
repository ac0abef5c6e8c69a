/* Reading an e-mail reply (see reply.h): cleaning, language, lexicons, dates, referrals.
 *
 * Everything here matches folded text (base/fold: lowercase, no diacritics), so "zurück",
 * "zuruck" and "ZURÜCK" are one word and the lexicons need no accented spellings. The
 * lexicons hold phrases, not single words, wherever a word alone is ambiguous: "opt out"
 * is a request in "please opt me out" but a feature in "do recipients get an opt-out
 * link?", so a bare request word ("unsubscribe", "austragen") only counts when the text
 * does not speak of links, footers, tools or compliance. */
#include "domain/reply.h"

#include <ctype.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/fold.h"

#define LINE_MAX_FOLD 400

/* ---- normalising ---------------------------------------------------------------------- */

static bool is_word_byte(unsigned char c)
{
    return isalnum(c) || c >= 0x80;
}

size_t sa_reply_normalise(const char *text, char *out)
{
    size_t len = strlen(text);
    char *folded = malloc(len + 1);
    if (!folded) { /* out of memory: no words */
        out[0] = ' ';
        out[1] = '\0';
        return 1;
    }
    size_t fl = sa_fold(text, len, folded);
    size_t n = 0;
    out[n++] = ' ';
    for (size_t i = 0; i < fl; i++) {
        unsigned char c = (unsigned char)folded[i];
        if (is_word_byte(c))
            out[n++] = (char)c;
        else if (out[n - 1] != ' ')
            out[n++] = ' ';
    }
    if (out[n - 1] != ' ')
        out[n++] = ' ';
    out[n] = '\0';
    free(folded);
    return n;
}

/* Whether normalised text holds phrase (normalised, without the outer spaces) as whole
 * words. */
static bool has_phrase(const char *norm, const char *phrase)
{
    size_t pl = strlen(phrase);
    for (const char *p = strstr(norm, phrase); p; p = strstr(p + 1, phrase))
        if (p > norm && p[-1] == ' ' && p[pl] == ' ')
            return true;
    return false;
}

static bool has_any(const char *norm, const char *const *phrases)
{
    for (size_t i = 0; phrases[i]; i++)
        if (has_phrase(norm, phrases[i]))
            return true;
    return false;
}

/* ---- cleaning ------------------------------------------------------------------------- */

struct line {
    const char *s;
    size_t len;
};

/* The folded, left-trimmed form of a line (at most LINE_MAX_FOLD bytes of it). */
static void fold_line(struct line l, char out[LINE_MAX_FOLD + 1])
{
    size_t i = 0;
    while (i < l.len && (l.s[i] == ' ' || l.s[i] == '\t'))
        i++;
    size_t n = l.len - i < LINE_MAX_FOLD ? l.len - i : LINE_MAX_FOLD;
    size_t fl = sa_fold(l.s + i, n, out);
    while (fl && out[fl - 1] == ' ')
        out[--fl] = '\0';
}

static bool starts(const char *s, const char *prefix)
{
    return strncmp(s, prefix, strlen(prefix)) == 0;
}

static bool blank(struct line l)
{
    for (size_t i = 0; i < l.len; i++)
        if (!isspace((unsigned char)l.s[i]))
            return false;
    return true;
}

/* "On <date>, <name> wrote:" and its translations, possibly wrapped onto the next line. */
static bool quote_header(const char *f, const char *next)
{
    /* clang-format off */
    static const struct {
        const char *start, *verb;
    } forms[] = {
        {"on ", "wrote"},       {"am ", "schrieb"},        {"le ", "a ecrit"},
        {"el ", "escribio"},    {"il ", "ha scritto"},     {"em ", "escreveu"},
        {"op ", "schreef"},     {"on ", "a ecrit"},        {"le ", "wrote"},
        {"el ", "wrote"},       {"am ", "wrote"},          {"ter ", "escreveu"},
        {"den ", "skrev"},
    };
    /* clang-format on */
    /* the header ends with a colon ("wrote:", "a écrit :", "schrieb X <x@y>:"), which a
     * sentence such as "On Monday, as Tom wrote, ..." does not */
    bool ends_colon = f[0] && f[strlen(f) - 1] == ':';
    bool next_colon = next && next[0] && next[strlen(next) - 1] == ':';
    /* Gmail in Polish, Norwegian, Danish, Finnish starts with the date ("pon., 30 lis 2026
     * o 09:12 Alex <a@b.io> napisał(a):", "man. 30. nov. 2026 kl. 09:12 skrev Alex <a@b.io>:"):
     * a line naming an address, with the verb, that ends with a colon */
    static const char *const verbs[] = {" napisal", " skrev ", " kirjoitti", NULL};
    for (size_t i = 0; ends_colon && strchr(f, '@') && verbs[i]; i++)
        if (strstr(f, verbs[i]))
            return true;
    for (size_t i = 0; i < sizeof forms / sizeof forms[0]; i++) {
        if (!starts(f, forms[i].start))
            continue;
        if ((strstr(f, forms[i].verb) && ends_colon) ||
            (next && next_colon && strstr(next, forms[i].verb) &&
             strlen(next) < 60 + strlen(forms[i].verb)))
            return true;
    }
    return false;
}

/* Whether at most max non-blank lines follow line i (a signature's length). */
static bool near_end(const struct line *lines, size_t i, size_t n, size_t max)
{
    size_t left = 0;
    for (size_t j = i + 1; j < n; j++)
        left += !blank(lines[j]);
    return left <= max;
}

/* "-----Original Message-----" in any language, and Outlook's long underscore rule. */
static bool separator_line(const char *f)
{
    if (starts(f, "-----") && strlen(f) > 10)
        return true;
    if (starts(f, "_____"))
        return true;
    return starts(f, "begin forwarded message") || starts(f, "---------- forwarded");
}

static bool header_field(const char *f, const char *const *names)
{
    for (size_t i = 0; names[i]; i++) {
        size_t n = strlen(names[i]);
        if (strncmp(f, names[i], n) == 0) {
            const char *p = f + n;
            while (*p == ' ')
                p++;
            if (*p == ':')
                return true;
        }
    }
    return false;
}

/* An Outlook block: "From: ..." followed within four lines by "Sent:", "To:", "Subject:"
 * (or their translations). */
static bool outlook_block(const struct line *lines, size_t i, size_t n)
{
    /* clang-format off */
    static const char *const from[] = {"from",       "von",       "de",       "da",  "van",
                                       "expediteur", "remitente", "mittente", "od",  "fran",
                                       "fra",        "lahettaja", NULL};
    /* clang-format on */
    /* clang-format off */
    static const char *const rest[] = {"sent",    "to",         "subject",    "date",  "gesendet",
                                       "an",      "betreff",    "datum",      "envoye",
                                       "a",       "objet",      "enviado",    "para",  "asunto",
                                       "inviato", "oggetto",    "assunto",    "verzonden",
                                       "aan",     "onderwerp", "cc", "fecha", "data",
                                       /* pl, sv, da and no, fi */
                                       "wyslano", "do",         "temat",      "skickat",
                                       "till",    "amne",       "sendt",      "til",   "emne",
                                       "dato",    "lahetetty",  "vastaanottaja", "aihe", NULL};
    /* clang-format on */
    char f[LINE_MAX_FOLD + 1];
    fold_line(lines[i], f);
    if (!header_field(f, from))
        return false;
    for (size_t j = i + 1; j < n && j <= i + 4; j++) {
        fold_line(lines[j], f);
        if (header_field(f, rest))
            return true;
    }
    return false;
}

static bool signature_line(const struct line l, const char *f)
{
    if ((l.len == 2 || l.len == 3) && strncmp(l.s, "--", 2) == 0 && (l.len == 2 || l.s[2] == ' '))
        return true;
    /* clang-format off */
    static const char *const sent_from[] = {
        "sent from my",         "sent from outlook",    "get outlook for",
        "sent via",             "von meinem",           "gesendet von",
        "envoye de mon",        "envoye depuis",        "enviado desde mi",
        "enviado desde",        "enviado do meu",       "enviado de meu",
        "inviato da",           "inviato dal mio",      "verzonden vanaf",
        "verstuurd vanaf",      "verzonden met",        NULL};
    /* clang-format on */
    for (size_t i = 0; sent_from[i]; i++)
        if (starts(f, sent_from[i]))
            return true;
    return false;
}

/* A closing formula alone on its line ("Best regards," / "Mit freundlichen Grüßen"). */
static bool closing_line(const char *f)
{
    /* clang-format off */
    static const char *const closings[] = {
        "best regards", "kind regards", "regards", "best", "best wishes", "warm regards",
        "many thanks", "thanks", "thank you", "thanks again", "cheers", "sincerely",
        "yours sincerely", "all the best", "br", "thx",
        "mit freundlichen grussen", "freundliche grusse", "viele grusse", "beste grusse",
        "liebe grusse", "herzliche grusse", "schone grusse", "gruss", "grusse", "lg", "vg",
        "mfg", "danke", "vielen dank", "cordialement", "bien cordialement", "bien a vous",
        "salutations", "merci", "merci beaucoup", "bonne journee", "saludos",
        "un saludo", "saludos cordiales", "atentamente", "gracias", "muchas gracias",
        "un abrazo", "cordiali saluti", "saluti", "distinti saluti", "grazie", "grazie mille",
        "buona giornata", "atenciosamente", "abracos", "obrigado", "obrigada",
        "cumprimentos", "melhores cumprimentos", "met vriendelijke groet",
        "met vriendelijke groeten", "vriendelijke groet", "groeten", "groet", "bedankt",
        "hartelijke groet", "mvg", NULL};
    /* clang-format on */
    char buf[LINE_MAX_FOLD + 1];
    size_t n = strlen(f);
    if (n > 40)
        return false;
    memcpy(buf, f, n + 1);
    while (n && strchr(",.!- ", buf[n - 1]))
        buf[--n] = '\0';
    for (size_t i = 0; closings[i]; i++)
        if (strcmp(buf, closings[i]) == 0)
            return true;
    return false;
}

static size_t split_lines(const char *text, struct line *lines, size_t cap)
{
    size_t n = 0;
    for (const char *p = text; *p && n < cap;) {
        const char *nl = strchr(p, '\n');
        size_t len = nl ? (size_t)(nl - p) : strlen(p);
        size_t l = len;
        if (l && p[l - 1] == '\r')
            l--;
        lines[n++] = (struct line){p, l};
        p += len + (nl != NULL);
    }
    return n;
}

/* Whether a sentence tells its reader how to unsubscribe (defined with the lexicons). */
static bool footer_sentence(const char *s, size_t len);

/* The line s[0..len) without the sentences that tell the reader how to unsubscribe, into
 * out (len + 1 bytes); returns the length. A sentence ends at ".", "!" or "?" before a space
 * or at the line's end (a URL's dots do not end one). */
static size_t own_sentences(const char *s, size_t len, char *out)
{
    size_t o = 0, start = 0;
    for (size_t i = 0; i < len; i++) {
        bool end =
            i + 1 == len || (strchr(".!?", s[i]) && s[i] && (s[i + 1] == ' ' || s[i + 1] == '\t'));
        if (!end)
            continue;
        size_t e = i + 1;
        while (e < len && (s[e] == ' ' || s[e] == '\t'))
            e++;
        if (!footer_sentence(s + start, e - start)) {
            memcpy(out + o, s + start, e - start);
            o += e - start;
        }
        start = e;
        i = e - 1;
    }
    while (o && (out[o - 1] == ' ' || out[o - 1] == '\t'))
        o--;
    out[o] = '\0';
    return o;
}

size_t sa_reply_clean(const char *text, char *out, size_t cap)
{
    enum { MAX_LINES = 400 };
    struct line lines[MAX_LINES];
    size_t n = split_lines(text, lines, MAX_LINES), kept = 0, len = 0;
    bool content = false;
    if (cap == 0)
        return 0;
    out[0] = '\0';
    for (size_t i = 0; i < n; i++) {
        char f[LINE_MAX_FOLD + 1], next[LINE_MAX_FOLD + 1];
        fold_line(lines[i], f);
        if (i + 1 < n)
            fold_line(lines[i + 1], next);
        if (f[0] == '>')
            continue;
        if (quote_header(f, i + 1 < n ? next : NULL) || separator_line(f) ||
            outlook_block(lines, i, n) || signature_line(lines[i], f))
            break;
        if (content && closing_line(f) && near_end(lines, i, n, 6))
            break;
        if (blank(lines[i]) && !content)
            continue;
        /* the line without the sentences telling the reader how to unsubscribe: a legal
         * footer's ("To unsubscribe from our newsletter click here"), or our own e-mail's
         * quoted under a header not recognised above */
        struct line own = lines[i];
        char *buf = malloc(own.len + 1);
        if (buf) {
            own.len = own_sentences(own.s, own.len, buf);
            own.s = buf;
        }
        if (blank(own) && !blank(lines[i])) {
            free(buf);
            continue;
        }
        content = true;
        /* copy the line, cut at a character boundary when out is full */
        size_t l = own.len, room = cap - 1 - len - (kept ? 1 : 0);
        if (cap - 1 <= len + (kept ? 1 : 0)) {
            free(buf);
            break;
        }
        if (l > room) {
            l = room;
            while (l && ((unsigned char)own.s[l] & 0xC0) == 0x80)
                l--;
        }
        if (kept)
            out[len++] = '\n';
        memcpy(out + len, own.s, l);
        len += l;
        kept++;
        free(buf);
    }
    while (len && isspace((unsigned char)out[len - 1]))
        len--;
    out[len] = '\0';
    return len;
}

bool sa_reply_quotes(const char *text)
{
    enum { MAX_LINES = 400 };
    struct line lines[MAX_LINES];
    size_t n = split_lines(text, lines, MAX_LINES);
    for (size_t i = 0; i < n; i++) {
        char f[LINE_MAX_FOLD + 1], next[LINE_MAX_FOLD + 1];
        fold_line(lines[i], f);
        if (i + 1 < n)
            fold_line(lines[i + 1], next);
        if (f[0] == '>' || quote_header(f, i + 1 < n ? next : NULL) || separator_line(f) ||
            outlook_block(lines, i, n))
            return true;
    }
    return false;
}

/* ---- language ------------------------------------------------------------------------- */

enum { EN, DE, FR, ES, IT, PT, NL, NLANG };
static const char *const lang_codes[NLANG] = {"en", "de", "fr", "es", "it", "pt", "nl"};

/* Stop words, folded: frequent in one language and rare in the others. Words shared by
 * two languages ("no", "e") count for both, which the other evidence outweighs; words of
 * three or more ("de", "en", "me") are left out, as they would favour whichever lists
 * them. */
/* clang-format off */
static const char *const stop_words[NLANG][80] = {
    [EN] = {"the", "and", "you", "for", "this", "that", "with", "are", "have", "our", "will",
            "can", "please", "thanks", "thank", "would", "your", "we", "is", "it", "my", "be",
            "what", "how", "does", "do", "not", "at", "any", "just", "about", "from", "until",
            "i", "im", "me", "get", "send", "need", "know", "us", "which", "there", "when",
            "hi", "hello", "out", "back", "off", "of", "too", "who", "where", "am", "an",
            "to", "or", "if", "could", "should", "like", "let", "see", "next", "but", "week",
            "thx", NULL},
    [DE] = {"und", "ich", "die", "der", "das", "nicht", "sie", "wir", "ist", "mit", "bitte",
            "keine", "mehr", "uns", "ein", "eine", "auf", "fur", "zu", "den", "dem", "es",
            "auch", "haben", "wie", "was", "noch", "bin", "von", "aber", "danke", "mich",
            "mir", "ihr", "ihre", "ihnen", "gerne", "kein", "wird", "werden", "sind", "hallo",
            "bei", "schon", "nach", "unsere", "unser", "wo", "gibt", "zuruck", "ab", "dass",
            "wann", "kann", "konnen", "mochte", "leider", NULL},
    [FR] = {"le", "la", "les", "et", "je", "vous", "nous", "est", "pas", "pour", "une", "un",
            "des", "du", "que", "qui", "mon", "ma", "mes", "plus", "merci", "avec", "sur",
            "ce", "cette", "ne", "suis", "sont", "bonjour", "votre", "vos", "il", "au",
            "aux", "mais", "tres", "bien", "avez", "etes", "quel", "quelle", "nos", "notre",
            "leur", "ou", "sera", "serai", "peut", "pouvez", "j", "c", "l", "d", "n", "m",
            "qu", "moi", NULL},
    [ES] = {"el", "los", "las", "que", "y", "por", "para", "con", "una", "es", "no", "mas",
            "pero", "gracias", "nos", "nuestro", "nuestra", "estoy", "esta", "hola", "usted",
            "ustedes", "muy", "como", "donde", "cuando", "tenemos", "favor", "sus", "su",
            "del", "al", "mi", "quiero", "podemos", "puede", "hay", "ya", "son", "este",
            "esto", "buenos", "buenas", "pueden", "estan", "estamos", "tiene", "tienen",
            "nuestros", "hasta", "sobre", "necesito", "tambien", NULL},
    [IT] = {"il", "lo", "la", "gli", "le", "che", "e", "non", "per", "una", "con", "sono",
            "siamo", "grazie", "piu", "ci", "mi", "del", "della", "di", "da", "al", "alla",
            "questo", "questa", "nostro", "nostra", "vostro", "come", "dove", "quando",
            "ciao", "buongiorno", "anche", "ma", "se", "sara", "vorrei", "possiamo", "avete",
            "ho", "abbiamo", "perche", "molto", "nostri", "vostra", "sul", "nel", "nella",
            "dei", "delle", "sto", "fino", "cosa", "potete", "un", NULL},
    [PT] = {"o", "os", "as", "que", "e", "nao", "por", "para", "com", "uma", "um", "mais",
            "obrigado", "obrigada", "nos", "nosso", "nossa", "estou", "esta", "ola", "voce",
            "voces", "muito", "como", "onde", "quando", "temos", "favor", "seu", "sua", "do",
            "da", "dos", "das", "no", "na", "meu", "minha", "quero", "podemos", "pode", "tem",
            "ja", "sao", "este", "isso", "vou", "estamos", "ate", "sobre", "preciso",
            "tambem", "agora", "bom", "dia", "nossos", "vcs", NULL},
    [NL] = {"het", "een", "ik", "je", "jij", "u", "wij", "we", "niet", "met",
            "voor", "op", "van", "is", "zijn", "dat", "dit", "maar", "ook", "geen", "meer",
            "graag", "bedankt", "dank", "mij", "ons", "onze", "jullie", "wat", "hoe",
            "waar", "wanneer", "hebben", "heb", "wordt", "kunnen", "kan", "alstublieft",
            "aub", "hallo", "goedemorgen", "nog", "even", "bij", "uit", "naar", "weer", "ben",
            "zou", "hier", "er", "deze", "wel", "al", NULL},
};
/* clang-format on */

/* Letter sequences typical of one language, on normalised text ("ij", "sch"...). */
/* clang-format off */
static const struct {
    const char *seq;
    int lang;
} char_seqs[] = {
    {"th", EN},    {"ing ", EN},  {"wh", EN},    {"ght", EN},   {"sch", DE},   {"ich ", DE},
    {"cht", DE},   {"ung ", DE},  {"eit ", DE},  {"tz", DE},    {"ij", NL},
    {"aa", NL},    {"uu", NL},    {"eau", FR},   {"oux", FR},   {"eux ", FR},
    {"ais ", FR},  {"ez ", FR},   {"cion ", ES}, {"ll", ES},    {"os ", ES},   {"zione", IT},
    {"gli", IT},   {"cch", IT},   {"zz", IT},    {"cao ", PT},  {"nh", PT},    {"lh", PT},
    {"oes ", PT},  {"mente ", ES}, {"are ", IT}, {"ere ", IT},  {"ire ", IT},  {"ar ", ES},
};
/* clang-format on */

/* Characters only some of the languages write (UTF-8 of the raw text). */
/* clang-format off */
static const struct {
    const char *utf8;
    int lang;
} letters[] = {
    {"\xc3\x9f", DE}, {"\xc3\xa4", DE}, {"\xc3\xb6", DE}, {"\xc3\xbc", DE}, {"\xc3\xb1", ES},
    {"\xc2\xbf", ES}, {"\xc2\xa1", ES}, {"\xc3\xa3", PT}, {"\xc3\xb5", PT}, {"\xc3\xa7", FR},
    {"\xc3\xa7", PT}, {"\xc3\xa8", FR}, {"\xc3\xa8", IT}, {"\xc3\xaa", FR}, {"\xc3\xaa", PT},
    {"\xc3\xb9", FR}, {"\xc3\xb9", IT}, {"\xc3\xb4", FR}, {"\xc3\xae", FR}, {"\xc3\xa2", FR},
    {"\xc3\xac", IT}, {"\xc3\xb2", IT}, {"\xc3\xa0", FR}, {"\xc3\xa0", IT}, {"\xc5\x93", FR},
    {"\xc3\xa1", ES}, {"\xc3\xa1", PT}, {"\xc3\xad", ES}, {"\xc3\xb3", ES}, {"\xc3\xb3", PT},
    {"\xc3\xba", ES},
};
/* clang-format on */

static size_t count_of(const char *hay, const char *needle)
{
    size_t n = 0;
    for (const char *p = strstr(hay, needle); p; p = strstr(p + 1, needle))
        n++;
    return n;
}

/* Letters none of the seven languages writes (UTF-8): Polish, Scandinavian, Czech... */
/* clang-format off */
static const char *const foreign_letters[] = {
    "\xc3\xa5", "\xc3\x85", "\xc3\xb8", "\xc3\x98", "\xc3\xa6", "\xc3\x86", /* å Å ø Ø æ Æ */
    "\xc5\x82", "\xc5\x81", "\xc4\x85", "\xc4\x99", "\xc5\x9b", "\xc5\xba", /* ł Ł ą ę ś ź */
    "\xc5\xbc", "\xc5\xbb", "\xc5\x84", "\xc4\x87", "\xc4\x8d", "\xc5\x99", /* ż Ż ń ć č ř */
    "\xc4\x9b", "\xc5\xaf", "\xc5\xa1", "\xc5\xbe", "\xc5\x91", "\xc5\xb1", /* ě ů š ž ő ű */
    NULL};
/* clang-format on */

bool sa_reply_other_language(const char *text)
{
    size_t n = 0;
    for (size_t i = 0; foreign_letters[i] && n < 2; i++)
        n += count_of(text, foreign_letters[i]);
    return n >= 2;
}

const char *sa_reply_language(const char *text)
{
    if (sa_reply_other_language(text))
        return "";
    size_t len = strlen(text);
    char *norm = malloc(2 * len + 3);
    if (!norm)
        return "";
    sa_reply_normalise(text, norm);
    double score[NLANG] = {0};
    /* stop words: one point each */
    for (const char *w = norm + 1; *w;) {
        size_t wl = strcspn(w, " ");
        for (int l = 0; l < NLANG; l++)
            for (size_t i = 0; stop_words[l][i]; i++)
                if (strlen(stop_words[l][i]) == wl && strncmp(stop_words[l][i], w, wl) == 0) {
                    score[l] += 1.0;
                    break;
                }
        w += wl;
        while (*w == ' ')
            w++;
    }
    for (size_t i = 0; i < sizeof char_seqs / sizeof char_seqs[0]; i++)
        score[char_seqs[i].lang] += 0.3 * (double)count_of(norm, char_seqs[i].seq);
    for (size_t i = 0; i < sizeof letters / sizeof letters[0]; i++)
        score[letters[i].lang] += 1.5 * (double)count_of(text, letters[i].utf8);
    free(norm);
    int best = 0, second = -1;
    for (int l = 1; l < NLANG; l++)
        if (score[l] > score[best]) {
            second = best;
            best = l;
        } else if (second < 0 || score[l] > score[second]) {
            second = l;
        }
    if (score[best] < 1.0 || score[best] <= score[second])
        return "";
    return lang_codes[best];
}

/* ---- lexicons ------------------------------------------------------------------------- */

/* Phrases asking to stop the e-mails, folded and normalised. */
/* clang-format off */
static const char *const unsubscribe_phrases[] = {
    /* en */
    "unsubscribe me", "please unsubscribe", "unsubscribe please", "want to unsubscribe",
    "like to unsubscribe", "opt me out", "opt out of your", "opt out of these",
    "opt out of this", "opt out of all", "opt out please", "want to opt out",
    "remove me from", "remove my email", "remove my address", "remove my e mail",
    "take me off", "stop emailing", "stop e mailing", "stop mailing", "stop sending me",
    "stop sending these", "stop sending this", "stop sending your", "stop sending us",
    "stop sending emails", "stop sending e mails", "stop sending mails", "stop sending messages",
    "stop sending any", "stop sending follow ups", "stop sending followups",
    "stop contacting", "stop writing to me", "do not email", "dont email", "don t email",
    "do not contact me", "dont contact me", "don t contact me", "never contact me",
    "no more emails", "no more e mails", "leave me alone", "delete me from",
    "off your list", "off your mailing list", "me off the list", "stop spamming",
    "do not send me any", "don t send me any", "dont send me any", "do not send me more",
    "don t send me more", "dont send me more", "do not send me emails", "don t send me emails",
    "dont send me emails", "do not send me further", "don t send me further",
    "do not send me anything", "don t send me anything", "dont send me anything",
    "quit emailing", "stop the emails",
    "stop these emails", "stop with the emails", "unsubscribed", "remove me please",
    "please remove me", "just remove me", "remove me and", "remove this address",
    "remove from list", "remove from your list", "remove from your lists", "remove it from your",
    "from your lists", "off your distribution list", "do not contact list", "unsub me",
    "cease all contact", "no further contact", "do not call or email", "dont want any more emails",
    "don t want any more emails", "make it stop", "stop reaching out", "stop the sequence",
    "cancel my subscription", "want off", "never gave consent", "please delete my",
    "delete my contact", "delete my details", "bitte loschen sie meine", "merci de supprimer mes",
    "por favor borren mis", "per favore cancellate i miei", "por favor apaguem meus",
    "verwijder mijn gegevens", "never signed up for this", "never signed up for these",
    "from your mailing list", "from your mailing lists", "from your email list",
    "from your e mail list", "from your distribution list", "from all your lists",
    "from your newsletter", "from your mailings",
    /* de */
    "tragen sie mich bitte aus", "keine weiteren nachrichten", "mochte keine weiteren",
    "melden sie mich ab", "melde mich ab", "melden mich ab", "mich abmelden",
    "tragen sie mich aus", "mich austragen", "keine e mails mehr", "keine emails mehr",
    "keine mails mehr", "keine nachrichten mehr", "keine weiteren e mails",
    "keine weiteren emails", "keine weiteren mails", "keine werbung", "nicht mehr kontaktieren",
    "nicht mehr anschreiben", "nicht mehr schreiben", "schreiben sie mir nicht",
    "kontaktieren sie mich nicht", "mich von der liste", "von der liste streichen",
    "von der liste nehmen", "von ihrer liste", "von eurer liste",
    "aus dem verteiler", "aus ihrem verteiler", "aus eurem verteiler", "aus ihrer liste",
    "horen sie auf mir", "nicht mehr mailen", "keine mails", "abbestellen",
    "loschen sie meine e mail adresse", "loschen sie meine adresse", "aus der liste",
    "kontaktieren sie mich bitte nicht", "horen sie bitte auf", "austragung",
    "entfernen sie meine adresse", "entfernen sie mich", "stoppen sie bitte diese",
    "stoppen sie diese", "nicht mehr zu kontaktieren", "streichen sie mich", "streicht mich",
    "aus ihrer kartei", "aus ihrem adressbestand", "aus ihrer datenbank",
    /* fr */
    "desabonnez moi", "desinscrivez moi", "me desabonner", "me desinscrire", "retirez moi",
    "retirer de votre liste", "retirez mon adresse", "supprimez moi", "supprimer de votre liste",
    "supprimez mon adresse", "ne plus recevoir", "ne m ecrivez plus", "ne me contactez plus",
    "ne plus me contacter", "arretez de m ecrire", "arretez de m envoyer",
    "arretez les mails", "arretez les emails", "plus de mails", "plus d emails",
    "plus d e mails", "desinscription", "desabonnement", "cessez de m ecrire",
    "cessez de m envoyer", "ne veux plus recevoir", "ne souhaite plus recevoir",
    "cesser de m envoyer", "ne plus m ecrire", "retirez mon email", "retirez mon e mail",
    "jamais demande a recevoir", "ne souhaite plus etre contacte", "ne plus etre contacte",
    "ne veux plus etre contacte", "ne souhaite plus etre sollicite",
    /* es */
    "darme de baja", "denme de baja", "dame de baja", "dar de baja", "dadme de baja",
    "no me escriban mas", "no me escribas mas", "no me escriban", "no me envien mas",
    "no me manden mas", "no me contacten", "dejen de escribirme", "dejen de enviarme",
    "deja de escribirme", "dejar de recibir", "no quiero recibir mas", "no quiero recibir",
    "eliminenme", "quitenme", "sacarme de la lista", "sacadme", "borrenme", "que me eliminen",
    "saquenme", "borren mi correo", "paren de mandarme", "paren de enviarme", "baja por favor",
    "cancelar suscripcion", "cancelar mi suscripcion", "dese de baja", "darse de baja",
    "denos de baja", "desuscribirme", "no mas correos",
    "no mas emails", "no mas e mails", "no mas mails", "no mas mensajes", "ni un correo mas",
    /* it */
    "disiscrivetemi", "disiscrivermi", "cancellatemi", "cancellami", "rimuovetemi",
    "rimuovermi", "non scrivetemi piu", "non scrivermi piu", "non scrivetemi",
    "non voglio piu ricevere", "non voglio ricevere", "smettete di scrivermi",
    "smettete di inviarmi", "smettetela", "toglietemi", "togliete il mio",
    "disiscrizione", "non contattatemi", "non mi contattate", "non inviatemi", "non mandatemi",
    "eliminate il mio indirizzo",
    "cancellare la mia iscrizione", "dalla vostra lista", "basta email",
    "basta e mail", "basta mail", "basta messaggi", "niente piu email", "niente piu mail",
    "mai piu email",
    /* pt */
    "cancelar inscricao", "cancelar a inscricao", "cancelar minha inscricao",
    "descadastrar", "descadastre", "descadastrem", "descadastra", "remover meu email",
    "remover meu e mail", "removam me", "remova me", "me remova", "me removam",
    "me tirem", "tirem me", "nao quero receber", "nao me enviem", "nao me mandem",
    "parem de enviar", "parem de me enviar", "parem de mandar", "deixar de receber",
    "sair da lista", "sair da sua lista", "nao me contactem", "nao me contatem",
    "descadastro", "nao quero mais receber", "remova meu e mail", "remova meu email",
    "parem de me mandar", "me remover da", "remover me da", "remover da lista",
    "me retirar da", "retirar da lista", "me tirar da", "tirar da lista", "retirem meu", "retirem o meu", "retire o meu", "retirem me da", "nao enviem mais", "chega de emails", "chega de e mails", "chega de mensagens",
    "nada de emails", "sem mais emails", "nao mais emails",
    /* nl */
    "afmelden", "meld me af", "meld mij af", "uitschrijven", "schrijf me uit",
    "schrijf mij uit", "haal me van", "haal mij van", "verwijder me", "verwijder mij",
    "geen e mails meer", "geen emails meer", "geen mails meer", "geen mail meer",
    "stop met mailen", "niet meer mailen", "mail me niet", "mail mij niet",
    "niet meer contacteren", "niet meer benaderen", "uit jullie mailinglijst",
    "van jullie lijst", "van uw lijst", "uit uw bestand", "geen contact meer",
    "geen berichten meer", "verwijder mijn e mailadres", "verwijder mijn emailadres",
    "verwijder mijn adres", "uit jullie bestand", "van jullie mailinglijst",
    "van de mailinglijst", "haal mij alstublieft van", "haal me alstublieft van",
    "uitgeschreven worden", "uitgeschreven te worden", "wil me uitschrijven",
    /* it, more */
    "cancellarmi dalla", "rimuovermi dalla", "dalla vostra mailing list",
    "dalla vostra mailing", "dalle vostre liste", "non inviatemi piu",
    /* pl */
    "wypisz mnie", "wypiszcie mnie", "mnie wypisac", "mnie wypisac z", "prosze o wypisanie", "o wypisanie z", "wypisac mnie",
    "usun mnie", "usuncie mnie", "usunac mnie", "o usuniecie mnie", "o usuniecie mojego",
    "usuniecie mojego adresu", "usunac moj adres", "usuncie moj adres", "nie chce otrzymywac",
    "nie chce dostawac", "nie wysylajcie mi", "prosze nie wysylac", "prosze nie pisac",
    "nie piszcie do mnie", "nie kontaktujcie sie ze mna", "prosze sie ze mna nie kontaktowac",
    "rezygnuje z subskrypcji", "wypisuje sie", "z waszej listy", "z panstwa listy",
    /* sv */
    "ta bort mig", "tag bort mig", "avregistrera mig", "avsluta min prenumeration",
    "avsluta prenumerationen",
    "avanmal mig", "sluta skicka", "sluta maila", "sluta mejla", "sluta kontakta mig",
    "vill inte fa fler", "vill inte ha fler", "vill inte langre fa", "inga fler mejl",
    "inga fler mail", "inga fler e post", "inga fler utskick", "kontakta mig inte",
    "skicka inte fler", "stryk mig", "fran er lista", "fran er e postlista",
    "fran era utskick", NULL};
/* clang-format on */

/* Requests made for a team ("take us off your list", "tragen Sie uns aus", "désabonnez-nous"):
 * requests like the phrases above, and never a footer, which speaks of "us" as the sender. */
/* clang-format off */
static const char *const team_requests[] = {
    /* en */
    "unsubscribe us", "remove us", "take us off", "opt us out", "delete us", "us off your",
    "us off the list", "us off this list", "stop emailing us", "stop contacting us",
    "do not email us", "dont email us", "don t email us", "do not contact us",
    "dont contact us", "don t contact us", "remove our email", "remove our address",
    "remove our addresses", "remove our company", "remove our team",
    /* de */
    "tragen sie uns aus", "tragen sie uns bitte aus", "uns austragen", "uns abmelden",
    "melden sie uns ab", "nehmen sie uns aus", "nehmen sie uns von", "nehmen sie uns bitte aus",
    "entfernen sie uns", "loschen sie uns", "streichen sie uns", "uns aus ihrem verteiler",
    "uns aus dem verteiler", "uns von ihrer liste", "uns von der liste",
    "schreiben sie uns nicht", "kontaktieren sie uns nicht",
    /* fr */
    "desabonnez nous", "desinscrivez nous", "retirez nous", "supprimez nous", "nous desabonner",
    "nous desinscrire", "nous retirer de", "nous supprimer de", "ne nous ecrivez plus",
    "ne nous contactez plus", "ne plus nous contacter", "ne plus nous ecrire",
    "ne plus nous envoyer",
    /* es */
    "denos de baja", "dennos de baja", "darnos de baja", "quitennos", "eliminennos",
    "borrennos", "sacarnos de la lista", "sacarnos de su lista", "saquennos", "no nos escriban", "no nos envien",
    "no nos contacten", "dejen de escribirnos", "dejen de enviarnos",
    /* it */
    "cancellateci", "rimuoveteci", "disiscriveteci", "toglieteci", "non scriveteci",
    "non contattateci", "non inviateci", "smettete di scriverci", "smettete di inviarci",
    /* pt */
    "nos remova", "nos removam", "remova nos", "removam nos", "nos descadastre",
    "nos descadastrem", "descadastrem nos", "nos tirem", "tirem nos", "nao nos enviem",
    "nao nos contatem", "nao nos mandem", "nos retirem", "parem de nos enviar",
    /* nl */
    "meld ons af", "schrijf ons uit", "haal ons van", "haal ons uit", "verwijder ons",
    "mail ons niet", NULL};
/* clang-format on */

static bool in_list(const char *w, size_t wl, const char *const *list);

/* A polite word right before a request's verb ("please remove", "bitte tragen Sie uns
 * aus", "merci de nous désinscrire", "por favor denos de baja"), at most two small words
 * between: the writer asks, so the sentence is theirs, link or not. "Please click here to
 * unsubscribe" is no such request (to click is the footer's instruction). */
static bool polite_request(const char *norm)
{
    /* clang-format off */
    static const char *const polite[] = {
        "please", "pls", "plz", "kindly", "bitte", "merci de", "veuillez", "por favor",
        "per favore", "per piacere", "favor", "alstublieft", "aub", "prosze", "snalla",
        "vanligen", NULL};
    static const char *const small[] = {
        "me", "us", "mich", "uns", "sie", "moi", "nous", "ne", "plus", "nos", "mi", "ci", "just",
        "do", "immediately", "now", "also", "simply", "ons", "mij", "jetzt", "sofort", NULL};
    static const char *const verbs[] = {
        "unsubscribe", "remove", "take", "delete", "opt", "stop", "cancel", "erase", "unsub",
        "austragen", "tragen", "abmelden", "melden", "entfernen", "loschen", "streichen",
        "nehmen", "desabonner", "desabonnez", "desinscrire", "desinscrivez", "retirer",
        "retirez", "supprimer", "supprimez", "borren", "quiten", "eliminen", "den", "denme",
        "denos", "dar", "darme", "darnos", "sacar", "cancellate", "cancellarmi", "cancellarci",
        "rimuovete", "rimuovermi", "rimuoverci", "togliete", "disiscrivete", "disiscrivermi",
        "remova", "remover", "removam", "retire", "retirem", "descadastre", "descadastrem",
        "tirem", "verwijder", "haal", "schrijf", "meld", "wypisz", "wypiszcie", "usun",
        "usuncie", "ta", "avregistrera", "sluta", NULL};
    /* clang-format on */
    for (size_t k = 0; polite[k]; k++) {
        size_t pl = strlen(polite[k]);
        for (const char *p = strstr(norm, polite[k]); p; p = strstr(p + 1, polite[k])) {
            if (p == norm || p[-1] != ' ' || p[pl] != ' ')
                continue;
            const char *w = p + pl + 1;
            for (int skipped = 0; *w; skipped++) {
                size_t wl = strcspn(w, " ");
                if (in_list(w, wl, verbs))
                    return true;
                if (skipped == 2 || !in_list(w, wl, small))
                    break;
                w += wl + 1;
            }
        }
    }
    return false;
}

/* "Stop sending" and "don't send me" ask to stop when what follows is the mail itself, a
 * pronoun, or nothing ("Please stop sending.", "Stop sending them.", "Do not send me
 * these."), not when it is something else the writer wants elsewhere ("stop sending
 * invoices to this address", "don't send me the pricing yet"). */
static bool stop_sending(const char *norm)
{
    /* clang-format off */
    static const char *const verbs[] = {
        "stop sending", "quit sending", "cease sending", "stop sending me", "stop sending us",
        "do not send me", "don t send me", "dont send me", "never send me", "do not send us",
        "don t send us", "dont send us", "not send me", NULL};
    /* what follows: the request is complete ("them", "anymore", "please", a new sentence) */
    static const char *const done[] = {
        "them", "these", "this", "those", "it", "that", "anything", "again", "anymore",
        "any", "more", "further", "stuff", "spam", "junk", "please", "pls", "thanks", "thank",
        "now", "immediately", "asap", "already", "i", "we", "ok", "okay", "or", "and",
        "thx", "cheers", "regards", "not", "no", "bye", "leave", "seriously", "right", "you",
        "ever", NULL};
    /* the mail itself, possibly after "the", "your", "such" */
    static const char *const mail[] = {
        "email", "emails", "e", "mail", "mails", "mailings", "message", "messages",
        "newsletter", "newsletters", "marketing", "promotions", "promotional", "offers",
        "follow", "followups", "sequences", "sequence", "reminders", "cold", "sales", "ads",
        "adverts", "advertising", "updates", "notes", "info", "me", "us", NULL};
    static const char *const determiners[] = {"the", "your", "such", "all", "so", NULL};
    /* clang-format on */
    for (size_t k = 0; verbs[k]; k++) {
        size_t pl = strlen(verbs[k]);
        for (const char *p = strstr(norm, verbs[k]); p; p = strstr(p + 1, verbs[k])) {
            if (p == norm || p[-1] != ' ' || p[pl] != ' ')
                continue;
            const char *w = p + pl + 1;
            size_t wl = strcspn(w, " ");
            if (wl == 0 || in_list(w, wl, done) || in_list(w, wl, mail))
                return true;
            if (in_list(w, wl, determiners)) {
                w += wl + (w[wl] == ' ');
                wl = strcspn(w, " ");
                if (wl == 0 || in_list(w, wl, mail))
                    return true;
            }
        }
    }
    return false;
}

/* Phrases that hold a request's words but ask something else: to leave a thread or an
 * invite ("remove me from the CC", "take me off this thread"), what the writer did
 * elsewhere ("I unsubscribed my team from our old tool"), a call instead of e-mails. They
 * are blanked out before the lexicon is matched. */
/* clang-format off */
static const char *const not_request_phrases[] = {
    "remove me from the cc", "remove me from cc", "remove me from this thread",
    "remove me from the thread", "remove me from this email thread", "remove me from the invite",
    "remove me from the meeting", "remove me from the call", "remove me from the loop",
    "remove me from this chain", "remove me from the chain", "take me off the cc",
    "take me off cc", "take me off this thread", "take me off the thread",
    "take me off the invite", "take me off the meeting", "take me off this chain",
    "take me off the chain", "take me off the loop", "remove us from the cc",
    "remove us from cc", "remove us from this thread", "remove us from the thread",
    "remove us from the invite", "remove us from the meeting", "take us off the cc",
    "take us off cc", "take us off this thread", "take us off the thread",
    "take us off the invite", "take us off the meeting", "unsubscribed my", "unsubscribed our",
    "unsubscribed the", "unsubscribed them", "unsubscribed him", "unsubscribed her",
    "no more emails needed", "no more e mails needed", "no more emails necessary",
    "nehmen sie mich aus dem cc", "nehmen sie mich aus cc", "retirez moi de la boucle",
    NULL};
/* clang-format on */

/* Words of a delivery problem: "Seit gestern kommen keine E-Mails mehr an" reports a bug,
 * though it holds "keine E-Mails mehr"; the lexicon leaves such texts to the model. */
/* clang-format off */
static const char *const delivery_problem[] = {
    "error", "errors", "bug", "fehler", "fehlermeldung", "erreur", "errore", "erro",
    "fout", "foutmelding", "kommen keine", "kommen nicht", "ankommen", "an kommen",
    "werden keine", "bekommen keine", "empfangen keine", "zugestellt", "arrivent",
    "n arrivent", "llegan", "arrivano", "chegam", "aankomen", "komen geen", "komen niet",
    "not receiving", "not being sent", "aren t being sent", "arent being sent",
    "don t arrive", "dont arrive", "bounce", "bounced", "bouncing", "since the update",
    "seit dem update", NULL};
/* clang-format on */

/* Single words that ask to stop by themselves ("Austragen."), unless the text is about a
 * product (links, footers...); matched with one typo (two from eleven letters). */
static const char *const unsubscribe_words[] = {"unsubscribe",   "unsubscribing",
                                                "abmelden",      "austragen",
                                                "desabonner",    "desinscrire",
                                                "desabonnez",    "desinscrivez",
                                                "desuscribir",   "desuscribirme",
                                                "disiscrivere",  "disiscrivetemi",
                                                "disiscrivermi", "descadastrar",
                                                "descadastre",   "uitschrijven",
                                                "afmelden",      "abbestellen",
                                                "stop",          "remove",
                                                "baja",          NULL};

/* Words meaning the text talks about an unsubscribe feature, not asking for one. */
/* clang-format off */
static const char *const product_context[] = {
    "link", "links", "footer", "feature", "function", "button", "header", "headers",
    "automatically", "tool", "platform", "software", "gdpr", "dsgvo", "rgpd", "compliance",
    "recipients", "prospects", "contacts", "customers", "kunden", "empfanger", "clients",
    "destinataires", "clientes", "destinatari", "klanten", "campaign", "campaigns",
    "sequence", "sequences", "handle", "handles", "does your", "can your", "do you support",
    "list unsubscribe", "api", "rate", NULL};
/* clang-format on */

/* Words one or two edits from a request word that mean something else ("anmelden" is to
 * sign up, "resubscribe" the opposite). */
/* clang-format off */
static const char *const words_not_typos[] = {
    "anmelden", "aanmelden", "subscribe", "subscribed", "subscribing", "subscriber",
    "subscribers", "resubscribe", "resubscribed", "unsubscribers", "stops", "store", "step",
    "stay", "shop", "stopp", "removed", "angemeldet", "eintragen", "abonner", "sabonner",
    NULL};
/* clang-format on */

/* Damerau-Levenshtein distance of two short strings, stopping beyond limit. */
static int edit_distance(const char *a, size_t la, const char *b, size_t lb, int limit)
{
    enum { MAXW = 32 };
    if (la >= MAXW || lb >= MAXW)
        return limit + 1;
    int d[MAXW + 1][MAXW + 1];
    for (size_t i = 0; i <= la; i++)
        d[i][0] = (int)i;
    for (size_t j = 0; j <= lb; j++)
        d[0][j] = (int)j;
    for (size_t i = 1; i <= la; i++) {
        int rowmin = limit + 1;
        for (size_t j = 1; j <= lb; j++) {
            int cost = a[i - 1] != b[j - 1];
            int v = d[i - 1][j] + 1;
            if (d[i][j - 1] + 1 < v)
                v = d[i][j - 1] + 1;
            if (d[i - 1][j - 1] + cost < v)
                v = d[i - 1][j - 1] + cost;
            if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] &&
                d[i - 2][j - 2] + 1 < v)
                v = d[i - 2][j - 2] + 1;
            d[i][j] = v;
            if (v < rowmin)
                rowmin = v;
        }
        if (rowmin > limit)
            return limit + 1;
    }
    return d[la][lb];
}

static bool in_list(const char *w, size_t wl, const char *const *list)
{
    for (size_t i = 0; list[i]; i++)
        if (strlen(list[i]) == wl && strncmp(list[i], w, wl) == 0)
            return true;
    return false;
}

static size_t word_count(const char *norm)
{
    size_t n = 0;
    for (const char *p = norm; *p; p++)
        n += p[0] == ' ' && p[1] && p[1] != ' ';
    return n;
}

bool sa_reply_mentions_unsubscribe_feature(const char *norm)
{
    return has_any(norm, product_context);
}

/* ---- footers -------------------------------------------------------------------------- */

/* Words of unsubscribing, beside the request phrases: a footer speaks of it without asking. */
/* clang-format off */
static const char *const unsubscribe_topic[] = {
    "unsubscribe", "unsubscribing", "opt out", "stop receiving", "no longer receive",
    "abmelden", "abbestellen", "austragen", "desinscrire", "desabonner", "desinscrivez",
    "desabonnez", "desinscription", "desabonnement", "de baja", "darse de baja",
    "desuscribir", "disiscrivere", "disiscriverti", "disiscriviti", "disiscrizione",
    "descadastrar", "descadastre", "cancelar a inscricao", "uitschrijven", "afmelden",
    "af te melden", "uit te schrijven", "wypisac", "wypisz", "wypisanie", "avregistrera",
    "avsluta prenumerationen", NULL};
/* clang-format on */

/* What marks a footer's instructions: a link to click, "our newsletter", an offer to the
 * reader ("if you no longer wish to receive..."), our own e-mails' closing line. */
/* clang-format off */
static const char *const footer_markers[] = {
    "http", "https", "www", "click", "klicken", "klick", "cliquez", "cliquer", "cliquant",
    "haga clic", "hacer clic", "pulse aqui", "pinche aqui", "clicca", "cliccando", "clicchi",
    "clique", "klik", "klikt", "kliknij", "klicka", "our newsletter", "our newsletters",
    "our mailing list", "our mailing lists", "our mailings", "our marketing",
    "our communications", "unseren newsletter", "unserem newsletter", "unsere newsletter",
    "unser newsletter", "notre newsletter", "notre lettre", "nos newsletters",
    "nos communications", "nuestro boletin", "nuestros boletines", "nuestra newsletter",
    "nuestro newsletter", "nuestras comunicaciones", "la nostra newsletter",
    "nostra newsletter", "nostre comunicazioni", "nossa newsletter", "nosso boletim",
    "nossas comunicacoes", "onze nieuwsbrief", "onze nieuwsbrieven", "naszego newslettera",
    "vart nyhetsbrev", "if you no longer wish", "if you do not wish", "if you don t wish",
    "if you wish to", "should you wish", "if you would like to unsubscribe",
    "if you prefer not", "if you would prefer not", "to stop receiving", "reply with",
    "wenn sie keine", "falls sie keine", "si vous ne souhaitez plus", "si vous ne desirez plus",
    "si vous souhaitez vous", "si no desea", "si ya no desea", "si desea darse",
    "se non desideri", "se non desidera", "se nao deseja", "caso nao deseje",
    "se voce nao deseja", "als u geen", "indien u geen", "wilt u geen", NULL};
/* clang-format on */

/* The writer speaking of themself: "please unsubscribe me: <link>" is a request. */
/* clang-format off */
static const char *const first_person[] = {
    "me", "my", "im", "mine", "myself", "mich", "mir", "mein", "meine", "meinen", "meiner",
    "ich", "moi", "je", "j", "mon", "mes", "mi", "mis", "yo", "mio", "mia", "miei", "io",
    "meu", "minha", "meus", "eu", "mij", "mijn", "ik", "mnie", "moj", "moje", "mojego",
    "mig", "mej", "mitt", "jag", NULL};
/* clang-format on */

static bool footer_sentence(const char *s, size_t len)
{
    enum { SMALL = 512 };
    if (len < 8)
        return false;
    char small[SMALL], small_norm[2 * SMALL + 3];
    char *raw = len < SMALL ? small : malloc(len + 1);
    char *norm = len < SMALL ? small_norm : malloc(2 * len + 3);
    bool hit = false;
    if (raw && norm) {
        memcpy(raw, s, len);
        raw[len] = '\0';
        sa_reply_normalise(raw, norm);
        hit = (has_any(norm, unsubscribe_topic) || has_any(norm, unsubscribe_phrases)) &&
              has_any(norm, footer_markers) && !has_any(norm, first_person) &&
              !has_any(norm, team_requests) && !polite_request(norm);
    }
    if (raw != small)
        free(raw);
    if (norm != small_norm)
        free(norm);
    return hit;
}

static bool is_unsubscribe(const char *norm);

/* Whether the text after a thread-leaving phrase goes on to ask for the list too
 * ("remove me from the CC and from your mailing list", "... and your list", "... and
 * unsubscribe me"): then the phrase is part of the request and is not blanked. */
static bool request_goes_on(const char *after)
{
    /* clang-format off */
    static const char *const joins[] = {" and ", " und ", " et ", " as well as ", " plus ",
                                        NULL};
    static const char *const next[] = {
        "from", "off", "your", "unsubscribe", "remove", "take", "delete", "opt", "all", "any",
        "stop", "aus", "von", "ihrem", "ihrer", "de", "votre", "vos", "desabonnez",
        "desinscrivez", "the list", "the mailing", "the distribution", "the newsletter",
        "out of", NULL};
    /* clang-format on */
    for (size_t j = 0; joins[j]; j++) {
        size_t jl = strlen(joins[j]);
        if (strncmp(after, joins[j], jl) != 0)
            continue;
        for (size_t k = 0; next[k]; k++) {
            size_t kl = strlen(next[k]);
            if (strncmp(after + jl, next[k], kl) == 0 && after[jl + kl] == ' ')
                return true;
        }
    }
    return false;
}

bool sa_reply_is_unsubscribe(const char *norm)
{
    size_t n = strlen(norm);
    char *own = malloc(n + 1);
    if (!own)
        return is_unsubscribe(norm);
    memcpy(own, norm, n + 1);
    for (size_t i = 0; not_request_phrases[i]; i++) {
        size_t pl = strlen(not_request_phrases[i]);
        for (char *p = strstr(own, not_request_phrases[i]); p;
             p = strstr(p + 1, not_request_phrases[i]))
            if (p > own && p[-1] == ' ' && p[pl] == ' ' && !request_goes_on(p + pl))
                memset(p, ' ', pl);
    }
    bool hit = is_unsubscribe(own);
    free(own);
    return hit;
}

static bool is_unsubscribe(const char *norm)
{
    if (has_any(norm, delivery_problem))
        return false;
    if (has_any(norm, unsubscribe_phrases) || has_any(norm, team_requests) || stop_sending(norm))
        return true;
    if (has_any(norm, product_context))
        return false;
    size_t words = word_count(norm);
    for (const char *w = norm + 1; *w;) {
        size_t wl = strcspn(w, " ");
        if (wl >= 4 && !in_list(w, wl, words_not_typos)) {
            for (size_t i = 0; unsubscribe_words[i]; i++) {
                size_t kl = strlen(unsubscribe_words[i]);
                /* "stop", "remove", "baja" only as a whole short reply ("STOP", "BAJA") */
                int limit = kl >= 11 ? 2 : kl >= 8 ? 1 : 0;
                if (kl < 8 && words > 2)
                    continue;
                if ((size_t)abs((int)kl - (int)wl) <= (size_t)limit &&
                    edit_distance(w, wl, unsubscribe_words[i], kl, limit) <= limit)
                    return true;
            }
        }
        w += wl;
        while (*w == ' ')
            w++;
    }
    return false;
}

bool sa_reply_is_out_of_office(const char *norm)
{
    /* clang-format off */
    static const char *const strong[] = {
        "out of office", "out of the office", "automatic reply", "auto reply", "autoreply",
        "auto response", "automatic response", "autoresponder", "away from the office",
        "away from my desk until", "limited access to email", "limited access to my email",
        "limited access to e mail", "no access to email", "without access to email",
        "currently out of", "currently away", "i am away until", "i m away until",
        "am on annual leave", "m on annual leave", "am on parental leave", "m on parental leave",
        "am on maternity leave", "m on maternity leave", "am on paternity leave",
        "m on paternity leave", "am on sick leave", "m on sick leave", "currently on leave",
        "currently on parental leave", "currently on maternity leave", "back in the office", "return to the office", "returning to the office",
        "automatische antwort", "abwesenheitsnotiz", "nicht im buro", "ausser haus",
        "nicht erreichbar", "im urlaub", "wieder im buro", "wieder erreichbar",
        "in elternzeit", "absent du bureau", "absente du bureau", "reponse automatique",
        "message automatique", "en conges", "en conge", "de retour le", "de retour au bureau",
        "fuera de la oficina", "respuesta automatica", "de vacaciones", "regresare el",
        "estare de vuelta", "fuori ufficio", "fuori sede", "risposta automatica", "in ferie",
        "rientrero", "fora do escritorio", "resposta automatica", "de ferias",
        "estarei de volta", "retorno em", "retornarei", "afwezig", "automatisch antwoord",
        "met vakantie", "weer aanwezig", "weer op kantoor", "out sick", "on leave until",
        "on vacation until", "on holiday until", "office until", "am out until",
        "m out until",
        /* pl, sv */
        "poza biurem", "jestem na urlopie", "przebywam na urlopie", "jestem nieobecny",
        "jestem nieobecna", "odpowiedz automatyczna", "ograniczonym dostepem do poczty",
        "automatiskt svar", "ar pa semester", "pa semester till", "ar ledig till",
        "ar tjanstledig", "ar foraldraledig", "ar franvarande", "begransad tillgang till e post",
        "tillbaka pa kontoret", NULL};
    /* clang-format on */
    return has_any(norm, strong) && !has_phrase(norm, "back on track");
}

bool sa_reply_mentions_security(const char *norm)
{
    /* clang-format off */
    static const char *const words[] = {
        "gdpr", "dsgvo", "rgpd", "lgpd", "avg", "soc 2", "soc2", "soc", "iso 27001", "27001",
        "dpa", "data processing", "auftragsverarbeitung", "avv", "hipaa", "data residency",
        "data stored", "data hosted", "our data", "your data", "datenschutz", "daten",
        "donnees", "datos", "dati", "dados", "gegevens", "security", "sicherheit", "securite",
        "seguridad", "sicurezza", "seguranca", "beveiliging", "encryption", "encrypted",
        "verschlusselung", "chiffrement", "cifrado", "crittografia", "criptografia",
        "pen test", "pentest", "penetration", "sso", "saml", "privacy", "confidentialite",
        "privacidad", "hosted", "hosting", "servers", "server", "subprocessors",
        "sub processors", "data center", "datacenter", "rechenzentrum", "security review",
        "questionnaire", "fragebogen", "questionnaire de securite", "cuestionario",
        "compliance", "conformite", "conformidad", "conformita", "retention", NULL};
    /* clang-format on */
    return has_any(norm, words);
}

bool sa_reply_mentions_integration(const char *norm)
{
    /* clang-format off */
    static const char *const words[] = {
        "crm", "salesforce", "hubspot", "pipedrive", "zoho", "dynamics", "api", "apis",
        "zapier", "webhook", "webhooks", "integration", "integrations", "integrate",
        "integrates", "integrated", "integrieren", "integriert", "schnittstelle",
        "schnittstellen", "anbindung", "anbinden", "connecteur", "integrer", "integre",
        "integracion", "integrar", "integra", "integrazione", "integrare", "integracao",
        "koppeling", "koppelen", "integratie", "gmail", "outlook", "slack", "sync", "syncs",
        "synchronise", "synchronize", "synchroniser", "sincronizar", "sincronizza", "sdk",
        "connector", "connect", "plugin", "plug in", "make com", "n8n", "rest", NULL};
    /* clang-format on */
    return has_any(norm, words);
}

/* ---- dates ---------------------------------------------------------------------------- */

/* clang-format off */
static const struct {
    const char *name;
    int month;
} months[] = {
    {"january", 1},    {"jan", 1},        {"february", 2},   {"feb", 2},       {"march", 3},
    {"mar", 3},        {"april", 4},      {"apr", 4},        {"may", 5},       {"june", 6},
    {"jun", 6},        {"july", 7},       {"jul", 7},        {"august", 8},    {"aug", 8},
    {"september", 9},  {"sep", 9},        {"sept", 9},       {"october", 10},  {"oct", 10},
    {"november", 11},  {"nov", 11},       {"december", 12},  {"dec", 12},      {"januar", 1},
    {"janner", 1},     {"februar", 2},    {"marz", 3},       {"mai", 5},       {"juni", 6},
    {"juli", 7},       {"oktober", 10},   {"okt", 10},       {"dezember", 12}, {"dez", 12},
    {"janvier", 1},    {"fevrier", 2},    {"mars", 3},       {"avril", 4},     {"juin", 6},
    {"juillet", 7},    {"aout", 8},       {"septembre", 9},  {"octobre", 10},  {"novembre", 11},
    {"decembre", 12},  {"enero", 1},      {"febrero", 2},    {"marzo", 3},     {"abril", 4},
    {"mayo", 5},       {"junio", 6},      {"julio", 7},      {"agosto", 8},    {"septiembre", 9},
    {"setiembre", 9},  {"octubre", 10},   {"noviembre", 11}, {"diciembre", 12}, {"gennaio", 1},
    {"febbraio", 2},   {"aprile", 4},     {"maggio", 5},     {"giugno", 6},    {"luglio", 7},
    {"settembre", 9},  {"ottobre", 10},   {"dicembre", 12},  {"janeiro", 1},   {"fevereiro", 2},
    {"marco", 3},      {"maio", 5},       {"junho", 6},      {"julho", 7},     {"setembro", 9},
    {"outubro", 10},   {"novembro", 11},  {"dezembro", 12},  {"januari", 1},   {"februari", 2},
    {"maart", 3},      {"mei", 5},        {"augustus", 8},   {"maj", 5},       {"augusti", 8},
    {"stycznia", 1},   {"lutego", 2},     {"marca", 3},      {"kwietnia", 4},  {"maja", 5},
    {"czerwca", 6},    {"lipca", 7},      {"sierpnia", 8},   {"wrzesnia", 9},  {"pazdziernika", 10},
    {"listopada", 11}, {"grudnia", 12},
};
/* clang-format on */

/* clang-format off */
static const struct {
    const char *name;
    int wday; /* 0 = Sunday; -1 = tomorrow */
} weekdays[] = {
    {"monday", 1},    {"tuesday", 2},   {"wednesday", 3}, {"thursday", 4},  {"friday", 5},
    {"saturday", 6},  {"sunday", 0},    {"montag", 1},    {"dienstag", 2},  {"mittwoch", 3},
    {"donnerstag", 4}, {"freitag", 5},  {"samstag", 6},   {"sonntag", 0},   {"lundi", 1},
    {"mardi", 2},     {"mercredi", 3},  {"jeudi", 4},     {"vendredi", 5},  {"samedi", 6},
    {"dimanche", 0},  {"lunes", 1},     {"martes", 2},    {"miercoles", 3}, {"jueves", 4},
    {"viernes", 5},   {"sabado", 6},    {"domingo", 0},   {"lunedi", 1},    {"martedi", 2},
    {"mercoledi", 3}, {"giovedi", 4},   {"venerdi", 5},   {"sabato", 6},    {"domenica", 0},
    {"segunda", 1},   {"terca", 2},     {"quarta", 3},    {"quinta", 4},    {"sexta", 5},
    {"maandag", 1},   {"dinsdag", 2},   {"woensdag", 3},  {"donderdag", 4}, {"vrijdag", 5},
    {"zaterdag", 6},  {"zondag", 0},    {"tomorrow", -1}, {"demain", -1},   {"manana", -1},
    {"domani", -1},   {"amanha", -1},
};
/* clang-format on */

/* clang-format off */
static const char *const return_cues[] = {
    "back", "return", "returning", "returns", "zuruck", "wieder", "retour", "reviens",
    "rentre", "vuelta", "regreso", "regresare", "vuelvo", "rientro", "rientrero", "ritorno",
    "torno", "tornero", "volto", "voltarei", "retorno", "retornarei", "regresso", "terug",
    "weer", "wracam", "powrot", "tillbaka", "ater", NULL};
/* clang-format on */

struct token {
    const char *s;
    size_t len, pos;
};

enum { MAX_TOKENS = 600 };

static size_t tokenize(const char *folded, struct token *t, size_t cap)
{
    size_t n = 0;
    for (size_t i = 0; folded[i] && n < cap;) {
        if (!is_word_byte((unsigned char)folded[i])) {
            i++;
            continue;
        }
        size_t j = i;
        while (folded[j] && is_word_byte((unsigned char)folded[j]))
            j++;
        t[n++] = (struct token){folded + i, j - i, i};
        i = j;
    }
    return n;
}

static bool tok_is(struct token t, const char *w)
{
    return strlen(w) == t.len && strncmp(t.s, w, t.len) == 0;
}

/* A day of the month: "14", "1st", "3rd", "14th", "1er", "1o". */
static int day_number(struct token t)
{
    size_t i = 0;
    int d = 0;
    while (i < t.len && i < 2 && isdigit((unsigned char)t.s[i]))
        d = d * 10 + (t.s[i++] - '0');
    if (i == 0 || d < 1 || d > 31)
        return 0;
    static const char *const suffixes[] = {"",  "st", "nd", "rd",  "th", "er",
                                           "e", "o",  "a",  "eme", NULL};
    for (size_t k = 0; suffixes[k]; k++)
        if (strlen(suffixes[k]) == t.len - i && strncmp(t.s + i, suffixes[k], t.len - i) == 0)
            return d;
    return 0;
}

static int year_number(struct token t)
{
    if (t.len != 4 || !isdigit((unsigned char)t.s[0]))
        return -1;
    int y = 0;
    for (size_t i = 0; i < 4; i++) {
        if (!isdigit((unsigned char)t.s[i]))
            return -1;
        y = y * 10 + (t.s[i] - '0');
    }
    return y >= 2000 && y < 2100 ? y : -1;
}

static int days_in(int y, int m)
{
    static const int days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (m == 2 && ((y % 4 == 0 && y % 100 != 0) || y % 400 == 0))
        return 29;
    return days[m - 1];
}

/* A day and month (year < 0 when not given) to "YYYY-MM-DD", the next on or after now. */
static bool resolve_date(int y, int mo, int d, time_t now, char out[11])
{
    struct tm t;
    gmtime_r(&now, &t);
    int cy = t.tm_year + 1900, cm = t.tm_mon + 1;
    if (mo < 1 || mo > 12 || d < 1)
        return false;
    if (y < 0)
        y = (mo < cm || (mo == cm && d < t.tm_mday)) ? cy + 1 : cy;
    else if (y < 100)
        y += 2000;
    if (d > days_in(y, mo))
        return false;
    snprintf(out, 11, "%04d-%02d-%02d", y % 10000, mo, d);
    return true;
}

struct candidate {
    size_t pos;
    char date[11];
    bool weekday;
};

static int month_of(struct token t)
{
    for (size_t i = 0; i < sizeof months / sizeof months[0]; i++)
        if (tok_is(t, months[i].name))
            return months[i].month;
    return 0;
}

/* Numeric dates in folded text: 12.01., 12.01.2027, 5/1, 2027-01-12. */
static size_t numeric_dates(const char *f, time_t now, struct candidate *c, size_t cap)
{
    size_t n = 0;
    for (size_t i = 0; f[i] && n < cap; i++) {
        if (!isdigit((unsigned char)f[i]) ||
            (i && (isalnum((unsigned char)f[i - 1]) || strchr("./-:", f[i - 1]))))
            continue;
        long a[3] = {0, 0, 0};
        size_t digits[3] = {0, 0, 0}, k = 0, j = i;
        char sep = 0;
        for (;;) {
            while (isdigit((unsigned char)f[j]) && digits[k] < 5)
                a[k] = a[k] * 10 + (f[j] - '0'), digits[k]++, j++;
            if (k < 2 && f[j] && strchr("./-", f[j]) && isdigit((unsigned char)f[j + 1]) &&
                (sep == 0 || f[j] == sep)) {
                sep = f[j++];
                k++;
                continue;
            }
            break;
        }
        if (isdigit((unsigned char)f[j]) || k == 0)
            continue;
        char date[11];
        bool ok = false;
        if (k == 2 && digits[0] == 4 && sep == '-' && digits[1] <= 2 && digits[2] <= 2)
            ok = resolve_date((int)a[0], (int)a[1], (int)a[2], now, date);
        else if (digits[0] <= 2 && digits[1] <= 2 && (k == 1 || digits[2] == 2 || digits[2] == 4)) {
            int d = (int)a[0], m = (int)a[1];
            if (m > 12 && d <= 12) { /* month first: 1/14 */
                int tmp = d;
                d = m;
                m = tmp;
            }
            /* day.month without a year needs the trailing dot or a slash: "12.01." */
            if (k == 2 || sep == '/' || f[j] == '.')
                ok = resolve_date(k == 2 ? (int)a[2] : -1, m, d, now, date);
        }
        if (ok) {
            c[n].pos = i;
            c[n].weekday = false;
            memcpy(c[n++].date, date, 11);
        }
        i = j - 1; /* the loop steps to f[j], which may be the terminator */
    }
    return n;
}

/* Days ahead for "in 2 weeks" and its translations starting at t[i] ("in"), else 0. */
static int relative_days(const struct token *t, size_t nt, size_t i)
{
    static const char *const prepositions[] = {"in",  "dans", "en", "tra",
                                               "fra", "over", "em", NULL};
    /* clang-format off */
    static const struct {
        const char *unit;
        int days;
    } units[] = {
        {"day", 1}, {"days", 1}, {"week", 7}, {"weeks", 7}, {"tag", 1}, {"tagen", 1},
        {"woche", 7}, {"wochen", 7}, {"jour", 1}, {"jours", 1}, {"semaine", 7},
        {"semaines", 7}, {"dia", 1}, {"dias", 1}, {"semana", 7}, {"semanas", 7},
        {"giorno", 1}, {"giorni", 1}, {"settimana", 7}, {"settimane", 7}, {"dag", 1},
        {"dagen", 1}, {"week", 7}, {"weken", 7},
    };
    /* clang-format on */
    if (i + 2 >= nt || !in_list(t[i].s, t[i].len, prepositions))
        return 0;
    int count = day_number(t[i + 1]);
    if (count == 0 || t[i + 1].len > 2 || count > 8)
        return 0;
    for (size_t k = 0; k < sizeof units / sizeof units[0]; k++)
        if (tok_is(t[i + 2], units[k].unit))
            return count * units[k].days;
    return 0;
}

static size_t named_dates(const struct token *t, size_t nt, time_t now, struct candidate *c,
                          size_t cap)
{
    size_t n = 0;
    struct tm tm;
    gmtime_r(&now, &tm);
    for (size_t i = 0; i < nt && n < cap; i++) {
        int mo = month_of(t[i]);
        if (mo) {
            int d = 0, y = -1;
            size_t start = i, after = i + 1;
            size_t p = i;
            if (p > 0 && (tok_is(t[p - 1], "of") || tok_is(t[p - 1], "de") ||
                          tok_is(t[p - 1], "di") || tok_is(t[p - 1], "van")))
                p--;
            if (p > 0 && (d = day_number(t[p - 1])) != 0)
                start = p - 1;
            else if (i + 1 < nt && (d = day_number(t[i + 1])) != 0)
                after = i + 2;
            else if (i + 2 < nt && tok_is(t[i + 1], "the") && (d = day_number(t[i + 2])) != 0)
                after = i + 3;
            if (!d)
                continue;
            if (after < nt && (y = year_number(t[after])) < 0 && after + 1 < nt &&
                (tok_is(t[after], "de") || tok_is(t[after], "del")))
                y = year_number(t[after + 1]);
            if (resolve_date(y, mo, d, now, c[n].date)) {
                c[n].pos = t[start].pos;
                c[n++].weekday = false;
            }
            continue;
        }
        int days = relative_days(t, nt, i);
        if (days > 0) { /* "in 2 weeks", "dans 3 jours" */
            time_t when = now + (time_t)days * 86400;
            struct tm w;
            gmtime_r(&when, &w);
            snprintf(c[n].date, 11, "%04d-%02d-%02d", (w.tm_year + 1900) % 10000, w.tm_mon + 1,
                     w.tm_mday);
            c[n].pos = t[i].pos;
            c[n++].weekday = true;
            continue;
        }
        for (size_t k = 0; k < sizeof weekdays / sizeof weekdays[0]; k++) {
            if (!tok_is(t[i], weekdays[k].name))
                continue;
            int ahead = weekdays[k].wday < 0 ? 1 : (weekdays[k].wday - tm.tm_wday + 7) % 7;
            if (ahead == 0)
                ahead = 7;
            time_t when = now + (time_t)ahead * 86400;
            struct tm w;
            gmtime_r(&when, &w);
            snprintf(c[n].date, 11, "%04d-%02d-%02d", (w.tm_year + 1900) % 10000, w.tm_mon + 1,
                     w.tm_mday);
            c[n].pos = t[i].pos;
            c[n++].weekday = true;
            break;
        }
    }
    return n;
}

bool sa_reply_return_date(const char *text, time_t now, char out[11])
{
    out[0] = '\0';
    size_t len = strlen(text);
    char *f = malloc(len + 1);
    struct token *t = malloc(MAX_TOKENS * sizeof *t);
    enum { MAX_CAND = 32 };
    struct candidate c[MAX_CAND];
    bool found = false;
    if (!f || !t)
        goto out;
    sa_fold(text, len, f);
    size_t nt = tokenize(f, t, MAX_TOKENS);
    size_t n = numeric_dates(f, now, c, MAX_CAND);
    n += named_dates(t, nt, now, c + n, MAX_CAND - n);
    bool explicit_date = false;
    for (size_t i = 0; i < n; i++)
        explicit_date |= !c[i].weekday;
    size_t cue = SIZE_MAX;
    for (size_t i = 0; i < nt && cue == SIZE_MAX; i++)
        if (in_list(t[i].s, t[i].len, return_cues))
            cue = t[i].pos;
    const struct candidate *best = NULL;
    for (size_t i = 0; i < n; i++) {
        if (explicit_date && c[i].weekday)
            continue;
        if (cue != SIZE_MAX && c[i].pos > cue) {
            if (!best || best->pos < cue || c[i].pos < best->pos)
                best = &c[i];
        } else if (!best || (best->pos < cue && c[i].pos > best->pos)) {
            best = &c[i];
        }
    }
    if (best) {
        memcpy(out, best->date, 11);
        found = true;
    }
out:
    free(t);
    free(f);
    return found;
}

/* ---- referrals ------------------------------------------------------------------------ */

static bool email_char(unsigned char c, bool local)
{
    return isalnum(c) || c == '.' || c == '-' || (local && (c == '_' || c == '+' || c == '%'));
}

/* The first e-mail address in text: [*start, *end). */
static bool find_email(const char *text, size_t *start, size_t *end)
{
    for (const char *at = strchr(text, '@'); at; at = strchr(at + 1, '@')) {
        const char *s = at, *e = at + 1;
        while (s > text && email_char((unsigned char)s[-1], true))
            s--;
        while (*e && email_char((unsigned char)*e, false))
            e++;
        while (e > at + 1 && (e[-1] == '.' || e[-1] == '-'))
            e--;
        while (s < at && (*s == '.' || *s == '-'))
            s++;
        const char *dot = memchr(at + 1, '.', (size_t)(e - at - 1));
        if (s < at && dot && dot > at + 1 && dot < e - 1) {
            *start = (size_t)(s - text);
            *end = (size_t)(e - text);
            return true;
        }
    }
    return false;
}

/* clang-format off */
static const char *const honorifics[] = {"Mr", "Mrs", "Ms", "Dr", "Frau", "Herr", "Herrn",
                                         "Mme", "Mlle", "M", "Monsieur", "Madame", "Sr", "Sra",
                                         "Srta", "Sig", "Sig.ra", "Dott", "Dhr", "Mevr",
                                         "Mevrouw", "Meneer", "Dona", "Don", NULL};
/* clang-format on */
/* clang-format off */
static const char *const not_names[] = {
    "Please", "Thanks", "Thank", "The", "He", "She", "They", "Our", "My", "Bitte", "Danke",
    "Merci", "Gracias", "Grazie", "Obrigado", "Sie", "Er", "Il", "Elle", "Ele", "Ela",
    "Hij", "Zij", "Contact", "Email", "E-Mail", "Mail", "Kontakt", "Hi", "Hello", "Hallo",
    "Our", "I", "We", "Wir", "Ich", "Je", "Nous", "Yo", "Io", "Eu", "Ik", "Head", "VP",
    "CEO", "CTO", "CFO", "COO", "Sales", "Marketing", "IT", "Procurement", "Einkauf",
    "Leiter", "Leiterin", "Director", "Manager", "Team", "Du", "You", "Vous", "Usted",
    "Lei", "Voce", "U", "Jij", NULL};
/* clang-format on */

static bool word_in(const char *w, size_t wl, const char *const *list)
{
    for (size_t i = 0; list[i]; i++)
        if (strlen(list[i]) == wl && strncmp(list[i], w, wl) == 0)
            return true;
    return false;
}

static bool name_byte(unsigned char c)
{
    return isalpha(c) || c >= 0x80 || c == '-' || c == '\'';
}

static bool capitalised(const char *w)
{
    unsigned char c = (unsigned char)w[0];
    /* ASCII capitals, and U+00C0-U+00DE (À-Þ) */
    return isupper(c) || (c == 0xC3 && (unsigned char)w[1] >= 0x80 && (unsigned char)w[1] <= 0x9E);
}

/* Up to three capitalised words starting at text[i] (honorifics skipped) into name. */
static bool name_after(const char *text, size_t i, char name[96])
{
    size_t n = 0, words = 0;
    for (;;) {
        while (text[i] == ' ')
            i++;
        if (!capitalised(text + i))
            break;
        size_t wl = 0;
        while (name_byte((unsigned char)text[i + wl]))
            wl++;
        if (word_in(text + i, wl, honorifics)) {
            i += wl;
            if (text[i] == '.')
                i++;
            continue;
        }
        if (wl < 2 || word_in(text + i, wl, not_names) || n + wl + 2 > 96)
            break;
        if (n)
            name[n++] = ' ';
        memcpy(name + n, text + i, wl);
        n += wl;
        i += wl;
        if (++words == 3 || text[i] != ' ')
            break;
    }
    name[n] = '\0';
    return n > 0;
}

/* The capitalised words right before text[end] (skipping "(", "<", "at", ":" ...). */
static bool name_before(const char *text, size_t end, char name[96])
{
    static const char *const joiners[] = {"at",   "via",    "unter", "a",   "em", "op",
                                          "en",   "al",     "on",    "per", "or", "email",
                                          "mail", "e-mail", "-",     NULL};
    size_t i = end;
    for (;;) {
        while (i > 0 && strchr(" (<[:,-\t\n", text[i - 1]))
            i--;
        size_t s = i;
        while (s > 0 && name_byte((unsigned char)text[s - 1]))
            s--;
        if (s < i && word_in(text + s, i - s, joiners)) {
            i = s;
            continue;
        }
        break;
    }
    /* now walk back over up to three capitalised words */
    size_t start = i, words = 0;
    while (words < 3) {
        size_t s = start;
        while (s > 0 && name_byte((unsigned char)text[s - 1]))
            s--;
        if (s == start || !capitalised(text + s) || word_in(text + s, start - s, not_names) ||
            word_in(text + s, start - s, honorifics))
            break;
        start = s;
        words++;
        if (start == 0 || text[start - 1] != ' ')
            break;
        start--;
        if (start > 0 && !name_byte((unsigned char)text[start - 1])) {
            start++;
            break;
        }
    }
    while (start < i && text[start] == ' ')
        start++;
    if (!words || i - start >= 96)
        return false;
    memcpy(name, text + start, i - start);
    name[i - start] = '\0';
    return true;
}

/* "maria.lopez@..." -> "Maria Lopez" when the address is first.last. */
static bool name_from_address(const char *local, size_t len, char name[96])
{
    size_t sep = strcspn(local, "._");
    if (sep == 0 || sep >= len - 1 || len >= 95)
        return false;
    for (size_t i = 0; i < len; i++)
        if (!isalpha((unsigned char)local[i]) && i != sep)
            return false;
    for (size_t i = 0; i < len; i++) {
        char ch = local[i];
        name[i] = i == sep ? ' ' : (i == 0 || i == sep + 1) ? (char)toupper((unsigned char)ch) : ch;
    }
    name[len] = '\0';
    return true;
}

static bool ascii_prefix_ci(const char *s, const char *p)
{
    for (; *p; s++, p++)
        if (tolower((unsigned char)*s) != *p)
            return false;
    return true;
}

bool sa_reply_referral(const char *text, char name[96], char email[256])
{
    /* clang-format off */
    static const char *const cues[] = {
        "contact ", "reach out to ", "speak with ", "speak to ", "talk to ", "talk with ",
        "get in touch with ", "colleague ", "coworker ", "wenden sie sich an ",
        "wende dich an ", "kontaktieren sie ", "kollegin ", "kollege ", "kollegen ",
        "ansprechpartner ist ", "ansprechpartnerin ist ", "contactez ", "contacter ",
        "collegue ", "coll\xc3\xa8gue ", "voir avec ", "contacte a ", "contacta a ",
        "contactar a ", "hable con ", "hablar con ", "habla con ", "colega ", "contatti ",
        "contattare ", "contattate ", "rivolgersi a ", "rivolgetevi a ", "collega ",
        "entre em contato com ", "entrar em contato com ", "fale com ", "falar com ",
        "neem contact op met ", "contact opnemen met ", "mijn collega ", "is handled by ",
        "forward this to ", "cc'd ", "cc'ing ", "copied ", "looping in ", "loop in ",
        "weitergeleitet an ", "transmis a ", NULL};
    /* clang-format on */
    name[0] = email[0] = '\0';
    size_t s, e;
    if (find_email(text, &s, &e)) {
        size_t l = e - s < 255 ? e - s : 255;
        memcpy(email, text + s, l);
        email[l] = '\0';
        if (!name_before(text, s, name)) {
            /* "Maria Lopez" may follow the address: "maria@acme.com (Maria Lopez)" */
            size_t i = e;
            while (text[i] == ' ' || text[i] == '(' || text[i] == '-')
                i++;
            if (!name_after(text, i, name))
                name_from_address(text + s, (size_t)(strchr(text + s, '@') - (text + s)), name);
        }
        return true;
    }
    for (size_t i = 0; text[i]; i++)
        for (size_t k = 0; cues[k]; k++)
            if ((i == 0 || !isalpha((unsigned char)text[i - 1])) &&
                ascii_prefix_ci(text + i, cues[k]) && name_after(text, i + strlen(cues[k]), name))
                return true;
    return false;
}
