#include "tests/node/catalog/giessen_fixture.h"

#include <utility>

#include "node/base/status_macros.h"

namespace fednode::catalog::testing {
namespace {

using catalog::v1::AccessClass;
using catalog::v1::CatalogEntry;
using catalog::v1::DatasetMetadata;
using storage::v1::ColumnType;
using storage::v1::Schema;

void AddColumn(Schema* schema, const std::string& name, ColumnType type, bool nullable,
               const std::string& description, const std::string& unit) {
  storage::v1::ColumnSchema* c = schema->add_columns();
  c->set_name(name);
  c->set_type(type);
  c->set_nullable(nullable);
  c->set_description(description);
  c->set_unit(unit);
}

absl::Time At(int year, int month, int day, int hour, int minute) {
  return absl::FromCivil(absl::CivilMinute(year, month, day, hour, minute), absl::UTCTimeZone());
}

}  // namespace

NodeIdentity GiessenNode() {
  NodeIdentity node;
  node.ags = "06531005";
  node.member_name = "Gießen, Universitätsstadt";
  node.publisher.set_name("Universitätsstadt Gießen");
  node.publisher.set_contact_name("Statistikstelle der Universitätsstadt Gießen");
  node.publisher.set_contact_email("statistik@giessen.example.org");
  node.publisher.set_contributor_id("http://dcat-ap.de/def/contributors/hessen");
  node.publisher.set_license("http://dcat-ap.de/def/licenses/dl-by-de/2.0");
  node.base_uri = "https://daten.giessen.example.org/fednode";
  node.homepage = "https://www.giessen.de";
  return node;
}

DatasetMetadata ParkingMetadata() {
  DatasetMetadata m;
  m.set_title("Parkhausbelegung Gießen – Parkhaus Rathaus");
  m.set_description(
      "Freie und belegte Stellplätze im Parkhaus \"Rathaus\" (Berliner Platz), "
      "alle 15 Minuten gezählt.\nQuelle: Parkleitsystem der Universitätsstadt Gießen.");
  m.mutable_publisher()->set_name("Universitätsstadt Gießen");
  m.mutable_contact_point()->set_name("Straßenverkehrsamt – Parkleitsystem");
  m.mutable_contact_point()->set_email("parken@giessen.example.org");
  m.add_keywords("Parkhaus");
  m.add_keywords("Parkhäuser");
  m.add_keywords("Verkehr");
  m.add_keywords("Stellplätze");
  m.add_themes("TRAN");
  m.add_themes("REGI");
  m.set_license("http://dcat-ap.de/def/licenses/dl-by-de/2.0");
  m.set_license_attribution("Universitätsstadt Gießen, Parkleitsystem");
  m.set_temporal_start("2024-01-01");
  m.set_temporal_end("2024-12-31");
  m.set_access_class(catalog::v1::ACCESS_CLASS_PUBLIC);
  m.set_contributor_id("http://dcat-ap.de/def/contributors/hessen");
  m.set_landing_page("https://www.giessen.de/Parken");
  m.set_frequency("15MIN");
  return m;
}

Schema ParkingSchema() {
  Schema s;
  AddColumn(&s, "zeitpunkt", storage::v1::COLUMN_TYPE_TIMESTAMP, false,
            "Zeitpunkt der Zählung (Ortszeit)", "");
  AddColumn(&s, "parkhaus", storage::v1::COLUMN_TYPE_STRING, false, "Name des Parkhauses", "");
  AddColumn(&s, "frei", storage::v1::COLUMN_TYPE_INT64, true, "Freie Stellplätze", "Stellplätze");
  AddColumn(&s, "belegt_prozent", storage::v1::COLUMN_TYPE_DOUBLE, true, "Belegung", "%");
  s.add_primary_key("zeitpunkt");
  s.add_primary_key("parkhaus");
  s.set_conforms_to("urn:fednode:schema:parkhausbelegung:v1");
  return s;
}

absl::StatusOr<std::vector<CatalogEntry>> GiessenEntries() {
  const NodeIdentity node = GiessenNode();
  std::vector<CatalogEntry> out;

  // 1. Car parks: published 2025-01-10, updated 2025-03-01 (keeps issued).
  {
    FEDNODE_ASSIGN_OR_RETURN(
        CatalogEntry first, BuildEntry(node, "parkhausbelegung", ParkingMetadata(), ParkingSchema(),
                                       1, 35040, At(2025, 1, 10, 8, 0), nullptr));
    FEDNODE_ASSIGN_OR_RETURN(
        CatalogEntry entry, BuildEntry(node, "parkhausbelegung", ParkingMetadata(), ParkingSchema(),
                                       2, 36480, At(2025, 3, 1, 6, 30), &first));
    out.push_back(std::move(entry));
  }

  // 2. Election results: publisher/contact/licence from the node defaults.
  {
    DatasetMetadata m;
    m.set_title("Kommunalwahl 2021 – Ergebnisse der Stadtverordnetenwahl nach Wahlbezirken");
    m.set_description(
        "Stimmen je Partei und Wahlbezirk der Wahl zur Stadtverordnetenversammlung "
        "am 14. März 2021 in Gießen (vorläufiges amtliches Endergebnis).");
    m.add_keywords("Wahl");
    m.add_keywords("Kommunalwahl");
    m.add_keywords("Stadtverordnetenversammlung");
    m.add_themes("GOVE");
    m.set_temporal_start("2021-03-14");
    m.set_temporal_end("2021-03-14");
    m.set_access_class(catalog::v1::ACCESS_CLASS_PUBLIC);
    m.set_frequency("IRREG");
    Schema s;
    AddColumn(&s, "wahlbezirk", storage::v1::COLUMN_TYPE_STRING, false, "Nummer des Wahlbezirks",
              "");
    AddColumn(&s, "partei", storage::v1::COLUMN_TYPE_STRING, false, "Partei oder Wählergruppe", "");
    AddColumn(&s, "stimmen", storage::v1::COLUMN_TYPE_INT64, false, "Gültige Stimmen", "Stimmen");
    s.add_primary_key("wahlbezirk");
    s.add_primary_key("partei");
    FEDNODE_ASSIGN_OR_RETURN(CatalogEntry entry, BuildEntry(node, "kommunalwahl_2021", m, s, 1,
                                                            2184, At(2025, 2, 3, 12, 15), nullptr));
    out.push_back(std::move(entry));
  }

  // 3. A public dataset without dates, landing page or frequency; the
  // description has characters Turtle must escape.
  {
    DatasetMetadata m;
    m.set_title("Wassertemperatur am Badesee \"Dutenhofener See\" (Gießen/Wetzlar)");
    m.set_description(
        "Tageswerte der Wassertemperatur in °C.\tPfad der Rohdaten: C:\\daten\\bad.csv\n"
        "Hinweis: Werte über 25 °C sind „geprüft“.");
    m.mutable_contact_point()->set_name("Umweltamt Gießen");
    m.mutable_contact_point()->set_url("https://www.giessen.de/Umwelt");
    m.add_keywords("Badegewässer");
    m.add_keywords("Wassertemperatur");
    m.add_themes("ENVI");
    m.add_themes("HEAL");
    m.set_license("http://dcat-ap.de/def/licenses/cc-by/4.0");
    m.set_access_class(catalog::v1::ACCESS_CLASS_PUBLIC);
    Schema s;
    AddColumn(&s, "datum", storage::v1::COLUMN_TYPE_DATE, false, "Messtag", "");
    AddColumn(&s, "temperatur", storage::v1::COLUMN_TYPE_DOUBLE, true, "Wassertemperatur", "degC");
    s.add_primary_key("datum");
    FEDNODE_ASSIGN_OR_RETURN(CatalogEntry entry, BuildEntry(node, "badesee-temperatur", m, s, 4,
                                                            153, At(2025, 2, 28, 17, 45), nullptr));
    out.push_back(std::move(entry));
  }

  // 4.-6. Not public: must never appear in an export.
  const std::pair<const char*, AccessClass> hidden[] = {
      {"pflegebeduerftige_geheim_f", catalog::v1::ACCESS_CLASS_FEDERATION},
      {"meldedaten_geheim_r", catalog::v1::ACCESS_CLASS_RESTRICTED},
      {"personal_geheim_p", catalog::v1::ACCESS_CLASS_PRIVATE},
  };
  for (const auto& [id, access] : hidden) {
    DatasetMetadata m;
    m.set_title(std::string("Geheimtitel ") + id);
    m.set_description("Nur für Mitglieder des Verbunds.");
    m.set_access_class(access);
    Schema s;
    AddColumn(&s, "anzahl", storage::v1::COLUMN_TYPE_INT64, false, "", "");
    FEDNODE_ASSIGN_OR_RETURN(CatalogEntry entry,
                             BuildEntry(node, id, m, s, 1, 10, At(2025, 1, 5, 9, 0), nullptr));
    out.push_back(std::move(entry));
  }
  return out;
}

}  // namespace fednode::catalog::testing
