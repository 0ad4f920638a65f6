"""Layers driven by boto3: publishing, reading, listing, deleting, layer permissions, and
functions that use layers (their Layers, the size limit, the merged /opt)."""

import base64
import hashlib
import io
import json
import re
import urllib.request
import zipfile

import pytest
from botocore.exceptions import ClientError

from conftest import create, make_zip, missing

CREATED = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+0000$")
ACCOUNT = "000000000000"
REGION = "us-east-1"


def layer_arn(name):
    return f"arn:aws:lambda:{REGION}:{ACCOUNT}:layer:{name}"


def err(e):
    r = e.value.response
    return r["Error"]["Code"], r["ResponseMetadata"]["HTTPStatusCode"], r["Error"]["Message"]


def publish(client, name, files=None, modes=None, **kw):
    zip_bytes = make_zip(files or {"python/mod.py": "VALUE = 'from layer'\n"}, modes)
    return client.publish_layer_version(LayerName=name, Content={"ZipFile": zip_bytes}, **kw)


@pytest.fixture
def loose(node):
    """A client that sends whatever it is given (no client-side parameter validation)."""
    return node.client(validate=False)


def test_publish_get_and_get_by_arn(lam, fname):
    zip_bytes = make_zip({"python/mod.py": "VALUE = 1\n"})
    p = lam.publish_layer_version(
        LayerName=fname, Content={"ZipFile": zip_bytes}, Description="deps",
        CompatibleRuntimes=["python3.11", "python3.12"], CompatibleArchitectures=["x86_64"],
        LicenseInfo="MIT")
    assert p["ResponseMetadata"]["HTTPStatusCode"] == 201
    assert p["LayerArn"] == layer_arn(fname)
    assert p["LayerVersionArn"] == f"{layer_arn(fname)}:1"
    assert p["Version"] == 1
    assert CREATED.match(p["CreatedDate"])
    assert (p["Description"], p["LicenseInfo"]) == ("deps", "MIT")
    assert p["CompatibleRuntimes"] == ["python3.11", "python3.12"]
    assert p["CompatibleArchitectures"] == ["x86_64"]
    assert p["Content"]["CodeSha256"] == base64.b64encode(hashlib.sha256(zip_bytes).digest()).decode()
    assert p["Content"]["CodeSize"] == len(zip_bytes)
    # The download URL works without credentials, like S3's presigned one.
    with urllib.request.urlopen(p["Content"]["Location"]) as r:
        assert r.read() == zip_bytes

    g = lam.get_layer_version(LayerName=fname, VersionNumber=1)
    by_arn = lam.get_layer_version_by_arn(Arn=p["LayerVersionArn"])
    by_layer_arn = lam.get_layer_version(LayerName=layer_arn(fname), VersionNumber=1)
    for got in (g, by_arn, by_layer_arn):
        for k in ("LayerArn", "LayerVersionArn", "Version", "CreatedDate", "Description",
                  "LicenseInfo", "CompatibleRuntimes", "CompatibleArchitectures"):
            assert got[k] == p[k], k
        assert got["Content"]["CodeSha256"] == p["Content"]["CodeSha256"]
        assert got["Content"]["CodeSize"] == p["Content"]["CodeSize"]


def test_optional_members(lam, fname):
    bare = publish(lam, fname)
    assert bare["Description"] == ""
    for k in ("CompatibleRuntimes", "CompatibleArchitectures", "LicenseInfo"):
        assert k not in bare
    empty = publish(lam, fname, CompatibleRuntimes=[], CompatibleArchitectures=[])
    assert (empty["CompatibleRuntimes"], empty["CompatibleArchitectures"]) == ([], [])
    assert empty["Version"] == 2


def test_version_numbers_never_repeat_and_delete_is_idempotent(lam, fname):
    assert [publish(lam, fname)["Version"] for _ in range(2)] == [1, 2]
    listed = lam.list_layer_versions(LayerName=fname)["LayerVersions"]
    assert [v["Version"] for v in listed] == [2, 1]
    assert listed[0]["LayerVersionArn"] == f"{layer_arn(fname)}:2"
    assert "Content" not in listed[0]
    for n in (1, 2, 2, 7):
        r = lam.delete_layer_version(LayerName=fname, VersionNumber=n)
        assert r["ResponseMetadata"]["HTTPStatusCode"] == 204
    lam.delete_layer_version(LayerName=f"{fname}-none", VersionNumber=1)
    assert lam.list_layer_versions(LayerName=fname)["LayerVersions"] == []
    with pytest.raises(lam.exceptions.ResourceNotFoundException):
        lam.get_layer_version(LayerName=fname, VersionNumber=1)
    assert publish(lam, fname)["Version"] == 3


def test_list_layers_filters_and_pagination(fresh_node):
    c = fresh_node().client()
    a1 = publish(c, "a", CompatibleRuntimes=["python3.11"], CompatibleArchitectures=["x86_64"])
    a2 = publish(c, "a", CompatibleRuntimes=["nodejs20.x"], CompatibleArchitectures=["arm64"])
    b1 = publish(c, "b", CompatibleRuntimes=["python3.11", "python3.12"])
    publish(c, "c")
    all_layers = c.list_layers()["Layers"]
    assert [l["LayerName"] for l in all_layers] == ["a", "b", "c"]
    a = all_layers[0]
    assert a["LayerArn"] == layer_arn("a")
    latest = a["LatestMatchingVersion"]
    assert latest["LayerVersionArn"] == a2["LayerVersionArn"]
    assert latest["Version"] == 2
    assert latest["CompatibleRuntimes"] == ["nodejs20.x"]
    assert CREATED.match(latest["CreatedDate"])

    py = c.list_layers(CompatibleRuntime="python3.11")["Layers"]
    assert [(l["LayerName"], l["LatestMatchingVersion"]["Version"]) for l in py] == [("a", 1), ("b", 1)]
    arm = c.list_layers(CompatibleArchitecture="arm64")["Layers"]
    assert [(l["LayerName"], l["LatestMatchingVersion"]["Version"]) for l in arm] == [("a", 2)]
    both = c.list_layers(CompatibleRuntime="python3.11", CompatibleArchitecture="x86_64")["Layers"]
    assert [l["LayerName"] for l in both] == ["a"]

    first = c.list_layers(MaxItems=2)
    assert [l["LayerName"] for l in first["Layers"]] == ["a", "b"]
    rest = c.list_layers(MaxItems=2, Marker=first["NextMarker"])
    assert [l["LayerName"] for l in rest["Layers"]] == ["c"]
    assert "NextMarker" not in rest
    pages = c.get_paginator("list_layers").paginate(PaginationConfig={"PageSize": 1})
    assert [l["LayerName"] for p in pages for l in p["Layers"]] == ["a", "b", "c"]

    versions = c.list_layer_versions(LayerName="a", CompatibleRuntime="python3.11")["LayerVersions"]
    assert [v["Version"] for v in versions] == [1]
    assert versions[0]["LayerVersionArn"] == a1["LayerVersionArn"]
    for _ in range(3):
        publish(c, "a")
    pages = c.get_paginator("list_layer_versions").paginate(
        LayerName="a", PaginationConfig={"PageSize": 2})
    assert [v["Version"] for p in pages for v in p["LayerVersions"]] == [5, 4, 3, 2, 1]
    one = c.list_layer_versions(LayerName=layer_arn("b"), MaxItems=1)
    assert [v["LayerVersionArn"] for v in one["LayerVersions"]] == [b1["LayerVersionArn"]]
    assert "NextMarker" not in one
    # A layer whose versions are all deleted is no longer listed.
    c.delete_layer_version(LayerName="c", VersionNumber=1)
    assert [l["LayerName"] for l in c.list_layers()["Layers"]] == ["a", "b"]



def test_layer_errors(lam, loose, fname):
    p = publish(lam, fname)

    def check(call, code, status, message=None):
        with pytest.raises(ClientError) as e:
            call()
        got = err(e)
        assert got[:2] == (code, status), got
        if message is not None:
            assert got[2] == message, got

    missing = "The resource you requested does not exist."
    check(lambda: lam.get_layer_version(LayerName=f"{fname}-x", VersionNumber=1),
          "ResourceNotFoundException", 404, missing)
    check(lambda: lam.get_layer_version(LayerName=fname, VersionNumber=2),
          "ResourceNotFoundException", 404, missing)
    for n in (0, -1):
        check(lambda: lam.get_layer_version(LayerName=fname, VersionNumber=n),
              "InvalidParameterValueException", 400, "Layer Version Cannot be less than 1")
        check(lambda: lam.delete_layer_version(LayerName=fname, VersionNumber=n),
              "InvalidParameterValueException", 400, "Layer Version Cannot be less than 1")
    check(lambda: lam.get_layer_version_by_arn(Arn=p["LayerArn"]), "ValidationException", 400)
    check(lambda: lam.get_layer_version_by_arn(Arn=f"{p['LayerArn']}:2"),
          "ResourceNotFoundException", 404, missing)
    foreign = f"arn:aws:lambda:eu-west-1:{ACCOUNT}:layer:{fname}"
    check(lambda: lam.get_layer_version(LayerName=foreign, VersionNumber=1),
          "ResourceNotFoundException", 404, missing)
    check(lambda: lam.get_layer_version_by_arn(Arn=f"{foreign}:1"),
          "ResourceNotFoundException", 404, missing)
    check(lambda: lam.list_layers(CompatibleRuntime="cobol"), "ValidationException", 400)
    check(lambda: lam.list_layers(CompatibleArchitecture="sparc"), "ValidationException", 400,
          "1 validation error detected: Value 'sparc' at 'compatibleArchitecture' failed to "
          "satisfy constraint: Member must satisfy enum value set: [x86_64, arm64]")
    check(lambda: loose.list_layers(MaxItems=51), "ValidationException", 400)
    check(lambda: loose.list_layer_versions(LayerName=fname, MaxItems=0), "ValidationException", 400)
    check(lambda: loose.get_layer_version(LayerName="bad name", VersionNumber=1),
          "ValidationException", 400)
    zip_bytes = make_zip({"a": "b"})
    check(lambda: lam.publish_layer_version(LayerName=fname, Content={"S3Bucket": "no-such-bucket", "S3Key": "k"}),
          "InvalidParameterValueException", 400,
          "Error occurred while GetObject. S3 Error Code: NoSuchBucket. S3 Error Message: The specified bucket does not exist")
    check(lambda: lam.publish_layer_version(LayerName=fname, Content={"ZipFile": b"not a zip"}),
          "InvalidParameterValueException", 400)
    check(lambda: lam.publish_layer_version(LayerName=fname, Content={"ZipFile": zip_bytes},
                                            CompatibleRuntimes=["cobol"]),
          "ValidationException", 400)
    check(lambda: loose.publish_layer_version(LayerName=fname, Content={"ZipFile": zip_bytes},
                                              CompatibleRuntimes=["python3.11"] * 16),
          "ValidationException", 400)
    check(lambda: loose.publish_layer_version(LayerName=fname, Content={"ZipFile": zip_bytes},
                                              CompatibleArchitectures=["x86_64", "arm64", "x86_64"]),
          "ValidationException", 400)
    check(lambda: loose.publish_layer_version(LayerName=fname, Content={"ZipFile": zip_bytes},
                                              LicenseInfo="l" * 513),
          "ValidationException", 400)
    # Refused publications use no version number.
    assert publish(lam, fname)["Version"] == 2


def test_layer_permissions(lam, loose, fname):
    p = publish(lam, fname)
    arn = p["LayerVersionArn"]
    missing_policy = "No policy is associated with the given resource."
    with pytest.raises(lam.exceptions.ResourceNotFoundException) as e:
        lam.get_layer_version_policy(LayerName=fname, VersionNumber=1)
    assert err(e) == ("ResourceNotFoundException", 404, missing_policy)

    a = lam.add_layer_version_permission(LayerName=fname, VersionNumber=1, StatementId="s1",
                                         Action="lambda:GetLayerVersion", Principal="*")
    assert a["ResponseMetadata"]["HTTPStatusCode"] == 201
    assert a["Statement"] == json.dumps({
        "Sid": "s1", "Effect": "Allow", "Principal": "*", "Action": "lambda:GetLayerVersion",
        "Resource": arn}, separators=(",", ":"))
    g = lam.get_layer_version_policy(LayerName=fname, VersionNumber=1)
    assert g["RevisionId"] == a["RevisionId"]
    assert json.loads(g["Policy"]) == {"Version": "2012-10-17", "Id": "default",
                                       "Statement": [json.loads(a["Statement"])]}

    with pytest.raises(lam.exceptions.ResourceConflictException) as e:
        lam.add_layer_version_permission(LayerName=fname, VersionNumber=1, StatementId="s1",
                                         Action="lambda:GetLayerVersion", Principal="*")
    assert err(e) == ("ResourceConflictException", 409,
                      "The statement id (s1) provided already exists. Please provide a new "
                      "statement id, or remove the existing statement.")
    with pytest.raises(lam.exceptions.PreconditionFailedException) as e:
        lam.add_layer_version_permission(LayerName=fname, VersionNumber=1, StatementId="s2",
                                         Action="lambda:GetLayerVersion", Principal="*",
                                         RevisionId="wrong")
    assert err(e)[:2] == ("PreconditionFailedException", 412)
    assert "GetLayerPolicy" in err(e)[2]

    org = lam.add_layer_version_permission(
        LayerName=fname, VersionNumber=1, StatementId="s2", Action="lambda:GetLayerVersion",
        Principal="*", OrganizationId="o-t194hfs8cz", RevisionId=a["RevisionId"])
    assert json.loads(org["Statement"])["Condition"] == {
        "StringEquals": {"aws:PrincipalOrgID": "o-t194hfs8cz"}}
    assert org["RevisionId"] != a["RevisionId"]
    acct = lam.add_layer_version_permission(
        LayerName=fname, VersionNumber=1, StatementId="s3", Action="lambda:GetLayerVersion",
        Principal="210987654321")
    assert json.loads(acct["Statement"])["Principal"] == {"AWS": "arn:aws:iam::210987654321:root"}
    statements = json.loads(lam.get_layer_version_policy(LayerName=fname, VersionNumber=1)["Policy"])
    assert [s["Sid"] for s in statements["Statement"]] == ["s1", "s2", "s3"]

    with pytest.raises(ClientError) as e:
        loose.add_layer_version_permission(LayerName=fname, VersionNumber=1, StatementId="s4",
                                           Action="*", Principal="*")
    assert err(e) == ("ValidationException", 400,
                      "1 validation error detected: Value '*' at 'action' failed to satisfy "
                      "constraint: Member must satisfy regular expression pattern: "
                      "lambda:GetLayerVersion")
    with pytest.raises(ClientError) as e:
        loose.add_layer_version_permission(LayerName=fname, VersionNumber=1, StatementId="s4",
                                           Action="lambda:GetLayerVersion", Principal="s3.amazonaws.com")
    assert err(e)[:2] == ("ValidationException", 400)

    for call in (
        lambda n, v: lam.add_layer_version_permission(LayerName=n, VersionNumber=v, StatementId="x",
                                                      Action="lambda:GetLayerVersion", Principal="*"),
        lambda n, v: lam.get_layer_version_policy(LayerName=n, VersionNumber=v),
        lambda n, v: lam.remove_layer_version_permission(LayerName=n, VersionNumber=v, StatementId="x"),
    ):
        for n, v in ((f"{fname}-none", 1), (fname, 2)):
            with pytest.raises(lam.exceptions.ResourceNotFoundException) as e:
                call(n, v)
            assert err(e) == ("ResourceNotFoundException", 404,
                              f"Layer version {layer_arn(n)}:{v} does not exist.")

    with pytest.raises(lam.exceptions.ResourceNotFoundException) as e:
        lam.remove_layer_version_permission(LayerName=fname, VersionNumber=1, StatementId="nope")
    assert err(e) == ("ResourceNotFoundException", 404,
                      "Statement nope is not found in resource policy.")
    current = lam.get_layer_version_policy(LayerName=fname, VersionNumber=1)["RevisionId"]
    with pytest.raises(lam.exceptions.PreconditionFailedException):
        lam.remove_layer_version_permission(LayerName=fname, VersionNumber=1, StatementId="s1",
                                            RevisionId="wrong")
    r = lam.remove_layer_version_permission(LayerName=fname, VersionNumber=1, StatementId="s1",
                                            RevisionId=current)
    assert r["ResponseMetadata"]["HTTPStatusCode"] == 204
    for sid in ("s2", "s3"):
        lam.remove_layer_version_permission(LayerName=fname, VersionNumber=1, StatementId=sid)
    with pytest.raises(lam.exceptions.ResourceNotFoundException) as e:
        lam.get_layer_version_policy(LayerName=fname, VersionNumber=1)
    assert err(e)[2] == missing_policy

    # A deleted layer version takes its policy with it.
    lam.add_layer_version_permission(LayerName=fname, VersionNumber=1, StatementId="s1",
                                     Action="lambda:GetLayerVersion", Principal="*")
    lam.delete_layer_version(LayerName=fname, VersionNumber=1)
    with pytest.raises(lam.exceptions.ResourceNotFoundException):
        lam.get_layer_version_policy(LayerName=fname, VersionNumber=1)


def test_function_layers_are_reported_in_order_with_code_size(lam, fname, hello_zip):
    one = publish(lam, f"{fname}-1", files={"python/one.py": "X = 1\n"})
    two = publish(lam, f"{fname}-2", files={"python/two.py": "Y = 22\n" * 10})
    c = create(lam, fname, hello_zip, Layers=[two["LayerVersionArn"], one["LayerVersionArn"]])
    expected = [{"Arn": two["LayerVersionArn"], "CodeSize": two["Content"]["CodeSize"]},
                {"Arn": one["LayerVersionArn"], "CodeSize": one["Content"]["CodeSize"]}]
    assert c["Layers"] == expected
    assert lam.get_function_configuration(FunctionName=fname)["Layers"] == expected
    assert lam.get_function(FunctionName=fname)["Configuration"]["Layers"] == expected
    listed = [f for page in lam.get_paginator("list_functions").paginate()
              for f in page["Functions"] if f["FunctionName"] == fname]
    assert listed and listed[0]["Layers"] == expected

    u = lam.update_function_configuration(FunctionName=fname, Layers=[one["LayerVersionArn"]])
    assert u["Layers"] == expected[1:]
    # Other updates keep the layers.
    u = lam.update_function_configuration(FunctionName=fname, Timeout=9)
    assert u["Layers"] == expected[1:]
    u = lam.update_function_configuration(FunctionName=fname, Layers=[])
    assert "Layers" not in u


def test_function_layer_errors(lam, loose, fname, hello_zip):
    l1 = publish(lam, fname)
    l2 = publish(lam, fname)
    create(lam, fname, hello_zip)

    def refused(layers, client=lam):
        with pytest.raises(ClientError) as e:
            client.update_function_configuration(FunctionName=fname, Layers=layers)
        return err(e)

    assert refused([l1["LayerVersionArn"], l2["LayerVersionArn"]]) == (
        "InvalidParameterValueException", 400,
        "Two different versions of the same layer are not allowed to be referenced in the same "
        f"function. {l1['LayerVersionArn']} and {l2['LayerVersionArn']} are versions of the same layer.")
    assert refused([l1["LayerVersionArn"], l1["LayerVersionArn"]])[2].startswith("Two different versions")
    nope = f"{layer_arn(fname + '-none')}:1"
    assert refused([nope]) == ("InvalidParameterValueException", 400,
                               f"Layer version {nope} does not exist.")
    assert refused([f"{l1['LayerArn']}:9"])[2] == f"Layer version {l1['LayerArn']}:9 does not exist."
    other_account = f"arn:aws:lambda:{REGION}:111111111111:layer:{fname}:1"
    assert refused([other_account])[2] == f"Layer version {other_account} does not exist."
    assert refused([f"arn:aws:lambda:eu-west-1:{ACCOUNT}:layer:{fname}:1"]) == (
        "InvalidParameterValueException", 400,
        "Layers are not in the same region as the function. Layers are expected to be in region us-east-1.")
    code, status, message = refused([l1["LayerArn"]])
    assert (code, status) == ("ValidationException", 400)
    assert message.startswith(f"1 validation error detected: Value '[{l1['LayerArn']}]' at 'layers'")
    # Nothing was changed by the refusals.
    assert "Layers" not in lam.get_function_configuration(FunctionName=fname)
    with pytest.raises(lam.exceptions.InvalidParameterValueException) as e:
        create(lam, f"{fname}-new", hello_zip, Layers=[nope])
    with pytest.raises(lam.exceptions.ResourceNotFoundException):
        lam.get_function(FunctionName=f"{fname}-new")


def test_six_layers_are_refused(lam, fname, hello_zip):
    arns = [publish(lam, f"{fname}-{i}")["LayerVersionArn"] for i in range(6)]
    with pytest.raises(lam.exceptions.InvalidParameterValueException) as e:
        create(lam, fname, hello_zip, Layers=arns)
    assert err(e) == ("InvalidParameterValueException", 400, "Cannot reference more than 5 layers.")
    c = create(lam, fname, hello_zip, Layers=arns[:5])
    assert [l["Arn"] for l in c["Layers"]] == arns[:5]
    with pytest.raises(lam.exceptions.InvalidParameterValueException) as e:
        lam.update_function_configuration(FunctionName=fname, Layers=arns)
    assert err(e)[2] == "Cannot reference more than 5 layers."


def zeros_zip(name, size):
    """A small zip holding `size` zero bytes (deflate squeezes them about a thousandfold)."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as z:
        info = zipfile.ZipInfo(name, date_time=(2024, 1, 1, 0, 0, 0))
        info.compress_type = zipfile.ZIP_DEFLATED
        with z.open(info, "w") as f:
            chunk = b"\0" * (1 << 20)
            left = size
            while left:
                n = min(left, len(chunk))
                f.write(chunk[:n])
                left -= n
    return buf.getvalue()


def test_function_code_and_layers_share_the_unzipped_limit(lam, fname, hello_zip):
    size = 262_144_000 // 2 - 1000
    # One package of `size` bytes unzipped, published as two layers: stored and extracted once.
    zeros = zeros_zip("data/zeros.bin", size)
    arns = [lam.publish_layer_version(LayerName=f"{fname}-{i}", Content={"ZipFile": zeros})["LayerVersionArn"]
            for i in range(2)]
    padded_files = {"app.py": "def handler(event, context):\n    return event\n", "pad.txt": "p" * 3000}
    padded = make_zip(padded_files)
    padded_size = sum(len(v) for v in padded_files.values())
    message = ("Function code combined with layers exceeds the maximum allowed size of "
               f"262144000 bytes. The actual size is {2 * size + padded_size} bytes.")
    try:
        with pytest.raises(lam.exceptions.InvalidParameterValueException) as e:
            create(lam, fname, padded, Layers=arns)
        assert err(e) == ("InvalidParameterValueException", 400, message)
        with pytest.raises(lam.exceptions.ResourceNotFoundException):
            lam.get_function(FunctionName=fname)

        # Within the limit with the small handler; UpdateFunctionCode is held to it too.
        create(lam, fname, hello_zip, Layers=arns)
        with pytest.raises(lam.exceptions.InvalidParameterValueException) as e:
            lam.update_function_code(FunctionName=fname, ZipFile=padded)
        assert err(e)[2] == message
        assert lam.get_function_configuration(FunctionName=fname)["CodeSize"] == len(hello_zip)

        # And UpdateFunctionConfiguration: code of `size` bytes with one layer fits, not two.
        lam.update_function_configuration(FunctionName=fname, Layers=arns[:1])
        assert lam.update_function_code(FunctionName=fname, ZipFile=zeros)["CodeSize"] == len(zeros)
        with pytest.raises(lam.exceptions.InvalidParameterValueException) as e:
            lam.update_function_configuration(FunctionName=fname, Layers=arns)
        assert err(e)[2].endswith(f"The actual size is {3 * size} bytes.")
    finally:
        try:
            lam.delete_function(FunctionName=fname)
        except ClientError:
            pass
        for i in range(2):
            lam.delete_layer_version(LayerName=f"{fname}-{i}", VersionNumber=1)


def test_deleted_layer_version_stays_attached(lam, fname, hello_zip):
    p = publish(lam, fname)
    arn = p["LayerVersionArn"]
    create(lam, fname, hello_zip, Layers=[arn])
    lam.delete_layer_version(LayerName=fname, VersionNumber=1)
    expected = [{"Arn": arn, "CodeSize": p["Content"]["CodeSize"]}]
    assert lam.get_function_configuration(FunctionName=fname)["Layers"] == expected
    # Updates that keep the list (as tools resend it) still work; new functions cannot use it.
    assert lam.update_function_configuration(FunctionName=fname, Timeout=7)["Layers"] == expected
    assert lam.update_function_configuration(FunctionName=fname, Layers=[arn])["Layers"] == expected
    with pytest.raises(lam.exceptions.InvalidParameterValueException) as e:
        create(lam, f"{fname}-2", hello_zip, Layers=[arn])
    assert err(e)[2] == f"Layer version {arn} does not exist."


def test_layer_packages_are_collected_when_unused(fresh_node, hello_zip):
    n = fresh_node()
    c = n.client()
    code = n.data_dir / "code"
    layer_zip = make_zip({"python/gc_mod.py": "X = 1\n"})
    blob = code / "blobs" / f"{hashlib.sha256(layer_zip).hexdigest()}.zip"
    c.publish_layer_version(LayerName="l", Content={"ZipFile": layer_zip})
    arn = c.publish_layer_version(LayerName="l", Content={"ZipFile": layer_zip})["LayerVersionArn"]
    assert blob.exists()
    create(c, "f", hello_zip, Layers=[arn])
    opt = list((code / "opt").iterdir())
    assert len(opt) == 1 and (opt[0] / "python" / "gc_mod.py").read_text() == "X = 1\n"
    c.delete_layer_version(LayerName="l", VersionNumber=1)
    c.delete_layer_version(LayerName="l", VersionNumber=2)
    # The function still uses the package of the deleted version 2.
    assert blob.exists() and opt[0].exists()
    c.update_function_configuration(FunctionName="f", Layers=[])
    assert not blob.exists()
    assert list((code / "opt").iterdir()) == []

    arn = c.publish_layer_version(LayerName="l", Content={"ZipFile": layer_zip})["LayerVersionArn"]
    c.update_function_configuration(FunctionName="f", Layers=[arn])
    c.delete_layer_version(LayerName="l", VersionNumber=3)
    assert blob.exists()
    c.delete_function(FunctionName="f")
    assert not blob.exists()
    assert list((code / "opt").iterdir()) == []


LAYER_HANDLER = """
import mod
def handler(event, context):
    return {"value": mod.VALUE}
"""


def test_function_imports_a_module_from_its_layers(lam, fname):
    first = publish(lam, f"{fname}-a", files={"python/mod.py": "VALUE = 'first'\n",
                                              "python/only_first.py": ""})
    second = publish(lam, f"{fname}-b", files={"python/mod.py": "VALUE = 'second'\n"})
    create(lam, fname, make_zip({"app.py": LAYER_HANDLER}),
           Layers=[first["LayerVersionArn"], second["LayerVersionArn"]])
    r = lam.invoke(FunctionName=fname, Payload=b"{}")
    body = json.loads(r["Payload"].read())
    assert "FunctionError" not in r, body
    # The later layer wins.
    assert body["value"] == "second"
    # It keeps working after its layer versions are deleted.
    lam.delete_layer_version(LayerName=f"{fname}-a", VersionNumber=1)
    lam.delete_layer_version(LayerName=f"{fname}-b", VersionNumber=1)
    lam.update_function_configuration(FunctionName=fname, Timeout=5)
    r = lam.invoke(FunctionName=fname, Payload=b"{}")
    assert json.loads(r["Payload"].read())["value"] == "second"


TOOL_HANDLER = """
import subprocess
def handler(event, context):
    return {"tool": subprocess.run(["layer-tool"], capture_output=True, text=True).stdout.strip()}
"""


def test_python_function_runs_a_tool_from_a_layers_bin(lam, fname):
    layer = publish(lam, fname, files={"bin/layer-tool": "#!/bin/sh\necho tool says hi\n"},
                    modes={"bin/layer-tool": 0o755})
    create(lam, fname, make_zip({"app.py": TOOL_HANDLER}), Layers=[layer["LayerVersionArn"]])
    r = lam.invoke(FunctionName=fname, Payload=b"{}")
    assert json.loads(r["Payload"].read()) == {"tool": "tool says hi"}


def test_node_function_requires_a_package_from_a_layer(node, lam, fname):
    if "nodejs20.x" not in node.runtimes:
        missing("nodejs20.x is not installed on this host")
    layer = publish(lam, fname, files={
        "nodejs/node_modules/greeter/package.json": '{"name":"greeter","main":"index.js"}',
        "nodejs/node_modules/greeter/index.js": "module.exports = (n) => `hello ${n} from a layer`;\n",
    })
    handler = "const greet = require('greeter');\nexports.handler = async (e) => ({ msg: greet(e.name) });\n"
    create(lam, fname, make_zip({"index.js": handler}), Runtime="nodejs20.x", Handler="index.handler",
           Layers=[layer["LayerVersionArn"]])
    r = lam.invoke(FunctionName=fname, Payload=json.dumps({"name": "ignis"}))
    assert json.loads(r["Payload"].read()) == {"msg": "hello ignis from a layer"}


LAYER_BOOTSTRAP = """#!/usr/bin/env python3
import json, os, urllib.request
api = "http://" + os.environ["AWS_LAMBDA_RUNTIME_API"] + "/2018-06-01/runtime/invocation/"
while True:
    with urllib.request.urlopen(api + "next") as r:
        rid = r.headers["Lambda-Runtime-Aws-Request-Id"]
        event = json.loads(r.read())
    body = json.dumps({"from": "layer bootstrap", "event": event}).encode()
    urllib.request.urlopen(urllib.request.Request(api + rid + "/response", data=body, method="POST")).read()
"""


def test_provided_function_boots_from_a_layers_bootstrap(lam, fname):
    layer = publish(lam, fname, files={"bootstrap": LAYER_BOOTSTRAP}, modes={"bootstrap": 0o755})
    create(lam, fname, make_zip({"handler.txt": "no bootstrap of its own"}), Runtime="provided.al2023",
           Handler="x", Layers=[layer["LayerVersionArn"]])
    r = lam.invoke(FunctionName=fname, Payload=json.dumps({"k": 1}))
    assert json.loads(r["Payload"].read()) == {"from": "layer bootstrap", "event": {"k": 1}}
