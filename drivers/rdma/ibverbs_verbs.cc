#include "drivers/rdma/ibverbs_verbs.h"

#include <endian.h>
#include <errno.h>

#include <cstdio>
#include <cstring>
#include <memory>
#include <string>

#include <infiniband/verbs.h>

#include "base/status.h"
#include "base/strings.h"

namespace tessera::drivers::rdma {
namespace {

struct DeviceListDeleter {
  void operator()(ibv_device** list) const { ibv_free_device_list(list); }
};
using DeviceList = std::unique_ptr<ibv_device*, DeviceListDeleter>;

struct ContextDeleter {
  void operator()(ibv_context* ctx) const { ibv_close_device(ctx); }
};

// ibv_get_device_guid() returns the GUID in network byte order; sysfs
// prints it as four big-endian 16-bit groups.
std::string GuidText(__be64 guid) {
  const uint64_t host = be64toh(guid);
  if (host == 0) return "";
  char buf[20];
  std::snprintf(buf, sizeof(buf), "%04x:%04x:%04x:%04x", static_cast<unsigned>(host >> 48),
                static_cast<unsigned>((host >> 32) & 0xffff),
                static_cast<unsigned>((host >> 16) & 0xffff), static_cast<unsigned>(host & 0xffff));
  return buf;
}

absl::StatusOr<DeviceList> GetList(int* count) {
  errno = 0;
  ibv_device** raw = ibv_get_device_list(count);
  if (raw == nullptr) return DeviceListError(errno);
  return DeviceList(raw);
}

}  // namespace

uint32_t IbvMtuBytes(int ibv_mtu) {
  // enum ibv_mtu: IBV_MTU_256 = 1 ... IBV_MTU_4096 = 5.
  if (ibv_mtu < 1 || ibv_mtu > 5) return 0;
  return 128u << ibv_mtu;
}

absl::Status DeviceListError(int error_number) {
  if (error_number == ENOSYS) {
    return absl::FailedPreconditionError(
        "list rdma devices with libibverbs: the kernel has no RDMA support "
        "(no /sys/class/infiniband_verbs/abi_version)");
  }
  if (error_number == 0) error_number = EIO;
  return base::ErrnoStatus(error_number, "list rdma devices with libibverbs");
}

absl::StatusOr<std::vector<VerbsDevice>> IbverbsVerbs::ListDevices() {
  absl::MutexLock lock(&mu_);
  int count = 0;
  absl::StatusOr<DeviceList> list = GetList(&count);
  if (!list.ok()) return list.status();
  std::vector<VerbsDevice> out;
  for (int i = 0; i < count; ++i) {
    ibv_device* dev = list->get()[i];
    const char* name = ibv_get_device_name(dev);
    out.push_back({name != nullptr ? name : "", GuidText(ibv_get_device_guid(dev))});
  }
  return out;
}

absl::StatusOr<VerbsPort> IbverbsVerbs::QueryPort(std::string_view device, uint32_t port) {
  absl::MutexLock lock(&mu_);
  const std::string what = base::StrCat("query port ", port, " of rdma device ", device);
  if (port == 0 || port > 255) {
    return absl::NotFoundError(base::StrCat(what, ": no such port"));
  }
  int count = 0;
  absl::StatusOr<DeviceList> list = GetList(&count);
  if (!list.ok()) return base::Annotate(list.status(), what);
  ibv_device* found = nullptr;
  for (int i = 0; i < count && found == nullptr; ++i) {
    const char* name = ibv_get_device_name(list->get()[i]);
    if (name != nullptr && device == name) found = list->get()[i];
  }
  if (found == nullptr) return absl::NotFoundError(base::StrCat(what, ": no such device"));
  errno = 0;
  std::unique_ptr<ibv_context, ContextDeleter> ctx(ibv_open_device(found));
  if (ctx == nullptr) {
    const int e = errno != 0 ? errno : ENODEV;
    return absl::UnavailableError(base::StrCat(what, ": open failed: ", std::strerror(e)));
  }
  ibv_port_attr attr{};
  // ibv_query_port returns the errno value (rdma-core verbs.h).
  if (int rc = ibv_query_port(ctx.get(), static_cast<uint8_t>(port), &attr); rc != 0) {
    if (rc == EINVAL) return absl::NotFoundError(base::StrCat(what, ": no such port"));
    return base::ErrnoStatus(rc, what);
  }
  return VerbsPort{.number = port,
                   .state = static_cast<int>(attr.state),
                   .active_mtu = IbvMtuBytes(attr.active_mtu),
                   .max_mtu = IbvMtuBytes(attr.max_mtu)};
}

}  // namespace tessera::drivers::rdma
