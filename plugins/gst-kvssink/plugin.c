/* The kvssink GStreamer plugin: registers the one element it provides. Load it with
 * GST_PLUGIN_PATH=<build>/plugins/gst-kvssink. */
#include "gstkvssink.h"

#ifndef PACKAGE
#define PACKAGE "sluice"
#endif

static gboolean plugin_init(GstPlugin *plugin)
{
    return sl_kvssink_register(plugin);
}

GST_PLUGIN_DEFINE(GST_VERSION_MAJOR, GST_VERSION_MINOR, kvssink,
                  "Kinesis Video Streams sink for Sluice (drop-in for the AWS kvssink)",
                  plugin_init, "0.1.0", "Apache-2.0", "Sluice", "https://example.invalid/sluice")
