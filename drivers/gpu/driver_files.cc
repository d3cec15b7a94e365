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

constexpr std::array<std::string_view, 8> kLibraryDirs = {
    "/usr/lib/x86_64-linux-gnu", "/usr/lib/aarch64-linux-gnu", "/usr/lib64", "/usr/lib",
    "/lib/x86_64-linux-gnu",     "/usr/local/nvidia/lib64",    "/lib64",     "/lib"};

constexpr std::array<std::string_view, 3> kBinaries = {
    "/usr/bin/nvidia-smi", "/usr/sbin/nvidia-smi", "/usr/local/nvidia/bin/nvidia-smi"};

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
                                               std::string_view driver_version,
                                               const std::vector<std::string>& first_dirs) {
  std::vector<base::Mount> out;
  if (driver_version.empty()) return out;
  std::vector<std::string> dirs = first_dirs;
  dirs.insert(dirs.end(), kLibraryDirs.begin(), kLibraryDirs.end());
  for (const Library& lib : kLibraries) {
    const std::string file = StrCat(lib.name, ".", driver_version);
    for (const std::string& dir : dirs) {
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

std::optional<std::string> LoadedNvmlDir(const base::Filesystem& fs, std::string_view host_root) {
  absl::StatusOr<std::string> maps = fs.ReadFile("/proc/self/maps", 16 << 20);
  if (!maps.ok()) return std::nullopt;
  for (std::string_view line : base::Split(*maps, '\n', base::SplitMode::kSkipEmpty)) {
    const size_t at = line.find('/');
    if (at == std::string_view::npos) continue;
    std::string_view path = line.substr(at);
    const size_t slash = path.rfind('/');
    if (!base::StartsWith(path.substr(slash + 1), "libnvidia-ml.so")) continue;
    std::string_view dir = path.substr(0, slash);
    std::string_view root = host_root;
    while (!root.empty() && root.back() == '/') root.remove_suffix(1);
    if (!root.empty() && base::StartsWith(dir, root) && dir.size() > root.size() &&
        dir[root.size()] == '/') {
      dir.remove_prefix(root.size());  // the agent sees the host under host_root
    }
    return std::string(dir);
  }
  return std::nullopt;
}

}  // namespace tessera::drivers::gpu
