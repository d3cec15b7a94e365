#!/usr/bin/env python3
"""Tests of the chart and the manifests (deploy/scripts/chart.py).

The chart is generated from deploy/manifests; these tests prove that the
committed chart is what the generator makes, that rendering it with the
default values gives exactly the manifests, that each value reaches every
place it must, and that the renderer behaves like Helm for what the
templates use. Run: python3 deploy/test/chart_test.py
"""

from __future__ import annotations

import copy
import re
import sys
import unittest
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts"))
import chart  # noqa: E402
import yaml  # noqa: E402


def daemonset(objs: list[dict]) -> dict:
    return next(o for o in objs if o["kind"] == "DaemonSet")


def container(ds: dict, name: str, init: bool = False) -> dict:
    key = "initContainers" if init else "containers"
    return next(c for c in ds["spec"]["template"]["spec"][key] if c["name"] == name)


def env(c: dict) -> dict:
    return {e["name"]: e.get("value", e.get("valueFrom")) for e in c.get("env", [])}


def strings(node) -> list[str]:
    if isinstance(node, dict):
        return [s for v in node.values() for s in strings(v)]
    if isinstance(node, list):
        return [s for v in node for s in strings(v)]
    return [node] if isinstance(node, str) else []


def volume_paths(ds: dict) -> dict[str, tuple[str, str]]:
    """volume name -> (mountPath in the agent container, hostPath path)."""
    spec = ds["spec"]["template"]["spec"]
    host = {v["name"]: v["hostPath"]["path"] for v in spec["volumes"] if "hostPath" in v}
    mounts = {m["name"]: m["mountPath"] for m in container(ds, "agent")["volumeMounts"]}
    return {n: (mounts.get(n), host[n]) for n in host}


class GeneratedChart(unittest.TestCase):
    def test_committed_chart_is_what_the_generator_makes(self):
        files = chart.generate_chart()
        committed = {f"templates/{p.name}" for p in (chart.CHART / "templates").glob("*.yaml")}
        self.assertEqual(committed, {f for f in files if f.startswith("templates/")},
                         "templates/ holds files the generator does not make (or lacks some)")
        for rel, text in files.items():
            self.assertEqual((chart.CHART / rel).read_text(), text,
                             f"{rel} is stale: run deploy/scripts/chart.py generate")

    def test_default_render_is_exactly_the_manifests(self):
        spec = yaml.safe_load(chart.SOURCE.read_text())
        base, _ = chart.kustomize_objects()
        expected = {k: v for k, v in chart.by_id(base).items() if k not in spec["exclude"]}
        got = chart.by_id(chart.render_chart())
        self.assertEqual(chart.compare_objects(expected, got, "chart"), [])
        # What the chart leaves out is only what helm itself makes.
        self.assertEqual(sorted(set(chart.by_id(base)) - set(expected)), ["Namespace/tessera-system"])

    def test_a_base_edit_without_regenerating_is_caught(self):
        # Simulate an edit of the manifests: the generated text changes.
        saved = chart.load_base

        def edited():
            out = saved()
            for f, docs in out:
                for d in docs:
                    if d["kind"] == "DaemonSet":
                        d["spec"]["template"]["spec"]["terminationGracePeriodSeconds"] = 45
            return out

        chart.load_base = edited
        try:
            files = chart.generate_chart()
        finally:
            chart.load_base = saved
        self.assertNotEqual(files["templates/daemonset.yaml"],
                            (chart.CHART / "templates/daemonset.yaml").read_text())

    def test_values_that_disagree_with_the_base_are_refused(self):
        values = yaml.safe_load((chart.CHART / "values.yaml").read_text())
        values["metrics"]["port"] = 9999
        with self.assertRaisesRegex(chart.ChartError, "metrics.port"):
            chart.generate_chart(values)

    def test_kustomization_with_a_transformer_is_refused(self):
        saved = chart.MANIFESTS
        import tempfile
        with tempfile.TemporaryDirectory() as tmp:
            (Path(tmp) / "kustomization.yaml").write_text(
                "resources: [a.yaml]\nnamespace: other\n")
            chart.MANIFESTS = Path(tmp)
            try:
                with self.assertRaisesRegex(chart.ChartError, "only `resources:`"):
                    chart.base_files()
            finally:
                chart.MANIFESTS = saved

    def test_chart_version_matches_the_project_and_the_image(self):
        meta = yaml.safe_load((chart.CHART / "Chart.yaml").read_text())
        values = yaml.safe_load((chart.CHART / "values.yaml").read_text())
        cmake = (chart.REPO / "CMakeLists.txt").read_text()
        version = re.search(r"project\(tessera VERSION (\S+)", cmake).group(1)
        self.assertEqual(meta["appVersion"], version)
        self.assertEqual(values["image"]["tag"], version)
        manifest_image = container(daemonset([o for _, d in chart.load_base() for o in d]),
                                   "agent")["image"]
        self.assertTrue(manifest_image.endswith(f":{version}"), manifest_image)


class ValuesReachTheObjects(unittest.TestCase):
    def render(self, overrides=None, namespace="tessera-system"):
        return chart.render_chart(overrides or {}, namespace)

    def test_namespace_reaches_every_namespaced_reference(self):
        objs = self.render(namespace="gpu-ops")
        self.assertFalse([s for o in objs for s in strings(o) if "tessera-system" in s])
        by = chart.by_id(objs)
        self.assertEqual(by["DaemonSet/tessera-agent"]["metadata"]["namespace"], "gpu-ops")
        self.assertEqual(by["ServiceAccount/tessera-agent"]["metadata"]["namespace"], "gpu-ops")
        self.assertEqual(by["ClusterRoleBinding/tessera-agent"]["subjects"][0]["namespace"], "gpu-ops")
        vap = by["ValidatingAdmissionPolicy/tessera-agent-resourceslices"]
        self.assertIn('"system:serviceaccount:gpu-ops:tessera-agent"',
                      vap["spec"]["matchConditions"][0]["expression"])

    def test_kubelet_dir_moves_the_sockets_the_same_inside_and_outside(self):
        ds = daemonset(self.render({"kubeletDir": "/var/lib/k0s/kubelet"}))
        self.assertFalse([s for s in strings(ds) if "/var/lib/kubelet" in s])
        paths = volume_paths(ds)
        e = env(container(ds, "agent"))
        # The kubelet dials the socket path the agent reports: same path in
        # the container and on the host.
        self.assertEqual(paths["plugins"], ("/var/lib/k0s/kubelet/plugins",) * 2)
        self.assertEqual(paths["plugins-registry"], ("/var/lib/k0s/kubelet/plugins_registry",) * 2)
        self.assertEqual(e["KUBELET_PLUGINS_DIR"], "/var/lib/k0s/kubelet/plugins")
        self.assertEqual(e["KUBELET_REGISTRAR_DIR"], "/var/lib/k0s/kubelet/plugins_registry")

    def test_state_dir_and_the_hook_path_stay_host_paths(self):
        ds = daemonset(self.render({"stateDir": "/data/tessera", "cdiDir": "/etc/cdi-dyn"}))
        paths = volume_paths(ds)
        e = env(container(ds, "agent"))
        self.assertEqual(paths["state"], ("/data/tessera", "/data/tessera"))
        self.assertEqual(paths["cdi"], ("/etc/cdi-dyn", "/etc/cdi-dyn"))
        self.assertEqual(e["TESSERA_STATE_DIR"], "/data/tessera")
        self.assertEqual(e["CDI_ROOT"], "/etc/cdi-dyn")
        # The runtime runs the hook from the host: the path the agent puts in
        # CDI specs is where the init container installs it, under the state
        # hostPath mounted at the same path.
        self.assertEqual(e["TESSERA_NETNS_HOOK"], "/data/tessera/bin/tessera-netns-hook")
        init = container(ds, "install-netns-hook", init=True)
        self.assertIn("mv -f /data/tessera/bin/.tessera-netns-hook.new "
                      "/data/tessera/bin/tessera-netns-hook", init["command"][-1])
        self.assertEqual(init["volumeMounts"], [{"name": "state", "mountPath": "/data/tessera"}])

    def test_image_reaches_both_containers(self):
        ds = daemonset(self.render({"image": {"repository": "registry.local/t", "tag": "9.9.9",
                                              "pullPolicy": "Always"}}))
        for c in (container(ds, "agent"), container(ds, "install-netns-hook", init=True)):
            self.assertEqual(c["image"], "registry.local/t:9.9.9")
            self.assertEqual(c["imagePullPolicy"], "Always")

    def test_agent_settings_become_its_environment_as_strings(self):
        ds = daemonset(self.render({"agent": {
            "drivers": "gpu", "publishPartitionableDevices": True, "publishConsumableCapacity": True,
            "rescanInterval": 300, "logLevel": "info,kubelet=debug", "logFormat": "text",
            "npuWhenAbsent": "skip"}}))
        e = env(container(ds, "agent"))
        self.assertEqual(e["TESSERA_DRIVERS"], "gpu")
        self.assertEqual(e["TESSERA_PUBLISH_PARTITIONABLE"], "true")
        self.assertEqual(e["TESSERA_PUBLISH_CONSUMABLE_CAPACITY"], "true")
        self.assertEqual(e["TESSERA_RESCAN_INTERVAL"], "300")
        self.assertEqual(e["TESSERA_LOG_LEVEL"], "info,kubelet=debug")
        self.assertEqual(e["TESSERA_NPU_WHEN_ABSENT"], "skip")
        self.assertTrue(all(isinstance(v, (str, dict)) for v in e.values()))

    def test_metrics_off_removes_the_endpoint_and_its_probes(self):
        c = container(daemonset(self.render({"metrics": {"enabled": False}})), "agent")
        self.assertNotIn("TESSERA_METRICS_ADDR", env(c))
        for key in ("ports", "readinessProbe", "livenessProbe"):
            self.assertNotIn(key, c)

    def test_metrics_port_is_the_same_in_the_flag_and_the_container_port(self):
        c = container(daemonset(self.render({"metrics": {"port": 9400}})), "agent")
        self.assertEqual(env(c)["TESSERA_METRICS_ADDR"], ":9400")
        self.assertEqual(c["ports"], [{"name": "metrics", "containerPort": 9400, "protocol": "TCP"}])
        self.assertEqual(c["readinessProbe"]["httpGet"]["port"], "metrics")

    def test_surge_update_and_scheduling_values_are_passed_through(self):
        ds = daemonset(self.render({
            "updateStrategy": {"type": "RollingUpdate",
                               "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0}},
            "tolerations": [{"operator": "Exists"}],
            "nodeSelector": {"nvidia.com/gpu.present": "true"},
            "imagePullSecrets": [{"name": "regcred"}],
            "agent": {"extraEnv": [{"name": "EXTRA", "value": "1"}],
                      "resources": {"requests": {"cpu": "100m"}}}}))
        spec = ds["spec"]["template"]["spec"]
        self.assertEqual(ds["spec"]["updateStrategy"]["rollingUpdate"], {"maxSurge": 1, "maxUnavailable": 0})
        self.assertEqual(spec["tolerations"], [{"operator": "Exists"}])
        self.assertEqual(spec["nodeSelector"], {"nvidia.com/gpu.present": "true"})
        self.assertEqual(spec["imagePullSecrets"], [{"name": "regcred"}])
        agent = container(ds, "agent")
        self.assertEqual(agent["env"][-1], {"name": "EXTRA", "value": "1"})
        # Maps coalesce with the defaults, as helm's -f/--set do.
        self.assertEqual(agent["resources"], {"requests": {"cpu": "100m", "memory": "32Mi"},
                                              "limits": {"memory": "128Mi"}})
        # The pod uid stays: surge updates depend on uid-named sockets.
        self.assertEqual(env(agent)["POD_UID"], {"fieldRef": {"fieldPath": "metadata.uid"}})


class RendererIsHelmForWhatTheTemplatesUse(unittest.TestCase):
    def render(self, template, values=None, namespace="ns"):
        return chart._Renderer(values or {}, namespace).render(template, "t")

    def test_trimming_and_nindent(self):
        t = "a:\n  b: 1\n  {{- if .Values.on }}\n  c: 2\n  {{- end }}\nd:\n  {{- toYaml .Values.m | nindent 2 }}\n"
        self.assertEqual(self.render(t, {"on": True, "m": {"y": 1, "x": [1, 2]}}),
                         "a:\n  b: 1\n  c: 2\nd:\n  x:\n  - 1\n  - 2\n  y: 1\n")
        self.assertEqual(self.render(t, {"on": False, "m": {}}), "a:\n  b: 1\nd:\n  {}\n")

    def test_quote_prints_like_go(self):
        t = '{{ .Values.b | quote }} {{ .Values.i | quote }} {{ .Values.s | quote }} {{ .Values.i }}'
        self.assertEqual(self.render(t, {"b": False, "i": 60, "s": 'a"b'}), '"false" "60" "a\\"b" 60')

    def test_with_binds_dot_and_skips_empty(self):
        t = "env:\n- a\n{{- with .Values.l }}\n{{- toYaml . | nindent 0 }}\n{{- end }}\n"
        self.assertEqual(self.render(t, {"l": []}), "env:\n- a\n")
        self.assertEqual(self.render(t, {"l": [{"name": "x"}]}), "env:\n- a\n- name: x\n")

    def test_falsy_values_follow_go_templates(self):
        for v in (False, 0, "", [], {}, None):
            self.assertEqual(self.render("{{ if .Values.v }}x{{ end }}", {"v": v}), "")
        for v in (True, 1, "0", [0], {"a": 0}):
            self.assertEqual(self.render("{{ if .Values.v }}x{{ end }}", {"v": v}), "x")

    def test_release_namespace(self):
        self.assertEqual(self.render("{{ .Release.Namespace }}", namespace="gpu-ops"), "gpu-ops")

    def test_what_it_cannot_vouch_for_is_an_error(self):
        for t in ('{{ include "x" . }}', "{{ .Values.missing }}", "{{ if .Values.a }}x",
                  "{{ end }}", "{{ .Values.a | upper }}", "{{ range .Values.l }}{{ end }}",
                  "{{ .Values.m }}"):
            with self.assertRaises(chart.ChartError, msg=t):
                self.render(t, {"a": True, "l": [], "m": {"k": 1}})

    def test_values_merge_like_helm(self):
        self.assertEqual(chart.merge({"a": {"b": 1, "c": 2}, "l": [1]}, {"a": {"b": 3}, "l": [2]}),
                         {"a": {"b": 3, "c": 2}, "l": [2]})


if __name__ == "__main__":
    unittest.main(verbosity=2)
