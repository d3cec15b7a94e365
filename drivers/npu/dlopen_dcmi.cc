#include "drivers/npu/dlopen_dcmi.h"

#include <algorithm>
#include <array>
#include <mutex>
#include <utility>

#include "spdlog/fmt/fmt.h"

#include "base/byte_units.h"
#include "base/log.h"
#include "base/status.h"
#include "base/status_macros.h"
#include "base/strings.h"
#include "drivers/npu/internal/dcmi_abi.h"
#include "drivers/npu/internal/dl_library.h"
#include "drivers/npu/internal/log.h"

namespace tessera::drivers::npu {

namespace {

using internal::Log;

// Most cards a node can hold many times over (an Atlas 900 node has 16).
constexpr int kMaxCards = 64;
constexpr int kMaxChipsPerCard = 16;

using internal::Out;

std::string_view DcmiErrorName(int rc) {
  switch (rc) {
    case abi::kDcmiErrInvalidParameter:
      return "invalid parameter";
    case abi::kDcmiErrOperNotPermitted:
      return "operation not permitted";
    case abi::kDcmiErrInnerErr:
      return "inner error";
    case abi::kDcmiErrTimeOut:
      return "time out";
    case abi::kDcmiErrInvalidDeviceId:
      return "invalid device id";
    case abi::kDcmiErrDeviceNotExist:
      return "device does not exist";
    case abi::kDcmiErrIoctlFail:
      return "ioctl failed";
    case abi::kDcmiErrNotReady:
      return "not ready";
    case abi::kDcmiErrNotSupportInContainer:
      return "not supported in a container";
    case abi::kDcmiErrIsUpgrading:
      return "upgrading";
    case abi::kDcmiErrResourceOccupied:
      return "resource occupied";
    case abi::kDcmiErrNotSupport:
      return "not supported";
    default:
      return "unknown error";
  }
}

}  // namespace

absl::Status DcmiStatus(int rc, std::string_view operation) {
  if (rc == abi::kDcmiOk) return absl::OkStatus();
  std::string message = fmt::format("{}: dcmi error {} ({})", operation, rc, DcmiErrorName(rc));
  switch (rc) {
    case abi::kDcmiErrInvalidParameter:
      return absl::InvalidArgumentError(message);
    case abi::kDcmiErrOperNotPermitted:
      return absl::PermissionDeniedError(message);
    case abi::kDcmiErrTimeOut:
      return absl::DeadlineExceededError(message);
    case abi::kDcmiErrInvalidDeviceId:
    case abi::kDcmiErrDeviceNotExist:
      return absl::NotFoundError(message);
    case abi::kDcmiErrNotReady:
    case abi::kDcmiErrIsUpgrading:
    case abi::kDcmiErrResourceOccupied:
      return absl::UnavailableError(message);
    case abi::kDcmiErrNotSupport:
    case abi::kDcmiErrNotSupportInContainer:
      return absl::UnimplementedError(message);
    default:
      return absl::FailedPreconditionError(message);
  }
}

struct DlopenDcmi::Api {
  std::unique_ptr<internal::DlLibrary> library;
  std::vector<std::string> missing;
  mutable std::mutex mu;  // DCMI documents no thread-safety

  abi::dcmi_init_fn init = nullptr;
  abi::dcmi_get_card_list_fn card_list = nullptr;
  abi::dcmi_get_device_num_in_card_fn device_num = nullptr;
  abi::dcmi_get_device_logic_id_fn logic_id = nullptr;
  abi::dcmi_get_device_pcie_info_v2_fn pcie_info = nullptr;
  abi::dcmi_get_device_chip_info_fn chip_info = nullptr;

  abi::dcmi_get_device_type_fn device_type = nullptr;
  abi::dcmi_get_device_phyid_from_logicid_fn phy_id = nullptr;
  abi::dcmi_get_device_hbm_info_fn hbm_info = nullptr;
  abi::dcmi_get_device_memory_info_v3_fn memory_info = nullptr;
  abi::dcmi_get_device_health_fn health = nullptr;
  abi::dcmi_get_device_ip_fn device_ip = nullptr;
  abi::dcmi_get_dcmi_version_fn version = nullptr;

  std::string version_text;
};

namespace {

using DcmiApi = DlopenDcmi::Api;

absl::Status ResolveDcmiSymbols(DcmiApi& api) {
  const internal::DlLibrary& lib = *api.library;
  auto require = [&](const char* name, auto* fn) -> absl::Status {
    if (lib.Resolve(name, fn)) return absl::OkStatus();
    return absl::FailedPreconditionError(
        base::StrCat("resolve dcmi symbol ", name, ": not exported by the library"));
  };
  RETURN_IF_ERROR(require("dcmi_init", &api.init));
  // dcmi_get_card_list is the V2 name; older drivers export the same function
  // as dcmi_get_card_num_list (mind-cluster devmanager/dcmi/dcmi.go loads both).
  if (!lib.Resolve("dcmi_get_card_list", &api.card_list)) {
    RETURN_IF_ERROR(require("dcmi_get_card_num_list", &api.card_list));
  }
  RETURN_IF_ERROR(require("dcmi_get_device_num_in_card", &api.device_num));
  RETURN_IF_ERROR(require("dcmi_get_device_logic_id", &api.logic_id));
  RETURN_IF_ERROR(require("dcmi_get_device_pcie_info_v2", &api.pcie_info));
  RETURN_IF_ERROR(require("dcmi_get_device_chip_info", &api.chip_info));

  auto optional = [&](const char* name, auto* fn) {
    if (!lib.Resolve(name, fn)) api.missing.emplace_back(name);
  };
  optional("dcmi_get_device_type", &api.device_type);
  optional("dcmi_get_device_phyid_from_logicid", &api.phy_id);
  optional("dcmi_get_device_hbm_info", &api.hbm_info);
  optional("dcmi_get_device_memory_info_v3", &api.memory_info);
  optional("dcmi_get_device_health", &api.health);
  optional("dcmi_get_device_ip", &api.device_ip);
  optional("dcmi_get_dcmi_version", &api.version);
  return absl::OkStatus();
}

using base::kMiB;

// Optional facts of one chip; each failure just leaves its field empty.
void ReadOptional(const DcmiApi& api, AscendChip& chip) {
  const int card = chip.card_id;
  const int dev = chip.device_id;
  if (api.hbm_info != nullptr) {
    Out<abi::dcmi_hbm_info> hbm;
    if (api.hbm_info(card, dev, &hbm.value) == abi::kDcmiOk && hbm.value.memory_size > 0 &&
        hbm.value.memory_size < (uint64_t{1} << 40)) {
      chip.memory_bytes = hbm.value.memory_size * kMiB;
    }
  }
  if (!chip.memory_bytes && api.memory_info != nullptr) {
    Out<abi::dcmi_get_memory_info_stru> mem;
    if (api.memory_info(card, dev, &mem.value) == abi::kDcmiOk && mem.value.memory_size > 0 &&
        mem.value.memory_size < (uint64_t{1} << 40)) {
      chip.memory_bytes = mem.value.memory_size * kMiB;
    }
  }
  if (api.health != nullptr) {
    unsigned int health = 0;
    if (api.health(card, dev, &health) == abi::kDcmiOk) chip.health = health;
  }
  if (api.device_ip != nullptr) {
    Out<abi::dcmi_ip_addr> ip;
    Out<abi::dcmi_ip_addr> mask;
    ip.value.ip_type = abi::DCMI_IPADDR_TYPE_V4;
    if (api.device_ip(card, dev, abi::DCMI_ROCE_PORT, 0, &ip.value, &mask.value) == abi::kDcmiOk &&
        ip.value.ip_type == abi::DCMI_IPADDR_TYPE_V4) {
      const unsigned char* a = ip.value.u_addr.ip4;
      if (a[0] != 0) chip.roce_ip = fmt::format("{}.{}.{}.{}", a[0], a[1], a[2], a[3]);
    }
  }
}

absl::StatusOr<AscendChip> ReadChip(const DcmiApi& api, int card, int dev) {
  const std::string what = fmt::format("chip {} of card {}", dev, card);
  AscendChip chip;
  chip.card_id = card;
  chip.device_id = dev;

  int logic = -1;
  RETURN_IF_ERROR(
      DcmiStatus(api.logic_id(&logic, card, dev), base::StrCat("get logic id of ", what)));
  if (logic < 0) {
    return absl::InvalidArgumentError(
        fmt::format("get logic id of {}: dcmi reported {}", what, logic));
  }
  chip.logic_id = logic;
  chip.physical_id = logic;
  if (api.phy_id != nullptr) {
    unsigned int phy = 0;
    if (api.phy_id(static_cast<unsigned int>(logic), &phy) == abi::kDcmiOk && phy < 4096) {
      chip.physical_id = static_cast<int>(phy);
    }
  }

  Out<abi::dcmi_pcie_info_all> pcie;
  RETURN_IF_ERROR(
      DcmiStatus(api.pcie_info(card, dev, &pcie.value), base::StrCat("get pcie info of ", what)));
  const abi::dcmi_pcie_info_all& p = pcie.value;
  if (p.domain < 0 || p.bdf_busid > 0xff || p.bdf_deviceid > 0x1f || p.bdf_funcid > 0x7 ||
      p.venderid > 0xffff || p.deviceid > 0xffff) {
    return absl::InvalidArgumentError(fmt::format(
        "get pcie info of {}: dcmi reported an impossible address {:x}:{:x}:{:x}.{:x} "
        "or id {:x}:{:x}",
        what, p.domain, p.bdf_busid, p.bdf_deviceid, p.bdf_funcid, p.venderid, p.deviceid));
  }
  chip.pci_address = base::PciAddress{.domain = static_cast<uint32_t>(p.domain),
                                      .bus = static_cast<uint8_t>(p.bdf_busid),
                                      .device = static_cast<uint8_t>(p.bdf_deviceid),
                                      .function = static_cast<uint8_t>(p.bdf_funcid)};
  chip.pci_vendor_id = static_cast<uint16_t>(p.venderid);
  chip.pci_device_id = static_cast<uint16_t>(p.deviceid);

  Out<abi::dcmi_chip_info> info;
  RETURN_IF_ERROR(
      DcmiStatus(api.chip_info(card, dev, &info.value), base::StrCat("get chip info of ", what)));
  chip.chip_type = internal::CString(info.value.chip_type, sizeof(info.value.chip_type));
  chip.chip_name = internal::CString(info.value.chip_name, sizeof(info.value.chip_name));
  chip.chip_version = internal::CString(info.value.chip_ver, sizeof(info.value.chip_ver));
  chip.aicore_count = info.value.aicore_cnt;

  ReadOptional(api, chip);
  return chip;
}

}  // namespace

absl::StatusOr<std::unique_ptr<DlopenDcmi>> DlopenDcmi::Load(const std::string& library) {
  const std::string op = base::StrCat("load dcmi library ", library);
  auto api = std::make_unique<Api>();
  ASSIGN_OR_RETURN(api->library,
                   internal::DlLibrary::Open(library, "is the Ascend driver installed?"));
  RETURN_IF_ERROR(base::Annotate(ResolveDcmiSymbols(*api), op));
  if (int rc = api->init(); rc != abi::kDcmiOk) {
    absl::Status s = DcmiStatus(rc, base::StrCat(op, ": initialize dcmi"));
    return absl::FailedPreconditionError(s.message());
  }
  if (api->version != nullptr) {
    std::array<char, 64> buffer{};
    if (api->version(buffer.data(), static_cast<int>(buffer.size())) == abi::kDcmiOk) {
      api->version_text =
          std::string(base::StripWhitespace(internal::CString(buffer.data(), buffer.size())));
    }
  }
  if (!api->missing.empty()) {
    Log()->debug("dcmi library lacks optional symbols library={} missing={}", library,
                 base::Join(api->missing, ","));
  }
  return std::unique_ptr<DlopenDcmi>(new DlopenDcmi(std::move(api), library));
}

DlopenDcmi::DlopenDcmi(std::unique_ptr<Api> api, std::string library)
    : api_(std::move(api)), library_(std::move(library)) {}

DlopenDcmi::~DlopenDcmi() = default;

const std::vector<std::string>& DlopenDcmi::missing_symbols() const { return api_->missing; }

std::string DlopenDcmi::version() const { return api_->version_text; }

absl::StatusOr<std::vector<AscendChip>> DlopenDcmi::ListChips() const {
  std::lock_guard lock(api_->mu);
  std::array<int, kMaxCards> cards{};
  int count = 0;
  RETURN_IF_ERROR(DcmiStatus(api_->card_list(&count, cards.data(), kMaxCards), "list npu cards"));
  if (count < 0 || count > kMaxCards) {
    return absl::InvalidArgumentError(fmt::format("list npu cards: dcmi reported {} cards", count));
  }
  std::vector<AscendChip> out;
  for (int c = 0; c < count; ++c) {
    const int card = cards[static_cast<size_t>(c)];
    int chips = 0;
    RETURN_IF_ERROR(
        DcmiStatus(api_->device_num(card, &chips), fmt::format("count chips of card {}", card)));
    if (chips < 0 || chips > kMaxChipsPerCard) {
      return absl::InvalidArgumentError(
          fmt::format("count chips of card {}: dcmi reported {} chips", card, chips));
    }
    for (int dev = 0; dev < chips; ++dev) {
      if (api_->device_type != nullptr) {
        abi::dcmi_unit_type type = abi::NPU_TYPE;
        // MCU and CPU units of a card are not NPUs; a card that cannot tell
        // is assumed to hold NPUs only.
        if (api_->device_type(card, dev, &type) == abi::kDcmiOk && type != abi::NPU_TYPE) continue;
      }
      ASSIGN_OR_RETURN(AscendChip chip, ReadChip(*api_, card, dev));
      out.push_back(std::move(chip));
    }
  }
  std::sort(out.begin(), out.end(), [](const AscendChip& a, const AscendChip& b) {
    return std::pair(a.card_id, a.device_id) < std::pair(b.card_id, b.device_id);
  });
  return out;
}

}  // namespace tessera::drivers::npu
