# shellcheck shell=sh
# Shared by run-short and run-long (POSIX sh, sourced from the top of
# the source tree): find clang's libFuzzer, build the harnesses in
# build-fuzz, and run one harness.

HARNESSES="wire conf tmpl ingest txid"
FUZZ_BUILD=${FUZZ_BUILD:-build-fuzz}

# Sanitizer findings must end the run, and be reported where we look.
ASAN_OPTIONS="abort_on_error=0:detect_leaks=1:symbolize=1"
UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1"
export ASAN_OPTIONS UBSAN_OPTIONS

# Exit 77 (meson's "skipped") when this machine cannot build fuzzers.
fuzz_require() {
	if ! command -v clang >/dev/null 2>&1; then
		echo "$1: clang not found (./run installs it): skipped"
		exit 77
	fi
	probe=$(mktemp -d)
	printf '%s\n' '#include <stddef.h>' '#include <stdint.h>' \
	    'int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n);' \
	    'int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n)' \
	    '{ (void)d; (void)n; return 0; }' > "$probe/p.c"
	if ! clang -fsanitize=fuzzer "$probe/p.c" -o "$probe/p" \
	    >/dev/null 2>&1; then
		rm -rf "$probe"
		echo "$1: clang has no libFuzzer (libclang-rt-*-dev): skipped"
		exit 77
	fi
	rm -rf "$probe"
}

fuzz_build() {
	if [ ! -f "$FUZZ_BUILD/build.ninja" ]; then
		CC=clang meson setup "$FUZZ_BUILD" -Dfuzz=true \
		    -Db_sanitize=address,undefined -Db_lundef=false \
		    -Dbuildtype=debugoptimized >/dev/null
	fi
	targets=""
	for h in $HARNESSES; do
		targets="$targets tests/fuzz/fuzz_$h"
	done
	# shellcheck disable=SC2086
	ninja -C "$FUZZ_BUILD" $targets >/dev/null
}

# fuzz_run NAME SECONDS CORPUS PREFIX LOG: fuzz, seeds read from the
# tree, new inputs written to CORPUS only, a crash saved as PREFIXcrash-*.
fuzz_run() {
	"$FUZZ_BUILD/tests/fuzz/fuzz_$1" -max_total_time="$2" \
	    -timeout="${FUZZ_TIMEOUT:-10}" -print_final_stats=1 -artifact_prefix="$4" "$3" \
	    "tests/fuzz/corpus/$1" >"$5" 2>&1
}

# Executions a finished run reports.
fuzz_execs() {
	sed -n 's/^stat::number_of_executed_units: *//p' "$1" | tail -n 1
}

# Inputs in the corpus the run ended with.
fuzz_corpus() {
	sed -n 's/^#[0-9]*[[:space:]]*DONE .* corp: \([0-9]*\)\/.*/\1/p' "$1" |
	    tail -n 1
}

# The finding in a failed run's log: the report and where the input is.
fuzz_report() {
	start='ERROR: \|invariant failed\|runtime error\|deadly signal'
	sed -n -e "/$start/,/^SUMMARY/p" -e '/Test unit written to/p' "$1" |
	    grep -v '^    #[0-9]* 0x.* in fuzzer::' | head -n 40
}
