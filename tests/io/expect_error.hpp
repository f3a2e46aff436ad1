// The io layer's error contract, checked the same way everywhere: running `f` throws E (or a
// subclass), and the message is one line that names the file and says what is wrong.
#pragma once

#include <doctest/doctest.h>

#include <string>

namespace numens::io::testing {

template <class E, class F>
void check_error(F&& f, const std::string& file, const std::string& what) {
  try {
    f();
    FAIL("no exception thrown (expected: " << what << ")");
  } catch (const E& e) {
    const std::string msg = e.what();
    INFO(msg);
    CHECK(msg.find(file) != std::string::npos);
    CHECK(msg.find(what) != std::string::npos);
    CHECK(msg.find('\n') == std::string::npos);
  }
}

}  // namespace numens::io::testing
