# Sourced by the kvssink sample pipelines: where the plugin and the gateway are.
# Override any of these in the environment before running a sample.
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
: "${SLUICE_BUILD:=$HERE/../build}"
export GST_PLUGIN_PATH="${GST_PLUGIN_PATH:-$SLUICE_BUILD/plugins/gst-kvssink}"
# The AWS element reads the endpoint from CONTROL_PLANE_URI; so does ours.
export CONTROL_PLANE_URI="${CONTROL_PLANE_URI:-http://127.0.0.1:4566}"
export AWS_DEFAULT_REGION="${AWS_DEFAULT_REGION:-us-east-1}"
# Credentials: AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY, else ~/.aws/credentials.
: "${STREAM:=sluice-sample}"
