"""The scanner drivers' command lines for each cloud, checked two ways: the arguments
and credentials each provider needs, and every option against the real tool's own
`--help` in the scanner image (run with no network). Run by worker::drivers."""
import importlib.util
import json
import os
import subprocess
import sys
import tempfile
import unittest

LIBRARY = os.path.join(os.path.dirname(__file__), "..", "..", "..", "..", "scripts", "sage-tools")
IMAGE = os.environ.get("SCANNER_IMAGE", "sage-scanner:latest")

AWS = {"AWS_ACCESS_KEY_ID": "ASIAEXAMPLE", "AWS_SECRET_ACCESS_KEY": "x", "AWS_SESSION_TOKEN": "y"}
AZURE = {"AZURE_TENANT_ID": "0f1e2d3c-4b5a-4968-8776-655443322110",
         "AZURE_CLIENT_ID": "11111111-2222-4333-8444-555555555555",
         "AZURE_CLIENT_SECRET": "azure-secret-value"}
GCP = {"GOOGLE_APPLICATION_CREDENTIALS": "/run/secrets/gcp_credentials"}
KUBE = {"KUBECONFIG": "/run/secrets/kubeconfig"}


def driver(name):
    spec = importlib.util.spec_from_file_location(name, os.path.join(LIBRARY, name + ".py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


PROWLER, SCOUT = driver("prowler"), driver("scout")
# The Custodian driver's checks; its main() runs only in a sandbox.
CUSTODIAN = driver("custodian")
HELP = {}


def options_of(tool_binary, provider):
    """The options the tool's own parser lists for this provider."""
    key = (tool_binary, provider)
    if key not in HELP:
        run = subprocess.run(["docker", "run", "--rm", "--network", "none", "--entrypoint", tool_binary,
                              IMAGE, provider, "--help"], capture_output=True, text=True, timeout=120)
        HELP[key] = run.stdout + run.stderr
    return HELP[key]


class Drivers(unittest.TestCase):
    def command(self, module, argv, env):
        return module.command(module.parse(argv), env)

    def assert_tool_knows(self, argv):
        text = options_of(argv[0], argv[1])
        for option in (a for a in argv[2:] if a.startswith("--")):
            self.assertIn(option, text, f"{argv[0]} {argv[1]} has no {option}")

    def test_prowler_on_each_cloud(self):
        cases = [
            (["--provider", "aws", "--region", "us-east-1,eu-west-1", "--services", "s3"], AWS,
             ["--region", "us-east-1", "eu-west-1", "--service", "s3"]),
            (["--provider", "azure", "--subscriptions", "aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee"], AZURE,
             ["--sp-env-auth", "--subscription-id", "aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee"]),
            (["--provider", "gcp", "--projects", "sage-scan-1,other-project"], GCP,
             ["--credentials-file", "/run/secrets/gcp_credentials", "--project-id", "sage-scan-1", "other-project"]),
            (["--provider", "kubernetes", "--checks", "apiserver_anonymous_requests"], KUBE,
             ["--kubeconfig-file", "/run/secrets/kubeconfig", "--check", "apiserver_anonymous_requests"]),
        ]
        for argv, env, expected in cases:
            command = self.command(PROWLER, argv, env)
            text = " ".join(command)
            self.assertIn(" ".join(expected[:2]), text)
            for item in expected:
                self.assertIn(item, command)
            self.assertNotIn("azure-secret-value", text, "no secret on the command line")
            self.assert_tool_knows(command)

    def test_scout_on_each_cloud(self):
        cases = [
            (["--provider", "aws", "--region", "us-east-1", "--services", "s3,iam"], AWS,
             ["--regions", "us-east-1", "--services", "s3", "iam"]),
            (["--provider", "azure"], AZURE, ["--file-auth", SCOUT.AZURE_AUTH, "--all-subscriptions"]),
            (["--provider", "gcp", "--projects", "sage-scan-1"], GCP,
             ["--service-account", "/run/secrets/gcp_credentials", "--project-id", "sage-scan-1"]),
        ]
        for argv, env, expected in cases:
            command = self.command(SCOUT, argv, env)
            for item in expected:
                self.assertIn(item, command)
            self.assertNotIn("azure-secret-value", " ".join(command), "no secret on the command line")
            self.assert_tool_knows(command)

    def test_a_cloud_without_its_credentials_is_refused_naming_them(self):
        for module, provider, env, missing in [
            (PROWLER, "azure", {}, "AZURE_TENANT_ID, AZURE_CLIENT_ID, AZURE_CLIENT_SECRET"),
            (PROWLER, "gcp", AWS, "GOOGLE_APPLICATION_CREDENTIALS"),
            (PROWLER, "kubernetes", AZURE, "KUBECONFIG"),
            (SCOUT, "azure", dict(AZURE, AZURE_CLIENT_SECRET=""), "AZURE_CLIENT_SECRET"),
            (SCOUT, "gcp", {}, "GOOGLE_APPLICATION_CREDENTIALS"),
        ]:
            with self.assertRaises(module.Refused) as refused:
                self.command(module, ["--provider", provider], env)
            self.assertIn(missing, str(refused.exception))
        with self.assertRaises(SCOUT.Refused):
            self.command(SCOUT, ["--provider", "kubernetes"], KUBE)
        with self.assertRaises(SCOUT.Refused):
            self.command(SCOUT, ["--provider", "gcp", "--projects", "one-project,two-project"], GCP)
        with self.assertRaises(PROWLER.Refused):
            self.command(PROWLER, ["--provider", "aws", "--region", "us-east-1,--fixer"], AWS)


def written(text):
    """A file holding `text`, as the worker's secret files are."""
    file = tempfile.NamedTemporaryFile("w", suffix=".json", delete=False)
    with file:
        file.write(text)
    return file.name


KUBECONFIG = {"apiVersion": "v1", "kind": "Config",
              "clusters": [{"name": "c", "cluster": {"server": "https://10.0.0.1:6443"}}],
              "users": [{"name": "u", "user": {"token": "t"}}],
              "contexts": [{"name": "c", "context": {"cluster": "c", "user": "u"}}], "current-context": "c"}
GCP_KEY = {"type": "service_account", "client_email": "s@p.iam.gserviceaccount.com",
           "private_key": "-----BEGIN PRIVATE KEY-----\nAA==\n-----END PRIVATE KEY-----\n",
           "token_uri": "https://oauth2.googleapis.com/token"}


class Inputs(unittest.TestCase):
    """What the worker checked is checked again inside the sandbox: a copy that is not
    the worker's (an admin's version that sends its own file, say) is refused."""

    def test_a_kubeconfig_is_one_cluster_one_user_and_nothing_that_runs(self):
        PROWLER.check_kubeconfig(written(json.dumps(KUBECONFIG)))
        exec_user = json.loads(json.dumps(KUBECONFIG))
        exec_user["users"][0]["user"] = {"exec": {"command": "/bin/sh", "args": ["-c", "id"]}}
        plain = json.loads(json.dumps(KUBECONFIG))
        plain["clusters"][0]["cluster"]["server"] = "http://10.0.0.1"
        for config, why in [(exec_user, "users[0].user.exec"), (plain, "https"),
                            (dict(KUBECONFIG, users=KUBECONFIG["users"] * 2), "exactly one entry in users")]:
            with self.assertRaises(PROWLER.Refused) as refused:
                PROWLER.check_kubeconfig(written(json.dumps(config)))
            self.assertIn(why, str(refused.exception))
        with self.assertRaises(PROWLER.Refused):
            PROWLER.check_kubeconfig(written("users:\n- user: {exec: {command: sh}}\n"))

    def test_a_gcp_credential_is_a_service_account_key(self):
        for module in (PROWLER, SCOUT):
            module.check_gcp_key(written(json.dumps(GCP_KEY)))
            for bad in [dict(GCP_KEY, type="external_account"), dict(GCP_KEY, credential_source={"file": "/x"}),
                        dict(GCP_KEY, token_uri="https://attacker.example/token")]:
                with self.assertRaises(module.Refused):
                    module.check_gcp_key(written(json.dumps(bad)))

    def test_a_custodian_policy_only_reads(self):
        good = {"policies": [{"name": "p", "resource": "aws.s3", "mode": {"type": "pull"},
                              "filters": [{"or": [{"type": "value", "key": "Name", "value": "x"}]}]}]}
        CUSTODIAN.check_policy(json.dumps(good))
        for policy, why in [
            ({"policies": [{"name": "p", "resource": "aws.ec2", "actions": ["terminate"]}]}, "keys"),
            ({"policies": [{"name": "p", "resource": "aws.ec2", "mode": {"type": "periodic"}}]}, "mode"),
            ({"policies": [{"name": "p", "resource": "aws.s3", "filters": [{"not": [
                {"type": "value", "value_from": {"url": "file:///proc/self/environ"}}]}]}]}, "value_from"),
            ({"policies": [{"name": "p", "resource": "gcp.instance"}]}, "AWS resource"),
            ({"vars": {}, "policies": []}, "only policies"),
            ({"policies": [{"name": "p", "resource": "aws.s3",
                            "description": "{now.__init__.__globals__[os].environ[AWS_SESSION_TOKEN]}"}]},
             "policies[0].description"),
        ]:
            with self.assertRaises(CUSTODIAN.Refused) as refused:
                CUSTODIAN.check_policy(json.dumps(policy))
            self.assertIn(why, str(refused.exception))
        with self.assertRaises(CUSTODIAN.Refused):
            CUSTODIAN.check_policy("policies:\n- name: p\n  resource: aws.s3\n")

    def test_names_are_those_the_images_prowler_holds(self):
        # The catalogue as the driver reads it inside the image (no network).
        run = subprocess.run(["docker", "run", "--rm", "--network", "none", "--entrypoint", "python3",
                              "-v", f"{os.path.abspath(LIBRARY)}/prowler.py:/tmp/prowler.py:ro", IMAGE, "-c",
                              "import json, sys; sys.argv = ['x']; sys.path.insert(0, '/tmp');"
                              " import prowler; print(json.dumps({k: sorted(v) for k, v in prowler.installed('aws').items()}))"],
                             capture_output=True, text=True, timeout=120)
        self.assertEqual(run.returncode, 0, run.stderr)
        catalog = {key: set(names) for key, names in json.loads(run.stdout).items()}
        self.assertIn("s3", catalog["services"])
        self.assertIn("s3_bucket_default_encryption", catalog["checks"])
        self.assertIn("cis_2.0_aws", catalog["compliance"])
        self.assertGreater(len(catalog["checks"]), 300)
        args = PROWLER.parse(["--provider", "aws", "--services", "s3,iam", "--checks", "s3_bucket_default_encryption"])
        PROWLER.check_names(args, catalog)
        for argv, why in [(["--compliance", ".."], "compliance: .."),
                          (["--services", "s3,../../etc"], "services: ../../etc"),
                          (["--checks", "no_such_check"], "checks: no_such_check")]:
            with self.assertRaises(PROWLER.Refused) as refused:
                PROWLER.check_names(PROWLER.parse(["--provider", "aws", *argv]), catalog)
            self.assertIn(why, str(refused.exception))


class Throttling(unittest.TestCase):
    """A tool that fails after a throttling error makes its driver exit 75, which a
    scan retries; other failures and recovered throttles keep their own code."""

    def tool(self, stderr, code):
        return [sys.executable, "-c",
                f"import sys; print('scanning'); print({stderr!r}, file=sys.stderr); sys.exit({code})"]

    def test_each_driver_says_when_the_cloud_throttled_it(self):
        throttled = "botocore.exceptions.ClientError: An error occurred (Throttling): Rate exceeded"
        for module in (PROWLER, SCOUT, CUSTODIAN):
            self.assertEqual(module.run_watching_throttles(self.tool(throttled, 1)), 75)
            self.assertEqual(module.run_watching_throttles(self.tool(throttled, 0)), 0)
            self.assertEqual(module.run_watching_throttles(self.tool("AccessDenied", 1)), 1)


if __name__ == "__main__":
    result = unittest.main(exit=False, verbosity=2).result
    sys.exit(0 if result.wasSuccessful() else 1)
