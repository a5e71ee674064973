"""moto in server mode on 127.0.0.1, for `shim deploy` driven in a subprocess (see conftest.py)."""

import io
import json
import os
import sys
import threading
import urllib.request

ACCOUNT = "123456789012"  # moto's default account
REGION = "us-east-1"
ROLE_NAME = "shim-test-role"
ROLE = "arn:aws:iam::%s:role/%s" % (ACCOUNT, ROLE_NAME)
PYTHON = "%d.%d" % sys.version_info[:2]
TRUST = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}],
}


class Recorder:
    """WSGI middleware: every request as (method, path, body) before moto answers it."""

    def __init__(self, app):
        self.app = app
        self.calls = []
        self.lock = threading.Lock()

    def __call__(self, environ, start_response):
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(length) if length else b""
        environ["wsgi.input"] = io.BytesIO(body)
        with self.lock:
            self.calls.append((environ["REQUEST_METHOD"], environ.get("PATH_INFO", ""), body))
        return self.app(environ, start_response)

    def since(self, mark):
        with self.lock:
            return self.calls[mark:]

    def mark(self):
        with self.lock:
            return len(self.calls)


class Moto:
    def __init__(self, recorder, url):
        self.recorder = recorder
        self.url = url

    def env(self, **extra):
        """The CLI's environment: dummy credentials, a region, moto as every service's endpoint."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
        env.update(
            AWS_ENDPOINT_URL=self.url,
            AWS_ACCESS_KEY_ID="testing",
            AWS_SECRET_ACCESS_KEY="testing",
            AWS_REGION=REGION,
            AWS_CONFIG_FILE=os.devnull,
            AWS_SHARED_CREDENTIALS_FILE=os.devnull,
            AWS_EC2_METADATA_DISABLED="true",
        )
        env.update(extra)
        return env

    def client(self, service):
        import boto3

        return boto3.client(
            service,
            endpoint_url=self.url,
            region_name=REGION,
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )

    def reset(self):
        urllib.request.urlopen(urllib.request.Request(self.url + "/moto-api/reset", method="POST"), timeout=10)
        self.client("iam").create_role(RoleName=ROLE_NAME, AssumeRolePolicyDocument=json.dumps(TRUST))

    def code(self, name):
        """The deployed zip's bytes, from moto's backend (its Code.Location is not served)."""
        from moto.awslambda.models import lambda_backends

        return lambda_backends[ACCOUNT][REGION].get_function(name).code_bytes
