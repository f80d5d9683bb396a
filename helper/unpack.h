/*
 * unpack.h: secure extraction of a tar (optionally zstd) archive into a directory.
 *
 * The archive is untrusted.  Every entry is checked before libarchive writes it
 * (which itself runs with ARCHIVE_EXTRACT_SECURE_NODOTDOT, _SECURE_SYMLINKS and
 * _SECURE_NOABSOLUTEPATHS): only regular files, directories, symlinks that stay
 * inside the tree and hard links to files already extracted inside the tree; no
 * device nodes, fifos or sockets; no set-uid or set-gid bit; no absolute path, no
 * ".." and no name over the manifest's length limits.  The first entry refused is
 * named in the error, and the whole extraction is abandoned.
 *
 * Extraction goes into a staging directory next to dest, which replaces dest in one
 * rename only when every entry was written: a refused, corrupt or truncated archive
 * leaves dest (the previous release) exactly as it was.  Owners are never looked up
 * (no NSS in a static binary): files belong to the helper's user.
 */
#ifndef GG_UNPACK_H
#define GG_UNPACK_H

/* Extract archive (a path) into dest; 0, or GG_HELPER_REFUSED / _SYSTEM with *cause. */
int gg_unpack(const char *archive, const char *dest, char **cause);

#endif
