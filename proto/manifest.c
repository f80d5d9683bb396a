/*
 * manifest.c: building, printing and (defensively) parsing manifests.
 */
#include "manifest.h"

#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "error.h"
#include "hash.h"

void gg_manifest_release(struct gg_manifest *m)
{
	size_t i;

	for (i = 0; i < m->count; i++)
		free(m->files[i].path);
	free(m->files);
	m->files = NULL;
	m->count = m->alloc = 0;
}

int gg_manifest_path_check(const char *path, char **cause)
{
	const char *p, *start;
	size_t len = strlen(path);

	if (len == 0)
		return gg_fail(cause, -1, "empty path in manifest");
	if (len > GG_MANIFEST_MAX_PATH)
		return gg_fail(cause, -1, "path of %zu bytes is too long", len);
	if (path[0] == '/')
		return gg_fail(cause, -1, "absolute path '%s' refused", path);
	for (p = path; *p != '\0'; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f || *p == '\\')
			return gg_fail(cause, -1, "path '%s' has a control character or backslash", path);
	for (start = path;; start = p + 1) {
		p = strchr(start, '/');
		len = p != NULL ? (size_t)(p - start) : strlen(start);
		if (len == 0)
			return gg_fail(cause, -1, "path '%s' has an empty component", path);
		if ((len == 1 && start[0] == '.') || (len == 2 && start[0] == '.' && start[1] == '.'))
			return gg_fail(cause, -1, "path '%s' has a '.' or '..' component", path);
		if (len > GG_MANIFEST_MAX_COMPONENT)
			return gg_fail(cause, -1, "path '%s' has a component over %d bytes", path,
				       GG_MANIFEST_MAX_COMPONENT);
		if (p == NULL)
			break;
	}
	return 0;
}

int gg_manifest_add(struct gg_manifest *m, const char *path, unsigned int mode,
		    uint64_t size, const char *sha256, char **cause)
{
	struct gg_manifest_entry *e;

	if (gg_manifest_path_check(path, cause) != 0)
		return -1;
	if (!gg_sha256_hex_valid(sha256))
		return gg_fail(cause, -1, "'%s' has an invalid sha256", path);
	if (size > GG_MANIFEST_MAX_SIZE)
		return gg_fail(cause, -1, "'%s' is larger than the 1 TiB limit", path);
	if (m->count >= GG_MANIFEST_MAX_FILES)
		return gg_fail(cause, -1, "more than %d files in manifest", GG_MANIFEST_MAX_FILES);
	if (m->count == m->alloc) {
		size_t alloc = m->alloc == 0 ? 16 : m->alloc * 2;
		e = realloc(m->files, alloc * sizeof *e);
		if (e == NULL)
			return gg_fail(cause, -1, "out of memory");
		m->files = e;
		m->alloc = alloc;
	}
	e = &m->files[m->count];
	e->path = strdup(path);
	if (e->path == NULL)
		return gg_fail(cause, -1, "out of memory");
	e->mode = (mode & 0111) != 0 ? 0755 : 0644;
	e->size = size;
	memcpy(e->sha256, sha256, GG_SHA256_HEX_SIZE);
	m->count++;
	return 0;
}

static int compare_entries(const void *a, const void *b)
{
	const struct gg_manifest_entry *x = a, *y = b;

	return strcmp(x->path, y->path);
}

/* Is prefix (len bytes of path) itself a file entry?  m must be sorted. */
static int has_entry(const struct gg_manifest *m, const char *path, size_t len)
{
	size_t lo = 0, hi = m->count;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = strncmp(m->files[mid].path, path, len);

		if (c == 0 && m->files[mid].path[len] == '\0')
			return 1;
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return 0;
}

int gg_manifest_sort(struct gg_manifest *m, char **cause)
{
	size_t i;
	const char *slash;

	if (m->count > 1)
		qsort(m->files, m->count, sizeof *m->files, compare_entries);
	for (i = 0; i < m->count; i++) {
		const char *path = m->files[i].path;

		if (i > 0 && strcmp(m->files[i - 1].path, path) == 0)
			return gg_fail(cause, -1, "path '%s' appears twice in manifest", path);
		/* A file cannot also be the directory of another file. */
		for (slash = strchr(path, '/'); slash != NULL; slash = strchr(slash + 1, '/'))
			if (has_entry(m, path, (size_t)(slash - path)))
				return gg_fail(cause, -1, "path '%.*s' is both a file and a directory",
					       (int)(slash - path), path);
	}
	return 0;
}

int gg_manifest_format(struct gg_manifest *m, struct gg_buf *out, char **cause)
{
	json_t *root = NULL, *files = NULL, *file;
	char *text = NULL;
	size_t i;
	int r = -1;

	if (gg_manifest_sort(m, cause) != 0)
		return -1;
	root = json_object();
	files = json_array();
	if (root == NULL || files == NULL)
		goto oom;
	for (i = 0; i < m->count; i++) {
		const struct gg_manifest_entry *e = &m->files[i];

		file = json_pack("{s:s, s:i, s:I, s:s}", "path", e->path, "mode", (int)e->mode,
				 "size", (json_int_t)e->size, "sha256", e->sha256);
		if (file == NULL || json_array_append_new(files, file) != 0)
			goto oom;
	}
	if (json_object_set_new(root, "format", json_integer(GG_MANIFEST_FORMAT)) != 0 ||
	    json_object_set(root, "files", files) != 0)
		goto oom;
	text = json_dumps(root, JSON_COMPACT | JSON_SORT_KEYS);
	if (text == NULL || gg_buf_addstr(out, text) != 0)
		goto oom;
	r = 0;
	goto out;
oom:
	gg_fail(cause, -1, "out of memory formatting manifest");
out:
	free(text);
	json_decref(files);
	json_decref(root);
	return r;
}

int gg_manifest_parse(const char *text, size_t len, struct gg_manifest *m, char **cause)
{
	json_error_t jerr;
	json_t *root, *files, *file, *v;
	size_t i;
	int r = -1;

	root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
	if (root == NULL)
		return gg_fail(cause, -1, "manifest is not valid JSON: %s (line %d)", jerr.text,
			       jerr.line);
	if (!json_is_object(root)) {
		gg_fail(cause, -1, "manifest is not a JSON object");
		goto out;
	}
	v = json_object_get(root, "format");
	if (!json_is_integer(v) || json_integer_value(v) != GG_MANIFEST_FORMAT) {
		gg_fail(cause, -1, "manifest format is not %d", GG_MANIFEST_FORMAT);
		goto out;
	}
	files = json_object_get(root, "files");
	if (!json_is_array(files)) {
		gg_fail(cause, -1, "manifest has no 'files' array");
		goto out;
	}
	json_array_foreach(files, i, file) {
		json_t *path = json_object_get(file, "path"), *mode = json_object_get(file, "mode");
		json_t *size = json_object_get(file, "size"), *sum = json_object_get(file, "sha256");

		if (!json_is_string(path) || !json_is_integer(mode) || !json_is_integer(size) ||
		    !json_is_string(sum)) {
			gg_fail(cause, -1, "manifest entry %zu lacks path, mode, size or sha256", i);
			goto out;
		}
		if (json_integer_value(mode) != 0644 && json_integer_value(mode) != 0755) {
			gg_fail(cause, -1, "'%s' has mode %llo, only 644 and 755 are allowed",
				json_string_value(path), (unsigned long long)json_integer_value(mode));
			goto out;
		}
		if (json_integer_value(size) < 0) {
			gg_fail(cause, -1, "'%s' has a negative size", json_string_value(path));
			goto out;
		}
		if (gg_manifest_add(m, json_string_value(path), (unsigned)json_integer_value(mode),
				    (uint64_t)json_integer_value(size), json_string_value(sum),
				    cause) != 0)
			goto out;
	}
	if (gg_manifest_sort(m, cause) != 0)
		goto out;
	r = 0;
out:
	if (r != 0)
		gg_manifest_release(m);
	json_decref(root);
	return r;
}
