/* Delivery-stream configuration: turning the destination JSON a client sent into what the
 * worker needs (sl_fh_dest), describing it back the way DescribeDeliveryStream does, and the
 * catalog snapshot of a delivery stream.
 *
 * The configuration is kept as the JSON the client sent (merged by UpdateDestination), so
 * Describe echoes every member, including ones Sluice only stores. Supported destinations:
 * ExtendedS3DestinationConfiguration, the legacy S3DestinationConfiguration and
 * HttpEndpointDestinationConfiguration. Anything that would change the delivered bytes and is
 * not implemented (Lambda and other processors except AppendDelimiterToRecord, dynamic
 * partitioning, format conversion) is refused with InvalidArgumentException instead of being
 * silently ignored.
 *
 * Snapshot document (catalog fh_streams.doc):
 *   {"Region", "Name", "Created" (ms), "Updated" (ms), "Status" ("CREATING"|"ACTIVE"|"DELETING"),
 *    "Version" (number), "Encrypted" (bool), "KeyType", "KeyARN", "DestMember", "Dest" {...},
 *    "Tags" [{"Key","Value"}]
 *    and for KinesisStreamAsSource: "Type", "SourceARN", "SourceRole", "SourceRegion",
 *    "SourceName"}
 * Pure functions; any thread. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fh.h"

static const char *jstr(const cJSON *o, const char *k)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

static double jnum(const cJSON *o, const char *k, double dflt)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    return cJSON_IsNumber(v) ? v->valuedouble : dflt;
}

static int jbool(const cJSON *o, const char *k, int dflt)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    return cJSON_IsBool(v) ? cJSON_IsTrue(v) : dflt;
}

void sl_fh_dest_cleanup(sl_fh_dest *d)
{
    free(d->common_attrs);
    d->common_attrs = NULL;
    free(d->jq_query);
    d->jq_query = NULL;
}

int sl_fh_dest_copy(sl_fh_dest *dst, const sl_fh_dest *src)
{
    *dst = *src;
    dst->common_attrs = NULL;
    dst->jq_query = NULL;
    if (src->common_attrs && !(dst->common_attrs = strdup(src->common_attrs)))
        return SL_ENOMEM;
    if (src->jq_query && !(dst->jq_query = strdup(src->jq_query))) {
        sl_fh_dest_cleanup(dst);
        return SL_ENOMEM;
    }
    return 0;
}

static int parse_compression(const char *s, sl_fh_compression *out)
{
    if (!s || strcmp(s, "UNCOMPRESSED") == 0)
        *out = SL_FH_COMP_NONE;
    else if (strcmp(s, "GZIP") == 0)
        *out = SL_FH_COMP_GZIP;
    else if (strcmp(s, "ZIP") == 0)
        *out = SL_FH_COMP_ZIP;
    else if (strcmp(s, "Snappy") == 0)
        *out = SL_FH_COMP_SNAPPY;
    else if (strcmp(s, "HADOOP_SNAPPY") == 0)
        *out = SL_FH_COMP_HADOOP_SNAPPY;
    else
        return SL_EINVAL;
    return 0;
}

/* An S3-shaped object (S3DestinationConfiguration or the Extended one) into s. */
static int parse_s3(const cJSON *c, sl_fh_s3 *s, const char *what, int dp, char *msg, size_t cap)
{
    const char *arn = jstr(c, "BucketARN");
    const char *bucket = arn ? strstr(arn, ":s3:::") : NULL;
    if (!bucket || !bucket[6] || strchr(bucket + 6, '/') ||
        strlen(bucket + 6) >= sizeof(s->bucket)) {
        snprintf(msg, cap, "%s: BucketARN must look like arn:aws:s3:::<bucket>.", what);
        return SL_EINVAL;
    }
    memset(s, 0, sizeof(*s));
    s->set = 1;
    snprintf(s->bucket, sizeof(s->bucket), "%s", bucket + 6);
    snprintf(s->prefix, sizeof(s->prefix), "%s", jstr(c, "Prefix") ? jstr(c, "Prefix") : "");
    snprintf(s->error_prefix, sizeof(s->error_prefix), "%s",
             jstr(c, "ErrorOutputPrefix") ? jstr(c, "ErrorOutputPrefix") : "");
    const char *ext = jstr(c, "FileExtension");
    if (ext && *ext) {
        s->has_extension = 1;
        snprintf(s->file_extension, sizeof(s->file_extension), "%s", ext);
    }
    if (parse_compression(jstr(c, "CompressionFormat"), &s->compression)) {
        snprintf(msg, cap, "%s: unknown CompressionFormat.", what);
        return SL_EINVAL;
    }
    return dp ? sl_fh_prefix_check_dp(s->prefix, s->error_prefix, msg, cap)
              : sl_fh_prefix_check(s->prefix, s->error_prefix, msg, cap);
}

/* "\n" style escapes of an AppendDelimiterToRecord Delimiter into out. */
static size_t unescape(const char *in, char *out, size_t cap)
{
    size_t n = 0;
    for (; *in && n + 1 < cap; in++) {
        if (in[0] == '\\' && in[1]) {
            in++;
            out[n++] = *in == 'n' ? '\n' : *in == 't' ? '\t' : *in == 'r' ? '\r' : *in;
        } else {
            out[n++] = *in;
        }
    }
    out[n] = '\0';
    return n;
}

static int parse_processing(const cJSON *pc, sl_fh_dest *d, char *msg, size_t cap)
{
    const cJSON *procs = cJSON_GetObjectItemCaseSensitive(pc, "Processors");
    if (!pc || !jbool(pc, "Enabled", 0))
        return 0;
    const cJSON *p;
    cJSON_ArrayForEach(p, procs)
    {
        const char *type = jstr(p, "Type");
        if (type && strcmp(type, "AppendDelimiterToRecord") == 0) {
            d->append_delim_on = 1;
            d->append_delim_len = 1;
            strcpy(d->append_delim, "\n");
            const cJSON *prm;
            cJSON_ArrayForEach(prm, cJSON_GetObjectItemCaseSensitive(p, "Parameters"))
            {
                const char *k = jstr(prm, "ParameterName"), *v = jstr(prm, "ParameterValue");
                if (k && v && strcmp(k, "Delimiter") == 0)
                    d->append_delim_len = unescape(v, d->append_delim, sizeof(d->append_delim));
            }
            continue;
        }
        if (type && strcmp(type, "MetadataExtraction") == 0) {
            const cJSON *prm;
            cJSON_ArrayForEach(prm, cJSON_GetObjectItemCaseSensitive(p, "Parameters"))
            {
                const char *k = jstr(prm, "ParameterName"), *v = jstr(prm, "ParameterValue");
                if (k && v && strcmp(k, "MetadataExtractionQuery") == 0) {
                    free(d->jq_query);
                    if (!(d->jq_query = strdup(v)))
                        return SL_ENOMEM;
                } else if (k && v && strcmp(k, "JsonParsingEngine") == 0 &&
                           strcmp(v, "JQ-1.6") != 0) {
                    snprintf(msg, cap, "JsonParsingEngine must be JQ-1.6.");
                    return SL_EINVAL;
                }
            }
            if (!d->jq_query) {
                snprintf(msg, cap, "MetadataExtraction needs a MetadataExtractionQuery.");
                return SL_EINVAL;
            }
            continue;
        }
        if (type && strcmp(type, "Lambda") == 0) {
            const cJSON *prm;
            d->lambda_retries = 3;
            cJSON_ArrayForEach(prm, cJSON_GetObjectItemCaseSensitive(p, "Parameters"))
            {
                const char *k = jstr(prm, "ParameterName"), *v = jstr(prm, "ParameterValue");
                if (k && v && strcmp(k, "LambdaArn") == 0)
                    snprintf(d->lambda_arn, sizeof(d->lambda_arn), "%s", v);
                else if (k && v && strcmp(k, "NumberOfRetries") == 0)
                    d->lambda_retries = atoi(v);
            }
            if (!d->lambda_arn[0]) {
                snprintf(msg, cap, "The Lambda processor needs a LambdaArn parameter.");
                return SL_EINVAL;
            }
            if (d->lambda_retries < 0 || d->lambda_retries > 300)
                d->lambda_retries = 3;
            continue;
        }
        snprintf(msg, cap,
                 "Processor type %s is not supported by Sluice yet (supported: Lambda, "
                 "MetadataExtraction, AppendDelimiterToRecord).",
                 type ? type : "(none)");
        return SL_EINVAL;
    }
    return 0;
}

static void parse_hints(const cJSON *c, sl_fh_dest *d)
{
    const cJSON *h = cJSON_GetObjectItemCaseSensitive(c, "BufferingHints");
    d->size_bytes = (uint64_t)jnum(h, "SizeInMBs", 5) << 20;
    d->interval_ms = (uint64_t)jnum(h, "IntervalInSeconds", 300) * 1000;
}

int sl_fh_dest_parse(const char *member, const cJSON *cfg, sl_fh_dest *d, char *msg, size_t cap)
{
    memset(d, 0, sizeof(*d));
    if (!cJSON_IsObject(cfg)) {
        snprintf(msg, cap, "%s must be an object.", member);
        return SL_EINVAL;
    }
    parse_hints(cfg, d);
    const cJSON *h = cJSON_GetObjectItemCaseSensitive(cfg, "BufferingHints");
    if (h && (!cJSON_GetObjectItemCaseSensitive(h, "SizeInMBs") ||
              !cJSON_GetObjectItemCaseSensitive(h, "IntervalInSeconds"))) {
        snprintf(msg, cap, "BufferingHints: set both SizeInMBs and IntervalInSeconds, or neither.");
        return SL_EINVAL;
    }
    int rc = parse_processing(cJSON_GetObjectItemCaseSensitive(cfg, "ProcessingConfiguration"), d,
                              msg, cap);
    if (rc)
        return rc;
    if (strcmp(member, "ExtendedS3DestinationConfiguration") == 0 ||
        strcmp(member, "S3DestinationConfiguration") == 0) {
        d->kind = SL_FH_DEST_S3;
        const cJSON *dp = cJSON_GetObjectItemCaseSensitive(cfg, "DynamicPartitioningConfiguration");
        d->dynamic_partitioning = dp && jbool(dp, "Enabled", 0);
        if (d->jq_query && !d->dynamic_partitioning) {
            snprintf(msg, cap, "MetadataExtraction requires dynamic partitioning to be enabled.");
            return SL_EINVAL;
        }
        if (d->dynamic_partitioning && d->interval_ms == 0) {
            snprintf(msg, cap,
                     "Zero buffering (IntervalInSeconds 0) is not available with "
                     "dynamic partitioning.");
            return SL_EINVAL;
        }
        if (d->dynamic_partitioning && d->jq_query) {
            /* Compile once now so a bad query is refused at configuration time. */
            sl_fh_jq *q = NULL;
            if ((rc = sl_fh_jq_new(d->jq_query, &q, msg, cap)))
                return rc;
            sl_fh_jq_free(q);
        }
        if ((rc = parse_s3(cfg, &d->s3, member, d->dynamic_partitioning, msg, cap)))
            return rc;
        const cJSON *fc =
            cJSON_GetObjectItemCaseSensitive(cfg, "DataFormatConversionConfiguration");
        if (fc && jbool(fc, "Enabled", 1)) {
            snprintf(msg, cap,
                     "DataFormatConversionConfiguration (Parquet/ORC) is not supported by Sluice.");
            return SL_EINVAL;
        }
        const char *mode = jstr(cfg, "S3BackupMode");
        if (mode && strcmp(mode, "Enabled") == 0) {
            const cJSON *b = cJSON_GetObjectItemCaseSensitive(cfg, "S3BackupConfiguration");
            if (!b) {
                snprintf(msg, cap,
                         "S3BackupConfiguration is required when S3BackupMode is "
                         "Enabled.");
                return SL_EINVAL;
            }
            if ((rc = parse_s3(b, &d->backup, "S3BackupConfiguration", 0, msg, cap)))
                return rc;
        }
        return 0;
    }
    if (strcmp(member, "HttpEndpointDestinationConfiguration") == 0) {
        d->kind = SL_FH_DEST_HTTP;
        if (d->jq_query) {
            snprintf(msg, cap, "Dynamic partitioning is only available for S3 destinations.");
            return SL_EINVAL;
        }
        const cJSON *ep = cJSON_GetObjectItemCaseSensitive(cfg, "EndpointConfiguration");
        const char *url = jstr(ep, "Url");
        /* The model's pattern (https://.*) is enforced before the handler runs. */
        if (!url || strncmp(url, "https://", 8) != 0) {
            snprintf(msg, cap, "EndpointConfiguration.Url must be an https:// URL.");
            return SL_EINVAL;
        }
        snprintf(d->url, sizeof(d->url), "%s", url);
        snprintf(d->http_name, sizeof(d->http_name), "%s",
                 jstr(ep, "Name") ? jstr(ep, "Name") : "");
        snprintf(d->access_key, sizeof(d->access_key), "%s",
                 jstr(ep, "AccessKey") ? jstr(ep, "AccessKey") : "");
        const cJSON *rq = cJSON_GetObjectItemCaseSensitive(cfg, "RequestConfiguration");
        const char *enc = jstr(rq, "ContentEncoding");
        d->gzip_body = enc && strcmp(enc, "GZIP") == 0;
        const cJSON *attrs = cJSON_GetObjectItemCaseSensitive(rq, "CommonAttributes");
        if (cJSON_GetArraySize(attrs) > 0) {
            cJSON *o = cJSON_CreateObject(),
                  *inner = cJSON_AddObjectToObject(o, "commonAttributes");
            const cJSON *a;
            cJSON_ArrayForEach(a, attrs)
            {
                const char *k = jstr(a, "AttributeName"), *v = jstr(a, "AttributeValue");
                if (k && v)
                    cJSON_AddStringToObject(inner, k, v);
            }
            d->common_attrs = cJSON_PrintUnformatted(o);
            cJSON_Delete(o);
            if (!d->common_attrs)
                return SL_ENOMEM;
        }
        d->retry_ms = (uint64_t)jnum(cJSON_GetObjectItemCaseSensitive(cfg, "RetryOptions"),
                                     "DurationInSeconds", 300) *
                      1000;
        const char *mode = jstr(cfg, "S3BackupMode");
        d->backup_all = mode && strcmp(mode, "AllData") == 0;
        const cJSON *s3 = cJSON_GetObjectItemCaseSensitive(cfg, "S3Configuration");
        if (!s3) {
            sl_fh_dest_cleanup(d);
            snprintf(msg, cap, "S3Configuration is required for an HTTP endpoint destination.");
            return SL_EINVAL;
        }
        if ((rc = parse_s3(s3, &d->s3, "S3Configuration", 0, msg, cap))) {
            sl_fh_dest_cleanup(d);
            return rc;
        }
        return 0;
    }
    snprintf(msg, cap,
             "Sluice delivers to ExtendedS3DestinationConfiguration, S3DestinationConfiguration "
             "and HttpEndpointDestinationConfiguration only; %s is not supported.",
             member);
    return SL_EINVAL;
}

/* ---- description ------------------------------------------------------------------------- */

static void ensure(cJSON *o, const char *k, cJSON *dflt)
{
    if (cJSON_GetObjectItemCaseSensitive(o, k))
        cJSON_Delete(dflt);
    else
        cJSON_AddItemToObject(o, k, dflt);
}

static cJSON *hints(int size_mb, int interval_s)
{
    cJSON *h = cJSON_CreateObject();
    cJSON_AddNumberToObject(h, "SizeInMBs", size_mb);
    cJSON_AddNumberToObject(h, "IntervalInSeconds", interval_s);
    return h;
}

static cJSON *s3_description(const cJSON *c)
{
    cJSON *d = cJSON_Duplicate(c, 1);
    if (!d)
        return NULL;
    ensure(d, "BufferingHints", hints(5, 300));
    ensure(d, "CompressionFormat", cJSON_CreateString("UNCOMPRESSED"));
    cJSON *enc = cJSON_CreateObject();
    cJSON_AddStringToObject(enc, "NoEncryptionConfig", "NoEncryption");
    ensure(d, "EncryptionConfiguration", enc);
    cJSON *cw = cJSON_CreateObject();
    cJSON_AddBoolToObject(cw, "Enabled", 0);
    ensure(d, "CloudWatchLoggingOptions", cw);
    return d;
}

int sl_fh_dest_describe(const char *member, const cJSON *cfg, cJSON *dest)
{
    if (strcmp(member, "S3DestinationConfiguration") == 0) {
        cJSON *a = s3_description(cfg), *b = s3_description(cfg);
        if (b)
            ensure(b, "S3BackupMode", cJSON_CreateString("Disabled"));
        cJSON_AddItemToObject(dest, "S3DestinationDescription", a);
        cJSON_AddItemToObject(dest, "ExtendedS3DestinationDescription", b);
        return a && b ? 0 : SL_ENOMEM;
    }
    if (strcmp(member, "ExtendedS3DestinationConfiguration") == 0) {
        cJSON *d = s3_description(cfg);
        if (!d)
            return SL_ENOMEM;
        ensure(d, "S3BackupMode", cJSON_CreateString("Disabled"));
        cJSON *b = cJSON_DetachItemFromObjectCaseSensitive(d, "S3BackupConfiguration");
        if (b) {
            cJSON_AddItemToObject(d, "S3BackupDescription", s3_description(b));
            cJSON_Delete(b);
        }
        cJSON_AddItemToObject(dest, "ExtendedS3DestinationDescription", d);
        return 0;
    }
    if (strcmp(member, "HttpEndpointDestinationConfiguration") == 0) {
        cJSON *d = cJSON_Duplicate(cfg, 1);
        if (!d)
            return SL_ENOMEM;
        cJSON *ep = cJSON_GetObjectItemCaseSensitive(d, "EndpointConfiguration");
        cJSON_DeleteItemFromObjectCaseSensitive(ep, "AccessKey");
        ensure(d, "BufferingHints", hints(5, 300));
        cJSON *cw = cJSON_CreateObject();
        cJSON_AddBoolToObject(cw, "Enabled", 0);
        ensure(d, "CloudWatchLoggingOptions", cw);
        cJSON *rq = cJSON_CreateObject();
        cJSON_AddStringToObject(rq, "ContentEncoding", "NONE");
        ensure(d, "RequestConfiguration", rq);
        cJSON *ro = cJSON_CreateObject();
        cJSON_AddNumberToObject(ro, "DurationInSeconds", 300);
        ensure(d, "RetryOptions", ro);
        ensure(d, "S3BackupMode", cJSON_CreateString("FailedDataOnly"));
        cJSON_DeleteItemFromObjectCaseSensitive(d, "SecretsManagerConfiguration");
        cJSON *s3 = cJSON_DetachItemFromObjectCaseSensitive(d, "S3Configuration");
        if (s3) {
            cJSON_AddItemToObject(d, "S3DestinationDescription", s3_description(s3));
            cJSON_Delete(s3);
        }
        cJSON_AddItemToObject(dest, "HttpEndpointDestinationDescription", d);
        return 0;
    }
    return SL_EINVAL;
}

/* ---- snapshot ---------------------------------------------------------------------------- */

static const char *status_name(sl_fh_status s)
{
    return s == SL_FH_ACTIVE ? "ACTIVE" : s == SL_FH_DELETING ? "DELETING" : "CREATING";
}

void sl_fh_stream_arn(const char *region, const char *account, const char *name, char *out,
                      size_t cap)
{
    snprintf(out, cap, "arn:aws:firehose:%s:%s:deliverystream/%s", region, account, name);
}

cJSON *sl_fh_stream_to_json(const sl_fh_stream *s)
{
    cJSON *j = cJSON_CreateObject();
    if (!j)
        return NULL;
    cJSON_AddStringToObject(j, "Region", s->region);
    cJSON_AddStringToObject(j, "Name", s->name);
    cJSON_AddNumberToObject(j, "Created", (double)s->created_ms);
    cJSON_AddNumberToObject(j, "Updated", (double)s->updated_ms);
    cJSON_AddStringToObject(j, "Status", status_name(s->status));
    cJSON_AddNumberToObject(j, "Version", (double)s->version);
    cJSON_AddBoolToObject(j, "Encrypted", s->encrypted);
    cJSON_AddStringToObject(j, "KeyType", s->enc_key_type);
    cJSON_AddStringToObject(j, "KeyARN", s->enc_key_arn);
    cJSON_AddStringToObject(j, "DestMember", s->dest_member);
    cJSON_AddItemToObject(j, "Dest", cJSON_Duplicate(s->dest_cfg, 1));
    if (s->kinesis_source) {
        cJSON_AddStringToObject(j, "Type", "KinesisStreamAsSource");
        cJSON_AddStringToObject(j, "SourceARN", s->source_arn);
        cJSON_AddStringToObject(j, "SourceRole", s->source_role);
        cJSON_AddStringToObject(j, "SourceRegion", s->source_region);
        cJSON_AddStringToObject(j, "SourceName", s->source_name);
    }
    cJSON_AddItemToObject(j, "Tags", s->tags ? cJSON_Duplicate(s->tags, 1) : cJSON_CreateArray());
    if (!cJSON_GetObjectItemCaseSensitive(j, "Dest") ||
        !cJSON_GetObjectItemCaseSensitive(j, "Tags")) {
        cJSON_Delete(j);
        return NULL;
    }
    return j;
}

sl_fh_stream *sl_fh_stream_from_json(const cJSON *j)
{
    const char *region = jstr(j, "Region"), *name = jstr(j, "Name"), *st = jstr(j, "Status");
    const char *member = jstr(j, "DestMember");
    const cJSON *dest = cJSON_GetObjectItemCaseSensitive(j, "Dest");
    if (!region || !name || !st || !member || !dest || strlen(name) > SL_FH_NAME_MAX)
        return NULL;
    sl_fh_stream *s = calloc(1, sizeof(*s));
    if (!s)
        return NULL;
    snprintf(s->region, sizeof(s->region), "%s", region);
    snprintf(s->name, sizeof(s->name), "%s", name);
    s->created_ms = (int64_t)jnum(j, "Created", 0);
    s->updated_ms = (int64_t)jnum(j, "Updated", 0);
    s->status = strcmp(st, "ACTIVE") == 0     ? SL_FH_ACTIVE
                : strcmp(st, "DELETING") == 0 ? SL_FH_DELETING
                                              : SL_FH_CREATING;
    s->version = (uint64_t)jnum(j, "Version", 1);
    s->encrypted = jbool(j, "Encrypted", 0);
    snprintf(s->enc_key_type, sizeof(s->enc_key_type), "%s",
             jstr(j, "KeyType") ? jstr(j, "KeyType") : "");
    snprintf(s->enc_key_arn, sizeof(s->enc_key_arn), "%s",
             jstr(j, "KeyARN") ? jstr(j, "KeyARN") : "");
    snprintf(s->dest_member, sizeof(s->dest_member), "%s", member);
    s->dest_cfg = cJSON_Duplicate(dest, 1);
    const char *type = jstr(j, "Type");
    if (type && strcmp(type, "KinesisStreamAsSource") == 0) {
        s->kinesis_source = 1;
        snprintf(s->source_arn, sizeof(s->source_arn), "%s",
                 jstr(j, "SourceARN") ? jstr(j, "SourceARN") : "");
        snprintf(s->source_role, sizeof(s->source_role), "%s",
                 jstr(j, "SourceRole") ? jstr(j, "SourceRole") : "");
        snprintf(s->source_region, sizeof(s->source_region), "%s",
                 jstr(j, "SourceRegion") ? jstr(j, "SourceRegion") : "");
        snprintf(s->source_name, sizeof(s->source_name), "%s",
                 jstr(j, "SourceName") ? jstr(j, "SourceName") : "");
    }
    const cJSON *tags = cJSON_GetObjectItemCaseSensitive(j, "Tags");
    s->tags = tags ? cJSON_Duplicate(tags, 1) : cJSON_CreateArray();
    char msg[512];
    if (!s->dest_cfg || !s->tags ||
        sl_fh_dest_parse(member, s->dest_cfg, &s->dest, msg, sizeof(msg))) {
        sl_fh_stream_free(s);
        return NULL;
    }
    snprintf(s->dest.version_id, sizeof(s->dest.version_id), "%llu",
             (unsigned long long)s->version);
    return s;
}

void sl_fh_stream_free(sl_fh_stream *s)
{
    if (!s)
        return;
    cJSON_Delete(s->dest_cfg);
    cJSON_Delete(s->tags);
    sl_fh_dest_cleanup(&s->dest);
    free(s->shards);
    free(s->cursors);
    free(s);
}

int sl_fh_json_merge(cJSON *base, const cJSON *upd)
{
    const cJSON *u;
    cJSON_ArrayForEach(u, upd)
    {
        cJSON *b = cJSON_GetObjectItemCaseSensitive(base, u->string);
        if (b && cJSON_IsObject(b) && cJSON_IsObject(u)) {
            int rc = sl_fh_json_merge(b, u);
            if (rc)
                return rc;
            continue;
        }
        cJSON *dup = cJSON_Duplicate(u, 1);
        if (!dup)
            return SL_ENOMEM;
        if (b)
            cJSON_ReplaceItemInObjectCaseSensitive(base, u->string, dup);
        else
            cJSON_AddItemToObject(base, u->string, dup);
    }
    return 0;
}
