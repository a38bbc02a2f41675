#pragma once
/// \file checkpoint.hpp
/// Model checkpoints: one JSON file (metadata + R as rows, full double precision), written
/// atomically. Format: {"format":"varlearn-model","version":1,"n","rank","method","depth",
/// "stepsize_mode","stepsizes":[...],"regularizer":[[...],...],"meta":{...}}.
#include <filesystem>

#include <nlohmann/json.hpp>

#include "varlearn/learn/model.hpp"

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

}  // namespace varlearn::learn
