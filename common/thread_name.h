// Names the calling thread (as `top -H`, `perf` and debuggers show it), so a profile of
// chimed tells shard writers, engines and the delivery thread apart.
#ifndef CHIME_COMMON_THREAD_NAME_H_
#define CHIME_COMMON_THREAD_NAME_H_

#include <string>

namespace chime {

// Linux keeps 15 characters; longer names are cut.
void SetCurrentThreadName(const std::string& name);

}  // namespace chime

#endif  // CHIME_COMMON_THREAD_NAME_H_
