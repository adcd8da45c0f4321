/* keyfile.c: secret key files, read or made on first use (keyfile.h). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sipedge/keyfile.h"

int
keyfile_load(const char *path, const char *what, uint8_t *raw, size_t len, char *err,
    size_t errlen)
{
	struct stat st;
	ssize_t n;
	int fd, rc;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0 && errno == ENOENT) {
		if (getrandom(raw, len, 0) != (ssize_t)len) {
			rc = -errno;
			snprintf(err, errlen, "%s: getrandom: %s", path, strerror(-rc));
			return rc;
		}
		fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
		if (fd < 0 || write(fd, raw, len) != (ssize_t)len) {
			rc = errno ? -errno : -EIO;
			snprintf(err, errlen, "%s: cannot create the %s: %s", path, what, strerror(-rc));
			if (fd >= 0)
				close(fd);
			explicit_bzero(raw, len);
			return rc;
		}
		close(fd);
		fd = open(path, O_RDONLY | O_CLOEXEC);
	}
	if (fd < 0) {
		rc = -errno;
		snprintf(err, errlen, "%s: %s", path, strerror(-rc));
		return rc;
	}
	if (fstat(fd, &st) == 0 && (st.st_mode & 077)) {
		snprintf(err, errlen, "%s: the %s must not be readable by others (chmod 600)", path, what);
		close(fd);
		return -EPERM;
	}
	n = read(fd, raw, len);
	close(fd);
	if (n != (ssize_t)len) {
		snprintf(err, errlen, "%s: the %s must be %zu bytes", path, what, len);
		explicit_bzero(raw, len);
		return -EINVAL;
	}
	return 0;
}
