# shellcheck shell=bash
# Case 6, memory and size: the peak RSS of gcloud-gpu during the cold pushes of
# case 1 (/usr/bin/time; run that case first) and of the helper's unpack (case 5), and
# the size of the static helper that every first push uploads.

case_memory() {
	bench_record memory "gcloud-gpu-helper (static)" bytes "$(bench_size "$GG_HELPER")"
	bench_record memory "gcloud-gpu (dynamic)" bytes "$(bench_size "$GG_CLI")"
}
