// RDMA netlink wire format, byte for byte, against the kernel uapi values
// cited below (include/uapi/rdma/rdma_netlink.h, include/uapi/linux/netlink.h
// of Linux 6.1, as packaged in linux-libc-dev), and the error path of a kernel
// without RDMA. This machine's kernel has no CONFIG_INFINIBAND, so nothing
// here talks to a real RDMA device.
#include "drivers/rdma/rdma_netlink.h"

#include <errno.h>
#include <linux/netlink.h>

#include <bit>
#include <cstring>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include <rdma/rdma_netlink.h>

#include "test/matchers/status_matchers.h"

namespace tessera::drivers::rdma {
namespace {

using ::tessera::testing::IsOkAndHolds;
using ::tessera::testing::StatusIs;
using ::testing::ElementsAreArray;
using ::testing::HasSubstr;

// The numbers the expected bytes below are written from. If a header ever
// disagrees, this fails to compile rather than the bytes silently following it.
static_assert(RDMA_NL_NLDEV == 5);
static_assert(RDMA_NLDEV_CMD_GET == 1);
static_assert(RDMA_NLDEV_CMD_SET == 2);
static_assert(RDMA_NLDEV_CMD_SYS_GET == 6);
static_assert(RDMA_NLDEV_ATTR_DEV_INDEX == 1);
static_assert(RDMA_NLDEV_ATTR_DEV_NAME == 2);
static_assert(RDMA_NLDEV_SYS_ATTR_NETNS_MODE == 66);
static_assert(RDMA_NLDEV_NET_NS_FD == 68);
static_assert(NLM_F_REQUEST == 0x1 && NLM_F_ACK == 0x4 && NLM_F_DUMP == 0x300);
static_assert(NLMSG_ERROR == 2 && NLMSG_DONE == 3);
// Netlink is host byte order; the literals below are little-endian.
static_assert(std::endian::native == std::endian::little);

TEST(RdmaNetlinkCodecTest, MessageTypeIsClientShiftedByTen) {
  EXPECT_EQ(NldevMessageType(6), (5 << 10) + 6);  // 0x1406
  EXPECT_EQ(NldevMessageType(2), 0x1402);
}

TEST(RdmaNetlinkCodecTest, SysGetRequestBytes) {
  const std::vector<uint8_t> want = {
      0x10, 0x00, 0x00, 0x00,  // nlmsg_len 16: header only, no attributes
      0x06, 0x14,              // nlmsg_type 0x1406 = RDMA_NL_GET_TYPE(NLDEV, SYS_GET)
      0x05, 0x00,              // NLM_F_REQUEST | NLM_F_ACK
      0x2a, 0x00, 0x00, 0x00,  // seq 42
      0x00, 0x00, 0x00, 0x00,  // pid 0
  };
  EXPECT_THAT(EncodeSysGetRequest(42), ElementsAreArray(want));
}

TEST(RdmaNetlinkCodecTest, DeviceDumpRequestBytes) {
  const std::vector<uint8_t> want = {
      0x10, 0x00, 0x00, 0x00,  // len 16
      0x01, 0x14,              // 0x1401 = RDMA_NL_GET_TYPE(NLDEV, GET)
      0x05, 0x03,              // REQUEST | ACK | DUMP (0x305)
      0x07, 0x00, 0x00, 0x00,  // seq 7
      0x00, 0x00, 0x00, 0x00,
  };
  EXPECT_THAT(EncodeDeviceDumpRequest(7), ElementsAreArray(want));
}

TEST(RdmaNetlinkCodecTest, SetNetnsRequestBytes) {
  const std::vector<uint8_t> want = {
      0x20, 0x00, 0x00, 0x00,  // len 32 = 16 + 2 attributes of 8
      0x02, 0x14,              // 0x1402 = RDMA_NL_GET_TYPE(NLDEV, SET)
      0x05, 0x00,              // REQUEST | ACK
      0x03, 0x01, 0x00, 0x00,  // seq 259
      0x00, 0x00, 0x00, 0x00,  // pid 0
      0x08, 0x00, 0x01, 0x00,  // nla_len 8, RDMA_NLDEV_ATTR_DEV_INDEX
      0x02, 0x00, 0x00, 0x00,  //   index 2
      0x08, 0x00, 0x44, 0x00,  // nla_len 8, RDMA_NLDEV_NET_NS_FD (68)
      0x0b, 0x00, 0x00, 0x00,  //   fd 11
  };
  EXPECT_THAT(EncodeSetNetnsRequest(259, 2, 11), ElementsAreArray(want));
}

// A reply buffer as nldev.c sends it: SYS_GET reply, then the ack.
std::vector<uint8_t> SysGetReply(uint8_t mode) {
  return {
      0x20, 0x00, 0x00, 0x00, 0x06, 0x14, 0x00, 0x00,  // len 32, type 0x1406
      0x2a, 0x00, 0x00, 0x00, 0x99, 0x00, 0x00, 0x00,  // seq 42, pid 153
      0x05, 0x00, 0x42, 0x00, mode, 0x00, 0x00, 0x00,  // NETNS_MODE (66) u8 + pad
      0x05, 0x00, 0x43, 0x00, 0x01, 0x00, 0x00, 0x00,  // COPY_ON_FORK (67) u8 + pad
      0x24, 0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x01,  // len 36, NLMSG_ERROR, NLM_F_CAPPED
      0x2a, 0x00, 0x00, 0x00, 0x99, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,  // error 0: ack
      0x10, 0x00, 0x00, 0x00, 0x06, 0x14, 0x05, 0x00,  // the request's header
      0x2a, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
  };
}

TEST(RdmaNetlinkCodecTest, DecodesTheNetnsMode) {
  std::vector<uint8_t> buf = SysGetReply(1);
  ASSERT_OK_AND_ASSIGN(std::vector<NlMessage> msgs, SplitNetlinkMessages(buf));
  ASSERT_EQ(msgs.size(), 2u);
  EXPECT_EQ(msgs[0].type, 0x1406);
  EXPECT_EQ(msgs[0].seq, 42u);
  EXPECT_THAT(DecodeSysGetReply(msgs[0].payload), IsOkAndHolds(RdmaNetnsMode::kShared));
  EXPECT_EQ(msgs[1].type, NLMSG_ERROR);
  EXPECT_OK(DecodeNetlinkError(msgs[1].payload, "get mode"));

  std::vector<uint8_t> exclusive = SysGetReply(0);
  ASSERT_OK_AND_ASSIGN(msgs, SplitNetlinkMessages(exclusive));
  EXPECT_THAT(DecodeSysGetReply(msgs[0].payload), IsOkAndHolds(RdmaNetnsMode::kExclusive));
  EXPECT_EQ(RdmaNetnsModeName(RdmaNetnsMode::kExclusive), "exclusive");
}

TEST(RdmaNetlinkCodecTest, DecodesDeviceReplies) {
  const std::vector<uint8_t> payload = {
      0x08, 0x00, 0x01, 0x00, 0x03, 0x00, 0x00, 0x00,  // DEV_INDEX 3
      0x0b, 0x00, 0x02, 0x00, 'm',  'l',  'x',  '5',   // DEV_NAME "mlx5_0\0"
      '_',  '0',  0x00, 0x00,                          // (len 11, padded to 12)
      0x08, 0x00, 0x63, 0x00, 0x01, 0x00, 0x00, 0x00,  // an attribute we ignore
  };
  EXPECT_THAT(DecodeDeviceReply(payload),
              IsOkAndHolds(RdmaDeviceRef{.index = 3, .name = "mlx5_0"}));
  EXPECT_THAT(DecodeDeviceReply(std::vector<uint8_t>(payload.begin(), payload.begin() + 8)),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("name missing")));
}

TEST(RdmaNetlinkCodecTest, RejectsMalformedReplies) {
  EXPECT_THAT(SplitNetlinkMessages(std::vector<uint8_t>{0x10, 0x00}),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("truncated")));
  std::vector<uint8_t> too_long = EncodeSysGetRequest(1);
  too_long[0] = 0x40;
  EXPECT_THAT(SplitNetlinkMessages(too_long),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("bad message length")));
  EXPECT_THAT(DecodeSysGetReply({}),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("NETNS_MODE missing")));
  // An attribute claiming more bytes than there are is not read.
  const std::vector<uint8_t> lying = {0x40, 0x00, 0x42, 0x00, 0x01, 0x00, 0x00, 0x00};
  EXPECT_THAT(DecodeSysGetReply(lying), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(DecodeNetlinkError(std::vector<uint8_t>{0x01}, "x"),
              StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST(RdmaNetlinkCodecTest, KernelErrorsBecomeStatuses) {
  const int32_t eperm = -EPERM;
  std::vector<uint8_t> payload(sizeof(eperm));
  std::memcpy(payload.data(), &eperm, sizeof(eperm));
  EXPECT_THAT(DecodeNetlinkError(payload, "move rdma device mlx5_0"),
              StatusIs(absl::StatusCode::kPermissionDenied, HasSubstr("move rdma device mlx5_0")));
}

TEST(RdmaSocketErrorTest, NoRdmaInTheKernelIsAFailedPrecondition) {
  EXPECT_THAT(RdmaSocketError(EPROTONOSUPPORT),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       HasSubstr("this kernel has no RDMA netlink")));
  EXPECT_THAT(RdmaSocketError(EACCES), StatusIs(absl::StatusCode::kPermissionDenied));
  EXPECT_THAT(RdmaSocketError(EMFILE), StatusIs(absl::StatusCode::kUnavailable));
}

TEST(SocketRdmaNetlinkTest, OpenOnThisKernel) {
  absl::StatusOr<std::unique_ptr<SocketRdmaNetlink>> nl = SocketRdmaNetlink::Open();
  if (nl.ok()) {
    // A kernel with RDMA: the mode is readable (shared unless changed).
    EXPECT_OK((*nl)->GetNetnsMode());
    GTEST_SKIP() << "this kernel has RDMA netlink; the no-RDMA path is covered above";
  }
  EXPECT_THAT(nl, StatusIs(absl::StatusCode::kFailedPrecondition,
                           HasSubstr("this kernel has no RDMA netlink")));
}

}  // namespace
}  // namespace tessera::drivers::rdma
