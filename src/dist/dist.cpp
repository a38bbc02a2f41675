#include "varlearn/dist/dist.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <climits>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

#include "varlearn/core/error.hpp"

#ifdef VARLEARN_HAVE_MPI
#define OMPI_SKIP_MPICXX 1  // the C API only (no deprecated C++ bindings to link)
#define MPICH_SKIP_MPICXX 1
#include <mpi.h>
#endif

namespace varlearn::dist {
namespace {

struct Globals {
  bool active = false;  // MPI started by our Session
  int rank = 0, size = 1;
  int error_fd = 2;     // the rank's real stderr (ranks != 0 send fd 2 to /dev/null)
  ReduceStats stats;
  int fail_rank = -1;   // VARLEARN_FAIL_RANK: fault injection for the failure-path test
};
Globals g;

double now() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

#ifdef VARLEARN_HAVE_MPI
/// The launchers' variables: Open MPI's mpirun, PMIx (Open MPI, Slurm's srun --mpi=pmix),
/// PMI-1/2 (MPICH, Intel MPI, srun --mpi=pmi2).
bool launched_by_mpi() {
  for (const char* v : {"OMPI_COMM_WORLD_SIZE", "PMIX_RANK", "PMI_RANK", "PMI_SIZE"})
    if (std::getenv(v) != nullptr) return true;
  return false;
}
#endif

void write_all(int fd, const std::string& s) {
  const char* p = s.data();
  size_t left = s.size();
  while (left > 0) {
    const ssize_t w = ::write(fd, p, left);
    if (w <= 0) return;
    p += w;
    left -= static_cast<size_t>(w);
  }
}

#ifdef VARLEARN_HAVE_MPI
int checked_int(Index n, const char* what) {
  if (n < 0 || n > INT_MAX) throw Error(std::string("dist: ") + what + " exceeds MPI's int counts", Error::Kind::Internal);
  return static_cast<int>(n);
}
#endif

}  // namespace

bool available() {
#ifdef VARLEARN_HAVE_MPI
  return true;
#else
  return false;
#endif
}

Session::Session([[maybe_unused]] int& argc, [[maybe_unused]] char**& argv) {
#ifdef VARLEARN_HAVE_MPI
  if (g.active || !launched_by_mpi()) return;
  int provided = 0;
  // FUNNELED: OpenMP threads compute, only the main thread calls MPI.
  if (MPI_Init_thread(&argc, &argv, MPI_THREAD_FUNNELED, &provided) != MPI_SUCCESS) return;
  g.active = true;
  MPI_Comm_rank(MPI_COMM_WORLD, &g.rank);
  MPI_Comm_size(MPI_COMM_WORLD, &g.size);
  if (const char* f = std::getenv("VARLEARN_FAIL_RANK"); f != nullptr && *f != '\0') g.fail_rank = std::atoi(f);
  if (g.rank != 0) {  // only rank 0 prints; keep the real stderr for this rank's own error line
    g.error_fd = ::dup(2);
    const int null = ::open("/dev/null", O_WRONLY);
    if (null >= 0) {
      ::dup2(null, 1);
      ::dup2(null, 2);
      ::close(null);
    }
    if (g.error_fd < 0) g.error_fd = 2;
  }
#endif
}

Session::~Session() {
#ifdef VARLEARN_HAVE_MPI
  if (g.active) {
    int finalized = 0;
    MPI_Finalized(&finalized);
    if (!finalized) MPI_Finalize();
    g.active = false;
  }
#endif
}

bool root_only() {
  if (g.size <= 1) return false;
  if (g.rank != 0) return true;
  g.size = 1;
  return false;
}

int rank() { return g.rank; }
int size() { return g.size; }
bool is_root() { return g.rank == 0; }
std::string rank_label() {
  return g.size > 1 ? "rank " + std::to_string(g.rank) + "/" + std::to_string(g.size) : std::string();
}

Share share(Index count, int r, int p) {
  require(p >= 1 && r >= 0 && r < p && count >= 0, "dist::share", "needs 0 <= rank < size and count >= 0");
  const Index base = count / p, extra = count % p;
  Share s;
  s.begin = r * base + std::min<Index>(r, extra);
  s.count = base + (r < extra ? 1 : 0);
  return s;
}

namespace {

/// out (len) = the in-order sum of the S parts; this rank's parts are the columns of `mine`.
void fixed_order_sum(const double* mine, Index local_parts, Index len, Index total_parts, double* out) {
  const double t0 = now();
  ++g.stats.calls;
  g.stats.values += double(len);
  require(total_parts >= 1 && local_parts == share(total_parts, g.rank, g.size).count, "dist::sum_parts",
          "this rank holds " + std::to_string(local_parts) + " parts, its share of " + std::to_string(total_parts) +
              " is " + std::to_string(share(total_parts, g.rank, g.size).count));
  if (g.size == 1) {
    std::copy(mine, mine + len, out);
    for (Index j = 1; j < local_parts; ++j)
      for (Index i = 0; i < len; ++i) out[i] += mine[j * len + i];
    g.stats.seconds += now() - t0;
    return;
  }
#ifdef VARLEARN_HAVE_MPI
  if (g.rank == g.fail_rank)
    throw Error("fault injection (VARLEARN_FAIL_RANK=" + std::to_string(g.fail_rank) + "): this rank fails in a reduction",
                Error::Kind::Internal);
  const int p = g.size;
  // Reduce-scatter by fixed chunks of the vector: rank q receives every part's chunk q ...
  std::vector<int> chunk_count(p), chunk_begin(p), send_counts(p), send_displs(p), recv_counts(p), recv_displs(p);
  for (int q = 0; q < p; ++q) {
    const Share c = share(len, q, p);
    chunk_count[q] = checked_int(c.count, "a reduction");
    chunk_begin[q] = checked_int(c.begin, "a reduction");
  }
  std::vector<double> send(static_cast<size_t>(local_parts * len));
  size_t pos = 0;
  for (int q = 0; q < p; ++q) {
    send_displs[q] = checked_int(Index(pos), "a reduction");
    for (Index j = 0; j < local_parts; ++j)
      for (int i = 0; i < chunk_count[q]; ++i) send[pos++] = mine[j * len + chunk_begin[q] + i];
    send_counts[q] = checked_int(Index(pos) - send_displs[q], "a reduction");
  }
  const int m = chunk_count[g.rank];
  int at = 0;
  for (int q = 0; q < p; ++q) {
    recv_counts[q] = checked_int(share(total_parts, q, p).count * m, "a reduction");
    recv_displs[q] = at;
    at += recv_counts[q];
  }
  std::vector<double> parts(static_cast<size_t>(at));  // total_parts x m, in part order
  MPI_Alltoallv(send.data(), send_counts.data(), send_displs.data(), MPI_DOUBLE, parts.data(), recv_counts.data(),
                recv_displs.data(), MPI_DOUBLE, MPI_COMM_WORLD);
  // ... adds them in part order ...
  std::vector<double> chunk(parts.begin(), parts.begin() + m);
  for (Index j = 1; j < total_parts; ++j)
    for (int i = 0; i < m; ++i) chunk[size_t(i)] += parts[size_t(j) * size_t(m) + size_t(i)];
  // ... and every rank gathers every chunk.
  MPI_Allgatherv(chunk.data(), m, MPI_DOUBLE, out, chunk_count.data(), chunk_begin.data(), MPI_DOUBLE, MPI_COMM_WORLD);
#endif
  g.stats.seconds += now() - t0;
}

}  // namespace

void sum(double* data, Index len) {
  const std::vector<double> mine(data, data + len);
  fixed_order_sum(mine.data(), 1, len, g.size, data);
}

Vector sum_parts(const Matrix& parts, Index total_parts) {
  Vector out(parts.rows());
  fixed_order_sum(parts.data(), parts.cols(), parts.rows(), total_parts, out.data());
  return out;
}

double sum(double value) {
  sum(&value, 1);
  return value;
}

void broadcast([[maybe_unused]] double* data, [[maybe_unused]] Index len, [[maybe_unused]] int root) {
#ifdef VARLEARN_HAVE_MPI
  if (g.size > 1) MPI_Bcast(data, checked_int(len, "a broadcast"), MPI_DOUBLE, root, MPI_COMM_WORLD);
#endif
}

void broadcast([[maybe_unused]] std::string& text, [[maybe_unused]] int root) {
#ifdef VARLEARN_HAVE_MPI
  if (g.size > 1) {
    long long n = static_cast<long long>(text.size());
    MPI_Bcast(&n, 1, MPI_LONG_LONG, root, MPI_COMM_WORLD);
    text.resize(static_cast<size_t>(n));
    MPI_Bcast(text.data(), checked_int(Index(n), "a broadcast"), MPI_CHAR, root, MPI_COMM_WORLD);
  }
#endif
}

std::vector<std::string> all_gather(const std::string& text) {
  std::vector<std::string> out(static_cast<size_t>(g.size));
  if (g.size == 1) {
    out[0] = text;
    return out;
  }
#ifdef VARLEARN_HAVE_MPI
  idle_barrier();  // a rank done early sleeps here instead of spinning in MPI (and slowing the others)
  const int p = g.size;
  const int mine = checked_int(Index(text.size()), "a gather");
  std::vector<int> counts(p), displs(p);
  MPI_Allgather(&mine, 1, MPI_INT, counts.data(), 1, MPI_INT, MPI_COMM_WORLD);
  Index total = 0;
  for (int q = 0; q < p; ++q) {
    displs[q] = checked_int(total, "a gather");
    total += counts[q];
  }
  std::string all(static_cast<size_t>(total), '\0');
  MPI_Allgatherv(text.data(), mine, MPI_CHAR, all.data(), counts.data(), displs.data(), MPI_CHAR, MPI_COMM_WORLD);
  for (int q = 0; q < p; ++q) out[size_t(q)] = all.substr(size_t(displs[q]), size_t(counts[q]));
#endif
  return out;
}

std::vector<std::string> gather(const std::string& text, [[maybe_unused]] int root) {
  if (g.size == 1) return {text};
  std::vector<std::string> out;
#ifdef VARLEARN_HAVE_MPI
  // Every rank first arrives here (a rank done early sleeps instead of spinning in MPI); with
  // fault injection the failing rank then ends the job (the others' work before the gather,
  // e.g. journaled, is done).
  idle_barrier();
  if (g.rank == g.fail_rank)
    throw Error("fault injection (VARLEARN_FAIL_RANK=" + std::to_string(g.fail_rank) + "): this rank fails in a gather",
                Error::Kind::Internal);
  const int p = g.size;
  const int mine = checked_int(Index(text.size()), "a gather");
  std::vector<int> counts(g.rank == root ? p : 0), displs(g.rank == root ? p : 0);
  MPI_Gather(&mine, 1, MPI_INT, counts.data(), 1, MPI_INT, root, MPI_COMM_WORLD);
  Index total = 0;
  for (size_t q = 0; q < counts.size(); ++q) {
    displs[q] = checked_int(total, "a gather");
    total += counts[q];
  }
  std::string all(static_cast<size_t>(total), '\0');
  MPI_Gatherv(text.data(), mine, MPI_CHAR, all.data(), counts.data(), displs.data(), MPI_CHAR, root, MPI_COMM_WORLD);
  for (size_t q = 0; q < counts.size(); ++q) out.push_back(all.substr(size_t(displs[q]), size_t(counts[q])));
#endif
  return out;
}

std::vector<int> assign_largest_first(const std::vector<double>& costs, int p) {
  require(p >= 1, "dist::assign_largest_first", "needs at least one rank");
  std::vector<size_t> order(costs.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return costs[a] > costs[b]; });
  std::vector<double> load(static_cast<size_t>(p), 0.0);
  std::vector<int> owner(costs.size(), 0);
  for (size_t i : order) {
    const int r = int(std::min_element(load.begin(), load.end()) - load.begin());  // first least loaded
    owner[i] = r;
    load[size_t(r)] += costs[i];
  }
  return owner;
}

std::vector<size_t> my_share(const std::vector<size_t>& items, const std::vector<double>& costs) {
  require(items.size() == costs.size(), "dist::my_share", "one cost per item");
  if (g.size == 1) return items;
  const std::vector<int> owner = assign_largest_first(costs, g.size);
  std::vector<size_t> mine;
  for (size_t k = 0; k < items.size(); ++k)
    if (owner[k] == g.rank) mine.push_back(items[k]);
  return mine;
}

void barrier() {
#ifdef VARLEARN_HAVE_MPI
  if (g.size > 1) MPI_Barrier(MPI_COMM_WORLD);
#endif
}

void idle_barrier() {
#ifdef VARLEARN_HAVE_MPI
  if (g.size <= 1) return;
  MPI_Request request = MPI_REQUEST_NULL;
  MPI_Ibarrier(MPI_COMM_WORLD, &request);
  for (int done = 0;;) {
    MPI_Test(&request, &done, MPI_STATUS_IGNORE);
    if (done) return;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
#endif
}

Alone::Alone() : size_(g.size) {
  require(g.rank == 0, "dist::Alone", "only rank 0 works alone");
  g.size = 1;
}
Alone::~Alone() { g.size = size_; }

ReduceStats reduce_stats() { return g.stats; }

void error_line(const std::string& line) {
  const std::string label = rank_label();
  write_all(g.error_fd, "error: " + (g.rank != 0 && !label.empty() ? label + ": " : std::string()) + line + "\n");
}

void fail([[maybe_unused]] const std::string& message, [[maybe_unused]] int code, [[maybe_unused]] bool bad_input) {
#ifdef VARLEARN_HAVE_MPI
  if (g.size <= 1) return;
  if (bad_input && g.rank != 0) {
    // Every rank validates the same input: rank 0 says it and ends the job. Say it here only
    // if the input was bad on this rank alone (rank 0 still running after 5 s).
    for (int i = 0; i < 50; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  error_line(message);
  MPI_Abort(MPI_COMM_WORLD, code);
  std::_Exit(code);
#endif
}

}  // namespace varlearn::dist
