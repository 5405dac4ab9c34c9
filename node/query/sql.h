// SQL front end: parses a SELECT in PostgreSQL's grammar (libpg_query, the
// parser of PostgreSQL 15) and translates the supported subset into a
// QueryPlan.
//
// Supported: SELECT [DISTINCT-free] items FROM dataset [WHERE expr]
// [GROUP BY cols] [ORDER BY outputs [ASC|DESC]] [LIMIT n] [OFFSET n]; items are
// columns, *, COUNT(*), COUNT([DISTINCT] col), SUM/MIN/MAX/AVG(col),
// EXTRACT(field FROM col), each with AS alias; WHERE supports = <> < <= > >=,
// IN, BETWEEN, LIKE/ILIKE, IS [NOT] NULL, AND/OR/NOT and literals (numbers,
// 'strings', TRUE/FALSE, NULL, DATE '2024-01-01').
// Dataset and column names are identifiers; quote those that are not
// lower-case ("Wahl-2013").
//
// Thread-safety: safe for concurrent use.
#pragma once

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

#include "proto/query/v1/query.pb.h"

namespace fednode::query {

// Errors: InvalidArgument with PostgreSQL's message and the character position
// for a syntax error; InvalidArgument naming the construct for SQL outside the
// subset ("JOIN is not supported", "window functions are not supported"), a
// NUL byte (with its position) or a constant it cannot read.
absl::StatusOr<v1::QueryPlan> ParseSql(absl::string_view sql);

}  // namespace fednode::query
