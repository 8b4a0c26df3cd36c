#include "common/thread_name.h"

#include <pthread.h>

namespace chime {

void SetCurrentThreadName(const std::string& name) {
  // Best effort: a thread without its name works the same.
  pthread_setname_np(pthread_self(), name.substr(0, 15).c_str());
}

}  // namespace chime
