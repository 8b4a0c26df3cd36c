// Small helpers for absl::Status propagation (abseil 20220623 ships none).
//
//   CHIME_RETURN_IF_ERROR(store->Write(batch));
//   CHIME_ASSIGN_OR_RETURN(auto record, store->GetTimer(ns, id));
#ifndef CHIME_COMMON_STATUS_MACROS_H_
#define CHIME_COMMON_STATUS_MACROS_H_

#include "absl/status/status.h"
#include "absl/status/statusor.h"

#define CHIME_RETURN_IF_ERROR(expr)                \
  do {                                             \
    ::absl::Status chime_status_ = (expr);         \
    if (!chime_status_.ok()) return chime_status_; \
  } while (0)

#define CHIME_STATUS_CONCAT_INNER(a, b) a##b
#define CHIME_STATUS_CONCAT(a, b) CHIME_STATUS_CONCAT_INNER(a, b)

#define CHIME_ASSIGN_OR_RETURN(lhs, expr) \
  CHIME_ASSIGN_OR_RETURN_IMPL(CHIME_STATUS_CONCAT(chime_statusor_, __LINE__), lhs, expr)

#define CHIME_ASSIGN_OR_RETURN_IMPL(tmp, lhs, expr) \
  auto tmp = (expr);                                \
  if (!tmp.ok()) return tmp.status();               \
  lhs = std::move(tmp).value()

#endif  // CHIME_COMMON_STATUS_MACROS_H_
