#pragma once
/* Container logs: ROOT/logs/NAME.log (current) and NAME.log.1 (previous, after rotation at
 * 1 MiB). Each line: "2026-11-26T10:44:12.123Z stdout|stderr|mgr TEXT". Written by the daemon
 * (core/logs.c), read directly by `mgr logs` (no daemon needed). */

/* Path of the current log file of name under root (caller frees); NULL on OOM. */
char *logs_path(const char *root, const char *name);
