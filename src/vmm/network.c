// SPDX-License-Identifier: MIT
/* Network attachment for a VM: not built yet (synthetic NICs are a later issue). */
#include <errno.h>
#include <stdio.h>

#include "vmm/vm_devices.h"

int vm_network_attach(struct vmbus_server *srv, struct gm *gm, const struct vm_nic_config *nics,
		      unsigned int n, struct vm_network **ret, char *err, size_t errlen)
{
	(void)srv;
	(void)gm;
	(void)nics;
	*ret = NULL;
	if (!n)
		return 0;
	snprintf(err, errlen, "synthetic NICs are not available in this build yet");
	return -ENOTSUP;
}

void vm_network_free(struct vm_network *net)
{
	(void)net;
}
