#!/bin/bash
# SPDX-License-Identifier: MIT
# The REST API through curl --unix-socket: lifecycle, status codes, error
# bodies, hostile requests (nothing changes on disk), the events feed.
. "$(dirname "$0")/lib.sh"

if ! command -v curl >/dev/null; then
	echo "1..0 # SKIP curl is not installed (Debian package: curl)"
	exit 0
fi
start_daemon
K=$(make_fake_kernel)
U=http://openhvd/v1

# api METHOD PATH [BODY]: prints the status code; the body goes to $T_DIR/body.
api() {
	local args=(-s -o "$T_DIR/body" -w '%{http_code}' --unix-socket "$OPENHV_SOCKET" -X "$1")
	[ $# -ge 3 ] && args+=(-H 'Content-Type: application/json' --data-binary "$3")
	curl "${args[@]}" "$U$2"
}

# expect_status CODE DESCRIPTION METHOD PATH [BODY]
expect_status() {
	local want=$1 what=$2 got
	shift 2
	got=$(api "$@")
	if [ "$got" = "$want" ]; then
		ok "$what -> $got"
	else
		not_ok "$what -> $got (wanted $want)"
		sed 's/^/#   /' "$T_DIR/body"
	fi
}

error_is() {
	python3 -c 'import json,sys
e = json.load(open(sys.argv[1]))["error"]
sys.exit(0 if e["code"] == sys.argv[2] and len(e["message"]) > 10 else 1)' "$T_DIR/body" "$1"
}

# Events feed in the background for the whole test.
curl -s -N --unix-socket "$OPENHV_SOCKET" "$U/events" >"$T_DIR/events" &
EV_PID=$!
sleep 0.3

expect_status 200 "GET /v1/version" GET /version
expect_status 200 "GET /v1/vms (empty)" GET /vms
check "empty list body" grep -q '"vms":\[\]' "$T_DIR/body"
expect_status 201 "POST /v1/vms creates" POST /vms \
	"{\"name\":\"api1\",\"kernel\":\"$K\",\"memory_bytes\":268435456,\"cpus\":1}"
check "201 body is the VM, state off" grep -q '"state":"off"' "$T_DIR/body"
expect_status 201 "POST /v1/vms second VM" POST /vms "{\"name\":\"api2\",\"kernel\":\"$K\"}"
SNAP=$(cat "$STATE"/vms/*.json | md5sum)

# Hostile and invalid requests: 4xx, JSON error body, nothing changed.
expect_status 409 "duplicate name" POST /vms "{\"name\":\"api1\",\"kernel\":\"$K\"}"
check "error body code conflict" error_is conflict
expect_status 400 "malformed JSON" POST /vms '{"name":"x","kernel":'
check "error body code bad_request" error_is bad_request
expect_status 400 "unknown field" POST /vms "{\"name\":\"x\",\"kernel\":\"$K\",\"gpu\":true}"
check "message names the field" grep -q gpu "$T_DIR/body"
expect_status 400 "wrong type (cpus string)" POST /vms "{\"name\":\"x\",\"kernel\":\"$K\",\"cpus\":\"2\"}"
expect_status 400 "wrong type (memory float)" POST /vms "{\"name\":\"x\",\"kernel\":\"$K\",\"memory_bytes\":1.5}"
expect_status 400 "absurd memory" POST /vms "{\"name\":\"x\",\"kernel\":\"$K\",\"memory_bytes\":99999999999999999999}"
expect_status 400 "absurd cpus" POST /vms "{\"name\":\"x\",\"kernel\":\"$K\",\"cpus\":100000}"
expect_status 400 "path traversal in name (body)" POST /vms "{\"name\":\"../../etc/cron.d/x\",\"kernel\":\"$K\"}"
expect_status 400 "relative kernel path" POST /vms '{"name":"x","kernel":"bzImage"}'
expect_status 400 "not an object" POST /vms '[1,2,3]'
expect_status 400 "trailing garbage" POST /vms "{\"name\":\"x\",\"kernel\":\"$K\"} xx"
expect_status 400 "too deep" POST /vms '{"a":[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]}'
expect_status 400 "name too long" POST /vms "{\"name\":\"$(printf 'a%.0s' $(seq 100))\",\"kernel\":\"$K\"}"
expect_status 400 "too many disks" POST /vms "{\"name\":\"x\",\"kernel\":\"$K\",\"disks\":[$(for i in $(seq 17); do printf '{"path":"/d%d"},' $i; done)\"x\"]}"
expect_status 400 "bad MAC" POST /vms "{\"name\":\"x\",\"kernel\":\"$K\",\"nics\":[{\"tap\":\"t0\",\"mac\":\"zz\"}]}"
head -c 70000 /dev/zero | tr '\0' ' ' >"$T_DIR/big.json"
expect_status 413 "body over 64 KiB" POST /vms "@$T_DIR/big.json"
GOT=$(printf 'POST /v1/vms HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n' |
      curl -s -o /dev/null -w '%{http_code}' --unix-socket "$OPENHV_SOCKET" -X POST \
	   -H 'Transfer-Encoding: chunked' --data-binary @- "$U/vms")
check "chunked request refused with 411 (got $GOT)" test "$GOT" = 411
expect_status 400 "encoded path traversal in URL" GET /vms/..%2f..%2fetc
GOT=$(curl -s -o /dev/null -w '%{http_code}' --path-as-is --unix-socket "$OPENHV_SOCKET" \
	   "$U/vms/../../../etc/passwd")
check "literal ../ in URL refused (got $GOT)" test "$GOT" = 404 -o "$GOT" = 400
expect_status 400 "bad name in URL" GET "/vms/.hidden"
expect_status 404 "unknown VM" GET /vms/nosuch
expect_status 404 "unknown route" GET /containers
expect_status 404 "unknown action" POST /vms/api1/explode
expect_status 405 "method not allowed" PUT /vms/api1 '{}'
expect_status 400 "edit cannot rename" PATCH /vms/api1 '{"name":"other"}'
expect_status 400 "edit bad value" PATCH /vms/api1 '{"cpus":0}'
check "hostile requests changed nothing on disk" test "$(cat "$STATE"/vms/*.json | md5sum)" = "$SNAP"
check "no stray files in the store" test "$(ls -A "$STATE/vms" | tr '\n' ' ')" = "api1.json api2.json "

# Lifecycle.
expect_status 200 "PATCH while off" PATCH /vms/api1 '{"memory_bytes":536870912,"cmdline":"console=ttyS0"}'
check "PATCH stored" grep -q '"memory_bytes":536870912' "$STATE/vms/api1.json"
expect_status 409 "guest info while off" GET /vms/api1/guest
expect_status 202 "start" POST /vms/api1/start
check "api1 running" wait_state api1 running 5
expect_status 409 "start while running" POST /vms/api1/start
check "conflict message says running" grep -q "running" "$T_DIR/body"
expect_status 409 "PATCH while running" PATCH /vms/api1 '{"cpus":2}'
expect_status 409 "DELETE while running" DELETE /vms/api1
expect_status 501 "guest info: the idle engine has no integration services" GET /vms/api1/guest
expect_status 400 "console without upgrade" POST /vms/api1/console
expect_status 200 "pause" POST /vms/api1/pause
expect_status 200 "resume" POST /vms/api1/resume
expect_status 400 "stop with a bad timeout" POST /vms/api1/stop '{"timeout_sec":"soon"}'
expect_status 202 "stop with timeout" POST /vms/api1/stop '{"timeout_sec":5}'
check "api1 off" wait_state api1 off 10
expect_status 202 "start again" POST /vms/api1/start
check "api1 running again" wait_state api1 running 5
expect_status 202 "restart" POST /vms/api1/restart
sleep 0.3
check "api1 running after restart" wait_state api1 running 5
expect_status 202 "kill" POST /vms/api1/kill
check "api1 off after kill" wait_state api1 off 5
expect_status 204 "DELETE" DELETE /vms/api1
check "file gone" test ! -e "$STATE/vms/api1.json"
expect_status 404 "GET deleted" GET /vms/api1

# Peer credentials: only root, the service's uid and the socket's group.
if [ "$(id -u)" = 0 ] && command -v setpriv >/dev/null; then
	SGID=$(stat -c %g "$OPENHV_SOCKET")
	check "socket mode is 0660" test "$(stat -c %a "$OPENHV_SOCKET")" = 660
	chmod 0711 "$T_DIR"
	chmod 0666 "$OPENHV_SOCKET"   # let others connect, so the SO_PEERCRED check decides
	OUT=$(setpriv --reuid=4242 --regid=4242 --clear-groups curl -s \
		-w '\n%{http_code}' --unix-socket "$OPENHV_SOCKET" "$U/vms")
	GOT=$(tail -n 1 <<<"$OUT")
	check "stranger refused with 403 (got $GOT)" test "$GOT" = 403
	check "403 body says why" grep -q '"code":"forbidden"' <<<"$OUT"
	GOT=$(setpriv --reuid=4242 --regid=4242 --groups="$SGID" curl -s -o /dev/null \
		-w '%{http_code}' --unix-socket "$OPENHV_SOCKET" "$U/vms")
	check "member of the socket's group allowed (got $GOT)" test "$GOT" = 200
	chmod 0660 "$OPENHV_SOCKET"
	chmod 0700 "$T_DIR"
fi

sleep 0.3
kill $EV_PID 2>/dev/null; wait $EV_PID 2>/dev/null
check "events: created" grep -q '"event":"created","vm":"api1"' "$T_DIR/events"
check "events: running" grep -q '"event":"state","vm":"api1","state":"running"' "$T_DIR/events"
check "events: paused" grep -q '"vm":"api1","state":"paused"' "$T_DIR/events"
check "events: stopping then off" grep -q '"vm":"api1","state":"off"' "$T_DIR/events"
check "events: deleted" grep -q '"event":"deleted","vm":"api1"' "$T_DIR/events"
check "events are one JSON object per line" python3 -c 'import json,sys
[json.loads(l) for l in open(sys.argv[1]) if l.strip()]' "$T_DIR/events"
finish
