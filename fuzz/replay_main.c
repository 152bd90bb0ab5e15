// SPDX-License-Identifier: MIT
/*
 * Runs a libFuzzer target over files without libFuzzer: each argument is a
 * file or a directory of files. Used so every corpus is replayed in the normal
 * test suite with gcc. Prints TAP: one test per corpus file, plus a short
 * deterministic random sweep per file (bit flips and truncations).
 */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int n_run;

static void run_mutations(const uint8_t *data, size_t size)
{
	uint8_t *buf = malloc(size ? size : 1);
	uint32_t seed = 0x9e3779b9u ^ (uint32_t)size;

	if (!buf)
		return;
	for (int i = 0; i < 64; i++) {
		size_t len = size;
		memcpy(buf, data, size);
		seed = seed * 1103515245u + 12345u;
		if (size) {
			for (int k = 0; k < 4; k++) {
				seed = seed * 1103515245u + 12345u;
				buf[(seed >> 8) % size] ^= (uint8_t)(1u << (seed & 7));
			}
			if (i % 8 == 7)
				len = (seed >> 4) % size;
		}
		LLVMFuzzerTestOneInput(buf, len);
	}
	free(buf);
}

static void run_file(const char *path)
{
	FILE *f = fopen(path, "rb");
	uint8_t *data = NULL;
	long size;

	if (!f) {
		printf("not ok %d - %s (cannot open)\n", ++n_run, path);
		return;
	}
	fseek(f, 0, SEEK_END);
	size = ftell(f);
	fseek(f, 0, SEEK_SET);
	data = malloc(size > 0 ? (size_t)size : 1);
	if (!data || (size > 0 && fread(data, 1, (size_t)size, f) != (size_t)size)) {
		printf("not ok %d - %s (cannot read)\n", ++n_run, path);
		fclose(f);
		free(data);
		return;
	}
	fclose(f);
	LLVMFuzzerTestOneInput(data, (size_t)size);
	run_mutations(data, (size_t)size);
	free(data);
	printf("ok %d - %s\n", ++n_run, path);
}

int main(int argc, char **argv)
{
	printf("TAP version 13\n");
	/* An empty input always runs, so a target with no corpus still runs once. */
	LLVMFuzzerTestOneInput((const uint8_t *)"", 0);
	printf("ok %d - empty input\n", ++n_run);
	for (int i = 1; i < argc; i++) {
		struct stat st;
		if (stat(argv[i], &st) == 0 && S_ISDIR(st.st_mode)) {
			struct dirent **names;
			int n = scandir(argv[i], &names, NULL, alphasort);
			for (int k = 0; k < n; k++) {
				char path[4096];
				if (names[k]->d_name[0] != '.') {
					snprintf(path, sizeof(path), "%s/%s", argv[i], names[k]->d_name);
					run_file(path);
				}
				free(names[k]);
			}
			if (n >= 0)
				free(names);
		} else {
			run_file(argv[i]);
		}
	}
	printf("1..%d\n", n_run);
	return 0;
}
