// Writes the DCAT-AP.de export of the Gießen test catalog
// (giessen_fixture.h) as OUT_PREFIX.ttl and OUT_PREFIX.jsonld, and the same
// entries held by the county node (Landkreis Gießen, AGS 06531, so
// districtKey geocoding) as OUT_PREFIX-county.ttl, for the validator run of
// validate_export.sh (test-only).
//
//   catalog_export_giessen OUT_PREFIX
//
// Exit status 0 on success, 1 when the entries cannot be built or a file
// cannot be written, 2 on wrong usage.
#include <cstdio>
#include <fstream>
#include <iostream>
#include <string>
#include <vector>

#include "node/catalog/catalog.h"
#include "tests/node/catalog/giessen_fixture.h"

namespace {

bool WriteFile(const std::string& path, const std::string& content) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << content;
  out.close();
  return static_cast<bool>(out);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::cerr << "usage: " << argv[0] << " OUT_PREFIX\n";
    return 2;
  }
  const std::string prefix = argv[1];
  const auto entries = fednode::catalog::testing::GiessenEntries();
  if (!entries.ok()) {
    std::cerr << "building the Gießen entries: " << entries.status() << "\n";
    return 1;
  }
  const fednode::catalog::NodeIdentity node = fednode::catalog::testing::GiessenNode();

  fednode::catalog::NodeIdentity county = node;
  county.ags = "06531";
  county.member_name = "Gießen, Landkreis";
  county.publisher.set_name("Landkreis Gießen");
  county.base_uri = "https://daten.lkgi.example.org/fednode";
  county.homepage = "https://www.lkgi.de";
  std::vector<fednode::catalog::v1::CatalogEntry> county_entries = *entries;
  for (auto& e : county_entries) {
    e.set_ags(county.ags);
    e.set_member_name(county.member_name);
  }

  if (!WriteFile(prefix + ".ttl", fednode::catalog::ExportTurtle(node, *entries)) ||
      !WriteFile(prefix + ".jsonld", fednode::catalog::ExportJsonLd(node, *entries)) ||
      !WriteFile(prefix + "-county.ttl", fednode::catalog::ExportTurtle(county, county_entries))) {
    std::cerr << "cannot write " << prefix << ".ttl / .jsonld / -county.ttl\n";
    return 1;
  }
  std::cout << "wrote " << prefix << ".ttl, " << prefix << ".jsonld and " << prefix
            << "-county.ttl\n";
  return 0;
}
