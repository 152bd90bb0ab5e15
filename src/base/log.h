/* SPDX-License-Identifier: MIT */
/*
 * Logging for programs (cli, worker, daemon). Libraries below them do not log;
 * they return -errno and let the caller decide. Messages go to stderr as one
 * line each, prefixed with the program name.
 */
#ifndef OPENHV_BASE_LOG_H
#define OPENHV_BASE_LOG_H

#include <stdarg.h>

enum log_level { LOG_ERR, LOG_WARN, LOG_INFO, LOG_DEBUG, LOG_TRACE };

void log_set_program(const char *name);
void log_set_level(enum log_level level);
enum log_level log_get_level(void);
void log_msg(enum log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define log_err(...) log_msg(LOG_ERR, __VA_ARGS__)
#define log_warn(...) log_msg(LOG_WARN, __VA_ARGS__)
#define log_info(...) log_msg(LOG_INFO, __VA_ARGS__)
#define log_debug(...) log_msg(LOG_DEBUG, __VA_ARGS__)

/* Log and return the (negative errno) value r, for "return log_err_errno(r, ...)". */
#define log_err_errno(r, ...) (log_err(__VA_ARGS__), (r))

#endif
