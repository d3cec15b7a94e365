// DlLibrary: one dlopen()ed vendor library (libdcmi.so, libhlml.so), closed
// on destruction. Keeps dlfcn.h in one .cc and words load failures the same
// way for every vendor library. Module-private.
//
// Thread-safety: immutable after Open; Symbol() is safe for concurrent use.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace tessera::drivers::npu::internal {

class DlLibrary {
 public:
  // dlopen(library, RTLD_NOW | RTLD_LOCAL). NotFound when the file (or, for a
  // soname, any file of that name on the loader path) does not exist, with
  // `hint` appended ("is the Ascend driver installed?"); FailedPrecondition
  // for any other loader error (wrong ELF class, missing dependency).
  static absl::StatusOr<std::unique_ptr<DlLibrary>> Open(const std::string& library,
                                                         std::string_view hint);
  ~DlLibrary();
  DlLibrary(const DlLibrary&) = delete;
  DlLibrary& operator=(const DlLibrary&) = delete;

  // The address of an exported symbol, or nullptr.
  void* Symbol(const char* name) const;

  // Stores the symbol's address in `*fn` (a function pointer); false when the
  // library does not export it. Function pointers and void* have the same
  // representation wherever dlsym() exists (POSIX requires it).
  template <typename Fn>
  bool Resolve(const char* name, Fn* fn) const {
    void* address = Symbol(name);
    if (address == nullptr) return false;
    *fn = reinterpret_cast<Fn>(address);
    return true;
  }

 private:
  explicit DlLibrary(void* handle) : handle_(handle) {}
  void* const handle_;
};

// An output struct with slack behind it, so that a library writing a larger
// (newer) layout than the one we declare scribbles on the slack, not the stack.
template <typename T>
struct Out {
  T value{};
  unsigned char slack[256]{};
};

// Text a library wrote into a fixed buffer: stops at the first NUL, never
// reads past the buffer.
std::string CString(const char* buffer, size_t size);
std::string CString(const unsigned char* buffer, size_t size);

}  // namespace tessera::drivers::npu::internal
