#include "federation/aggregate/disclosure.h"

#include <algorithm>
#include <functional>
#include <limits>
#include <queue>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace fednode::aggregate {
namespace {

int64_t Measure(const Cell& cell, ThresholdUnit unit) {
  return unit == ThresholdUnit::kRows ? cell.units : static_cast<int64_t>(cell.members.size());
}

bool Suppressed(const Cell& cell) { return cell.suppression != Suppression::kNone; }

// Cheaper = smaller measure, then fewer rows; ties keep the earlier cell.
bool Cheaper(const Cell& a, const Cell& b, ThresholdUnit unit) {
  int64_t ma = Measure(a, unit);
  int64_t mb = Measure(b, unit);
  if (ma != mb) return ma < mb;
  return a.units < b.units;
}

// One additive relation over all cells and the grand total.
void SuppressOneDimensional(ThresholdUnit unit, MergedTable* table) {
  int suppressed = 0;
  for (const Cell& c : table->cells) suppressed += Suppressed(c) ? 1 : 0;
  if (table->grand_total.has_value() && Suppressed(*table->grand_total)) ++suppressed;
  if (suppressed != 1) return;
  Cell* best = nullptr;
  for (Cell& c : table->cells) {
    if (Suppressed(c)) continue;
    if (best == nullptr || Cheaper(c, *best, unit)) best = &c;
  }
  if (best == nullptr && table->grand_total.has_value() && !Suppressed(*table->grand_total)) {
    best = &*table->grand_total;
  }
  if (best != nullptr) best->suppression = Suppression::kSecondary;
}

// The (R+1) x (C+1) grid of cells and totals as a bipartite graph.
class Grid {
 public:
  Grid(ThresholdUnit unit, MergedTable* table) {
    rows_ = static_cast<int>(table->row_totals.size());
    cols_ = static_cast<int>(table->column_totals.size());
    auto find = [](const std::vector<Cell>& totals, const query::v1::Value& v, int pos) {
      auto it = std::lower_bound(totals.begin(), totals.end(), v,
                                 [pos](const Cell& c, const query::v1::Value& value) {
                                   return CompareValues(c.key[pos], value) < 0;
                                 });
      return static_cast<int>(it - totals.begin());
    };
    for (Cell& c : table->cells) {
      Add(&c, find(table->row_totals, c.key[0], 0),
          ColumnVertex(find(table->column_totals, c.key[1], 1)),
          1.0 + static_cast<double>(Measure(c, unit)), false);
    }
    for (int r = 0; r < rows_; ++r) {
      Cell& c = table->row_totals[r];
      Add(&c, r, ColumnVertex(cols_), 1e9 * (1.0 + static_cast<double>(Measure(c, unit))), false);
    }
    for (int k = 0; k < cols_; ++k) {
      Cell& c = table->column_totals[k];
      Add(&c, rows_, ColumnVertex(k), 1e9 * (1.0 + static_cast<double>(Measure(c, unit))), false);
    }
    if (table->grand_total.has_value()) {
      Add(&*table->grand_total, rows_, ColumnVertex(cols_), 1e18, true);
    }
  }

  // Suppresses further entries until no suppressed entry is a bridge.
  absl::Status Protect() {
    for (;;) {
      int bridge = -1;
      for (size_t e = 0; e < edges_.size(); ++e) {
        if (Suppressed(*edges_[e].cell) && IsBridge(static_cast<int>(e))) {
          bridge = static_cast<int>(e);
          break;
        }
      }
      if (bridge < 0) return absl::OkStatus();
      if (!CloseCycle(bridge, /*allow_grand=*/false) && !CloseCycle(bridge, true)) {
        return absl::InternalError("no complementary suppression closes a cycle");
      }
    }
  }

 private:
  struct Edge {
    Cell* cell;
    int u;
    int v;
    double weight;
    bool grand;
  };

  int ColumnVertex(int c) const { return rows_ + 1 + c; }
  int NumVertices() const { return rows_ + cols_ + 2; }

  void Add(Cell* cell, int u, int v, double weight, bool grand) {
    int e = static_cast<int>(edges_.size());
    edges_.push_back({cell, u, v, weight, grand});
    adjacency_.resize(NumVertices());
    adjacency_[u].push_back(e);
    adjacency_[v].push_back(e);
  }

  int Other(const Edge& edge, int vertex) const { return edge.u == vertex ? edge.v : edge.u; }

  // True when the suppressed entries other than `skip` do not connect its
  // row and column: then its value follows from the shown ones.
  bool IsBridge(int skip) const {
    std::vector<bool> seen(NumVertices(), false);
    std::vector<int> stack = {edges_[skip].u};
    seen[edges_[skip].u] = true;
    while (!stack.empty()) {
      int x = stack.back();
      stack.pop_back();
      for (int e : adjacency_[x]) {
        if (e == skip || !Suppressed(*edges_[e].cell)) continue;
        int y = Other(edges_[e], x);
        if (!seen[y]) {
          seen[y] = true;
          stack.push_back(y);
        }
      }
    }
    return !seen[edges_[skip].v];
  }

  // Suppresses the cheapest path from the bridge's row to its column.
  bool CloseCycle(int bridge, bool allow_grand) {
    const double inf = std::numeric_limits<double>::infinity();
    std::vector<double> dist(NumVertices(), inf);
    std::vector<int> via(NumVertices(), -1);
    using Item = std::pair<double, int>;
    std::priority_queue<Item, std::vector<Item>, std::greater<>> queue;
    int from = edges_[bridge].u;
    int to = edges_[bridge].v;
    dist[from] = 0;
    queue.push({0, from});
    while (!queue.empty()) {
      auto [d, x] = queue.top();
      queue.pop();
      if (d > dist[x]) continue;
      if (x == to) break;
      for (int e : adjacency_[x]) {
        const Edge& edge = edges_[e];
        if (e == bridge) continue;
        bool sup = Suppressed(*edge.cell);
        if (edge.grand && !sup && !allow_grand) continue;
        double nd = d + (sup ? 0.0 : edge.weight);
        int y = Other(edge, x);
        if (nd < dist[y]) {
          dist[y] = nd;
          via[y] = e;
          queue.push({nd, y});
        }
      }
    }
    if (dist[to] == inf) return false;
    for (int x = to; x != from;) {
      Edge& edge = edges_[via[x]];
      if (!Suppressed(*edge.cell)) edge.cell->suppression = Suppression::kSecondary;
      x = Other(edge, x);
    }
    return true;
  }

  int rows_ = 0;
  int cols_ = 0;
  std::vector<Edge> edges_;
  std::vector<std::vector<int>> adjacency_;
};

}  // namespace

absl::Status ApplyDisclosureControl(const DisclosureOptions& options, MergedTable* table) {
  if (!table->disclosure_rule.empty()) {
    return absl::FailedPreconditionError("disclosure control was already applied to the table");
  }
  uint32_t min = options.min_cell_count == 0 ? kDefaultMinCellCount : options.min_cell_count;
  auto primary = [&](Cell& c) {
    if (Measure(c, options.unit) < static_cast<int64_t>(min)) c.suppression = Suppression::kPrimary;
  };
  for (Cell& c : table->cells) primary(c);
  for (Cell& c : table->row_totals) primary(c);
  for (Cell& c : table->column_totals) primary(c);
  if (table->grand_total.has_value()) primary(*table->grand_total);

  std::string secondary;
  size_t nkeys = table->key_columns.size();
  if (nkeys == 0) {
    secondary = "none (a single cell, no totals)";
  } else if (nkeys == 2) {
    Grid grid(options.unit, table);
    absl::Status status = grid.Protect();
    if (!status.ok()) return status;
    secondary = "complementary suppression in rows and columns with totals";
  } else {
    SuppressOneDimensional(options.unit, table);
    secondary = "complementary suppression against the total";
  }
  const char* unit = options.unit == ThresholdUnit::kRows ? " row" : " member";
  table->disclosure_rule =
      min <= 1 ? absl::StrCat("none: the grants require at least 1", unit,
                              " per cell, so no cell is suppressed")
               : absl::StrCat("primary: fewer than ", min, unit, "s; secondary: ", secondary);
  return absl::OkStatus();
}

}  // namespace fednode::aggregate
