/* li707 common - listening sockets from "ADDR:PORT" strings. */
#ifndef LX_COMMON_NETLISTEN_H
#define LX_COMMON_NETLISTEN_H

#include <stddef.h>

/* Opens, binds and listens on "ADDR:PORT" ("127.0.0.1:0", "[::1]:8443", ":8443" for every
 * address), numeric hosts and ports only, O_CLOEXEC, SO_REUSEADDR. Returns the socket and the
 * bound port in *port, or a negative code with one line in err. */
int lx_listen_socket(const char *addr, int *port, char *err, size_t errlen);

#endif
