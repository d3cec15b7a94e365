// The DCMI C ABI subset Tessera calls, declared here so the build needs no
// Ascend headers. Layouts and signatures follow dcmi_interface_api.h as
// published in Ascend/mind-cluster (component/ascend-common/devmanager/dcmi/,
// DCMI "version 2" API); struct sizes are noted where the header documents
// them. Module-private: only dlopen_dcmi.cc and the fake library include it.
#pragma once

namespace tessera::drivers::npu::abi {

inline constexpr int kDcmiOk = 0;
// DCMI_ERROR_CODE_BASE (-8000) minus N.
inline constexpr int kDcmiErrInvalidParameter = -8001;
inline constexpr int kDcmiErrOperNotPermitted = -8002;
inline constexpr int kDcmiErrInnerErr = -8005;
inline constexpr int kDcmiErrTimeOut = -8006;
inline constexpr int kDcmiErrInvalidDeviceId = -8007;
inline constexpr int kDcmiErrDeviceNotExist = -8008;
inline constexpr int kDcmiErrIoctlFail = -8009;
inline constexpr int kDcmiErrNotReady = -8012;
inline constexpr int kDcmiErrNotSupportInContainer = -8013;
inline constexpr int kDcmiErrIsUpgrading = -8017;
inline constexpr int kDcmiErrResourceOccupied = -8020;
inline constexpr int kDcmiErrNotSupport = -8255;

inline constexpr int kMaxChipNameLen = 32;  // MAX_CHIP_NAME_LEN

struct dcmi_chip_info {
  unsigned char chip_type[kMaxChipNameLen];
  unsigned char chip_name[kMaxChipNameLen];
  unsigned char chip_ver[kMaxChipNameLen];
  unsigned int aicore_cnt;
};

// "the size of dcmi_pcie_info_all is 64"
struct dcmi_pcie_info_all {
  unsigned int venderid;
  unsigned int subvenderid;
  unsigned int deviceid;
  unsigned int subdeviceid;
  int domain;
  unsigned int bdf_busid;
  unsigned int bdf_deviceid;
  unsigned int bdf_funcid;
  unsigned char reserve[32];
};
static_assert(sizeof(dcmi_pcie_info_all) == 64);

struct dcmi_hbm_info {
  unsigned long long memory_size;  // MB
  unsigned int freq;
  unsigned long long memory_usage;
  int temp;
  unsigned int bandwith_util_rate;
};

// The header says "the size of dcmi_memory_info is 96"; with LP64 longs it is
// larger. Callers pass a buffer with slack behind it either way.
struct dcmi_get_memory_info_stru {
  unsigned long long memory_size;       // MB
  unsigned long long memory_available;  // free + hugepages_free * hugepagesize
  unsigned int freq;
  unsigned long hugepagesize;  // KB
  unsigned long hugepages_total;
  unsigned long hugepages_free;
  unsigned int utiliza;
  unsigned char reserve[60];
};

enum dcmi_ip_addr_type {
  DCMI_IPADDR_TYPE_V4 = 0,
  DCMI_IPADDR_TYPE_V6 = 1,
  DCMI_IPADDR_TYPE_ANY = 2
};

struct dcmi_ip_addr {
  union {
    unsigned char ip6[16];
    unsigned char ip4[4];
  } u_addr;
  enum dcmi_ip_addr_type ip_type;
};

enum dcmi_unit_type { NPU_TYPE = 0, MCU_TYPE = 1, CPU_TYPE = 2, INVALID_TYPE = 0xFF };

enum dcmi_port_type { DCMI_VNIC_PORT = 0, DCMI_ROCE_PORT = 1, DCMI_INVALID_PORT };

extern "C" {
using dcmi_init_fn = int (*)();
using dcmi_get_card_list_fn = int (*)(int* card_num, int* card_list, int list_len);
using dcmi_get_device_num_in_card_fn = int (*)(int card_id, int* device_num);
using dcmi_get_device_type_fn = int (*)(int card_id, int device_id, enum dcmi_unit_type* type);
using dcmi_get_device_logic_id_fn = int (*)(int* device_logic_id, int card_id, int device_id);
using dcmi_get_device_phyid_from_logicid_fn = int (*)(unsigned int logicid, unsigned int* phyid);
using dcmi_get_device_pcie_info_v2_fn = int (*)(int card_id, int device_id,
                                                struct dcmi_pcie_info_all* pcie_info);
using dcmi_get_device_chip_info_fn = int (*)(int card_id, int device_id,
                                             struct dcmi_chip_info* chip_info);
using dcmi_get_device_hbm_info_fn = int (*)(int card_id, int device_id,
                                            struct dcmi_hbm_info* hbm_info);
using dcmi_get_device_memory_info_v3_fn = int (*)(int card_id, int device_id,
                                                  struct dcmi_get_memory_info_stru* memory_info);
using dcmi_get_device_health_fn = int (*)(int card_id, int device_id, unsigned int* health);
using dcmi_get_device_ip_fn = int (*)(int card_id, int device_id, enum dcmi_port_type input_type,
                                      int port_id, struct dcmi_ip_addr* ip,
                                      struct dcmi_ip_addr* mask);
using dcmi_get_dcmi_version_fn = int (*)(char* dcmi_ver, int buf_size);
}

}  // namespace tessera::drivers::npu::abi
