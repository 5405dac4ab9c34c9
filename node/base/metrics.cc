#include "node/base/metrics.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <variant>

#include "absl/strings/str_cat.h"

#include "node/base/log.h"

namespace fednode::metrics {

Histogram::Histogram(const std::vector<double>* upper_bounds)
    : bounds_(upper_bounds),
      buckets_(std::make_unique<std::atomic<uint64_t>[]>(upper_bounds->size() + 1)) {}

void Histogram::Observe(double v) {
  // Few buckets (about a dozen): a linear scan beats a binary search here.
  size_t i = 0;
  while (i < bounds_->size() && v > (*bounds_)[i]) ++i;
  buckets_[i].fetch_add(1, std::memory_order_relaxed);
  sum_.fetch_add(v, std::memory_order_relaxed);
  count_.fetch_add(1, std::memory_order_relaxed);
}

std::vector<uint64_t> Histogram::CumulativeCounts() const {
  std::vector<uint64_t> out(bounds_->size() + 1);
  uint64_t total = 0;
  for (size_t i = 0; i < out.size(); ++i) {
    total += buckets_[i].load(std::memory_order_relaxed);
    out[i] = total;
  }
  return out;
}

namespace internal {

template <typename Cell>
Cell* Series<Cell>::WithLabels(const std::vector<std::string>& values) {
  FEDNODE_CHECK(values.size() == label_names_.size());
  {
    absl::ReaderMutexLock lock(&mu_);
    auto it = cells_.find(values);
    if (it != cells_.end()) return it->second.get();
  }
  absl::MutexLock lock(&mu_);
  auto [it, inserted] = cells_.try_emplace(values);
  if (inserted) it->second = make_();
  return it->second.get();
}

template <typename Cell>
std::vector<std::pair<std::vector<std::string>, const Cell*>> Series<Cell>::Snapshot() const {
  std::vector<std::pair<std::vector<std::string>, const Cell*>> out;
  {
    absl::ReaderMutexLock lock(&mu_);
    out.reserve(cells_.size());
    for (const auto& [values, cell] : cells_) out.emplace_back(values, cell.get());
  }
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
  return out;
}

template <typename Cell>
void Series<Cell>::Clear() {
  absl::MutexLock lock(&mu_);
  cells_.clear();
}

template class Series<Counter>;
template class Series<Gauge>;
template class Series<Histogram>;

}  // namespace internal

namespace {

bool ValidName(absl::string_view name) {
  if (name.empty()) return false;
  for (size_t i = 0; i < name.size(); ++i) {
    const char c = name[i];
    const bool alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':';
    if (!alpha && !(i > 0 && c >= '0' && c <= '9')) return false;
  }
  return true;
}

// Backslash and newline escaped (help text); double quotes too when
// `quotes` (label values).
std::string Escape(absl::string_view text, bool quotes) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '"' && quotes) {
      out += "\\\"";
    } else {
      out += c;
    }
  }
  return out;
}

// `{a="x",b="y"}`, with `extra` (already escaped, e.g. le="0.5") appended;
// empty when there are no labels at all.
std::string LabelText(const std::vector<std::string>& names, const std::vector<std::string>& values,
                      absl::string_view extra = "") {
  std::string out;
  for (size_t i = 0; i < names.size(); ++i) {
    absl::StrAppend(&out, out.empty() ? "" : ",", names[i], "=\"", EscapeLabelValue(values[i]),
                    "\"");
  }
  if (!extra.empty()) absl::StrAppend(&out, out.empty() ? "" : ",", extra);
  return out.empty() ? out : absl::StrCat("{", out, "}");
}

void Header(std::string* out, absl::string_view name, absl::string_view help,
            absl::string_view type) {
  absl::StrAppend(out, "# HELP ", name, " ", Escape(help, /*quotes=*/false), "\n# TYPE ", name, " ",
                  type, "\n");
}

}  // namespace

std::string FormatValue(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  if (v == std::trunc(v) && std::fabs(v) < 9007199254740992.0) {  // 2^53: exact as an integer
    return absl::StrCat(static_cast<int64_t>(v));
  }
  char buf[64];
  auto [end, ec] = std::to_chars(buf, buf + sizeof(buf), v);  // shortest round-trip form
  return std::string(buf, end);
}

std::string EscapeLabelValue(absl::string_view v) { return Escape(v, /*quotes=*/true); }

struct Registry::Entry {
  std::variant<std::unique_ptr<Family<Counter>>, std::unique_ptr<Family<Gauge>>,
               std::unique_ptr<Family<Histogram>>>
      family;
  std::vector<double> bounds;  // histograms only; cells point here
};

namespace {

template <typename F>
bool HasName(const std::vector<std::unique_ptr<F>>& entries, absl::string_view name) {
  for (const auto& e : entries) {
    bool same = false;
    std::visit([&](const auto& f) { same = f->name() == name; }, e->family);
    if (same) return true;
  }
  return false;
}

}  // namespace

Registry::Registry() = default;
Registry::~Registry() = default;

Family<Counter>* Registry::AddCounter(std::string name, std::string help,
                                      std::vector<std::string> label_names) {
  absl::MutexLock lock(&mu_);
  FEDNODE_CHECK(ValidName(name) && !HasName(entries_, name));
  auto f =
      std::make_unique<Family<Counter>>(std::move(name), std::move(help), std::move(label_names),
                                        [] { return std::make_unique<Counter>(); });
  Family<Counter>* raw = f.get();
  entries_.push_back(std::make_unique<Entry>(Entry{std::move(f), {}}));
  return raw;
}

Family<Gauge>* Registry::AddGauge(std::string name, std::string help,
                                  std::vector<std::string> label_names) {
  absl::MutexLock lock(&mu_);
  FEDNODE_CHECK(ValidName(name) && !HasName(entries_, name));
  auto f = std::make_unique<Family<Gauge>>(std::move(name), std::move(help), std::move(label_names),
                                           [] { return std::make_unique<Gauge>(); });
  Family<Gauge>* raw = f.get();
  entries_.push_back(std::make_unique<Entry>(Entry{std::move(f), {}}));
  return raw;
}

Family<Histogram>* Registry::AddHistogram(std::string name, std::string help,
                                          std::vector<std::string> label_names,
                                          std::vector<double> upper_bounds) {
  absl::MutexLock lock(&mu_);
  FEDNODE_CHECK(ValidName(name) && !HasName(entries_, name));
  for (size_t i = 0; i < upper_bounds.size(); ++i) {
    FEDNODE_CHECK(std::isfinite(upper_bounds[i]) &&
                  (i == 0 || upper_bounds[i - 1] < upper_bounds[i]));
  }
  auto entry = std::make_unique<Entry>();
  entry->bounds = std::move(upper_bounds);
  const std::vector<double>* bounds = &entry->bounds;
  auto f =
      std::make_unique<Family<Histogram>>(std::move(name), std::move(help), std::move(label_names),
                                          [bounds] { return std::make_unique<Histogram>(bounds); });
  Family<Histogram>* raw = f.get();
  entry->family = std::move(f);
  entries_.push_back(std::move(entry));
  return raw;
}

void Registry::AddCollectHook(std::function<void()> hook) {
  absl::MutexLock lock(&mu_);
  hooks_.push_back(std::move(hook));
}

std::string Registry::Render() {
  absl::MutexLock render_lock(&render_mu_);
  std::vector<std::function<void()>> hooks;
  {
    absl::MutexLock lock(&mu_);
    hooks = hooks_;
  }
  for (const auto& hook : hooks) hook();

  std::string out;
  absl::MutexLock lock(&mu_);
  for (const auto& entry : entries_) {
    if (const auto* c = std::get_if<std::unique_ptr<Family<Counter>>>(&entry->family)) {
      const Family<Counter>& f = **c;
      Header(&out, f.name(), f.help(), "counter");
      for (const auto& [values, cell] : f.series().Snapshot()) {
        absl::StrAppend(&out, f.name(), LabelText(f.series().label_names(), values), " ",
                        cell->value(), "\n");
      }
    } else if (const auto* g = std::get_if<std::unique_ptr<Family<Gauge>>>(&entry->family)) {
      const Family<Gauge>& f = **g;
      Header(&out, f.name(), f.help(), "gauge");
      for (const auto& [values, cell] : f.series().Snapshot()) {
        absl::StrAppend(&out, f.name(), LabelText(f.series().label_names(), values), " ",
                        FormatValue(cell->value()), "\n");
      }
    } else {
      const Family<Histogram>& f = *std::get<std::unique_ptr<Family<Histogram>>>(entry->family);
      Header(&out, f.name(), f.help(), "histogram");
      const std::vector<std::string>& names = f.series().label_names();
      for (const auto& [values, cell] : f.series().Snapshot()) {
        const std::vector<uint64_t> counts = cell->CumulativeCounts();
        for (size_t i = 0; i < counts.size(); ++i) {
          const std::string le = i < entry->bounds.size() ? FormatValue(entry->bounds[i]) : "+Inf";
          absl::StrAppend(&out, f.name(), "_bucket",
                          LabelText(names, values, absl::StrCat("le=\"", le, "\"")), " ", counts[i],
                          "\n");
        }
        // _count equals the +Inf bucket of the same snapshot, as the format
        // requires, even while observations arrive.
        absl::StrAppend(&out, f.name(), "_sum", LabelText(names, values), " ",
                        FormatValue(cell->sum()), "\n", f.name(), "_count",
                        LabelText(names, values), " ", counts.back(), "\n");
      }
    }
  }
  return out;
}

}  // namespace fednode::metrics
