/* ragd/daemon.h: the daemon's entry point, shared by `ragd` and `rag serve`. */
#ifndef RAG_RAGD_DAEMON_H
#define RAG_RAGD_DAEMON_H

/* Runs the daemon in the foreground until SIGTERM or SIGINT; returns the
 * exit status (0 after a clean stop, 1 when it could not start, 2 for bad
 * flags or configuration). */
int ragd_main(int argc, char **argv);

#endif
