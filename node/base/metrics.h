// A small metrics registry of our own: counters, gauges and histograms with
// fixed buckets, each a family of time series told apart by label values,
// rendered in the Prometheus text exposition format 0.0.4
// (https://prometheus.io/docs/instrumenting/exposition_formats/).
//
// Hot path: a series (one set of label values) is a cell of atomics. Look it
// up once with WithLabels() and keep the pointer where the label values are
// fixed; the lookup itself takes a reader lock and a hash probe, and a new
// label set an exclusive lock once. Updates are lock-free (relaxed atomics):
// a scrape may see one call's counter without its histogram sample, never a
// torn value.
//
// Layer: node/base (no gRPC, no storage). Used by node/server (federation
// and admin services, the HTTP status port).
// Thread-safety: safe for concurrent use. Families and cells live as long as
// the registry; pointers to them stay valid until it is destroyed.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"

namespace fednode::metrics {

// A monotonically increasing count (Prometheus "counter"). Name it `_total`.
class Counter {
 public:
  void Increment(uint64_t n = 1) { value_.fetch_add(n, std::memory_order_relaxed); }
  uint64_t value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<uint64_t> value_{0};
};

// A value that goes up and down (Prometheus "gauge").
class Gauge {
 public:
  void Set(double v) { value_.store(v, std::memory_order_relaxed); }
  void Add(double d) { value_.fetch_add(d, std::memory_order_relaxed); }
  double value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<double> value_{0};
};

// Observations counted into fixed buckets (Prometheus "histogram").
// `upper_bounds` are the inclusive upper bounds ("le"), strictly increasing;
// the +Inf bucket is implicit.
class Histogram {
 public:
  explicit Histogram(const std::vector<double>* upper_bounds);
  // Records `v` (in the family's unit, e.g. seconds).
  void Observe(double v);

  // Snapshot for rendering: cumulative counts per bound, then +Inf.
  std::vector<uint64_t> CumulativeCounts() const;
  double sum() const { return sum_.load(std::memory_order_relaxed); }
  uint64_t count() const { return count_.load(std::memory_order_relaxed); }

 private:
  const std::vector<double>* bounds_;
  std::unique_ptr<std::atomic<uint64_t>[]> buckets_;  // bounds_->size() + 1
  std::atomic<double> sum_{0};
  std::atomic<uint64_t> count_{0};
};

namespace internal {

// The series of one family, by label values (in label-name order).
template <typename Cell>
class Series {
 public:
  Series(std::vector<std::string> label_names, std::function<std::unique_ptr<Cell>()> make)
      : label_names_(std::move(label_names)), make_(std::move(make)) {}

  // The cell of `values` (one per label name), created on first use.
  // REQUIRES: values.size() == number of label names (checked).
  Cell* WithLabels(const std::vector<std::string>& values);
  // Every series as (label values, cell), sorted by label values.
  std::vector<std::pair<std::vector<std::string>, const Cell*>> Snapshot() const;
  // Drops every series (for gauges refilled at each scrape).
  void Clear();
  const std::vector<std::string>& label_names() const { return label_names_; }

 private:
  const std::vector<std::string> label_names_;
  const std::function<std::unique_ptr<Cell>()> make_;
  mutable absl::Mutex mu_;
  absl::flat_hash_map<std::vector<std::string>, std::unique_ptr<Cell>> cells_ ABSL_GUARDED_BY(mu_);
};

}  // namespace internal

// A named family of series. `name` is a Prometheus metric name
// ([a-zA-Z_:][a-zA-Z0-9_:]*), `help` one line of text.
template <typename Cell>
class Family {
 public:
  Family(std::string name, std::string help, std::vector<std::string> label_names,
         std::function<std::unique_ptr<Cell>()> make)
      : name_(std::move(name)), help_(std::move(help)), series_(std::move(label_names), make) {}

  // The series for `values`, one per label name in declaration order.
  Cell* WithLabels(const std::vector<std::string>& values) { return series_.WithLabels(values); }
  // The series without labels. REQUIRES: the family has no label names.
  Cell* Get() { return series_.WithLabels({}); }
  // Removes every series (a scrape-time gauge whose label sets change, e.g.
  // per peer after an agreement amendment). Pointers from WithLabels die.
  void Clear() { series_.Clear(); }

  const std::string& name() const { return name_; }
  const std::string& help() const { return help_; }
  const internal::Series<Cell>& series() const { return series_; }

 private:
  const std::string name_;
  const std::string help_;
  internal::Series<Cell> series_;
};

class Registry {
 public:
  Registry();
  ~Registry();
  Registry(const Registry&) = delete;
  Registry& operator=(const Registry&) = delete;

  // Register a family; the registry owns it and renders families in the
  // order they were added. REQUIRES: names are unique (checked) and valid.
  Family<Counter>* AddCounter(std::string name, std::string help,
                              std::vector<std::string> label_names = {});
  Family<Gauge>* AddGauge(std::string name, std::string help,
                          std::vector<std::string> label_names = {});
  // `upper_bounds`: the buckets' inclusive upper bounds, strictly increasing,
  // finite (checked); +Inf is added by the rendering.
  Family<Histogram>* AddHistogram(std::string name, std::string help,
                                  std::vector<std::string> label_names,
                                  std::vector<double> upper_bounds);

  // Adds a function run at the start of every Render(), to set gauges read
  // from state owned elsewhere (storage sizes, certificate expiry). It runs
  // on the scraping thread; it must not call Render().
  void AddCollectHook(std::function<void()> hook);

  // Runs the collect hooks, then renders every family in the Prometheus text
  // exposition format 0.0.4: "# HELP" and "# TYPE" lines, then one line per
  // series sorted by label values; histograms as cumulative `_bucket{le=...}`
  // lines ending with le="+Inf", then `_sum` and `_count`. Label values are
  // escaped (\\, \", \n), help text too (\\, \n). A family without series
  // renders only its HELP and TYPE lines. Content type:
  // "text/plain; version=0.0.4; charset=utf-8".
  std::string Render();

 private:
  struct Entry;
  absl::Mutex mu_;
  std::vector<std::unique_ptr<Entry>> entries_ ABSL_GUARDED_BY(mu_);
  std::vector<std::function<void()>> hooks_ ABSL_GUARDED_BY(mu_);
  // Serialises Render() so hooks never run concurrently.
  absl::Mutex render_mu_;
};

// A sample value as Prometheus text: integers without a fraction, other
// values in the shortest form that reads back exactly, "+Inf", "-Inf", "NaN".
std::string FormatValue(double v);

// `v` escaped for a label value in double quotes (backslash, double quote,
// newline), per the text exposition format 0.0.4.
std::string EscapeLabelValue(absl::string_view v);

}  // namespace fednode::metrics
