/* UTF-8 validation (RFC 3629: no overlong forms, no surrogates, nothing above U+10FFFF). */
#ifndef SDB_UTF8_H
#define SDB_UTF8_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* The full check, from the first byte with the high bit set. */
size_t sdb_utf8_check_from(const unsigned char *s, size_t len, size_t i);

/* Returns len when s[0..len) is valid UTF-8, else the offset of the first byte of the first invalid
 * sequence. Text from SurrealDB is mostly short ASCII (keys, names), so the bytes are ORed eight at
 * a time first and the full check runs only when a high bit shows up. */
static inline size_t sdb_utf8_check(const unsigned char *s, size_t len)
{
    uint64_t acc = 0;
    size_t i = 0;
    for (; i + 8 <= len; i += 8) {
        uint64_t w;
        memcpy(&w, s + i, 8);
        acc |= w;
    }
    unsigned char tail = 0;
    for (; i < len; i++) {
        tail |= s[i];
    }
    if (((acc & UINT64_C(0x8080808080808080)) | (tail & 0x80)) == 0) {
        return len;
    }
    return sdb_utf8_check_from(s, len, 0);
}

#endif
