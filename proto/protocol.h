/*
 * protocol.h: what gcloud-gpu and gcloud-gpu-helper agree on.
 *
 * The CLI on the user's machine and the static helper on the VM are built from the
 * same tree but may be of different versions on the wire: the CLI uploads the helper
 * it was built with, yet a VM can still run an older one while that upload is being
 * decided.  Everything both sides must read the same way lives here, and only here:
 * the event protocol version, the event types, the helper's exit codes, the on-VM
 * layout and the environment variables that relocate it for tests.
 */
#ifndef GG_PROTOCOL_H
#define GG_PROTOCOL_H

/* Bumped whenever an event field changes meaning or a required field is added. */
#define GG_PROTOCOL_VERSION 1

/* The helper's state root on the VM and the variable that moves it (tests). */
#define GG_DEFAULT_ROOT "/var/lib/gcloud-gpu"
#define GG_ENV_ROOT "GCLOUD_GPU_ROOT"

/* Where the boot id is read; tests point it at a file they rewrite to "reboot". */
#define GG_DEFAULT_BOOT_ID_FILE "/proc/sys/kernel/random/boot_id"
#define GG_ENV_BOOT_ID_FILE "GCLOUD_GPU_BOOT_ID_FILE"

/* Layout under the root (see docs/ARCHITECTURE.md, "On the VM"). */
#define GG_DIR_BLOBS "blobs"
#define GG_DIR_RELEASES "releases"
#define GG_FILE_STATE "state.json"
#define GG_FILE_EVENTS "events.jsonl"
#define GG_FILE_LOCK "lock"
#define GG_FILE_TOKEN "jupyter-token"

/* A sha256 in lower-case hex, plus its terminating NUL. */
#define GG_SHA256_HEX_SIZE 65

/*
 * Exit codes of gcloud-gpu-helper.  The CLI maps them to its own (plugin/cli.h);
 * they are a protocol, so values never change once released.
 */
enum gg_helper_exit {
	GG_HELPER_OK = 0,
	GG_HELPER_FAILED = 1,     /* the plan ran and a step failed */
	GG_HELPER_USAGE = 2,      /* bad command line */
	GG_HELPER_REFUSED = 3,    /* input refused: bad manifest, archive, checksum */
	GG_HELPER_SYSTEM = 4,     /* I/O or system error: disk full, unwritable root */
	GG_HELPER_BUSY = 5,       /* another runner holds the lock */
	GG_HELPER_DETACHED = 6,   /* follow stopped before the plan ended (still running) */
};

/* Event types, in the order a plan normally emits them. */
enum gg_event_type {
	GG_EVENT_HELLO,
	GG_EVENT_PLAN,
	GG_EVENT_STEP_START,
	GG_EVENT_PROGRESS,
	GG_EVENT_LOG,
	GG_EVENT_STEP_DONE,
	GG_EVENT_STEP_SKIPPED,
	GG_EVENT_STEP_FAILED,
	GG_EVENT_REBOOT,
	GG_EVENT_DONE,
	GG_EVENT_FAILED,
	GG_EVENT_TYPE_COUNT
};

/* Steps contract: the exit status of `apply` that asks for a reboot. */
#define GG_STEP_EXIT_REBOOT 100

#endif
