/* li707-lea - logging: the shared daemon logging of src/common/log.h ("li707-lea: LEVEL:
 * text" on stderr, the program name set at start), under the LEA's names.
 *
 * R-SEC-6: callers never pass target identifiers (LIIDs/LDIDs, party identifiers), URLs of
 * requests, or message content. The peer name, ObjectIdentifiers, upload UUIDs, HTTP statuses,
 * counts, byte sizes and durations are fine. */
#ifndef LI707_LEA_LOG_H
#define LI707_LEA_LOG_H

#include <stdbool.h>

#include "lea_config.h"
#include "log.h"

#define LEA_LOG_LINE_MAX LX_LOG_LINE_MAX

#define lea_log_set_level lx_log_set_level
#define lea_log_get_level lx_log_get_level
#define lea_log_enabled lx_log_enabled
#define lea_log_parse_level lx_log_parse_level
#define lea_log_level_name lx_log_level_name
#define lea_log lx_log

#define lea_err(...) lx_log(LX_LOG_ERROR, __VA_ARGS__)
#define lea_warn(...) lx_log(LX_LOG_WARN, __VA_ARGS__)
#define lea_info(...) lx_log(LX_LOG_INFO, __VA_ARGS__)
#define lea_debug(...) lx_log(LX_LOG_DEBUG, __VA_ARGS__)

#endif
