/* replay.c: a fuzz target without libFuzzer. Feeds every file named on the command line
 * (a directory: each file in it, in name order) to LLVMFuzzerTestOneInput, each in a child
 * process of its own so that one crash does not hide the rest, under whatever sanitizers
 * the target was built with (ASan/UBSan in `make check`; LeakSanitizer runs as each child
 * exits). A child that crashes, trips a sanitizer, fails a FUZZ_ASSERT or runs over the
 * time limit fails. Prints `N passed, N failed` last; exit status 1 if any failed.
 * Usage: replay-TARGET [--timeout SECONDS] FILE|DIR... */
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "fuzz.h"

int LLVMFuzzerInitialize(int *argc, char ***argv) __attribute__((weak));

static unsigned timeout_s = 10;
static int passed, failed;

/* The whole file, malloc'd to its exact size, as libFuzzer hands inputs over (so that
 * ASan sees a read one past the end). */
static uint8_t *read_file(const char *path, size_t *size)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return NULL;
	uint8_t *buf = NULL;
	struct stat st;
	if (fstat(fileno(f), &st) == 0 && S_ISREG(st.st_mode)) {
		*size = (size_t)st.st_size;
		buf = malloc(*size ? *size : 1);
		if (buf && fread(buf, 1, *size, f) != *size) {
			free(buf);
			buf = NULL;
		}
	}
	fclose(f);
	return buf;
}

/* The child: one input, then exit (LeakSanitizer checks at exit). */
static _Noreturn void run_child(const char *path)
{
	size_t size = 0;
	uint8_t *data = read_file(path, &size);
	if (!data) {
		fprintf(stderr, "replay: cannot read '%s'\n", path);
		exit(3);
	}
	alarm(timeout_s);
	LLVMFuzzerTestOneInput(data, size);
	free(data);
	exit(0);
}

static void report(const char *path, int status)
{
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
		passed++;
		return;
	}
	failed++;
	if (WIFSIGNALED(status) && WTERMSIG(status) == SIGALRM)
		printf("FAIL %s: still running after %u s\n", path, timeout_s);
	else if (WIFSIGNALED(status))
		printf("FAIL %s: killed by signal %d\n", path, WTERMSIG(status));
	else
		printf("FAIL %s: exit status %d\n", path, WEXITSTATUS(status));
}

static void replay_file(const char *path)
{
	fflush(stdout);
	fflush(stderr);
	pid_t pid = fork();
	if (pid < 0) {
		perror("fork");
		exit(2);
	}
	if (pid == 0)
		run_child(path);
	int status;
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR) {
			perror("waitpid");
			exit(2);
		}
	report(path, status);
}

static int visible(const struct dirent *e)
{
	return e->d_name[0] != '.';
}

static void replay_path(const char *path)
{
	struct stat st;
	if (stat(path, &st) != 0) {
		printf("FAIL %s: %s\n", path, strerror(errno));
		failed++;
		return;
	}
	if (!S_ISDIR(st.st_mode)) {
		replay_file(path);
		return;
	}
	struct dirent **list;
	int n = scandir(path, &list, visible, alphasort);
	for (int i = 0; i < n; i++) {
		char sub[4096];
		snprintf(sub, sizeof sub, "%s/%s", path, list[i]->d_name);
		if (stat(sub, &st) == 0 && S_ISREG(st.st_mode))
			replay_file(sub);
		free(list[i]);
	}
	free(n >= 0 ? list : NULL);
}

int main(int argc, char **argv)
{
	int i = 1;
	if (argc > 2 && strcmp(argv[1], "--timeout") == 0) {
		timeout_s = (unsigned)atoi(argv[2]);
		i = 3;
	}
	if (LLVMFuzzerInitialize)
		LLVMFuzzerInitialize(&argc, &argv);
	for (; i < argc; i++)
		replay_path(argv[i]);
	printf("%d passed, %d failed\n", passed, failed);
	return failed != 0;
}
