/* Search folding: UTF-8 text to the form the lead search compares (lowercase, Latin
 * diacritics removed, ß to "ss", æ to "ae"...), so "Müller", "muller" and "MULLER" are the
 * same text. The store indexes folded text and folds each query the same way. */
#ifndef SA_BASE_FOLD_H
#define SA_BASE_FOLD_H

#include <stddef.h>

/* Folds s[0..len) into out, which MUST hold len + 1 bytes (folding never lengthens text),
 * and NUL-terminates it; returns the folded length. The rules:
 *   - ASCII letters are lowercased; ASCII control characters (tab, newline...) become a
 *     space, so folded text never holds a newline (the store's field separator);
 *   - Latin-1 Supplement and Latin Extended-A letters lose their diacritics and case
 *     (é è ê ë -> e, ü -> u, ø -> o, å -> a, ł -> l, ç -> c, ő -> o); ligatures and
 *     letters without a one-letter base spell out (ß -> ss, æ -> ae, œ -> oe, þ -> th,
 *     ĳ -> ij), and the Latin Extended-B letters of living languages (ș ț ơ ư ǎ ƒ) fold;
 *   - combining diacritical marks (U+0300-U+036F, decomposed input) are dropped;
 *   - Greek and Cyrillic capitals are lowercased (no accents removed there);
 *   - everything else is copied unchanged, and a byte that is not well-formed UTF-8 is
 *     dropped. */
size_t sa_fold(const char *s, size_t len, char *out);

/* The number of characters (code points) of NUL-terminated UTF-8 text s. */
size_t sa_fold_chars(const char *s);

#endif
