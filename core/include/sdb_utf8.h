/* UTF-8 validation (RFC 3629: no overlong forms, no surrogates, nothing above U+10FFFF). */
#ifndef SDB_UTF8_H
#define SDB_UTF8_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* The full check, from the first byte with the high bit set. */
size_t sdb_utf8_check_from(const unsigned char *s, size_t len, size_t i);

/* Whether s[0..len) is all ASCII. Keys and most values are short, so the bytes are read as at most
 * two overlapping words for up to 16 bytes, and eight at a time beyond. */
static inline int sdb_utf8_is_ascii(const unsigned char *s, size_t len)
{
    if (len >= 8) {
        uint64_t acc = 0, w;
        for (size_t i = 0; i + 8 < len; i += 8) {
            memcpy(&w, s + i, 8);
            acc |= w;
        }
        memcpy(&w, s + len - 8, 8);
        return ((acc | w) & UINT64_C(0x8080808080808080)) == 0;
    }
    if (len >= 4) {
        uint32_t head, tail;
        memcpy(&head, s, 4);
        memcpy(&tail, s + len - 4, 4);
        return ((head | tail) & 0x80808080u) == 0;
    }
    unsigned char t = 0;
    for (size_t i = 0; i < len; i++) {
        t |= s[i];
    }
    return (t & 0x80) == 0;
}

/* Returns len when s[0..len) is valid UTF-8, else the offset of the first byte of the first invalid
 * sequence. Text from SurrealDB is mostly ASCII, so the full check runs only when a high bit shows
 * up. */
static inline size_t sdb_utf8_check(const unsigned char *s, size_t len)
{
    return sdb_utf8_is_ascii(s, len) ? len : sdb_utf8_check_from(s, len, 0);
}

#endif
