"""The console and merchant page in AWS: an S3 bucket behind CloudFront, in front of the API.

The API function serves the same pages itself (``{api}/console/``, ``{api}/m/``: the assets ship
in the ``paver`` package), which is enough for a small deployment. This optional, separate stack
puts them in a private S3 bucket read only by CloudFront (origin access control), and routes
every other path to the API, so pages and API share one origin (the pages call the API by
relative paths and the bearer token is forwarded):

    python -m infra.web template build/web.json           # the stack's CloudFormation template
    aws cloudformation deploy --template-file build/web.json --stack-name paver-dev-web \\
        --parameter-overrides ApiDomain=<id>.execute-api.<region>.amazonaws.com ApiStage=api
    python -m infra.web sync                               # upload the assets (PAVER_STAGE)

It is kept out of the main merge template on purpose: a deployment that serves the pages from
the API does not need it.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from infra.template import private_bucket_properties
from paver.config import Settings
from paver.web import APPS, CONTENT_TYPES, WEB_DIR

#: AWS managed CloudFront policies (documented ids).
CACHING_OPTIMIZED = "658327ea-f89d-4fab-a63d-7e88639e58f6"
CACHING_DISABLED = "4135ea2d-6df8-44a3-9df3-4b5a84be39ad"
ALL_VIEWER_EXCEPT_HOST = "b689b0a8-53d0-40ab-baf2-68738e2966ac"
SECURITY_HEADERS = "67f7725c-6f97-4210-82d7-5512b31e9d03"


def bucket_name(cfg: Settings) -> str:
    return f"{cfg.prefix}-web"


def web_template(cfg: Settings) -> dict[str, Any]:
    """CloudFormation for the web bucket, its CloudFront-only policy and the distribution."""
    bucket = bucket_name(cfg)
    web_behaviour = {
        "TargetOriginId": "web", "ViewerProtocolPolicy": "redirect-to-https",
        "CachePolicyId": CACHING_OPTIMIZED, "ResponseHeadersPolicyId": SECURITY_HEADERS,
        "AllowedMethods": ["GET", "HEAD"], "Compress": True}
    return {
        "AWSTemplateFormatVersion": "2010-09-09",
        "Description": f"Paver console and merchant page ({cfg.stage})",
        "Parameters": {
            "ApiDomain": {"Type": "String", "Description": "the API's execute-api domain"},
            "ApiStage": {"Type": "String", "Default": "api"}},
        "Resources": {
            "WebBucket": {"Type": "AWS::S3::Bucket",
                          "Properties": private_bucket_properties(bucket)},
            "WebOriginAccess": {"Type": "AWS::CloudFront::OriginAccessControl", "Properties": {
                "OriginAccessControlConfig": {
                    "Name": f"{bucket}-oac", "OriginAccessControlOriginType": "s3",
                    "SigningBehavior": "always", "SigningProtocol": "sigv4"}}},
            "WebBucketPolicy": {"Type": "AWS::S3::BucketPolicy", "Properties": {
                "Bucket": {"Ref": "WebBucket"},
                "PolicyDocument": {"Version": "2012-10-17", "Statement": [{
                    "Sid": "CloudFrontReadsOnly", "Effect": "Allow",
                    "Principal": {"Service": "cloudfront.amazonaws.com"},
                    "Action": "s3:GetObject",
                    "Resource": {"Fn::Sub": "arn:aws:s3:::${WebBucket}/*"},
                    "Condition": {"StringEquals": {"AWS:SourceArn": {"Fn::Sub":
                        "arn:aws:cloudfront::${AWS::AccountId}:distribution/${WebDistribution}"
                    }}}}]}}},
            "WebDistribution": {"Type": "AWS::CloudFront::Distribution", "Properties": {
                "DistributionConfig": {
                    "Enabled": True, "HttpVersion": "http2and3", "PriceClass": "PriceClass_100",
                    "Comment": f"Paver {cfg.stage}: /console/ and /m/ from S3, the rest: API",
                    "Origins": [
                        {"Id": "web",
                         "DomainName": {"Fn::GetAtt": ["WebBucket", "RegionalDomainName"]},
                         "OriginAccessControlId": {"Fn::GetAtt": ["WebOriginAccess", "Id"]},
                         "S3OriginConfig": {"OriginAccessIdentity": ""}},
                        {"Id": "api", "DomainName": {"Ref": "ApiDomain"},
                         "OriginPath": {"Fn::Sub": "/${ApiStage}"},
                         "CustomOriginConfig": {"OriginProtocolPolicy": "https-only",
                                                "OriginSSLProtocols": ["TLSv1.2"]}}],
                    "DefaultCacheBehavior": {
                        "TargetOriginId": "api", "ViewerProtocolPolicy": "https-only",
                        "CachePolicyId": CACHING_DISABLED,
                        "OriginRequestPolicyId": ALL_VIEWER_EXCEPT_HOST,
                        "AllowedMethods": ["GET", "HEAD", "OPTIONS", "PUT", "POST", "PATCH",
                                           "DELETE"]},
                    "CacheBehaviors": [{**web_behaviour, "PathPattern": f"/{app}/*"}
                                       for app in APPS],
                    "ViewerCertificate": {"CloudFrontDefaultCertificate": True}}}}},
        "Outputs": {
            "ConsoleUrl": {"Value": {"Fn::Sub": "https://${WebDistribution.DomainName}/console/"}},
            "WebBucketName": {"Value": {"Ref": "WebBucket"}}},
    }


def asset_objects() -> list[tuple[str, Path, str]]:
    """(S3 key, file, content type) of every page asset: each app's own files and the shared
    ones under the app's prefix, ``index.html`` also at the bare prefix (``console/``)."""
    out: list[tuple[str, Path, str]] = []
    for app in APPS:
        files = {p.name: p for p in sorted((WEB_DIR / "shared").iterdir()) if p.is_file()}
        files.update({p.name: p for p in sorted((WEB_DIR / app).iterdir()) if p.is_file()})
        for name, path in sorted(files.items()):
            out.append((f"{app}/{name}", path, CONTENT_TYPES[path.suffix]))
        out.append((f"{app}/", files["index.html"], CONTENT_TYPES[".html"]))
    return out


def sync(cfg: Settings) -> int:
    """Upload every asset to the web bucket; returns how many objects were written."""
    from paver.aws import client

    s3 = client("s3", cfg)
    for key, path, content_type in asset_objects():
        s3.put_object(Bucket=bucket_name(cfg), Key=key, Body=path.read_bytes(),
                      ContentType=content_type, CacheControl="no-cache")
    return len(asset_objects())


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    cfg = Settings.from_env()
    if len(args) == 2 and args[0] == "template":
        Path(args[1]).parent.mkdir(parents=True, exist_ok=True)
        Path(args[1]).write_text(json.dumps(web_template(cfg), indent=2), encoding="utf-8")
        return 0
    if args == ["sync"]:
        print(f"uploaded {sync(cfg)} objects to s3://{bucket_name(cfg)}")
        return 0
    print("usage: python -m infra.web template OUT.json | sync", file=sys.stderr)
    return 2


if __name__ == "__main__":
    raise SystemExit(main())
