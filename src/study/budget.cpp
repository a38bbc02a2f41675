#include "varlearn/study/budget.hpp"

#include <omp.h>

#include <algorithm>
#include <cctype>
#include <fstream>
#include <iterator>
#include <string>

#include "varlearn/audio/corpus.hpp"
#include "varlearn/core/error.hpp"
#include "varlearn/core/limits.hpp"
#include "varlearn/study/dequant_depth.hpp"

namespace varlearn::study {
namespace {

constexpr double kBase = 30e6;       // the program itself
constexpr double kDenseCopies = 24;  // dense n x n matrices of one AR(1)/file model (as train)
constexpr double kCsvBytes = 25;     // one number as round-trip text, with its separator

/// Dense bytes per thread for the largest n of a sweep (0 for the structured models whose
/// spectrum is known in closed form).
double dense_bytes(const DataSpec& data, double largest_n) {
  if (data.kind == theory::DataKind::File && data.file_model) largest_n = double(data.file_model->n());
  else if (data.kind != theory::DataKind::Ar1) return 0;
  return kDenseCopies * 8.0 * largest_n * largest_n * double(std::max(1, omp_get_max_threads()));
}

double threads() { return double(std::max(1, omp_get_max_threads())); }

double file_bytes(const std::filesystem::path& path) {
  std::error_code ec;
  const auto size = std::filesystem::file_size(path, ec);
  return ec ? 0.0 : double(size);
}

/// Samples of the study's train and test files (the default corpus when none are given; 0
/// when it is missing: loading it reports that).
std::pair<double, double> corpus_samples(const std::vector<std::filesystem::path>& train,
                                         const std::vector<std::filesystem::path>& test, bool quick) {
  if (!train.empty() || !test.empty()) return {estimate_audio_samples(train), estimate_audio_samples(test)};
  try {
    const audio::CorpusSpec spec = audio::default_corpus(quick);
    return {estimate_audio_samples(spec.train), estimate_audio_samples(spec.test)};
  } catch (const std::exception&) {
    return {0.0, 0.0};
  }
}

/// Streams a text matrix file without holding it: the entries on its first line (its
/// columns) and its lines (its rows). {0, 0} when it cannot be opened.
std::pair<double, double> text_matrix_shape(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return {0, 0};
  double cols = 0, rows = 0;
  bool first = true, in_token = false, line_has_text = false;
  char buf[1 << 16];
  while (in.read(buf, sizeof buf) || in.gcount() > 0) {
    for (std::streamsize i = 0; i < in.gcount(); ++i) {
      const char c = buf[i];
      if (c == '\n') {
        if (line_has_text) ++rows;
        if (first && line_has_text) first = false;
        in_token = line_has_text = false;
        continue;
      }
      const bool sep = c == ',' || std::isspace(static_cast<unsigned char>(c));
      if (!sep) {
        line_has_text = true;
        if (!in_token && first) ++cols;
      }
      in_token = !sep;
    }
  }
  if (line_has_text) ++rows;
  return {cols, rows};
}

}  // namespace

double estimate_audio_samples(const std::vector<std::filesystem::path>& files) {
  double samples = 0;
  for (const auto& f : files) {
    std::string ext = f.extension().string();
    std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char c) { return char(std::tolower(c)); });
    const bool compressed = ext == ".flac" || ext == ".ogg" || ext == ".oga" || ext == ".opus" || ext == ".mp3";
    samples += compressed ? 2 * file_bytes(f) : file_bytes(f) / 2;
  }
  return samples;
}

double estimate_memory(const MapOptions& m) {
  const double points = double(m.x.count) * (m.y ? double(m.y->count) : 1.0);
  // Per point: the ModelPoint (7 doubles), the value, and one CSV row of 8 numbers.
  const double per_point = 8.0 * double(std::size(kAllParams) + 1) + 8 * kCsvBytes;
  double largest_n = m.fixed.n;
  for (const Axis* a : {&m.x, m.y ? &*m.y : nullptr})
    if (a && a->param == Param::Dim) largest_n = std::max(a->start, a->stop);
  return kBase + points * per_point + dense_bytes(m.data, largest_n);
}

double estimate_memory(const DepthOptions& d) {
  const double rows = double(d.max_depth) * (4.0 + double(d.stepsizes.size()));
  return kBase + rows * 8.0 * (1 + kCsvBytes) + dense_bytes(d.data, d.fixed.n);
}

double estimate_memory(const LandscapeOptions& l) {
  // Curves: r and E(r) per depth (values and CSV text); heatmap: omega x r values and text.
  const double curves = double(l.depths.size()) * double(l.r_count) * (3 * 8.0 + 2 * kCsvBytes);
  const double heat = double(l.omega_count) * double(l.heat_r_count) * (3 * 8.0 + 3 * kCsvBytes);
  return kBase + curves + heat;
}

// ---------------------------------------------------------------------------------------
// Speech studies, reproduce, theory point queries.
//
// Calibration (peak RSS by /usr/bin/time -v, 2 OpenMP threads, Release; estimate in brackets):
//   study denoise --quick                                                     23 MB [ 43 MB]
//   study denoise --quick --n 200 --hop 20 --iterations 5 --depths 1,2        56 MB [ 91 MB]
//   study denoise (full corpus, n = 320) --iterations 5 --depths 1,2          80 MB [109 MB]
//   study denoise --train 19.2 MB raw --test 0.96 MB raw --n 80 (19.2 M train
//     frame values)                                                         402 MB [452 MB]
//   study dequant --quick                                                     32 MB [ 64 MB]
//   study dequant (full corpus) --bits 4 --depths 1,2                         60 MB [111 MB]
//   study dequant --train 19.2 MB raw --test 0.96 MB raw --bits 4            775 MB [897 MB]
//   reproduce --quick --sections theory                                       39 MB [ 60 MB]
//   reproduce --sections theory                                               51 MB [100 MB]
//   reproduce --quick (all three sections)                                    40 MB [ 64 MB]
//   theory optimal --data ar1 --n 2000                                       133 MB [158 MB]
//   theory optimal --data ar1 --n 1000 --realize R                           125 MB [158 MB]
//   theory optimal --n 1000 --realize R (constant)                           102 MB [158 MB]
//   theory optimal --n 1000000 (constant)                                     7.6 MB [ 30 MB]
//   theory risk --matrix T (1500 x 1500, 4.5 MB of text)                      58 MB [120 MB]
//   theory expressivity --matrix T (1500 x 1500) [--realize R]         57 [118] MB [120 [192] MB]
// The program itself is 7.4 MB (theory cmin); kBase (30 MB) covers it with room to spare.
// The big runs are dominated by the frames: denoise holds the train frames twice (framing and
// the second moment's product), dequant about ten copies of the training signal (signal,
// quantized signal, and the frames with their lower and upper cell bounds before subsampling).

namespace {

// study denoise
constexpr double kDenoiseSignalCopies = 1;      // the training signals
constexpr double kDenoiseTestSignalCopies = 3;  // clean, noisy, denoised test signals
constexpr double kDenoiseTrainFrameCopies = 2;  // train frames (n x B) and a temporary
constexpr double kDenoiseTestFrameCopies = 3;   // clean, noisy and one T * noisy per thread
constexpr double kDenoiseDenseCopies = 30;      // n x n per training thread (L-BFGS history, T, S, gradients)
constexpr double kDenoiseBatchCopies = 10;      // sampled objective: batch x n per thread
// study dequant
constexpr double kDequantSignalCopies = 3;      // loaded, quantized and reconstructed signals
constexpr double kDequantFrameCopies = 7;       // all training frames: clean, quantized, cells, index
constexpr double kDequantSubsetCopies = 6;      // the subsampled training / tuning frames in a solve
constexpr double kDequantTestFrameCopies = 6;   // test frames in a Chambolle-Pock solve
constexpr double kDequantLayerCopies = 10;      // per unrolled layer and frame of a batch: primal, dual, gradients
// study restore (measured: reproduce's restore runs on the asterisk corpus, 48 M training
// samples at n = 320, hop 160, test sets cut to 60 s: 2.45 GB peak; estimate 2.9 GB)
constexpr double kRestoreSignalCopies = 1;      // the training signals while framing
constexpr double kRestoreFrameCopies = 3;       // all training frames, then the fit / held-out copies
constexpr double kRestoreTestCopies = 12;       // test signals: clean, degraded, observed, frames, restorations
constexpr double kRestorePassCopies = 2;        // per thread: the unrolled passes' float32 iterates and adjoints
// reproduce: the theory section, measured (39 MB --quick, 51 MB full)
constexpr double kTheorySectionQuick = 60e6;
constexpr double kTheorySectionFull = 100e6;
// theory point queries
constexpr double kPointDenseCopies = 4;         // n x n: Sigma or T, its eigenvectors, a product, the result
constexpr double kRealizeDenseCopies = 12;      // theory optimal --realize: R, R^T R, the family's T, checks
constexpr double kRealizeGivenCopies = 4;       // theory expressivity --realize: R from T's eigenvectors

}  // namespace

double estimate_memory(const DenoiseOptions& options) {
  const DenoiseOptions o = options.resolved();
  const auto [train, test] = corpus_samples(o.train_files, o.test_files, o.quick);
  const double n = double(o.n), per_sample = n / double(o.hop);
  const double jobs = 1 + 2 * double(o.depths.size()) + (o.odd_strategy ? double(o.depths.size()) : 0);
  const double t = std::min(threads(), jobs);
  double values = kDenoiseSignalCopies * train + kDenoiseTestSignalCopies * test +
                  kDenoiseTrainFrameCopies * train * per_sample + kDenoiseTestFrameCopies * test * per_sample +
                  t * kDenoiseDenseCopies * n * n;
  if (o.objective == DenoiseOptions::Objective::Sampled)
    values += t * kDenoiseBatchCopies * double(DenoiseOptions::kSampledBatchSize) * n;
  return kBase + 8.0 * values;
}

double estimate_memory(const DequantOptions& options) {
  const DequantOptions o = options.resolved();
  const auto [train, test] = corpus_samples(o.train_files, o.test_files, o.quick);
  const double n = double(o.frame_length), per_sample = o.half_overlap ? 2.0 : 1.0;
  const double all_frames = train * per_sample;  // values of all training frames
  const double subset = std::min(all_frames, double(o.max_train_frames) * n);
  const int deepest = o.depths.empty() ? 1 : *std::max_element(o.depths.begin(), o.depths.end());
  const bool learned = std::find(o.methods.begin(), o.methods.end(), DequantMethod::Learned) != o.methods.end();
  const double layers = learned ? kDequantLayerCopies * double(deepest) * double(o.batch_size) * n : 0;
  const double values = kDequantSignalCopies * (train + test) + kDequantFrameCopies * all_frames +
                        kDequantSubsetCopies * subset + kDequantTestFrameCopies * test * per_sample + layers;
  return kBase + 8.0 * values;
}

double estimate_memory(const RestoreOptions& options) {
  const RestoreOptions o = options.resolved();
  // Each test set is cut to about test_seconds (at the corpus' rate; 8 kHz when not known).
  const double cap = o.test_seconds > 0 ? o.test_seconds * (o.rate > 0 ? o.rate : 8000) : 1e300;
  auto [train, test] = corpus_samples(o.train_files, o.test_files, o.quick);
  test = std::min(test, cap);
  for (const auto& t : o.extra_tests) test += std::min(estimate_audio_samples(t.files), cap);
  const double n = double(o.n), per_sample = n / double(o.hop);
  const int deepest = o.depths.empty() ? 1 : *std::max_element(o.depths.begin(), o.depths.end());
  const double passes = threads() * kRestorePassCopies * double(deepest) * double(RestoreOptions::kBatch) * n;
  const double values = kRestoreSignalCopies * train + kRestoreFrameCopies * train * per_sample +
                        kRestoreTestCopies * test * per_sample + passes;
  return kBase + 8.0 * values;
}

double estimate_memory(const ReproduceOptions& options) {
  double most = kBase;
  for (const std::string& s : options.sections) {
    if (s == "theory") {
      most = std::max(most, options.quick ? kTheorySectionQuick : kTheorySectionFull);
    } else if (s == "denoise") {
      DenoiseOptions o;
      o.quick = options.quick;
      most = std::max(most, estimate_memory(o));
    } else if (s == "dequant") {
      DequantOptions o;
      o.quick = options.quick;
      most = std::max(most, estimate_memory(o));
      most = std::max(most, estimate_memory(depth_analysis_options(options.quick)));
    } else if (s == "restore") {
      try {  // the runs differ only in task and sigma: the inpaint one stands for all
        most = std::max(most, estimate_memory(report_restore_options("inpaint", 0.01, options.quick, options.full)));
      } catch (const Error&) {
        // a corpus not installed: the section itself reports it
      }
    }
  }
  return most;
}

double estimate_memory(const PointQuery& q) {
  double n = double(q.data.n), held = 0;  // n of the dense matrices; entries held besides
  bool dense = q.realize || q.data.kind == theory::DataKind::Ar1 || q.data.kind == theory::DataKind::File;
  if (!q.data.second_moment_file.empty()) {
    const auto [cols, rows] = text_matrix_shape(q.data.second_moment_file);
    n = std::max(n, std::max(cols, rows));
  }
  if (!q.data.clean_file.empty()) {  // frames n x B: n lines of B entries
    const auto [cols, rows] = text_matrix_shape(q.data.clean_file);
    n = std::max(n, rows);
    held += 2 * cols * rows;  // the frames and their parsed copy
  }
  if (!q.matrix_file.empty()) {  // T (n x n) or R (k x n): n columns
    const auto [cols, rows] = text_matrix_shape(q.matrix_file);
    n = std::max(n, cols);
    held += cols * rows;  // the matrix as read (its dense n x n work is counted below)
    dense = true;
  }
  // Realizing: optimal builds R from Sigma's eigenvectors and checks its risk (measured 12-15
  // copies); expressivity realizes the given T (6).
  const double copies =
      kPointDenseCopies + (q.realize ? (q.matrix_file.empty() ? kRealizeDenseCopies : kRealizeGivenCopies) : 0);
  const double dense_values = dense ? copies * n * n : 0;
  return kBase + 8.0 * (dense_values + held);
}

}  // namespace varlearn::study
