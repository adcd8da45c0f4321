/* replay.c: a main() for the libFuzzer targets of tests/fuzz without libFuzzer:
 * runs LLVMFuzzerTestOneInput once over each file named, and over every regular
 * file under each directory named (recursively, in name order, so runs are
 * repeatable).  make check builds every target with it, with any compiler,
 * and replays the seed corpora (under ASan and UBSan in the sanitizer build);
 * it also reproduces a crash file that make fuzz left: replay_framing FILE.
 *
 * Exit status: 0 when every file ran (a broken invariant aborts), 1 when a
 * file could not be read, 2 on usage. */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fuzz.h"

static unsigned long nfiles;
static unsigned long long nbytes;
static int failed;

static int
run_file(const char *path)
{
	FILE *f = fopen(path, "rb");
	unsigned char *buf = NULL;
	size_t len = 0, cap = 0, n;

	if (f == NULL) {
		fprintf(stderr, "replay: %s: %s\n", path, strerror(errno));
		return -1;
	}
	do {
		if (len == cap) {
			unsigned char *nb = realloc(buf, cap ? 2 * cap : 65536);

			if (nb == NULL) {
				fprintf(stderr, "replay: %s: out of memory\n", path);
				free(buf);
				fclose(f);
				return -1;
			}
			buf = nb;
			cap = cap ? 2 * cap : 65536;
		}
		n = fread(buf + len, 1, cap - len, f);
		len += n;
	} while (n > 0);
	if (ferror(f)) {
		fprintf(stderr, "replay: %s: read error\n", path);
		free(buf);
		fclose(f);
		return -1;
	}
	fclose(f);
	if (getenv("REPLAY_VERBOSE"))
		fprintf(stderr, "replay: %s (%zu bytes)\n", path, len);
	/* An exact-size copy, so that ASan sees a read past the input. */
	{
		unsigned char *exact = malloc(len ? len : 1);

		if (exact == NULL) {
			free(buf);
			return -1;
		}
		memcpy(exact, buf, len);
		free(buf);
		LLVMFuzzerTestOneInput(exact, len);
		free(exact);
	}
	nfiles++;
	nbytes += len;
	return 0;
}

static int
by_name(const struct dirent **a, const struct dirent **b)
{
	return strcmp((*a)->d_name, (*b)->d_name);
}

static void
run_path(const char *path)
{
	struct stat st;
	struct dirent **ents;
	int n;

	if (stat(path, &st) < 0) {
		fprintf(stderr, "replay: %s: %s\n", path, strerror(errno));
		failed = 1;
		return;
	}
	if (!S_ISDIR(st.st_mode)) {
		if (run_file(path) < 0)
			failed = 1;
		return;
	}
	if ((n = scandir(path, &ents, NULL, by_name)) < 0) {
		fprintf(stderr, "replay: %s: %s\n", path, strerror(errno));
		failed = 1;
		return;
	}
	for (int i = 0; i < n; i++) {
		const char *name = ents[i]->d_name;

		if (name[0] != '.') {
			size_t len = strlen(path) + strlen(name) + 2;
			char *sub = malloc(len);

			if (sub) {
				snprintf(sub, len, "%s/%s", path, name);
				run_path(sub);
				free(sub);
			} else
				failed = 1;
		}
		free(ents[i]);
	}
	free(ents);
}

int
main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: %s FILE|DIR...\n", argv[0]);
		return 2;
	}
	for (int i = 1; i < argc; i++)
		run_path(argv[i]);
	printf("%lu inputs, %llu bytes\n", nfiles, nbytes);
	return failed;
}
