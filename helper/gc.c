/*
 * gc.c: removing the releases and blobs no kept manifest needs (see gc.h).
 */
#include "gc.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "error.h"
#include "fsutil.h"
#include "hash.h"
#include "manifest.h"
#include "protocol.h"
#include "release.h"
#include "store.h"

/* The manifests collection keeps, loaded, and whether each one's release was intact. */
struct kept {
	const char *sha256;
	struct gg_manifest m;
	int intact;
};

/*
 * Load the kept manifests into k (count of them, NULL names skipped) and make the set
 * (a JSON object used as one) of every sha256 they need: the manifests' own names in
 * *manifests, those and all the blobs they list in *blobs.
 */
static int keep_set(const char *root, const char *const *keep, size_t count, struct kept *k,
		    json_t **manifests, json_t **blobs, char **cause)
{
	size_t i, j;

	*manifests = json_object();
	*blobs = json_object();
	if (*manifests == NULL || *blobs == NULL)
		return gg_fail(cause, -1, "out of memory");
	for (i = 0; i < count; i++) {
		if (keep[i] == NULL)
			continue;
		k[i].sha256 = keep[i];
		if (gg_store_load_manifest(root, keep[i], &k[i].m, cause) != 0)
			return -1;
		k[i].intact = gg_release_intact(root, keep[i], &k[i].m);
		json_object_set_new(*manifests, keep[i], json_true());
		json_object_set_new(*blobs, keep[i], json_boolean(gg_store_sealed(root, keep[i])));
		/* Whether each is sealed now: collect_releases may move its ctime (links). */
		for (j = 0; j < k[i].m.count; j++)
			json_object_set_new(*blobs, k[i].m.files[j].sha256,
					    json_boolean(gg_store_sealed(root, k[i].m.files[j].sha256)));
	}
	return 0;
}

enum release_entry { ENTRY_OTHER, ENTRY_RELEASE, ENTRY_MARK, ENTRY_STAGING };

/*
 * What an entry of releases/ is: a release "<sha>", its mark "<sha>.done", or what a
 * layout that never finished left ("<sha>.tmp-XXXXXX", gg_stage_dir); sha is set.
 */
static enum release_entry release_entry(const char *name, char sha[GG_SHA256_HEX_SIZE])
{
	const char *rest = name + GG_SHA256_HEX_SIZE - 1;

	if (strlen(name) < GG_SHA256_HEX_SIZE - 1)
		return ENTRY_OTHER;
	memcpy(sha, name, GG_SHA256_HEX_SIZE - 1);
	sha[GG_SHA256_HEX_SIZE - 1] = '\0';
	if (!gg_sha256_hex_valid(sha))
		return ENTRY_OTHER;
	if (*rest == '\0')
		return ENTRY_RELEASE;
	if (strcmp(rest, ".done") == 0)
		return ENTRY_MARK;
	if (strncmp(rest, ".tmp-", 5) == 0)
		return ENTRY_STAGING;
	return ENTRY_OTHER;
}

static void collect_releases(const char *root, json_t *manifests, struct gg_gc_stats *st)
{
	char *dir = gg_path_join(root, GG_DIR_RELEASES), sha[GG_SHA256_HEX_SIZE];
	char *path, *mark;
	struct dirent *d;
	DIR *dp = dir != NULL ? opendir(dir) : NULL;
	enum release_entry kind;

	while (dp != NULL && (d = readdir(dp)) != NULL) {
		kind = release_entry(d->d_name, sha);
		if (kind == ENTRY_OTHER ||
		    (kind != ENTRY_STAGING && json_object_get(manifests, sha) != NULL))
			continue;
		path = gg_path_join(dir, d->d_name);
		mark = gg_release_mark_path(root, sha);
		if (path != NULL && mark != NULL) {
			if (kind == ENTRY_MARK)
				unlink(path);
			else if (kind == ENTRY_STAGING)   /* no layout runs: the caller holds the lock */
				gg_remove_tree(path, NULL);
			else if ((unlink(mark) == 0 || errno == ENOENT) &&
				 gg_remove_tree(path, NULL) == 0)
				st->releases++;
		}
		free(path);
		free(mark);
	}
	if (dp != NULL)
		closedir(dp);
	free(dir);
}

/* When blob name (in blobs/, fd) was last used: its mtime or its seal's (store.h). */
static time_t blob_used(int fd, const char *name, const struct stat *blob)
{
	char seal[GG_SHA256_HEX_SIZE + sizeof GG_STORE_SEAL_SUFFIX];
	struct stat s;

	snprintf(seal, sizeof seal, "%s%s", name, GG_STORE_SEAL_SUFFIX);
	if (fstatat(fd, seal, &s, AT_SYMLINK_NOFOLLOW) == 0 && s.st_mtim.tv_sec > blob->st_mtim.tv_sec)
		return s.st_mtim.tv_sec;
	return blob->st_mtim.tv_sec;
}

/*
 * A seal whose blob is gone ("<sha256>.seal" with no "<sha256>" beside it), or one
 * whose writing stopped half-way ("<sha256>.seal.tmp": a seal is only ever renamed in
 * whole, and one missing costs a hash, never trust).
 */
static int orphan_seal(int fd, const char *name)
{
	char sha[GG_SHA256_HEX_SIZE];
	size_t len = strlen(name);
	struct stat s;

	if (len == GG_SHA256_HEX_SIZE - 1 + strlen(GG_STORE_SEAL_SUFFIX ".tmp") &&
	    strcmp(name + GG_SHA256_HEX_SIZE - 1, GG_STORE_SEAL_SUFFIX ".tmp") == 0)
		return 1;
	if (len != GG_SHA256_HEX_SIZE - 1 + strlen(GG_STORE_SEAL_SUFFIX) ||
	    strcmp(name + GG_SHA256_HEX_SIZE - 1, GG_STORE_SEAL_SUFFIX) != 0)
		return 0;
	snprintf(sha, sizeof sha, "%.*s", GG_SHA256_HEX_SIZE - 1, name);
	return gg_sha256_hex_valid(sha) && fstatat(fd, sha, &s, AT_SYMLINK_NOFOLLOW) != 0 &&
	       errno == ENOENT;
}

static void collect_blobs(const char *root, json_t *blobs, struct gg_gc_stats *st)
{
	char *dir = gg_path_join(root, GG_DIR_BLOBS), seal[GG_SHA256_HEX_SIZE + 8];
	struct timespec now;
	struct dirent *d;
	struct stat s;
	DIR *dp = dir != NULL ? opendir(dir) : NULL;
	int fd = dp != NULL ? dirfd(dp) : -1;

	/* The mtime that `have` sets comes from the same clock as this reading. */
	clock_gettime(CLOCK_REALTIME, &now);
	while (dp != NULL && (d = readdir(dp)) != NULL) {
		if (orphan_seal(fd, d->d_name)) {
			unlinkat(fd, d->d_name, 0);
			continue;
		}
		/* "<sha256>" only: partial blobs and anything else are not the store's to drop. */
		if (!gg_sha256_hex_valid(d->d_name) || json_object_get(blobs, d->d_name) != NULL ||
		    fstatat(fd, d->d_name, &s, AT_SYMLINK_NOFOLLOW) != 0 || !S_ISREG(s.st_mode) ||
		    now.tv_sec - blob_used(fd, d->d_name, &s) < GG_GC_GRACE_SECONDS)
			continue;
		snprintf(seal, sizeof seal, "%s%s", d->d_name, GG_STORE_SEAL_SUFFIX);
		unlinkat(fd, seal, 0);
		if (unlinkat(fd, d->d_name, 0) == 0) {
			st->blobs++;
			st->bytes += (uint64_t)s.st_size;
		}
	}
	if (dp != NULL)
		closedir(dp);
	free(dir);
}

int gg_gc(const char *root, const char *const *keep, size_t count, struct gg_gc_stats *stats,
	  char **cause)
{
	struct gg_gc_stats st = { 0, 0, 0 };
	json_t *manifests = NULL, *blobs = NULL;
	struct kept *k = calloc(count + 1, sizeof *k);   /* each m is GG_MANIFEST_INIT */
	char *why = NULL;
	const char *name;
	json_t *sealed;
	size_t i;
	int r = k != NULL ? 0 : gg_fail(cause, -1, "out of memory");

	if (r == 0 && (r = keep_set(root, keep, count, k, &manifests, &blobs, cause)) == 0) {
		collect_releases(root, manifests, &st);
		collect_blobs(root, blobs, &st);
		/*
		 * A kept release shares files (hard links) with the ones just removed: their
		 * link counts and ctimes moved, so its mark no longer matches.  Nothing but
		 * this removal touched it (the caller holds the lock: no step runs), so one
		 * that was intact before is sealed again for what it is now.
		 */
		/* Likewise the kept blobs: sealed before, so still what was verified. */
		json_object_foreach(blobs, name, sealed)
			if (json_is_true(sealed) && !gg_store_sealed(root, name))
				gg_store_seal(root, name);
		for (i = 0; i < count; i++)
			if (k[i].intact && st.releases > 0 &&
			    !gg_release_intact(root, k[i].sha256, &k[i].m) &&
			    gg_release_reseal(root, k[i].sha256, &k[i].m, &why) != 0) {
				free(why);
				why = NULL;
			}
	}
	for (i = 0; k != NULL && i < count; i++)
		gg_manifest_release(&k[i].m);
	free(k);
	if (stats != NULL)
		*stats = st;
	json_decref(manifests);
	json_decref(blobs);
	return r;
}
