/* sdnotify.h: tell the service manager that the daemon is ready or stopping
 * (systemd Type=notify, sd_notify(3)), without libsystemd. */
#ifndef SIPEDGE_SDNOTIFY_H
#define SIPEDGE_SDNOTIFY_H

/* Send STATE ("READY=1", "STOPPING=1", lines of VAR=value) as one datagram
 * to the socket named by $NOTIFY_SOCKET: a path, or "@name" for the abstract
 * namespace.  0 when sent or when NOTIFY_SOCKET is not set (not started by
 * systemd); -EINVAL for an address we cannot use, else the negative errno of
 * socket() or sendto(). */
int sdnotify_send(const char *state);

#endif
