// The restore section's figures, from the files of a finished `study restore` folder: test SNR
// vs N, test MSE vs N (unrolled output and exact minimizer of theta_N), the convergence distance
// with its fitted rate, the learned filters / rows of K as images, spectrograms of the WAVs.
// Each figure's data is a .dat file beside it (gnuplot reads it; people can too).
#include <algorithm>
#include <cmath>
#include <fstream>
#include <sstream>

#include "figure.hpp"
#include "restore_results.hpp"
#include "varlearn/audio/audio_file.hpp"
#include "varlearn/audio/spectrogram.hpp"
#include "varlearn/core/format.hpp"
#include "varlearn/core/io.hpp"

namespace varlearn::study::restore_report {
namespace fs = std::filesystem;

namespace {

const char* const kColors[] = {"#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2", "#17becf"};
const char* color(std::size_t i) { return kColors[i % (sizeof(kColors) / sizeof(kColors[0]))]; }

/// Spectrograms: about 32 ms windows with a quarter hop, the first seconds of the test file,
/// a fixed dynamic range below the loudest bin of all panels (so the panels compare).
constexpr double kSpectrogramWindowSeconds = 0.032;
constexpr double kSpectrogramMaxSeconds = 4.0;
constexpr double kSpectrogramRangeDb = 80.0;
/// Stems tried for the linear baseline's WAV.
const char* const kLinearWavs[] = {"linear_wiener", "linear_lmmse", "linear", "wiener", "lmmse"};

/// One line of a plot over N: points (depth, value) from a .dat block.
struct Curve {
  std::string title, color, style;  ///< style: gnuplot "w lp ..." options after the colour
  std::vector<std::pair<int, double>> points;
};
/// A horizontal reference line.
struct Level {
  std::string title, color, style;
  double value;
};

/// A data file as gnuplot reads it: an absolute path (the script may run from anywhere).
std::string data_ref(const fs::path& file) { return gp_quote(fs::absolute(file).string()); }

/// Writes the curves as blocks of `prefix.dat` (gnuplot `index i`) and returns the plot command.
std::string curves_plot(const fs::path& prefix, const std::vector<Curve>& curves, const std::vector<Level>& levels,
                        const std::string& extra = "") {
  std::ostringstream dat, cmd;
  dat << "# depth N, value; one block per curve (gnuplot index in order)\n";
  int index = 0;
  cmd << "plot ";
  for (const auto& c : curves) {
    dat << "# " << c.title << "\n";
    for (auto [n, v] : c.points) dat << n << ' ' << format_exact(v) << '\n';
    dat << "\n\n";
    cmd << (index ? ", " : "") << data_ref(prefix.string() + ".dat") << " index " << index
        << " w " << c.style << " lc rgb '" << c.color << "' t " << gp_quote(c.title);
    ++index;
  }
  for (const auto& l : levels)
    cmd << ", " << format_exact(l.value) << " w l " << l.style << " lc rgb '" << l.color << "' t " << gp_quote(l.title);
  io::write_atomic(prefix.string() + ".dat", dat.str());
  return cmd.str() + extra + "\n";
}

/// The depth axis: logarithmic (depths 1 .. 50 spread evenly) with a tic at every depth, or
/// linear (the convergence figure: a geometric rate is a straight line on a log y axis).
std::string depth_axis(const Run& r, bool log_x = true) {
  std::vector<int> depths;
  for (const auto& c : r.configs)
    if (!c.bilevel() && c.depth > 0) depths.push_back(c.depth);
  for (const auto* v : {&r.convergence, &r.bilevel_of_unrolled})
    for (const auto& d : *v)
      if (d.depth > 0) depths.push_back(d.depth);
  if (depths.empty()) depths.push_back(1);
  std::sort(depths.begin(), depths.end());
  depths.erase(std::unique(depths.begin(), depths.end()), depths.end());
  const double lo = depths.front(), hi = depths.back();
  std::string axis = log_x ? std::string("set logscale x\nset xrange [") + format_general(lo / 1.3, 6) + ":" + format_general(hi * 1.3, 6) + "]\n"
                           : std::string("set xrange [") + format_general(std::max(0.0, lo - 1), 6) + ":" + format_general(hi + 1, 6) + "]\n";
  std::string tics = "set xtics (";
  for (std::size_t i = 0; i < depths.size(); ++i) tics += (i ? ", " : "") + std::to_string(depths[i]);
  return axis + tics + ")\nset xlabel 'depth N (iterations)'\nset grid\nset key outside right top font ',11'\n";
}

fs::path draw(const fs::path& prefix, const std::string& body, const std::string& size = "1100,650",
              SvgPass pass = SvgPass::Replot) {
  write_figure(prefix, body, size, pass);
  return prefix.string() + ".png";
}

fs::path snr_figure(const Run& r, const fs::path& folder) {
  std::vector<Curve> curves;
  std::vector<Level> levels;
  const auto regs = r.regularizers();
  for (std::size_t i = 0; i < regs.size(); ++i) {
    Curve learned{regs[i] + " unrolled", color(i), "lp lw 2 pt 7", {}}, fixed{regs[i] + " unrolled, fixed stepsize", color(i), "lp lw 1 dt 3 pt 6", {}};
    for (const auto& c : r.configs)
      if (c.regularizer == regs[i] && !c.bilevel() && c.usable()) (c.fixed() ? fixed : learned).points.push_back({c.depth, c.test_snr_db});
    for (Curve* k : {&learned, &fixed}) {
      std::sort(k->points.begin(), k->points.end());
      if (!k->points.empty()) curves.push_back(*k);
    }
    if (const Config* b = best_config(r.configs, regs[i], false, true))
      levels.push_back({regs[i] + " bilevel", color(i), "lw 2 dt 2", b->test_snr_db});
  }
  if (curves.empty()) return {};  // bilevel only: nothing varies with N
  for (const auto& b : r.baselines)
    if (std::isfinite(b.snr_db)) levels.push_back({b.label, b.key == "linear" ? "#000000" : "#888888", b.key.rfind("linear", 0) == 0 ? "lw 2" : "lw 1 dt 4", b.snr_db});
  const fs::path prefix = folder / "snr_vs_depth";
  std::string body = depth_axis(r) + "set ylabel 'test SNR (dB)'\nset title " +
                     gp_quote(r.title() + ": test SNR vs depth (dashed: bilevel)") + "\n";
  return draw(prefix, body + curves_plot(prefix, curves, levels));
}

fs::path mse_figure(const Run& r, const fs::path& folder) {
  std::vector<Curve> curves;
  std::vector<Level> levels;
  const auto regs = r.regularizers();
  for (std::size_t i = 0; i < regs.size(); ++i) {
    Curve unrolled{regs[i] + " unrolled output", color(i), "lp lw 2 pt 7", {}};
    for (const auto& c : r.configs)
      if (c.regularizer == regs[i] && !c.bilevel() && !c.fixed() && c.usable()) unrolled.points.push_back({c.depth, c.test_mse});
    std::sort(unrolled.points.begin(), unrolled.points.end());
    Curve exact{regs[i] + " exact minimizer of {/Symbol q}_N", color(i), "lp lw 1 dt 2 pt 6", {}};
    for (const auto& d : series(r.bilevel_of_unrolled, regs[i]))
      if (std::isfinite(d.value)) exact.points.push_back({d.depth, d.value});
    for (Curve* k : {&unrolled, &exact})
      if (!k->points.empty()) curves.push_back(*k);
    if (const Config* b = best_config(r.configs, regs[i], false, true))
      levels.push_back({regs[i] + " bilevel", color(i), "lw 2 dt 3", b->test_mse});
  }
  if (curves.empty()) return {};
  if (const Baseline* lin = r.baseline("linear")) levels.push_back({lin->label, "#000000", "lw 2", lin->mse});
  const fs::path prefix = folder / "mse_vs_depth";
  return draw(prefix, depth_axis(r) + "set ylabel 'test MSE per sample'\nset title " +
                          gp_quote(r.title() + ": unrolled vs bilevel, test MSE") + "\n" +
                          curves_plot(prefix, curves, levels));
}

fs::path convergence_figure(const Run& r, const fs::path& folder) {
  std::vector<Curve> curves;
  std::string fits;
  const auto regs = r.regularizers();
  for (std::size_t i = 0; i < regs.size(); ++i) {
    Curve d{regs[i] + " ||f^N - f*||", color(i), "lp lw 2 pt 7", {}};
    const auto s = series(r.convergence, regs[i]);
    for (const auto& v : s)
      if (std::isfinite(v.value) && v.value > 0) d.points.push_back({v.depth, v.value});
    if (d.points.empty()) continue;
    curves.push_back(d);
    if (const auto f = fit_geometric(s))
      fits += std::string(", exp(") + format_exact(f->log_c) + " + x * " + format_exact(std::log(f->rate)) + ") w l lw 1 dt 2 lc rgb '" +
              color(i) + "' t " + gp_quote(regs[i] + " fit {/Symbol r} = " + format_general(f->rate, 3));
  }
  if (curves.empty()) return {};
  const fs::path prefix = folder / "convergence";
  return draw(prefix, depth_axis(r, false) + "set logscale y\nset format y '10^{%L}'\nset ylabel 'distance to the lower-level minimizer'\n"
                          "set title " + gp_quote(r.title() + ": N-step output vs exact minimizer, bilevel {/Symbol q}*") +
                          "\n" + curves_plot(prefix, curves, {}, fits));
}

/// Rows of numbers from a CSV (non-numeric lines, e.g. a header, are skipped; short rows padded with NaN).
std::vector<std::vector<double>> read_rows(const fs::path& file) {
  std::vector<std::vector<double>> rows;
  std::istringstream in(io::read_text(file));
  std::string line;
  while (std::getline(in, line)) {
    std::vector<double> row;
    std::istringstream cells(line);
    std::string cell;
    bool ok = true;
    while (ok && std::getline(cells, cell, ',')) {
      char* end = nullptr;
      const double v = std::strtod(cell.c_str(), &end);
      ok = end != cell.c_str();
      row.push_back(v);
    }
    if (ok && !row.empty()) rows.push_back(row);
  }
  return rows;
}

fs::path filter_figure(const Config& c, const fs::path& csv, const fs::path& folder) {
  const auto rows = read_rows(csv);
  if (rows.empty()) return {};
  std::size_t cols = 0;
  double peak = 0;
  for (const auto& row : rows) {
    cols = std::max(cols, row.size());
    for (double v : row)
      if (std::isfinite(v)) peak = std::max(peak, std::abs(v));
  }
  const fs::path prefix = folder / ("filters_" + c.name());
  std::ostringstream dat;
  for (const auto& row : rows) {
    for (std::size_t j = 0; j < cols; ++j) dat << (j ? " " : "") << (j < row.size() ? format_general(row[j], 6) : "NaN");
    dat << '\n';
  }
  io::write_atomic(prefix.string() + ".dat", dat.str());
  const double m = peak > 0 ? peak : 1;
  std::ostringstream body;
  body << "set title " << gp_quote(c.label() + ": learned filters / rows of K (" + std::to_string(rows.size()) + " x " +
                                   std::to_string(cols) + ")")
       << "\nset xlabel 'coefficient j'\nset ylabel 'row (filter) i'\n"
       << "set palette defined (-1 '#2166ac', 0 '#f7f7f7', 1 '#b2182b')\nset cbrange [" << format_exact(-m) << ":"
       << format_exact(m) << "]\nset xrange [-0.5:" << cols - 0.5 << "]\nset yrange [" << rows.size() - 0.5
       << ":-0.5]\nplot " << data_ref(prefix.string() + ".dat") << " matrix w image notitle\n";
  return draw(prefix, body.str(), "1000,800");
}

struct Panel {
  std::string stem, title;
};

fs::path spectrogram_figure(const Run& r, const fs::path& folder) {
  const fs::path wav = r.dir / "wav";
  std::error_code ec;
  std::vector<Panel> panels;
  auto has = [&](const std::string& stem) { return fs::is_regular_file(wav / (stem + ".wav"), ec); };
  if (has("clean")) panels.push_back({"clean", "clean"});
  if (has("degraded")) panels.push_back({"degraded", r.task == "inpaint" ? "degraded (gaps, noise)" : "degraded (noisy)"});
  for (const char* stem : kLinearWavs)
    if (has(stem)) {
      const Baseline* lin = r.baseline("linear");
      panels.push_back({stem, lin ? lin->label : std::string(stem)});
      break;
    }
  std::vector<const Config*> order;  // the best model whose WAV exists
  for (const auto& c : r.configs)
    if (c.usable()) order.push_back(&c);
  std::sort(order.begin(), order.end(), [](const Config* a, const Config* b) { return a->test_mse < b->test_mse; });
  for (const Config* c : order)
    if (has(c->name())) {
      panels.push_back({c->name(), "best model: " + c->label()});
      break;
    }
  if (panels.empty()) return {};
  std::vector<audio::Spectrogram> specs;
  double top = -1e300;
  for (const auto& p : panels) {
    const audio::Signal s = audio::read_audio(wav / (p.stem + ".wav"));
    const Index len = std::min<Index>(s.samples.size(), Index(kSpectrogramMaxSeconds * s.rate));
    audio::SpectrogramOptions o;
    o.window = std::max<Index>(16, 2 * Index(std::lround(kSpectrogramWindowSeconds * s.rate / 2)));
    o.hop = o.window / 4;
    specs.push_back(audio::spectrogram(s.samples.head(len), s.rate, o));
    top = std::max(top, specs.back().db.maxCoeff());
  }
  const double hi = std::ceil(top / 10) * 10;
  std::ostringstream body;
  body << "set multiplot layout " << panels.size() << ",1\nset palette rgb 34,35,36\nset cbrange ["
       << format_general(hi - kSpectrogramRangeDb, 6) << ":" << format_general(hi, 6) << "]\nset cblabel 'dB'\n"
       << "set ylabel 'Hz'\n";
  for (std::size_t i = 0; i < panels.size(); ++i) {
    const auto& s = specs[i];
    const fs::path dat = folder / ("spectrogram_" + panels[i].stem + ".dat");
    std::ostringstream d;  // rows: frequency bins, columns: frames
    for (Index k = 0; k < s.db.rows(); ++k) {
      for (Index t = 0; t < s.db.cols(); ++t) d << (t ? " " : "") << format_fixed(s.db(k, t), 1);
      d << '\n';
    }
    io::write_atomic(dat, d.str());
    const double dt = double(s.hop) / s.rate, df = s.rate / double(s.window);
    body << "set title " << gp_quote(panels[i].title) << "\nset xlabel " << (i + 1 == panels.size() ? "'time (s)'" : "''")
         << "\nset xrange [0:" << format_general(dt * double(s.db.cols()), 6) << "]\nset yrange [0:"
         << format_general(s.rate / 2, 6) << "]\nplot " << data_ref(dat) << " matrix using ($1*"
         << format_exact(dt) << "):($2*" << format_exact(df) << "):3 w image notitle\n";
  }
  body << "unset multiplot\n";
  return draw(folder / "spectrograms", body.str(), std::string("1100,") + std::to_string(260 * panels.size()), SvgPass::Replay);
}

}  // namespace

const Config* best_config(const std::vector<Config>& configs, const std::string& regularizer, bool unrolled_only,
                          bool bilevel_only) {
  const Config* best = nullptr;
  for (const auto& c : configs) {
    if (!c.usable() || (!regularizer.empty() && c.regularizer != regularizer)) continue;
    if ((unrolled_only && c.bilevel()) || (bilevel_only && !c.bilevel())) continue;
    if (!best || c.test_mse < best->test_mse) best = &c;
  }
  return best;
}

Figures write_figures(const Run& r) {
  const fs::path folder = r.dir / "figures";
  io::ensure_writable_dir(folder);
  Figures f;
  f.snr_vs_depth = snr_figure(r, folder);
  f.mse_vs_depth = mse_figure(r, folder);
  f.convergence = convergence_figure(r, folder);
  for (const auto& reg : r.regularizers()) {
    std::vector<const Config*> order;
    for (const auto& c : r.configs)
      if (c.regularizer == reg && c.usable()) order.push_back(&c);
    std::sort(order.begin(), order.end(), [](const Config* a, const Config* b) { return a->test_mse < b->test_mse; });
    for (const Config* c : order) {
      const fs::path csv = r.dir / "filters" / (c->name() + ".csv");
      std::error_code ec;
      if (!fs::is_regular_file(csv, ec)) continue;
      if (fs::path png = filter_figure(*c, csv, folder); !png.empty()) f.filters.push_back({c->label(), png});
      break;
    }
  }
  f.spectrograms = spectrogram_figure(r, folder);
  return f;
}

}  // namespace varlearn::study::restore_report
