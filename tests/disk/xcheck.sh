#!/bin/bash
# SPDX-License-Identifier: MIT
# Cross-checks the disk library against qemu-img/qemu-io (Debian qemu-utils),
# both ways, plus differencing chains and the CLI's error behaviour.
# Prints TAP. Usage: xcheck.sh OPENHV DISK_TOOL
set -u
OPENHV=$(realpath "$1")
TOOL=$(realpath "$2")
if ! command -v qemu-img >/dev/null || ! command -v qemu-io >/dev/null; then
	echo "1..0 # SKIP qemu-img/qemu-io not installed (Debian package qemu-utils)"
	exit 0
fi
W=$(mktemp -d "${TMPDIR:-/tmp}/ohv-xcheck.XXXXXX")
trap 'rm -rf "$W"' EXIT
cd "$W" || exit 1

n=0
fails=0
ok() { n=$((n + 1)); echo "ok $n - $1"; }
notok() { n=$((n + 1)); fails=$((fails + 1)); echo "not ok $n - $1"; }
# t NAME CMD...: a test that passes when CMD succeeds
t() { local name=$1; shift; if "$@" >"$W/last.log" 2>&1; then ok "$name"; else notok "$name"; sed 's/^/# /' "$W/last.log" | head -20; fi; }
qfmt() { case $1 in *.vhd) echo vpc ;; *.vhdx) echo vhdx ;; *) echo raw ;; esac; }

# Reference content: 64 MiB, scattered random extents and a zero gap.
SIZE=64M
mkpattern() {
	head -c $SIZE /dev/zero >"$1"
	for o in 0 3 17 31 32 50 63; do
		dd if=/dev/urandom of="$1" bs=512K seek=$((o * 2)) count=1 conv=notrunc status=none
	done
	dd if=/dev/urandom of="$1" bs=4096 seek=5000 count=3 conv=notrunc status=none
}
mkpattern src.raw
head -c 3M /dev/urandom >patch1.raw
head -c 1M /dev/urandom >patch2.raw
head -c 4096 /dev/urandom >patch3.raw
# expected = src with patch1 at 10M, patch2 at 40M, patch3 at 60M+4K
cp src.raw expect.raw
dd if=patch1.raw of=expect.raw bs=1M seek=10 conv=notrunc status=none
dd if=patch2.raw of=expect.raw bs=1M seek=40 conv=notrunc status=none
dd if=patch3.raw of=expect.raw bs=4096 seek=$((60 * 256 + 1)) conv=notrunc status=none

apply_patches() { # IMG
	"$TOOL" write "$1" patch1.raw 10M && "$TOOL" write "$1" patch2.raw 40M &&
		"$TOOL" write "$1" patch3.raw $((60 * 1048576 + 4096))
}
qemu_reads() { # IMG EXPECTED
	qemu-img convert -f "$(qfmt "$1")" -O raw "$1" q.raw && cmp q.raw "$2"
}
qemu_checks() {
	local out
	out=$(qemu-img check -f "$(qfmt "$1")" "$1" 2>&1)
	local rc=$?
	# rc 63: the format has no check (vpc); anything else non-zero is a failure
	[ $rc -eq 0 ] || [ $rc -eq 63 ] || { echo "$out"; return 1; }
}
ours_reads() { "$TOOL" dump "$1" o.raw && cmp o.raw "$2"; }

# 1. Images we make: qemu-img checks them and reads them identically.
for spec in "a.vhdx|" "b1.vhdx|--block-size 1M" "b256.vhdx|--block-size 256M" \
	"s4k.vhdx|--sector-size 4096" "fx.vhdx|--type fixed --block-size 8M" \
	"d.vhd|" "fx.vhd|--type fixed"; do
	img=${spec%%|*}
	opts=${spec#*|}
	# shellcheck disable=SC2086
	t "ours $img ($opts): convert from raw" "$OPENHV" disk convert src.raw "$img" $opts
	if [ "$img" = s4k.vhdx ]; then
		# qemu 7.2 refuses 4096-byte logical sectors in VHDX ("Operation not supported").
		t "ours $img: we read identical content" ours_reads "$img" src.raw
		t "ours $img: our writes" apply_patches "$img"
		t "ours $img: we read our writes" ours_reads "$img" expect.raw
		t "ours $img: qemu-img refuses 4K-sector VHDX (qemu limitation), without crashing" \
			bash -c "qemu-img info -f vhdx $img 2>&1 | grep -q 'not supported'"
	else
		t "ours $img: qemu-img check" qemu_checks "$img"
		t "ours $img: qemu-img reads identical content" qemu_reads "$img" src.raw
		t "ours $img: our writes" apply_patches "$img"
		t "ours $img: qemu-img check after our writes" qemu_checks "$img"
		t "ours $img: qemu-img reads our writes" qemu_reads "$img" expect.raw
	fi
	t "ours $img: our check is clean" "$OPENHV" disk check "$img"
done

# 2. Images qemu makes: we read and write them, qemu reads our writes back.
for spec in "q-dyn1m.vhdx|vhdx|subformat=dynamic,block_size=1M" \
	"q-dyn8m.vhdx|vhdx|subformat=dynamic,block_size=8M" \
	"q-dyn32m.vhdx|vhdx|subformat=dynamic" \
	"q-fixed.vhdx|vhdx|subformat=fixed,block_size=4M" \
	"q-dyn.vhd|vpc|subformat=dynamic,force_size=on" \
	"q-fixed.vhd|vpc|subformat=fixed,force_size=on"; do
	IFS='|' read -r img fmt opts <<<"$spec"
	t "qemu $img: qemu-img convert" qemu-img convert -f raw -O "$fmt" -o "$opts" src.raw "$img"
	t "qemu $img: we read identical content" ours_reads "$img" src.raw
	t "qemu $img: our writes" apply_patches "$img"
	t "qemu $img: qemu-img check after our writes" qemu_checks "$img"
	t "qemu $img: qemu-img reads our writes" qemu_reads "$img" expect.raw
	t "qemu $img: we read our writes" ours_reads "$img" expect.raw
done
# qemu-io writes into an image we created, we read them.
t "qemu-io writes into our vhdx" bash -c "'$OPENHV' disk create io.vhdx --size $SIZE --block-size 2M &&
	qemu-io -f vhdx -c 'write -P 0x5a 1M 3M' -c 'write -P 0xa5 33M 512' io.vhdx"
head -c $SIZE /dev/zero >io.raw
qemu-io -f raw -c 'write -P 0x5a 1M 3M' -c 'write -P 0xa5 33M 512' io.raw >/dev/null
t "we read qemu-io's writes" ours_reads io.vhdx io.raw

# CHS geometry in our VHD footers matches qemu's (same algorithm from the spec).
chs_same() {
	local sz
	qemu-img create -q -f vpc -o subformat=fixed "g-q$1.vhd" "$1" || return 1
	sz=$(qemu-img info -f vpc --output=json "g-q$1.vhd" | sed -n 's/.*"virtual-size": \([0-9]*\).*/\1/p')
	"$OPENHV" disk create "g-o$1.vhd" --size "$sz" --type fixed >/dev/null || return 1
	[ "$(tail -c 512 "g-q$1.vhd" | od -An -tx1 -j56 -N4)" = "$(tail -c 512 "g-o$1.vhd" | od -An -tx1 -j56 -N4)" ]
}
for sz in 10M 300M 4G 100G; do
	t "VHD CHS geometry for $sz matches qemu-img" chs_same $sz
done

# 3. Differencing chains three deep (VHDX and VHD).
for ext in vhdx vhd; do
	t "$ext chain: base" "$OPENHV" disk convert src.raw base.$ext
	t "$ext chain: mid on base" "$OPENHV" disk create --parent base.$ext mid.$ext
	t "$ext chain: mid reads through to base" ours_reads mid.$ext src.raw
	t "$ext chain: write into mid" "$TOOL" write mid.$ext patch1.raw 10M
	t "$ext chain: top on mid" "$OPENHV" disk create --parent mid.$ext top.$ext
	t "$ext chain: write into top" bash -c "'$TOOL' write top.$ext patch2.raw 40M &&
		'$TOOL' write top.$ext patch3.raw $((60 * 1048576 + 4096))"
	t "$ext chain: top reads all layers" ours_reads top.$ext expect.raw
	t "$ext chain: base unchanged" ours_reads base.$ext src.raw
	t "$ext chain: info shows the chain" bash -c "'$OPENHV' disk info top.$ext | grep -q 'parent 2:'"
	t "$ext chain: info --json" bash -c "'$OPENHV' disk info --json top.$ext | grep -q '\"type\": \"differencing\"'"
	t "$ext chain: merge top into mid" "$OPENHV" disk merge top.$ext
	t "$ext chain: top file removed" test ! -e top.$ext
	t "$ext chain: mid now holds everything" ours_reads mid.$ext expect.raw
	t "$ext chain: merge mid into base" "$OPENHV" disk merge mid.$ext
	t "$ext chain: base holds everything" ours_reads base.$ext expect.raw
	t "$ext chain: qemu-img reads merged base" qemu_reads base.$ext expect.raw
done

# 4. Resize and compact keep qemu-img happy.
"$OPENHV" disk convert src.raw rs.vhdx >/dev/null
t "resize vhdx grow 64M->200M" "$OPENHV" disk resize rs.vhdx 200M
t "resize: qemu-img check" qemu_checks rs.vhdx
t "resize: qemu-img sees 200M" bash -c "qemu-img info -f vhdx rs.vhdx | grep -q '200 MiB'"
t "resize: content kept" bash -c "qemu-img convert -f vhdx -O raw rs.vhdx q.raw && cmp -n 67108864 q.raw src.raw"
t "resize vhdx grow past BAT region (200M->40G, 1M blocks)" bash -c "'$OPENHV' disk convert src.raw rb.vhdx --block-size 1M && '$OPENHV' disk resize rb.vhdx 40G && qemu-img check -f vhdx rb.vhdx && qemu-img convert -f vhdx -O raw rb.vhdx q.raw && cmp -n 67108864 q.raw src.raw && '$OPENHV' disk check rb.vhdx"
t "resize vhdx shrink 200M->32M" bash -c "'$OPENHV' disk resize rs.vhdx 32M && qemu-img check -f vhdx rs.vhdx && qemu-img convert -f vhdx -O raw rs.vhdx q.raw && cmp q.raw <(head -c 32M src.raw)"
t "resize vhd (dynamic) 64M->100M" bash -c "'$OPENHV' disk convert src.raw rs.vhd --block-size 512K && '$OPENHV' disk resize rs.vhd 32M && '$OPENHV' disk resize rs.vhd 64M && qemu-img convert -f vpc -O raw rs.vhd q.raw && cmp -n 33554432 q.raw src.raw"
t "resize raw" bash -c "cp src.raw r.img && '$OPENHV' disk resize r.img 80M && [ \$(stat -c %s r.img) = 83886080 ]"
cp src.raw zero-heavy.raw
head -c 8M /dev/zero >zero8.raw
t "compact vhdx" bash -c "'$OPENHV' disk convert src.raw c.vhdx --block-size 1M && '$TOOL' write c.vhdx zero8.raw 0 && '$OPENHV' disk compact c.vhdx && qemu-img check -f vhdx c.vhdx"
dd if=/dev/zero of=zero-heavy.raw bs=1M count=8 conv=notrunc status=none
t "compact: content kept" qemu_reads c.vhdx zero-heavy.raw
t "compact: file shrank" bash -c "[ \$(stat -c %s c.vhdx) -lt \$((4 * 1048576 + 64 * 1048576)) ]"
t "compact vhd" bash -c "'$OPENHV' disk convert src.raw c.vhd --block-size 512K && '$TOOL' write c.vhd zero8.raw 0 && s0=\$(stat -c %s c.vhd) && '$OPENHV' disk compact c.vhd && [ \$(stat -c %s c.vhd) -lt \$s0 ] && '$OPENHV' disk check c.vhd"
t "compact vhd: content kept" qemu_reads c.vhd zero-heavy.raw

# 5. Bad input from the command line: one line, non-zero, nothing written.
onel() { # expected-exit CMD...: runs CMD, wants that exit code and a single stderr line
	local want=$1; shift
	"$@" >/dev/null 2>err.txt
	local rc=$?
	[ $rc -eq "$want" ] && [ "$(wc -l <err.txt)" -eq 1 ] || { echo "rc=$rc"; cat err.txt; return 1; }
}
t "create over an existing file is refused" bash -c "cp src.raw keep.raw && ! '$OPENHV' disk create keep.raw --size 1M 2>/dev/null && cmp keep.raw src.raw"
t "create with a bad size: exit 2, one line" onel 2 "$OPENHV" disk create x.vhdx --size banana
t "create with a bad block size: exit 1, nothing left" bash -c "! '$OPENHV' disk create x.vhdx --size 1G --block-size 3M 2>/dev/null && test ! -e x.vhdx"
t "unknown format: exit 2" onel 2 "$OPENHV" disk convert src.raw x.foo --format foo
head -c 300000 a.vhdx >trunc.vhdx
t "truncated vhdx: one line, exit 1" onel 1 "$OPENHV" disk info trunc.vhdx
cp a.vhdx badsig.vhdx
printf 'XXXX' | dd of=badsig.vhdx bs=1 seek=65536 conv=notrunc status=none
printf 'XXXX' | dd of=badsig.vhdx bs=1 seek=131072 conv=notrunc status=none
t "both headers damaged: one line, exit 1" onel 1 "$OPENHV" disk info badsig.vhdx
t "damaged headers: file untouched" bash -c "cp badsig.vhdx b2.vhdx; '$OPENHV' disk check --repair b2.vhdx >/dev/null 2>&1; cmp badsig.vhdx b2.vhdx"
"$OPENHV" disk create p.vhdx --size 8M >/dev/null && "$OPENHV" disk create --parent p.vhdx c1.vhdx >/dev/null
mv p.vhdx p-moved.vhdx
t "missing parent: one line naming it, exit 1" bash -c "onel() { \"\$@\" >/dev/null 2>err.txt; [ \$? -eq 1 ] && [ \$(wc -l <err.txt) -eq 1 ] && grep -q 'p.vhdx' err.txt; }; onel '$OPENHV' disk info c1.vhdx"
mv p-moved.vhdx p.vhdx
"$TOOL" write p.vhdx patch3.raw 0 >/dev/null
t "modified parent is detected" bash -c "'$TOOL' dump c1.vhdx o.raw 2>&1 | grep -q 'modified after'"
t "merge of a non-differencing image: one line, exit 1" onel 1 "$OPENHV" disk merge a.vhdx
t "compact of a fixed image is refused" onel 1 "$OPENHV" disk compact fx.vhdx

echo "1..$n"
[ $fails -eq 0 ]
