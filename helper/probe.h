/*
 * probe.h: facts about the machine, for `gcloud-gpu-helper probe` and for the CLI's
 * decisions before a push (is there a GPU, which driver flavour, is Secure Boot on).
 *
 * Everything comes from files the kernel and the OS keep (/etc/os-release, /sys, /proc,
 * efivars), from uname and statvfs, and from running nvidia-smi (nvsmi.h).  Nothing is
 * changed.  A fact that cannot be read is reported as such inside the JSON (an "error"
 * member or null); only running out of memory fails the probe as a whole.
 *
 * Tests relocate every file read from /etc, /sys, /proc and /run under a sysroot, the
 * environment variable GCLOUD_GPU_SYSROOT ("" or unset: the real root), and put a
 * stand-in nvidia-smi first on PATH.  uname and the free disk of the state root are
 * read from the running system as they are.
 *
 * The JSON (keys as written by gg_probe; the CLI must ignore keys it does not know):
 *   "os"           {"id","version_id","pretty_name"} or {"error"}
 *   "kernel"       {"release","version","machine"}
 *   "systemd"      true when /run/systemd/system exists (systemd is PID 1)
 *   "disk"         {"path","free_bytes","total_bytes"} of the state root's filesystem
 *                  (its nearest existing parent while it does not exist yet), or
 *                  {"path","error"}
 *   "secure_boot"  "enabled" | "disabled" | "unsupported" (no EFI) | "unknown"
 *   "pci"          {"devices":[{"address","vendor","device","class","driver","gpu",
 *                  "flavour"}]} with every NVIDIA function (vendor 0x10de), sorted by
 *                  address; "gpu" is true for display-class functions, which alone get
 *                  a "flavour"; "driver" is null when no kernel driver is bound.
 *                  {"devices":[],"error"} when /sys/bus/pci cannot be read
 *   "nvidia_module" {"loaded", "kind": "open"|"proprietary"|null, "version"|null}
 *                  from /proc/modules and /proc/driver/nvidia/version
 *   "nvidia_smi"   {"ok":true,"cuda_version"|null,"gpus":[{"name","pci_device_id",
 *                  "pci_vendor_id","driver_version","memory_total_mib","compute_cap",
 *                  "flavour"}]} or {"ok":false,"error"}
 *   "driver_flavour" {"flavour","from":"compute_cap"|"pci_id"|"none",
 *                  "by_compute_cap","by_pci_id"}: see gg_flavour_* below
 */
#ifndef GG_PROBE_H
#define GG_PROBE_H

#include <jansson.h>

/* The environment variable that relocates /etc, /sys, /proc and /run (tests). */
#define GG_ENV_SYSROOT "GCLOUD_GPU_SYSROOT"

/*
 * The NVIDIA kernel-module flavour a GPU needs, ordered from least to most
 * restrictive so that a machine's flavour is the maximum over its GPUs:
 *   OPEN         the open kernel modules: Turing (compute capability 7.5) and newer,
 *                which NVIDIA recommends from Turing on and requires from Blackwell on
 *   PROPRIETARY  the proprietary modules of branch 580, the last to run Maxwell,
 *                Pascal and Volta (compute capability 5.0 to 7.0)
 *   UNSUPPORTED  Kepler (3.x) and older: no current driver branch runs them
 * NONE is a machine with no NVIDIA GPU.  The recipe decides the same in shell
 * (payloads/steps/20-nvidia-driver.sh flavour ID); tests/gpu/run.sh checks they agree.
 */
enum gg_flavour {
	GG_FLAVOUR_NONE,
	GG_FLAVOUR_OPEN,
	GG_FLAVOUR_PROPRIETARY,
	GG_FLAVOUR_UNSUPPORTED,
};

/* "none", "open", "proprietary", "unsupported". */
const char *gg_flavour_name(enum gg_flavour flavour);

/*
 * From the PCI device id (0x2335), by NVIDIA's per-generation id blocks:
 * below 0x1340 Kepler and older, 0x1340-0x1dff Maxwell, Pascal and Volta, from
 * 0x1e00 Turing and later.
 */
enum gg_flavour gg_flavour_for_pci_id(unsigned device_id);

/* From the compute capability (9, 0); a negative major means unknown: NONE. */
enum gg_flavour gg_flavour_for_compute_cap(int major, int minor);

/* The more restrictive of two. */
enum gg_flavour gg_flavour_worst(enum gg_flavour a, enum gg_flavour b);

struct gg_probe_options {
	const char *sysroot;    /* prefix for /etc, /sys, /proc, /run; "" for none */
	const char *state_root; /* the helper's root, whose filesystem "disk" measures */
	const char *nvidia_smi; /* program name, looked up on PATH */
	int timeout_ms;         /* for each nvidia-smi run */
};

/*
 * Gather the facts into a new JSON object (*facts, owned by the caller, json_decref).
 * Returns 0, or GG_HELPER_SYSTEM with *cause when memory runs out.
 */
int gg_probe(const struct gg_probe_options *options, json_t **facts, char **cause);

#endif
