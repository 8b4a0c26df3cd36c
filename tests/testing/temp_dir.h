// A fresh directory under $TMPDIR (or /tmp), removed with its contents on destruction.
#ifndef CHIME_TESTS_TESTING_TEMP_DIR_H_
#define CHIME_TESTS_TESTING_TEMP_DIR_H_

#include <string>

namespace chime::testing {

class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

}  // namespace chime::testing

#endif  // CHIME_TESTS_TESTING_TEMP_DIR_H_
