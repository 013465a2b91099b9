#!/usr/bin/env bash
# Runs every Go fuzz target in the module, one after the other, for
# FUZZTIME each (make fuzz; make test runs it with a short FUZZTIME).
#
#   FUZZTIME   -fuzztime per target: a duration (30s) or a count of
#              inputs (5000x). Default 30s.
#   FUZZPKGS   packages to look in. Default ./...
#   FUZZFLAGS  extra go test flags, e.g. '-parallel 1'.
#   GO         the go command. Default go.
#
# Targets are found, not listed: every func FuzzXxx(*testing.F) in the
# _test.go files `go list` says make up each package's tests (so build
# constraints apply, and nothing is compiled just to list). A target fails when it
# finds an input that fails (go test writes it to testdata/fuzz/<Target>/
# in the package; commit it with the fix) or when its seed corpus fails.
# Every target runs even after a failure; the exit status says whether
# any failed.
#
# One failure is not a failure: with a duration FUZZTIME, Go before 1.27
# can report its own -fuzztime deadline as "context deadline exceeded"
# (golang/go#75804: internal/fuzz compares the expired context's error
# with its child's before the child has been cancelled). That run fuzzed
# for its whole time and found nothing, so it counts as passed, and says
# so. Any other output, or a failing input written, is a failure.
set -euo pipefail

GO=${GO:-go}
FUZZTIME=${FUZZTIME:-30s}
FUZZPKGS=${FUZZPKGS:-./...}
FUZZFLAGS=${FUZZFLAGS:-}

out=$(mktemp)
trap 'rm -f "$out"' EXIT

# deadline_only reports whether the output in $1 of target $2 failed with
# nothing but the coordinator's own deadline error (see above).
deadline_only() {
	grep -q -e 'Failing input written to' -e 'failure while testing seed corpus entry' "$1" && return 1
	awk -v t="$2" '
		index($0, "--- FAIL: " t " (") == 1 { in_fail = 1; next }
		in_fail && /^(FAIL|exit status|ok )/ { in_fail = 0 }
		in_fail { sub(/^[ \t]+/, ""); if ($0 != "") lines[n++] = $0 }
		END { exit !(n == 1 && lines[0] == "context deadline exceeded") }
	' "$1"
}

start=$(date +%s)
targets=0
failed=()
while IFS='|' read -r pkg dir files; do
	read -ra files <<<"$files"
	[ ${#files[@]} -gt 0 ] || continue
	names=$(cd "$dir" && sed -nE 's/^func (Fuzz[A-Za-z0-9_]*)\([A-Za-z0-9_]+ \*testing\.F\).*/\1/p' "${files[@]}" </dev/null | sort -u)
	for t in $names; do
		targets=$((targets + 1))
		t0=$(date +%s)
		rc=0
		# shellcheck disable=SC2086 # FUZZFLAGS is a list of flags
		$GO test -run '^$' -fuzz "^$t\$" -fuzztime "$FUZZTIME" $FUZZFLAGS "$pkg" </dev/null >"$out" 2>&1 || rc=$?
		secs=$(($(date +%s) - t0))
		execs=$(grep -o 'execs: [0-9]*' "$out" | tail -1 | cut -d' ' -f2 || true)
		line=$(printf '%-45s %-28s %4ss %8s execs' "$pkg" "$t" "$secs" "${execs:-0}")
		if [ "$rc" -eq 0 ]; then
			echo "ok    $line"
		elif [[ $FUZZTIME != *x ]] && deadline_only "$out" "$t"; then
			echo "ok    $line (go's fuzz coordinator reported its own -fuzztime deadline, golang/go#75804: no input failed)"
		else
			echo "FAIL  $line"
			sed 's/^/    /' "$out"
			failed+=("$pkg $t")
		fi
	done
done < <($GO list -f '{{.ImportPath}}|{{.Dir}}|{{join .TestGoFiles " "}} {{join .XTestGoFiles " "}}' $FUZZPKGS)

echo "fuzz: $targets targets, FUZZTIME $FUZZTIME each, $(($(date +%s) - start))s"
if [ ${#failed[@]} -gt 0 ]; then
	printf 'fuzz: FAILED: %s\n' "${failed[@]}"
	exit 1
fi
