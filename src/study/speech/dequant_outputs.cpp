// Speech dequantization study, writers: results.json, results.csv, summary.md (table and
// headline), figures (SNR vs depth per bit depth, SNR vs bits) and example WAVs.
#include <algorithm>
#include <iomanip>
#include <map>
#include <sstream>

#include <nlohmann/json.hpp>

#include "varlearn/audio/audio_file.hpp"
#include "varlearn/core/format.hpp"
#include "varlearn/core/io.hpp"
#include "varlearn/study/dequant_depth.hpp"
#include "varlearn/study/dequant_pipeline.hpp"
#include "varlearn/study/dequant_study.hpp"
#include "../report/figure.hpp"

namespace varlearn::study {
namespace fs = std::filesystem;


namespace {

nlohmann::json to_json(const DequantResults& r) {
  nlohmann::json j;
  j["study"] = "dequant";
  j["rate"] = r.rate;
  j["frame_length"] = r.options.frame_length;
  j["half_overlap"] = r.options.half_overlap;
  j["quantizer"] = audio::to_string(r.options.quantizer);
  j["peak"] = r.options.peak;
  j["quick"] = r.options.quick;
  j["train_files"] = r.train_files;
  j["test_files"] = r.test_files;
  j["train_frames"] = r.train_frames;
  j["test_samples"] = r.test_samples;
  j["clipped_samples"] = r.clipped_samples;
  j["train_steps"] = r.options.train_steps;
  j["seconds"] = r.seconds;
  j["warm_start"] = r.options.warm_start;
  j["budget"] = r.options.budget;
  nlohmann::json entries = nlohmann::json::array();
  for (const auto& e : r.entries) entries.push_back(dequantize::entry_json(e));
  j["entries"] = entries;
  nlohmann::json head = nlohmann::json::object();
  for (int b : r.options.bits) {
    auto l5 = r.snr(DequantMethod::Learned, b, DequantOptions::kHeadlineDepth);
    auto bc = r.best_classic_snr(b);
    if (l5 && bc) head[std::to_string(b)] = {{"learned_n5_snr_db", *l5}, {"best_classic_snr_db", *bc}, {"margin_db", *l5 - *bc}};
  }
  j["learned_n5_vs_best_classic"] = head;
  nlohmann::json depth = nlohmann::json::object();
  for (int b : r.options.bits) {
    if (!has_depth_analysis(r, b)) continue;
    const DepthFindings f = classify_depth(depth_points(r, b), r.options.budget);
    depth[std::to_string(b)] = {{"explanation", to_string(f.explanation)}, {"plateau_depth", f.plateau_depth},
                                {"deepest", f.deepest}, {"threshold_db", f.threshold_db},
                                {"train_gain_db", f.train_gain_db}, {"test_gain_db", f.test_gain_db},
                                {"warm_over_cold_train_db", f.warm_over_cold_train_db},
                                {"warm_over_cold_test_db", f.warm_over_cold_test_db},
                                {"cold_train_drop_db", f.cold_train_drop_db},
                                {"generalization_gap_growth_db", f.generalization_gap_growth_db},
                                {"explanation_at_half_threshold", to_string(f.at_half_threshold)},
                                {"explanation_at_double_threshold", to_string(f.at_double_threshold)},
                                {"findings", f.sentences}};
  }
  if (!depth.empty()) j["depth_analysis"] = depth;
  return j;
}

std::string depth_str(const std::optional<int>& d) { return d ? std::to_string(*d) : std::string("conv"); }

}  // namespace

std::string dequant_summary_markdown(const DequantResults& r) {
  std::ostringstream md;
  md << "Test SNR / segmental SNR in dB (" << r.test_files.size() << " test files, " << r.test_samples
     << " samples at " << r.rate << " Hz; n = " << r.options.frame_length
     << (r.options.half_overlap ? ", half-overlapping frames" : ", non-overlapping frames") << ", "
     << audio::to_string(r.options.quantizer) << " quantizer). `conv`: classic l1 solved to a certified relative "
     << "duality gap of " << r.options.converged_rel_gap << "; classic N: N Chambolle–Pock iterations, tau (sigma = 1/tau) "
     << "and projection tuned on training frames; learned N: unrolled network trained with Adam ("
     << r.options.train_steps << " steps).\n\n";
  md << "| bits | method | N | SNR | segSNR | tau | projected |\n|---:|---|---:|---:|---:|---:|:-:|\n";
  for (const auto& e : r.entries)
    md << "| " << e.bits << " | " << to_string(e.method) << (e.warm ? " (warm)" : "") << " | " << (e.method == DequantMethod::Quantized ? "-" : depth_str(e.depth)) << " | "
       << format_fixed(e.snr_db, 2) << " | " << format_fixed(e.segsnr_db, 2) << " | " << (e.method == DequantMethod::Quantized ? "-" : format_fixed(e.tau, 3)) << " | "
       << (e.projected ? "yes" : "no") << " |\n";
  md << "\n";
  for (int b : r.options.bits) {
    auto l5 = r.snr(DequantMethod::Learned, b, DequantOptions::kHeadlineDepth);
    auto bc = r.best_classic_snr(b);
    if (l5 && bc)
      md << "- " << b << " bits: learned N = 5 " << format_fixed(*l5, 2) << " dB vs best classic " << format_fixed(*bc, 2) << " dB: margin **"
         << format_fixed(*l5 - *bc, 2) << " dB**.\n";
    auto qz = r.snr(DequantMethod::Quantized, b, std::nullopt);
    auto cv = r.snr(DequantMethod::Classic, b, std::nullopt);
    if (qz && cv)
      md << "- " << b << " bits: converged l1 " << format_fixed(*cv, 2) << " dB vs quantized " << format_fixed(*qz, 2) << " dB ("
         << (*cv < *qz ? "the l1 solution loses to the quantized signal" : "l1 improves") << ").\n";
  }
  md << depth_analysis_markdown(r);
  return md.str();
}

namespace {

std::string results_csv(const DequantResults& r) {
  std::ostringstream csv;
  csv << std::setprecision(10)
      << "method,bits,depth,snr_db,segsnr_db,train_snr_db,tau,sigma,projected,iterations,max_rel_gap,max_cell_violation,"
         "seconds,init,budget,start_train_snr_db,added_tau_init,added_tau_learned\n";
  for (const auto& e : r.entries) {
    csv << to_string(e.method) << ',' << e.bits << ',' << (e.depth ? std::to_string(*e.depth) : "") << ',' << e.snr_db << ','
        << e.segsnr_db << ',' << e.train_snr_db << ',' << e.tau << ',' << e.sigma << ',' << (e.projected ? 1 : 0) << ','
        << e.iterations << ',' << e.max_rel_gap << ',' << e.max_cell_violation << ',' << e.seconds << ',';
    if (e.method == DequantMethod::Learned)
      csv << (e.warm ? "warm" : "cold") << ',' << e.budget << ',' << e.start_train_snr_db << ',';
    else
      csv << ",,,";
    if (e.warm) csv << e.added_tau_init << ',' << e.added_tau_learned;
    else
      csv << ',';
    csv << '\n';
  }
  return csv.str();
}

// SNR against depth N at b bits (classic and learned; quantized and converged as lines);
// empty when b has no entry with a depth.
std::string snr_vs_depth_plot(const DequantResults& r, int b) {
  std::ostringstream cl, le;
  bool any = false;
  double xmax = 30;  // room for the points up to N = 20 (and 1.5 N beyond)
  for (const auto& e : r.entries) {
    if (e.bits != b) continue;
    if (e.depth) xmax = std::max(xmax, 1.5 * *e.depth);
    if (e.depth && e.method == DequantMethod::Classic) cl << *e.depth << ' ' << e.snr_db << '\n', any = true;
    if (e.depth && e.method == DequantMethod::Learned && !e.warm) le << *e.depth << ' ' << e.snr_db << '\n', any = true;
  }
  if (!any) return "";
  auto qz = r.snr(DequantMethod::Quantized, b, std::nullopt);
  auto cv = r.snr(DequantMethod::Classic, b, std::nullopt);
  std::ostringstream gp;
  gp << "$classic << EOD\n" << cl.str() << "EOD\n$learned << EOD\n" << le.str() << "EOD\n";
  gp << "set title 'Speech dequantization, " << b << " bits, n = " << r.options.frame_length << "'\n"
     << "set xlabel 'depth N (Chambolle-Pock iterations)'\nset ylabel 'test SNR (dB)'\nset logscale x\n"
     << "set xrange [0.8:" << format_general(xmax, 6) << "]\nset key outside below\nset grid\n";
  gp << "plot $classic using 1:2 with linespoints lw 2 pt 7 title 'classic (tuned tau, N iterations)', "
     << "$learned using 1:2 with linespoints lw 2 pt 5 title 'learned (unrolled)'";
  if (qz) gp << ", " << *qz << " with lines dt 2 lw 2 title 'quantized'";
  if (cv) gp << ", " << *cv << " with lines dt 3 lw 2 title 'classic converged'";
  gp << "\n";
  return gp.str();
}

// SNR against bit depth: quantized, converged, best fixed-N classic, best learned; empty
// when there is nothing to plot.
std::string snr_vs_bits_plot(const DequantResults& r) {
  std::ostringstream gp;
  std::vector<std::pair<std::string, std::string>> series = {
      {"quantized", "quantized"}, {"classic_conv", "classic converged"}, {"classic_best", "classic best fixed N"},
      {"learned_best", "learned best N"}};
  std::map<std::string, std::ostringstream> data;
  for (int b : r.options.bits) {
    std::optional<double> qz = r.snr(DequantMethod::Quantized, b, std::nullopt),
                          cv = r.snr(DequantMethod::Classic, b, std::nullopt), cb, lb;
    for (const auto& e : r.entries) {
      if (e.bits != b || !e.depth) continue;
      if (e.method == DequantMethod::Classic && (!cb || e.snr_db > *cb)) cb = e.snr_db;
      if (e.method == DequantMethod::Learned && (!lb || e.snr_db > *lb)) lb = e.snr_db;
    }
    if (qz) data["quantized"] << b << ' ' << *qz << '\n';
    if (cv) data["classic_conv"] << b << ' ' << *cv << '\n';
    if (cb) data["classic_best"] << b << ' ' << *cb << '\n';
    if (lb) data["learned_best"] << b << ' ' << *lb << '\n';
  }
  std::string plot;
  for (const auto& [key, title] : series) {
    if (data[key].str().empty()) continue;
    gp << "$" << key << " << EOD\n" << data[key].str() << "EOD\n";
    plot += (plot.empty() ? "plot " : ", ") + ("$" + key) + " using 1:2 with linespoints lw 2 title " + gp_quote(title);
  }
  if (plot.empty()) return "";
  gp << "set title 'Speech dequantization: test SNR vs bit depth (n = " << r.options.frame_length << ")'\n"
     << "set xlabel 'bits b'\nset ylabel 'test SNR (dB)'\nset key top left\nset grid\nset xtics 1\n" << plot << "\n";
  return gp.str();
}

// The depth analysis at b bits: training and test SNR against N, cold and warm (the warm
// line starts at the shallowest cold network, its start); empty without warm networks.
std::string depth_analysis_plot(const DequantResults& r, int b) {
  if (!has_depth_analysis(r, b)) return "";
  const auto points = depth_points(r, b);
  std::ostringstream data;
  data << "$depth << EOD\n";
  for (const auto& p : points)
    data << p.depth << ' ' << p.cold_train_db << ' ' << p.cold_test_db << ' '
         << (p.warm_train_db ? *p.warm_train_db : p.cold_train_db) << ' '
         << (p.warm_test_db ? *p.warm_test_db : p.cold_test_db) << '\n';
  data << "EOD\n";
  std::ostringstream gp;
  gp << data.str() << "set title 'Depth analysis, " << b << " bits: training and test SNR, cold vs warm start'\n"
     << "set xlabel 'depth N'\nset ylabel 'SNR (dB)'\nset logscale x\nset key outside below\nset grid\n"
     << "plot $depth using 1:2 with linespoints lw 2 pt 6 lc rgb '#1f77b4' dt 2 title 'train, cold', "
     << "$depth using 1:3 with linespoints lw 2 pt 7 lc rgb '#1f77b4' title 'test, cold', "
     << "$depth using 1:4 with linespoints lw 2 pt 4 lc rgb '#d62728' dt 2 title 'train, warm (x"
     << format_general(r.options.budget, 3) << " steps)', "
     << "$depth using 1:5 with linespoints lw 2 pt 5 lc rgb '#d62728' title 'test, warm (x"
     << format_general(r.options.budget, 3) << " steps)'\n";
  return gp.str();
}

void write_plot(const fs::path& prefix, const std::string& body, std::vector<fs::path>& written) {
  if (body.empty()) return;
  write_figure(prefix, body);
  written.push_back(prefix.string() + ".png");
  written.push_back(prefix.string() + ".svg");
}

}  // namespace

std::vector<fs::path> write_dequant_outputs(const DequantResults& r, const fs::path& dir) {
  io::ensure_writable_dir(dir);
  std::vector<fs::path> written;
  io::write_atomic(dir / "results.json", to_json(r).dump(2) + "\n");
  written.push_back(dir / "results.json");
  io::write_atomic(dir / "results.csv", results_csv(r));
  written.push_back(dir / "results.csv");
  io::write_atomic(dir / "summary.md", "# Speech dequantization\n\n" + dequant_summary_markdown(r));
  written.push_back(dir / "summary.md");
  for (int b : r.options.bits) write_plot(dir / ("snr_vs_depth_" + std::to_string(b) + "bit"), snr_vs_depth_plot(r, b), written);
  write_plot(dir / "snr_vs_bits", snr_vs_bits_plot(r), written);
  for (int b : r.options.bits)
    write_plot(dir / ("depth_analysis_" + std::to_string(b) + "bit"), depth_analysis_plot(r, b), written);
  for (const auto& [name, sig] : r.examples) {
    audio::write_wav(dir / name, sig, r.rate);
    written.push_back(dir / name);
  }
  return written;
}

}  // namespace varlearn::study
