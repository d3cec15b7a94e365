// Config: everything tessera-agent is told at start, as plain data.
//
// Filled only by agent/flags.cc (command line, then environment twins, then
// defaults). Library code receives the parts it needs; it never reads flags or
// the environment itself.
#pragma once

#include <chrono>
#include <string>
#include <vector>

#include "base/log.h"

namespace tessera::agent {

struct Config {
  // Identity.
  std::string node_name;               // --node-name / NODE_NAME
  std::string driver_domain = "tessera.dev";  // --driver-domain: drivers are <family>.<domain>
  std::vector<std::string> drivers = {"gpu", "rdma", "npu"};  // --drivers
  std::string pod_uid;                 // --pod-uid / POD_UID: rolling-update socket names

  // Kubernetes. Empty kubeconfig and no in-cluster environment: standalone mode.
  std::string kubeconfig;              // --kubeconfig / KUBECONFIG
  bool standalone = false;             // --standalone: force the file-backed store
  // The in-cluster API server address, from the environment the kubelet
  // gives every pod (KUBERNETES_SERVICE_HOST / KUBERNETES_SERVICE_PORT).
  std::string kubernetes_service_host;
  std::string kubernetes_service_port;

  // Kubelet and container runtime paths.
  std::string plugin_dir = "/var/lib/kubelet/plugins";             // KUBELET_PLUGINS_DIR
  std::string registry_dir = "/var/lib/kubelet/plugins_registry";  // KUBELET_REGISTRAR_DIR
  std::string cdi_dir = "/var/run/cdi";                            // CDI_ROOT
  std::string state_dir = "/var/lib/tessera";                      // TESSERA_STATE_DIR

  // Where the hardware is read from. host_root is "/" on a node ($HOST_ROOT in
  // a container); sysfs_root / hwloc_xml select a simulated or captured node.
  std::string host_root = "/";         // --host-root / HOST_ROOT
  std::string sysfs_root;              // --sysfs-root
  std::string hwloc_xml;               // --hwloc-xml
  std::string dev_root;                // --dev-root: host prefix of device nodes
  std::string nvml_lib = "libnvidia-ml.so.1";  // --nvml-lib
  std::string dcmi_lib = "libdcmi.so";  // --dcmi-lib: Ascend DCMI ("" = never load)
  std::string hlml_lib = "libhlml.so";  // --hlml-lib: Gaudi HLML ("" = never load)
  std::string npu_smi = "npu-smi";      // --npu-smi: creates and destroys Ascend vNPUs
  // --netns-hook: tessera-netns-hook as the container runtime sees it (a host
  // path); empty refuses RdmaConfig netdev attachment (docs/rdma-netns.md).
  std::string netns_hook;
  // --npu-when-absent: "idle" runs the NPU driver with an empty pool on a
  // node without NPUs, "skip" does not start it there (docs/npu.md).
  std::string npu_when_absent = "idle";

  // Publishing (see docs/configuration.md).
  bool publish_partitionable = false;      // --publish-partitionable-devices (KEP-4815)
  bool publish_consumable_capacity = false;  // --publish-consumable-capacity (KEP-5075)
  std::chrono::seconds rescan_interval{60};  // --rescan-interval
  std::chrono::seconds health_interval{10};  // --health-interval

  // Operations.
  std::string metrics_addr;            // --metrics-addr host:port; empty = off
  base::log::Options log;              // --log-level, --log-format

  bool simulated() const { return !sysfs_root.empty() || !hwloc_xml.empty(); }
  // "<family>.<domain>" for each enabled driver.
  std::vector<std::string> DriverNames() const;
};

}  // namespace tessera::agent
