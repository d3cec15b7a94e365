#include "drivers/gpu/driver_files.h"

#include <array>
#include <utility>

#include "base/strings.h"

namespace tessera::drivers::gpu {
namespace {

using base::StrCat;

struct Library {
  std::string_view name;    // "libcuda.so"
  std::string_view soname;  // "libcuda.so.1"; "" when there is none
};

// nvidia-container-toolkit's internal/discover (compute + utility).
constexpr std::array kLibraries = {
    Library{"libcuda.so", "libcuda.so.1"},
    Library{"libcudadebugger.so", "libcudadebugger.so.1"},
    Library{"libnvidia-ml.so", "libnvidia-ml.so.1"},
    Library{"libnvidia-ptxjitcompiler.so", "libnvidia-ptxjitcompiler.so.1"},
    Library{"libnvidia-nvvm.so", "libnvidia-nvvm.so.4"},
    Library{"libnvidia-gpucomp.so", ""},
};

constexpr std::array<std::string_view, 5> kLibraryDirs = {
    "/usr/lib/x86_64-linux-gnu", "/usr/lib/aarch64-linux-gnu", "/usr/lib64", "/usr/lib",
    "/lib/x86_64-linux-gnu"};

constexpr std::array<std::string_view, 2> kBinaries = {"/usr/bin/nvidia-smi",
                                                        "/usr/sbin/nvidia-smi"};

base::Mount ReadOnly(std::string host, std::string container) {
  return {.host_path = std::move(host),
          .container_path = std::move(container),
          .type = "bind",
          .options = {"ro", "nosuid", "nodev", "bind"}};
}

}  // namespace

std::string HostPath(std::string_view host_root, std::string_view path) {
  std::string_view root = host_root;
  while (!root.empty() && root.back() == '/') root.remove_suffix(1);
  return StrCat(root, path);
}

std::vector<base::Mount> FindNvidiaDriverFiles(const base::Filesystem& fs,
                                               std::string_view host_root,
                                               std::string_view driver_version) {
  std::vector<base::Mount> out;
  if (driver_version.empty()) return out;
  for (const Library& lib : kLibraries) {
    const std::string file = StrCat(lib.name, ".", driver_version);
    for (std::string_view dir : kLibraryDirs) {
      const std::string path = StrCat(dir, "/", file);
      if (!fs.Exists(HostPath(host_root, path))) continue;
      out.push_back(ReadOnly(path, path));
      if (!lib.soname.empty()) out.push_back(ReadOnly(path, StrCat(dir, "/", lib.soname)));
      break;
    }
  }
  for (std::string_view bin : kBinaries) {
    if (!fs.Exists(HostPath(host_root, bin))) continue;
    out.push_back(ReadOnly(std::string(bin), "/usr/bin/nvidia-smi"));
    break;
  }
  return out;
}

}  // namespace tessera::drivers::gpu
