/*
 * probe.c: the machine facts of probe.h, gathered without changing anything.
 *
 * Each section is read on its own and reports its own failure inside the JSON, so
 * that a machine missing one thing (no EFI, no /sys/bus/pci in a sandbox, a driver
 * whose nvidia-smi hangs) still gets every other fact reported: the probe is how a
 * user finds out what is wrong, so it must not give up at the first surprise.
 */
#include "probe.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "buf.h"
#include "error.h"
#include "nvsmi.h"
#include "os-release.h"
#include "protocol.h"

#define NVIDIA_VENDOR 0x10de
/* The UEFI global variable GUID; the variable's last byte is 1 when enforcing. */
#define SECURE_BOOT_VAR \
	"/sys/firmware/efi/efivars/SecureBoot-8be4df61-93ca-11d2-aa0d-00e098032b8c"
/* No file read here is anywhere near this; a bigger one is not what we expect. */
#define SMALL_FILE_MAX (256 * 1024)

const char *gg_flavour_name(enum gg_flavour flavour)
{
	switch (flavour) {
	case GG_FLAVOUR_OPEN:
		return "open";
	case GG_FLAVOUR_PROPRIETARY:
		return "proprietary";
	case GG_FLAVOUR_UNSUPPORTED:
		return "unsupported";
	case GG_FLAVOUR_NONE:
		break;
	}
	return "none";
}

enum gg_flavour gg_flavour_for_pci_id(unsigned device_id)
{
	if (device_id >= 0x1e00) /* Turing TU10x onwards */
		return GG_FLAVOUR_OPEN;
	if (device_id >= 0x1340) /* Maxwell GM108 onwards, through Volta GV100 */
		return GG_FLAVOUR_PROPRIETARY;
	return GG_FLAVOUR_UNSUPPORTED;
}

enum gg_flavour gg_flavour_for_compute_cap(int major, int minor)
{
	if (major < 0)
		return GG_FLAVOUR_NONE;
	if (major > 7 || (major == 7 && minor >= 5))
		return GG_FLAVOUR_OPEN;
	if (major >= 5)
		return GG_FLAVOUR_PROPRIETARY;
	return GG_FLAVOUR_UNSUPPORTED;
}

enum gg_flavour gg_flavour_worst(enum gg_flavour a, enum gg_flavour b)
{
	return a > b ? a : b;
}

/* sysroot + path, malloc'd; NULL when out of memory. */
static char *host_path(const struct gg_probe_options *o, const char *path)
{
	char *p = NULL;

	if (asprintf(&p, "%s%s", o->sysroot, path) < 0)
		return NULL;
	return p;
}

/*
 * The whole of a small file under the sysroot into *text (malloc'd, NUL-terminated).
 * Returns 0, or an errno value (ENOMEM, EFBIG for a file beyond SMALL_FILE_MAX).
 */
static int read_host_file(const struct gg_probe_options *o, const char *path, char **text,
			  size_t *len)
{
	struct gg_buf b = GG_BUF_INIT;
	char chunk[4096], *full;
	ssize_t n;
	int fd, e = 0;

	*text = NULL;
	full = host_path(o, path);
	if (full == NULL)
		return ENOMEM;
	fd = open(full, O_RDONLY | O_CLOEXEC);
	free(full);
	if (fd < 0)
		return errno;
	for (;;) {
		n = read(fd, chunk, sizeof chunk);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			e = n < 0 ? errno : 0;
			break;
		}
		if (b.len + (size_t)n > SMALL_FILE_MAX) {
			e = EFBIG;
			break;
		}
		if (gg_buf_add(&b, chunk, (size_t)n) != 0) {
			e = ENOMEM;
			break;
		}
	}
	close(fd);
	if (e == 0) {
		if (len != NULL)
			*len = b.len;
		*text = gg_buf_detach(&b, NULL);
		if (*text == NULL)
			e = ENOMEM;
	}
	gg_buf_release(&b);
	return e;
}

/* The first line of a sysfs attribute ("0x10de\n"), trimmed; NULL when unreadable. */
static char *read_attribute(const struct gg_probe_options *o, const char *dir,
			    const char *name)
{
	char *path = NULL, *text = NULL;

	if (asprintf(&path, "%s/%s", dir, name) < 0)
		return NULL;
	if (read_host_file(o, path, &text, NULL) == 0)
		text[strcspn(text, "\r\n")] = '\0';
	free(path);
	return text;
}

static int host_is_dir(const struct gg_probe_options *o, const char *path)
{
	struct stat st;
	char *full = host_path(o, path);
	int r = full != NULL && stat(full, &st) == 0 && S_ISDIR(st.st_mode);

	free(full);
	return r;
}

/* ------------------------------------------------------------------------- os-release */

/*
 * One os-release value (shell-style: "quoted", 'quoted' or bare) into a new string.
 * Inside double quotes a backslash escapes the next character, as os-release(5) says.
 */
static char *unquote(const char *v)
{
	struct gg_buf b = GG_BUF_INIT;
	char quote = 0;

	if (*v == '"' || *v == '\'')
		quote = *v++;
	for (; *v != '\0'; v++) {
		if (quote != 0 && *v == quote)
			break;
		if (quote == 0 && isspace((unsigned char)*v))
			break;
		if (quote == '"' && *v == '\\' && v[1] != '\0')
			v++;
		if (gg_buf_addch(&b, *v) != 0) {
			gg_buf_release(&b);
			return NULL;
		}
	}
	return gg_buf_detach(&b, NULL);
}

/* Add KEY's value from the os-release text to obj under name (null when absent). */
static int add_os_field(json_t *obj, const char *text, const char *key, const char *name)
{
	size_t klen = strlen(key);
	const char *line = text;
	char *value = NULL, *eol_copy;
	json_t *json;
	int r;

	while (line != NULL && *line != '\0') {
		line += strspn(line, " \t");
		if (strncmp(line, key, klen) == 0 && line[klen] == '=') {
			eol_copy = strndup(line + klen + 1, strcspn(line + klen + 1, "\n"));
			if (eol_copy == NULL)
				return -1;
			free(value); /* the last assignment wins, as in the shell */
			value = unquote(eol_copy);
			free(eol_copy);
			if (value == NULL)
				return -1;
		}
		line = strchr(line, '\n');
		if (line != NULL)
			line++;
	}
	/*
	 * json_string() refuses a value that is not UTF-8: that fact is unreadable and
	 * reported as null, not as a failed probe (fuzz_osrelease, regress-invalid-utf8).
	 */
	json = value != NULL ? json_string(value) : NULL;
	r = json_object_set_new(obj, name, json != NULL ? json : json_null());
	free(value);
	return r;
}

int gg_os_release_fields(json_t *obj, const char *text)
{
	if (add_os_field(obj, text, "ID", "id") != 0 ||
	    add_os_field(obj, text, "VERSION_ID", "version_id") != 0 ||
	    add_os_field(obj, text, "PRETTY_NAME", "pretty_name") != 0)
		return -1;
	return 0;
}

static json_t *probe_os(const struct gg_probe_options *o)
{
	json_t *obj = json_object();
	char *text = NULL;
	int e;

	if (obj == NULL)
		return NULL;
	e = read_host_file(o, "/etc/os-release", &text, NULL);
	if (e == ENOENT)
		e = read_host_file(o, "/usr/lib/os-release", &text, NULL);
	if (e == ENOMEM)
		goto fail;
	if (e != 0) {
		if (json_object_set_new(obj, "error", json_sprintf(
			"cannot read '%s/etc/os-release': %s", o->sysroot, strerror(e))) != 0)
			goto fail;
		return obj;
	}
	if (gg_os_release_fields(obj, text) != 0)
		goto fail;
	free(text);
	return obj;
fail:
	free(text);
	json_decref(obj);
	return NULL;
}

/* ------------------------------------------------------------------- kernel and disk */

static json_t *probe_kernel(void)
{
	struct utsname u;

	if (uname(&u) != 0)
		return json_pack("{s:s}", "error", strerror(errno));
	return json_pack("{s:s, s:s, s:s}", "release", u.release, "version", u.version,
			 "machine", u.machine);
}

/* The state root, or its nearest existing parent on a machine not set up yet. */
static json_t *probe_disk(const struct gg_probe_options *o)
{
	struct statvfs sv;
	char *path = strdup(o->state_root), *slash;
	json_t *obj = NULL;

	if (path == NULL)
		return NULL;
	while (statvfs(path, &sv) != 0) {
		if (errno != ENOENT || (slash = strrchr(path, '/')) == NULL || path[1] == '\0') {
			obj = json_pack("{s:s, s:s+}", "path", o->state_root, "error",
					"cannot measure free disk: ", strerror(errno));
			goto out;
		}
		if (slash == path)
			slash[1] = '\0'; /* up to "/" */
		else
			*slash = '\0';
	}
	obj = json_pack("{s:s, s:I, s:I}", "path", o->state_root,
			"free_bytes", (json_int_t)sv.f_bavail * (json_int_t)sv.f_frsize,
			"total_bytes", (json_int_t)sv.f_blocks * (json_int_t)sv.f_frsize);
out:
	free(path);
	return obj;
}

/*
 * The efivar is 4 bytes of attributes and then the value.  Without EFI there is no
 * Secure Boot; with efivarfs mounted and no such variable the firmware has no Secure
 * Boot either (the kernel reads it the same way).
 */
static const char *probe_secure_boot(const struct gg_probe_options *o)
{
	char *text = NULL;
	size_t len = 0;
	const char *state = "unknown";
	int e;

	if (!host_is_dir(o, "/sys/firmware/efi"))
		return "unsupported";
	e = read_host_file(o, SECURE_BOOT_VAR, &text, &len);
	if (e == ENOENT && host_is_dir(o, "/sys/firmware/efi/efivars"))
		state = "disabled";
	else if (e == 0 && len >= 5 && text[len - 1] == 1)
		state = "enabled";
	else if (e == 0 && len >= 5 && text[len - 1] == 0)
		state = "disabled";
	free(text);
	return state;
}

/* ---------------------------------------------------------------------------- PCI */

static int compare_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The name of the driver bound to a device (the last part of its driver link). */
static char *bound_driver(const struct gg_probe_options *o, const char *dir)
{
	char *link = NULL, target[PATH_MAX], *slash;
	ssize_t n;

	if (asprintf(&link, "%s%s/driver", o->sysroot, dir) < 0)
		return NULL;
	n = readlink(link, target, sizeof target - 1);
	free(link);
	if (n <= 0)
		return NULL;
	target[n] = '\0';
	slash = strrchr(target, '/');
	return strdup(slash != NULL ? slash + 1 : target);
}

/* One NVIDIA function as JSON, or json_null() for another vendor's; NULL: no memory. */
static json_t *pci_device(const struct gg_probe_options *o, const char *address)
{
	char *dir = NULL, *vendor = NULL, *device = NULL, *class = NULL, *driver = NULL;
	json_t *obj = NULL;
	unsigned long device_id;
	int gpu;

	if (asprintf(&dir, "/sys/bus/pci/devices/%s", address) < 0)
		return NULL;
	vendor = read_attribute(o, dir, "vendor");
	if (vendor == NULL || strtoul(vendor, NULL, 16) != NVIDIA_VENDOR) {
		obj = json_null();
		goto out;
	}
	device = read_attribute(o, dir, "device");
	class = read_attribute(o, dir, "class");
	driver = bound_driver(o, dir);
	device_id = device != NULL ? strtoul(device, NULL, 16) : 0;
	/* Display controllers are class 0x03xxxx: VGA 0x0300, 3D controller 0x0302. */
	gpu = class != NULL && strncmp(class, "0x03", 4) == 0;
	obj = json_pack("{s:s, s:s, s:s?, s:s?, s:s?, s:b}", "address", address,
			"vendor", vendor, "device", device, "class", class,
			"driver", driver, "gpu", gpu);
	if (obj != NULL && gpu && device != NULL &&
	    json_object_set_new(obj, "flavour", json_string(gg_flavour_name(
			gg_flavour_for_pci_id((unsigned)device_id)))) != 0) {
		json_decref(obj);
		obj = NULL;
	}
out:
	free(dir);
	free(vendor);
	free(device);
	free(class);
	free(driver);
	return obj;
}

static json_t *probe_pci(const struct gg_probe_options *o)
{
	json_t *obj = NULL, *devices = json_array(), *dev;
	char *path = host_path(o, "/sys/bus/pci/devices"), **names = NULL, **grown;
	size_t count = 0, i;
	struct dirent *d;
	DIR *dir = NULL;

	if (devices == NULL || path == NULL)
		goto out;
	dir = opendir(path);
	if (dir == NULL) {
		obj = json_pack("{s:O, s:s+++}", "devices", devices, "error",
				"cannot read '", path, "': ", strerror(errno));
		goto out;
	}
	while ((d = readdir(dir)) != NULL) {
		if (d->d_name[0] == '.')
			continue;
		grown = realloc(names, (count + 1) * sizeof *names);
		if (grown == NULL)
			goto out;
		names = grown;
		names[count] = strdup(d->d_name);
		if (names[count] == NULL)
			goto out;
		count++;
	}
	qsort(names, count, sizeof *names, compare_names);
	for (i = 0; i < count; i++) {
		dev = pci_device(o, names[i]);
		if (dev == NULL || (!json_is_null(dev) && json_array_append(devices, dev) != 0)) {
			json_decref(dev);
			goto out;
		}
		json_decref(dev);
	}
	obj = json_pack("{s:O}", "devices", devices);
out:
	if (dir != NULL)
		closedir(dir);
	for (i = 0; i < count; i++)
		free(names[i]);
	free(names);
	free(path);
	json_decref(devices);
	return obj;
}

/* -------------------------------------------------------------------- kernel module */

/* The first word of line shaped like a version (580.159.04): digits and dots. */
static char *version_word(const char *line)
{
	const char *p = line;
	size_t n;

	while (*p != '\0' && *p != '\n') {
		n = strcspn(p, " \t\n");
		if (n > 0 && isdigit((unsigned char)p[0]) && strspn(p, "0123456789.") == n &&
		    memchr(p, '.', n) != NULL)
			return strndup(p, n);
		p += n;
		p += strspn(p, " \t");
	}
	return NULL;
}

static json_t *probe_module(const struct gg_probe_options *o)
{
	char *modules = NULL, *version_text = NULL, *version = NULL, *nvrm;
	const char *kind = NULL;
	int loaded = 0;
	json_t *obj;

	if (read_host_file(o, "/proc/modules", &modules, NULL) == 0)
		loaded = strncmp(modules, "nvidia ", 7) == 0 || strstr(modules, "\nnvidia ") != NULL;
	if (read_host_file(o, "/proc/driver/nvidia/version", &version_text, NULL) == 0) {
		loaded = 1;
		nvrm = strstr(version_text, "NVRM version:");
		if (nvrm != NULL) {
			/* "NVIDIA UNIX Open Kernel Module for x86_64  580.159.04 ..." */
			kind = strstr(nvrm, "Open Kernel Module") != NULL ? "open" : "proprietary";
			version = version_word(nvrm + strlen("NVRM version:"));
		}
	}
	obj = json_pack("{s:b, s:s?, s:s?}", "loaded", loaded, "kind", kind,
			"version", version);
	free(modules);
	free(version_text);
	free(version);
	return obj;
}

/* ---------------------------------------------------------------------- nvidia-smi */

static json_t *smi_gpu(const struct gg_nvsmi_gpu *g)
{
	char device[8], vendor[8], cc[24];

	snprintf(device, sizeof device, "0x%04x", g->pci_device_id);
	snprintf(vendor, sizeof vendor, "0x%04x", g->pci_vendor_id);
	if (g->cc_major >= 0)
		snprintf(cc, sizeof cc, "%d.%d", g->cc_major, g->cc_minor);
	return json_pack("{s:s, s:s, s:s, s:s, s:o, s:s?, s:s}", "name", g->name,
			 "pci_device_id", device, "pci_vendor_id", vendor,
			 "driver_version", g->driver_version,
			 "memory_total_mib", g->memory_mib >= 0 ?
				 json_integer(g->memory_mib) : json_null(),
			 "compute_cap", g->cc_major >= 0 ? cc : NULL,
			 "flavour", gg_flavour_name(gg_flavour_for_compute_cap(g->cc_major,
										g->cc_minor)));
}

static json_t *probe_smi(const struct gg_probe_options *o, const struct gg_nvsmi *smi,
			 const char *failure)
{
	json_t *gpus, *gpu;
	size_t i;

	if (failure != NULL)
		return json_pack("{s:b, s:s}", "ok", 0, "error", failure);
	gpus = json_array();
	if (gpus == NULL)
		return NULL;
	for (i = 0; i < smi->count; i++) {
		gpu = smi_gpu(&smi->gpus[i]);
		if (gpu == NULL || json_array_append_new(gpus, gpu) != 0) {
			json_decref(gpus);
			return NULL;
		}
	}
	return json_pack("{s:b, s:s?, s:o}", "ok", 1, "cuda_version", smi->cuda_version,
			 "gpus", gpus);
}

/* The machine's flavour from both sources; compute capability wins when known. */
static json_t *probe_flavour(const struct gg_nvsmi *smi, json_t *pci)
{
	enum gg_flavour by_cc = GG_FLAVOUR_NONE, by_id = GG_FLAVOUR_NONE, chosen;
	const char *from = "none";
	json_t *dev, *flavour;
	size_t i;

	for (i = 0; i < smi->count; i++)
		by_cc = gg_flavour_worst(by_cc, gg_flavour_for_compute_cap(
			smi->gpus[i].cc_major, smi->gpus[i].cc_minor));
	json_array_foreach(json_object_get(pci, "devices"), i, dev) {
		flavour = json_object_get(dev, "flavour");
		if (json_is_string(flavour))
			by_id = gg_flavour_worst(by_id, gg_flavour_for_pci_id(
				(unsigned)strtoul(json_string_value(json_object_get(dev, "device")),
						  NULL, 16)));
	}
	/* Without /sys/bus/pci (a sandbox), nvidia-smi's own PCI ids stand in. */
	if (by_id == GG_FLAVOUR_NONE)
		for (i = 0; i < smi->count; i++)
			by_id = gg_flavour_worst(by_id,
				gg_flavour_for_pci_id(smi->gpus[i].pci_device_id));
	chosen = by_cc != GG_FLAVOUR_NONE ? by_cc : by_id;
	if (by_cc != GG_FLAVOUR_NONE)
		from = "compute_cap";
	else if (by_id != GG_FLAVOUR_NONE)
		from = "pci_id";
	return json_pack("{s:s, s:s, s:s, s:s}", "flavour", gg_flavour_name(chosen),
			 "from", from, "by_compute_cap", gg_flavour_name(by_cc),
			 "by_pci_id", gg_flavour_name(by_id));
}

/* -------------------------------------------------------------------------- all */

int gg_probe(const struct gg_probe_options *o, json_t **facts, char **cause)
{
	struct gg_nvsmi smi = GG_NVSMI_INIT;
	char *smi_failure = NULL;
	json_t *obj = NULL, *pci = NULL;
	int r;

	*facts = NULL;
	if (gg_nvsmi_run(o->nvidia_smi, o->timeout_ms, &smi, &smi_failure) != 0 &&
	    smi_failure == NULL) {
		r = gg_fail(cause, GG_HELPER_SYSTEM, "out of memory");
		goto out;
	}
	pci = probe_pci(o);
	obj = json_pack("{s:o, s:o, s:b, s:o, s:s, s:O, s:o, s:o, s:o}",
			"os", probe_os(o),
			"kernel", probe_kernel(),
			"systemd", host_is_dir(o, "/run/systemd/system"),
			"disk", probe_disk(o),
			"secure_boot", probe_secure_boot(o),
			"pci", pci,
			"nvidia_module", probe_module(o),
			"nvidia_smi", probe_smi(o, &smi, smi_failure),
			"driver_flavour", probe_flavour(&smi, pci));
	if (obj == NULL) {
		r = gg_fail(cause, GG_HELPER_SYSTEM, "out of memory");
		goto out;
	}
	*facts = obj;
	r = 0;
out:
	json_decref(pci);
	gg_nvsmi_release(&smi);
	free(smi_failure);
	return r;
}
