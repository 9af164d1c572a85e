#pragma once
/* Logging: the only printf-to-user path of core/. Sink is stderr, or /dev/kmsg-style console
 * prefixing when PID 1. core/ logs at debug level only; cmd/ and manager.c log the rest. */
#include <stdbool.h>

enum log_level { LOG_LVL_ERR, LOG_LVL_WARN, LOG_LVL_INFO, LOG_LVL_DEBUG };

/* Sets the threshold (default INFO; MGR_DEBUG=1 in the environment means DEBUG). */
void log_set_level(enum log_level l);
enum log_level log_get_level(void);
/* Prefix printed before every message ("mgr: "); the string is borrowed for the process. */
void log_set_prefix(const char *prefix);
/* Sends messages to fd instead of stderr (e.g. /dev/console as PID 1). */
void log_set_fd(int fd);
/* Adds a wall-clock timestamp to each line (daemon mode). */
void log_set_timestamps(bool on);
void log_msg(enum log_level l, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define log_error(...) log_msg(LOG_LVL_ERR, __VA_ARGS__)
#define log_warn(...)  log_msg(LOG_LVL_WARN, __VA_ARGS__)
#define log_info(...)  log_msg(LOG_LVL_INFO, __VA_ARGS__)
#define log_debug(...)                                                                            \
    do {                                                                                          \
        if (log_get_level() >= LOG_LVL_DEBUG)                                                     \
            log_msg(LOG_LVL_DEBUG, __VA_ARGS__);                                                  \
    } while (0)
