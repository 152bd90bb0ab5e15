// SPDX-License-Identifier: MIT
/* Storage attachment for a VM: not built yet (synthetic SCSI is a later issue). */
#include <errno.h>
#include <stdio.h>

#include "vmm/vm_devices.h"

int vm_storage_attach(struct vmbus_server *srv, struct gm *gm, const struct vm_disk_config *disks,
		      unsigned int n, struct vm_storage **ret, char *err, size_t errlen)
{
	(void)srv;
	(void)gm;
	(void)disks;
	*ret = NULL;
	if (!n)
		return 0;
	snprintf(err, errlen, "synthetic SCSI disks are not available in this build yet");
	return -ENOTSUP;
}

void vm_storage_free(struct vm_storage *st)
{
	(void)st;
}
