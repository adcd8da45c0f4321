/* sdnotify.c: the sd_notify(3) protocol, enough for Type=notify: one datagram
 * with "READY=1" (or "STOPPING=1") to the AF_UNIX socket in $NOTIFY_SOCKET.
 * Written out rather than linked from libsystemd: it is a dozen lines, and the
 * daemon then needs nothing from systemd to run without it. */
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "sipedge/sdnotify.h"

int
sdnotify_send(const char *state)
{
	const char *path = getenv("NOTIFY_SOCKET");
	struct sockaddr_un sun;
	size_t n;
	int fd, rc = 0;

	if (path == NULL || path[0] == '\0')
		return 0;
	n = strlen(path);
	/* systemd also knows vsock: addresses; a service started by it on this
	 * host is given a path or an abstract name. */
	if ((path[0] != '/' && path[0] != '@') || n < 2 || n > sizeof(sun.sun_path))
		return -EINVAL;
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	memcpy(sun.sun_path, path, n);
	if (path[0] == '@')
		sun.sun_path[0] = '\0';   /* abstract: the length says where it ends */
	if ((fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0)) < 0)
		return -errno;
	if (sendto(fd, state, strlen(state), MSG_NOSIGNAL, (const struct sockaddr *)&sun,
		(socklen_t)(offsetof(struct sockaddr_un, sun_path) + n)) < 0)
		rc = -errno;
	close(fd);
	return rc;
}
