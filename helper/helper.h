/*
 * helper.h: what every gcloud-gpu-helper command gets, and the command table.
 *
 * main.c finds the command by name (a unique prefix is accepted), builds the context
 * once (state root, boot-id file) and calls the command's function, which returns an
 * exit code from protocol.h and, on failure, sets *cause to one line that main prints.
 */
#ifndef GG_HELPER_H
#define GG_HELPER_H

#include <jansson.h>

struct helper_context {
	const char *root;         /* state root: GCLOUD_GPU_ROOT or /var/lib/gcloud-gpu */
	const char *boot_id_file; /* GCLOUD_GPU_BOOT_ID_FILE or /proc/.../boot_id */
	const char *self;         /* absolute path of this executable (re-exec, boot unit) */
};

struct helper_command {
	const char *name;
	int (*run)(struct helper_context *ctx, int argc, char **argv, char **cause);
	const char *usage; /* arguments, after the name */
	const char *about; /* one line for --help */
};

int cmd_probe(struct helper_context *ctx, int argc, char **argv, char **cause);
int cmd_version(struct helper_context *ctx, int argc, char **argv, char **cause);
int cmd_have(struct helper_context *ctx, int argc, char **argv, char **cause);
int cmd_recv(struct helper_context *ctx, int argc, char **argv, char **cause);
int cmd_unpack(struct helper_context *ctx, int argc, char **argv, char **cause);
int cmd_apply(struct helper_context *ctx, int argc, char **argv, char **cause);
int cmd_follow(struct helper_context *ctx, int argc, char **argv, char **cause);
int cmd_resume(struct helper_context *ctx, int argc, char **argv, char **cause);
int cmd_ensure(struct helper_context *ctx, int argc, char **argv, char **cause);
int cmd_status(struct helper_context *ctx, int argc, char **argv, char **cause);
int cmd_run(struct helper_context *ctx, int argc, char **argv, char **cause);
int cmd_idle_set(struct helper_context *ctx, int argc, char **argv, char **cause);
int cmd_idle_check(struct helper_context *ctx, int argc, char **argv, char **cause);

/*
 * Idle stop as `status` shows it (cmd-idle.c): period (0: off), timer (its link is in
 * place) and, from the last check, verdict, reason, checked_ago and stop_in seconds.
 */
json_t *gg_idle_status(const char *root);

#endif
