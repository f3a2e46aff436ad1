// The typed errors every numens library throws. Libraries throw with context (which op, file,
// key, shape); drivers catch, print one line and exit non-zero.
#pragma once

#include <stdexcept>
#include <string>

namespace numens {

struct Error : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// A configuration value is invalid (unknown mode, precision out of range, ...).
struct ConfigError : Error {
  using Error::Error;
};

}  // namespace numens
