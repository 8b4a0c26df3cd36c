#include "tests/bench/bench_channel.h"

namespace chime::bench {

std::shared_ptr<grpc::Channel> NewBenchChannel(const std::string& server) {
  grpc::ChannelArguments args;
  // Channels of one process would share one TCP connection; a local subchannel pool keeps
  // each channel on its own, so a load can choose how many connections it uses.
  args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
  // restart polls a server that is coming up: the default reconnect backoff (1 s, then
  // growing) would be measured instead of chimed's start-up time.
  args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 5);
  args.SetInt(GRPC_ARG_MIN_RECONNECT_BACKOFF_MS, 5);
  args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 50);
  return grpc::CreateCustomChannel(server, grpc::InsecureChannelCredentials(), args);
}

}  // namespace chime::bench
