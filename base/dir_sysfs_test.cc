#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "base/sysfs.h"
#include "gtest/gtest.h"
#include "test/fakes/base/faulty_sysfs.h"
#include "test/fakes/base/temp_dir.h"
#include "test/matchers/status_matchers.h"

namespace tessera::base {
namespace {

using ::tessera::testing::IsOkAndHolds;
using ::tessera::testing::StatusIs;
using ::testing::ElementsAre;

class DirSysfsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    namespace fs = std::filesystem;
    root_ = dir_.Sub("sys");
    fs::create_directories(root_ + "/devices/pci0000:80/0000:80:02.2/0000:82:00.0");
    fs::create_directories(root_ + "/bus/pci/devices");
    Write("devices/pci0000:80/0000:80:02.2/0000:82:00.0/vendor", "0x15b3\n");
    fs::create_directory_symlink("../../../devices/pci0000:80/0000:80:02.2/0000:82:00.0",
                                 root_ + "/bus/pci/devices/0000:82:00.0");
    // An absolute link, as some captures hold: must resolve inside the root.
    fs::create_directory_symlink("/sys/devices/pci0000:80/0000:80:02.2",
                                 root_ + "/bus/pci/devices/0000:80:02.2");
    fs::create_directory_symlink("../../../../..", root_ + "/bus/pci/devices/escape");
  }
  void Write(const std::string& rel, const std::string& data) {
    std::ofstream(root_ + "/" + rel) << data;
  }

  tessera::testing::TempDir dir_;
  std::string root_;
};

TEST_F(DirSysfsTest, ReadsAttributesThroughLinks) {
  DirSysfs sysfs(root_);
  EXPECT_THAT(sysfs.ReadAttribute("bus/pci/devices/0000:82:00.0/vendor"), IsOkAndHolds("0x15b3\n"));
  EXPECT_THAT(sysfs.ReadAttribute("/bus/pci/devices/0000:82:00.0/vendor"), IsOkAndHolds("0x15b3\n"));
}

TEST_F(DirSysfsTest, MissingAttributeIsNotFound) {
  DirSysfs sysfs(root_);
  EXPECT_THAT(sysfs.ReadAttribute("bus/pci/devices/0000:82:00.0/numa_node"),
              StatusIs(absl::StatusCode::kNotFound, ::testing::HasSubstr("numa_node")));
}

TEST_F(DirSysfsTest, ReadsAPrefixOfABinaryAttribute) {
  std::string config(4096, '\0');
  for (size_t i = 0; i < config.size(); ++i) config[i] = static_cast<char>(i & 0xff);
  Write("devices/pci0000:80/0000:80:02.2/0000:82:00.0/config", config);
  DirSysfs sysfs(root_);
  EXPECT_THAT(sysfs.ReadAttributePrefix("bus/pci/devices/0000:82:00.0/config", 64),
              IsOkAndHolds(config.substr(0, 64)));
  // Shorter files come back whole; missing ones keep ReadAttribute's code.
  EXPECT_THAT(sysfs.ReadAttributePrefix("bus/pci/devices/0000:82:00.0/vendor", 64),
              IsOkAndHolds("0x15b3\n"));
  EXPECT_THAT(sysfs.ReadAttributePrefix("bus/pci/devices/0000:82:00.0/missing", 64),
              StatusIs(absl::StatusCode::kNotFound));
  // The default implementation (used by wrappers) truncates the same way.
  tessera::testing::FaultySysfs faulty(sysfs);
  EXPECT_THAT(faulty.ReadAttributePrefix("bus/pci/devices/0000:82:00.0/config", 256),
              IsOkAndHolds(config.substr(0, 256)));
}

TEST_F(DirSysfsTest, ListsSorted) {
  DirSysfs sysfs(root_);
  EXPECT_THAT(sysfs.ListDir("bus/pci/devices"),
              IsOkAndHolds(ElementsAre("0000:80:02.2", "0000:82:00.0", "escape")));
}

TEST_F(DirSysfsTest, ResolvesRelativeAndAbsoluteLinksInsideRoot) {
  DirSysfs sysfs(root_);
  EXPECT_THAT(sysfs.Resolve("bus/pci/devices/0000:82:00.0"),
              IsOkAndHolds("devices/pci0000:80/0000:80:02.2/0000:82:00.0"));
  EXPECT_THAT(sysfs.Resolve("bus/pci/devices/0000:80:02.2"),
              IsOkAndHolds("devices/pci0000:80/0000:80:02.2"));
  EXPECT_THAT(sysfs.ReadLink("bus/pci/devices/0000:82:00.0"),
              IsOkAndHolds("../../../devices/pci0000:80/0000:80:02.2/0000:82:00.0"));
}

TEST_F(DirSysfsTest, RefusesToEscapeRoot) {
  DirSysfs sysfs(root_);
  EXPECT_THAT(sysfs.Resolve("bus/pci/devices/escape/etc"),
              StatusIs(absl::StatusCode::kFailedPrecondition));
}

TEST_F(DirSysfsTest, ReadLinkOfPlainFileIsInvalidArgument) {
  DirSysfs sysfs(root_);
  EXPECT_THAT(sysfs.ReadLink("devices/pci0000:80/0000:80:02.2/0000:82:00.0/vendor"),
              StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST_F(DirSysfsTest, FaultySysfsInjectsErrorsAndVanishing) {
  DirSysfs real(root_);
  tessera::testing::FaultySysfs faulty(real);
  faulty.set_injector([](std::string_view op, std::string_view path) {
    if (op == "read" && path.find("vendor") != std::string_view::npos) {
      return absl::PermissionDeniedError("injected");
    }
    if (path.find("0000:82:00.0") != std::string_view::npos) return absl::NotFoundError("gone");
    return absl::OkStatus();
  });
  EXPECT_THAT(faulty.ReadAttribute("x/vendor"), StatusIs(absl::StatusCode::kPermissionDenied));
  EXPECT_FALSE(faulty.Exists("bus/pci/devices/0000:82:00.0"));
  EXPECT_TRUE(faulty.Exists("bus/pci/devices/0000:80:02.2"));
}

}  // namespace
}  // namespace tessera::base
