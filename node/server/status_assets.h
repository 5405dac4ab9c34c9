// The status page's files (node/server/status_page/), compiled into the
// binary by CMake (status_assets.cc.in), so the node serves them without
// reading files at run time.
//
// Layer: node/server; used by status_http.cc. Constants: thread-safe.
#pragma once

namespace fednode::server {

// index.html, status.js and status.css, NUL-terminated UTF-8.
extern const char kStatusPageHtml[];
extern const char kStatusPageJs[];
extern const char kStatusPageCss[];

}  // namespace fednode::server
