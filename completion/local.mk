# SPDX-License-Identifier: LGPL-2.1-or-later
# Bash completion for the client and the daemon, installed where
# bash-completion's pkg-config file says (configure: BASH_COMPLETION_DIR,
# --with-bash-completion-dir). The files are named after the commands so
# bash-completion loads them on demand.
bashcompletiondir = $(BASH_COMPLETION_DIR)
dist_bashcompletion_DATA = completion/udo-vsock completion/udo-vsockd
