/*
 * nvsmi.h: what `nvidia-smi` says about the GPUs, parsed in one place.
 *
 * The static helper cannot dlopen NVML, so it asks the driver through the nvidia-smi
 * program the driver installs, in its two stable machine-readable shapes:
 *
 *   nvidia-smi --query-gpu=name,pci.device_id,driver_version,memory.total,compute_cap
 *              --format=csv,noheader,nounits
 *       one line per GPU: "NVIDIA H200, 0x233510DE, 580.159.04, 143771, 9.0"
 *       (pci.device_id is device << 16 | vendor; memory.total is in MiB; a value the
 *       driver does not know is printed "[N/A]" or "[Not Supported]")
 *   nvidia-smi            the header line "... CUDA Version: 13.0 ..."
 *   nvidia-smi -q         the line "CUDA Version     : 13.0"
 *
 * Steps for a caller that runs it:
 *   struct gg_nvsmi smi = GG_NVSMI_INIT;
 *   if (gg_nvsmi_run("nvidia-smi", GG_NVSMI_TIMEOUT_MS, &smi, &cause) != 0) ...;
 *   use smi.gpus[0 .. smi.count-1], smi.cuda_version (NULL when unknown)
 *   gg_nvsmi_release(&smi);
 * The parsers work on text alone, so tests feed them recorded output.
 */
#ifndef GG_NVSMI_H
#define GG_NVSMI_H

#include <stddef.h>

/* The fields asked of --query-gpu, in the order the parser expects them. */
#define GG_NVSMI_QUERY "name,pci.device_id,driver_version,memory.total,compute_cap"

/* How long one nvidia-smi run may take; a hung driver must not hang the probe. */
#define GG_NVSMI_TIMEOUT_MS 20000

struct gg_nvsmi_gpu {
	char *name;              /* "NVIDIA H200" */
	unsigned pci_device_id;  /* 0x2335: the high 16 bits of pci.device_id */
	unsigned pci_vendor_id;  /* 0x10de: the low 16 bits */
	char *driver_version;    /* "580.159.04" */
	long long memory_mib;    /* memory.total in MiB, -1 when the driver says [N/A] */
	int cc_major, cc_minor;  /* compute capability 9.0; both -1 when unknown */
};

struct gg_nvsmi {
	struct gg_nvsmi_gpu *gpus; /* owned, count entries */
	size_t count;
	char *cuda_version;        /* "13.0", owned; NULL when unknown */
};

#define GG_NVSMI_INIT { NULL, 0, NULL }

void gg_nvsmi_release(struct gg_nvsmi *smi);

/*
 * Parse the CSV of GG_NVSMI_QUERY (noheader, nounits) and append its GPUs to *smi.
 * Blank lines are skipped; any other line that is not five well-formed fields fails
 * the whole parse with its line number and text in *cause, leaving *smi as it was.
 * No GPU at all is an error too (nvidia-smi prints none only when it failed).
 * Returns 0, or GG_HELPER_SYSTEM with *cause set.
 */
int gg_nvsmi_parse_query(const char *text, struct gg_nvsmi *smi, char **cause);

/*
 * Find "CUDA Version: X.Y" (the plain header) or "CUDA Version : X.Y" (-q) in text.
 * Sets *version to a malloc'd "X.Y" and returns 0; returns GG_HELPER_SYSTEM with
 * *cause set when there is no such line.
 */
int gg_nvsmi_parse_cuda_version(const char *text, char **version, char **cause);

/*
 * Run `PROGRAM --query-gpu=... ` and then `PROGRAM` (for the CUDA version), each with
 * fork/execvp (PROGRAM is looked up on PATH, no shell), stdin from /dev/null, killed
 * after timeout_ms.  On success *smi holds the GPUs and, when the header had one,
 * the CUDA version (its absence alone is not an error).  Failures say what happened
 * in one line: not on PATH, killed by the timeout, a non-zero exit with the first line
 * nvidia-smi printed ("No devices were found", exit 6), or output it cannot parse.
 */
int gg_nvsmi_run(const char *program, int timeout_ms, struct gg_nvsmi *smi, char **cause);

/*
 * Run argv (argv[0] looked up on PATH) with stdin from /dev/null and collect its
 * stdout and stderr, each into a malloc'd string, within timeout_ms (then the child's
 * process group is killed).  *status is the exit code, or 128 + signal number.
 * Returns 0 when the program ran to its end whatever its exit code, else
 * GG_HELPER_SYSTEM with *cause: "'nvidia-smi' not found on PATH", "... timed out".
 */
int gg_nvsmi_capture(char *const argv[], int timeout_ms, char **out, char **err,
		     int *status, char **cause);
/*
 * The same, with input (input_len bytes, at most GG_CAPTURE_INPUT_MAX, so that it
 * fits a pipe's buffer) as the program's stdin instead of /dev/null when input is
 * not NULL: how a secret reaches a program without its command line (curl -K -).
 */
#define GG_CAPTURE_INPUT_MAX 4096
int gg_capture(char *const argv[], const char *input, size_t input_len, int timeout_ms,
	       char **out, char **err, int *status, char **cause);

#endif
