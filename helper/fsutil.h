/*
 * fsutil.h: the few file-system moves every part of the helper makes, done one way.
 *
 * The helper runs as root on a machine someone pays for; whatever it writes must
 * either be complete or not be there at all.  So files are written to a temporary
 * name, fsync'd, renamed into place and their directory fsync'd; directories are
 * built under a temporary name next to their destination and swapped in with one
 * rename.  Every function returns 0, or a code from protocol.h with *cause set.
 */
#ifndef GG_FSUTIL_H
#define GG_FSUTIL_H

#include <stddef.h>
#include <sys/types.h>

#include "buf.h"

/*
 * Create the state root (mode 0700, its parent must exist) and the store and
 * release directories under it, and tighten the root to 0700 if others could read
 * it.  A root (or its bin/) owned by another user or writable by group or others is
 * refused (GG_HELPER_REFUSED): someone else could have swapped the helper.
 */
int gg_root_prepare(const char *root, char **cause);

/* "<a>/<b>" into a new malloc'd string, or NULL on ENOMEM. */
char *gg_path_join(const char *a, const char *b);

/* "<root>/<dir>/<name><suffix>" (a blob, a partial, a release...), or NULL on ENOMEM. */
char *gg_root_path(const char *root, const char *dir, const char *name, const char *suffix);

/* write(2) all of data, retrying on EINTR and short writes; -1 with errno set. */
int gg_write_all(int fd, const void *data, size_t len);

/* fsync a directory by path, so a rename or create in it is durable. */
int gg_fsync_dir(const char *path, char **cause);

/*
 * Replace path with data: write "<path>.tmp", fsync, rename over path, fsync the
 * directory.  Mode is the new file's (0600 for everything the helper keeps).  For
 * files only the lock holder writes (state.json, the boot unit).
 */
int gg_write_file_atomic(const char *path, const void *data, size_t len, mode_t mode,
			 char **cause);

/*
 * As gg_write_file_atomic, for a path that several processes may write at once (a
 * content-addressed blob that two `have` of one new manifest write; the idle stop's
 * setting and units that idle-set and idle-check write): each writes its own temporary
 * file ("<path>.tmp-XXXXXX"), the last rename wins whole, and when the rename fails a
 * file already in its place counts as written.
 */
int gg_write_file_shared(const char *path, const void *data, size_t len, mode_t mode,
			 char **cause);

/*
 * Read all of fd (name, already quoted as needed, says what it is in errors) or a
 * whole file, of at most max bytes, appending to out.
 */
int gg_read_fd(int fd, const char *name, size_t max, struct gg_buf *out, char **cause);
int gg_read_file(const char *path, size_t max, struct gg_buf *out, char **cause);

/* rm -rf, never following symlinks; a missing path is not an error. */
int gg_remove_tree(const char *path, char **cause);

/*
 * Staging a directory: gg_stage_dir makes an empty directory next to dest (same
 * parent, so the final rename cannot cross file systems) and returns its malloc'd
 * path in *tmp.  Fill it, then gg_stage_commit syncs the file system, puts it in
 * place of dest (atomically exchanging with an existing dest, which is then
 * removed) and fsyncs the parent.  Commit takes tmp: it frees it, and on failure
 * removes the staging directory.  When filling fails, gg_stage_abort removes and
 * frees it.  dest is never touched until the commit's one rename.
 */
int gg_stage_dir(const char *dest, char **tmp, char **cause);
int gg_stage_commit(char *tmp, const char *dest, char **cause);
void gg_stage_abort(char *tmp);

/*
 * Whether the file system holding path (the state root) is full for the helper: it
 * runs as root, so what counts is the space root may still use (f_bfree, reserved
 * blocks included), and full means below GG_DISK_FULL_BYTES, too little for the
 * runner's next events and state.  *free_bytes (may be NULL) gets that space.  0
 * when it cannot be measured.
 */
#define GG_DISK_FULL_BYTES (1024 * 1024)
int gg_disk_full(const char *path, unsigned long long *free_bytes);

/* The boot id (first line of file, trimmed) into out; "unknown" if unreadable. */
void gg_read_boot_id(const char *file, char out[64]);

#endif
