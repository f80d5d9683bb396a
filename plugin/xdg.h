/*
 * xdg.h: where gcloud-gpu keeps files on the user's machine, per the XDG base
 * directory rules: the hash cache under $XDG_CACHE_HOME (default ~/.cache) and the
 * last event seen per target under $XDG_STATE_HOME (default ~/.local/state).
 */
#ifndef GG_XDG_H
#define GG_XDG_H

enum xdg_kind {
	XDG_CACHE,
	XDG_STATE,
};

/*
 * The malloc'd path "<base>/gcloud-gpu/<name>" for kind (name may hold '/').  With
 * create set, the directories up to the file's are made (mode 0700) first; failing that is
 * not reported here: the caller's open of the file says what went wrong.
 */
char *xdg_path(enum xdg_kind kind, const char *name, int create);

#endif
