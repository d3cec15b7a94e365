#include "agent/claims/device_state.h"

#include <thread>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

#include "kubelet/cdi/naming.h"
#include "test/fakes/agent/fake_claim_source.h"
#include "test/fakes/base/fake_clock.h"
#include "test/fakes/base/faulty_filesystem.h"
#include "test/fakes/base/temp_dir.h"
#include "test/fakes/drivers/fake_driver.h"
#include "test/matchers/status_matchers.h"

namespace tessera::agent {
namespace {

using kubelet::ClaimRef;
using kubelet::PreparedDeviceResult;
using kubelet::PrepareResult;
using kubelet::checkpoint::ClaimRecord;
using kubelet::checkpoint::Phase;
using ::tessera::testing::FakeDriver;
using ::tessera::testing::IsOk;
using ::tessera::testing::IsOkAndHolds;
using ::tessera::testing::StatusIs;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::SizeIs;
using ::testing::UnorderedElementsAre;
namespace cdi = kubelet::cdi;

constexpr std::string_view kDriver = "gpu.tessera.dev";
constexpr std::string_view kKind = "k8s.gpu.tessera.dev/claim";
constexpr std::string_view kUidA = "aaaaaaaa-0000-4000-8000-000000000001";
constexpr std::string_view kUidB = "bbbbbbbb-0000-4000-8000-000000000002";
constexpr std::string_view kUidC = "cccccccc-0000-4000-8000-000000000003";

AllocationResult Result(std::string request, std::string device,
                        std::string driver = std::string(kDriver)) {
  return {.request = std::move(request),
          .driver = std::move(driver),
          .pool = "node-1",
          .device = std::move(device)};
}

AllocationConfig Config(std::string source, nlohmann::json parameters) {
  return {.source = std::move(source),
          .driver = std::string(kDriver),
          .parameters = std::move(parameters)};
}

ResourceClaim Claim(std::string name, std::string_view uid, std::vector<AllocationResult> results,
                    std::vector<AllocationConfig> configs = {}) {
  return {.namespace_ = "team-a",
          .name = std::move(name),
          .uid = std::string(uid),
          .allocated = true,
          .results = std::move(results),
          .configs = std::move(configs)};
}

ClaimRef Ref(const ResourceClaim& claim) {
  return {.uid = claim.uid, .namespace_ = claim.namespace_, .name = claim.name};
}

std::vector<std::string> CdiIds(const PrepareResult& result) {
  std::vector<std::string> ids;
  for (const PreparedDeviceResult& d : result.devices) {
    ids.insert(ids.end(), d.cdi_device_ids.begin(), d.cdi_device_ids.end());
  }
  return ids;
}

bool SameResults(const PrepareResult& a, const PrepareResult& b) {
  if (a.devices.size() != b.devices.size()) return false;
  for (size_t i = 0; i < a.devices.size(); ++i) {
    const PreparedDeviceResult& x = a.devices[i];
    const PreparedDeviceResult& y = b.devices[i];
    if (x.request_names != y.request_names || x.pool_name != y.pool_name ||
        x.device_name != y.device_name || x.cdi_device_ids != y.cdi_device_ids ||
        x.share_id != y.share_id) {
      return false;
    }
  }
  return a.status == b.status;
}

class DeviceStateTest : public ::testing::Test {
 protected:
  DeviceStateTest() : fs_(real_) { driver_.SetDevices({"gpu-0", "gpu-1", "gpu-2", "gpu-3"}); }

  DeviceStateOptions Options(std::string boot_id = "boot-1") {
    return {.driver_name = std::string(kDriver),
            .pool_name = "node-1",
            .cdi_dir = tmp_.Sub("cdi"),
            .checkpoint_dir = tmp_.Sub("state/gpu.tessera.dev"),
            .boot_id = std::move(boot_id)};
  }

  std::unique_ptr<DeviceState> Start(std::string boot_id = "boot-1") {
    absl::StatusOr<std::unique_ptr<DeviceState>> state =
        DeviceState::Create(Options(std::move(boot_id)), driver_, source_, fs_, clock_, metrics_);
    EXPECT_TRUE(state.ok()) << state.status();
    return state.ok() ? std::move(*state) : nullptr;
  }

  // Puts the claim in the API and prepares it.
  PrepareResult PrepareOk(DeviceState& state, const ResourceClaim& claim) {
    source_.Put(claim);
    std::map<std::string, PrepareResult> out = state.Prepare({Ref(claim)});
    EXPECT_EQ(out.size(), 1u);
    EXPECT_OK(out[claim.uid].status);
    return out[claim.uid];
  }

  std::string SpecPath(std::string_view uid) {
    return tmp_.Sub("cdi/" + cdi::ClaimSpecFileName(kDriver, uid));
  }
  absl::StatusOr<cdi::Spec> ReadSpec(std::string_view uid) {
    return cdi::SpecDir(real_, tmp_.Sub("cdi")).Read(cdi::ClaimSpecFileName(kDriver, uid));
  }
  std::vector<std::string> CdiFiles() {
    absl::StatusOr<std::vector<std::string>> names = real_.ListDir(tmp_.Sub("cdi"));
    return names.ok() ? *names : std::vector<std::string>();
  }
  // The checkpoint as a fresh process would read it.
  std::vector<std::string> CheckpointedUids() {
    absl::StatusOr<CheckpointView> view =
        ReadCheckpoint(real_, tmp_.Sub("state/gpu.tessera.dev"), tmp_.Sub("cdi"), kDriver);
    EXPECT_TRUE(view.ok()) << view.status();
    std::vector<std::string> uids;
    if (view.ok()) {
      for (const CheckpointedClaim& c : view->claims) uids.push_back(c.record.uid);
    }
    return uids;
  }
  double Count(std::string_view name, std::string_view result) {
    return metrics_
        .GetCounter(name, "", {{"driver", std::string(kDriver)}, {"result", std::string(result)}})
        .value();
  }
  double DriverCount(std::string_view name) {
    return metrics_.GetCounter(name, "", {{"driver", std::string(kDriver)}}).value();
  }

  tessera::testing::TempDir tmp_;
  base::RealFilesystem real_;
  tessera::testing::FaultyFilesystem fs_;
  FakeDriver driver_{"gpu"};
  tessera::testing::FakeClaimSource source_;
  tessera::testing::FakeClock clock_;
  base::metrics::Registry metrics_;
};

TEST_F(DeviceStateTest, PreparesClaimWritesSpecAndAnswersQualifiedIds) {
  std::unique_ptr<DeviceState> state = Start();
  ResourceClaim claim =
      Claim("train", kUidA, {Result("gpus/big", "gpu-1"), Result("gpus/big", "gpu-3")});
  PrepareResult result = PrepareOk(*state, claim);

  ASSERT_THAT(result.devices, SizeIs(2));
  EXPECT_THAT(result.devices[0].request_names, ElementsAre("gpus"));
  EXPECT_EQ(result.devices[0].pool_name, "node-1");
  EXPECT_EQ(result.devices[0].device_name, "gpu-1");
  EXPECT_EQ(result.devices[0].share_id, "");
  EXPECT_THAT(CdiIds(result),
              ElementsAre(std::string(kKind) + "=" + std::string(kUidA) + "-gpu-1",
                          std::string(kKind) + "=" + std::string(kUidA) + "-gpu-3"));

  // The spec defines exactly the returned ids with the driver's edits.
  ASSERT_OK_AND_ASSIGN(cdi::Spec spec, ReadSpec(kUidA));
  EXPECT_EQ(spec.version, "0.5.0");
  EXPECT_EQ(spec.kind, kKind);
  ASSERT_THAT(spec.devices, SizeIs(2));
  EXPECT_EQ(cdi::QualifiedName(spec.kind, spec.devices[1].name), CdiIds(result)[1]);
  EXPECT_THAT(spec.devices[1].edits.env, ElementsAre("FAKE_GPU_DEVICE_1=gpu-3"));
  EXPECT_THAT(spec.edits.env, ElementsAre("FAKE_CLAIM=" + std::string(kUidA)));

  EXPECT_THAT(CheckpointedUids(), ElementsAre(kUidA));
  EXPECT_EQ(Count("tessera_prepare_claims_total", "success"), 1);
  EXPECT_EQ(Count("tessera_prepare_claims_total", "error"), 0);
  EXPECT_EQ(metrics_
                .GetHistogram("tessera_cdi_write_duration_seconds", "",
                              base::metrics::LatencyBuckets(), {{"driver", std::string(kDriver)}})
                .count(),
            1u);
}

TEST_F(DeviceStateTest, RepeatedPrepareReturnsIdenticalIdsWithoutWork) {
  ResourceClaim claim = Claim("train", kUidA, {Result("gpu", "gpu-0")});
  PrepareResult first;
  {
    std::unique_ptr<DeviceState> state = Start();
    first = PrepareOk(*state, claim);
    std::map<std::string, PrepareResult> again = state->Prepare({Ref(claim)});
    EXPECT_TRUE(SameResults(again[claim.uid], first));
  }
  EXPECT_EQ(driver_.calls(FakeDriver::Call::kPrepare), 1);
  EXPECT_EQ(source_.get_calls(), 1);
  // After an agent restart too, and even if the claim is gone from the API.
  source_.Remove("team-a", "train");
  std::unique_ptr<DeviceState> restarted = Start();
  std::map<std::string, PrepareResult> again = restarted->Prepare({Ref(claim)});
  EXPECT_TRUE(SameResults(again[claim.uid], first));
  EXPECT_EQ(driver_.calls(FakeDriver::Call::kPrepare), 1);
  EXPECT_EQ(source_.get_calls(), 1);
}

TEST_F(DeviceStateTest, RepeatedPrepareRestoresAVanishedSpec) {
  std::unique_ptr<DeviceState> state = Start();
  ResourceClaim claim = Claim("train", kUidA, {Result("gpu", "gpu-0")});
  PrepareResult first = PrepareOk(*state, claim);
  ASSERT_OK_AND_ASSIGN(cdi::Spec written, ReadSpec(kUidA));
  ASSERT_OK(real_.RemoveFile(SpecPath(kUidA), false));
  std::map<std::string, PrepareResult> again = state->Prepare({Ref(claim)});
  EXPECT_TRUE(SameResults(again[claim.uid], first));
  EXPECT_THAT(ReadSpec(kUidA), IsOkAndHolds(written));
}

TEST_F(DeviceStateTest, EachBadClaimIsItsOwnErrorAndLeavesNothing) {
  driver_.set_side_effects(true);
  std::unique_ptr<DeviceState> state = Start();
  const std::string d = "dddddddd-0000-4000-8000-00000000000";
  ResourceClaim good = Claim("good", kUidA, {Result("gpu", "gpu-0")});
  ResourceClaim replaced = Claim("replaced", d + "1", {Result("gpu", "gpu-1")});
  replaced.uid = d + "9";  // the API holds a newer claim of the same name
  ResourceClaim unallocated = Claim("unallocated", d + "2", {});
  unallocated.allocated = false;
  ResourceClaim unknown_device = Claim("unknown-device", d + "3", {Result("gpu", "gpu-42")});
  ResourceClaim malformed =
      Claim("malformed", d + "4", {Result("gpu", "gpu-1")},
            {Config("FromClaim", nlohmann::json::array({"not", "an", "object"}))});
  ResourceClaim oversize =
      Claim("oversize", d + "5", {Result("gpu", "gpu-1")},
            {Config("FromClaim", {{"kind", "FakeConfig"}, {"mode", std::string(11000, 'x')}})});
  ResourceClaim unknown_kind = Claim("unknown-kind", d + "6", {Result("gpu", "gpu-1")},
                                     {Config("FromClass", {{"kind", "TimeSlicing"}})});
  ResourceClaim bad_field = Claim("bad-field", d + "7", {Result("gpu", "gpu-1")},
                                  {Config("FromClaim", {{"kind", "FakeConfig"}, {"mps", 1}})});
  for (const ResourceClaim* c : {&good, &replaced, &unallocated, &unknown_device, &malformed,
                                 &oversize, &unknown_kind, &bad_field}) {
    source_.Put(*c);
  }
  const ClaimRef missing{.uid = d + "8", .namespace_ = "team-a", .name = "missing"};
  ClaimRef replaced_ref = Ref(replaced);
  replaced_ref.uid = d + "1";

  std::map<std::string, PrepareResult> out =
      state->Prepare({Ref(good), missing, replaced_ref, Ref(unallocated), Ref(unknown_device),
                      Ref(malformed), Ref(oversize), Ref(unknown_kind), Ref(bad_field)});

  ASSERT_THAT(out, SizeIs(9));
  EXPECT_OK(out[good.uid].status);
  EXPECT_THAT(out[good.uid].devices, SizeIs(1));
  EXPECT_THAT(out[missing.uid].status,
              StatusIs(absl::StatusCode::kNotFound, HasSubstr("get claim team-a/missing")));
  EXPECT_THAT(
      out[replaced_ref.uid].status,
      StatusIs(absl::StatusCode::kFailedPrecondition,
               HasSubstr("claim team-a/replaced was replaced: uid " + d + "9 != " + d + "1")));
  EXPECT_THAT(out[unallocated.uid].status,
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       HasSubstr("claim team-a/unallocated is not allocated")));
  EXPECT_THAT(out[unknown_device.uid].status,
              StatusIs(absl::StatusCode::kNotFound, HasSubstr("\"gpu-42\"")));
  EXPECT_THAT(out[malformed.uid].status,
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("opaque.parameters: expected object, got array")));
  EXPECT_THAT(out[oversize.uid].status,
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("10240 allowed")));
  EXPECT_THAT(out[unknown_kind.uid].status,
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("unknown config kind \"TimeSlicing\"")));
  EXPECT_THAT(out[bad_field.uid].status,
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("\"mps\"")));
  for (const auto& [uid, r] : out) {
    if (uid != good.uid) {
      EXPECT_THAT(r.devices, IsEmpty()) << uid;
    }
  }

  // Only the good claim left traces: one spec, one checkpoint entry, and
  // host state for its device alone.
  EXPECT_THAT(CdiFiles(), ElementsAre(cdi::ClaimSpecFileName(kDriver, kUidA)));
  EXPECT_THAT(CheckpointedUids(), ElementsAre(kUidA));
  EXPECT_EQ(driver_.applied(),
            (std::map<std::string, std::set<std::string>>{{std::string(kUidA), {"gpu-0"}}}));
  EXPECT_EQ(Count("tessera_prepare_claims_total", "success"), 1);
  EXPECT_EQ(Count("tessera_prepare_claims_total", "error"), 8);
}

TEST_F(DeviceStateTest, RejectsBadClaimReferencesAndAnswersEachUidOnce) {
  std::unique_ptr<DeviceState> state = Start();
  ResourceClaim claim = Claim("train", kUidA, {Result("gpu", "gpu-0")});
  source_.Put(claim);
  std::map<std::string, PrepareResult> out =
      state->Prepare({Ref(claim),
                      Ref(claim),
                      {.uid = "../../etc", .namespace_ = "a", .name = "b"},
                      {.uid = std::string(kUidB), .namespace_ = "", .name = ""}});
  ASSERT_THAT(out, SizeIs(3));
  EXPECT_OK(out[claim.uid].status);
  EXPECT_THAT(out["../../etc"].status, StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(out[std::string(kUidB)].status, StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_EQ(driver_.calls(FakeDriver::Call::kPrepare), 1);
}

TEST_F(DeviceStateTest, InvalidDriverEditsRollBackTheDriver) {
  driver_.set_side_effects(true);
  driver_.set_result_mutator(
      [](drivers::PreparedClaim& c) { c.devices[0].edits.env = {"NOT-AN-ASSIGNMENT"}; });
  std::unique_ptr<DeviceState> state = Start();
  ResourceClaim claim = Claim("train", kUidA, {Result("gpu", "gpu-0")});
  source_.Put(claim);
  std::map<std::string, PrepareResult> out = state->Prepare({Ref(claim)});
  EXPECT_THAT(out[claim.uid].status,
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("write cdi spec")));
  EXPECT_THAT(driver_.applied(), IsEmpty());
  EXPECT_EQ(driver_.calls(FakeDriver::Call::kUnprepare), 1);
  EXPECT_THAT(CdiFiles(), IsEmpty());
  EXPECT_THAT(CheckpointedUids(), IsEmpty());
}

TEST_F(DeviceStateTest, DriverAnsweringForOtherDevicesIsRolledBack) {
  driver_.set_result_mutator([](drivers::PreparedClaim& c) { c.devices[0].device = "gpu-3"; });
  std::unique_ptr<DeviceState> state = Start();
  ResourceClaim claim = Claim("train", kUidA, {Result("gpu", "gpu-0")});
  source_.Put(claim);
  EXPECT_THAT(state->Prepare({Ref(claim)})[claim.uid].status,
              StatusIs(absl::StatusCode::kInternal, HasSubstr("no result for device gpu-0")));
  EXPECT_EQ(driver_.calls(FakeDriver::Call::kUnprepare), 1);
  EXPECT_THAT(CheckpointedUids(), IsEmpty());
}

TEST_F(DeviceStateTest, FullCdiDiskFailsPrepareCleanly) {
  driver_.set_side_effects(true);
  std::unique_ptr<DeviceState> state = Start();
  const std::string cdi_dir = tmp_.Sub("cdi");
  fs_.set_injector([cdi_dir](std::string_view op, const std::string& path) {
    return op == "write" && path.starts_with(cdi_dir)
               ? absl::ResourceExhaustedError("no space left on device")
               : absl::OkStatus();
  });
  ResourceClaim claim = Claim("train", kUidA, {Result("gpu", "gpu-0")});
  source_.Put(claim);
  EXPECT_THAT(state->Prepare({Ref(claim)})[claim.uid].status,
              StatusIs(absl::StatusCode::kResourceExhausted, HasSubstr("no space left")));
  EXPECT_THAT(driver_.applied(), IsEmpty());
  EXPECT_THAT(CdiFiles(), IsEmpty());
  EXPECT_THAT(CheckpointedUids(), IsEmpty());
  // Space comes back: the same claim prepares normally.
  fs_.set_injector(nullptr);
  PrepareResult result = PrepareOk(*state, claim);
  EXPECT_THAT(CdiIds(result), SizeIs(1));
  EXPECT_THAT(CheckpointedUids(), ElementsAre(kUidA));
}

TEST_F(DeviceStateTest, FullStateDiskFailsPrepareCleanlyAndKeepsTheCheckpoint) {
  driver_.set_side_effects(true);
  PrepareResult earlier_result;
  ResourceClaim earlier = Claim("earlier", kUidB, {Result("gpu", "gpu-1")});
  ResourceClaim claim = Claim("train", kUidA, {Result("gpu", "gpu-0")});
  {
    std::unique_ptr<DeviceState> state = Start();
    earlier_result = PrepareOk(*state, earlier);
    // The state disk fills up part-way through the next journal record and
    // stays full (the CDI directory is elsewhere and has space).
    const std::string state_dir = tmp_.Sub("state");
    fs_.set_partial_append_bytes(20);
    fs_.set_injector([state_dir](std::string_view op, const std::string& path) {
      return (op == "append" || op == "write" || op == "sync") && path.starts_with(state_dir)
                 ? absl::ResourceExhaustedError("no space left on device")
                 : absl::OkStatus();
    });
    source_.Put(claim);
    EXPECT_THAT(state->Prepare({Ref(claim)})[claim.uid].status,
                StatusIs(absl::StatusCode::kResourceExhausted, HasSubstr("no space left")));
    // Stopped before the driver: no host state, no spec, the earlier claim
    // still answered from the checkpoint.
    EXPECT_EQ(driver_.applied(),
              (std::map<std::string, std::set<std::string>>{{std::string(kUidB), {"gpu-1"}}}));
    EXPECT_THAT(CdiFiles(), ElementsAre(cdi::ClaimSpecFileName(kDriver, kUidB)));
    EXPECT_TRUE(SameResults(state->Prepare({Ref(earlier)})[earlier.uid], earlier_result));
  }  // the agent restarts with the partial record on disk
  fs_.set_injector(nullptr);
  EXPECT_THAT(CheckpointedUids(), ElementsAre(kUidB));
  std::unique_ptr<DeviceState> state = Start();
  EXPECT_FALSE(state->reconcile_report().checkpoint_recovered);
  EXPECT_EQ(state->reconcile_report().prepare_started_rolled_back, 0);
  EXPECT_TRUE(SameResults(state->Prepare({Ref(earlier)})[earlier.uid], earlier_result));
  PrepareOk(*state, claim);
  EXPECT_THAT(CheckpointedUids(), UnorderedElementsAre(kUidA, kUidB));
}

TEST_F(DeviceStateTest, FailedCheckpointSyncFailsPrepareCleanly) {
  driver_.set_side_effects(true);
  std::unique_ptr<DeviceState> state = Start();
  ResourceClaim earlier = Claim("earlier", kUidB, {Result("gpu", "gpu-1")});
  PrepareResult earlier_result = PrepareOk(*state, earlier);
  // One failed fdatasync: the one that would have made Prepared durable.
  auto failures = std::make_shared<int>(1);
  fs_.set_injector([failures](std::string_view op, const std::string&) {
    return op == "sync" && (*failures)-- > 0 ? absl::DataLossError("fdatasync: input/output error")
                                             : absl::OkStatus();
  });
  ResourceClaim claim = Claim("train", kUidA, {Result("gpu", "gpu-0")});
  source_.Put(claim);
  EXPECT_THAT(
      state->Prepare({Ref(claim)})[claim.uid].status,
      StatusIs(absl::StatusCode::kDataLoss, HasSubstr("record prepared claim team-a/train")));
  // Nothing of the failed claim remains; the earlier claim is untouched.
  EXPECT_EQ(driver_.applied(),
            (std::map<std::string, std::set<std::string>>{{std::string(kUidB), {"gpu-1"}}}));
  EXPECT_THAT(CdiFiles(), ElementsAre(cdi::ClaimSpecFileName(kDriver, kUidB)));
  EXPECT_THAT(CheckpointedUids(), ElementsAre(kUidB));
  EXPECT_TRUE(SameResults(state->Prepare({Ref(earlier)})[earlier.uid], earlier_result));
}

TEST_F(DeviceStateTest, BrokenDiskLeavesOnlyARollbackForTheNextStart) {
  driver_.set_side_effects(true);
  {
    std::unique_ptr<DeviceState> state = Start();
    // Every sync fails from now on, so the rollback cannot be recorded either.
    fs_.set_injector([](std::string_view op, const std::string&) {
      return op == "sync" ? absl::DataLossError("fdatasync: input/output error") : absl::OkStatus();
    });
    ResourceClaim claim = Claim("train", kUidA, {Result("gpu", "gpu-0")});
    source_.Put(claim);
    EXPECT_THAT(
        state->Prepare({Ref(claim)})[claim.uid].status,
        StatusIs(absl::StatusCode::kDataLoss, HasSubstr("rollback failed: record unprepared")));
    // The host state and the spec are undone; the checkpoint still says
    // PrepareStarted, which is safe: the next start rolls it back again.
    EXPECT_THAT(driver_.applied(), IsEmpty());
    EXPECT_THAT(CdiFiles(), IsEmpty());
  }
  fs_.set_injector(nullptr);
  std::unique_ptr<DeviceState> restarted = Start();
  EXPECT_EQ(restarted->reconcile_report().prepare_started_rolled_back, 1);
  EXPECT_THAT(CheckpointedUids(), IsEmpty());
}

TEST_F(DeviceStateTest, ReadOnlyStateDirectory) {
  // At start: the agent cannot run without its checkpoint.
  const std::string state_dir = tmp_.Sub("state");
  fs_.set_injector([state_dir](std::string_view op, const std::string& path) {
    return (op == "write" || op == "open_append" || op == "mkdir") && path.starts_with(state_dir)
               ? absl::PermissionDeniedError("read-only file system")
               : absl::OkStatus();
  });
  EXPECT_THAT(DeviceState::Create(Options(), driver_, source_, fs_, clock_, metrics_),
              StatusIs(absl::StatusCode::kPermissionDenied, HasSubstr("gpu.tessera.dev")));
  // While running (remounted read-only under us): prepares fail cleanly.
  fs_.set_injector(nullptr);
  driver_.set_side_effects(true);
  std::unique_ptr<DeviceState> state = Start();
  fs_.set_injector([state_dir](std::string_view op, const std::string& path) {
    return (op == "write" || op == "append" || op == "open_append") && path.starts_with(state_dir)
               ? absl::PermissionDeniedError("read-only file system")
               : absl::OkStatus();
  });
  ResourceClaim claim = Claim("train", kUidA, {Result("gpu", "gpu-0")});
  source_.Put(claim);
  EXPECT_THAT(state->Prepare({Ref(claim)})[claim.uid].status,
              StatusIs(absl::StatusCode::kPermissionDenied));
  EXPECT_EQ(driver_.calls(FakeDriver::Call::kPrepare), 0);  // stopped at PrepareStarted
  EXPECT_THAT(driver_.applied(), IsEmpty());
  EXPECT_THAT(CdiFiles(), IsEmpty());
}

TEST_F(DeviceStateTest, FailedRollbackIsReportedAndFinishedAtNextStart) {
  driver_.set_side_effects(true);
  driver_.set_result_mutator(
      [](drivers::PreparedClaim& c) { c.devices[0].edits.env = {"NOT-AN-ASSIGNMENT"}; });
  driver_.FailNext(FakeDriver::Call::kUnprepare, absl::FailedPreconditionError("device busy"));
  {
    std::unique_ptr<DeviceState> state = Start();
    ResourceClaim claim = Claim("train", kUidA, {Result("gpu", "gpu-0")});
    source_.Put(claim);
    EXPECT_THAT(
        state->Prepare({Ref(claim)})[claim.uid].status,
        StatusIs(absl::StatusCode::kInvalidArgument,
                 HasSubstr("rollback failed: unprepare with gpu.tessera.dev: device busy")));
    EXPECT_THAT(driver_.applied(), SizeIs(1));
    // The PrepareStarted entry stays so the next start can finish the job.
    ASSERT_THAT(state->Claims(), SizeIs(1));
    EXPECT_EQ(state->Claims()[0].phase, Phase::kPrepareStarted);
  }
  std::unique_ptr<DeviceState> restarted = Start();
  EXPECT_EQ(restarted->reconcile_report().prepare_started_rolled_back, 1);
  EXPECT_THAT(driver_.applied(), IsEmpty());
  EXPECT_THAT(CheckpointedUids(), IsEmpty());
}

TEST_F(DeviceStateTest, UnprepareUndoesWithRecordedStateAndIsIdempotent) {
  driver_.set_side_effects(true);
  std::unique_ptr<DeviceState> state = Start();
  ResourceClaim claim =
      Claim("train", kUidA, {Result("gpu", "gpu-2")},
            {Config("FromClass", {{"kind", "FakeConfig"}, {"mode", "class"}}),
             Config("FromClaim", {{"kind", "FakeConfig"}, {"mode", "exclusive"}})});
  PrepareOk(*state, claim);
  std::map<std::string, absl::Status> out = state->Unprepare({Ref(claim)});
  EXPECT_OK(out[claim.uid]);
  // The driver got back exactly what it recorded (FromClaim won over FromClass).
  drivers::PreparedClaim undone = driver_.last_unprepared();
  ASSERT_THAT(undone.devices, SizeIs(1));
  EXPECT_EQ(undone.devices[0].device, "gpu-2");
  EXPECT_EQ(undone.devices[0].request, "gpu");
  EXPECT_EQ(undone.devices[0].state, (nlohmann::json{{"device", "gpu-2"}, {"mode", "exclusive"}}));
  EXPECT_THAT(driver_.applied(), IsEmpty());
  EXPECT_THAT(CdiFiles(), IsEmpty());
  EXPECT_THAT(CheckpointedUids(), IsEmpty());
  // Again, and an unknown claim: success without driver calls.
  out = state->Unprepare({Ref(claim), {.uid = std::string(kUidC), .namespace_ = "x", .name = "y"}});
  EXPECT_OK(out[claim.uid]);
  EXPECT_OK(out[std::string(kUidC)]);
  EXPECT_EQ(driver_.calls(FakeDriver::Call::kUnprepare), 1);
  EXPECT_EQ(Count("tessera_unprepare_claims_total", "success"), 3);
}

TEST_F(DeviceStateTest, FailedUnprepareKeepsTheClaimForTheRetry) {
  std::unique_ptr<DeviceState> state = Start();
  ResourceClaim claim = Claim("train", kUidA, {Result("gpu", "gpu-0")});
  PrepareResult prepared = PrepareOk(*state, claim);
  driver_.FailNext(FakeDriver::Call::kUnprepare, absl::FailedPreconditionError("device busy"));
  EXPECT_THAT(
      state->Unprepare({Ref(claim)})[claim.uid],
      StatusIs(absl::StatusCode::kFailedPrecondition,
               HasSubstr("unprepare claim team-a/train with gpu.tessera.dev: device busy")));
  EXPECT_EQ(Count("tessera_unprepare_claims_total", "error"), 1);
  EXPECT_TRUE(real_.Exists(SpecPath(kUidA)));
  EXPECT_TRUE(SameResults(state->Prepare({Ref(claim)})[claim.uid], prepared));
  EXPECT_OK(state->Unprepare({Ref(claim)})[claim.uid]);
  EXPECT_FALSE(real_.Exists(SpecPath(kUidA)));
}

TEST_F(DeviceStateTest, FsyncBudget) {
  // Real durability cost of the common paths, counted by RealFilesystem.
  for (bool side_effects : {false, true}) {
    SCOPED_TRACE(side_effects ? "with side effects" : "without side effects");
    driver_.set_side_effects(side_effects);
    std::unique_ptr<DeviceState> state = Start();
    const std::string_view uid = side_effects ? kUidB : kUidA;
    ResourceClaim claim = Claim(std::string("c-") + std::string(uid.substr(0, 1)), uid,
                                {Result("gpu", "gpu-0"), Result("gpu", "gpu-1")});
    source_.Put(claim);
    uint64_t before = real_.fsync_count();
    ASSERT_OK(state->Prepare({Ref(claim)})[claim.uid].status);
    const uint64_t prepare = real_.fsync_count() - before;
    EXPECT_LE(prepare, 2u);
    EXPECT_EQ(prepare, 1u);
    before = real_.fsync_count();
    ASSERT_OK(state->Prepare({Ref(claim)})[claim.uid].status);
    EXPECT_EQ(real_.fsync_count() - before, 0u);  // answered from the checkpoint
    before = real_.fsync_count();
    ASSERT_OK(state->Unprepare({Ref(claim)})[claim.uid]);
    EXPECT_LE(real_.fsync_count() - before, 1u);
  }
}

TEST_F(DeviceStateTest, PeersAndSharesReachTheDriverAndTheIds) {
  std::unique_ptr<DeviceState> state = Start();
  AllocationResult share_a = Result("gpu", "gpu-0");
  share_a.share_id = "3a9e1c04-5b6d-4e7f-8a90-b1c2d3e4f5a6";
  AllocationResult share_b = Result("gpu", "gpu-0");
  share_b.share_id = "9f8e7d6c-5b6d-4e7f-8a90-b1c2d3e4f5a6";
  ResourceClaim claim =
      Claim("mixed", kUidA, {share_a, Result("nic", "mlx5-1", "rdma.tessera.dev"), share_b});
  PrepareResult result = PrepareOk(*state, claim);
  ASSERT_THAT(result.devices, SizeIs(2));  // the NIC is the RDMA driver's business
  EXPECT_EQ(result.devices[0].share_id, share_a.share_id);
  EXPECT_EQ(result.devices[1].share_id, share_b.share_id);
  EXPECT_THAT(CdiIds(result),
              ElementsAre(std::string(kKind) + "=" + std::string(kUidA) + "-gpu-0-3a9e1c04",
                          std::string(kKind) + "=" + std::string(kUidA) + "-gpu-0-9f8e7d6c"));
  ASSERT_THAT(driver_.last_request().peers, SizeIs(1));
  ASSERT_OK_AND_ASSIGN(cdi::Spec spec, ReadSpec(kUidA));
  EXPECT_THAT(spec.edits.env, ElementsAre("FAKE_CLAIM=" + std::string(kUidA),
                                          "FAKE_PEERS=rdma.tessera.dev/mlx5-1"));
}

TEST_F(DeviceStateTest, DevicesWithoutEditsGetAMarkerSoTheSpecIsValid) {
  driver_.set_result_mutator([](drivers::PreparedClaim& c) {
    for (drivers::PreparedDevice& d : c.devices) d.edits = {};
  });
  std::unique_ptr<DeviceState> state = Start();
  PrepareOk(*state, Claim("train", kUidA, {Result("gpu", "gpu-1")}));
  ASSERT_OK_AND_ASSIGN(cdi::Spec spec, ReadSpec(kUidA));
  EXPECT_THAT(spec.devices[0].edits.env,
              ElementsAre("TESSERA_DEVICE_GPU_1=gpu.tessera.dev/node-1/gpu-1"));
}

TEST_F(DeviceStateTest, ReconcileRemovesOrphansAndTempFilesButNotOthersSpecs) {
  {
    std::unique_ptr<DeviceState> state = Start();
    PrepareOk(*state, Claim("train", kUidA, {Result("gpu", "gpu-0")}));
  }
  cdi::SpecDir dir(real_, tmp_.Sub("cdi"));
  cdi::Spec orphan{.kind = std::string(kKind),
                   .devices = {{.name = std::string(kUidB) + "-gpu-1", .edits = {.env = {"A=1"}}}}};
  ASSERT_OK(dir.Write(cdi::ClaimSpecFileName(kDriver, kUidB), orphan));
  cdi::Spec rdma{.kind = "k8s.rdma.tessera.dev/claim",
                 .devices = {{.name = std::string(kUidC) + "-mlx5-0", .edits = {.env = {"A=1"}}}}};
  ASSERT_OK(dir.Write(cdi::ClaimSpecFileName("rdma.tessera.dev", kUidC), rdma));
  ASSERT_OK(real_.WriteFileAtomic(tmp_.Sub("cdi/nvidia.yaml"), "static", {}));
  const std::string temp = "." + cdi::ClaimSpecFileName(kDriver, kUidC) + ".tmp-42-00ff";
  ASSERT_OK(real_.WriteFileAtomic(tmp_.Sub("cdi/" + temp), "{", {}));

  std::unique_ptr<DeviceState> state = Start();
  EXPECT_EQ(state->reconcile_report().orphan_specs_removed, 1);
  EXPECT_EQ(state->reconcile_report().errors, 0);
  EXPECT_THAT(CdiFiles(), UnorderedElementsAre(cdi::ClaimSpecFileName(kDriver, kUidA),
                                               cdi::ClaimSpecFileName("rdma.tessera.dev", kUidC),
                                               "nvidia.yaml"));
}

TEST_F(DeviceStateTest, RebootRewritesSpecsAndReappliesHostState) {
  driver_.set_side_effects(true);
  PrepareResult a;
  PrepareResult b;
  {
    std::unique_ptr<DeviceState> state = Start("boot-1");
    a = PrepareOk(*state, Claim("a", kUidA, {Result("gpu", "gpu-0")}));
    b = PrepareOk(*state, Claim("b", kUidB, {Result("gpu", "gpu-1")}));
  }
  // Reboot: /var/run is a tmpfs, and MIG instances and the like are gone.
  for (const std::string& name : CdiFiles())
    ASSERT_OK(real_.RemoveFile(tmp_.Sub("cdi/" + name), false));
  driver_.ForgetHostStateForTest();

  std::unique_ptr<DeviceState> state = Start("boot-2");
  const ReconcileReport& report = state->reconcile_report();
  EXPECT_TRUE(report.boot_id_changed);
  EXPECT_EQ(report.specs_rewritten, 2);
  EXPECT_EQ(report.claims_reapplied, 2);
  EXPECT_THAT(driver_.reapplied(), ElementsAre(kUidA, kUidB));
  EXPECT_THAT(driver_.applied(), SizeIs(2));
  EXPECT_TRUE(real_.Exists(SpecPath(kUidA)));
  ASSERT_OK_AND_ASSIGN(CheckpointView view, ReadCheckpoint(real_, tmp_.Sub("state/gpu.tessera.dev"),
                                                           tmp_.Sub("cdi"), kDriver));
  EXPECT_EQ(view.boot_id, "boot-2");
  // The kubelet asking again gets the same ids.
  EXPECT_TRUE(SameResults(state->Prepare({Ref(Claim("a", kUidA, {}))})[std::string(kUidA)], a));
  // Same boot: nothing re-applied at the next start.
  std::unique_ptr<DeviceState> again = Start("boot-2");
  EXPECT_FALSE(again->reconcile_report().boot_id_changed);
  EXPECT_THAT(driver_.reapplied(), SizeIs(2));
}

TEST_F(DeviceStateTest, RestartHandsPreparedClaimsToTheDriver) {
  {
    std::unique_ptr<DeviceState> state = Start("boot-1");
    PrepareOk(*state, Claim("a", kUidA, {Result("gpu", "gpu-0")}));
    PrepareOk(*state, Claim("b", kUidB, {Result("gpu", "gpu-1")}));
    EXPECT_OK(state->Unprepare({Ref(Claim("a", kUidA, {}))})[std::string(kUidA)]);
  }
  // The same boot: nothing to re-apply, but the driver's in-memory state (MPS
  // and time-slice reference counts) must come back from the checkpoint.
  std::unique_ptr<DeviceState> state = Start("boot-1");
  using Restored = std::pair<std::string, std::vector<std::string>>;
  EXPECT_THAT(driver_.restored(), ElementsAre(Restored{std::string(kUidB), {"gpu-1"}}));
  EXPECT_THAT(driver_.reapplied(), ::testing::IsEmpty());
}

TEST_F(DeviceStateTest, FailedReapplyIsRetriedAtTheNextStart) {
  {
    std::unique_ptr<DeviceState> state = Start("boot-1");
    PrepareOk(*state, Claim("a", kUidA, {Result("gpu", "gpu-0")}));
  }
  driver_.FailNext(FakeDriver::Call::kReapply, absl::UnavailableError("driver not loaded"));
  {
    std::unique_ptr<DeviceState> state = Start("boot-2");
    EXPECT_EQ(state->reconcile_report().errors, 1);
    EXPECT_EQ(DriverCount("tessera_claim_reconcile_errors_total"), 1);
  }
  std::unique_ptr<DeviceState> state = Start("boot-2");
  EXPECT_TRUE(state->reconcile_report().boot_id_changed);
  EXPECT_EQ(state->reconcile_report().claims_reapplied, 1);
  EXPECT_THAT(driver_.reapplied(), ElementsAre(kUidA));
}

TEST_F(DeviceStateTest, InterruptedPrepareIsRolledBackAtStart) {
  // What a crash between PrepareStarted and Prepared leaves: a PrepareStarted
  // entry, host state from the driver, and maybe the spec.
  driver_.set_side_effects(true);
  ClaimRecord started;
  started.uid = std::string(kUidA);
  started.namespace_ = "team-a";
  started.name = "train";
  started.devices = {{.request_names = {"gpu"}, .pool = "node-1", .device = "gpu-2"}};
  {
    ASSERT_OK_AND_ASSIGN(
        std::unique_ptr<kubelet::checkpoint::Checkpoint> cp,
        kubelet::checkpoint::Checkpoint::Open(real_, tmp_.Sub("state/gpu.tessera.dev")));
    ASSERT_OK(cp->SetBootId("boot-1"));
    ASSERT_OK(cp->AppendPrepareStarted(started));
    ASSERT_OK(driver_
                  .PrepareClaim({.claim_uid = std::string(kUidA),
                                 .devices = {{.request = "gpu", .device = "gpu-2"}}})
                  .status());
    ASSERT_OK(real_.CreateDirectories(tmp_.Sub("cdi"), 0755));
    ASSERT_OK(cdi::SpecDir(real_, tmp_.Sub("cdi"))
                  .Write(cdi::ClaimSpecFileName(kDriver, kUidA),
                         {.kind = std::string(kKind),
                          .devices = {{.name = std::string(kUidA) + "-gpu-2",
                                       .edits = {.env = {"A=1"}}}}}));
  }
  ASSERT_THAT(driver_.applied(), SizeIs(1));

  std::unique_ptr<DeviceState> state = Start("boot-1");
  EXPECT_EQ(state->reconcile_report().prepare_started_rolled_back, 1);
  EXPECT_EQ(driver_.last_unprepared().devices[0].device, "gpu-2");
  EXPECT_THAT(driver_.applied(), IsEmpty());
  EXPECT_THAT(CdiFiles(), IsEmpty());
  EXPECT_THAT(CheckpointedUids(), IsEmpty());
}

TEST_F(DeviceStateTest, DamagedCheckpointIsQuarantinedAndClaimsRecoveredFromSpecs) {
  PrepareResult a;
  {
    std::unique_ptr<DeviceState> state = Start();
    a = PrepareOk(*state, Claim("a", kUidA, {Result("gpu", "gpu-0")}));
  }
  // Damage the journal in the middle (records follow the bad one).
  const std::string journal = tmp_.Sub("state/gpu.tessera.dev/checkpoint.log");
  {
    std::unique_ptr<DeviceState> state = Start();
    PrepareOk(*state, Claim("b", kUidB, {Result("gpu", "gpu-1")}));
  }
  ASSERT_OK_AND_ASSIGN(std::string text, real_.ReadFile(journal));
  ASSERT_NE(text.find("gpu-1"), std::string::npos);
  const std::string valid_record = text.substr(text.find('\n') + 1);
  text[text.find("gpu-1")] = 'X';
  text += valid_record;  // damage in the middle: a valid record follows
  ASSERT_OK(real_.WriteFileAtomic(journal, text, {}));
  // The snapshot (written at the last start) still holds claim A only.
  const auto files_before = CdiFiles();

  std::unique_ptr<DeviceState> state = Start();
  const ReconcileReport& report = state->reconcile_report();
  EXPECT_TRUE(report.checkpoint_recovered);
  EXPECT_EQ(report.claims_recovered_from_specs, 2);
  EXPECT_EQ(report.orphan_specs_removed, 0);
  EXPECT_EQ(CdiFiles(), files_before);  // running containers keep their devices
  EXPECT_EQ(DriverCount("tessera_checkpoint_recoveries_total"), 1);
  ASSERT_OK_AND_ASSIGN(std::vector<std::string> state_files,
                       real_.ListDir(tmp_.Sub("state/gpu.tessera.dev")));
  EXPECT_THAT(state_files, ::testing::Contains(::testing::StartsWith("checkpoint.log.corrupt-")));

  // A recovered claim prepares again through the driver, with the same ids.
  source_.Put(Claim("a", kUidA, {Result("gpu", "gpu-0")}));
  std::map<std::string, PrepareResult> again = state->Prepare({Ref(Claim("a", kUidA, {}))});
  EXPECT_TRUE(SameResults(again[std::string(kUidA)], a));
  // Unpreparing a recovered claim removes its spec without a driver call.
  const int unprepares = driver_.calls(FakeDriver::Call::kUnprepare);
  EXPECT_OK(state->Unprepare({Ref(Claim("b", kUidB, {}))})[std::string(kUidB)]);
  EXPECT_EQ(driver_.calls(FakeDriver::Call::kUnprepare), unprepares);
  EXPECT_FALSE(real_.Exists(SpecPath(kUidB)));
}

TEST_F(DeviceStateTest, NewerCheckpointStopsTheAgent) {
  ASSERT_OK(real_.CreateDirectories(tmp_.Sub("state/gpu.tessera.dev"), 0700));
  ASSERT_OK(real_.WriteFileAtomic(
      tmp_.Sub("state/gpu.tessera.dev/checkpoint.json"),
      R"({"apiVersion":"checkpoint.tessera.dev/v9","kind":"DeviceStateCheckpoint","data":"{}","checksum":0})",
      {}));
  EXPECT_THAT(DeviceState::Create(Options(), driver_, source_, fs_, clock_, metrics_),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("v9")));
}

TEST_F(DeviceStateTest, RejectsBadOptions) {
  DeviceStateOptions options = Options();
  for (const char* bad : {"", "GPU.tessera.dev", "gpu tessera", "gpu.tessera.dev.", "/etc"}) {
    options.driver_name = bad;
    EXPECT_THAT(DeviceState::Create(options, driver_, source_, fs_, clock_, metrics_),
                StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("driver name")))
        << bad;
  }
  options = Options();
  options.boot_id = "";
  EXPECT_THAT(DeviceState::Create(options, driver_, source_, fs_, clock_, metrics_),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("boot id")));
}

TEST_F(DeviceStateTest, ReadCheckpointNeedsNoDriverAndWritesNothing) {
  {
    std::unique_ptr<DeviceState> state = Start();
    PrepareOk(*state, Claim("a", kUidA, {Result("gpu", "gpu-0")}));
    PrepareOk(*state, Claim("b", kUidB, {Result("gpu", "gpu-1")}));
  }
  ASSERT_OK(real_.RemoveFile(SpecPath(kUidB), false));
  const uint64_t fsyncs = real_.fsync_count();
  ASSERT_OK_AND_ASSIGN(CheckpointView view, ReadCheckpoint(real_, tmp_.Sub("state/gpu.tessera.dev"),
                                                           tmp_.Sub("cdi"), kDriver));
  EXPECT_EQ(real_.fsync_count(), fsyncs);
  EXPECT_EQ(view.boot_id, "boot-1");
  ASSERT_THAT(view.claims, SizeIs(2));
  EXPECT_EQ(view.claims[0].record.name, "a");
  EXPECT_TRUE(view.claims[0].spec_present);
  EXPECT_FALSE(view.claims[1].spec_present);
  EXPECT_EQ(view.claims[1].spec_path, SpecPath(kUidB));
  ASSERT_OK_AND_ASSIGN(CheckpointView empty,
                       ReadCheckpoint(real_, tmp_.Sub("absent"), tmp_.Sub("cdi"), kDriver));
  EXPECT_THAT(empty.claims, IsEmpty());
  EXPECT_FALSE(real_.Exists(tmp_.Sub("absent")));
}

// Rolling update: the old and the new agent pod serve the same driver from
// the same directories, taking turns under the plugin's file lock.
TEST_F(DeviceStateTest, InstancesSharingTheDirectoriesSeeEachOthersClaims) {
  driver_.set_side_effects(true);
  DeviceStateOptions options = Options();
  options.shared_with_other_instances = true;
  options.compact_after_records = 3;
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<DeviceState> old_pod,
                       DeviceState::Create(options, driver_, source_, fs_, clock_, metrics_));
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<DeviceState> new_pod,
                       DeviceState::Create(options, driver_, source_, fs_, clock_, metrics_));
  ResourceClaim a = Claim("a", kUidA, {Result("gpu", "gpu-0")});
  ResourceClaim b = Claim("b", kUidB, {Result("gpu", "gpu-1")});
  PrepareResult a_result = PrepareOk(*old_pod, a);
  // The new pod answers the repeated prepare from the shared checkpoint...
  EXPECT_TRUE(SameResults(new_pod->Prepare({Ref(a)})[a.uid], a_result));
  EXPECT_EQ(driver_.calls(FakeDriver::Call::kPrepare), 1);
  PrepareOk(*new_pod, b);
  // ...and the old pod undoes a claim the new pod prepared (not "unknown").
  EXPECT_OK(old_pod->Unprepare({Ref(b)})[b.uid]);
  EXPECT_EQ(driver_.applied(),
            (std::map<std::string, std::set<std::string>>{{std::string(kUidA), {"gpu-0"}}}));
  EXPECT_OK(new_pod->Unprepare({Ref(a)})[a.uid]);
  EXPECT_THAT(driver_.applied(), IsEmpty());
  EXPECT_THAT(CdiFiles(), IsEmpty());
  EXPECT_THAT(CheckpointedUids(), IsEmpty());
}

TEST_F(DeviceStateTest, ConcurrentCallersAreSerialized) {
  std::unique_ptr<DeviceState> state = Start();
  std::vector<ResourceClaim> claims;
  for (int i = 0; i < 8; ++i) {
    claims.push_back(Claim("c" + std::to_string(i),
                           "eeeeeeee-0000-4000-8000-00000000000" + std::to_string(i),
                           {Result("gpu", "gpu-" + std::to_string(i % 4))}));
    source_.Put(claims.back());
  }
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int round = 0; round < 5; ++round) {
        for (int i = t; i < 8; i += 4) {
          EXPECT_OK(state->Prepare({Ref(claims[i])})[claims[i].uid].status);
          if (round % 2 == 1) {
            EXPECT_OK(state->Unprepare({Ref(claims[i])})[claims[i].uid]);
          }
        }
      }
    });
  }
  for (std::thread& th : threads) th.join();
  EXPECT_THAT(state->Claims(), SizeIs(8));
  EXPECT_THAT(CheckpointedUids(), SizeIs(8));
  EXPECT_THAT(CdiFiles(), SizeIs(8));
}

}  // namespace
}  // namespace tessera::agent
