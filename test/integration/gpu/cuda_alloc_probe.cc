// tessera_cuda_alloc_probe BYTES: allocates BYTES of device memory on device 0
// through the CUDA driver API (libcuda.so.1, loaded with dlopen, so nothing
// NVIDIA is needed to build it) and reports whether that worked. The
// hardware tier runs it as an MPS client of a prepared share to show that
// the share's memory limit is enforced by the MPS server.
//
// Exit status: 0 allocated, 3 the allocation failed (CUDA error printed), 4
// CUDA could not start, 2 bad usage.
#include <dlfcn.h>

#include <cstdio>
#include <cstdlib>

namespace {

using CUresult = int;
using CUdevice = int;
using CUcontext = void*;
using CUdeviceptr = unsigned long long;

template <typename F>
F Sym(void* lib, const char* name) {
  return reinterpret_cast<F>(dlsym(lib, name));
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s BYTES\n", argv[0]);
    return 2;
  }
  const unsigned long long bytes = std::strtoull(argv[1], nullptr, 10);
  void* lib = dlopen("libcuda.so.1", RTLD_NOW);
  if (lib == nullptr) {
    std::fprintf(stderr, "dlopen libcuda.so.1: %s\n", dlerror());
    return 4;
  }
  auto init = Sym<CUresult (*)(unsigned)>(lib, "cuInit");
  auto device_get = Sym<CUresult (*)(CUdevice*, int)>(lib, "cuDeviceGet");
  auto retain = Sym<CUresult (*)(CUcontext*, CUdevice)>(lib, "cuDevicePrimaryCtxRetain");
  auto set_current = Sym<CUresult (*)(CUcontext)>(lib, "cuCtxSetCurrent");
  auto alloc = Sym<CUresult (*)(CUdeviceptr*, size_t)>(lib, "cuMemAlloc_v2");
  auto release = Sym<CUresult (*)(CUdevice)>(lib, "cuDevicePrimaryCtxRelease_v2");
  if (!init || !device_get || !retain || !set_current || !alloc || !release) {
    std::fprintf(stderr, "libcuda.so.1 lacks a driver API symbol\n");
    return 4;
  }
  CUdevice dev = 0;
  CUcontext ctx = nullptr;
  CUresult r = init(0);
  if (r == 0) r = device_get(&dev, 0);
  if (r == 0) r = retain(&ctx, dev);
  if (r == 0) r = set_current(ctx);
  if (r != 0) {
    std::printf("cuda start failed: %d\n", r);
    return 4;
  }
  CUdeviceptr p = 0;
  r = alloc(&p, bytes);
  release(dev);
  if (r != 0) {
    std::printf("alloc %llu failed: %d\n", bytes, r);
    return 3;
  }
  std::printf("alloc %llu ok\n", bytes);
  return 0;
}
