/* UTF-8 validation (RFC 3629: no overlong forms, no surrogates, nothing above U+10FFFF). */
#ifndef SDB_UTF8_H
#define SDB_UTF8_H

#include <stddef.h>

/* Returns len when s[0..len) is valid UTF-8, else the offset of the first byte of the first invalid
 * sequence. */
size_t sdb_utf8_check(const unsigned char *s, size_t len);

#endif
