/*
 * fuzz_manifest.c: the manifest parser, the root helper's first untrusted input.
 *
 * `have` reads a manifest from a client over SSH and later lays out a release by its
 * paths, as root.  Beyond "no crash, no leak", this asserts what gg_manifest_parse
 * promises: a refusal sets a cause and leaves no entries; an accepted manifest has
 * only safe relative paths (checked again here by an independent walk, so that a bug
 * in gg_manifest_path_check cannot hide itself), 0644/0755 modes, valid sums, sorted
 * unique paths, and its canonical form parses back to the same canonical bytes.
 */
#include <string.h>

#include "buf.h"
#include "fuzz.h"
#include "hash.h"
#include "manifest.h"

/* Could path, joined under a directory, name anything outside it?  Our own walk. */
static int path_escapes(const char *path)
{
	const char *p = path;

	if (*p == '\0' || *p == '/')
		return 1;
	while (*p != '\0') {
		size_t n = strcspn(p, "/");

		if (n == 0 || (n == 1 && p[0] == '.') || (n == 2 && p[0] == '.' && p[1] == '.'))
			return 1;
		p += n;
		if (*p == '/')
			p++;
		if (*p == '\0' && p[-1] == '/')
			return 1; /* trailing slash: a directory, not a file */
	}
	return strchr(path, '\\') != NULL;
}

static void check_accepted(const struct gg_manifest *m)
{
	size_t i;

	FUZZ_ASSERT(m->count <= GG_MANIFEST_MAX_FILES);
	for (i = 0; i < m->count; i++) {
		const struct gg_manifest_entry *e = &m->files[i];

		FUZZ_ASSERT(e->path != NULL);
		FUZZ_ASSERT(!path_escapes(e->path));
		FUZZ_ASSERT(strlen(e->path) <= GG_MANIFEST_MAX_PATH);
		FUZZ_ASSERT(e->mode == 0644 || e->mode == 0755);
		FUZZ_ASSERT(e->size <= GG_MANIFEST_MAX_SIZE);
		FUZZ_ASSERT(gg_sha256_hex_valid(e->sha256));
		if (i > 0)
			FUZZ_ASSERT(strcmp(m->files[i - 1].path, e->path) < 0);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct gg_manifest m = GG_MANIFEST_INIT, back = GG_MANIFEST_INIT;
	struct gg_buf text = GG_BUF_INIT, again = GG_BUF_INIT;
	char *cause = NULL;

	if (gg_manifest_parse((const char *)data, size, &m, &cause) != 0) {
		FUZZ_ASSERT(cause != NULL && cause[0] != '\0');
		FUZZ_ASSERT(fuzz_cause_is_printable(cause));
		FUZZ_ASSERT(m.count == 0 && m.files == NULL);
		free(cause);
		return 0;
	}
	FUZZ_ASSERT(cause == NULL);
	check_accepted(&m);

	/* Canonical: what we print parses back and prints the same bytes again. */
	FUZZ_ASSERT(gg_manifest_format(&m, &text, &cause) == 0);
	FUZZ_ASSERT(gg_manifest_parse(text.data, text.len, &back, &cause) == 0);
	FUZZ_ASSERT(back.count == m.count);
	FUZZ_ASSERT(gg_manifest_format(&back, &again, &cause) == 0);
	FUZZ_ASSERT(text.len == again.len && memcmp(text.data, again.data, text.len) == 0);

	gg_buf_release(&again);
	gg_buf_release(&text);
	gg_manifest_release(&back);
	gg_manifest_release(&m);
	return 0;
}
