/*
 * fuzz_osrelease.c: the os-release reader (os-release.h) behind the helper's probe,
 * which the root helper runs on whatever text the VM's /etc/os-release holds.
 *
 * The input is the file's text.  Asserted: the reader never fails but for memory
 * (a fact it cannot read is null, never a failed probe); it sets exactly "id",
 * "version_id" and "pretty_name", each a string or null; a value is one line; and
 * what it read round-trips: written back as double-quoted os-release lines (with
 * '"' and '\' escaped, as os-release(5) says) it reads back to the same values.
 */
#include <string.h>

#include "buf.h"
#include "fuzz.h"
#include "os-release.h"

static const char *const keys[][2] = {
	{ "ID", "id" }, { "VERSION_ID", "version_id" }, { "PRETTY_NAME", "pretty_name" },
};

static void check_fields(json_t *obj)
{
	const json_t *v;
	size_t i;

	FUZZ_ASSERT(json_object_size(obj) == 3);
	for (i = 0; i < 3; i++) {
		v = json_object_get(obj, keys[i][1]);
		FUZZ_ASSERT(v != NULL && (json_is_null(v) || json_is_string(v)));
		if (json_is_string(v))
			FUZZ_ASSERT(strchr(json_string_value(v), '\n') == NULL);
	}
}

/* The values of obj as os-release text, each double-quoted with escapes. */
static char *write_back(json_t *obj)
{
	struct gg_buf b = GG_BUF_INIT;
	const char *s;
	size_t i;

	for (i = 0; i < 3; i++) {
		s = json_string_value(json_object_get(obj, keys[i][1]));
		if (s == NULL)
			continue;
		FUZZ_ASSERT(gg_buf_addstr(&b, keys[i][0]) == 0 && gg_buf_addstr(&b, "=\"") == 0);
		for (; *s != '\0'; s++) {
			if (*s == '"' || *s == '\\')
				FUZZ_ASSERT(gg_buf_addch(&b, '\\') == 0);
			FUZZ_ASSERT(gg_buf_addch(&b, *s) == 0);
		}
		FUZZ_ASSERT(gg_buf_addstr(&b, "\"\n") == 0);
	}
	FUZZ_ASSERT(gg_buf_addch(&b, '\0') == 0);
	return gg_buf_detach(&b, NULL);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = malloc(size + 1), *again;
	json_t *obj = json_object(), *reread = json_object();

	FUZZ_ASSERT(text != NULL && obj != NULL && reread != NULL);
	memcpy(text, data, size);
	text[size] = '\0';

	FUZZ_ASSERT(gg_os_release_fields(obj, text) == 0);
	check_fields(obj);
	again = write_back(obj);
	FUZZ_ASSERT(gg_os_release_fields(reread, again) == 0);
	FUZZ_ASSERT(json_equal(obj, reread));

	free(again);
	json_decref(reread);
	json_decref(obj);
	free(text);
	return 0;
}
