#!/bin/bash
# SPDX-License-Identifier: MIT
# Runs the guest test scripts named in OPENHV_GUEST_TESTS one after another
# (inside the emulated host when there is no hardware virtualization) and
# passes their TAP through, each test line prefixed with the script's name.
set -u
status=0
for t in ${OPENHV_GUEST_TESTS:?}; do
	name=$(basename "$t" .sh)
	echo "# == $name"
	start=$(date +%s)
	"$t" 2>&1 | sed -u -E "s/^(not ok|ok) ([0-9]+) - /\1 \2 - $name: /" | tee /tmp/ohv-run-all.$$
	rc=${PIPESTATUS[0]}
	if [ "$rc" -eq 125 ]; then
		# The script found the emulated host itself broken (see
		# tests/guest/l2-fault.sh): not a test result; the caller retries.
		echo "# $name stopped: the emulated host failed"
		rm -f /tmp/ohv-run-all.$$
		exit 125
	fi
	if [ "$rc" -ne 0 ]; then
		status=1
		grep -q '^not ok' /tmp/ohv-run-all.$$ ||
			echo "not ok - $name: script exited with status $rc"
	fi
	rm -f /tmp/ohv-run-all.$$
	echo "# $name took $(( $(date +%s) - start )) s"
done
exit $status
