/*
 * idle-look.h: one look at the machine for the idle check (idle.h): what Jupyter,
 * the GPUs, sshd, utmp and the runner's lock say, each answer read defensively.
 *
 * Everything the look reads was written by something else on the VM (Jupyter runs
 * the user's code in a container; nvidia-smi is whatever is first on root's PATH;
 * process titles are chosen by the processes), so the parsers below are fuzzed
 * (tests/fuzz/fuzz_idle.c) and bounded, and any answer they cannot read makes the
 * look "unknown" rather than quiet.
 *
 *   Jupyter   the VM's own curl, `curl -K -`: the URLs and the token travel in a
 *             config on stdin, never on a command line (ps shows those to every
 *             user); /api/status first, then /api/kernels, in one run.  Refused
 *             connection: down.  A timeout, an HTTP error, or JSON without the
 *             fields: unknown.
 *   GPUs      nvidia-smi --query-gpu=utilization.gpu and --query-compute-apps=pid,
 *             each killed after GG_IDLE_NVSMI_TIMEOUT_MS; a compute process whose
 *             command line is a Jupyter kernel (ipykernel) is judged by Jupyter's
 *             answer, not as a GPU user: TensorFlow holds the GPU in every kernel
 *             that imported it, busy or not.
 *   SSH       /proc: a process named sshd or sshd-session whose title is a session
 *             past authentication ("sshd: USER@pts/0", "sshd: USER@notty", and
 *             "sshd: USER" for a connection that only forwards ports, a tunnel).
 *   logins    /run/utmp: USER_PROCESS entries whose process lives.
 *   plan      the runner's lock (journal.h gg_lock_held).
 */
#ifndef GG_IDLE_LOOK_H
#define GG_IDLE_LOOK_H

#include <stddef.h>

#include "idle.h"

/* How long nvidia-smi and curl may take before they are killed. */
#define GG_IDLE_NVSMI_TIMEOUT_MS 10000
#define GG_IDLE_CURL_TIMEOUT_S 5

/* Tests only: move what a look reads (ARCHITECTURE.md, "Idle stop"). */
#define GG_ENV_JUPYTER_URL "GCLOUD_GPU_JUPYTER_URL"   /* default http://127.0.0.1:8888 */
#define GG_ENV_UTMP_FILE "GCLOUD_GPU_UTMP_FILE"       /* default /run/utmp */
#define GG_ENV_IDLE_SSHD_PID "GCLOUD_GPU_IDLE_SSHD_PID" /* count only sessions below it */
#define GG_DEFAULT_JUPYTER_URL "http://127.0.0.1:8888"

/* The curl write-out line that follows each answer: the marker, then the HTTP code. */
#define GG_IDLE_CURL_MARK "@gcloud-gpu-http="

/* Where a look reads from. */
struct gg_idle_env {
	const char *root;        /* state root: jupyter-token and the lock */
	const char *jupyter_url; /* GG_DEFAULT_JUPYTER_URL, or a loopback URL in tests */
	const char *utmp;        /* "/run/utmp" */
	long sshd_pid;           /* 0: every sshd session counts; else only those below it */
};

/* Fill env from the environment (the test variables above) and root. */
void gg_idle_env_load(struct gg_idle_env *env, const char *root);

/*
 * Look at the machine.  Never fails: what cannot be read is marked unknown in look,
 * with why.  *polled_at is set to the wall time (clock.h) after Jupyter answered
 * /api/kernels, 0 when it was not asked.
 */
void gg_idle_look(const struct gg_idle_env *env, struct gg_idle_look *look, double *polled_at);

/*
 * The parsers, on text alone.  Each returns 0, or -1 with *cause (may be NULL) set to
 * one printable line.
 */

/* An ISO 8601 UTC time as Jupyter writes it ("2026-11-30T12:04:05.123456Z") to epoch s. */
int gg_idle_parse_time(const char *s, double *t);

/*
 * What `curl -K -` printed for the two URLs (each answer followed by a line
 * GG_IDLE_CURL_MARK CODE): /api/status's last_activity into look->jupyter_activity,
 * /api/kernels's count, busy ones and newest last_activity.  look->jupyter becomes
 * GG_JUPYTER_UP only on success.
 */
int gg_idle_parse_jupyter(const char *out, size_t len, struct gg_idle_look *look, char **cause);

/* nvidia-smi --query-gpu=utilization.gpu --format=csv,noheader,nounits: the highest. */
int gg_idle_parse_gpu_utilization(const char *text, int *highest, char **cause);

/*
 * nvidia-smi --query-compute-apps=pid --format=csv,noheader: the pids, at most max
 * of them stored (*count is how many lines named one, even past max).
 */
int gg_idle_parse_gpu_pids(const char *text, long *pids, size_t max, size_t *count,
			   char **cause);

/* Whether a /proc/PID/cmdline (NULs between arguments) is an sshd session past login. */
int gg_idle_sshd_session(const char *cmdline, size_t len);

/* Whether a /proc/PID/cmdline is a Jupyter kernel (python -m ipykernel_launcher ...). */
int gg_idle_is_kernel(const char *cmdline, size_t len);

/*
 * The USER_PROCESS entries of utmp data (len bytes of struct utmp records; a torn
 * last record is ignored) whose pid alive() says lives (alive NULL: all of them).
 */
int gg_idle_count_utmp(const void *data, size_t len, int (*alive)(long pid));

#endif
