/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* vsock-probe - does AF_VSOCK loopback over CID 1 work on this kernel?
 * Exit 0: yes; 1: AF_VSOCK exists but CID 1 does not answer; 77: no AF_VSOCK. */
#include <errno.h>
#include <linux/vm_sockets.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

/* Binds an ephemeral port on CID 1 and connects to it with a short timeout. */
int main(void)
{
	int srv = socket(AF_VSOCK, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (srv < 0) {
		printf("vsock-probe: no AF_VSOCK: %s\n", strerror(errno));
		return 77;
	}
	struct sockaddr_vm addr = {.svm_family = AF_VSOCK, .svm_cid = VMADDR_CID_ANY, .svm_port = VMADDR_PORT_ANY};
	socklen_t len = sizeof(addr);
	if (bind(srv, (struct sockaddr *)&addr, sizeof(addr)) < 0 || listen(srv, 1) < 0 ||
	    getsockname(srv, (struct sockaddr *)&addr, &len) < 0) {
		printf("vsock-probe: cannot listen: %s\n", strerror(errno));
		return 1;
	}
	int cli = socket(AF_VSOCK, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct timeval tv = {.tv_sec = 1};
	if (cli < 0 || setsockopt(cli, AF_VSOCK, SO_VM_SOCKETS_CONNECT_TIMEOUT_NEW, &tv, sizeof(tv)) < 0) {
		/* Older kernels only know the old option name; a failure here is harmless. */
	}
	struct sockaddr_vm to = {.svm_family = AF_VSOCK, .svm_cid = VMADDR_CID_LOCAL, .svm_port = addr.svm_port};
	if (cli < 0 || connect(cli, (struct sockaddr *)&to, sizeof(to)) < 0) {
		printf("vsock-probe: connect to CID 1 port %u failed: %s\n", addr.svm_port, strerror(errno));
		return 1;
	}
	printf("vsock-probe: CID 1 loopback works (port %u)\n", addr.svm_port);
	close(cli);
	close(srv);
	return 0;
}
