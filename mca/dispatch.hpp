// The one switch from a run-time ArithConfig to a compile-time policy instantiation:
//   with_policy(cfg, [&](auto pol) { my_kernel<decltype(pol)>(pol, ...); });
// Every kernel is instantiated once per mode here and nowhere else.
#pragma once

#include "mca/config.hpp"

namespace numens::mca {

template <Mode M>
Policy<M> make_policy(const ArithConfig& c) {
  Policy<M> p;
  p.t32 = c.t32;
  p.t64 = c.t64;
  p.stream = Stream::make(c.seed, c.member, 0, 0, c.rounds);
  p.fused = c.fma == FmaMode::fused;
  p.sr_bits = c.sr_bits;
  p.tile = c.tile;
  return p;
}

template <class F>
decltype(auto) with_policy(const ArithConfig& c, F&& f) {
  c.validate();
  switch (c.mode) {
    case Mode::ieee:
      return f(make_policy<Mode::ieee>(c));
    case Mode::sr:
      return f(make_policy<Mode::sr>(c));
    case Mode::rr:
      return f(make_policy<Mode::rr>(c));
    case Mode::pb:
      return f(make_policy<Mode::pb>(c));
    case Mode::mca:
      return f(make_policy<Mode::mca>(c));
    case Mode::sr_equal:
      return f(make_policy<Mode::sr_equal>(c));
  }
  throw ConfigError("arithmetic mode has an invalid value");
}

}  // namespace numens::mca
