// MPI for the lifetime of a command. `numens study` holds one around all its stages and runs
// `numens ensemble` inside it, so a session initialises MPI only when nobody has yet, and only the
// session that initialised it finalises it (on every path out, exceptions included).
#pragma once

#include <mpi.h>
#include <unistd.h>

namespace numens::drivers {

class MpiSession {
 public:
  MpiSession() {
    int initialised = 0;
    MPI_Initialized(&initialised);
    if (!initialised) {
      int provided = 0;
      MPI_Init_thread(nullptr, nullptr, MPI_THREAD_FUNNELED, &provided);
      owner_ = true;
    }
    MPI_Comm_rank(MPI_COMM_WORLD, &rank_);
    MPI_Comm_size(MPI_COMM_WORLD, &size_);
  }
  ~MpiSession() {
    if (owner_) MPI_Finalize();
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
    MPI_Ibcast(&value, 1, MPI_INT, 0, MPI_COMM_WORLD, &req);
    for (int done = 0;;) {
      MPI_Test(&req, &done, MPI_STATUS_IGNORE);
      if (done) return value;
      usleep(20000);
    }
  }

 private:
  int rank_ = 0, size_ = 1;
  bool owner_ = false;
};

}  // namespace numens::drivers
