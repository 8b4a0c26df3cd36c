// The channel chime-bench talks to chimed through: its own TCP connection each time (a local
// subchannel pool), and reconnects retried within milliseconds.
#ifndef CHIME_TESTS_BENCH_BENCH_CHANNEL_H_
#define CHIME_TESTS_BENCH_BENCH_CHANNEL_H_

#include <grpcpp/grpcpp.h>

#include <memory>
#include <string>

namespace chime::bench {

std::shared_ptr<grpc::Channel> NewBenchChannel(const std::string& server);

}  // namespace chime::bench

#endif  // CHIME_TESTS_BENCH_BENCH_CHANNEL_H_
