#pragma once
/// \file checkpoint.hpp
/// Model checkpoints: one JSON file (metadata + R as rows, full double precision), written
/// atomically. Format: {"format":"varlearn-model","version":1,"n","rank","method","depth",
/// "stepsize_mode","stepsizes":[...],"regularizer":[[...],...],"meta":{...}}.
///
/// Training checkpoints (resume after a kill) are the same file plus one object
/// "training_state" (so load_model reads one as the model at that iteration):
///   {"version":1, "run":{name: value,...}, "optimizer":{optim::State JSON, state.hpp},
///    "batches":{"rng":"<mt19937_64 text>","order":[...],"position":p} (absent when full batch),
///    "noise_rng":"<mt19937_64 text>" (absent unless sampled noise),
///    "early_stopping":{"best_validation":v|null (null = +inf),"best_parameters":[...],
///                      "bad_validations":c,"stopped":false}}
/// Numbers have 17 significant digits (they parse back bitwise).
#include <filesystem>
#include <functional>
#include <string>

#include <nlohmann/json.hpp>

#include "varlearn/learn/model.hpp"
#include "varlearn/learn/trainer.hpp"

namespace varlearn::learn {

/// Writes the model (and free-form `meta`, e.g. training settings and losses).
void save_model(const std::filesystem::path& path, const QuadraticModel& model,
                const nlohmann::json& meta = nlohmann::json::object());

struct LoadedModel {
  QuadraticModel model;
  nlohmann::json meta;
};

/// Reads a checkpoint; throws Error (naming the file and field) on malformed content.
LoadedModel load_model(const std::filesystem::path& path);
/// Same, and throws Error "checkpoint 'f' has shape ... but ... was expected" unless the
/// checkpoint's ModelSpec equals `expected` (resume / init from checkpoint).
LoadedModel load_model(const std::filesystem::path& path, const ModelSpec& expected);

/// The model file's JSON object (save_model writes it), and its reader (`where` names the
/// source in messages).
nlohmann::json model_to_json(const QuadraticModel& model, const nlohmann::json& meta = nlohmann::json::object());
LoadedModel model_from_json(const nlohmann::json& j, const std::string& where);

/// A training checkpoint as JSON (the model file + "training_state"), and back; the reader
/// validates every field (shapes, finiteness, generator states) and throws Error naming it.
nlohmann::json training_checkpoint_to_json(const TrainingCheckpoint& c,
                                           const nlohmann::json& meta = nlohmann::json::object());
TrainingCheckpoint training_checkpoint_from_json(const nlohmann::json& j, const std::string& where = "checkpoint");

/// Writes a training checkpoint atomically (io::write_atomic: a kill leaves the previous
/// file or the new one, never a half one).
void save_training_checkpoint(const std::filesystem::path& path, const TrainingCheckpoint& c,
                              const nlohmann::json& meta = nlohmann::json::object());
/// Reads one; throws Error naming the file and field when it is malformed or is a plain
/// model file without "training_state".
TrainingCheckpoint load_training_checkpoint(const std::filesystem::path& path);
/// A TrainCheckpointing::sink that saves each checkpoint to `path` (save_training_checkpoint).
std::function<void(const TrainingCheckpoint&)> checkpoint_writer(const std::filesystem::path& path,
                                                                nlohmann::json meta = nlohmann::json::object());

}  // namespace varlearn::learn
