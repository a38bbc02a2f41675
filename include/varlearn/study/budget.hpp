#pragma once
/// \file budget.hpp
/// Memory estimates from a command's options, before anything is allocated or read
/// (`--max-memory`): the theory sweeps (`theory map|depth|landscape`: the grid's points and
/// values, the CSV text written from them, and the dense matrices a grid point builds: AR(1)
/// and file models, n x n per thread), the theory point queries (`theory
/// optimal|risk|expressivity`), the speech studies (`study denoise|dequant`, from the sizes of
/// their audio files) and `reproduce` (the largest of its sections). Upper estimates for
/// ordinary runs, calibrated against measured peak RSS (see budget.cpp).
#include <string>

#include "varlearn/learn/data.hpp"
#include "varlearn/study/denoise_study.hpp"
#include "varlearn/study/dequant_study.hpp"
#include "varlearn/study/report.hpp"
#include "varlearn/study/restore_study.hpp"
#include "varlearn/study/theory_study.hpp"

namespace varlearn::study {

double estimate_memory(const MapOptions& options);
double estimate_memory(const DepthOptions& options);
double estimate_memory(const LandscapeOptions& options);

/// `study denoise`: the audio files' samples (a 16-bit WAV or codec2 .raw of S bytes holds
/// S/2 samples; the default corpus' files when none are given), the frames of length n and
/// hop h (about samples * n / h values), the dense n x n matrices of each training thread.
/// `options` must be valid (validate()).
double estimate_memory(const DenoiseOptions& options);
/// `study dequant`: the samples, the frames of length n (hop n, or n/2 with half overlap) with
/// their quantization cells, the subsampled training frames, the unrolled network's
/// activations (batch x n per layer of the deepest N).
double estimate_memory(const DequantOptions& options);
/// `study restore`: the training signals, all training frames of length n and hop h with their
/// fit / held-out split (about three copies of samples * n / h values), the test sets, and per
/// training thread the unrolled passes' iterates (deepest N x batch x n).
double estimate_memory(const RestoreOptions& options);
/// `reproduce`: the largest of its sections (each runs after the previous one has finished).
double estimate_memory(const ReproduceOptions& options);

/// What a theory point query (`theory optimal|risk|expressivity`) holds.
struct PointQuery {
  learn::DataSource data;   ///< the data model (n, kind, files); n = 0 with --data file
  std::string matrix_file;  ///< --matrix (risk, expressivity): read whole, its n from the first line
  bool realize = false;     ///< writes a realizing matrix (--realize): dense n x n work for every kind
};
/// Dense n x n matrices for AR(1)/file data, a --matrix or --realize; O(1) for constant/iid
/// otherwise (their spectra are known in closed form).
double estimate_memory(const PointQuery& query);

/// Samples in these audio files, from their sizes (16-bit: S bytes -> S/2 samples;
/// compressed FLAC/Ogg/MP3: up to 4:1, S -> 2 S). 0 for files that cannot be stat'ed.
double estimate_audio_samples(const std::vector<std::filesystem::path>& files);

}  // namespace varlearn::study
