// libFuzzer harness for what the publisher's informer reads from the API
// server: a ResourceSliceList body (DecodeSliceList) or a watch stream
// (DecodeWatchEvent per line), then what the publisher does with each slice
// (typed header, strict decoding and field validation, content comparison,
// quantity canonicalization) and the SliceCache they feed.
//
// The first byte selects: even, the rest is a list body; odd, the rest is a
// watch stream, one event per line, applied to a cache after an empty list.
// Invariants: no crash; errors carry a message starting with the operation
// (list: InvalidArgument; watch: any code, as ERROR events map the server's);
// a slice's content equals itself after normalization and differs nowhere
// from itself; canonicalizing quantities is idempotent and keeps the content
// equal; validation errors render with their field; the cache's view holds
// only objects it was given, sorted by name.
#include <cstdint>
#include <set>
#include <string>
#include <vector>

#include "agent/kube/kube_client.h"
#include "agent/kube/rest_kube_client.h"
#include "agent/kube/slice_cache.h"
#include "agent/kube/slice_content.h"
#include "agent/kube/slice_validation.h"
#include "test/fakes/base/fake_clock.h"
#include "test/fuzz/fuzz_check.h"

namespace {

namespace kube = tessera::agent::kube;
using Json = nlohmann::json;
using tessera::base::Std;

std::string NameOf(const Json& obj) {
  const Json& m = obj.contains("metadata") ? obj["metadata"] : Json();
  return m.is_object() && m.contains("name") && m["name"].is_string() ? m["name"].get<std::string>()
                                                                      : "";
}

void CheckErrors(const kube::FieldErrors& errors, std::string_view what) {
  for (const kube::FieldError& e : errors) {
    FUZZ_CHECK(!e.ToString().empty() && !e.Reason().empty(), what, ": empty field error");
  }
  absl::Status s = kube::ToStatus(errors, "slice");
  FUZZ_CHECK(s.ok() == errors.empty(), what, ": ToStatus disagrees with the errors");
  if (!s.ok()) {
    tessera::fuzz::CheckCleanError(s, {absl::StatusCode::kInvalidArgument}, what);
  }
}

// What the publisher does with one slice it read.
void CheckSlice(const Json& slice) {
  absl::StatusOr<kube::SliceHeader> header = kube::ParseSliceHeader(slice);
  if (!header.ok()) {
    tessera::fuzz::CheckCleanError(header.status(), {absl::StatusCode::kInvalidArgument},
                                   "ParseSliceHeader");
  }
  CheckErrors(kube::DecodeCheckResourceSlice(slice), "DecodeCheckResourceSlice");
  CheckErrors(kube::ValidateResourceSlice(slice), "ValidateResourceSlice");
  CheckErrors(kube::ValidateResourceSliceUpdate(slice, slice), "ValidateResourceSliceUpdate");

  const Json content = kube::SliceContent(slice);
  FUZZ_CHECK(kube::SameContent(content, content), "content differs from itself");
  FUZZ_CHECK(kube::FirstDifference(content, content).empty(),
             "FirstDifference(x, x) = ", kube::FirstDifference(content, content));
  const Json normalized = kube::NormalizeContent(content);
  FUZZ_CHECK(kube::NormalizeContent(normalized) == normalized, "NormalizeContent not idempotent");

  Json canonical = slice;
  kube::CanonicalizeQuantities(canonical);
  Json twice = canonical;
  kube::CanonicalizeQuantities(twice);
  FUZZ_CHECK(twice == canonical, "CanonicalizeQuantities not idempotent");
  FUZZ_CHECK(kube::SameContent(kube::SliceContent(canonical), content),
             "canonical quantities changed the content: ",
             kube::FirstDifference(kube::SliceContent(canonical), content));
  // The publisher sends objects back: they must serialize.
  (void)canonical.dump();
}

void CheckView(const kube::SliceCache& cache, const std::vector<Json>& given) {
  std::vector<Json> view = cache.View();
  for (size_t i = 0; i < view.size(); ++i) {
    FUZZ_CHECK(i == 0 || NameOf(view[i - 1]) <= NameOf(view[i]), "view not sorted by name");
    bool known = false;
    for (const Json& g : given) known = known || g == view[i];
    FUZZ_CHECK(known, "the cache invented an object: ", view[i].dump());
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  tessera::fuzz::Input in(data, size);
  tessera::testing::FakeClock clock;
  kube::SliceCache cache(clock, std::chrono::seconds(30));
  if (in.Byte() % 2 == 0) {
    constexpr std::string_view kOp = "list resourceslices";
    absl::StatusOr<kube::ObjectList> list = kube::DecodeSliceList(in.Rest(), kOp);
    if (!list.ok()) {
      tessera::fuzz::CheckCleanError(list.status(), {absl::StatusCode::kInvalidArgument}, kOp);
      FUZZ_CHECK(Std(list.status().message()).starts_with(kOp), "error without the operation");
      return 0;
    }
    for (const Json& item : list->items) {
      FUZZ_CHECK(item.is_object() && item.value("apiVersion", "") == "resource.k8s.io/v1" &&
                     item.value("kind", "") == "ResourceSlice",
                 "list item without its type");
      CheckSlice(item);
    }
    CheckErrors(kube::ValidatePool(list->items), "ValidatePool");
    cache.Replace(list->items, list->resource_version);
    FUZZ_CHECK(cache.resource_version() == list->resource_version && cache.synced(),
               "Replace did not take the list's version");
    CheckView(cache, list->items);
    return 0;
  }
  constexpr std::string_view kOp = "watch resourceslices";
  cache.Replace({}, "1");
  std::vector<Json> given;
  while (!in.empty()) {
    std::string_view line = in.Line();
    absl::StatusOr<kube::WatchEvent> e = kube::DecodeWatchEvent(line, kOp);
    if (!e.ok()) {
      FUZZ_CHECK(!e.status().message().empty(), "watch error without a message");
      FUZZ_CHECK(Std(e.status().message()).starts_with(kOp),
                 "error without the operation: ", Std(e.status().message()));
      break;  // the watch ends here
    }
    FUZZ_CHECK(e->object.is_object(), "event without an object");
    if (e->type != kube::WatchEventType::kBookmark) CheckSlice(e->object);
    given.push_back(e->object);
    cache.Apply(*e);
    if (e->type == kube::WatchEventType::kAdded) {
      // The publisher's own write of the same object, then a relist without it.
      cache.Stored(e->object);
    }
  }
  CheckView(cache, given);
  return 0;
}
