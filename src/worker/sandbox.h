/* SPDX-License-Identifier: MIT */
/*
 * Worker sandbox. Two steps around machine assembly:
 *
 *   sandbox_enter_namespaces()  before the engine reads its inputs: own mount,
 *                               IPC, UTS and network namespaces (a user
 *                               namespace too when not started as root).
 *   sandbox_seal()              after assembly, before the guest runs: empty
 *                               read-only root, no capabilities, unprivileged
 *                               uid/gid, no_new_privs, seccomp allowlist
 *                               applied to every thread.
 *
 * Both return CTL_SBX_* bits for what is in force; sandbox_seal fails (and the
 * worker refuses to run the guest) if any required restriction could not be
 * applied.
 */
#ifndef OPENHV_WORKER_SANDBOX_H
#define OPENHV_WORKER_SANDBOX_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

int sandbox_enter_namespaces(uint32_t *flags);
int sandbox_seal(uid_t uid, gid_t gid, uint32_t *flags, char *err, size_t errlen);

/*
 * Stand-alone check: enter the sandbox as a worker would, then try what it
 * must refuse (open a host file, execve, socket/connect, fork, ptrace) and
 * what it must allow (threads, memory, pipes). Prints TAP; returns 0 if all
 * passed.
 */
int sandbox_selftest(uid_t uid, gid_t gid);

#endif
