/* Reading an e-mail reply (see reply.h): cleaning, language, dates, referrals. The lexicons
 * that decide whether a reply asks to unsubscribe or is an out-of-office notice live in
 * reply_lexicon.c.
 *
 * Everything here matches folded text (base/fold: lowercase, no diacritics), so "zurück",
 * "zuruck" and "ZURÜCK" are one word. */
#include "domain/reply.h"

#include <ctype.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/fold.h"
#include "domain/reply_lexicon.h"

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
        if (!sa_reply_footer_sentence(s + start, e - start)) {
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

/* Whether the word w[0..wl) is one of list (NULL-terminated). */
static bool word_in(const char *w, size_t wl, const char *const *list)
{
    for (size_t i = 0; list[i]; i++)
        if (strlen(list[i]) == wl && strncmp(list[i], w, wl) == 0)
            return true;
    return false;
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
    if (i + 2 >= nt || !word_in(t[i].s, t[i].len, prepositions))
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
        if (word_in(t[i].s, t[i].len, return_cues))
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
