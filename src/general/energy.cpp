#include "varlearn/general/energy.hpp"

#include <omp.h>

#include <string>

#include "varlearn/core/error.hpp"
#include "varlearn/core/threads.hpp"
#include "varlearn/reg/analysis.hpp"

namespace varlearn::general {

template <class T>
BasicEnergy<T>::BasicEnergy(ops::Operator a, const reg::Regularizer<T>& r, Mat g)
    : a_(std::move(a)), regularizer_(r.clone()), g_(std::move(g)) {
  if (!a_) throw Error("general::Energy: no forward operator");
  if (a_.input_size() != r.dimension())
    throw Error(std::string("general::Energy: the operator takes n = ") + std::to_string(a_.input_size()) +
                ", the regularizer n = " + std::to_string(r.dimension()));
  ops::require_shape(g_.rows(), g_.cols(), a_.output_size(), a_.batch_size(), "general::Energy observations",
                     a_.describe());
  if (g_.cols() == 0) throw Error("general::Energy: the observations have no frames");
  if (!g_.allFinite()) throw Error("general::Energy: the observations are not finite");
  analysis_ = dynamic_cast<const reg::AnalysisBase<T>*>(regularizer_.get());
}

template <class T>
BasicEnergy<T>::BasicEnergy(const BasicEnergy& other)
    : a_(other.a_), regularizer_(other.regularizer_->clone()), g_(other.g_) {
  analysis_ = dynamic_cast<const reg::AnalysisBase<T>*>(regularizer_.get());
}

template <class T>
BasicEnergy<T>& BasicEnergy<T>::operator=(const BasicEnergy& other) {
  if (this != &other) {
    a_ = other.a_;
    regularizer_ = other.regularizer_->clone();
    g_ = other.g_;
    analysis_ = dynamic_cast<const reg::AnalysisBase<T>*>(regularizer_.get());
  }
  return *this;
}

template <class T>
BasicEnergy<T> BasicEnergy<T>::columns(Index begin, Index count) const {
  if (begin < 0 || count < 1 || begin + count > batch())
    throw Error("general::Energy::columns: frames [" + std::to_string(begin) + ", " + std::to_string(begin + count) +
                ") outside a batch of " + std::to_string(batch()));
  return BasicEnergy(a_.columns(begin, count), *regularizer_, g_.middleCols(begin, count));
}

template <class T>
void BasicEnergy<T>::check(const Mat& f, const char* where, const Mat* v) const {
  if (f.rows() != dimension() || f.cols() != batch())
    throw Error(std::string(where) + ": frames are " + std::to_string(f.rows()) + " x " + std::to_string(f.cols()) +
                ", expected " + std::to_string(dimension()) + " x " + std::to_string(batch()));
  if (v != nullptr && (v->rows() != f.rows() || v->cols() != f.cols()))
    throw Error(std::string(where) + ": the direction is " + std::to_string(v->rows()) + " x " +
                std::to_string(v->cols()) + ", expected " + std::to_string(f.rows()) + " x " +
                std::to_string(f.cols()));
}

template <class T>
T BasicEnergy<T>::value(const Mat& f) const {
  check(f, "general::Energy::value");
  return T(0.5) * (a_.apply(f) - g_).squaredNorm() + regularizer_->value(f);
}

template <class T>
typename BasicEnergy<T>::Mat BasicEnergy<T>::gradient(const Mat& f) const {
  check(f, "general::Energy::gradient");
  return a_.adjoint(Mat(a_.apply(f) - g_)) + regularizer_->gradient(f);
}

template <class T>
std::function<void(const typename BasicEnergy<T>::Mat&, typename BasicEnergy<T>::Mat&)> BasicEnergy<T>::curvature(
    const Mat& f) const {
  check(f, "general::Energy::curvature");
  return with_data_term(regularizer_->curvature_at(f));
}

// The regularizer's curvature product r plus A^T A V (checked shapes).
template <class T>
std::function<void(const typename BasicEnergy<T>::Mat&, typename BasicEnergy<T>::Mat&)> BasicEnergy<T>::with_data_term(
    std::function<void(const Mat&, Mat&)> r) const {
  return [this, r = std::move(r)](const Mat& v, Mat& out) mutable {
    check(v, "general::Energy::curvature");
    r(v, out);
    a_.add_normal(v, out);
  };
}

template <class T>
typename BasicEnergy<T>::Mat BasicEnergy<T>::hessian_product(const Mat& f, const Mat& v) const {
  check(f, "general::Energy::hessian_product", &v);
  return a_.normal(v) + regularizer_->hessian_product(f, v);
}

template <class T>
typename BasicEnergy<T>::Vec BasicEnergy<T>::mixed_product(const Mat& f, const Mat& w) const {
  check(f, "general::Energy::mixed_product", &w);
  return regularizer_->mixed_product(f, w);
}

template <class T>
typename BasicEnergy<T>::Mat BasicEnergy<T>::adjoint_observations() const {
  return a_.adjoint(g_);
}

template <class T>
void BasicEnergy<T>::gradient_into(const Mat& f, Mat& out, Linearization* keep) const {
  Mat residual = a_.apply(f);  // A F - G
  residual -= g_;
  out = a_.adjoint(residual);
  if (analysis_ != nullptr) {
    analysis_->add_gradient(f, out, keep != nullptr ? &keep->responses : nullptr);
  } else {
    out += regularizer_->gradient(f);
  }
  if (keep != nullptr) keep->residual = std::move(residual);
}

// <W, grad E> = <A W, A F - G> + <W, grad R>; H W = A^T (A W) + grad^2 R W.
template <class T>
double BasicEnergy<T>::reverse_kernels(const Mat& f, const Mat& w, const Linearization* kept, Mat& hv,
                                       Vec& mixed) const {
  const Mat aw = a_.apply(w);
  double dot = 0;
  if (kept != nullptr && kept->residual.size() > 0) {
    dot = static_cast<double>(aw.cwiseProduct(kept->residual).sum());
  } else {
    Mat residual = a_.apply(f);
    residual -= g_;
    dot = static_cast<double>(aw.cwiseProduct(residual).sum());
  }
  hv = a_.adjoint(aw);
  if (analysis_ != nullptr) {
    const Mat* u = kept != nullptr && kept->responses.size() > 0 ? &kept->responses : nullptr;
    dot += analysis_->add_reverse_kernels(f, w, u, hv, mixed);
  } else {
    dot += static_cast<double>(w.cwiseProduct(regularizer_->gradient(f)).sum());
    hv += regularizer_->hessian_product(f, w);
    mixed = regularizer_->mixed_product(f, w);
  }
  return dot;
}

template <class T>
void BasicEnergy<T>::linearize(const Mat& f, Linearization& at) const {
  at.residual = a_.apply(f);
  at.residual -= g_;
  if (analysis_ != nullptr)
    analysis_->responses(f, at.responses);
  else
    at.responses.resize(0, 0);
}

template <class T>
void BasicEnergy<T>::linearize_direction(const Mat& d, Linearization& out) const {
  out.residual = a_.apply(d);
  if (analysis_ != nullptr)
    analysis_->responses(d, out.responses);
  else
    out.responses.resize(0, 0);
}

template <class T>
T BasicEnergy<T>::value_at(const Mat& f, const Linearization& at) const {
  const T data = T(0.5) * at.residual.squaredNorm();
  return data + (analysis_ != nullptr && at.responses.size() > 0 ? analysis_->value_of(at.responses)
                                                                  : regularizer_->value(f));
}

template <class T>
void BasicEnergy<T>::gradient_at(const Mat& f, const Linearization& at, Mat& out) const {
  out = a_.adjoint(at.residual);
  if (analysis_ != nullptr && at.responses.size() > 0)
    analysis_->add_gradient_of(at.responses, out);
  else
    out += regularizer_->gradient(f);
}

template <class T>
std::function<void(const typename BasicEnergy<T>::Mat&, typename BasicEnergy<T>::Mat&)>
BasicEnergy<T>::curvature_at(const Mat& f, const Linearization& at, bool single) const {
  if (analysis_ == nullptr || at.responses.size() == 0) return curvature(f);
  std::function<void(const Mat&, Mat&)> r;
  if (single) r = analysis_->single_curvature_of(at.responses);
  if (!r) r = analysis_->curvature_of(at.responses);
  return with_data_term(std::move(r));
}

template <class T>
FrameBlocks frame_blocks(const BasicEnergy<T>& energy) {
  FrameBlocks b;
  const Index batch = energy.batch();
  b.columns = frame_block_columns(energy.dimension(), batch);
  if (b.columns < batch && energy.op().batch_size() != 0) {
    try {
      (void)energy.op().columns(0, b.columns);
    } catch (const Error&) {
      b.columns = batch;  // an operator of one batch that cannot be split: the whole batch
    }
  }
  b.count = (batch + b.columns - 1) / b.columns;
  const int threads = omp_in_parallel() ? 1 : omp_get_max_threads();
  b.threads = static_cast<int>(std::min<Index>(std::max(threads, 1), b.count));
  return b;
}

template class BasicEnergy<float>;
template class BasicEnergy<double>;
template FrameBlocks frame_blocks(const BasicEnergy<float>&);
template FrameBlocks frame_blocks(const BasicEnergy<double>&);

}  // namespace varlearn::general
