#include "drivers/npu/internal/dl_library.h"

#include <dlfcn.h>

#include <cstring>

#include "base/strings.h"

namespace tessera::drivers::npu::internal {

absl::StatusOr<std::unique_ptr<DlLibrary>> DlLibrary::Open(const std::string& library,
                                                           std::string_view hint) {
  dlerror();
  void* handle = dlopen(library.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (handle == nullptr) {
    const char* err = dlerror();
    std::string why = err != nullptr ? err : "unknown dlopen error";
    // glibc words an absent file "cannot open shared object file: No such
    // file or directory"; anything else is a broken install, not an absent
    // vendor stack.
    if (why.find("No such file") != std::string::npos) {
      return absl::NotFoundError(base::StrCat("load ", library, ": not found (", hint, "): ", why));
    }
    return absl::FailedPreconditionError(base::StrCat("load ", library, ": ", why));
  }
  return std::unique_ptr<DlLibrary>(new DlLibrary(handle));
}

DlLibrary::~DlLibrary() { dlclose(handle_); }

void* DlLibrary::Symbol(const char* name) const {
  dlerror();
  return dlsym(handle_, name);
}

std::string CString(const char* buffer, size_t size) {
  return std::string(buffer, strnlen(buffer, size));
}

std::string CString(const unsigned char* buffer, size_t size) {
  return CString(reinterpret_cast<const char*>(buffer), size);
}

}  // namespace tessera::drivers::npu::internal
