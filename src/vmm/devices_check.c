// SPDX-License-Identifier: MIT
/* Up-front checks of disk and NIC configuration (paths, names, VLAN ids). */
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "vmm/vm.h"
#include "vmm/vm_devices.h"

int vm_devices_check(const struct vm_disk_config *disks, unsigned int n_disks,
		     const struct vm_nic_config *nics, unsigned int n_nics, char *err,
		     size_t errlen)
{
	struct stat seen[VM_MAX_DISKS];

	for (unsigned int i = 0; i < n_disks && i < VM_MAX_DISKS; i++) {
		const struct vm_disk_config *d = &disks[i];
		struct stat *st = &seen[i];
		int fd, r;

		if (!d->path || !*d->path) {
			snprintf(err, errlen, "--disk needs a path (--disk PATH[,ro][,dvd])");
			return -EINVAL;
		}
		/* A passed descriptor is checked as it is; a path is opened the way the VM will. */
		if (d->fd >= 0) {
			r = fstat(d->fd, st) < 0 ? -errno : 0;
		} else {
			fd = open(d->path, (d->read_only || d->dvd ? O_RDONLY : O_RDWR) | O_CLOEXEC);
			if (fd < 0) {
				snprintf(err, errlen, "disk '%s': %s; check the --disk path%s", d->path,
					 strerror(errno),
					 errno == EACCES || errno == EROFS ? " or add ,ro" : "");
				return -errno;
			}
			r = fstat(fd, st) < 0 ? -errno : 0;
			close(fd);
		}
		if (r || !(S_ISREG(st->st_mode) || S_ISBLK(st->st_mode))) {
			snprintf(err, errlen, "disk '%s' is not a file or block device", d->path);
			return -EINVAL;
		}
		/* The same image twice (by any name) would be two writers on one file. */
		for (unsigned int k = 0; k < i; k++) {
			if (seen[k].st_dev == st->st_dev && seen[k].st_ino == st->st_ino) {
				snprintf(err, errlen, "disk '%s' is given twice; each image can be attached once",
					 d->path);
				return -EINVAL;
			}
		}
	}
	for (unsigned int i = 0; i < n_nics; i++) {
		const struct vm_nic_config *n = &nics[i];

		if (!!n->tap == !!n->switch_name) {
			snprintf(err, errlen, "--nic needs exactly one of tap=IFNAME or switch=NAME");
			return -EINVAL;
		}
		if (n->tap && (strlen(n->tap) >= IFNAMSIZ || !*n->tap || strchr(n->tap, '/'))) {
			snprintf(err, errlen, "--nic tap='%s' is not a valid interface name", n->tap);
			return -EINVAL;
		}
		if (n->vlan > 4094) {
			snprintf(err, errlen, "--nic vlan=%u is out of range; use 1 to 4094", n->vlan);
			return -EINVAL;
		}
	}
	return 0;
}
