/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* event-watch.h - an fd's libevent event, switched on or off only when
 * that changes (each switch is an epoll_ctl), and closed with its fd. */
#ifndef UDO_VSOCKD_EVENT_WATCH_H
#define UDO_VSOCKD_EVENT_WATCH_H

#include <stddef.h>
#include <unistd.h>

#include <event2/event.h>

/* Adds EV (ON) or deletes it, unless *WATCHING says it is so already;
 * *WATCHING follows. Nothing when EV is NULL. */
static inline void watch_set(struct event *ev, int *watching, int on)
{
	if (ev == NULL || *watching == on)
		return;
	if (on)
		event_add(ev, NULL);
	else
		event_del(ev);
	*watching = on;
}

/* Frees *EV and closes *FD, either of which may be gone already: leaves
 * NULL, -1 and *WATCHING (unless NULL) 0. */
static inline void watch_close(struct event **ev, int *watching, int *fd)
{
	if (*ev != NULL)
		event_free(*ev);
	*ev = NULL;
	if (watching != NULL)
		*watching = 0;
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

#endif /* UDO_VSOCKD_EVENT_WATCH_H */
