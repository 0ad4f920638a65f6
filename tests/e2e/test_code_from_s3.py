"""Functions and layers deployed from the node's S3, as Lambda users deploy anything over 50 MB."""

import io
import json
import os
import zipfile

import pytest
from botocore.exceptions import ClientError

from conftest import ROLE, make_zip, settled


def big_zip(extra_mb: int) -> bytes:
    """A package with `extra_mb` MiB of incompressible data beside its handler."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_STORED) as z:
        z.writestr("app.py", "import os\n\ndef handler(event, context):\n"
                             "    return {'size': os.path.getsize(os.path.join(os.path.dirname(__file__), 'blob.bin'))}\n")
        z.writestr("blob.bin", os.urandom(extra_mb * 1024 * 1024))
    return buf.getvalue()


def test_functions_and_layers_from_s3(node, fname):
    lam, s3 = node.client(), node.client("s3")
    bucket = f"code-{os.urandom(4).hex()}"
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="v1.zip", Body=make_zip({"app.py": "def handler(e, c):\n    return 'v1'\n"}))
    lam.create_function(FunctionName=fname, Runtime="python3.11", Handler="app.handler", Role=ROLE,
                        Code={"S3Bucket": bucket, "S3Key": "v1.zip"})
    settled(lam, fname)
    assert json.loads(lam.invoke(FunctionName=fname)["Payload"].read()) == "v1"
    s3.put_object(Bucket=bucket, Key="v2.zip", Body=make_zip({"app.py": "def handler(e, c):\n    return 'v2'\n"}))
    lam.update_function_code(FunctionName=fname, S3Bucket=bucket, S3Key="v2.zip")
    settled(lam, fname)
    assert json.loads(lam.invoke(FunctionName=fname)["Payload"].read()) == "v2"
    layer_zip = make_zip({"python/shared_mod.py": "VALUE = 'from a layer in S3'\n"})
    s3.put_object(Bucket=bucket, Key="layer.zip", Body=layer_zip)
    layer = lam.publish_layer_version(LayerName=f"{fname}-layer", Content={"S3Bucket": bucket, "S3Key": "layer.zip"})
    assert layer["Content"]["CodeSize"] == len(layer_zip)
    s3.put_object(Bucket=bucket, Key="v3.zip", Body=make_zip({"app.py": "import shared_mod\n\ndef handler(e, c):\n    return shared_mod.VALUE\n"}))
    lam.update_function_code(FunctionName=fname, S3Bucket=bucket, S3Key="v3.zip")
    settled(lam, fname)
    lam.update_function_configuration(FunctionName=fname, Layers=[layer["LayerVersionArn"]])
    settled(lam, fname)
    assert json.loads(lam.invoke(FunctionName=fname)["Payload"].read()) == "from a layer in S3"


def test_a_package_over_50_mb_deploys_from_s3(node, fname):
    lam, s3 = node.client(), node.client("s3")
    bucket = f"big-{os.urandom(4).hex()}"
    s3.create_bucket(Bucket=bucket)
    package = big_zip(60)
    assert len(package) > 50 * 1024 * 1024
    s3.upload_fileobj(io.BytesIO(package), bucket, "big.zip")
    lam.create_function(FunctionName=fname, Runtime="python3.11", Handler="app.handler", Role=ROLE,
                        Code={"S3Bucket": bucket, "S3Key": "big.zip"}, Timeout=30)
    settled(lam, fname, timeout=60)
    assert json.loads(lam.invoke(FunctionName=fname)["Payload"].read()) == {"size": 60 * 1024 * 1024}


def test_missing_objects_are_refused_as_lambda_refuses_them(node, fname):
    lam, s3 = node.client(), node.client("s3")
    bucket = f"none-{os.urandom(4).hex()}"
    s3.create_bucket(Bucket=bucket)
    args = dict(FunctionName=fname, Runtime="python3.11", Handler="app.handler", Role=ROLE)
    with pytest.raises(ClientError) as e:
        lam.create_function(**args, Code={"S3Bucket": bucket, "S3Key": "nope.zip"})
    err = e.value.response["Error"]
    assert err["Code"] == "InvalidParameterValueException"
    assert err["Message"].startswith("Error occurred while GetObject. S3 Error Code: NoSuchKey. S3 Error Message:")
    with pytest.raises(ClientError) as e:
        lam.create_function(**args, Code={"S3Bucket": "no-such-bucket-anywhere", "S3Key": "k"})
    assert "S3 Error Code: NoSuchBucket" in e.value.response["Error"]["Message"]
    with pytest.raises(ClientError) as e:
        lam.create_function(**args, Code={"S3Bucket": bucket})
    assert e.value.response["Error"]["Code"] == "InvalidParameterValueException"
