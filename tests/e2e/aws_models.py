"""The current Kinesis model for botocore-based clients (boto3, the AWS CLI).

Debian's botocore (1.29) and CLI predate some Kinesis operations and members (resource policies,
account settings, warm throughput, UpdateMaxRecordSize, StreamARN on PutRecord(s)). Pointing
AWS_DATA_PATH at a folder holding shared/aws-models/kinesis makes the unmodified clients build,
sign, paginate and parse requests from that model instead -- botocore's own mechanism for extra
service models."""
import atexit
import os
import shutil
import tempfile

_dir = None


def kinesis_model_dir():
    """A botocore data folder with the shared Kinesis model (service, waiters, paginators),
    made once per process and removed at exit."""
    global _dir
    if _dir is None:
        shared = os.environ.get("SL_SHARED_DIR")
        assert shared, "SL_SHARED_DIR is not set (ctest sets it)"
        src = os.path.join(shared, "aws-models", "kinesis")
        assert os.path.exists(os.path.join(src, "service-2.json")), src
        d = tempfile.mkdtemp(prefix="sluice-model-")
        atexit.register(shutil.rmtree, d, True)
        os.makedirs(os.path.join(d, "kinesis", "2013-12-02"))
        for f in ("service-2.json", "waiters-2.json", "paginators-1.json"):
            os.symlink(os.path.join(src, f), os.path.join(d, "kinesis", "2013-12-02", f))
        _dir = d
    return _dir
