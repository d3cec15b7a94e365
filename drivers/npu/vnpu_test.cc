#include "drivers/npu/vnpu.h"

#include <set>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace tessera::drivers::npu {
namespace {

using ::testing::ElementsAre;

TEST(VnpuTest, TemplatesOf910B3MatchThePublishedTable) {
  const ChipTemplates* chip = FindChipTemplates("910B3");
  ASSERT_NE(chip, nullptr);
  EXPECT_EQ(chip->aicore, 20u);
  EXPECT_EQ(chip->aicpu, 7u);
  EXPECT_EQ(chip->memory_mib, 65536u);
  ASSERT_EQ(chip->templates.size(), 2u);
  EXPECT_EQ(chip->templates[0].name, "vir10_3c_32g");
  EXPECT_EQ(chip->templates[1].name, "vir05_1c_16g");
  EXPECT_EQ(chip->templates[1].aicore, 5u);
  EXPECT_EQ(chip->templates[1].aicpu, 1u);
  EXPECT_EQ(chip->templates[1].memory_mib, 16384u);
}

TEST(VnpuTest, UnknownChipsOfferNoVnpus) {
  EXPECT_EQ(FindChipTemplates("910B"), nullptr);   // sysfs-only name, no variant
  EXPECT_EQ(FindChipTemplates("910b3"), nullptr);  // DCMI names are upper case
  EXPECT_EQ(FindChipTemplates(""), nullptr);
}

TEST(VnpuTest, MaxInstancesIsBoundByTheScarcestCounter) {
  const ChipTemplates* b3 = FindChipTemplates("910B3");
  ASSERT_NE(b3, nullptr);
  EXPECT_EQ(MaxInstances(*b3, b3->templates[0]), 2u);  // 20/10 cores, 7/3 cpus, 64/32 GiB
  EXPECT_EQ(MaxInstances(*b3, b3->templates[1]), 4u);  // 64/16 GiB and 20/5 cores
  const ChipTemplates* p3 = FindChipTemplates("310P3");
  ASSERT_NE(p3, nullptr);
  // vir01: 8 cores but 7 AI CPUs and 21527/3072 = 7 memory shares.
  EXPECT_EQ(MaxInstances(*p3, p3->templates[2]), 7u);
}

TEST(VnpuTest, SlotsOf910B3HaveFixedIdsInTheChipsRange) {
  const ChipTemplates* b3 = FindChipTemplates("910B3");
  ASSERT_NE(b3, nullptr);
  std::vector<VnpuSlot> slots = PlanVnpuSlots(*b3, /*physical_id=*/2);
  ASSERT_EQ(slots.size(), 6u);
  // Largest template first; ids from 100 + 16 * 2 = 132 (npu-smi's range).
  EXPECT_EQ(slots[0].tmpl->name, "vir10_3c_32g");
  EXPECT_EQ(slots[0].vnpu_id, 132);
  EXPECT_EQ(slots[1].tmpl->name, "vir10_3c_32g");
  EXPECT_EQ(slots[1].instance, 1);
  EXPECT_EQ(slots[2].tmpl->name, "vir05_1c_16g");
  EXPECT_EQ(slots[2].instance, 0);
  EXPECT_EQ(slots[5].vnpu_id, 137);
}

TEST(VnpuTest, EveryChipFitsItsSlotsIntoSixteenIds) {
  for (std::string_view name : ChipsWithTemplates()) {
    const ChipTemplates* chip = FindChipTemplates(name);
    ASSERT_NE(chip, nullptr);
    for (int phy : {0, 7}) {
      std::vector<VnpuSlot> slots = PlanVnpuSlots(*chip, phy);
      ASSERT_FALSE(slots.empty()) << name;
      ASSERT_LE(slots.size(), 16u) << name;
      std::set<int> ids;
      for (const VnpuSlot& s : slots) {
        EXPECT_GE(s.vnpu_id, 100 + 16 * phy) << name;
        EXPECT_LE(s.vnpu_id, 115 + 16 * phy) << name;
        ids.insert(s.vnpu_id);
      }
      EXPECT_EQ(ids.size(), slots.size()) << name << ": ids must be unique";
    }
  }
}

TEST(VnpuTest, A910ChipWithMoreTemplatesThanIdsGivesTheSmallestFewerSlots) {
  const ChipTemplates* a = FindChipTemplates("910A");
  ASSERT_NE(a, nullptr);
  std::vector<VnpuSlot> slots = PlanVnpuSlots(*a, 0);
  ASSERT_EQ(slots.size(), 16u);
  int vir02 = 0;
  for (const VnpuSlot& s : slots) vir02 += s.tmpl->name == "vir02";
  // vir16 x1, vir08 x3, vir04 x7 use 11 ids; 5 are left for vir02 (of 15).
  EXPECT_EQ(vir02, 5);
}

TEST(VnpuTest, TemplateLabelIsADnsLabel) {
  EXPECT_EQ(TemplateLabel("vir05_1c_16g"), "vir05-1c-16g");
  EXPECT_EQ(TemplateLabel("vir04"), "vir04");
}

TEST(VnpuTest, NpuSmiCommandsAreWhatTheVendorDocuments) {
  EXPECT_THAT(CreateVnpuArgv("npu-smi", 3, 0, "vir05_1c_16g", 150),
              ElementsAre("npu-smi", "set", "-t", "create-vnpu", "-i", "3", "-c", "0", "-f",
                          "vir05_1c_16g", "-v", "150"));
  EXPECT_THAT(DestroyVnpuArgv("/usr/local/sbin/npu-smi", 3, 1, 150),
              ElementsAre("/usr/local/sbin/npu-smi", "set", "-t", "destroy-vnpu", "-i", "3", "-c",
                          "1", "-v", "150"));
  EXPECT_EQ(VnpuDevicePath(150), "/dev/vdavinci150");
}

}  // namespace
}  // namespace tessera::drivers::npu
