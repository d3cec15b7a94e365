// Linked into every binary of a ThreadSanitizer build (TESSERA_SANITIZE=thread)
// and nowhere else.
//
// Debian's Abseil is not built with TSan, so absl::Mutex's lock and unlock
// happen where TSan cannot see them, and every access that a Mutex guards
// would be reported as a race (the lock gives no happens-before edge). This
// file defines the absl::Mutex entry points that Tessera (and gRPC, which
// wraps absl::Mutex) call: the executable's definitions take precedence over
// the shared library's, so each call lands here, is announced to TSan with its
// mutex annotations, and is forwarded to Abseil's own code, found with
// dlsym(RTLD_NEXT). Abseil's lock algorithm is unchanged; TSan learns only
// who holds which mutex when.
//
// Mutex::Await and CondVar::Wait* release and re-acquire the mutex inside
// Abseil (gRPC's gpr_cv_wait is CondVar::WaitWithDeadline): each is
// announced as an unlock before and a lock after. Entry points nobody here
// uses (LockWhen, ...) are not interposed; a "double lock" or "unlock of an
// unlocked mutex" report through one of them means it is used now and belongs
// here. The TSan build links with -rdynamic so that calls from gRPC's shared
// libraries reach these definitions too.
#include <dlfcn.h>

#include <cstdio>
#include <cstdlib>
#include <string>

#include "absl/base/options.h"
#include "absl/synchronization/mutex.h"
#include <sanitizer/tsan_interface.h>

namespace {

#define TESSERA_STR2(x) #x
#define TESSERA_STR(x) TESSERA_STR2(x)

// The mangled name of absl::<inline namespace>::Mutex::<member>, e.g.
// "_ZN4absl7debian35Mutex4LockEv" for member "4LockEv".
// `type_member` is e.g. "5Mutex4LockEv".
std::string AbslSymbol(const char* type_member) {
#if ABSL_OPTION_USE_INLINE_NAMESPACE
  const std::string ns = TESSERA_STR(ABSL_OPTION_INLINE_NAMESPACE_NAME);
  return "_ZN4absl" + std::to_string(ns.size()) + ns + type_member;
#else
  return std::string("_ZN4absl") + type_member;
#endif
}

template <typename Fn>
Fn Real(const char* member, const char* type = "5Mutex") {
  const std::string symbol = AbslSymbol((std::string(type) + member).c_str());
  void* f = ::dlsym(RTLD_NEXT, symbol.c_str());
  if (f == nullptr) {
    std::fprintf(stderr, "tsan absl::Mutex annotations: %s not found in Abseil\n", symbol.c_str());
    std::abort();
  }
  return reinterpret_cast<Fn>(f);
}

using VoidFn = void (*)(absl::Mutex*);
using BoolFn = bool (*)(absl::Mutex*);
using AwaitFn = void (*)(absl::Mutex*, const absl::Condition&);
using WaitFn = void (*)(absl::CondVar*, absl::Mutex*);
using WaitTimeoutFn = bool (*)(absl::CondVar*, absl::Mutex*, absl::Duration);
using WaitDeadlineFn = bool (*)(absl::CondVar*, absl::Mutex*, absl::Time);

// Around a wait that releases `mu` and holds it again when it returns. The
// waits call each other inside Abseil (WaitWithTimeout is WaitWithDeadline),
// which lands here again: only the outermost one is announced.
thread_local int wait_depth = 0;

class WaitScope {
 public:
  explicit WaitScope(absl::Mutex* mu) : mu_(mu), outer_(wait_depth++ == 0) {
    if (outer_) {
      __tsan_mutex_pre_unlock(mu_, 0);
      __tsan_mutex_post_unlock(mu_, 0);
    }
  }
  ~WaitScope() {
    if (--wait_depth == 0) {
      __tsan_mutex_pre_lock(mu_, 0);
      __tsan_mutex_post_lock(mu_, 0, 0);
    }
  }
  WaitScope(const WaitScope&) = delete;
  WaitScope& operator=(const WaitScope&) = delete;

 private:
  absl::Mutex* const mu_;
  const bool outer_;
};

}  // namespace

namespace absl {
ABSL_NAMESPACE_BEGIN

Mutex::~Mutex() {
  static const VoidFn real = Real<VoidFn>("D2Ev");
  __tsan_mutex_destroy(this, 0);
  real(this);
}

void Mutex::Lock() {
  static const VoidFn real = Real<VoidFn>("4LockEv");
  __tsan_mutex_pre_lock(this, 0);
  real(this);
  __tsan_mutex_post_lock(this, 0, 0);
}

void Mutex::Unlock() {
  static const VoidFn real = Real<VoidFn>("6UnlockEv");
  __tsan_mutex_pre_unlock(this, 0);
  real(this);
  __tsan_mutex_post_unlock(this, 0);
}

bool Mutex::TryLock() {
  static const BoolFn real = Real<BoolFn>("7TryLockEv");
  __tsan_mutex_pre_lock(this, __tsan_mutex_try_lock);
  const bool locked = real(this);
  __tsan_mutex_post_lock(this, __tsan_mutex_try_lock | (locked ? 0 : __tsan_mutex_try_lock_failed),
                         0);
  return locked;
}

void Mutex::ReaderLock() {
  static const VoidFn real = Real<VoidFn>("10ReaderLockEv");
  __tsan_mutex_pre_lock(this, __tsan_mutex_read_lock);
  real(this);
  __tsan_mutex_post_lock(this, __tsan_mutex_read_lock, 0);
}

void Mutex::ReaderUnlock() {
  static const VoidFn real = Real<VoidFn>("12ReaderUnlockEv");
  __tsan_mutex_pre_unlock(this, __tsan_mutex_read_lock);
  real(this);
  __tsan_mutex_post_unlock(this, __tsan_mutex_read_lock);
}

bool Mutex::ReaderTryLock() {
  static const BoolFn real = Real<BoolFn>("13ReaderTryLockEv");
  const unsigned read_try = __tsan_mutex_read_lock | __tsan_mutex_try_lock;
  __tsan_mutex_pre_lock(this, read_try);
  const bool locked = real(this);
  __tsan_mutex_post_lock(this, read_try | (locked ? 0 : __tsan_mutex_try_lock_failed), 0);
  return locked;
}

void Mutex::Await(const Condition& cond) {
  static const AwaitFn real = Real<AwaitFn>("5AwaitERKNS0_9ConditionE");
  WaitScope wait(this);
  real(this, cond);
}

void CondVar::Wait(Mutex* mu) {
  static const WaitFn real = Real<WaitFn>("4WaitEPNS0_5MutexE", "7CondVar");
  WaitScope wait(mu);
  real(this, mu);
}

bool CondVar::WaitWithTimeout(Mutex* mu, Duration timeout) {
  static const WaitTimeoutFn real =
      Real<WaitTimeoutFn>("15WaitWithTimeoutEPNS0_5MutexENS0_8DurationE", "7CondVar");
  WaitScope wait(mu);
  return real(this, mu, timeout);
}

bool CondVar::WaitWithDeadline(Mutex* mu, Time deadline) {
  static const WaitDeadlineFn real =
      Real<WaitDeadlineFn>("16WaitWithDeadlineEPNS0_5MutexENS0_4TimeE", "7CondVar");
  WaitScope wait(mu);
  return real(this, mu, deadline);
}

ABSL_NAMESPACE_END
}  // namespace absl
