"""The scanner drivers' command lines for each cloud, checked two ways: the arguments
and credentials each provider needs, and every option against the real tool's own
`--help` in the scanner image (run with no network). Run by worker::drivers."""
import importlib.util
import os
import subprocess
import sys
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


if __name__ == "__main__":
    result = unittest.main(exit=False, verbosity=2).result
    sys.exit(0 if result.wasSuccessful() else 1)
