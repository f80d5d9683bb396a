#!/usr/bin/env bash
# shellcheck disable=SC2016 # test bodies are single-quoted strings run by eval
# tests/gpu/run.sh, the hardware check, tried without hardware: on the made-up H200
# machine of fake-gpu.sh (GCLOUD_GPU_SYSROOT, stand-in nvidia-smi) it must pass, and a
# probe that disagrees with nvidia-smi, or a missing nvidia-smi, must make it fail.
# Its dry run skips the steps that would act on the machine (network, Docker).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/fake-gpu.sh"

gpu_check() {
	GCLOUD_GPU_SYSROOT=$TEST_DIR/root GG_HELPER=$GG_HELPER GG_MIN_FREE_GIB=0 \
		PATH=$1 bash "$GG_SOURCE_DIR/tests/gpu/run.sh"
}

test_expect_success 'on a machine that matches nvidia-smi every comparison passes' '
	make_h200_root "$TEST_DIR/root" &&
	make_h200_smi "$TEST_DIR/bin" &&
	gpu_check "$TEST_DIR/bin:$PATH" >"$TEST_DIR/good.out" 2>&1 &&
	cat "$TEST_DIR/good.out" &&
	test_grep "^PASS  GPU 0 name (-q): NVIDIA H200" "$TEST_DIR/good.out" &&
	test_grep "^PASS  GPU 0 PCI device id (CSV 0x233510DE): 0x2335" "$TEST_DIR/good.out" &&
	test_grep "^PASS  GPU 0 memory MiB (-q FB total 143771 MiB): 143771" "$TEST_DIR/good.out" &&
	test_grep "^PASS  GPU 0 compute capability (CSV): 9.0" "$TEST_DIR/good.out" &&
	test_grep "^PASS  CUDA version (nvidia-smi -q): 13.0" "$TEST_DIR/good.out" &&
	test_grep "^PASS  kernel module kind: open" "$TEST_DIR/good.out" &&
	test_grep "^PASS  machine flavour: open" "$TEST_DIR/good.out" &&
	test_grep "^SKIP  dry run" "$TEST_DIR/good.out" &&
	! grep "^FAIL" "$TEST_DIR/good.out" &&
	test_grep "^RESULT: PASS" "$TEST_DIR/good.out"
'

test_expect_success 'a probe that disagrees with nvidia-smi fails the check' '
	test_must_fail env GG_FAKE_PROBE_MEM=1000 \
		GCLOUD_GPU_SYSROOT="$TEST_DIR/root" GG_HELPER="$GG_HELPER" GG_MIN_FREE_GIB=0 \
		PATH="$TEST_DIR/bin:$PATH" bash "$GG_SOURCE_DIR/tests/gpu/run.sh" >"$TEST_DIR/bad.out" 2>&1 &&
	cat "$TEST_DIR/bad.out" &&
	test_grep "^FAIL  GPU 0 memory MiB (CSV 143771 MiB): probe says .1000., nvidia-smi says .143771." "$TEST_DIR/bad.out" &&
	test_grep "^RESULT: FAIL" "$TEST_DIR/bad.out"
'

test_expect_success 'without nvidia-smi it stops at once and says so' '
	mkdir -p "$TEST_DIR/nobin" &&
	for tool in bash dirname mktemp rm cat date uname git head python3 file cut sed; do
		t=$(command -v "$tool") && ln -sf "$t" "$TEST_DIR/nobin/$tool" || true
	done &&
	test_must_fail gpu_check "$TEST_DIR/nobin" >"$TEST_DIR/none.out" 2>&1 &&
	cat "$TEST_DIR/none.out" &&
	test_grep "^FAIL  nvidia-smi is not on PATH" "$TEST_DIR/none.out"
'

test_done
