/* Leveled logging to stderr.
 *
 * One line per call: "2026-11-26T16:00:00.123Z INFO  [module] text". The level is global and
 * set once at start (sl_log_set_level); messages under it cost one compare. Thread-safe: each
 * line is formatted into a stack buffer and written with a single write(2). Never log secrets. */
#ifndef SLUICE_LOG_H
#define SLUICE_LOG_H

typedef enum { SL_LOG_DEBUG = 0, SL_LOG_INFO, SL_LOG_WARN, SL_LOG_ERROR, SL_LOG_OFF } sl_log_level;

extern sl_log_level sl_log_threshold;

void sl_log_set_level(sl_log_level level);
/* Parses "debug|info|warn|error|off"; returns -1 when unknown. */
int sl_log_level_parse(const char *s);
void sl_log_write(sl_log_level level, const char *module, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#define SL_LOG_(lvl, mod, ...)                                                                     \
    do {                                                                                           \
        if ((lvl) >= sl_log_threshold)                                                             \
            sl_log_write((lvl), (mod), __VA_ARGS__);                                               \
    } while (0)
#define sl_debug(mod, ...) SL_LOG_(SL_LOG_DEBUG, mod, __VA_ARGS__)
#define sl_info(mod, ...)  SL_LOG_(SL_LOG_INFO, mod, __VA_ARGS__)
#define sl_warn(mod, ...)  SL_LOG_(SL_LOG_WARN, mod, __VA_ARGS__)
#define sl_error(mod, ...) SL_LOG_(SL_LOG_ERROR, mod, __VA_ARGS__)

#endif
