# systemd: filled in by later work
