// Wall-clock seconds for the progress lines every driver prints (never for results: nothing
// numens computes depends on timing).
#pragma once

#include <chrono>

namespace numens::drivers {

using Clock = std::chrono::steady_clock;

inline double seconds_since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

}  // namespace numens::drivers
