// The benchmarks' generated CSV: 10 columns (4 int64, 3 double, 3 string, one
// of them AGS-like with leading zeros), about 72 bytes per row, the same bytes
// in every run (splitmix64 from the row number). Used by ingest_bench (parse
// throughput) and scan_bench (a node's memory while it scans the imported
// rows).
//
// Header-only; the functions are pure and safe for concurrent use.
#pragma once

#include <cinttypes>
#include <cstdint>
#include <cstdio>
#include <string>

namespace fednode::bench {

// The CSV header line, with its newline; the column order of AppendCsvRow.
inline constexpr char kCsvHeader[] =
    "id,ags,name,category,population,area_km2,lat,lon,year,count\n";

// splitmix64.
inline uint64_t Mix(uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

// Appends row `i` (with its newline) to `out`. category has 50 values, name
// 8, ags 1000.
inline void AppendCsvRow(int64_t i, std::string* out) {
  static constexpr const char* kNames[] = {"Gießen",   "Lich",   "Hungen", "Laubach",
                                           "Pohlheim", "Buseck", "Linden", "Lollar"};
  const uint64_t r = Mix(static_cast<uint64_t>(i));
  char buf[256];
  const int n = std::snprintf(
      buf, sizeof buf, "%" PRId64 ",0653%04d,%s,kat_%02d,%d,%d.%02d,50.%06d,8.%06d,%d,%d\n", i,
      static_cast<int>(r % 1000), kNames[(r >> 10) % 8], static_cast<int>((r >> 13) % 50),
      static_cast<int>((r >> 19) % 100000), static_cast<int>((r >> 36) % 1000),
      static_cast<int>((r >> 46) % 100), static_cast<int>((r >> 20) % 1000000),
      static_cast<int>((r >> 40) % 1000000), 2000 + static_cast<int>(i % 24),
      static_cast<int>((r >> 5) % 977));
  out->append(buf, static_cast<size_t>(n));
}

}  // namespace fednode::bench
