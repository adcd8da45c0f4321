/* keyfile.h: the edge's secret key files (the record-route key, the XMPP
 * dialback secret): read, or made on first use with random octets and mode
 * 0600, refused when others can read them. */
#ifndef SIPEDGE_KEYFILE_H
#define SIPEDGE_KEYFILE_H

#include <stddef.h>
#include <stdint.h>

/* Read exactly len octets from path into raw, creating the file (random,
 * 0600) when it does not exist.  what names the key in messages ("the
 * record-route key").  0, or a negative errno and one line in err. */
int keyfile_load(const char *path, const char *what, uint8_t *raw, size_t len, char *err,
    size_t errlen);

#endif
