/* Search folding (see fold.h): one pass over UTF-8, a table for U+00C0-U+017F and a few
 * rules for the rest. Used by the SQLite store's search index and its queries. */
#include "base/fold.h"

#include <stdint.h>

#include "base/charset.h"

/* U+00C0-U+017F: what each folds to; NULL keeps the character (the two signs among the
 * letters). Written out by hand, sixteen per line, capitals and small letters alike. */
/* clang-format off */
static const char *const LATIN[0x180 - 0xC0] = {
    /* U+00C0 À Á Â Ã Ä Å Æ Ç È É Ê Ë Ì Í Î Ï */
    "a", "a", "a", "a", "a", "a", "ae", "c", "e", "e", "e", "e", "i", "i", "i", "i",
    /* U+00D0 Ð Ñ Ò Ó Ô Õ Ö × Ø Ù Ú Û Ü Ý Þ ß */
    "d", "n", "o", "o", "o", "o", "o", NULL, "o", "u", "u", "u", "u", "y", "th", "ss",
    /* U+00E0 à á â ã ä å æ ç è é ê ë ì í î ï */
    "a", "a", "a", "a", "a", "a", "ae", "c", "e", "e", "e", "e", "i", "i", "i", "i",
    /* U+00F0 ð ñ ò ó ô õ ö ÷ ø ù ú û ü ý þ ÿ */
    "d", "n", "o", "o", "o", "o", "o", NULL, "o", "u", "u", "u", "u", "y", "th", "y",
    /* U+0100 Ā ā Ă ă Ą ą Ć ć Ĉ ĉ Ċ ċ Č č Ď ď */
    "a", "a", "a", "a", "a", "a", "c", "c", "c", "c", "c", "c", "c", "c", "d", "d",
    /* U+0110 Đ đ Ē ē Ĕ ĕ Ė ė Ę ę Ě ě Ĝ ĝ Ğ ğ */
    "d", "d", "e", "e", "e", "e", "e", "e", "e", "e", "e", "e", "g", "g", "g", "g",
    /* U+0120 Ġ ġ Ģ ģ Ĥ ĥ Ħ ħ Ĩ ĩ Ī ī Ĭ ĭ Į į */
    "g", "g", "g", "g", "h", "h", "h", "h", "i", "i", "i", "i", "i", "i", "i", "i",
    /* U+0130 İ ı Ĳ ĳ Ĵ ĵ Ķ ķ ĸ Ĺ ĺ Ļ ļ Ľ ľ Ŀ */
    "i", "i", "ij", "ij", "j", "j", "k", "k", "k", "l", "l", "l", "l", "l", "l", "l",
    /* U+0140 ŀ Ł ł Ń ń Ņ ņ Ň ň ŉ Ŋ ŋ Ō ō Ŏ ŏ */
    "l", "l", "l", "n", "n", "n", "n", "n", "n", "n", "n", "n", "o", "o", "o", "o",
    /* U+0150 Ő ő Œ œ Ŕ ŕ Ŗ ŗ Ř ř Ś ś Ŝ ŝ Ş ş */
    "o", "o", "oe", "oe", "r", "r", "r", "r", "r", "r", "s", "s", "s", "s", "s", "s",
    /* U+0160 Š š Ţ ţ Ť ť Ŧ ŧ Ũ ũ Ū ū Ŭ ŭ Ů ů */
    "s", "s", "t", "t", "t", "t", "t", "t", "u", "u", "u", "u", "u", "u", "u", "u",
    /* U+0170 Ű ű Ų ų Ŵ ŵ Ŷ ŷ Ÿ Ź ź Ż ż Ž ž ſ */
    "u", "u", "u", "u", "w", "w", "y", "y", "y", "z", "z", "z", "z", "z", "z", "s",
};
/* clang-format on */

/* Latin Extended-B letters in current use (Romanian, Vietnamese, pinyin, the florin). */
static const char *latin_b(uint32_t cp)
{
    switch (cp) {
    case 0x0192: /* ƒ */ return "f";
    case 0x01A0: /* Ơ */
    case 0x01A1:
    case 0x01D1: /* Ǒ */
    case 0x01D2: return "o";
    case 0x01AF: /* Ư */
    case 0x01B0:
    case 0x01D3: /* Ǔ */
    case 0x01D4: return "u";
    case 0x01CD: /* Ǎ */
    case 0x01CE: return "a";
    case 0x01CF: /* Ǐ */
    case 0x01D0: return "i";
    case 0x0218: /* Ș */
    case 0x0219: return "s";
    case 0x021A: /* Ț */
    case 0x021B: return "t";
    default: return NULL;
    }
}


/* Encodes cp (below U+0800 here: only Greek and Cyrillic are re-encoded) at out. */
static size_t encode2(uint32_t cp, char *out)
{
    out[0] = (char)(0xC0 | (cp >> 6));
    out[1] = (char)(0x80 | (cp & 0x3F));
    return 2;
}

size_t sa_fold(const char *s, size_t len, char *out)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0, o = 0;
    while (i < len) {
        uint32_t cp;
        size_t n = sa_utf8_decode(s + i, len - i, &cp);
        if (n == 0) { /* not UTF-8: dropped */
            i++;
            continue;
        }
        const char *to = NULL;
        if (cp < 0x80) {
            if (cp < 0x20 || cp == 0x7F)
                out[o++] = ' ';
            else
                out[o++] = (char)(cp >= 'A' && cp <= 'Z' ? cp + 32 : cp);
            i += n;
            continue;
        }
        if (cp >= 0xC0 && cp < 0x180)
            to = LATIN[cp - 0xC0];
        else if (cp >= 0x180 && cp < 0x250)
            to = latin_b(cp);
        if (to) {
            while (*to) /* never longer than the n >= 2 bytes it replaces */
                out[o++] = *to++;
        } else if (cp >= 0x300 && cp <= 0x36F) {
            /* a combining mark: dropped */
        } else if ((cp >= 0x391 && cp <= 0x3A9 && cp != 0x3A2) || (cp >= 0x410 && cp <= 0x42F)) {
            o += encode2(cp + 0x20, out + o); /* Greek and basic Cyrillic capitals */
        } else if (cp >= 0x400 && cp <= 0x40F) {
            o += encode2(cp + 0x50, out + o); /* Cyrillic Ѐ-Џ (Ё, Є, Ї...) */
        } else {
            for (size_t k = 0; k < n; k++)
                out[o++] = (char)p[i + k];
        }
        i += n;
    }
    out[o] = '\0';
    return o;
}

size_t sa_fold_chars(const char *s)
{
    size_t n = 0;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        n += (*p & 0xC0) != 0x80;
    return n;
}
