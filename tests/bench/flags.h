// chime-bench command-line flags shared by the scenario files.
#ifndef CHIME_TESTS_BENCH_FLAGS_H_
#define CHIME_TESTS_BENCH_FLAGS_H_

#include <string>

#include "absl/flags/declare.h"
#include "absl/time/time.h"

ABSL_DECLARE_FLAG(std::string, server);
ABSL_DECLARE_FLAG(std::string, json);
ABSL_DECLARE_FLAG(std::string, label);
ABSL_DECLARE_FLAG(std::string, inflight);
ABSL_DECLARE_FLAG(int, connections);
ABSL_DECLARE_FLAG(int, slices);
ABSL_DECLARE_FLAG(std::string, batch);
ABSL_DECLARE_FLAG(std::string, batch_inflight);
ABSL_DECLARE_FLAG(bool, batch_ids_only);
ABSL_DECLARE_FLAG(bool, idempotency_keys);
ABSL_DECLARE_FLAG(std::string, rate);
ABSL_DECLARE_FLAG(absl::Duration, duration);
ABSL_DECLARE_FLAG(int64_t, count);
ABSL_DECLARE_FLAG(int, subscribers);
ABSL_DECLARE_FLAG(int, max_outstanding);
ABSL_DECLARE_FLAG(int, chimed_pid);
ABSL_DECLARE_FLAG(std::string, data_dir);
ABSL_DECLARE_FLAG(std::string, phase);
ABSL_DECLARE_FLAG(int64_t, process_start_unix_ns);
ABSL_DECLARE_FLAG(absl::Duration, on_time);
ABSL_DECLARE_FLAG(absl::Duration, lead);
ABSL_DECLARE_FLAG(absl::Duration, subscribe_after);
ABSL_DECLARE_FLAG(std::string, receipts_csv);

#endif  // CHIME_TESTS_BENCH_FLAGS_H_
