#include "kubelet/socket_paths.h"

#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

#include "test/matchers/status_matchers.h"

namespace tessera::kubelet {
namespace {

using ::tessera::testing::IsOk;
using ::tessera::testing::StatusIs;
using ::testing::HasSubstr;

constexpr char kUid[] = "f358c92b-e974-4f29-a84f-6c64bec0949d";
// printf %s "$kUid" | sha256sum
constexpr char kUidSha256Prefix16[] = "5bbe46c443fa47d0";
constexpr char kLongDriver[] = "gpu-accelerators.example.tessera.dev";  // 36 bytes
// printf 'gpu-accelerators.example.tessera.dev\0<kUid>' | sha256sum, first 32
constexpr char kDriverAndUidSha256Prefix32[] = "b663be2718ae2f568f3202f526e97bcf";

TEST(ComputePluginPathsTest, UsesKubeletDefaults) {
  absl::StatusOr<PluginPaths> paths =
      ComputePluginPaths(SocketPathOptions{.driver_name = "gpu.tessera.dev"});
  ASSERT_THAT(paths, IsOk());
  EXPECT_EQ(paths->plugin_data_dir, "/var/lib/kubelet/plugins/gpu.tessera.dev");
  EXPECT_EQ(paths->dra_socket, "/var/lib/kubelet/plugins/gpu.tessera.dev/dra.sock");
  EXPECT_EQ(paths->registration_socket,
            "/var/lib/kubelet/plugins_registry/gpu.tessera.dev-reg.sock");
  EXPECT_EQ(paths->serialize_lock, "/var/lib/kubelet/plugins/gpu.tessera.dev/serialize.lock");
}

TEST(ComputePluginPathsTest, CleansDirectories) {
  absl::StatusOr<PluginPaths> paths =
      ComputePluginPaths(SocketPathOptions{.driver_name = "gpu.tessera.dev",
                                           .plugin_dir = "/var/lib//kubelet/./plugins/",
                                           .registry_dir = "/var/lib/kubelet/plugins_registry/./"});
  ASSERT_THAT(paths, IsOk());
  EXPECT_EQ(paths->dra_socket, "/var/lib/kubelet/plugins/gpu.tessera.dev/dra.sock");
  EXPECT_EQ(paths->registration_socket,
            "/var/lib/kubelet/plugins_registry/gpu.tessera.dev-reg.sock");
}

TEST(ComputePluginPathsTest, RollingUpdateNamesCarryThePodUid) {
  absl::StatusOr<PluginPaths> paths =
      ComputePluginPaths(SocketPathOptions{.driver_name = "gpu.tessera.dev", .pod_uid = kUid});
  ASSERT_THAT(paths, IsOk());
  EXPECT_EQ(paths->dra_socket,
            std::string("/var/lib/kubelet/plugins/gpu.tessera.dev/dra-") + kUid + ".sock");
  EXPECT_EQ(paths->registration_socket,
            std::string("/var/lib/kubelet/plugins_registry/gpu.tessera.dev-") + kUid + "-reg.sock");
  // The lock is shared by all instances of the driver: no uid in it.
  EXPECT_EQ(paths->serialize_lock, "/var/lib/kubelet/plugins/gpu.tessera.dev/serialize.lock");
}

TEST(RollingUpdateRegistrationSocketNameTest, KeepsFullUidUpTo107Bytes) {
  const std::string dir = "/var/lib/kubelet/plugins_registry";
  const std::string driver27 = std::string(15, 'a') + ".example.org";
  std::string name = RollingUpdateRegistrationSocketName(dir, driver27, kUid);
  EXPECT_EQ(name, driver27 + "-" + kUid + "-reg.sock");
  EXPECT_EQ((dir + "/" + name).size(), 107u);
}

TEST(RollingUpdateRegistrationSocketNameTest, HashesUidWhenFullNameIsTooLong) {
  const std::string dir = "/var/lib/kubelet/plugins_registry";
  const std::string driver28 = std::string(16, 'a') + ".example.org";
  std::string name = RollingUpdateRegistrationSocketName(dir, driver28, kUid);
  EXPECT_EQ(name, driver28 + "-" + kUidSha256Prefix16 + "-reg.sock");
}

TEST(RollingUpdateRegistrationSocketNameTest, HashesDriverAndUidAsLastResort) {
  const std::string fits_hashed_uid = "/" + std::string(40, 'r');
  EXPECT_EQ(RollingUpdateRegistrationSocketName(fits_hashed_uid, kLongDriver, kUid),
            std::string(kLongDriver) + "-" + kUidSha256Prefix16 + "-reg.sock");

  const std::string too_long_for_driver = "/" + std::string(50, 'r');
  EXPECT_EQ(RollingUpdateRegistrationSocketName(too_long_for_driver, kLongDriver, kUid),
            std::string("dra-") + kDriverAndUidSha256Prefix32 + "-reg.sock");
}

TEST(RollingUpdateRegistrationSocketNameTest, AlwaysFitsWhenTheDirectoryAllowsIt) {
  // Up to 61 bytes of directory, the 45-byte shortest name always fits.
  for (size_t dir_len = 2; dir_len <= 61; ++dir_len) {
    for (const std::string& driver :
         {std::string("a.io"), std::string(kLongDriver), std::string(63, 'x')}) {
      std::string dir = "/" + std::string(dir_len - 1, 'r');
      std::string name = RollingUpdateRegistrationSocketName(dir, driver, kUid);
      EXPECT_LE((dir + "/" + name).size(), kMaxSocketPathBytes) << dir << " " << driver;
    }
  }
}

TEST(RollingUpdateRegistrationSocketNameTest, DistinctInputsGiveDistinctNames) {
  const std::string dir = "/" + std::string(60, 'r');  // forces the shortest form
  std::string a = RollingUpdateRegistrationSocketName(dir, kLongDriver, kUid);
  std::string b =
      RollingUpdateRegistrationSocketName(dir, "other-driver.example.tessera.dev", kUid);
  std::string c =
      RollingUpdateRegistrationSocketName(dir, kLongDriver, "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee");
  EXPECT_NE(a, b);
  EXPECT_NE(a, c);
  EXPECT_EQ(a, RollingUpdateRegistrationSocketName(dir, kLongDriver, kUid));
}

TEST(ComputePluginPathsTest, RejectsRegistryDirTooLongForAnyName) {
  absl::StatusOr<PluginPaths> paths = ComputePluginPaths(SocketPathOptions{
      .driver_name = kLongDriver, .registry_dir = "/" + std::string(62, 'r'), .pod_uid = kUid});
  EXPECT_THAT(paths,
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("registration socket")));
}

TEST(ComputePluginPathsTest, RejectsDraSocketTooLong) {
  absl::StatusOr<PluginPaths> paths = ComputePluginPaths(SocketPathOptions{
      .driver_name = "gpu.tessera.dev", .plugin_dir = "/" + std::string(90, 'p')});
  EXPECT_THAT(paths, StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("DRA socket")));
}

TEST(ComputePluginPathsTest, RejectsBadDriverNames) {
  for (const std::string& bad :
       {std::string(""), std::string("Gpu.tessera.dev"), std::string("gpu/../x"), std::string(".."),
        std::string("-gpu.dev"), std::string("gpu-.dev"), std::string("gpu..dev"),
        std::string("gpu.dev."), std::string(64, 'a')}) {
    EXPECT_THAT(ComputePluginPaths(SocketPathOptions{.driver_name = bad}),
                StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("driver name")))
        << bad;
  }
  EXPECT_THAT(ComputePluginPaths(SocketPathOptions{.driver_name = std::string(63, 'a')}), IsOk());
}

TEST(ComputePluginPathsTest, RejectsBadPodUidAndRelativeDirs) {
  EXPECT_THAT(
      ComputePluginPaths(SocketPathOptions{.driver_name = "gpu.tessera.dev", .pod_uid = "../etc"}),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("pod uid")));
  EXPECT_THAT(ComputePluginPaths(
                  SocketPathOptions{.driver_name = "gpu.tessera.dev", .plugin_dir = "plugins"}),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("plugin dir")));
  EXPECT_THAT(
      ComputePluginPaths(SocketPathOptions{.driver_name = "gpu.tessera.dev", .registry_dir = ""}),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("registry dir")));
}

}  // namespace
}  // namespace tessera::kubelet
