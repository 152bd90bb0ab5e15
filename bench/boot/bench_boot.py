#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Boot-time and memory-overhead benchmark: openhv vs QEMU (-M microvm, -M pc).

Each VMM boots the same kernel and initramfs (the default guest) with the same
memory and vCPU count, N times, one after another on the same host. For each
run we record:
  init   wall time from process start to the guest's "openhv-guest: init reached"
  total  wall time from process start to process exit (guest powered off)
  ovh    VMM memory overhead at init: process RSS minus the RSS of the guest-RAM
         mappings (anonymous mappings of at least 64 MiB), from /proc/PID/smaps
Prints medians and openhv's ratio to each peer (peer time / openhv time: > 1
means openhv is faster). Needs /dev/kvm: run it through tools/with-kvm.

usage: bench_boot.py OPENHV KERNEL INITRD [--runs N] [--cpus N] [--memory MIB]
"""
import argparse, os, statistics, subprocess, sys, threading, time

MARK = b"openhv-guest: init reached"


def guest_ram_and_rss(pid):
    rss = ram = 0
    size = 0
    anon = False
    try:
        with open(f"/proc/{pid}/smaps") as f:
            for line in f:
                parts = line.split()
                if not parts:
                    continue
                if not parts[0].endswith(":") or "-" in parts[0]:
                    # mapping header: "start-end perms offset dev inode [path]"
                    anon = len(parts) < 6 or parts[5] in ("[heap]",)
                    continue
                if parts[0] == "Size:":
                    size = int(parts[1])
                elif parts[0] == "Rss:":
                    r = int(parts[1])
                    rss += r
                    if anon and size >= 64 * 1024:
                        ram += r
    except OSError:
        return None, None
    return rss, ram


def one_run(cmd, timeout=600):
    t0 = time.monotonic()
    p = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                         stderr=subprocess.STDOUT)
    res = {"init": None, "ovh": None}
    buf = b""

    def reader():
        nonlocal buf
        for line in p.stdout:
            buf += line
            if res["init"] is None and MARK in line:
                res["init"] = time.monotonic() - t0
                rss, ram = guest_ram_and_rss(p.pid)
                if rss is not None:
                    res["ovh"] = (rss - ram) / 1024.0
    th = threading.Thread(target=reader, daemon=True)
    th.start()
    try:
        rc = p.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        p.kill()
        rc = p.wait()
    th.join(5)
    res["total"] = time.monotonic() - t0
    res["rc"] = rc
    if rc != 0 or res["init"] is None:
        sys.stderr.write(buf.decode(errors="replace")[-2000:])
    return res


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("openhv")
    ap.add_argument("kernel")
    ap.add_argument("initrd")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--cpus", type=int, default=1)
    ap.add_argument("--memory", type=int, default=512)
    a = ap.parse_args()
    append = "console=ttyS0 panic=-1 quiet"
    qemu = ["qemu-system-x86_64", "-accel", "kvm", "-cpu", "host", "-m", f"{a.memory}M",
            "-smp", str(a.cpus), "-nodefaults", "-no-user-config", "-display", "none",
            "-serial", "stdio", "-no-reboot", "-kernel", a.kernel, "-initrd", a.initrd,
            "-append", append]
    vmms = {
        "openhv": [a.openhv, "run", "--kernel", a.kernel, "--initrd", a.initrd,
                   "--memory", f"{a.memory}M", "--cpus", str(a.cpus), "--no-reboot",
                   "--cmdline", append],
        # The same guest without Hyper-V enlightenments/VMBus: their boot-time cost.
        "openhv-nohv": [a.openhv, "run", "--no-hyperv", "--kernel", a.kernel, "--initrd", a.initrd,
                        "--memory", f"{a.memory}M", "--cpus", str(a.cpus), "--no-reboot",
                        "--cmdline", append],
        "qemu-microvm": qemu[:1] + ["-M", "microvm"] + qemu[1:],
        "qemu-pc": qemu[:1] + ["-M", "pc"] + qemu[1:],
    }
    results = {k: [] for k in vmms}
    # Interleave the VMMs so slow drift of the host affects all alike.
    for i in range(a.runs):
        for name, cmd in vmms.items():
            r = one_run(cmd)
            results[name].append(r)
            print(f"# run {i + 1} {name}: init {r['init'] if r['init'] is None else round(r['init'], 2)} s,"
                  f" total {r['total']:.2f} s, overhead {r['ovh'] if r['ovh'] is None else round(r['ovh'], 1)} MiB,"
                  f" rc {r['rc']}", flush=True)

    def med(name, key):
        v = [r[key] for r in results[name] if r[key] is not None and r["rc"] == 0]
        return statistics.median(v) if v else None

    hv, nohv = med("openhv", "init"), med("openhv-nohv", "init")
    if hv and nohv:
        print(f"enlightenments + VMBus cost at boot: {hv - nohv:+.2f} s to init ({hv / nohv:.2f}x)")
    print(f"\nboot benchmark: {a.runs} runs each, {a.cpus} vCPU, {a.memory} MiB, same kernel and initramfs")
    print(f"{'vmm':14} {'start->init s':>14} {'start->poweroff s':>18} {'VMM overhead MiB':>17}")
    base = {k: med("openhv", k) for k in ("init", "total", "ovh")}
    for name in vmms:
        vals = [med(name, k) for k in ("init", "total", "ovh")]
        cells = ["-" if v is None else f"{v:.2f}" for v in vals]
        print(f"{name:14} {cells[0]:>14} {cells[1]:>18} {cells[2]:>17}")
    for name in vmms:
        if name.startswith("openhv"):
            continue
        ri = med(name, "init") / base["init"] if base["init"] and med(name, "init") else None
        rt = med(name, "total") / base["total"] if base["total"] and med(name, "total") else None
        rm = med(name, "ovh") / base["ovh"] if base["ovh"] and med(name, "ovh") else None
        print(f"ratio {name}/openhv: init {ri and round(ri, 2)}x, poweroff {rt and round(rt, 2)}x,"
              f" memory overhead {rm and round(rm, 2)}x (>1: openhv better)")


if __name__ == "__main__":
    main()
