/* kvssink: the GStreamer element, a drop-in for the AWS producer's kvssink (spec video-streams
 * §6): same name, property names/types/defaults, request pads and caps. See gstkvssink.c. */
#ifndef SL_GST_KVSSINK_H
#define SL_GST_KVSSINK_H

#include <gst/base/gstcollectpads.h>
#include <gst/gst.h>

#include "kvs_store.h"
#include "sluice/buf.h"
#include "kvs_upload.h"

G_BEGIN_DECLS

#define GST_TYPE_KVS_SINK (gst_kvs_sink_get_type())
G_DECLARE_FINAL_TYPE(GstKvsSink, gst_kvs_sink, GST, KVS_SINK, GstElement)

/* Registers the element with plugin (rank PRIMARY + 10, as the AWS element). */
gboolean sl_kvssink_register(GstPlugin *plugin);

/* Test seam: appends what the element holds in its content store (stream header + every
 * unacknowledged fragment) to out; nothing when not in PAUSED/PLAYING. Streaming must be idle.
 * 0 or SL_ENOMEM. */
int sl_kvssink_dump_store(GstElement *kvssink, sl_buf *out);

G_END_DECLS

#endif
