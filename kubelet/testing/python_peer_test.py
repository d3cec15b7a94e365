#!/usr/bin/python3
"""A second, independent kubelet peer for tessera's plugin server, in Python.

Drives tessera_kubelet_fake_plugin over its real Unix sockets two ways:
  * with stubs generated at test time from proto/ (system protoc + Debian's
    grpc_python_plugin; python3-grpcio at run time), and
  * with protobuf bytes encoded and decoded by hand below from the upstream
    field numbers (dra-api-facts.md sections 1-2), on the raw gRPC method
    paths. This part does not read our .proto text at all, so it proves wire
    identity with the kubelet's API independently of it.

Run by ctest with /usr/bin/python3 (the pyenv python3 on PATH has no grpc).
Exits 77 (ctest: skipped) when grpc or the code generators are missing.
"""

import argparse
import json
import os
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import time
import unittest

SKIP = 77

try:
    import grpc
except ImportError as e:  # pragma: no cover - depends on the machine
    print(f"SKIP: {sys.executable} cannot import grpc ({e}); install python3-grpcio")
    sys.exit(SKIP)

DRIVER = "gpu.tessera.dev"
SHARE_ID = "5f0c7b2e-8d4a-4c3e-9b1a-2e6f7d8c9a0b"  # what the fake plugin assigns
V1 = "/k8s.io.kubelet.pkg.apis.dra.v1.DRAPlugin/"
V1BETA1 = "/k8s.io.kubelet.pkg.apis.dra.v1beta1.DRAPlugin/"
REGISTRATION = "/pluginregistration.Registration/"
HEALTH = "/v1alpha1.DRAResourceHealth/NodeWatchResources"

ARGS = None   # command line
PLUGIN = None  # the running fake plugin (subprocess.Popen)
INFO = None    # its first stdout line
STUBS = None   # generated modules, by short name
WORKDIR = None


# ---- hand-written protobuf wire format (proto3, no library) -----------------

def enc_varint(n):
    if n < 0:
        n += 1 << 64
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def enc_field(number, wire_type, payload):
    key = enc_varint((number << 3) | wire_type)
    if wire_type == 2:
        return key + enc_varint(len(payload)) + payload
    return key + payload


def enc_string(number, text):
    return enc_field(number, 2, text.encode("utf-8"))


def enc_message(number, body):
    return enc_field(number, 2, body)


def dec_varint(data, pos):
    shift = result = 0
    while True:
        b = data[pos]
        pos += 1
        result |= (b & 0x7F) << shift
        if not b & 0x80:
            return result, pos
        shift += 7


def decode(data):
    """[(field number, wire type, value)] of one message; value is int or bytes."""
    fields, pos = [], 0
    while pos < len(data):
        key, pos = dec_varint(data, pos)
        number, wire_type = key >> 3, key & 7
        if wire_type == 0:
            value, pos = dec_varint(data, pos)
        elif wire_type == 2:
            length, pos = dec_varint(data, pos)
            value, pos = data[pos:pos + length], pos + length
        elif wire_type == 1:
            value, pos = data[pos:pos + 8], pos + 8
        elif wire_type == 5:
            value, pos = data[pos:pos + 4], pos + 4
        else:
            raise ValueError(f"unexpected wire type {wire_type}")
        fields.append((number, wire_type, value))
    return fields


def field_numbers(data):
    return sorted({n for n, _, _ in decode(data)})


def strings(data, number):
    return [v.decode("utf-8") for n, t, v in decode(data) if n == number and t == 2]


def string(data, number):
    values = strings(data, number)
    return values[-1] if values else ""


def messages(data, number):
    return [v for n, t, v in decode(data) if n == number and t == 2]


def varint(data, number):
    values = [v for n, t, v in decode(data) if n == number and t == 0]
    return values[-1] if values else 0


def enc_claims(claims):
    """NodePrepare/NodeUnprepareResourcesRequest: 1 = repeated Claim
    {1 namespace, 2 uid, 3 name}."""
    out = b""
    for namespace, uid, name in claims:
        out += enc_message(1, enc_string(1, namespace) + enc_string(2, uid) + enc_string(3, name))
    return out


def dec_claim_map(data):
    """map<string, V> field 1 = repeated entry {1 key, 2 value}."""
    out = {}
    for entry in messages(data, 1):
        out[string(entry, 1)] = (messages(entry, 2) or [b""])[-1]
    return out


def identity(x):
    return x


def raw_unary(channel, path, request):
    call = channel.unary_unary(path, request_serializer=identity, response_deserializer=identity)
    return call(request, timeout=10)


# ---- fixture ------------------------------------------------------------------

def generate_stubs(workdir):
    """Compile our protos into importable modules. Files are copied to flat
    names because "k8s.io" and "dra-health" are not importable package names;
    proto packages, services and messages are untouched."""
    layout = {
        "registration": "k8s.io/kubelet/pkg/apis/pluginregistration/v1/api.proto",
        "dra_v1": "k8s.io/kubelet/pkg/apis/dra/v1/api.proto",
        "dra_v1beta1": "k8s.io/kubelet/pkg/apis/dra/v1beta1/api.proto",
        "health_v1alpha1": "k8s.io/kubelet/pkg/apis/dra-health/v1alpha1/api.proto",
    }
    src = os.path.join(workdir, "protos")
    out = os.path.join(workdir, "gen")
    os.makedirs(src)
    os.makedirs(out)
    for short, rel in layout.items():
        shutil.copy(os.path.join(ARGS.proto_dir, rel), os.path.join(src, short + ".proto"))
    subprocess.run(
        [ARGS.protoc, "-I", src, f"--python_out={out}", f"--grpc_out={out}",
         f"--plugin=protoc-gen-grpc={ARGS.grpc_python_plugin}"]
        + [short + ".proto" for short in layout],
        check=True, cwd=src)
    sys.path.insert(0, out)
    import importlib
    return {short: (importlib.import_module(short + "_pb2"),
                    importlib.import_module(short + "_pb2_grpc")) for short in layout}


def setUpModule():
    global PLUGIN, INFO, STUBS, WORKDIR
    WORKDIR = tempfile.mkdtemp(prefix="tessera-pypeer-")
    STUBS = generate_stubs(WORKDIR)
    registry = os.path.join(WORKDIR, "plugins_registry")
    os.makedirs(registry, mode=0o755)
    PLUGIN = subprocess.Popen(
        [ARGS.plugin_binary, "--plugin-dir", os.path.join(WORKDIR, "plugins"),
         "--registry-dir", registry, "--driver", DRIVER, "--resend-interval-ms", "300"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    line = PLUGIN.stdout.readline()
    if not line:
        raise RuntimeError(f"fake plugin exited with {PLUGIN.wait()} before serving")
    INFO = json.loads(line)


def tearDownModule():
    if PLUGIN and PLUGIN.poll() is None:
        PLUGIN.kill()
        PLUGIN.wait()
    if WORKDIR:
        shutil.rmtree(WORKDIR, ignore_errors=True)


def dra_channel():
    return grpc.insecure_channel("unix:" + INFO["dra_socket"])


def registration_channel():
    return grpc.insecure_channel("unix:" + INFO["registration_socket"])


CLAIMS = [("default", "uid-ok", "ok-1"), ("default", "uid-fail", "fail-1"),
          ("team", "uid-shared", "shared-1"), ("default", "uid-forget", "forget-1"),
          ("default", "uid-noname", "")]


# ---- with generated stubs -------------------------------------------------------

class StubPeerTest(unittest.TestCase):

    def test_registration(self):
        pb, rpc = STUBS["registration"]
        registry = os.path.dirname(INFO["registration_socket"])
        # What the kubelet's plugin watcher would pick up.
        sockets = [n for n in os.listdir(registry)
                   if not n.startswith(".")
                   and stat.S_ISSOCK(os.lstat(os.path.join(registry, n)).st_mode)]
        self.assertEqual(sockets, [DRIVER + "-reg.sock"])
        with registration_channel() as channel:
            stub = rpc.RegistrationStub(channel)
            info = stub.GetInfo(pb.InfoRequest(), timeout=1)
            self.assertEqual(info.type, "DRAPlugin")
            self.assertEqual(info.name, DRIVER)
            self.assertEqual(info.endpoint, INFO["dra_socket"])
            self.assertTrue(os.path.isabs(info.endpoint))
            self.assertEqual(list(info.supported_versions),
                             ["v1.DRAPlugin", "v1beta1.DRAPlugin", "v1alpha1.DRAResourceHealth"])
            stub.NotifyRegistrationStatus(pb.RegistrationStatus(plugin_registered=True), timeout=5)
            with self.assertRaises(grpc.RpcError) as failed:
                stub.NotifyRegistrationStatus(
                    pb.RegistrationStatus(plugin_registered=False, error="no overlap"), timeout=5)
            self.assertEqual(failed.exception.code(), grpc.StatusCode.UNKNOWN)
            self.assertIn("no overlap", failed.exception.details())

    def prepare(self, short):
        pb, rpc = STUBS[short]
        request = pb.NodePrepareResourcesRequest(
            claims=[pb.Claim(namespace=ns, uid=uid, name=name) for ns, uid, name in CLAIMS])
        with dra_channel() as channel:
            return rpc.DRAPluginStub(channel).NodePrepareResources(request, timeout=45)

    def test_prepare_v1(self):
        response = self.prepare("dra_v1")
        claims = response.claims
        self.assertEqual(sorted(claims.keys()),
                         sorted(uid for _, uid, _ in CLAIMS))
        ok = claims["uid-ok"]
        self.assertEqual(ok.error, "")
        self.assertEqual(len(ok.devices), 1)
        self.assertEqual(list(ok.devices[0].request_names), ["gpu", "nic"])
        self.assertEqual(ok.devices[0].pool_name, "pool-0")
        self.assertEqual(ok.devices[0].device_name, "dev-ok-1")
        self.assertEqual(list(ok.devices[0].cdi_device_ids), ["tessera.dev/test=uid-ok"])
        self.assertFalse(ok.devices[0].HasField("share_id"))
        shared = claims["uid-shared"].devices[0]
        self.assertTrue(shared.HasField("share_id"))
        self.assertEqual(shared.share_id, SHARE_ID)
        self.assertEqual(list(shared.request_names), ["gpu"])
        self.assertIn("simulated failure", claims["uid-fail"].error)
        self.assertEqual(len(claims["uid-fail"].devices), 0)
        self.assertIn("got no result", claims["uid-forget"].error)
        self.assertIn("has no name", claims["uid-noname"].error)

    def test_prepare_v1beta1_matches_v1_without_share_id(self):
        v1 = self.prepare("dra_v1")
        beta = self.prepare("dra_v1beta1")
        self.assertEqual(sorted(beta.claims.keys()), sorted(v1.claims.keys()))
        for uid, entry in v1.claims.items():
            other = beta.claims[uid]
            self.assertEqual(other.error, entry.error)
            self.assertEqual(len(other.devices), len(entry.devices))
            for a, b in zip(entry.devices, other.devices):
                self.assertEqual(list(b.request_names), list(a.request_names))
                self.assertEqual((b.pool_name, b.device_name), (a.pool_name, a.device_name))
                self.assertEqual(list(b.cdi_device_ids), list(a.cdi_device_ids))
        self.assertNotIn("share_id", STUBS["dra_v1beta1"][0].Device.DESCRIPTOR.fields_by_name)

    def test_unprepare(self):
        pb, rpc = STUBS["dra_v1"]
        request = pb.NodeUnprepareResourcesRequest(
            claims=[pb.Claim(namespace="default", uid="uid-ok", name="ok-1"),
                    pb.Claim(namespace="default", uid="uid-fail", name="fail-1"),
                    pb.Claim(namespace="default", uid="uid-unknown", name="never-prepared")])
        with dra_channel() as channel:
            response = rpc.DRAPluginStub(channel).NodeUnprepareResources(request, timeout=45)
        self.assertEqual(sorted(response.claims.keys()), ["uid-fail", "uid-ok", "uid-unknown"])
        self.assertEqual(response.claims["uid-ok"].error, "")
        self.assertEqual(response.claims["uid-unknown"].error, "")
        self.assertIn("simulated failure", response.claims["uid-fail"].error)

    def test_health_stream(self):
        pb, rpc = STUBS["health_v1alpha1"]
        with dra_channel() as channel:
            stream = rpc.DRAResourceHealthStub(channel).NodeWatchResources(
                pb.NodeWatchResourcesRequest(), timeout=20)
            first = next(stream)
            by_name = {d.device.device_name: d for d in first.devices}
            self.assertEqual(sorted(by_name), ["dev-a", "dev-b"])
            self.assertEqual(by_name["dev-a"].device.pool_name, "pool-0")
            self.assertEqual(by_name["dev-a"].health, pb.HEALTHY)
            self.assertEqual(by_name["dev-a"].health_check_timeout_seconds, 45)
            self.assertLessEqual(abs(by_name["dev-a"].last_updated_time - time.time()), 300)

            PLUGIN.stdin.write("health dev-b unhealthy thermal trip\n")
            PLUGIN.stdin.flush()
            self.assertEqual(PLUGIN.stdout.readline().strip(), "ok")
            # The next messages: possibly a periodic copy of the old list, then
            # the change, as a complete list.
            for message in stream:
                devices = {d.device.device_name: d for d in message.devices}
                if devices["dev-b"].health == pb.UNHEALTHY:
                    break
            self.assertEqual(sorted(devices), ["dev-a", "dev-b"])
            self.assertEqual(devices["dev-b"].message, "thermal trip")
            self.assertEqual(devices["dev-a"].health, pb.HEALTHY)
            # Without changes the full list keeps coming (every 300 ms here).
            start = time.monotonic()
            again = next(stream)
            self.assertLess(time.monotonic() - start, 5)
            self.assertEqual(len(again.devices), 2)
            stream.cancel()


# ---- hand-encoded bytes on the raw method paths -----------------------------------

class RawWirePeerTest(unittest.TestCase):

    def test_get_info_raw(self):
        with registration_channel() as channel:
            reply = raw_unary(channel, REGISTRATION + "GetInfo", b"")
        # PluginInfo {1 type, 2 name, 3 endpoint, 4 repeated supported_versions}
        self.assertEqual(field_numbers(reply), [1, 2, 3, 4])
        self.assertEqual(string(reply, 1), "DRAPlugin")
        self.assertEqual(string(reply, 2), DRIVER)
        self.assertEqual(string(reply, 3), INFO["dra_socket"])
        self.assertEqual(strings(reply, 4),
                         ["v1.DRAPlugin", "v1beta1.DRAPlugin", "v1alpha1.DRAResourceHealth"])
        # RegistrationStatus {1 plugin_registered bool, 2 error}
        with registration_channel() as channel:
            self.assertEqual(raw_unary(channel, REGISTRATION + "NotifyRegistrationStatus",
                                       enc_field(1, 0, enc_varint(1))), b"")

    def prepare_raw(self, service):
        with dra_channel() as channel:
            reply = raw_unary(channel, service + "NodePrepareResources", enc_claims(CLAIMS))
        return dec_claim_map(reply)

    def test_prepare_v1_raw(self):
        claims = self.prepare_raw(V1)
        self.assertEqual(sorted(claims), sorted(uid for _, uid, _ in CLAIMS))
        # NodePrepareResourceResponse {1 repeated Device, 2 error}
        ok = claims["uid-ok"]
        self.assertEqual(string(ok, 2), "")
        [device] = messages(ok, 1)
        # Device {1 request_names, 2 pool_name, 3 device_name, 4 cdi_device_ids, 5 share_id}
        self.assertEqual(field_numbers(device), [1, 2, 3, 4])  # no share_id when not shared
        self.assertEqual(strings(device, 1), ["gpu", "nic"])
        self.assertEqual(string(device, 2), "pool-0")
        self.assertEqual(string(device, 3), "dev-ok-1")
        self.assertEqual(strings(device, 4), ["tessera.dev/test=uid-ok"])
        [shared] = messages(claims["uid-shared"], 1)
        self.assertEqual(string(shared, 5), SHARE_ID)
        self.assertIn("simulated failure", string(claims["uid-fail"], 2))
        self.assertEqual(messages(claims["uid-fail"], 1), [])
        self.assertIn("got no result", string(claims["uid-forget"], 2))

    def test_prepare_v1beta1_raw_has_no_field_5(self):
        claims = self.prepare_raw(V1BETA1)
        self.assertEqual(sorted(claims), sorted(uid for _, uid, _ in CLAIMS))
        [shared] = messages(claims["uid-shared"], 1)
        self.assertEqual(field_numbers(shared), [1, 2, 3, 4])
        self.assertEqual(string(shared, 3), "dev-a")

    def test_unprepare_raw(self):
        request = enc_claims([("default", "uid-ok", "ok-1"), ("default", "uid-fail", "fail-1")])
        for service in (V1, V1BETA1):
            with dra_channel() as channel:
                claims = dec_claim_map(raw_unary(channel, service + "NodeUnprepareResources",
                                                 request))
            # Every claim has an entry, an empty one when it succeeded.
            self.assertEqual(sorted(claims), ["uid-fail", "uid-ok"])
            self.assertEqual(claims["uid-ok"], b"")
            self.assertIn("simulated failure", string(claims["uid-fail"], 1))

    def test_health_raw(self):
        with dra_channel() as channel:
            call = channel.unary_stream(HEALTH, request_serializer=identity,
                                        response_deserializer=identity)
            stream = call(b"", timeout=10)
            reply = next(stream)
            stream.cancel()
        # NodeWatchResourcesResponse {1 repeated DeviceHealth}; DeviceHealth {1 device
        # {1 pool_name, 2 device_name}, 2 health enum, 3 last_updated_time, 4 timeout, 5 message}
        devices = {}
        for d in messages(reply, 1):
            [ident] = messages(d, 1)
            devices[string(ident, 2)] = d
            self.assertEqual(string(ident, 1), "pool-0")
            self.assertGreater(varint(d, 3), 1_600_000_000)
        self.assertEqual(sorted(devices), ["dev-a", "dev-b"])
        self.assertEqual(varint(devices["dev-a"], 2), 1)   # HEALTHY
        self.assertEqual(varint(devices["dev-a"], 4), 45)
        self.assertIn(varint(devices["dev-b"], 2), (0, 2))  # UNKNOWN, or UNHEALTHY if changed


class ShutdownTest(unittest.TestCase):
    """Must run last (main() orders the suites)."""

    def test_sigterm_removes_sockets(self):
        PLUGIN.send_signal(signal.SIGTERM)
        self.assertEqual(PLUGIN.wait(timeout=15), 0)
        self.assertFalse(os.path.exists(INFO["registration_socket"]))
        self.assertFalse(os.path.exists(INFO["dra_socket"]))


def main():
    global ARGS
    parser = argparse.ArgumentParser()
    parser.add_argument("--plugin-binary", required=True)
    parser.add_argument("--proto-dir", required=True)
    parser.add_argument("--protoc", default=shutil.which("protoc") or "")
    parser.add_argument("--grpc-python-plugin", default=shutil.which("grpc_python_plugin") or "")
    ARGS, rest = parser.parse_known_args()
    for tool, flag in ((ARGS.protoc, "--protoc"), (ARGS.grpc_python_plugin, "--grpc-python-plugin")):
        if not tool or not os.access(tool, os.X_OK):
            print(f"SKIP: {flag} not found ({tool!r}); install protobuf-compiler-grpc")
            return SKIP
    if rest:
        parser.error(f"unexpected arguments {rest}")
    loader = unittest.TestLoader()
    suite = unittest.TestSuite(
        loader.loadTestsFromTestCase(case)
        for case in (StubPeerTest, RawWirePeerTest, ShutdownTest))
    # setUpModule/tearDownModule run around the whole suite as usual.
    result = unittest.TextTestRunner(verbosity=2).run(suite)
    return 0 if result.wasSuccessful() else 1


if __name__ == "__main__":
    sys.exit(main())
