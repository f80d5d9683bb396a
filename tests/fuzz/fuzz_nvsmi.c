/*
 * fuzz_nvsmi.c: the readers of nvidia-smi's output (nvsmi.h), which the root helper
 * runs on text a driver (or whatever is first on root's PATH) printed.
 *
 * The input is the text, both as --query-gpu CSV and as the header with the CUDA
 * version.  Asserted: a refusal has a printable one-line cause and leaves the
 * result as it was; an accepted CSV has GPUs with a name, a digits-and-dots driver
 * version, 16-bit PCI ids, memory of -1 or more, and a compute capability that is
 * both -1 or both known; parsing twice appends; a CUDA version is digits and dots.
 */
#include <ctype.h>
#include <string.h>

#include "fuzz.h"
#include "nvsmi.h"

static void check_gpus(const struct gg_nvsmi *smi)
{
	size_t i;

	FUZZ_ASSERT(smi->count > 0 && smi->gpus != NULL);
	for (i = 0; i < smi->count; i++) {
		const struct gg_nvsmi_gpu *g = &smi->gpus[i];

		FUZZ_ASSERT(g->name != NULL && g->name[0] != '\0');
		FUZZ_ASSERT(strchr(g->name, '\n') == NULL && strchr(g->name, ',') == NULL);
		FUZZ_ASSERT(g->driver_version != NULL && isdigit((unsigned char)g->driver_version[0]));
		FUZZ_ASSERT(strspn(g->driver_version, "0123456789.") == strlen(g->driver_version));
		FUZZ_ASSERT(g->pci_device_id <= 0xffff && g->pci_vendor_id <= 0xffff);
		FUZZ_ASSERT(g->memory_mib >= -1);
		FUZZ_ASSERT((g->cc_major == -1) == (g->cc_minor == -1));
		FUZZ_ASSERT(g->cc_major >= -1 && g->cc_minor >= -1);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct gg_nvsmi smi = GG_NVSMI_INIT;
	char *text = malloc(size + 1), *cause = NULL, *version = NULL;
	size_t first;

	FUZZ_ASSERT(text != NULL);
	memcpy(text, data, size);
	text[size] = '\0';

	if (gg_nvsmi_parse_query(text, &smi, &cause) != 0) {
		FUZZ_ASSERT(cause != NULL && fuzz_cause_is_printable(cause));
		FUZZ_ASSERT(smi.count == 0 && smi.gpus == NULL && smi.cuda_version == NULL);
		free(cause);
		cause = NULL;
	} else {
		check_gpus(&smi);
		first = smi.count;
		FUZZ_ASSERT(gg_nvsmi_parse_query(text, &smi, &cause) == 0);
		FUZZ_ASSERT(smi.count == 2 * first);
		check_gpus(&smi);
	}
	gg_nvsmi_release(&smi);

	if (gg_nvsmi_parse_cuda_version(text, &version, &cause) != 0) {
		FUZZ_ASSERT(cause != NULL && fuzz_cause_is_printable(cause));
		free(cause);
	} else {
		FUZZ_ASSERT(version != NULL && isdigit((unsigned char)version[0]));
		FUZZ_ASSERT(strspn(version, "0123456789.") == strlen(version));
		free(version);
	}
	free(text);
	return 0;
}
