/* The in-api registries of streams that the list/describe handlers read.
 *
 * Kinesis ListStreams and Kinesis Video ListStreams answer from these registries, never from a
 * canned reply. They are plain in-memory ordered sets, one entry per stream, kept sorted by
 * (region, name). The Data Streams / Video Streams work backs them with the storage catalog:
 * load every stream at start-up (sl_api_init time) and put/remove entries as streams are
 * created, change state and are deleted -- the handlers do not change.
 *
 * Thread: loop thread only (no locking). Strings are copied in; returned pointers stay valid
 * until the next put/remove/clear. */
#ifndef SLUICE_STREAMS_H
#define SLUICE_STREAMS_H

#include <stddef.h>
#include <stdint.h>

typedef struct sl_kstream_info {
    char region[32];
    char name[129]; /* 1-128 chars */
    char arn[300];
    char status[16];    /* CREATING | DELETING | ACTIVE | UPDATING */
    char mode[16];      /* PROVISIONED | ON_DEMAND */
    int64_t created_ms; /* StreamCreationTimestamp */
} sl_kstream_info;

typedef struct sl_vstream_info {
    char region[32];
    char name[257]; /* 1-256 chars */
    char arn[1100];
    char device_name[129];
    char media_type[129];
    char kms_key_id[2049];
    char version[65];
    char status[16]; /* CREATING | ACTIVE | UPDATING | DELETING */
    int64_t created_ms;
    int64_t retention_hours;
} sl_vstream_info;

/* Adds or replaces (same region and name). Returns 0, SL_EINVAL (empty name) or SL_ENOMEM. */
int sl_kstreams_put(const sl_kstream_info *s);
/* Returns 0 or SL_ENOTFOUND. */
int sl_kstreams_remove(const char *region, const char *name);
/* Streams of region with names > after (NULL/"": from the first), ascending; at most max are
 * stored in out; *more says whether more follow. Returns how many were stored. */
size_t sl_kstreams_list(const char *region, const char *after, size_t max,
                        const sl_kstream_info **out, int *more);
void sl_kstreams_clear(void);

int sl_vstreams_put(const sl_vstream_info *s);
int sl_vstreams_remove(const char *region, const char *name);
/* As sl_kstreams_list, also filtered to names beginning with prefix (NULL: all). */
size_t sl_vstreams_list(const char *region, const char *after, const char *prefix, size_t max,
                        const sl_vstream_info **out, int *more);
void sl_vstreams_clear(void);

#endif
