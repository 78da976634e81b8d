/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* peers-dir.h - peer names from a watched directory (`peers-dir`) */
#ifndef UDO_VSOCKD_PEERS_DIR_H
#define UDO_VSOCKD_PEERS_DIR_H

#include <stdint.h>

struct server;
struct config;

/* At most this many names are taken from the directory. */
#define PEERS_DIR_MAX_FILES 1024
/* A peer file larger than this is refused. */
#define PEERS_DIR_MAX_FILE_SIZE 256
/* While the directory cannot be watched, it is tried again this often. */
#define PEERS_DIR_RETRY_MS 1000

/* Watches CONF's peers-dir for S (at start and after a reload): nothing
 * changes if the path is the one already watched; another path is read
 * afresh; none drops the directory's names. Never fails: a directory
 * that cannot be watched is logged and tried again every
 * PEERS_DIR_RETRY_MS. CHANGED(S) is called whenever the directory's
 * names change later (not for what this call reads: a reload re-judges
 * the open connections itself). */
void peers_dir_configure(struct server *s, const struct config *conf, void (*changed)(struct server *s));

/* The name of vsock CID CID: CONF's [peer] section first, else the
 * peers-dir file that alone names CID and whose name CONF does not use;
 * NULL if none. */
const char *peers_dir_lookup(const struct server *s, const struct config *conf, uint32_t cid);

/* Stops watching and frees what S's peers-dir holds. */
void peers_dir_free(struct server *s);

#endif /* UDO_VSOCKD_PEERS_DIR_H */
