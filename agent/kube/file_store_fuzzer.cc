// libFuzzer harness for the standalone store (FileKubeClient, docs/
// standalone.md): files a user may write or edit by hand are the input. The
// first line is the resourceslices/.resource-version counter; the rest is
// written as resourceslices/fuzz.yaml, nodes/node-a.yaml and
// resourceclaims/ns/claim.yaml. Then the agent's calls run against it: start
// (Create), list, get node, get claim, and the publisher's writes (update of
// the slice named fuzz, create with generateName, delete).
//
// Invariants: no crash; a store with bad files still starts and lists
// (bad slice files are skipped); errors carry a message and the codes of
// kube_client.h; every listed item is an object; resourceVersions handed out
// grow: a new slice's version is above every version listed before.
#include <cstdint>
#include <filesystem>
#include <string>

#include "agent/kube/claim_reader.h"
#include "agent/kube/file_kube_client.h"
#include "base/filesystem.h"
#include "test/fakes/base/fake_clock.h"
#include "test/fakes/base/temp_dir.h"
#include "test/fuzz/fuzz_check.h"

namespace {

namespace kube = tessera::agent::kube;
using Json = nlohmann::json;
using tessera::fuzz::CheckCleanError;
using Code = absl::StatusCode;

std::string Rv(const Json& obj) {
  const Json* m = obj.contains("metadata") ? &obj["metadata"] : nullptr;
  return m != nullptr && m->is_object() && m->contains("resourceVersion") &&
                 (*m)["resourceVersion"].is_string()
             ? (*m)["resourceVersion"].get<std::string>()
             : "";
}

Json ValidSlice(const std::string& name_key, const std::string& name) {
  return Json{{"metadata", {{name_key, name}}},
              {"spec",
               {{"driver", "gpu.tessera.dev"},
                {"pool", {{"name", "node-a"}, {"generation", 1}, {"resourceSliceCount", 1}}},
                {"nodeName", "node-a"},
                {"devices", Json::array({{{"name", "gpu-0"},
                                          {"attributes", {{"model", {{"string", "H100"}}}}},
                                          {"capacity", {{"memory", {{"value", "80Gi"}}}}}}})}}}};
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static auto* tmp = new tessera::testing::TempDir();
  static auto* fs = new tessera::base::RealFilesystem();
  const std::string dir = tmp->Sub("cluster");
  std::error_code ec;
  std::filesystem::remove_all(dir, ec);
  for (const char* sub : {"/resourceslices", "/nodes", "/resourceclaims/ns"}) {
    FUZZ_CHECK(fs->CreateDirectories(dir + sub, 0755).ok(), "mkdir");
  }
  tessera::fuzz::Input in(data, size);
  const std::string_view counter = in.Line();
  const std::string_view text = in.Rest();
  for (const auto& [path, contents] :
       {std::pair<std::string, std::string_view>{"/resourceslices/.resource-version", counter},
        {"/resourceslices/fuzz.yaml", text},
        {"/nodes/node-a.yaml", text},
        {"/resourceclaims/ns/claim.yaml", text}}) {
    FUZZ_CHECK(fs->WriteFileAtomic(dir + path, contents, {.durable = false}).ok(), "write ", path);
  }

  tessera::testing::FakeClock clock;
  absl::StatusOr<std::unique_ptr<kube::FileKubeClient>> client =
      kube::FileKubeClient::Create(*fs, clock, dir);
  FUZZ_CHECK(client.ok(), "the store does not start: ",
             client.ok() ? "" : tessera::base::Std(client.status().message()));
  absl::StatusOr<kube::ObjectList> list = (*client)->ListResourceSlices({});
  FUZZ_CHECK(list.ok(), "list fails on a bad file instead of skipping it");
  for (const Json& item : list->items) FUZZ_CHECK(item.is_object(), "listed a non-object");

  if (absl::StatusOr<Json> node = (*client)->GetNode("node-a"); node.ok()) {
    FUZZ_CHECK(node->is_object(), "GetNode returned a non-object");
  } else {
    CheckCleanError(node.status(), {Code::kInvalidArgument}, "GetNode");
  }
  kube::FileClaimSource claims(*fs, dir);
  if (absl::StatusOr<tessera::agent::ResourceClaim> c = claims.GetClaim("ns", "claim"); !c.ok()) {
    CheckCleanError(c.status(), {Code::kInvalidArgument}, "GetClaim");
  }

  // The publisher's writes. The file may have changed since it was listed.
  absl::StatusOr<Json> updated = (*client)->UpdateResourceSlice(ValidSlice("name", "fuzz"));
  if (!updated.ok()) {
    CheckCleanError(updated.status(), {Code::kInvalidArgument, Code::kAborted, Code::kNotFound},
                    "UpdateResourceSlice");
  }
  absl::StatusOr<Json> created =
      (*client)->CreateResourceSlice(ValidSlice("generateName", "node-a-gpu.tessera.dev-"));
  FUZZ_CHECK(created.ok(), "create of a valid slice failed: ",
             created.ok() ? "" : tessera::base::Std(created.status().message()));
  const std::string rv = Rv(*created);
  std::vector<Json> before = list->items;
  if (updated.ok()) before.push_back(*updated);
  for (const Json& item : before) {
    std::optional<int> cmp = kube::CompareResourceVersions(rv, Rv(item));
    FUZZ_CHECK(!cmp || *cmp > 0, "new resourceVersion ", rv, " is not above ", Rv(item));
  }
  if (absl::Status s = (*client)->DeleteResourceSlice("fuzz", {}); !s.ok()) {
    // InvalidArgument: the file no longer parses (it was edited after the list).
    CheckCleanError(s, {Code::kNotFound, Code::kAborted, Code::kInvalidArgument},
                    "DeleteResourceSlice");
  }
  return 0;
}
