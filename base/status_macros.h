// The only definitions of RETURN_IF_ERROR and ASSIGN_OR_RETURN in the project.
//
//   RETURN_IF_ERROR(WriteFile(path, data));
//   ASSIGN_OR_RETURN(std::string raw, sysfs.ReadAttribute(path));
//
// Both evaluate their argument once and return its status unchanged on error.
#pragma once

#include "absl/status/status.h"
#include "absl/status/statusor.h"

#if defined(RETURN_IF_ERROR) || defined(ASSIGN_OR_RETURN)
#error "RETURN_IF_ERROR / ASSIGN_OR_RETURN defined outside base/status_macros.h"
#endif

#define TESSERA_STATUS_CONCAT_INNER_(a, b) a##b
#define TESSERA_STATUS_CONCAT_(a, b) TESSERA_STATUS_CONCAT_INNER_(a, b)

#define RETURN_IF_ERROR(expr)                                                \
  do {                                                                       \
    if (::absl::Status tessera_status_ = (expr); !tessera_status_.ok()) {    \
      return tessera_status_;                                                \
    }                                                                        \
  } while (false)

#define TESSERA_ASSIGN_OR_RETURN_IMPL_(statusor, lhs, rexpr) \
  auto statusor = (rexpr);                                   \
  if (!statusor.ok()) {                                      \
    return std::move(statusor).status();                     \
  }                                                          \
  lhs = std::move(statusor).value()

#define ASSIGN_OR_RETURN(lhs, rexpr)                                                          \
  TESSERA_ASSIGN_OR_RETURN_IMPL_(TESSERA_STATUS_CONCAT_(tessera_statusor_, __LINE__), lhs, \
                                 rexpr)
