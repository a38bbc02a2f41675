#pragma once
/// \file dist.hpp
/// Scale-out over MPI ranks (docs/scale-out.md), the only place that knows MPI: the rest of
/// varlearn asks for its rank, its share of the frames and the fixed-order sum of a vector.
/// Built without MPI (VARLEARN_MPI=OFF), or started without a launcher (no mpirun / srun),
/// a process is rank 0 of 1 and every call is trivial.
///
///   int main(int argc, char** argv) {
///     dist::Session session(argc, argv);               // MPI_Init under mpirun, else nothing
///     const dist::Share s = dist::share(frames);       // this rank's contiguous frames
///     Vector partial = ...;                            // sum over the share's frames
///     dist::sum(partial);                              // sum over ranks, rank order, same bits on every rank
///   }
#include <string>
#include <vector>

#include "varlearn/core/types.hpp"

namespace varlearn::dist {

/// True when this build has MPI (CMake option VARLEARN_MPI).
bool available();

/// Starts MPI when the process was started by an MPI launcher (Open MPI's mpirun, Slurm's
/// srun with PMIx, any PMI launcher: their environment variables say so) and ends it at
/// scope exit. A process started alone never starts MPI: it is rank 0 of 1. On ranks other
/// than 0, stdout and stderr go to /dev/null (only rank 0 prints); error_line() still reaches
/// the rank's real stderr. One Session per process, in main().
class Session {
public:
  Session(int& argc, char**& argv);
  ~Session();
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;
};

/// For a command that does not run distributed: rank 0 continues alone (rank 0 of 1 from now
/// on, every call trivial) and the other ranks should exit at once (returns true there).
bool root_only();

int rank();        ///< this process's rank r in 0 … P−1 (0 outside a Session)
int size();        ///< P, the number of ranks (1 outside a Session)
bool is_root();    ///< rank() == 0: the rank that prints and writes files
/// "" for one rank, else "rank r/P" (for progress lines and messages).
std::string rank_label();

/// A contiguous share of `count` items: items [begin, begin + count).
struct Share {
  Index begin = 0, count = 0;
};
/// Rank r's share of `count` items among P ranks: contiguous, balanced (the first
/// count mod P ranks get one item more), in rank order; empty when count < P for the last ranks.
Share share(Index count, int r, int p);
inline Share share(Index count) { return share(count, rank(), size()); }

/// v ← \f$\sum_{r=0}^{P-1} v_r\f$ over the ranks, added in rank order ((v_0 + v_1) + v_2 …) on
/// every rank, so that every rank holds the same bits and the result does not depend on timing.
/// Every rank passes a vector of the same length. Reduce-scatter by fixed chunks
/// (MPI_Alltoallv) and all-gather (MPI_Allgatherv): memory O(len) per rank.
void sum(double* data, Index len);
inline void sum(Vector& v) { sum(v.data(), v.size()); }
/// Sum of one number over the ranks (rank order).
double sum(double value);

/// The sum of S ordered parts (vectors of one length), spread over the ranks in contiguous
/// ranges (rank r holds parts share(S, r, P), the columns of `parts`, in order), added in part
/// order ((p_0 + p_1) + p_2 …) on every rank. The result depends on S alone, never on P: one
/// process holding all S parts gets the bits P ranks get. sum() is the case S = P.
Vector sum_parts(const Matrix& parts, Index total_parts);

/// The root's data on every rank (same length everywhere).
void broadcast(double* data, Index len, int root = 0);
/// The root's text on every rank.
void broadcast(std::string& text, int root = 0);

/// Every rank's text, in rank order, on every rank. Waits for the other ranks in idle_barrier()
/// first: a rank that finished its share of a study early sleeps instead of spinning.
std::vector<std::string> all_gather(const std::string& text);
/// Every rank's text, in rank order, on the root (elsewhere: an empty list). For results only
/// the root writes (it saves the other ranks the memory of all_gather). Waits as all_gather.
std::vector<std::string> gather(const std::string& text, int root = 0);

/// A static work queue: items (costs in any order) go largest first to the least loaded of p
/// ranks (ties: the lower rank). Returns each item's rank; the same on every rank.
std::vector<int> assign_largest_first(const std::vector<double>& costs, int p);

/// This rank's items of a work list (costs[k] the cost of items[k]), by assign_largest_first
/// over size() ranks, in the list's order; the whole list in one process.
std::vector<size_t> my_share(const std::vector<size_t>& items, const std::vector<double>& costs);

/// Waits until every rank arrives.
void barrier();
/// The same, without keeping a core busy (MPI_Ibarrier, tested every few milliseconds): for
/// ranks that wait while rank 0 works alone (a section of `reproduce` that is not distributed).
void idle_barrier();

/// Rank 0 working alone while the other ranks wait (in idle_barrier): within the scope rank 0
/// is rank 0 of 1 and every call is trivial; at its end, rank 0 of P again. Rank 0 only.
class Alone {
public:
  Alone();
  ~Alone();
  Alone(const Alone&) = delete;
  Alone& operator=(const Alone&) = delete;

private:
  int size_;
};

/// Reduction time of this process so far (calls of sum, seconds spent in them, doubles
/// reduced): for the per-step communication time in docs/scale-out.md.
struct ReduceStats {
  long calls = 0;
  double seconds = 0;
  double values = 0;
};
ReduceStats reduce_stats();

/// Prints `error: LINE` (with "rank r/P: " on ranks other than 0) on the rank's real stderr.
void error_line(const std::string& line);

/// Ends the run after an error on this rank (P > 1): every rank exits (MPI_Abort) with `code`,
/// none waits in a reduction. A bad input (`bad_input`) is seen by every rank alike, so ranks
/// other than 0 leave the message to rank 0 (which ends the job) and say it themselves only if
/// rank 0 has not ended the job within a few seconds. With one rank it returns (the caller exits).
void fail(const std::string& message, int code, bool bad_input);

}  // namespace varlearn::dist
