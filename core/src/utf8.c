/* The full UTF-8 check (sdb_utf8.h has the ASCII fast path in front of it). Runs of ASCII are still
 * skipped eight bytes at a time. */
#include <stdint.h>
#include <string.h>

#include "sdb_utf8.h"

size_t sdb_utf8_check_from(const unsigned char *s, size_t len, size_t i)
{
    while (i < len) {
        while (i + 8 <= len) {
            uint64_t w;
            memcpy(&w, s + i, 8);
            if (w & UINT64_C(0x8080808080808080)) {
                break;
            }
            i += 8;
        }
        if (i >= len) {
            break;
        }
        unsigned char c = s[i];
        if (c < 0x80) {
            i++;
            continue;
        }
        size_t n;
        unsigned char lo = 0x80, hi = 0xbf; /* allowed range of the second byte */
        if (c >= 0xc2 && c <= 0xdf) {
            n = 2;
        } else if (c >= 0xe0 && c <= 0xef) {
            n = 3;
            if (c == 0xe0) {
                lo = 0xa0; /* overlong */
            } else if (c == 0xed) {
                hi = 0x9f; /* surrogates */
            }
        } else if (c >= 0xf0 && c <= 0xf4) {
            n = 4;
            if (c == 0xf0) {
                lo = 0x90; /* overlong */
            } else if (c == 0xf4) {
                hi = 0x8f; /* above U+10FFFF */
            }
        } else {
            return i;
        }
        if (len - i < n || s[i + 1] < lo || s[i + 1] > hi) {
            return i;
        }
        for (size_t k = 2; k < n; k++) {
            if ((s[i + k] & 0xc0) != 0x80) {
                return i;
            }
        }
        i += n;
    }
    return len;
}
