// The NVIDIA driver's user-space files a CUDA container needs from the host:
// the libraries of the "compute" and "utility" capabilities of
// nvidia-container-toolkit (libcuda, libcudadebugger, libnvidia-ml,
// libnvidia-ptxjitcompiler, libnvidia-nvvm, libnvidia-gpucomp) and the
// nvidia-smi binary, found under the host root and mounted read-only at the
// same paths in the container. Each library is mounted under its versioned
// name (libcuda.so.550.54.15) and its soname (libcuda.so.1), since CDI 0.5.0
// cannot create the symlink; Debian/Ubuntu-based images find them in the
// multiarch directory without an ldconfig run. docs/gpu.md lists them.
//
// Pure lookup through base::Filesystem; thread-safe.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/container_edits.h"
#include "base/filesystem.h"

namespace tessera::drivers::gpu {

// Read-only bind mounts (host paths without the host root prefix: the
// runtime resolves them on the host). `first_dirs` (host paths, e.g. the
// directory the agent's own libnvidia-ml came from) are searched before the
// usual library directories, /usr/local/nvidia/lib64 (the GPU Operator's
// and GKE's layout) included. Libraries that are absent are skipped; an
// empty result means none were found.
std::vector<base::Mount> FindNvidiaDriverFiles(const base::Filesystem& fs,
                                               std::string_view host_root,
                                               std::string_view driver_version,
                                               const std::vector<std::string>& first_dirs = {});

// The directory (as a host path) of the libnvidia-ml this process loaded,
// from /proc/self/maps; nullopt when none is mapped.
std::optional<std::string> LoadedNvmlDir(const base::Filesystem& fs, std::string_view host_root);

// `path` (absolute, on the host) as the agent sees it under `host_root`.
std::string HostPath(std::string_view host_root, std::string_view path);

}  // namespace tessera::drivers::gpu
