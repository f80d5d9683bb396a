/*
 * fuzz_idle.c: what the idle check reads (helper/idle-look.h), which root runs every
 * minute on text others wrote: Jupyter's answers through curl (the user's code runs
 * in that container), nvidia-smi's (whatever is first on root's PATH), process titles
 * (chosen by the processes) and utmp records.
 *
 * The input is fed to every reader.  Asserted: a refusal has a printable one-line
 * cause and leaves the look unknown; an accepted Jupyter answer has counts with
 * 0 <= busy <= kernels and finite times; a time is finite and not before 1970; a
 * utilization is 0..100; the pids stored never exceed the room given; a count of utmp
 * logins never exceeds the records.  Then the decision runs on a look built from what
 * was read, and must keep its promise: no stop on a first check (no warning yet).
 */
#include <math.h>
#include <string.h>
#include <utmp.h>

#include "fuzz.h"
#include "idle-look.h"
#include "idle.h"

static void refused(char *cause)
{
	FUZZ_ASSERT(cause != NULL && fuzz_cause_is_printable(cause));
	free(cause);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct gg_idle_look look;
	struct gg_idle_memory mem = { 0 };
	struct gg_idle_decision d;
	char *text = malloc(size + 1), *cause = NULL;
	long pids[4];
	size_t count;
	double t;
	int util, logins;

	FUZZ_ASSERT(text != NULL);
	memcpy(text, data, size);
	text[size] = '\0';

	memset(&look, 0, sizeof look);
	look.jupyter = GG_JUPYTER_UNKNOWN;
	if (gg_idle_parse_jupyter((const char *)data, size, &look, &cause) != 0) {
		refused(cause);
		cause = NULL;
		FUZZ_ASSERT(look.jupyter == GG_JUPYTER_UNKNOWN);
	} else {
		FUZZ_ASSERT(look.jupyter == GG_JUPYTER_UP);
		FUZZ_ASSERT(look.kernels >= look.kernels_busy && look.kernels_busy >= 0);
		FUZZ_ASSERT(isfinite(look.jupyter_activity) && look.jupyter_activity >= 0);
		FUZZ_ASSERT(isfinite(look.kernel_activity) && look.kernel_activity >= 0);
	}

	if (gg_idle_parse_time(text, &t) == 0)
		FUZZ_ASSERT(isfinite(t) && t >= 0);

	if (gg_idle_parse_gpu_utilization(text, &util, &cause) != 0) {
		refused(cause);
		cause = NULL;
	} else {
		FUZZ_ASSERT(util >= 0 && util <= 100);
		look.gpu = GG_GPU_SEEN;
		look.gpu_utilization = util;
	}
	if (gg_idle_parse_gpu_pids(text, pids, sizeof pids / sizeof pids[0], &count, &cause) != 0) {
		refused(cause);
		cause = NULL;
	} else {
		for (size_t i = 0; i < count && i < sizeof pids / sizeof pids[0]; i++)
			FUZZ_ASSERT(pids[i] >= 0);
		look.gpu_processes = count > 1000 ? 1000 : (int)count;
	}

	look.ssh_sessions = gg_idle_sshd_session((const char *)data, size);
	FUZZ_ASSERT(look.ssh_sessions == 0 || look.ssh_sessions == 1);
	(void)gg_idle_is_kernel((const char *)data, size);
	logins = gg_idle_count_utmp(data, size, NULL);
	FUZZ_ASSERT(logins >= 0 && (size_t)logins <= size / sizeof(struct utmp));
	look.logins = logins;

	/* Whatever was read, a first check never stops: there was no warning. */
	gg_idle_decide(&look, &mem, 2e9, 600, 300, &d);
	FUZZ_ASSERT(d.verdict != GG_IDLE_STOP && d.kind != NULL);
	FUZZ_ASSERT(memchr(d.reason, '\0', sizeof d.reason) != NULL);
	free(text);
	return 0;
}
