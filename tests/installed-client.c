/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* installed-client.c - built only against the installed udo/ headers and
 * pkg-config file: listens on an ephemeral vsock port, connects to it over
 * CID 1 and passes a message. Exit 0 on success. */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <udo/vsock-tcp.h>

/* Serves one connection to itself over VMADDR_CID_LOCAL. */
int main(void)
{
	struct udo_vsock_tcp_server_create_info si = {.vcid = UDO_VSOCK_CID_ANY, .port = UDO_VSOCK_PORT_ANY};
	struct udo_vsock_tcp *srv = udo_vsock_tcp_server_create(NULL, &si);
	if (srv == NULL) {
		fprintf(stderr, "server_create: %s\n", udo_log_get_error(udo_vsock_tcp_get_create_error()));
		return 1;
	}
	struct udo_vsock_tcp_client_create_info ci = {.vcid = UDO_VSOCK_CID_LOCAL, .port = udo_vsock_tcp_get_port(srv)};
	struct udo_vsock_tcp *cli = udo_vsock_tcp_client_create(NULL, &ci);
	if (cli == NULL || udo_vsock_tcp_client_connect(cli) < 0) {
		fprintf(stderr, "connect: %s\n",
		        cli ? udo_log_get_error(cli) : udo_log_get_error(udo_vsock_tcp_get_create_error()));
		return 1;
	}
	int fd = udo_vsock_tcp_server_accept(srv, NULL);
	char buf[16] = "";
	if (fd < 0 || udo_vsock_tcp_client_send_data(cli, "hello", 5, NULL) != 5 ||
	    udo_vsock_tcp_recv_data(fd, buf, 5, NULL) != 5 || memcmp(buf, "hello", 5) != 0) {
		fprintf(stderr, "exchange failed\n");
		return 1;
	}
	printf("installed-client: connected to CID 1 port %" PRIu32 " and exchanged a message\n",
	       udo_vsock_tcp_get_port_u32(srv));
	udo_vsock_tcp_destroy(cli);
	udo_vsock_tcp_destroy(srv);
	return 0;
}
