# src: filled in by later work
include src/udo-vsock/local.mk
