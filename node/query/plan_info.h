// Facts about a query plan that authorization needs before anything is looked
// up: which columns it touches and whether it asks for rows or aggregates.
//
// Layer: node/query; used by the federation service. Pure, thread-safe.
#pragma once

#include <string>
#include <vector>

#include "proto/query/v1/query.pb.h"

namespace fednode::query {

// Every dataset column the plan reads: selected, aggregated, extracted,
// filtered. Sorted, unique. An empty select list ("SELECT *") is reported as
// the single entry "*".
std::vector<std::string> ReferencedColumns(const v1::QueryPlan& plan);

// True when every select item is an aggregate or a GROUP BY key, i.e. the
// answer has one row per group, not one per dataset row. A plan without
// aggregates asks for rows.
bool IsAggregate(const v1::QueryPlan& plan);

}  // namespace fednode::query
