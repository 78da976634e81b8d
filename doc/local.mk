# SPDX-License-Identifier: LGPL-2.1-or-later
# doc: man pages, checked by tests/check_man.sh.
dist_man_MANS += \
	doc/udo-vsockd.8 \
	doc/udo-vsockd.conf.5 \
	doc/udo-vsock-protocol.7 \
	doc/udo-vsockd-module.3

dist_man_MANS += doc/udo-vsock.1

# Library pages, one per function group.
dist_man_MANS += \
	doc/udo_vsock_tcp.3 \
	doc/udo_vsock_addr.3 \
	doc/udo_vsock_fdpass.3 \
	doc/udo_vsock_frame.3 \
	doc/udo_vsock_handoff.3 \
	doc/udo_vsock_proto.3 \
	doc/udo_log.3
# Link pages: one per function, each ".so man3/<group page>.3".
dist_man_MANS += \
	doc/udo_log_get_error.3 \
	doc/udo_log_get_error_code.3 \
	doc/udo_vsock_addr_connect.3 \
	doc/udo_vsock_addr_format.3 \
	doc/udo_vsock_addr_from_sockaddr.3 \
	doc/udo_vsock_addr_listen.3 \
	doc/udo_vsock_addr_parse.3 \
	doc/udo_vsock_addr_to_sockaddr.3 \
	doc/udo_vsock_frame_decode_header.3 \
	doc/udo_vsock_frame_encode_header.3 \
	doc/udo_vsock_frame_signal_name.3 \
	doc/udo_vsock_frame_signal_number.3 \
	doc/udo_vsock_handoff_clear.3 \
	doc/udo_vsock_handoff_decode_args.3 \
	doc/udo_vsock_handoff_decode_header.3 \
	doc/udo_vsock_handoff_encode_header.3 \
	doc/udo_vsock_handoff_recv.3 \
	doc/udo_vsock_handoff_send.3 \
	doc/udo_vsock_io_classify.3 \
	doc/udo_vsock_proto_build_request.3 \
	doc/udo_vsock_proto_classify_reply.3 \
	doc/udo_vsock_proto_is_error_code.3 \
	doc/udo_vsock_proto_is_line_safe.3 \
	doc/udo_vsock_proto_line_command_is.3 \
	doc/udo_vsock_proto_line_is_blank.3 \
	doc/udo_vsock_proto_needs_quotes.3 \
	doc/udo_vsock_proto_parse_line.3 \
	doc/udo_vsock_proto_quote.3 \
	doc/udo_vsock_proto_quoted_len.3 \
	doc/udo_vsock_proto_request_len.3 \
	doc/udo_vsock_recv_msg.3 \
	doc/udo_vsock_sendv_all.3 \
	doc/udo_vsock_sendv_nonblock.3 \
	doc/udo_vsock_tcp_client_connect.3 \
	doc/udo_vsock_tcp_client_create.3 \
	doc/udo_vsock_tcp_client_send_data.3 \
	doc/udo_vsock_tcp_destroy.3 \
	doc/udo_vsock_tcp_get_buffer_size.3 \
	doc/udo_vsock_tcp_get_create_error.3 \
	doc/udo_vsock_tcp_get_fd.3 \
	doc/udo_vsock_tcp_get_local_vcid.3 \
	doc/udo_vsock_tcp_get_port.3 \
	doc/udo_vsock_tcp_get_port_u32.3 \
	doc/udo_vsock_tcp_get_sizeof.3 \
	doc/udo_vsock_tcp_get_vcid.3 \
	doc/udo_vsock_tcp_recv_data.3 \
	doc/udo_vsock_tcp_release_fd.3 \
	doc/udo_vsock_tcp_send_data.3 \
	doc/udo_vsock_tcp_server_accept.3 \
	doc/udo_vsock_tcp_server_create.3 \
	doc/udo_vsock_tcp_set_buffer_size.3 \
	doc/udo_vsock_tcp_set_connect_timeout.3 \
	doc/udo_vsock_tcp_set_nonblock.3
