// ExportTurtle and ExportJsonLd: one small RDF graph model, built once from
// the entries, written in two syntaxes so that both exports always agree.
#include <algorithm>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "unicode/unistr.h"
#include <nlohmann/json.hpp>

#include "node/base/table.h"
#include "node/catalog/catalog.h"
#include "node/catalog/internal.h"
#include "node/catalog/vocabulary.h"

namespace fednode::catalog {
namespace {

using catalog::v1::CatalogEntry;
using catalog::v1::DatasetMetadata;

// Prefixes used for predicates, classes and datatypes (objects are always
// written as full IRIs). Order = order in the output.
constexpr std::pair<absl::string_view, absl::string_view> kPrefixes[] = {
    {"dcat", "http://www.w3.org/ns/dcat#"},        {"dct", "http://purl.org/dc/terms/"},
    {"dcatde", "http://dcat-ap.de/def/dcatde/"},   {"foaf", "http://xmlns.com/foaf/0.1/"},
    {"vcard", "http://www.w3.org/2006/vcard/ns#"}, {"owl", "http://www.w3.org/2002/07/owl#"},
    {"xsd", "http://www.w3.org/2001/XMLSchema#"},
};

// Well-formed UTF-8: ill-formed sequences become U+FFFD.
std::string ValidUtf8(absl::string_view s) {
  bool ascii = true;
  for (char c : s) ascii = ascii && static_cast<unsigned char>(c) < 0x80;
  if (ascii) return std::string(s);
  std::string out;
  icu::UnicodeString::fromUTF8(icu::StringPiece(s.data(), static_cast<int32_t>(s.size())))
      .toUTF8String(out);
  return out;
}

// ---- graph model -----------------------------------------------------------

struct Node;

// An object of a triple.
struct Term {
  enum class Kind { kIri, kLiteral, kNode };
  Kind kind = Kind::kLiteral;
  // kIri: the full IRI, already escaped. kLiteral: the lexical form (UTF-8).
  std::string value;
  // kLiteral: language tag ("de") or empty.
  std::string language;
  // kLiteral: compact datatype ("xsd:dateTime") or empty (xsd:string / langString).
  std::string datatype;
  // kNode: a described node (blank when its iri is empty).
  std::shared_ptr<Node> node;
};

struct Node {
  std::string iri;                                  // empty: blank node, written inline
  std::vector<std::string> types;                   // compact, e.g. "dcat:Dataset"
  std::vector<std::pair<std::string, Term>> props;  // compact predicate, object

  void Iri(absl::string_view predicate, absl::string_view object_iri) {
    if (object_iri.empty()) return;
    Term t;
    t.kind = Term::Kind::kIri;
    t.value = internal::EscapeIri(ValidUtf8(object_iri));
    props.emplace_back(std::string(predicate), std::move(t));
  }
  // A German text literal; skipped when blank.
  void Text(absl::string_view predicate, absl::string_view text) {
    if (absl::StripAsciiWhitespace(text).empty()) return;
    Term t;
    t.value = std::string(text);
    t.language = "de";
    props.emplace_back(std::string(predicate), std::move(t));
  }
  void Typed(absl::string_view predicate, absl::string_view value, absl::string_view datatype) {
    Term t;
    t.value = std::string(value);
    t.datatype = std::string(datatype);
    props.emplace_back(std::string(predicate), std::move(t));
  }
  void Plain(absl::string_view predicate, absl::string_view value) {
    Term t;
    t.value = std::string(value);
    props.emplace_back(std::string(predicate), std::move(t));
  }
  void Child(absl::string_view predicate, std::shared_ptr<Node> child) {
    Term t;
    t.kind = Term::Kind::kNode;
    t.node = std::move(child);
    props.emplace_back(std::string(predicate), std::move(t));
  }
};

// ---- building --------------------------------------------------------------

std::string FormatDateTime(const google::protobuf::Timestamp& ts) {
  const absl::Time t = absl::FromUnixSeconds(ts.seconds()) + absl::Nanoseconds(ts.nanos());
  // %E*S prints fractional seconds only when there are some.
  return absl::FormatTime("%Y-%m-%dT%H:%M:%E*SZ", t, absl::UTCTimeZone());
}

std::string BaseIri(const NodeIdentity& node) {
  absl::string_view base = node.base_uri;
  while (absl::EndsWith(base, "/")) base.remove_suffix(1);
  if (base.empty()) return absl::StrCat("urn:fednode:", internal::PercentEncodeSegment(node.ags));
  return internal::EscapeIri(base);
}

std::string DatasetIri(absl::string_view base, absl::string_view dataset_id) {
  return absl::StrCat(base, "/datasets/", internal::PercentEncodeSegment(dataset_id));
}

std::shared_ptr<Node> Agent(absl::string_view name, absl::string_view uri) {
  auto agent = std::make_shared<Node>();
  if (internal::IsHttpUri(uri)) agent->iri = internal::EscapeIri(uri);
  agent->types = {"foaf:Agent"};
  agent->Text("foaf:name", name);
  return agent;
}

// German description of the table a distribution serves, e.g.
// "CSV-Tabelle, 1234 Zeilen, Version 7. Spalten: stand (timestamp, Pflicht):
//  Zeitpunkt der Zählung; frei (int64, Einheit: Plätze). Primärschlüssel: stand."
std::string DescribeTable(const CatalogEntry& entry) {
  std::string out = absl::StrCat("CSV-Tabelle, ", entry.row_count(),
                                 entry.row_count() == 1 ? " Zeile" : " Zeilen", ", Version ",
                                 entry.version(), ".");
  const storage::v1::Schema& schema = entry.schema();
  if (schema.columns_size() > 0) {
    std::vector<std::string> columns;
    for (const storage::v1::ColumnSchema& c : schema.columns()) {
      std::string col = absl::StrCat(c.name(), " (", ColumnTypeName(c.type()));
      if (!c.nullable()) absl::StrAppend(&col, ", Pflicht");
      if (!c.unit().empty()) absl::StrAppend(&col, ", Einheit: ", c.unit());
      absl::StrAppend(&col, ")");
      if (!c.description().empty()) absl::StrAppend(&col, ": ", c.description());
      columns.push_back(std::move(col));
    }
    absl::StrAppend(&out, " Spalten: ", absl::StrJoin(columns, "; "), ".");
  }
  if (schema.primary_key_size() > 0) {
    absl::StrAppend(&out, " Primärschlüssel: ", absl::StrJoin(schema.primary_key(), ", "), ".");
  }
  if (!schema.conforms_to().empty()) {
    absl::StrAppend(&out, " Schema: ", schema.conforms_to(), ".");
  }
  return out;
}

// dct:conformsTo: an IRI when the value has a scheme ("urn:", "https:") and no
// IRI-unsafe characters, otherwise a literal.
void ConformsTo(Node* node, absl::string_view value) {
  if (value.empty()) return;
  const size_t colon = value.find(':');
  bool has_scheme = colon != absl::string_view::npos && colon > 0 &&
                    absl::ascii_isalpha(static_cast<unsigned char>(value[0]));
  for (size_t i = 0; has_scheme && i < colon; ++i) {
    const unsigned char c = static_cast<unsigned char>(value[i]);
    has_scheme = absl::ascii_isalnum(c) || c == '+' || c == '-' || c == '.';
  }
  if (has_scheme && internal::IsIriSafe(value)) {
    node->Iri("dct:conformsTo", value);
  } else {
    node->Plain("dct:conformsTo", value);
  }
}

std::shared_ptr<Node> DatasetNode(const NodeIdentity& node, absl::string_view base,
                                  const CatalogEntry& entry) {
  const DatasetMetadata& m = entry.metadata();
  const std::string iri = DatasetIri(base, entry.dataset_id());
  auto ds = std::make_shared<Node>();
  ds->iri = iri;
  ds->types = {"dcat:Dataset"};
  ds->Plain("dct:identifier", iri);
  ds->Text("dct:title", m.title());
  ds->Text("dct:description", m.description());

  const std::string publisher_name =
      !absl::StripAsciiWhitespace(m.publisher().name()).empty()
          ? m.publisher().name()
          : (!node.publisher.name().empty() ? node.publisher.name() : node.member_name);
  ds->Child("dct:publisher", Agent(publisher_name, m.publisher().uri()));

  const auto& cp = m.contact_point();
  if (!cp.name().empty() || !cp.email().empty() || !cp.url().empty()) {
    auto contact = std::make_shared<Node>();
    contact->types = {"vcard:Organization"};
    contact->Text("vcard:fn", !cp.name().empty() ? cp.name() : publisher_name);
    if (!cp.email().empty()) contact->Iri("vcard:hasEmail", absl::StrCat("mailto:", cp.email()));
    if (internal::IsHttpUri(cp.url())) contact->Iri("vcard:hasURL", cp.url());
    ds->Child("dcat:contactPoint", std::move(contact));
  }

  for (const std::string& keyword : m.keywords()) ds->Text("dcat:keyword", keyword);
  for (const std::string& theme : m.themes()) {
    if (IsDataTheme(theme)) ds->Iri("dcat:theme", absl::StrCat(kDataThemeUriPrefix, theme));
  }
  ds->Iri("dcatde:contributorID", m.contributor_id());

  const absl::string_view ags = !entry.ags().empty() ? entry.ags() : node.ags;
  if (absl::StatusOr<PoliticalGeocoding> geo = GeocodingForAgs(ags); geo.ok()) {
    ds->Iri("dcatde:politicalGeocodingURI", geo->uri);
    ds->Iri("dcatde:politicalGeocodingLevelURI", geo->level_uri);
    ds->Iri("dct:spatial", geo->uri);
  }

  if (!m.temporal_start().empty() || !m.temporal_end().empty()) {
    auto period = std::make_shared<Node>();
    period->types = {"dct:PeriodOfTime"};
    if (!m.temporal_start().empty()) {
      period->Typed("dcat:startDate", m.temporal_start(), "xsd:date");
    }
    if (!m.temporal_end().empty()) period->Typed("dcat:endDate", m.temporal_end(), "xsd:date");
    ds->Child("dct:temporal", std::move(period));
  }
  if (IsFrequency(m.frequency())) {
    ds->Iri("dct:accrualPeriodicity", absl::StrCat(kFrequencyUriPrefix, m.frequency()));
  }
  if (internal::IsHttpUri(m.landing_page())) ds->Iri("dcat:landingPage", m.landing_page());
  ds->Iri("dct:language", kLanguageGerman);
  ConformsTo(ds.get(), entry.schema().conforms_to());
  ds->Plain("owl:versionInfo", absl::StrCat(entry.version()));
  if (entry.has_issued()) ds->Typed("dct:issued", FormatDateTime(entry.issued()), "xsd:dateTime");
  if (entry.has_modified()) {
    ds->Typed("dct:modified", FormatDateTime(entry.modified()), "xsd:dateTime");
  }

  auto dist = std::make_shared<Node>();
  dist->iri = absl::StrCat(iri, "/csv");
  dist->types = {"dcat:Distribution"};
  dist->Text("dct:title", absl::StrCat(m.title(), " (CSV)"));
  dist->Text("dct:description", DescribeTable(entry));
  dist->Iri("dct:license", m.license());
  dist->Text("dcatde:licenseAttributionByText",
             !m.license_attribution().empty() ? m.license_attribution() : publisher_name);
  dist->Iri("dct:format", kFileTypeCsv);
  dist->Iri("dcat:mediaType", kMediaTypeCsv);
  dist->Iri("dcat:accessURL", internal::IsHttpUri(m.landing_page()) ? m.landing_page() : iri);
  ConformsTo(dist.get(), entry.schema().conforms_to());
  if (entry.has_issued()) {
    dist->Typed("dct:issued", FormatDateTime(entry.issued()), "xsd:dateTime");
  }
  if (entry.has_modified()) {
    dist->Typed("dct:modified", FormatDateTime(entry.modified()), "xsd:dateTime");
  }
  ds->Child("dcat:distribution", std::move(dist));
  return ds;
}

// Top-level nodes: the catalog first, then one dataset per public entry.
std::vector<std::shared_ptr<Node>> BuildGraph(const NodeIdentity& node,
                                              const std::vector<CatalogEntry>& entries) {
  const std::string base = BaseIri(node);
  auto catalog = std::make_shared<Node>();
  catalog->iri = absl::StrCat(base, "/catalog");
  catalog->types = {"dcat:Catalog"};
  const std::string publisher_name =
      !node.publisher.name().empty() ? node.publisher.name() : node.member_name;
  catalog->Text("dct:title", absl::StrCat("Datenkatalog ", node.member_name));
  catalog->Text(
      "dct:description",
      absl::StrCat("Offene Daten von ", publisher_name, " (AGS ", node.ags,
                   "), veröffentlicht vom fednode-Knoten des Mitglieds ", node.member_name, "."));
  catalog->Child("dct:publisher", Agent(publisher_name, node.publisher.uri()));
  catalog->Iri("dct:language", kLanguageGerman);
  if (internal::IsHttpUri(node.homepage)) catalog->Iri("foaf:homepage", node.homepage);

  std::vector<std::shared_ptr<Node>> datasets;
  const CatalogEntry* latest = nullptr;
  for (const CatalogEntry& entry : entries) {
    if (entry.metadata().access_class() != catalog::v1::ACCESS_CLASS_PUBLIC) continue;
    std::shared_ptr<Node> ds = DatasetNode(node, base, entry);
    Term ref;
    ref.kind = Term::Kind::kIri;
    ref.value = ds->iri;
    catalog->props.emplace_back("dcat:dataset", std::move(ref));
    datasets.push_back(std::move(ds));
    if (entry.has_modified() &&
        (latest == nullptr ||
         std::make_pair(entry.modified().seconds(), entry.modified().nanos()) >
             std::make_pair(latest->modified().seconds(), latest->modified().nanos()))) {
      latest = &entry;
    }
  }
  if (latest != nullptr) {
    catalog->Typed("dct:modified", FormatDateTime(latest->modified()), "xsd:dateTime");
  }
  std::vector<std::shared_ptr<Node>> graph = {std::move(catalog)};
  for (auto& ds : datasets) graph.push_back(std::move(ds));
  return graph;
}

// ---- Turtle ----------------------------------------------------------------

// Turtle STRING_LITERAL_QUOTE body: ECHARs for \t \b \n \r \f \" \\, \uXXXX
// for the other C0 controls and DEL; UTF-8 (umlauts, ß) kept as is.
std::string EscapeTurtleString(absl::string_view s) {
  std::string out;
  out.reserve(s.size() + 2);
  for (char ch : ValidUtf8(s)) {
    const unsigned char c = static_cast<unsigned char>(ch);
    switch (c) {
      case '\t':
        out += "\\t";
        break;
      case '\b':
        out += "\\b";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\f':
        out += "\\f";
        break;
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      default:
        if (c < 0x20 || c == 0x7f) {
          static constexpr char kHex[] = "0123456789ABCDEF";
          out += "\\u00";
          out.push_back(kHex[c >> 4]);
          out.push_back(kHex[c & 0xf]);
        } else {
          out.push_back(ch);
        }
    }
  }
  return out;
}

class TurtleWriter {
 public:
  std::string Write(const std::vector<std::shared_ptr<Node>>& graph) {
    for (const auto& [prefix, iri] : kPrefixes) {
      absl::StrAppend(&out_, "@prefix ", prefix, ": <", iri, "> .\n");
    }
    for (const auto& node : graph) pending_.push_back(node.get());
    // Described nodes with an IRI met as objects are appended to pending_.
    for (size_t i = 0; i < pending_.size(); ++i) {
      out_ += "\n";
      WriteSubject(*pending_[i]);
    }
    return std::move(out_);
  }

 private:
  void WriteSubject(const Node& node) {
    absl::StrAppend(&out_, "<", node.iri, ">");
    WriteBody(node, 1);
    out_ += " .\n";
  }

  // " a T ;\n    p o ;\n    p o" at `depth` levels of indentation.
  void WriteBody(const Node& node, int depth) {
    const std::string indent(4 * static_cast<size_t>(depth), ' ');
    bool first = true;
    auto next = [&]() {
      out_ += first ? "\n" : " ;\n";
      out_ += indent;
      first = false;
    };
    if (!node.types.empty()) {
      next();
      absl::StrAppend(&out_, "a ", absl::StrJoin(node.types, ", "));
    }
    for (const auto& [predicate, object] : node.props) {
      next();
      absl::StrAppend(&out_, predicate, " ");
      WriteObject(object, depth);
    }
  }

  void WriteObject(const Term& t, int depth) {
    switch (t.kind) {
      case Term::Kind::kIri:
        absl::StrAppend(&out_, "<", t.value, ">");
        return;
      case Term::Kind::kLiteral:
        absl::StrAppend(&out_, "\"", EscapeTurtleString(t.value), "\"");
        if (!t.language.empty()) {
          absl::StrAppend(&out_, "@", t.language);
        } else if (!t.datatype.empty()) {
          absl::StrAppend(&out_, "^^", t.datatype);
        }
        return;
      case Term::Kind::kNode:
        if (!t.node->iri.empty()) {
          absl::StrAppend(&out_, "<", t.node->iri, ">");
          pending_.push_back(t.node.get());
          return;
        }
        out_ += "[";
        WriteBody(*t.node, depth + 1);
        absl::StrAppend(&out_, "\n", std::string(4 * static_cast<size_t>(depth), ' '), "]");
        return;
    }
  }

  std::string out_;
  std::vector<const Node*> pending_;
};

// ---- JSON-LD ---------------------------------------------------------------

using Json = nlohmann::ordered_json;

Json NodeToJson(const Node& node) {
  Json obj = Json::object();
  if (!node.iri.empty()) obj["@id"] = node.iri;
  if (!node.types.empty()) obj["@type"] = node.types;
  for (const auto& [predicate, t] : node.props) {
    Json value;
    switch (t.kind) {
      case Term::Kind::kIri:
        value = Json{{"@id", t.value}};
        break;
      case Term::Kind::kLiteral:
        value = Json{{"@value", ValidUtf8(t.value)}};
        if (!t.language.empty()) {
          value["@language"] = t.language;
        } else if (!t.datatype.empty()) {
          value["@type"] = t.datatype;
        }
        break;
      case Term::Kind::kNode:
        value = NodeToJson(*t.node);
        break;
    }
    Json& slot = obj[predicate];
    if (slot.is_null()) slot = Json::array();
    slot.push_back(std::move(value));
  }
  return obj;
}

}  // namespace

std::string ExportTurtle(const NodeIdentity& node, const std::vector<CatalogEntry>& entries) {
  const std::vector<std::shared_ptr<Node>> graph = BuildGraph(node, entries);
  std::string header =
      "# DCAT-AP.de 2.0 catalog export of fednode (public entries only).\n"
      "# Generated; do not edit.\n";
  return header + TurtleWriter().Write(graph);
}

std::string ExportJsonLd(const NodeIdentity& node, const std::vector<CatalogEntry>& entries) {
  const std::vector<std::shared_ptr<Node>> graph = BuildGraph(node, entries);
  Json context = Json::object();
  for (const auto& [prefix, iri] : kPrefixes) context[std::string(prefix)] = std::string(iri);
  Json nodes = Json::array();
  for (const auto& n : graph) nodes.push_back(NodeToJson(*n));
  Json doc = Json::object();
  doc["@context"] = std::move(context);
  doc["@graph"] = std::move(nodes);
  // All strings are valid UTF-8 (ValidUtf8); `replace` keeps dump() from
  // throwing should one slip through.
  return doc.dump(2, ' ', false, Json::error_handler_t::replace) + "\n";
}

}  // namespace fednode::catalog
