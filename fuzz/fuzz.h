/* fuzz.h: what the fuzz targets share. Each target is one LLVMFuzzerTestOneInput, built
 * twice: with libFuzzer (clang -fsanitize=fuzzer, `make fuzz`) and with fuzz/replay.c's
 * main, which feeds it files under ASan/UBSan (`make check` replays the regressions).
 * Beyond "no crash, no leak, no hang", each target asserts the promises of the interface
 * it drives (FUZZ_ASSERT), so a wrong answer is a finding too. */
#ifndef GEQC_FUZZ_H
#define GEQC_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

/* A broken promise: say which, and abort, so that libFuzzer saves the input. */
#define FUZZ_ASSERT(cond)                                                                          \
	do {                                                                                       \
		if (!(cond)) {                                                                     \
			fprintf(stderr, "%s:%d: fuzz assertion failed: %s\n", __FILE__, __LINE__,  \
			        #cond);                                                            \
			abort();                                                                   \
		}                                                                                  \
	} while (0)

/* An in-memory regular file (the loaders read only regular files, by path), reused for
 * every input: its path is /proc/self/fd/N. */
typedef struct FuzzFile {
	int fd;
	char path[32];
} FuzzFile;

static inline void fuzz_file_open(FuzzFile *f, const char *name)
{
	f->fd = memfd_create(name, MFD_CLOEXEC);
	if (f->fd < 0) {
		perror("memfd_create");
		exit(2);
	}
	snprintf(f->path, sizeof f->path, "/proc/self/fd/%d", f->fd);
}

/* Makes the file hold exactly data[0..size); returns its path. */
static inline const char *fuzz_file_set(FuzzFile *f, const uint8_t *data, size_t size)
{
	if (ftruncate(f->fd, 0) != 0) {
		perror("ftruncate");
		exit(2);
	}
	for (size_t at = 0; at < size;) {
		ssize_t n = pwrite(f->fd, data + at, size - at, (off_t)at);
		if (n <= 0) {
			perror("pwrite");
			exit(2);
		}
		at += (size_t)n;
	}
	return f->path;
}

/* A loader's error must read "PATH: what is wrong", and say something. */
static inline int fuzz_error_names(const char *err, const char *path)
{
	size_t n = strlen(path);
	return strncmp(err, path, n) == 0 && err[n] == ':' && err[n + 1] == ' ' && err[n + 2];
}

#endif
