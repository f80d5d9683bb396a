/*
 * idle.h: whether a VM nobody uses should stop itself, decided from what one look at
 * the machine found (idle-look.h) and what the checks before remembered.
 *
 * The timer runs `gcloud-gpu-helper idle-check` every minute.  Each check looks at
 * the machine (Jupyter, the GPUs, SSH sessions and logins, a running plan) and hands
 * the look to gg_idle_decide, a pure function of the look, the memory of earlier
 * checks and the time, so that tests drive it with recorded answers and any clock.
 *
 * The VM is idle when nothing showed activity for the whole period:
 *   - activity now (a plan runs, an SSH session or a login is open, a Jupyter kernel
 *     is busy, a GPU is busy or a program other than a Jupyter kernel computes on
 *     it) ends the idle stretch: the count starts again at the next quiet check;
 *   - a look that cannot tell (Jupyter hangs or refuses the token, nvidia-smi hangs,
 *     /proc cannot be read) ends it too: the VM stays up and the log says why.  A
 *     Jupyter that is down (nothing listens) is no activity and no doubt: a VM
 *     whose Jupyter died is as idle as one without;
 *   - Jupyter's own clocks move the start of the stretch: a kernel's last activity
 *     (a cell's output), and the server's last API activity (a browser saving a
 *     notebook), except the activity of this helper's own /api/kernels request of
 *     the check before (Jupyter counts it, and would otherwise never be idle).
 * The checks come a minute apart (GG_IDLE_CHECK_INTERVAL_S), so the stretch starts
 * at the last check that saw use (or could not tell), not at the first that did
 * not: use seen at 12:00:00 and gone at 12:01:00 may have ended any time between,
 * and the period then counts from 12:00:00.  The stretch ends in a stop only after a
 * warning (logged, and written to logged-in terminals) at least `warning` seconds
 * before it: the first check less than warning + one interval before stop_at warns,
 * so that the stop can still come at the first check past stop_at, and the stop
 * waits for max(stop_at, warned_at + warning).  A VM quiet since 12:00:00 with a
 * period P thus stops by 12:00:00 + P + one interval.  Activity after the warning
 * cancels it; the next stretch warns again.
 */
#ifndef GG_IDLE_H
#define GG_IDLE_H

/* Jupyter's state as one look found it. */
enum gg_jupyter_seen {
	GG_JUPYTER_DOWN,    /* nothing listens: no activity, no doubt */
	GG_JUPYTER_UP,      /* it answered both questions */
	GG_JUPYTER_UNKNOWN, /* it hung, refused, or answered nonsense: why in jupyter_why */
};

/* The GPUs' state as one look found it. */
enum gg_gpu_seen {
	GG_GPU_NONE,    /* no nvidia-smi, or it found no device */
	GG_GPU_SEEN,    /* nvidia-smi answered */
	GG_GPU_UNKNOWN, /* it hung or failed: why in gpu_why */
};

/* What one look at the machine found (idle-look.c fills it). */
struct gg_idle_look {
	enum gg_jupyter_seen jupyter;
	double jupyter_activity; /* /api/status last_activity, epoch seconds; 0 none */
	double kernel_activity;  /* the newest kernel's last_activity; 0 none */
	int kernels;             /* kernels Jupyter runs */
	int kernels_busy;        /* of them, busy or starting */
	enum gg_gpu_seen gpu;
	int gpu_utilization;     /* the highest utilization.gpu of any GPU, percent */
	int gpu_processes;       /* compute processes that are not Jupyter kernels */
	int ssh_sessions;        /* sshd sessions past authentication; -1 unknown */
	int logins;              /* live USER_PROCESS entries in utmp; -1 unknown */
	int plan_running;        /* the runner's lock is held */
	char jupyter_why[160];   /* set with GG_JUPYTER_UNKNOWN */
	char gpu_why[160];       /* set with GG_GPU_UNKNOWN */
	char logins_why[160];    /* set when ssh_sessions or logins is -1 */
};

/* How often the timer runs a check. */
#define GG_IDLE_CHECK_INTERVAL_S 60
/* A GPU at or above this utilization is in use. */
#define GG_IDLE_GPU_BUSY_PCT 5
/*
 * Jupyter's last API activity up to this many seconds after this helper's own
 * /api/kernels request is taken to be that request.
 */
#define GG_IDLE_OWN_REQUEST_S 2.0

/* What the checks remember between them (idle-state.json); all zero at first. */
struct gg_idle_memory {
	double idle_since; /* start of the quiet stretch; 0: not quiet at the last check */
	double active_at;  /* the last check that saw use or could not tell; 0: none */
	double warned_at;  /* the warning of this stretch; 0: none yet */
	double polled_at;  /* when this helper's last /api/kernels request ended; 0 none */
};

enum gg_idle_verdict {
	GG_IDLE_ACTIVE,  /* something is in use: the VM stays up */
	GG_IDLE_UNSURE,  /* a look could not tell: the VM stays up */
	GG_IDLE_WAITING, /* quiet, the period not over (or the warning too recent) */
	GG_IDLE_WARN,    /* quiet: warn now, the stop comes at stop_at */
	GG_IDLE_STOP,    /* quiet for the period, warned long enough ago: power off */
};

struct gg_idle_decision {
	enum gg_idle_verdict verdict;
	const char *kind;  /* a short stable name of the reason: "ssh", "gpu", "idle"... */
	char reason[320];  /* one line for the log and `status` */
	double stop_at;    /* WAITING, WARN, STOP: when the stop comes (epoch seconds) */
};

/*
 * Decide at now (epoch seconds) for a period and a warning (seconds), from look and
 * mem, and update mem for the next check.  Never fails.
 */
void gg_idle_decide(const struct gg_idle_look *look, struct gg_idle_memory *mem, double now,
		    long period, long warning, struct gg_idle_decision *d);

/* "active", "unsure", "waiting", "warn", "stop". */
const char *gg_idle_verdict_name(enum gg_idle_verdict v);

/* The warning's lead for a period: five minutes, or half of a shorter period (tests). */
long gg_idle_warning_for(long period);

#endif
