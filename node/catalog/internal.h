// Helpers shared by the catalog's .cc files (node/catalog only; not API).
// Pure functions: safe for concurrent use.
#pragma once

#include <string>

#include "absl/strings/string_view.h"

namespace fednode::catalog::internal {

// True when `s` is non-empty and has no character that an IRI (RFC 3987) or a
// Turtle IRIREF may not contain raw: controls, space, <>"{}|^`\ .
bool IsIriSafe(absl::string_view s);

// True when `s` starts with "http://" or "https://" (case-insensitive), has
// something after it, and IsIriSafe(s).
bool IsHttpUri(absl::string_view s);

// `s` with every byte that is not unreserved (RFC 3986: A-Z a-z 0-9 - . _ ~)
// written as %XX: for one path segment.
std::string PercentEncodeSegment(absl::string_view s);

// `s` with every IRI-unsafe byte (see IsIriSafe) written as %XX; other bytes,
// including UTF-8 sequences, kept.
std::string EscapeIri(absl::string_view s);

// At most the first 40 bytes of `s` (cut at a UTF-8 boundary) plus "..." when
// cut: for quoting operator values in error messages.
std::string Abbreviate(absl::string_view s);

// True for a dataset id: 1..256 bytes, no ASCII control character or space.
// (The storage layer owns the finer rules; the export percent-encodes the id.)
bool IsValidDatasetId(absl::string_view id);

}  // namespace fednode::catalog::internal
