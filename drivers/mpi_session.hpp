// MPI for the lifetime of a command, and the one place numens calls MPI. `numens study` holds one
// session around all its stages and runs `numens ensemble` inside it, so a session initialises MPI
// only when nobody has yet, and only the session that initialised it finalises it (on every path
// out, exceptions included).
//
// Every call goes through NUMENS_MPI: MPI_COMM_WORLD and the windows return errors instead of
// aborting (MPI_ERRORS_RETURN), and a failed call throws numens::Error naming the call, the rank
// and MPI's own message, which the driver reports as its one error line.
#pragma once

#include <mpi.h>
#include <unistd.h>

#include <cstdint>
#include <string>

#include "mca/error.hpp"

namespace numens::drivers {

inline void mpi_check(int rc, const char* call) {
  if (rc == MPI_SUCCESS) return;
  char msg[MPI_MAX_ERROR_STRING];
  int len = 0;
  if (MPI_Error_string(rc, msg, &len) != MPI_SUCCESS) len = 0;
  int rank = -1;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);  // best effort: the message is what matters
  throw Error("MPI: " + std::string(call) + " failed on rank " + std::to_string(rank) +
              (len > 0 ? ": " + std::string(msg, std::size_t(len)) : std::string()));
}
#define NUMENS_MPI(call) ::numens::drivers::mpi_check((call), #call)

class MpiSession {
 public:
  MpiSession() {
    int initialised = 0;
    NUMENS_MPI(MPI_Initialized(&initialised));
    if (!initialised) {
      int provided = 0;
      NUMENS_MPI(MPI_Init_thread(nullptr, nullptr, MPI_THREAD_FUNNELED, &provided));
      owner_ = true;
    }
    NUMENS_MPI(MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN));
    NUMENS_MPI(MPI_Comm_rank(MPI_COMM_WORLD, &rank_));
    NUMENS_MPI(MPI_Comm_size(MPI_COMM_WORLD, &size_));
  }
  ~MpiSession() {
    if (owner_) MPI_Finalize();  // a destructor cannot report; MPI is being torn down anyway
  }
  MpiSession(const MpiSession&) = delete;
  MpiSession& operator=(const MpiSession&) = delete;
  int rank() const { return rank_; }
  int size() const { return size_; }

  // Rank 0's `value` on every rank. The other ranks poll and sleep rather than block in
  // MPI_Bcast: Open MPI's blocking wait spins a core, which would take it from rank 0's threads
  // while it runs a stage alone.
  int share_from_root(int value) const {
    MPI_Request req;
    NUMENS_MPI(MPI_Ibcast(&value, 1, MPI_INT, 0, MPI_COMM_WORLD, &req));
    for (int done = 0;;) {
      NUMENS_MPI(MPI_Test(&req, &done, MPI_STATUS_IGNORE));
      if (done) return value;
      usleep(20000);
    }
  }

  // Whether every rank found no error (err empty). Otherwise the lowest failing rank throws
  // ConfigError(err), so that exactly one rank reports, and the others return false (and exit
  // quietly): every rank checks the same inputs, so they usually agree.
  bool agree(const std::string& err) const {
    int mine = err.empty() ? size_ : rank_, first = size_;
    NUMENS_MPI(MPI_Allreduce(&mine, &first, 1, MPI_INT, MPI_MIN, MPI_COMM_WORLD));
    if (first == size_) return true;
    if (first == rank_) throw ConfigError(err);
    return false;
  }

  // The largest `value` over the ranks, on every rank.
  int max_over_ranks(int value) const {
    int out = value;
    NUMENS_MPI(MPI_Allreduce(&value, &out, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD));
    return out;
  }

  // out[i] = sum over ranks of in[i], on rank 0 (other ranks' out unspecified).
  void sum_to_root(const int64_t* in, int64_t* out, int n) const {
    NUMENS_MPI(MPI_Reduce(in, out, n, MPI_INT64_T, MPI_SUM, 0, MPI_COMM_WORLD));
  }

 private:
  int rank_ = 0, size_ = 1;
  bool owner_ = false;
};

// A counter on rank 0 that any rank increments without rank 0 answering (an MPI window,
// MPI_Fetch_and_op under a passive-target lock): next() returns 0, 1, 2, ... across all ranks.
// Collective: every rank constructs and destroys it together.
class WorkCounter {
 public:
  explicit WorkCounter(const MpiSession& mpi) {
    NUMENS_MPI(MPI_Win_allocate(mpi.rank() == 0 ? MPI_Aint(sizeof(int64_t)) : 0,
                                int(sizeof(int64_t)), MPI_INFO_NULL, MPI_COMM_WORLD, &base_,
                                &win_));
    NUMENS_MPI(MPI_Win_set_errhandler(win_, MPI_ERRORS_RETURN));
    if (mpi.rank() == 0) {
      NUMENS_MPI(MPI_Win_lock(MPI_LOCK_EXCLUSIVE, 0, 0, win_));
      *base_ = 0;
      NUMENS_MPI(MPI_Win_unlock(0, win_));
    }
    NUMENS_MPI(MPI_Barrier(MPI_COMM_WORLD));
  }
  ~WorkCounter() { MPI_Win_free(&win_); }
  WorkCounter(const WorkCounter&) = delete;
  WorkCounter& operator=(const WorkCounter&) = delete;
  int64_t next() {
    const int64_t one = 1;
    int64_t got = 0;
    NUMENS_MPI(MPI_Win_lock(MPI_LOCK_SHARED, 0, 0, win_));
    NUMENS_MPI(MPI_Fetch_and_op(&one, &got, MPI_INT64_T, 0, 0, MPI_SUM, win_));
    NUMENS_MPI(MPI_Win_unlock(0, win_));
    return got;
  }

 private:
  int64_t* base_ = nullptr;
  MPI_Win win_ = MPI_WIN_NULL;
};

}  // namespace numens::drivers
